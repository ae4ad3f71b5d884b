/* import_status.c: GET /api/truelayer/import/status/{job_id} and GET .../history?limit=,
 * and the completed shape that start answers with "wait": true.  All read
 * v_import_job_status and truelayer_import_progress, filtered by the caller.
 *
 * status: {job_id, status, progress {completed_accounts, total_accounts, percent},
 *          accounts [{account_id, status, synced, duplicates, errors, pending_replaced,
 *                     error, rate_limited_until}], estimated_completion, total_so_far
 *          {synced, duplicates, errors}, error, date_range, enrichment}
 * An account's status is pending|syncing|completed|failed; rate_limited_until is set while
 * it waits out a 429's Retry-After.  estimated_completion is the start plus the plan's
 * duration while the job runs, its end once it ended, null before it starts. */
#include "truelayer_import.h"
#include "si_auth.h"
#include "si_clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static json_t *text_or_null(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? json_null() : json_string(PQgetvalue(res, row, col));
}

static json_t *int_of(const PGresult *res, int row, int col)
{
    long long v = 0;
    if (PQgetisnull(res, row, col) || si_db_get_int64(res, row, col, &v) != 0)
        return json_null();
    return json_integer((json_int_t)v);
}

/* The job's progress rows as the answer's accounts; NULL when out of memory. */
static json_t *accounts_json(const PGresult *res)
{
    json_t *a = json_array();
    for (int r = 0; a != NULL && r < PQntuples(res); r++) {
        json_t *o = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "account_id", PQgetvalue(res, r, 0),
                              "status", PQgetvalue(res, r, 1), "synced", int_of(res, r, 2),
                              "duplicates", int_of(res, r, 3), "errors", int_of(res, r, 4),
                              "pending_replaced", int_of(res, r, 5), "error", text_or_null(res, r, 6),
                              "rate_limited_until", text_or_null(res, r, 7), "api_calls", int_of(res, r, 8));
        if (o == NULL || json_array_append_new(a, o) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static PGresult *progress_rows(struct si_db *db, const char *user, const char *job_id, struct si_error *err)
{
    const char *p[] = { job_id, user };
    return si_db_exec(db,
        "SELECT account_id, status, synced, duplicates, errors, pending_replaced, error_code, "
        "  CASE WHEN rate_limited_until > now() THEN " SI_SQL_UTC_MS("rate_limited_until") " END, api_calls "
        "FROM truelayer_import_progress WHERE job_id = $1 AND user_id = $2 ORDER BY account_index", 2, p, err);
}

/* 0 with the job's row (the caller PQclear's *out), or -1 (404 for another user's job). */
static int job_row(struct si_db *db, const char *user, const char *job_id, PGresult **out, struct si_error *err)
{
    const char *p[] = { job_id, user };
    PGresult *res = si_db_exec(db,
        "SELECT status, total_accounts, completed_accounts, synced, duplicates, errors, error_code, "
        "  to_char(from_date, 'YYYY-MM-DD'), to_char(to_date, 'YYYY-MM-DD'), "
        "  CASE WHEN completed_at IS NOT NULL THEN " SI_SQL_UTC_S("completed_at") " "
        "       WHEN started_at IS NOT NULL THEN "
        SI_SQL_UTC_S("started_at + estimated_duration_seconds * interval '1 second'") " END, "
        "  (SELECT status FROM truelayer_enrichment_jobs e WHERE e.import_job_id = v.job_id AND e.user_id = $2), "
        "  (SELECT categorized FROM truelayer_enrichment_jobs e WHERE e.import_job_id = v.job_id AND e.user_id = $2), "
        "  auto_enrich "
        "FROM v_import_job_status v WHERE job_id = $1 AND user_id = $2", 2, p, err);
    if (res == NULL)
        return -1;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return si_error_set(err, 404, "not_found", "no such import job");
    }
    *out = res;
    return 0;
}

int import_status_json(struct si_db *db, const char *user, const char *job_id, json_t **out, char *out_status,
                       size_t status_len, struct si_error *err)
{
    PGresult *job = NULL, *prog = NULL;
    json_t *accounts = NULL, *enrich = NULL;
    int rc = -1;
    if (job_row(db, user, job_id, &job, err) != 0)
        goto out;
    if ((prog = progress_rows(db, user, job_id, err)) == NULL)
        goto out;
    long long total = 0, done = 0;
    if (si_db_get_int64(job, 0, 1, &total) != 0 || si_db_get_int64(job, 0, 2, &done) != 0) {
        si_db_bad_value(err, "truelayer_import_jobs");
        goto out;
    }
    accounts = accounts_json(prog);
    enrich = PQgetisnull(job, 0, 10) ? json_null()
                                     : json_pack("{s:s, s:o}", "status", PQgetvalue(job, 0, 10),
                                                 "categorized", int_of(job, 0, 11));
    if (accounts == NULL || enrich == NULL)
        goto oom;
    *out = json_pack("{s:b, s:s, s:s, s:{s:I, s:I, s:I}, s:O, s:o, s:{s:o, s:o, s:o}, s:o, s:{s:s, s:s}, s:O, s:b}",
                     "ok", 1, "job_id", job_id, "status", PQgetvalue(job, 0, 0),
                     "progress", "completed_accounts", (json_int_t)done, "total_accounts", (json_int_t)total,
                     "percent", (json_int_t)(total > 0 ? done * 100 / total : 0),
                     "accounts", accounts, "estimated_completion", text_or_null(job, 0, 9),
                     "total_so_far", "synced", int_of(job, 0, 3), "duplicates", int_of(job, 0, 4),
                     "errors", int_of(job, 0, 5),
                     "error", text_or_null(job, 0, 6),
                     "date_range", "from_date", PQgetvalue(job, 0, 7), "to_date", PQgetvalue(job, 0, 8),
                     "enrichment", enrich, "auto_enrich", strcmp(PQgetvalue(job, 0, 12), "t") == 0);
    if (*out == NULL)
        goto oom;
    if (out_status != NULL)
        snprintf(out_status, status_len, "%s", PQgetvalue(job, 0, 0));
    rc = 0;
    goto out;
oom:
    si_error_set(err, 500, "internal", "out of memory");
out:
    json_decref(accounts);
    json_decref(enrich);
    PQclear(job);
    PQclear(prog);
    return rc;
}

int import_result_json(struct si_db *db, const char *user, const char *job_id, json_t **out, struct si_error *err)
{
    PGresult *job = NULL, *prog = NULL;
    json_t *results = NULL;
    int rc = -1;
    if (job_row(db, user, job_id, &job, err) != 0)
        goto out;
    if ((prog = progress_rows(db, user, job_id, err)) == NULL)
        goto out;
    if ((results = accounts_json(prog)) == NULL)
        goto oom;
    *out = json_pack("{s:b, s:s, s:s, s:{s:o, s:o, s:o}, s:O, s:o}", "ok", 1, "job_id", job_id,
                     "status", PQgetvalue(job, 0, 0),
                     "summary", "total_synced", int_of(job, 0, 3), "total_duplicates", int_of(job, 0, 4),
                     "total_errors", int_of(job, 0, 5),
                     "results", results, "error", text_or_null(job, 0, 6));
    if (*out == NULL)
        goto oom;
    rc = 0;
    goto out;
oom:
    si_error_set(err, 500, "internal", "out of memory");
out:
    json_decref(results);
    PQclear(job);
    PQclear(prog);
    return rc;
}

int import_status(struct si_ctx *ctx, struct si_request *req, struct si_response *resp, const char *job_id)
{
    char user[SI_UUID_LEN + 1] = "", id[SI_UUID_LEN + 1] = "";
    json_t *out = NULL;
    struct si_error err;
    si_error_clear(&err);
    int rc = -1;
    if (si_auth_identify(ctx->config, req, NULL, (long long)time(NULL), user, &err) != 0)
        goto fail;
    if (si_uuid_normalize(job_id, id) != 0) {
        si_error_set(&err, 400, "invalid_id", "a job id is a UUID");
        goto fail;
    }
    if (import_status_json(ctx->db, user, id, &out, NULL, 0, &err) != 0)
        goto fail;
    rc = si_response_json(resp, 200, out);
    goto out;
fail:
    rc = si_response_from_error(resp, &err);
out:
    json_decref(out);
    return rc;
}

int import_history(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    char user[SI_UUID_LEN + 1] = "", limit_s[8] = "50";
    json_t *out = NULL, *imports = NULL;
    PGresult *res = NULL;
    struct si_error err;
    si_error_clear(&err);
    int rc = -1;
    if (si_auth_identify(ctx->config, req, NULL, (long long)time(NULL), user, &err) != 0)
        goto fail;
    const char *l = si_request_param(req, "limit");
    if (l != NULL) {
        size_t n = strspn(l, "0123456789");
        long v = n > 0 && n <= 3 && l[n] == '\0' ? strtol(l, NULL, 10) : 0;
        if (v < 1 || v > IMPORT_HISTORY_MAX) {
            si_error_set(&err, 400, "invalid_limit", "limit must be an integer from 1 to %d", IMPORT_HISTORY_MAX);
            goto fail;
        }
        snprintf(limit_s, sizeof limit_s, "%ld", v);
    }
    const char *p[] = { user, limit_s };
    /* History: the read connection (a standby when one is configured: modules/bank/README.md). */
    res = si_db_exec(ctx->read_db,
        "SELECT job_id, job_type, status, to_char(from_date, 'YYYY-MM-DD'), to_char(to_date, 'YYYY-MM-DD'), "
        "  succeeded_accounts, total_accounts, synced, duplicates, errors, error_code, auto_enrich, "
        "  " SI_SQL_UTC_S("created_at") ", " SI_SQL_UTC_S("started_at") ", " SI_SQL_UTC_S("completed_at") ", "
        "  connection_id "
        "FROM v_import_job_status WHERE user_id = $1 ORDER BY created_at DESC, job_id LIMIT $2::int", 2, p, &err);
    if (res == NULL)
        goto fail;
    if ((imports = json_array()) == NULL)
        goto oom;
    for (int r = 0; r < PQntuples(res); r++) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:o, s:o, s:o}",
                              "job_id", PQgetvalue(res, r, 0), "connection_id", PQgetvalue(res, r, 15),
                              "job_type", PQgetvalue(res, r, 1), "status", PQgetvalue(res, r, 2),
                              "date_range", "from_date", PQgetvalue(res, r, 3), "to_date", PQgetvalue(res, r, 4),
                              "accounts_synced", int_of(res, r, 5), "total_accounts", int_of(res, r, 6),
                              "transactions_imported", int_of(res, r, 7), "duplicates", int_of(res, r, 8),
                              "errors", int_of(res, r, 9), "error", text_or_null(res, r, 10),
                              "auto_enrich", strcmp(PQgetvalue(res, r, 11), "t") == 0,
                              "created_at", text_or_null(res, r, 12), "started_at", text_or_null(res, r, 13),
                              "completed_at", text_or_null(res, r, 14));
        if (o == NULL || json_array_append_new(imports, o) != 0)
            goto oom;
    }
    out = json_pack("{s:b, s:s, s:O}", "ok", 1, "user_id", user, "imports", imports);
    if (out == NULL)
        goto oom;
    rc = si_response_json(resp, 200, out);
    goto out;
oom:
    si_error_set(&err, 500, "internal", "out of memory");
fail:
    rc = si_response_from_error(resp, &err);
out:
    json_decref(out);
    json_decref(imports);
    PQclear(res);
    return rc;
}
