/* bank_ledger.c: an account's cached API pages into the `transactions` ledger.
 *
 * The rows are read from truelayer_page_cache with jsonb's own text of each field, so an
 * amount is the API's decimal digit for digit (bank_amount_minor makes it minor units).
 * The dedup key is the statement imports' bank-id form (modules/ingest/dedup.h,
 * sha256("v1|b|" account "|" provider transaction id)): a re-sync, an overlapping range, or
 * a statement of the same account carrying the same ids adds nothing twice.  Rows go in
 * batches of batch_size through jsonb_to_recordset (one parameter, no array literals to
 * escape); what conflicted is a duplicate, and is claimed by the job (import_job_id) when
 * no bank sync held it, so that reverting the statement import that holds it keeps it.  A booked row first
 * tries to replace a pending row of the same account, amount and currency dated up to
 * pending_match_days before it (the bank gives a booked transaction a new id), unless
 * that pending row is still pending now. */
#include "bank_ledger.h"
#include "bank_jobs.h"
#include "dedup.h"
#include "si_money.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID_MAX 200

struct ledger_row {
    char date[11];
    long long amount;
    char currency[4];
    const char *description;
    const char *counterparty;      /* NULL when none */
    const char *provider_id;
    char hash[DEDUP_HASH_LEN + 1];
    bool pending;
};

/* A cached element as a ledger row; -1 when it cannot be read (counted as an error). */
static int read_row(const PGresult *res, int r, const struct bank_ledger_in *in, struct dedup_hasher *h,
                    struct ledger_row *out)
{
    const char *id = PQgetvalue(res, r, 1), *ts = PQgetvalue(res, r, 2), *amount = PQgetvalue(res, r, 3);
    const char *cur = PQgetvalue(res, r, 4);
    long day;
    if (PQgetisnull(res, r, 1) || id[0] == '\0' || strlen(id) > ID_MAX || PQgetisnull(res, r, 2) ||
        strlen(ts) < 10 || PQgetisnull(res, r, 3))
        return -1;
    memcpy(out->date, ts, 10);
    out->date[10] = '\0';
    if (bank_date_parse(out->date, &day) != 0)
        return -1;
    snprintf(out->currency, sizeof out->currency, "%s",
             !PQgetisnull(res, r, 4) && si_currency_code_valid(cur) ? cur : in->currency);
    if (bank_amount_minor(amount, si_currency_exponent(out->currency), &out->amount, NULL) != 0)
        return -1;
    out->description = PQgetvalue(res, r, 5);
    out->counterparty = PQgetisnull(res, r, 6) || PQgetvalue(res, r, 6)[0] == '\0' ? NULL : PQgetvalue(res, r, 6);
    out->provider_id = id;
    out->pending = strcmp(PQgetvalue(res, r, 0), "pending") == 0;
    int occ = 0;
    if (dedup_hash(h, NULL, in->account_id, id, out->date, out->amount, out->currency, out->description, out->hash,
                   &occ) != 0)
        return -2;
    return 0;
}

/* Replaces a pending row by the booked row; 1 replaced, 0 none to replace, -1 error. */
static int replace_pending(struct si_db *db, const struct bank_ledger_in *in, const struct ledger_row *row,
                           const char *pending_ids, struct si_error *err)
{
    char amount[24], days[12];
    snprintf(amount, sizeof amount, "%lld", row->amount);
    snprintf(days, sizeof days, "%d", in->pending_match_days);
    const char *p[] = { in->user_id, in->account_id, amount, row->currency, row->date, days, row->hash,
                        row->provider_id, row->description, row->counterparty, in->job_id, pending_ids };
    PGresult *res = si_db_exec(db,
        "UPDATE transactions t SET tx_date = $5::date, dedup_hash = $7, bank_id = $8, provider_transaction_id = $8, "
        "  pending = false, description = $9, counterparty = $10, import_job_id = $11 "
        "WHERE t.id = (SELECT id FROM transactions WHERE user_id = $1 AND account = $2 AND pending "
        "    AND amount_minor = $3::bigint AND currency = $4 AND tx_date BETWEEN $5::date - $6::int AND $5::date "
        "    AND NOT provider_transaction_id = ANY (SELECT jsonb_array_elements_text($12::jsonb)) "
        "    ORDER BY tx_date, id LIMIT 1 FOR UPDATE) "
        "  AND NOT EXISTS (SELECT 1 FROM transactions WHERE user_id = $1 AND dedup_hash = $7) RETURNING t.id",
        12, p, err);
    if (res == NULL)
        return -1;
    int n = PQntuples(res);
    PQclear(res);
    return n > 0;
}

