/* csv.h: the CSV statement engine.
 *
 * csv_parse() reads whatever CSV a bank exported (already UTF-8, no BOM,
 * seekable) and works out, with no configuration, the delimiter, where the
 * table starts (preamble lines and the header row), which column holds what
 * (date, description, amount or debit/credit or amount + DR/CR indicator,
 * currency, balance, reference), the date format and the number format.  It
 * reads the file several times (a sample to sniff the layout, one pass for
 * per-column statistics, one to check that enough rows parse, one to emit),
 * holding one record and per-column counters at a time, so memory does not
 * grow with the number of rows.
 *
 * The first part of this header is the public API; the second part declares
 * what the csv_*.c files share with each other (and the unit tests). */
#ifndef CSV_H
#define CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "stmt.h"

/* ---- Limits --------------------------------------------------------------- */

#define CSV_MAX_FIELD_BYTES 16384     /* one field (after unquoting); longer is an error */
#define CSV_MAX_FIELDS 256            /* fields in one record; more is an error */
#define CSV_MAX_RECORD_BYTES 131072   /* one record, all fields together */
#define CSV_SNIFF_RECORDS 50          /* non-blank records sampled for delimiter/header */
#define CSV_MAX_BAD_PERCENT 50        /* more than this share of data rows unparseable: error */
#define CSV_MAX_WARNINGS 200          /* further warnings are summarised in one */
#define CSV_MAX_DESC_COLUMNS 8        /* description columns joined with " " */
#define CSV_PAIR_COLUMNS 16           /* first columns checked pairwise (running balance, debit/credit) */
#define CSV_MIN_ROLE_PERCENT 50       /* share of a column's cells that must fit a role named by its header */
#define CSV_MIN_VALUE_PERCENT 80      /* share needed to give a role from the values alone */

/* ---- Public API ----------------------------------------------------------- */

/* Parses a CSV statement and hands each transaction to sink.
 *
 * override: NULL, or a JSON object with any subset of the mapping keys (see
 * below); given keys win, the rest is inferred.  A key given as null means
 * "no such column".  "columns" and "fingerprint" are informational and
 * ignored; any other unknown key is an error.
 * default_currency: "" (or NULL) or an ISO 4217 code used for rows when the
 * file names no currency (otherwise such rows carry currency "").
 * out_columns: if not NULL, receives (caller json_decref's) the mapping that
 * was used; also set on errors found after the layout was sniffed (e.g. "no
 * amount column"), so the user can correct it; NULL when not known.
 *
 * The mapping:
 *   {"delimiter":",", "headerLine":3 (1-based line, 0 = no header),
 *    "columns":["Date","Description","Amount","Balance"] ("column1".. when unnamed),
 *    "date":0, "description":[1], "amount":2|null, "debit":null|i, "credit":null|i,
 *    "indicator":null|i, "currency":null|i, "balance":3|null, "reference":null|i,
 *    "counterparty":null|i, "counterpartyAccount":null|i,
 *    "dateFormat":"DD/MM/YYYY"|null, "decimal":"."|",", "thousands":","|"."|"'"|" "|"",
 *    "negate":false, "fingerprint":"<64 hex>" (see csv_layout_fingerprint),
 *    "dayFirst":true|false (only read when the file's dates fit both DD/MM and MM/DD and no
 *    dateFormat is given: which to take, e.g. from the user's locale; never in out_columns)}
 *
 * Returns 0, or -1 with err filled (line 0 when not tied to a line; the
 * message never quotes row contents).  Rows are emitted as they are read, so
 * on -1 (too many unreadable rows, found at the end; a read error; a sink
 * that stops) the sink may have received rows: discard them. */
int csv_parse(FILE *in, const json_t *override, const char *default_currency,
              json_t **out_columns, const struct stmt_sink *sink, struct stmt_error *err);

/* How many statistics passes so far counted a large file in two halves, on
 * two threads (see stats_pass in csv_parse.c); for tests and benchmarks. */
long csv_stats_halves_joined(void);

/* The fingerprint stored with a user's mapping: lower-case hex SHA-256 of the
 * header names (each trimmed, inner whitespace collapsed, ASCII lower-cased)
 * joined by "\x1f"; with no header (names == NULL) of "<ncols>\x1f<delimiter>".
 * Returns 0, or -1 if hashing failed. */
int csv_fingerprint(const char *const *names, size_t nnames, size_t ncols, char delimiter,
                    char out[65]);

