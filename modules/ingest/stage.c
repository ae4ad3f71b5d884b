/* stage.c: the parsers' sink, writing transactions_staging with COPY
 * (see stage.h). */
#include "stage.h"
#include "merchant.h"
#include "si_uuid.h"
#include "stmt_util.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Binary COPY: the server skips the text input functions (uuid_in, date_in,
 * int8in ...), which halves its share of the work for a million rows. */
static const char copy_sql[] =
    "COPY transactions_staging (import_id, user_id, row_no, line, tx_date, amount_minor, currency, "
    "description, counterparty, memo, bank_id, account, category, dedup_hash, counterparty_account) "
    "FROM STDIN (FORMAT binary)";
#define STAGE_COLUMNS 15

/* The binary COPY header: signature, flags, header extension length. */
static const char copy_header[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";

int stage_begin(struct stage *s, struct si_error *err)
{
    s->rows = 0;
    s->debit_minor = s->credit_minor = 0;
    s->date_from[0] = s->date_to[0] = s->currency[0] = '\0';
    s->mixed_currency = false;
    s->warnings_total = 0;
    s->warnings = json_array();
    si_error_clear(&s->err);
    dedup_occurrences_init(&s->occ);
    si_buf_init(&s->copy, STAGE_FLUSH + 64 * 1024);
    if (s->warnings == NULL || dedup_hasher_init(&s->hasher) != 0)
        return si_error_set(err, 500, "internal", "out of memory");
    if (si_uuid_bytes(s->import_id, s->import_uuid) != 0 || si_uuid_bytes(s->user_id, s->user_uuid) != 0)
        return si_error_set(err, 500, "internal", "the import or user id is not a UUID");
    if (si_buf_append(&s->copy, copy_header, sizeof copy_header) != 0)
        return si_error_set(err, 500, "internal", "out of memory");
    if (si_db_copy_start(s->db, copy_sql, 0, NULL, err) != 0)
        return -1;
    s->copying = true;
    return 0;
}

/* Network byte order integers. */
static int put_u16(struct si_buf *b, unsigned v)
{
    unsigned char x[2] = { (unsigned char)(v >> 8), (unsigned char)v };
    return si_buf_append(b, x, 2);
}

static int put_u32(struct si_buf *b, uint32_t v)
{
    unsigned char x[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                           (unsigned char)v };
    return si_buf_append(b, x, 4);
}

/* A field: its length, then its bytes; NULL is length -1. */
static int put_bytes(struct si_buf *b, const void *v, size_t n)
{
    if (n > INT32_MAX)
        return -1;
    return put_u32(b, (uint32_t)n) | si_buf_append(b, v, n);
}

static int put_text(struct si_buf *b, const char *v)
{
    return v == NULL ? put_u32(b, UINT32_MAX) : put_bytes(b, v, strlen(v));
}

static int put_int4(struct si_buf *b, int32_t v)
{
    return put_u32(b, 4) | put_u32(b, (uint32_t)v);
}

static int put_int8(struct si_buf *b, int64_t v)
{
    uint64_t u = (uint64_t)v;
    return put_u32(b, 8) | put_u32(b, (uint32_t)(u >> 32)) | put_u32(b, (uint32_t)u);
}

/* "YYYY-MM-DD" -> days since 2000-01-01 (PostgreSQL's date epoch); -1 when
 * the text is not such a date. */
static int date_days(const char *d, int32_t *out)
{
    for (int i = 0; i < 10; i++)
        if (i == 4 || i == 7 ? d[i] != '-' : (d[i] < '0' || d[i] > '9'))
            return -1;
    if (d[10] != '\0')
        return -1;
    int y = (d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 + (d[3] - '0');
    int m = (d[5] - '0') * 10 + (d[6] - '0');
    int day = (d[8] - '0') * 10 + (d[9] - '0');
    if (y < 1900 || stmt_make_date(y, m, day, NULL) != 0)   /* no two-digit-year reading here */
        return -1;
    /* days from the civil date (proleptic Gregorian), shifted to 2000-01-01 */
    y -= m <= 2;
    int era = y / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    *out = (int32_t)(era * 146097 + doe - 730425);
    return 0;
}

static int flush(struct stage *s, struct si_error *err)
{
    if (s->copy.len == 0)
        return 0;
    if (si_db_copy_put(s->db, s->copy.data, s->copy.len, err) != 0)
        return -1;
    si_buf_reset(&s->copy);
    return 0;
}

static int stop(struct stage *s, int status, const char *code, const char *message)
{
    si_error_set(&s->err, status, code, "%s", message);
    return 1;
}

/* The one bound on amounts, for every format: each row's magnitude at most
 * STMT_AMOUNT_MAX, and the file's debit and credit totals within int64.
 * Returns 0, or 1 with s->err set (422 naming the line). */
static int check_amount(struct stage *s, const struct stmt_txn *t)
{
    if (t->amount_minor > STMT_AMOUNT_MAX || t->amount_minor < -STMT_AMOUNT_MAX) {
        si_error_set(&s->err, 422, "amount_out_of_range",
                     "line %ld: the amount is beyond the limit of %lld minor units per transaction",
                     t->line, STMT_AMOUNT_MAX);
        return 1;
    }
    long long sum;
    bool over = t->amount_minor < 0 ? __builtin_add_overflow(s->debit_minor, -t->amount_minor, &sum)
                                    : __builtin_add_overflow(s->credit_minor, t->amount_minor, &sum);
    if (over) {
        si_error_set(&s->err, 422, "amount_out_of_range",
                     "line %ld: the file's %s total is beyond what 64-bit minor units hold", t->line,
                     t->amount_minor < 0 ? "debit" : "credit");
        return 1;
    }
    return 0;
}

/* The counterparty's account as stored: the file's text without white space
 * (spaces, tabs, NBSP: "DE89 3704 0044 0532 0130 00" is one IBAN), into out.
 * NULL when the file gives none, when nothing is left, when no digit is in it
 * (not an account number) or when it is longer than STAGE_ACCOUNT_MAX. */
static const char *account_text(const char *in, char out[STAGE_ACCOUNT_MAX + 1])
{
    size_t w = 0;
    bool digit = false;
    if (in == NULL)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            continue;
        if (p[0] == 0xC2 && p[1] == 0xA0) {
            p++;
            continue;
        }
        if (w == STAGE_ACCOUNT_MAX)
            return NULL;
        digit |= *p >= '0' && *p <= '9';
        out[w++] = (char)*p;
    }
    out[w] = '\0';
    return w > 0 && digit ? out : NULL;
}

int stage_txn(void *ctx, const struct stmt_txn *t)
{
    struct stage *s = ctx;
    if (s->rows >= s->max_rows)
        return stop(s, 413, "too_many_rows", "the statement has more rows than the limit");
    if (check_amount(s, t) != 0)
        return 1;

    const char *currency = t->currency[0] ? t->currency : s->fallback_currency;
    const char *account = t->account ? t->account : (s->account ? s->account : "");
    if (s->currency[0] == '\0')
        snprintf(s->currency, sizeof s->currency, "%s", currency);
    else if (strcmp(s->currency, currency) != 0)
        s->mixed_currency = true;

    /* No counterparty in the file: the merchant of the description is the counterparty. */
    char merchant[MERCHANT_MAX];
    const char *counterparty = t->counterparty && t->counterparty[0] ? t->counterparty
                             : merchant_normalize(t->description, merchant, sizeof merchant) ? merchant : NULL;
    const char *category = categorizer_match_row(s->cat, counterparty, t->description);
    char account_buf[STAGE_ACCOUNT_MAX + 1];
    const char *counterparty_account = account_text(t->counterparty_account, account_buf);
    char hash[DEDUP_HASH_LEN + 1];
    int occurrence = 0;
    if (dedup_hash(&s->hasher, &s->occ, account, t->bank_id, t->date, t->amount_minor, currency,
                   t->description, hash, &occurrence) != 0)
        return stop(s, 500, "internal", "out of memory hashing transactions");
    if (occurrence > 1)
        s->repeated_rows++;

    int32_t days;
    if (date_days(t->date, &days) != 0)
        return stop(s, 500, "internal", "a parser produced a date that is not YYYY-MM-DD");
    struct si_buf *b = &s->copy;
    int rc = put_u16(b, STAGE_COLUMNS) | put_bytes(b, s->import_uuid, 16) | put_bytes(b, s->user_uuid, 16) |
             put_int4(b, (int32_t)(s->rows + 1)) | put_int4(b, (int32_t)t->line) | put_int4(b, days) |
             put_int8(b, t->amount_minor) | put_text(b, currency) | put_text(b, t->description) |
             put_text(b, counterparty) | put_text(b, t->memo) | put_text(b, t->bank_id) |
             put_text(b, t->account ? t->account : s->account) | put_text(b, category) | put_text(b, hash) |
             put_text(b, counterparty_account);
    if (rc != 0)
        return stop(s, 400, "row_too_large", "a transaction row is too large");
    if (s->copy.len >= STAGE_FLUSH && flush(s, &s->err) != 0)
        return 1;

    if (t->amount_minor < 0)        /* cannot overflow: check_amount */
        s->debit_minor += -t->amount_minor;
    else
        s->credit_minor += t->amount_minor;
    if (s->date_from[0] == '\0' || strcmp(t->date, s->date_from) < 0)
        memcpy(s->date_from, t->date, 11);
    if (strcmp(t->date, s->date_to) > 0)
        memcpy(s->date_to, t->date, 11);

    s->rows++;
    return 0;
}

void stage_warning(void *ctx, long line, const char *message)
{
    struct stage *s = ctx;
    s->warnings_total++;
    if (json_array_size(s->warnings) < STAGE_MAX_WARNINGS)
        json_array_append_new(s->warnings, json_pack("{s:I, s:s}", "line", (json_int_t)line, "message", message));
}

int stage_end(struct stage *s, struct si_error *err)
{
    long long copied = 0;
    if (put_u16(&s->copy, 0xFFFF) != 0)     /* the binary COPY trailer */
        return si_error_set(err, 500, "internal", "out of memory");
    if (flush(s, err) != 0)
        return -1;
    s->copying = false;
    if (si_db_copy_end(s->db, &copied, err) != 0)
        return -1;
    if (copied != s->rows)
        return si_error_set(err, 500, "internal", "staged %lld rows of %lld", copied, s->rows);
    return 0;
}

void stage_abort(struct stage *s)
{
    if (s->copying)
        si_db_copy_abort(s->db, "ingest aborted");
    s->copying = false;
}

void stage_cleanup(struct stage *s)
{
    stage_abort(s);
    json_decref(s->warnings);
    s->warnings = NULL;
    dedup_occurrences_cleanup(&s->occ);
    dedup_hasher_cleanup(&s->hasher);
    si_buf_cleanup(&s->copy);
}