/* Inserts the batch; adds to synced and duplicates. */
static int insert_batch(struct si_db *db, const struct bank_ledger_in *in, json_t *batch,
                        struct bank_ledger_counts *out, struct si_error *err)
{
    size_t n = json_array_size(batch);
    if (n == 0)
        return 0;
    char *rows = json_dumps(batch, JSON_COMPACT);
    if (rows == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    const char *p[] = { in->user_id, in->account_id, in->job_id, rows };
    /* A row the ledger already has is claimed by this job when no bank sync holds it yet
     * (a statement import's row): revert-import then hands it to the sync instead of
     * removing it.  DISTINCT ON: an id twice in one batch is one row (and a duplicate). */
    PGresult *res = si_db_exec(db,
        "INSERT INTO transactions AS t (user_id, tx_date, amount_minor, currency, description, counterparty, bank_id, "
        "  account, category, dedup_hash, provider_transaction_id, pending, import_job_id) "
        "SELECT $1, r.d, r.a, r.c, r.ds, r.cp, r.b, $2, 'Other', r.h, r.b, r.p, $3::uuid "
        "FROM (SELECT DISTINCT ON (x.h) * FROM jsonb_to_recordset($4::jsonb) "
        "      AS x(d date, a bigint, c text, ds text, cp text, b text, h text, p boolean)) r "
        "ON CONFLICT (user_id, dedup_hash) DO UPDATE SET import_job_id = excluded.import_job_id "
        "  WHERE t.import_job_id IS NULL "
        "RETURNING (t.xmax = 0)", 4, p, err);
    free(rows);
    if (res == NULL)
        return -1;
    long long inserted = 0;
    for (int i = 0; i < PQntuples(res); i++)
        inserted += strcmp(PQgetvalue(res, i, 0), "t") == 0;
    PQclear(res);
    out->synced += (int)inserted;
    out->duplicates += (int)((long long)n - inserted);
    json_array_clear(batch);
    return 0;
}

static json_t *row_json(const struct ledger_row *row)
{
    return json_pack("{s:s, s:I, s:s, s:s, s:s?, s:s, s:s, s:b}", "d", row->date, "a", (json_int_t)row->amount,
                     "c", row->currency, "ds", row->description, "cp", row->counterparty, "b", row->provider_id,
                     "h", row->hash, "p", row->pending);
}

int bank_ledger_write(struct si_db *db, const struct bank_ledger_in *in, struct bank_ledger_counts *out,
                      struct si_error *err)
{
    PGresult *res = NULL, *pend = NULL;
    json_t *batch = NULL, *pending_ids = NULL;
    char *pending_ids_text = NULL;
    struct dedup_hasher h = { 0 };
    int rc = -1;
    *out = (struct bank_ledger_counts){ 0 };
    if (dedup_hasher_init(&h) != 0) {
        si_error_set(err, 500, "internal", "the SHA-256 implementation is not available");
        goto out;
    }
    const char *p[] = { in->job_id, in->user_id, in->account_id };
    res = si_db_exec_bulk(db,
        "SELECT c.kind, e.v->>'transaction_id', e.v->>'timestamp', e.v->>'amount', e.v->>'currency', "
        "  coalesce(e.v->>'description', ''), e.v->>'merchant_name' "
        "FROM truelayer_page_cache c "
        "CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(c.results) = 'array' THEN c.results "
        "  ELSE '[]'::jsonb END) WITH ORDINALITY AS e(v, n) "
        "WHERE c.job_id = $1 AND c.user_id = $2 AND c.account_id = $3 "
        "ORDER BY c.kind, c.window_from, e.n", 3, p, err);
    if (res == NULL)
        goto out;
    /* The ids the bank still calls pending: their rows are not replaced. */
    if ((pending_ids = json_array()) == NULL || (batch = json_array()) == NULL)
        goto oom;
    int n = PQntuples(res);
    for (int r = 0; r < n; r++)
        if (strcmp(PQgetvalue(res, r, 0), "pending") == 0 && !PQgetisnull(res, r, 1) &&
            json_array_append_new(pending_ids, json_string(PQgetvalue(res, r, 1))) != 0)
            goto oom;
    if ((pending_ids_text = json_dumps(pending_ids, JSON_COMPACT)) == NULL)
        goto oom;
    const char *q[] = { in->user_id, in->account_id };
    pend = si_db_exec(db, "SELECT EXISTS (SELECT 1 FROM transactions WHERE user_id = $1 AND account = $2 AND pending)",
                      2, q, err);
    if (pend == NULL)
        goto out;
    bool has_pending = strcmp(PQgetvalue(pend, 0, 0), "t") == 0;
    int batch_size = in->batch_size > 0 ? in->batch_size : 50;
    for (int r = 0; r < n; r++) {
        struct ledger_row row;
        int e = read_row(res, r, in, &h, &row);
        if (e == -2)
            goto oom;
        if (e != 0) {
            out->errors++;
            continue;
        }
        if (!row.pending) {
            out->booked++;
            if (strcmp(row.date, out->newest_booked) > 0)
                memcpy(out->newest_booked, row.date, sizeof out->newest_booked);
        }
        if (!row.pending && has_pending) {
            /* The batch so far goes first, so a replacement sees the rows before it. */
            if (insert_batch(db, in, batch, out, err) != 0)
                goto out;
            int rep = replace_pending(db, in, &row, pending_ids_text, err);
            if (rep < 0)
                goto out;
            if (rep > 0) {
                out->pending_replaced++;
                continue;
            }
        }
        if (json_array_append_new(batch, row_json(&row)) != 0)
            goto oom;
        if ((int)json_array_size(batch) >= batch_size && insert_batch(db, in, batch, out, err) != 0)
            goto out;
    }
    if (insert_batch(db, in, batch, out, err) != 0)
        goto out;
    rc = 0;
    goto out;
oom:
    si_error_set(err, 500, "internal", "out of memory");
out:
    dedup_hasher_cleanup(&h);
    free(pending_ids_text);
    json_decref(batch);
    json_decref(pending_ids);
    PQclear(res);
    PQclear(pend);
    return rc;
}
