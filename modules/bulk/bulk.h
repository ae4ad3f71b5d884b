/* bulk.h: libbulk, the bulk purchase import of issue 14 (modules/bulk/README.md).
 *
 * One design idea: the file is read once, by the responder while it holds the upload, into
 * the table bulk_import_staging (COPY: each cell already turned into its type, or NULL with
 * the reason in the row's `problems`); everything after that is set-wise SQL on the staged
 * rows (bulk_sql.c): the checks against the merchant's reference data and earlier
 * purchases, then one INSERT ... SELECT of every purchase and item.  So a dry run is the
 * same staging and checks inside a transaction that is rolled back, the bulk.import task
 * (bulk_tasks.c) needs no file, and a retry re-runs the checks on the kept staged rows.
 *
 *   bulk_csv.c      the CSV reader, the header -> column mapping, amounts, dates, currencies
 *   bulk_stage.c    a CSV file -> COPY into bulk_import_staging
 *   bulk_sql.c      validation, the atomic insert, the batch's answer
 *   bulk_tasks.c    the task bulk.import of smartimport-worker */
#ifndef BULK_H
#define BULK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <jansson.h>

#include "si_db.h"
#include "si_error.h"

/* ---- limits (README "Limits") ------------------------------------------------------- */
#define BULK_MAX_FILE_BYTES   (100LL * 1024 * 1024)  /* an upload */
#define BULK_MAX_BODY         ((size_t)BULK_MAX_FILE_BYTES + 1024 * 1024)   /* the file + its multipart envelope */
#define BULK_MAX_ROWS         2000000LL              /* data rows of a file */
#define BULK_MAX_FIELDS       64                     /* cells of one CSV record */
#define BULK_MAX_RECORD       65536                  /* bytes of one CSV record */
#define BULK_MAX_ERRORS       100                    /* problems kept on a batch */
#define BULK_ID_MAX           100                    /* transaction_number, customer_id, sku_id */
#define BULK_TEXT_MAX         1000                   /* store, note */
#define BULK_QUANTITY_MAX     1000000                /* items of one row */
#define BULK_AMOUNT_MAX       10000000000000LL       /* minor units of one price, discount or line */
#define BULK_NAME_MAX         200                    /* batch_name */
#define BULK_LIST_MAX         50                     /* batches GET /list answers */
/* The checks' and the insert's sorts and hashes of a 2,000,000-row batch stay in memory
 * (the default 4 MB spills a 50,000-row batch to disk); per worker connection, only during them. */
#define BULK_SET_WORK_MEM     "SET LOCAL work_mem = '64MB'"
/* Fresh statistics of the staged rows before the checks: planned without them (a table
 * that just got its rows), the checks' self-join of the staged rows becomes a nested loop,
 * minutes for 10,000 rows.  The columns the plans filter and group by are enough. */
#define BULK_ANALYZE_STAGING  "ANALYZE bulk_import_staging (batch_id, merchant_id, transaction_number)"

/* ---- CSV reading (bulk_csv.c) ------------------------------------------------------- */

struct bulk_csv {
    FILE *f;                   /* borrowed */
    char delim;                /* ',' ';' '\t' or '|', settled from the header */
    long line;                 /* physical line where the current record starts (1-based) */
    long next_line;            /* line of the next record */
    char *rec;                 /* the record's cells, each NUL-terminated */
    size_t rec_len, rec_cap;
    size_t cell_off[BULK_MAX_FIELDS];
    size_t cell_len[BULK_MAX_FIELDS];
    int ncells;
    bool too_many;             /* the record had more than BULK_MAX_FIELDS cells */
    bool started;              /* past the byte-order mark */
    char buf[65536];
    size_t pos, end;
};

void bulk_csv_init(struct bulk_csv *c, FILE *f);
void bulk_csv_cleanup(struct bulk_csv *c);
/* Reads the next record: 1, 0 at the end of the file (blank lines are skipped), or -1 with
 * err: 422 bad_csv (an unterminated quote, a record over BULK_MAX_RECORD bytes), 415
 * not_text (a NUL byte or bytes that are not UTF-8).  The first call settles the delimiter
 * from the first line (the most frequent of , ; TAB | outside quotes). */
int bulk_csv_next(struct bulk_csv *c, struct si_error *err);
static inline const char *bulk_csv_cell(const struct bulk_csv *c, int i) { return c->rec + c->cell_off[i]; }

/* The columns of a purchase file, in their canonical order. */
enum bulk_col {
    BULK_COL_TXN, BULK_COL_CUSTOMER, BULK_COL_PURCHASED_AT, BULK_COL_CURRENCY, BULK_COL_SKU,
    BULK_COL_QUANTITY, BULK_COL_UNIT_PRICE, BULK_COL_DISCOUNT, BULK_COL_STORE, BULK_COL_NOTE,
    BULK_COL_N
};
extern const char *const bulk_col_names[BULK_COL_N];

