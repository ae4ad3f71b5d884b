/* stage.c: the parsers' sink, writing transactions_staging with COPY
 * (see stage.h). */
#include "stage.h"
#include "stmt_util.h"

#include <stdio.h>
#include <string.h>

static const char copy_sql[] =
    "COPY transactions_staging (import_id, user_id, row_no, line, tx_date, amount_minor, currency, "
    "description, counterparty, bank_id, account, category, dedup_hash) FROM STDIN";

int stage_begin(struct stage *s, struct si_error *err)
{
    s->rows = 0;
    s->debit_minor = s->credit_minor = 0;
    s->date_from[0] = s->date_to[0] = s->currency[0] = '\0';
    s->mixed_currency = false;
    s->warnings_total = 0;
    s->preview = json_array();
    s->warnings = json_array();
    si_error_clear(&s->err);
    dedup_occurrences_init(&s->occ);
    si_buf_init(&s->copy, STAGE_FLUSH + 64 * 1024);
    if (s->preview == NULL || s->warnings == NULL || dedup_hasher_init(&s->hasher) != 0)
        return si_error_set(err, 500, "internal", "out of memory");
    if (si_db_copy_start(s->db, copy_sql, 0, NULL, err) != 0)
        return -1;
    s->copying = true;
    return 0;
}

/* Appends a COPY text field: \N for NULL, backslash escapes for the rest. */
static int put_field(struct si_buf *b, const char *v, char end)
{
    int rc = 0;
    if (v == NULL) {
        rc |= si_buf_append(b, "\\N", 2);
    } else {
        for (;;) {
            size_t run = strcspn(v, "\\\t\n\r");
            rc |= si_buf_append(b, v, run);
            v += run;
            if (*v == '\0')
                break;
            char esc[2] = { '\\', *v == '\t' ? 't' : *v == '\n' ? 'n' : *v == '\r' ? 'r' : '\\' };
            rc |= si_buf_append(b, esc, 2);
            v++;
        }
    }
    rc |= si_buf_append(b, &end, 1);
    return rc;
}

/* Appends v in decimal followed by end (snprintf is a large share of the
 * per-row cost at a million rows). */
static int put_int(struct si_buf *b, long long v, char end)
{
    char tmp[24];
    size_t n = sizeof tmp;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    tmp[--n] = end;
    do {
        tmp[--n] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        tmp[--n] = '-';
    return si_buf_append(b, tmp + n, sizeof tmp - n);
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

int stage_txn(void *ctx, const struct stmt_txn *t)
{
    struct stage *s = ctx;
    if (s->rows >= s->max_rows)
        return stop(s, 413, "too_many_rows", "the statement has more rows than the limit");

    const char *currency = t->currency[0] ? t->currency : s->fallback_currency;
    const char *account = t->account ? t->account : (s->account ? s->account : "");
    if (s->currency[0] == '\0')
        snprintf(s->currency, sizeof s->currency, "%s", currency);
    else if (strcmp(s->currency, currency) != 0)
        s->mixed_currency = true;

    const char *category = categorizer_match(s->cat, t->description);
    char hash[DEDUP_HASH_LEN + 1];
    int occurrence = 0;
    if (dedup_hash(&s->hasher, &s->occ, account, t->bank_id, t->date, t->amount_minor, currency,
                   t->description, hash, &occurrence) != 0)
        return stop(s, 500, "internal", "out of memory hashing transactions");

    int rc = put_field(&s->copy, s->import_id, '\t') | put_field(&s->copy, s->user_id, '\t') |
             put_int(&s->copy, s->rows + 1, '\t') | put_int(&s->copy, t->line, '\t') |
             put_field(&s->copy, t->date, '\t') | put_int(&s->copy, t->amount_minor, '\t') |
             put_field(&s->copy, currency, '\t') |
             put_field(&s->copy, t->description, '\t') | put_field(&s->copy, t->counterparty, '\t') |
             put_field(&s->copy, t->bank_id, '\t') | put_field(&s->copy, t->account ? t->account : s->account, '\t') |
             put_field(&s->copy, category, '\t') | put_field(&s->copy, hash, '\n');
    if (rc != 0)
        return stop(s, 400, "row_too_large", "a transaction row is too large");
    if (s->copy.len >= STAGE_FLUSH && flush(s, &s->err) != 0)
        return 1;

    if (t->amount_minor < 0)
        s->debit_minor += -t->amount_minor;
    else
        s->credit_minor += t->amount_minor;
    if (s->date_from[0] == '\0' || strcmp(t->date, s->date_from) < 0)
        memcpy(s->date_from, t->date, 11);
    if (strcmp(t->date, s->date_to) > 0)
        memcpy(s->date_to, t->date, 11);

    if (s->rows < STAGE_PREVIEW) {
        struct stage_preview_row *k = &s->preview_keys[s->rows];
        memcpy(k->hash, hash, sizeof hash);
        k->occurrence = occurrence;
        memcpy(k->date, t->date, 11);
        k->amount_minor = t->amount_minor;
        snprintf(k->currency, sizeof k->currency, "%s", currency);
        json_t *row = json_pack("{s:s, s:s, s:I, s:s, s:s, s:i}", "date", t->date,
                                "description", t->description, "amountMinor", (json_int_t)t->amount_minor,
                                "currency", currency, "category", category, "line", (int)t->line);
        if (row == NULL || json_array_append_new(s->preview, row) != 0)
            return stop(s, 400, "bad_encoding", "a description is not valid UTF-8");
    }
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
    json_decref(s->preview);
    json_decref(s->warnings);
    s->preview = s->warnings = NULL;
    dedup_occurrences_cleanup(&s->occ);
    dedup_hasher_cleanup(&s->hasher);
    si_buf_cleanup(&s->copy);
}
