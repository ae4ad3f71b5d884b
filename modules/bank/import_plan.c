/* import_plan.c: POST /api/truelayer/import/plan
 *   {connection_id, from_date, to_date, account_ids?, auto_enrich?, batch_size?}
 *   -> 200 {job_id, status:"planned", estimated_accounts, estimated_transactions,
 *           estimated_duration_seconds, estimated_cost, estimated_cost_micros,
 *           estimated_api_calls, date_range, accounts, auto_enrich, batch_size}
 *
 * Everything is checked before anything is written (400 JSON naming the field; an
 * unknown or another user's connection 404 not_found; one waiting for consent again 409
 * reauth_required); then the job and one progress row per account are one transaction.
 * account_ids absent or empty means every account of the connection.  The estimates come
 * from data (bank_estimate.c): each account's observed_tx_per_day, the caller's measured
 * milliseconds per API call over its last 50 account syncs, the price per call. */
#include "truelayer_import.h"
#include "si_auth.h"
#include "si_clock.h"
#include "si_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct plan_account {
    const char *account_id;     /* into res */
    int row;                    /* its row in the accounts result */
    double tx_per_day;
    long long estimated_tx;
};

static int read_request(const json_t *body, char conn[SI_UUID_LEN + 1], const char **from, const char **to,
                        bool *auto_enrich, int *batch_size, struct si_error *err)
{
    const json_t *c = json_object_get(body, "connection_id");
    if (c == NULL || json_is_null(c))
        return si_error_set(err, 400, "missing_field", "connection_id is required");
    if (!json_is_string(c) || si_uuid_normalize(json_string_value(c), conn) != 0)
        return si_error_set(err, 400, "invalid_id", "connection_id must be a UUID");
    const json_t *f = json_object_get(body, "from_date"), *t = json_object_get(body, "to_date");
    if (f == NULL || t == NULL)
        return si_error_set(err, 400, "missing_field", "from_date and to_date are required");
    if (!json_is_string(f) || !json_is_string(t))
        return si_error_set(err, 400, "invalid_date", "from_date and to_date must be ISO dates (YYYY-MM-DD)");
    *from = json_string_value(f);
    *to = json_string_value(t);
    const json_t *ae = json_object_get(body, "auto_enrich");
    if (ae != NULL && !json_is_null(ae)) {
        if (!json_is_boolean(ae))
            return si_error_set(err, 400, "invalid_field", "auto_enrich must be true or false");
        *auto_enrich = json_is_true(ae);
    }
    const json_t *bs = json_object_get(body, "batch_size");
    if (bs != NULL && !json_is_null(bs)) {
        if (!json_is_integer(bs) || json_integer_value(bs) < 1 || json_integer_value(bs) > 1000)
            return si_error_set(err, 400, "invalid_field", "batch_size must be an integer from 1 to 1000");
        *batch_size = (int)json_integer_value(bs);
    }
    const json_t *ids = json_object_get(body, "account_ids");
    if (ids != NULL && !json_is_null(ids)) {
        if (!json_is_array(ids) || json_array_size(ids) > IMPORT_MAX_ACCOUNTS)
            return si_error_set(err, 400, "invalid_field", "account_ids must be an array of at most %d ids",
                                IMPORT_MAX_ACCOUNTS);
        for (size_t i = 0; i < json_array_size(ids); i++) {
            const json_t *a = json_array_get(ids, i);
            if (!json_is_string(a) || json_string_length(a) == 0 || json_string_length(a) > IMPORT_ACCOUNT_ID_MAX ||
                strlen(json_string_value(a)) != json_string_length(a))
                return si_error_set(err, 400, "invalid_field", "account_ids[%zu] must be a string of 1..%d bytes", i,
                                    IMPORT_ACCOUNT_ID_MAX);
            for (size_t j = 0; j < i; j++)
                if (strcmp(json_string_value(a), json_string_value(json_array_get(ids, j))) == 0)
                    return si_error_set(err, 400, "invalid_field", "account_ids[%zu] is named twice", i);
        }
    }
    return 0;
}

/* The caller's measured milliseconds per API call (its last 50 account syncs), or the default. */
static int measured_ms_per_call(struct si_db *db, const char *user, int default_ms, double *out, struct si_error *err)
{
    const char *p[] = { user };
    PGresult *res = si_db_exec(db,
        "SELECT sum(api_ms)::float8 / nullif(sum(api_calls), 0) FROM (SELECT api_ms, api_calls "
        "FROM truelayer_import_progress WHERE user_id = $1 AND api_calls > 0 ORDER BY updated_at DESC LIMIT 50) m",
        1, p, err);
    if (res == NULL)
        return -1;
    *out = default_ms;
    if (!PQgetisnull(res, 0, 0)) {
        double v = strtod(PQgetvalue(res, 0, 0), NULL);
        if (v > 0)
            *out = v;
    }
    PQclear(res);
    return 0;
}