/* The "fingerprint" csv_parse reports for this file, from the sniffing
 * sample only (the first CSV_SNIFF_RECORDS records), so a remembered mapping
 * can be looked up cheaply before parsing.  It is always the fingerprint of
 * the layout detected WITHOUT an override (an override that moves the header
 * or changes the delimiter does not change it), so a saved mapping is found
 * again for the next file of that layout.  Leaves the file at the position
 * it had.  0, or -1 with err (e.g. an empty file). */
int csv_layout_fingerprint(FILE *in, char out[65], struct stmt_error *err);

/* ---- Internals shared by csv_*.c (and tests/unit/check_csv.c) ------------- */

/* Streaming RFC 4180 tokenizer (csv_reader.c).  Fields live in `buf`, each
 * NUL-terminated; NUL bytes in the input become spaces.  Newlines inside
 * quoted fields are kept as '\n'. */
struct csv_reader {
    FILE *in;
    long start;                 /* file offset where the content starts */
    char delim;
    unsigned char io[65536];
    size_t io_len, io_pos;
    long io_base;               /* file offset of io[0] */
    long rec_start;             /* file offset where the current record starts */
    bool io_eof, io_error;
    char *buf;                  /* record bytes */
    size_t buf_len, buf_cap;
    size_t fstart[CSV_MAX_FIELDS];
    size_t flen[CSV_MAX_FIELDS];
    size_t nfields;
    long line;                  /* physical line of the next character (1-based) */
    long rec_line;              /* line where the current record starts */
    long ordinal;               /* 0-based index of the current record, blank ones included */
    bool unterminated;          /* the current record ended inside quotes at end of file */
};

int csv_reader_open(struct csv_reader *r, FILE *in, char delim, struct stmt_error *err);
/* Back to the first record, possibly with another delimiter. */
int csv_reader_rewind(struct csv_reader *r, char delim, struct stmt_error *err);
/* 1 = a record is ready, 0 = end of input, -1 = error (limits, read error). */
int csv_reader_next(struct csv_reader *r, struct stmt_error *err);
void csv_reader_close(struct csv_reader *r);

static inline const char *csv_field(const struct csv_reader *r, size_t i)
{
    return i < r->nfields ? r->buf + r->fstart[i] : "";
}
static inline size_t csv_field_len(const struct csv_reader *r, size_t i)
{
    return i < r->nfields ? r->flen[i] : 0;
}

/* Text helpers (csv_text.c). */
void csv_trim(const char **s, size_t *n);          /* spaces, tabs, newlines, NBSP */
size_t csv_nonempty_fields(const struct csv_reader *r);
size_t csv_trimmed_count(const struct csv_reader *r);   /* index of last non-empty field + 1 */
/* Lower-cases ASCII, folds common Latin accents (é -> e, ß -> ss), keeps CJK and
 * Hangul characters, turns punctuation (and other scripts) into single spaces,
 * trims; returns the length written to out
 * (always NUL-terminated, truncated to outsz - 1). */
size_t csv_norm_key(const char *s, size_t n, char *out, size_t outsz);
bool csv_has_letter(const char *s, size_t n);

/* Dates (csv_date.c). */
enum csv_date_format {
    CSV_DATE_YMD_DASH,      /* YYYY-MM-DD */
    CSV_DATE_DMY_SLASH,     /* DD/MM/YYYY */
    CSV_DATE_MDY_SLASH,     /* MM/DD/YYYY */
    CSV_DATE_DMY_DOT,       /* DD.MM.YYYY */
    CSV_DATE_DMY_DASH,      /* DD-MM-YYYY */
    CSV_DATE_MDY_DASH,      /* MM-DD-YYYY */
    CSV_DATE_YMD_SLASH,     /* YYYY/MM/DD */
    CSV_DATE_D_MON_Y,       /* DD MMM YYYY (also 15-Jan-2024, 15. März 2024) */
    CSV_DATE_MON_D_Y,       /* MMM DD, YYYY */
    CSV_DATE_YMD_COMPACT,   /* YYYYMMDD */
    CSV_DATE_DMY_SLASH_YY,  /* DD/MM/YY */
    CSV_DATE_MDY_SLASH_YY,  /* MM/DD/YY */
    CSV_DATE_DMY_DOT_YY,    /* DD.MM.YY */
    CSV_DATE_DMY_DASH_YY,   /* DD-MM-YY */
    CSV_DATE_MDY_DASH_YY,   /* MM-DD-YY */
    CSV_DATE_D_MON_YY,      /* DD MMM YY */
    CSV_DATE_MON_D_YY,      /* MMM DD, YY */
    CSV_DATE_YMD_DOT,       /* YYYY.MM.DD, also Hungarian/Korean "YYYY. MM. DD." */
    CSV_DATE_FORMAT_COUNT
};
const char *csv_date_format_name(int fmt);
int csv_date_format_from_name(const char *name);  /* -1 when unknown */
/* The format with the day first that pairs with a month-first one (and back), or -1. */
int csv_date_format_swap(int fmt);
/* Parses s[0..n) (a trailing time of day is allowed) in format fmt. */
int csv_date_parse(const char *s, size_t n, int fmt, char out[11]);
/* Bit (1u << fmt) for every format s[0..n) parses in. */
uint32_t csv_date_formats(const char *s, size_t n);
/* Month 1..12 for a month name or abbreviation (en, de, fr, es, nl), else 0. */
int csv_month_from_name(const char *s, size_t n);

