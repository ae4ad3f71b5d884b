/* stage.h: parsed transactions -> COPY into transactions_staging.
 *
 * The stage is the parsers' sink, so it is where every format's rows meet:
 * it refuses a row whose amount is beyond STMT_AMOUNT_MAX, or that would take
 * the file's debit or credit total past int64, with 422 amount_out_of_range
 * naming the line.  For each row it settles the currency and the counterparty's
 * account (white space removed; none past STAGE_ACCOUNT_MAX: it is then not an account),
 * categorises the description, computes the dedup hash (see dedup.h), writes
 * one binary COPY tuple into a buffer flushed every STAGE_FLUSH bytes, and keeps
 * what the response needs: totals, date range, the rows repeated within the file
 * and the first STAGE_MAX_WARNINGS warnings (the preview's rows are read back
 * from staging with their verdicts, preview.c).  Memory is bounded by those and
 * by the occurrence table (8-byte keys, sized to the row count). */
#ifndef STAGE_H
#define STAGE_H

#include <jansson.h>

#include "categorize.h"
#include "dedup.h"
#include "si_buf.h"
#include "si_db.h"
#include "stmt.h"

#define STAGE_PREVIEW       20   /* rows of the preview in the ingest answer */
#define STAGE_MAX_WARNINGS  100
#define STAGE_FLUSH         (64 * 1024)
#define STAGE_ACCOUNT_MAX   64   /* characters of a counterparty's account, white space removed */


struct stage {
    /* set by the caller */
    struct si_db *db;
    const char *import_id;
    const char *user_id;
    const char *fallback_currency;    /* when the file does not say */
    const char *account;              /* the request's accountId, or NULL */
    const struct categorizer *cat;
    long long max_rows;
    /* results */
    long long rows;
    long long repeated_rows;          /* rows identical to an earlier row of the file */
    long long debit_minor, credit_minor;
    char date_from[11], date_to[11];
    char currency[4];                 /* of the first row */
    bool mixed_currency;
    json_t *warnings;                 /* [{"line","message"}] */
    long long warnings_total;
    struct si_error err;              /* why the sink stopped */
    /* internal */
    struct dedup_occurrences occ;
    struct dedup_hasher hasher;
    struct si_buf copy;
    unsigned char import_uuid[16], user_uuid[16];
    bool copying;
};

/* Starts COPY (inside the caller's transaction).  0 or -1 with err. */
int stage_begin(struct stage *s, struct si_error *err);
/* Flushes and ends COPY; checks the server's row count. */
int stage_end(struct stage *s, struct si_error *err);
/* Aborts a COPY in progress (the transaction is then failed). */
void stage_abort(struct stage *s);
void stage_cleanup(struct stage *s);

/* The sink callbacks (ctx = struct stage *). */
int stage_txn(void *ctx, const struct stmt_txn *t);
void stage_warning(void *ctx, long line, const char *message);

#endif