static int write_plan(struct si_db *db, const char *user, const char *conn, const char *from, const char *to,
                      bool auto_enrich, int batch_size, const struct bank_estimate *est,
                      const struct plan_account *acc, int n, char job_id[SI_UUID_LEN + 1], struct si_error *err)
{
    char n_s[16], tx_s[24], dur_s[16], calls_s[16], cost_s[24], bs_s[16];
    snprintf(n_s, sizeof n_s, "%d", n);
    snprintf(tx_s, sizeof tx_s, "%lld", est->transactions);
    snprintf(dur_s, sizeof dur_s, "%d", est->duration_seconds);
    snprintf(calls_s, sizeof calls_s, "%d", est->api_calls);
    snprintf(cost_s, sizeof cost_s, "%lld", est->cost_micros);
    snprintf(bs_s, sizeof bs_s, "%d", batch_size);
    if (si_db_begin(db, err) != 0)
        return -1;
    const char *p[] = { user, conn, from, to, auto_enrich ? "true" : "false", bs_s, n_s, tx_s, dur_s, calls_s, cost_s };
    PGresult *res = si_db_exec(db,
        "INSERT INTO truelayer_import_jobs (user_id, connection_id, from_date, to_date, auto_enrich, batch_size, "
        "  estimated_accounts, estimated_transactions, estimated_duration_seconds, estimated_api_calls, "
        "  estimated_cost_micros) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        11, p, err);
    if (res == NULL)
        goto fail;
    snprintf(job_id, SI_UUID_LEN + 1, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    for (int i = 0; i < n; i++) {
        char idx[16], etx[24];
        snprintf(idx, sizeof idx, "%d", i);
        snprintf(etx, sizeof etx, "%lld", acc[i].estimated_tx);
        const char *q[] = { job_id, user, idx, acc[i].account_id, etx };
        if (si_db_command(db,
                "INSERT INTO truelayer_import_progress (job_id, user_id, account_index, account_id, "
                "estimated_transactions) VALUES ($1, $2, $3, $4, $5)", 5, q, err) != 0)
            goto fail;
    }
    if (si_db_commit(db, err) != 0)
        goto fail;
    return 0;
fail:
    si_db_rollback(db);
    return -1;
}

int import_plan(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    const struct bank_jobs_settings *s = &((const struct import_config *)ctx->fn_config)->s;
    json_t *body = NULL, *out = NULL, *accounts = NULL;
    PGresult *conn_res = NULL, *acc_res = NULL;
    struct plan_account *acc = NULL;
    double *tpd = NULL;
    struct si_error err;
    si_error_clear(&err);
    int rc = -1;
    char user[SI_UUID_LEN + 1] = "", conn[SI_UUID_LEN + 1] = "", job_id[SI_UUID_LEN + 1] = "";
    const char *from = NULL, *to = NULL;
    bool auto_enrich = false;
    int batch_size = 50;
    long from_d = 0, to_d = 0;

    if (si_json_read_body(req, ctx->scratch, &body, &err) != 0 ||
        si_auth_identify(ctx->config, req, body, (long long)time(NULL), user, &err) != 0 ||
        read_request(body, conn, &from, &to, &auto_enrich, &batch_size, &err) != 0 ||
        bank_range_check(from, to, &from_d, &to_d, &err) != 0)
        goto fail;

    const char *p[] = { conn, user };
    conn_res = si_db_exec(ctx->db, "SELECT state FROM truelayer_connections WHERE id = $1 AND user_id = $2", 2, p, &err);
    if (conn_res == NULL)
        goto fail;
    if (PQntuples(conn_res) != 1) {
        si_error_set(&err, 404, "not_found", "no such connection");
        goto fail;
    }
    if (strcmp(PQgetvalue(conn_res, 0, 0), "active") != 0) {
        si_error_set(&err, 409, "reauth_required", "the bank asks for consent again: reconnect this connection");
        goto fail;
    }
    acc_res = si_db_exec(ctx->db,
        "SELECT account_id, display_name, account_type, currency, "
        SI_SQL_UTC_S("last_synced_at") ", observed_tx_per_day::float8 "
        "FROM truelayer_accounts WHERE connection_id = $1 AND user_id = $2 ORDER BY account_id", 2, p, &err);
    if (acc_res == NULL)
        goto fail;
    int n_rows = PQntuples(acc_res);
    const json_t *ids = json_object_get(body, "account_ids");
    int n = ids != NULL && json_array_size(ids) > 0 ? (int)json_array_size(ids) : n_rows;
    if (n == 0) {
        si_error_set(&err, 400, "no_accounts", "this connection has no accounts to import");
        goto fail;
    }
    if (n > IMPORT_MAX_ACCOUNTS) {
        si_error_set(&err, 400, "too_many_accounts", "one import takes at most %d accounts", IMPORT_MAX_ACCOUNTS);
        goto fail;
    }
    acc = calloc((size_t)n, sizeof *acc);
    tpd = calloc((size_t)n, sizeof *tpd);
    if (acc == NULL || tpd == NULL)
        goto oom;
    for (int i = 0; i < n; i++) {
        int row = i;
        if (ids != NULL && json_array_size(ids) > 0) {
            const char *want = json_string_value(json_array_get(ids, (size_t)i));
            for (row = 0; row < n_rows && strcmp(PQgetvalue(acc_res, row, 0), want) != 0; row++)
                ;
            if (row == n_rows) {
                si_error_set(&err, 400, "unknown_account", "account_ids[%d] is not an account of this connection", i);
                goto fail;
            }
        }
        acc[i].row = row;
        acc[i].account_id = PQgetvalue(acc_res, row, 0);
        acc[i].tx_per_day = PQgetisnull(acc_res, row, 5) ? s->default_tx_per_year / 365.0
                                                         : strtod(PQgetvalue(acc_res, row, 5), NULL);
        tpd[i] = acc[i].tx_per_day;
        acc[i].estimated_tx = bank_estimate_account_tx(acc[i].tx_per_day, to_d - from_d + 1);
    }
    double ms_per_call = 0;
    if (measured_ms_per_call(ctx->db, user, s->default_call_ms, &ms_per_call, &err) != 0)
        goto fail;
    struct bank_estimate est;
    const struct bank_estimate_in in = {
        .accounts = n, .tx_per_day = tpd, .days = to_d - from_d + 1, .window_days = s->window_days,
        .parallel = s->sync_parallel, .ms_per_call = ms_per_call, .price_micros_per_call = s->price_micros_per_call,
    };
    bank_estimate_plan(&in, &est);
    if (write_plan(ctx->db, user, conn, from, to, auto_enrich, batch_size, &est, acc, n, job_id, &err) != 0)
        goto fail;

    accounts = json_array();
    if (accounts == NULL)
        goto oom;
    for (int i = 0; i < n; i++) {
        int r = acc[i].row;
        json_t *a = json_pack("{s:s, s:s, s:s, s:s, s:o, s:I}", "account_id", acc[i].account_id,
                              "display_name", PQgetvalue(acc_res, r, 1), "account_type", PQgetvalue(acc_res, r, 2),
                              "currency", PQgetvalue(acc_res, r, 3),
                              "last_synced_at", PQgetisnull(acc_res, r, 4) ? json_null()
                                                                            : json_string(PQgetvalue(acc_res, r, 4)),
                              "estimated_transactions", (json_int_t)acc[i].estimated_tx);
        if (a == NULL || json_array_append_new(accounts, a) != 0)
            goto oom;
    }
    out = json_pack("{s:b, s:s, s:s, s:s, s:i, s:I, s:i, s:f, s:I, s:i, s:{s:s, s:s, s:I}, s:O, s:b, s:i}",
                    "ok", 1, "job_id", job_id, "connection_id", conn, "status", "planned",
                    "estimated_accounts", n, "estimated_transactions", (json_int_t)est.transactions,
                    "estimated_duration_seconds", est.duration_seconds,
                    "estimated_cost", (double)est.cost_micros / 1e6,
                    "estimated_cost_micros", (json_int_t)est.cost_micros, "estimated_api_calls", est.api_calls,
                    "date_range", "from_date", from, "to_date", to, "days", (json_int_t)(to_d - from_d + 1),
                    "accounts", accounts, "auto_enrich", auto_enrich, "batch_size", batch_size);
    if (out == NULL)
        goto oom;
    rc = si_response_json(resp, 200, out);
    goto out;
oom:
    si_error_set(&err, 500, "internal", "out of memory");
fail:
    rc = si_response_from_error(resp, &err);
out:
    free(acc);
    free(tpd);
    json_decref(out);
    json_decref(accounts);
    json_decref(body);
    PQclear(conn_res);
    PQclear(acc_res);
    return rc;
}