/* Maps the header's cells to the columns: idx[col] = the cell index, or -1 when absent.
 * Header names match case-insensitively, spaces/hyphens/dots as underscores, with the
 * aliases of the README; `mapping` (a JSON object, or NULL) overrides: canonical name ->
 * header name (string) or 0-based cell index (integer).  Required: transaction_number,
 * customer_id, purchased_at, sku_id, quantity, unit_price.  0, or -1 with a 422
 * missing_columns / 400 bad_mapping err naming them.  *out_columns (may be NULL):
 * {canonical: header} of what was used. */
int bulk_columns_map(const struct bulk_csv *header, const json_t *mapping, int idx[BULK_COL_N],
                     json_t **out_columns, struct si_error *err);

/* ISO 4217: true for an active code; *out_exp its minor-unit exponent (0, 2, 3, 4). */
bool bulk_currency(const char *code, int *out_exp);

/* Reads a decimal amount ("12", "12.5", "-0.99", " 1234.50 ") into minor units of a currency
 * with `exp` decimals: 0 with *out (may be negative), or the reason it is not one (a static
 * string): not a number, more decimals than the currency has (unless the extra ones are
 * zeros), beyond BULK_AMOUNT_MAX. */
const char *bulk_amount_minor(const char *s, int exp, long long *out);

/* Reads an ISO 8601 date or date-time ("2024-01-15", "2024-01-15T10:30", "... 10:30:00.5Z",
 * "...+02:00", "...-0500"; no zone = UTC) into microseconds since the epoch, UTC.  0, or the
 * reason (static string).  Years 1900..2999. */
const char *bulk_datetime_us(const char *s, long long *out_us);
/* Writes microseconds since the epoch as "YYYY-MM-DD HH:MM:SS.ffffff+00" (out >= 32 bytes). */
void bulk_format_utc(long long us, char *out, size_t n);

/* One data record read into its typed values (bulk_row_read). */
struct bulk_row {
    long line;
    const char *txn, *customer, *currency, *sku, *store, *note;   /* into the record; NULL = empty */
    char currency_buf[4];
    bool has_time;     long long purchased_us;
    bool has_qty;      int quantity;
    bool has_price;    long long unit_price;
    bool has_discount; long long discount;     /* 0 when the column is empty or absent */
    bool has_total;    long long line_total;
    json_t *problems;  /* [{column, reason}] or NULL; owned */
};

/* Reads the current record of c with the mapping idx; `fallback_currency` is used when the
 * file has no currency column or the cell is empty.  Cell problems go to row->problems;
 * -1 only when out of memory. */
int bulk_row_read(const struct bulk_csv *c, const int idx[BULK_COL_N], int header_cells,
                  const char *fallback_currency, struct bulk_row *row);
void bulk_row_clear(struct bulk_row *row);

/* ---- staging (bulk_stage.c) ---------------------------------------------------------- */

struct bulk_stage_result {
    long long rows;            /* data rows staged */
    long long rows_with_problems;
    json_t *columns;           /* the mapping used; owned */
};

/* Reads the CSV in f (rewound) and COPYs every data row into bulk_import_staging for the
 * batch, inside the caller's transaction.  0, or -1 with err (422 empty_file / no_rows /
 * missing_columns / bad_csv / too_many_rows, 415 not_text, 400 bad_mapping, 5xx database). */
int bulk_stage_file(struct si_db *db, FILE *f, const char *batch_id, const char *merchant_id,
                    const char *currency, const json_t *mapping, struct bulk_stage_result *out,
                    struct si_error *err);

/* ---- validation and insert (bulk_sql.c) ----------------------------------------------- */

struct bulk_report {
    long long rows;            /* staged rows found */
    long long purchases;       /* distinct transaction numbers */
    long long problems;        /* every problem found */
    json_t *errors;            /* the first BULK_MAX_ERRORS [{line, column, reason}]; owned */
};
void bulk_report_clear(struct bulk_report *r);

/* The set-wise checks of a batch's staged rows (one statement; inside or outside a
 * transaction).  0, or -1 with err. */
int bulk_validate(struct si_db *db, const char *batch_id, const char *merchant_id, struct bulk_report *out,
                  struct si_error *err);

/* Inside the caller's transaction: every purchase and item of the staged batch, the merchant
 * row share-locked, the batch completed with its counts (only while job `job_id` is in charge
 * and it is processing), the staged rows deleted.  0; 1 when the batch is no longer this
 * job's (roll back); -1 with err (409 already_imported when a transaction number was
 * imported meanwhile, 409 merchant_gone). */
int bulk_insert(struct si_db *db, const char *batch_id, const char *merchant_id, const char *job_id,
                long long *out_purchases, long long *out_items, struct si_error *err);

/* The batch as GET /api/import/status answers it, if it belongs to the merchant admin `user`:
 * 1 with *out, 0 when there is none (or not theirs), -1 with err. */
int bulk_batch_json(struct si_db *db, const char *batch_id, const char *user, json_t **out, struct si_error *err);

/* "The error message" of a failed validation: "N problems; the first: line L, column C: reason". */
void bulk_report_message(const struct bulk_report *r, char *out, size_t n);

/* 1 when user is an admin of merchant, 0 when not (or no such merchant), -1 with err
 * (bulk_sql.c): the one ownership check of the bulk responders. */
int bulk_is_admin(struct si_db *db, const char *merchant, const char *user, struct si_error *err);

#endif