/* Amounts (csv_amount.c). */
struct csv_amount {
    char core[72];              /* (a cell is at most 64 bytes) digits and separators only; spaces as ' ', apostrophes as '\'' */
    size_t n;
    bool negative;              /* '-', trailing '-', parentheses or "DR" */
    char code[4];               /* currency named in the cell ("EUR", or from €/£/¥), or "" */
};
/* Splits a cell into sign, currency symbol/code and the number's digits.
 * 0 when it looks like an amount, -1 otherwise (empty included). */
int csv_amount_scan(const char *s, size_t n, struct csv_amount *a);
/* The value in minor units with the given separators (thousands 0 = none). */
int csv_amount_value(const struct csv_amount *a, char decimal, char thousands, int exponent,
                     long long *out);

enum csv_evidence { CSV_EVIDENCE_NONE, CSV_EVIDENCE_DOT, CSV_EVIDENCE_COMMA };
struct csv_number_info {
    bool ok_dot, ok_comma;      /* parses with '.' / ',' as the decimal separator */
    char th_dot, th_comma;      /* the thousands separator it then uses, 0 = none */
    enum csv_evidence evidence; /* which decimal separator the digits prove */
    enum csv_evidence hint;     /* weaker: "1,234" / "3.000" read best as thousands */
    bool frac;                  /* has fraction digits under some reading */
    bool id_like;               /* a bare run of 6+ digits (account, reference) */
};
void csv_amount_classify(const struct csv_amount *a, struct csv_number_info *ni);
/* -1 for a debit marker (DR, D, Af, S, Debet, Debit, -), +1 for a credit
 * marker (CR, C, Bij, H, Credit, +), 0 otherwise. */
int csv_indicator_sign(const char *s, size_t n);
/* A currency code from the common list (for inference from values). */
bool csv_is_common_currency(const char *s, size_t n);

/* Column roles and statistics (csv_vocab.c, csv_stats.c). */
enum csv_role {
    CSV_ROLE_NONE,
    CSV_ROLE_DATE,
    CSV_ROLE_DESCRIPTION,
    CSV_ROLE_AMOUNT,
    CSV_ROLE_DEBIT,
    CSV_ROLE_CREDIT,
    CSV_ROLE_INDICATOR,
    CSV_ROLE_CURRENCY,
    CSV_ROLE_BALANCE,
    CSV_ROLE_REFERENCE,
    CSV_ROLE_COUNTERPARTY,          /* the other party's name: Payee, Partnername, Empfänger, 거래처 */
    CSV_ROLE_COUNTERPARTY_ACCOUNT,  /* the other party's IBAN or account number: Tegenrekening, Gegenkonto */
    CSV_ROLE_COUNT
};
enum csv_lang { CSV_LANG_ANY, CSV_LANG_EN, CSV_LANG_OTHER };
const char *csv_role_key(enum csv_role role);      /* "date", "amount", ... */
/* The role a header name stands for, with a weight (higher = surer; booking
 * dates outweigh value dates) and its language; CSV_ROLE_NONE if unknown. */
enum csv_role csv_header_role(const char *name, size_t n, int *weight, enum csv_lang *lang);
/* Whether a cell marks a non-transaction row: CSV_SUMMARY_BALANCE for an
 * opening/closing balance ("Opening balance", "Anfangssaldo", "Solde
 * initial"...), CSV_SUMMARY_TOTAL for a whole cell "Total", "Summe"... (a
 * merchant may be called TOTAL, so the driver only trusts this one on rows
 * without a date); 0 otherwise. */
enum { CSV_SUMMARY_NONE, CSV_SUMMARY_BALANCE, CSV_SUMMARY_TOTAL };
int csv_summary_kind(const char *s, size_t n);

struct csv_colstat {
    long nonempty;
    long date_ok[CSV_DATE_FORMAT_COUNT];
    long num_dot, num_comma;        /* cells that parse as a number for each decimal separator */
    long ev_dot, ev_comma;          /* cells that prove the decimal separator */
    long hint_dot, hint_comma;      /* cells that merely suggest it (a 3-digit group) */
    long th_dot[4], th_comma[4];    /* thousands separators seen: ',', '.', '\'', ' ' */
    long frac, neg, id_like;
    long text, text_bytes;          /* cells with letters that are neither dates nor numbers */
    long indicator;                 /* DR/CR-style markers */
    long code_common, code_valid;   /* common ISO currency codes; any three capitals */
};
struct csv_cellmemo;
struct csv_pairstat {
    /* per decimal separator ('.', ','): consecutive row pairs compared, and
     * how often the second column moved by this row's first-column value
     * (oldest first) or by the previous row's (newest first) */
    long pairs[2], fwd[2], rev[2];
    long both;                      /* rows where both columns are non-empty */
};
struct csv_stats {
    size_t ncols, npair;
    long rows;                      /* data rows counted */
    long first_row_line;
    struct csv_colstat *col;        /* ncols */
    struct csv_pairstat *pair;      /* npair * npair, [amount * npair + balance] */
    long long *cur, *prev;          /* npair * 2 values of this and the previous row */
    unsigned char *cur_ok, *prev_ok;
    bool have_prev;
    long long *first;               /* npair * 2 values of the first row counted ... */
    unsigned char *first_ok;        /* ... kept so that csv_stats_merge can join two halves */
    struct csv_cellmemo *memo;      /* ncols: each column's last cell and its class */
};
int csv_stats_init(struct csv_stats *st, size_t ncols);
void csv_stats_add(struct csv_stats *st, const struct csv_reader *r);
void csv_stats_free(struct csv_stats *st);
/* Adds to st the statistics of `later`, counted over the rows that follow
 * st's last row in the file: the result is what one pass over both would
 * have counted. */
void csv_stats_merge(struct csv_stats *st, const struct csv_stats *later);

/* The mapping (csv_mapping.c holds JSON in and out). */
struct csv_mapping {
    char delimiter;
    long header_line;               /* 0 = none */
    size_t ncols;
    int col[CSV_ROLE_COUNT];        /* column per singular role, -1 = none; [DESCRIPTION] unused */
    int desc[CSV_MAX_DESC_COLUMNS];
    size_t ndesc;
    int date_format;                /* -1 = unknown */
    char decimal, thousands;        /* thousands 0 = none */
    bool negate;
    char fingerprint[65];
};
struct csv_override {
    bool has_delimiter, has_header_line, has_date_format, has_decimal, has_thousands,
        has_negate, has_desc, has_day_first;
    bool day_first;                 /* "dayFirst": the order when every date fits both ways */
    bool has_col[CSV_ROLE_COUNT];
    char delimiter;
    long header_line;
    int col[CSV_ROLE_COUNT];
    int desc[CSV_MAX_DESC_COLUMNS];
    size_t ndesc;
    int date_format;
    char decimal, thousands;
    bool negate;
};
/* Checks the shape and values of an override object (not yet the column
 * indexes: see csv_override_check_columns). */
int csv_override_parse(const json_t *o, struct csv_override *ov, struct stmt_error *err);
int csv_override_check_columns(const struct csv_override *ov, size_t ncols, struct stmt_error *err);
json_t *csv_mapping_json(const struct csv_mapping *m, json_t *names);

/* Role inference (csv_vocab.c, csv_stats.c).  names: the header names (NULL when no
 * header); ov: what the user fixed.  Fills m (whose delimiter, header_line
 * and ncols are already set); *ambiguous_dates is set when the day/month
 * order was never settled by the data.  -1 with err when no date or no amount
 * column can be found. */
struct csv_infer_ctx {
    const struct csv_stats *st;
    const json_t *names;            /* array of strings, or NULL */
    const struct csv_override *ov;
    bool *ambiguous_dates;
};
int csv_infer(const struct csv_infer_ctx *c, struct csv_mapping *m, struct stmt_error *err);

/* Layout sniffing (csv_sniff.c). */
struct csv_layout {
    char delimiter;
    size_t ncols;
    long header_ordinal;            /* record index of the header, -1 = none */
    long header_line;
    long data_ordinal;              /* first record index of the table's data */
};
int csv_sniff(struct csv_reader *r, const struct csv_override *ov, struct csv_layout *lay,
              struct stmt_error *err);

void csv_set_error(struct stmt_error *err, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
