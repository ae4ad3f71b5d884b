/* import_start.c: POST /api/truelayer/import/start {job_id, wait?}
 *   -> 202 {job_id, status:"running"}
 *   with "wait": true, once every account ended (at most BANK_IMPORT_WAIT_MS): 200 the seed's
 *   completed shape {job_id, status, summary {total_synced, total_duplicates, total_errors},
 *   results [...]}, or 409 reauth_required when the bank asked for consent again; still
 *   running after the wait: 202 as without it.
 *
 * One transaction, under the job's row lock: the job becomes running, one bank.sync_account
 * job of the engine per account is enqueued (job_key "<job_id>:<account_index>", so a start
 * sent twice enqueues nothing twice), and the bank:sync:start event is written; then the
 * workers are woken.  A job that already started is answered as it is, unchanged.  A job
 * whose connection waits for consent ends at once: failed, reauth_required, 409. */
#include "truelayer_import.h"
#include "jobs.h"
#include "si_auth.h"
#include "si_clock.h"
#include "si_event.h"
#include "si_json.h"
#include "si_log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WAIT_POLL_MS 200

/* Starts a planned job; *out_status receives the job's status afterwards. */
static int start_job(struct si_db *db, const struct bank_jobs_settings *s, const char *user, const char *job_id,
                     char *out_status, size_t status_len, struct si_error *err)
{
    PGresult *res = NULL;
    if (si_db_begin(db, err) != 0)
        return -1;
    const char *p[] = { job_id, user };
    res = si_db_exec(db,
        "SELECT j.status, c.state, (SELECT count(*) FROM truelayer_import_progress g "
        "                           WHERE g.job_id = j.id AND g.user_id = j.user_id) "
        "FROM truelayer_import_jobs j JOIN truelayer_connections c ON c.id = j.connection_id AND c.user_id = j.user_id "
        "WHERE j.id = $1 AND j.user_id = $2 FOR UPDATE OF j", 2, p, err);
    if (res == NULL)
        goto fail;
    if (PQntuples(res) != 1) {
        si_error_set(err, 404, "not_found", "no such import job");
        goto fail;
    }
    snprintf(out_status, status_len, "%s", PQgetvalue(res, 0, 0));
    if (strcmp(out_status, "planned") != 0) {   /* started before: answered as it is */
        PQclear(res);
        si_db_rollback(db);
        return 0;
    }
    int n = 0;
    if (si_db_get_int(res, 0, 2, &n) != 0) {
        si_db_bad_value(err, "truelayer_import_progress count");
        goto fail;
    }
    if (strcmp(PQgetvalue(res, 0, 1), "active") != 0) {
        if (si_db_command(db, "UPDATE truelayer_import_jobs SET status = 'failed', error_code = 'reauth_required', "
                              "started_at = now(), completed_at = now(), updated_at = now() "
                              "WHERE id = $1 AND user_id = $2", 2, p, err) != 0 ||
            si_db_command(db, "UPDATE truelayer_import_progress SET status = 'failed', error_code = 'reauth_required', "
                              "completed_at = now(), updated_at = now() WHERE job_id = $1 AND user_id = $2",
                          2, p, err) != 0 ||
            si_db_commit(db, err) != 0)
            goto fail;
        PQclear(res);
        si_error_set(err, 409, "reauth_required", "the bank asks for consent again: reconnect this connection");
        struct si_error eerr;
        si_error_clear(&eerr);
        if (si_event_record_error(db, user, NULL, "bank:sync:error", err, json_pack("{s:s}", "jobId", job_id), &eerr) != 0)
            si_log(SI_LOG_WARN, "could not record a bank:sync:error event", json_pack("{s:s}", "code", eerr.code));
        return -1;
    }
    if (si_db_command(db, "UPDATE truelayer_import_jobs SET status = 'running', started_at = now(), updated_at = now() "
                          "WHERE id = $1 AND user_id = $2", 2, p, err) != 0)
        goto fail;
    for (int i = 0; i < n; i++) {
        char key[JOBS_KEY_MAX];
        snprintf(key, sizeof key, "%s:%d", job_id, i);
        json_t *payload = json_pack("{s:s, s:i}", "import_job_id", job_id, "account_index", i);
        struct jobs_enqueued q;
        const struct jobs_new job = {
            .task = "bank.sync_account", .payload = payload, .user_id = user, .job_key = key,
            .key_mode = JOBS_KEY_KEEP, .max_attempts = s->max_attempts,
        };
        int e = payload == NULL ? si_error_set(err, 500, "internal", "out of memory") : jobs_enqueue(db, &job, &q, err);
        json_decref(payload);
        if (e != 0)
            goto fail;
    }
    if (si_event_record(db, user, NULL, "bank:sync:start", json_pack("{s:s, s:i}", "jobId", job_id, "accounts", n),
                        NULL, err) != 0 ||
        si_db_commit(db, err) != 0)
        goto fail;
    PQclear(res);
    snprintf(out_status, status_len, "running");
    struct si_error werr;
    si_error_clear(&werr);
    if (jobs_wake(db, &werr) != 0)
        si_log(SI_LOG_WARN, "could not wake the workers (their poll will find the jobs)",
               json_pack("{s:s}", "code", werr.code ? werr.code : "internal"));
    return 0;
fail:
    PQclear(res);
    si_db_rollback(db);
    return -1;
}

/* Waits until the job ended or the wait is over; *out_status is its status then. */
static int wait_for_end(struct si_db *db, const char *user, const char *job_id, int wait_ms, char *out_status,
                        size_t status_len, struct si_error *err)
{
    long long until = si_now_ms() + wait_ms;
    const char *p[] = { job_id, user };
    for (;;) {
        PGresult *res = si_db_exec(db, "SELECT status FROM truelayer_import_jobs WHERE id = $1 AND user_id = $2",
                                   2, p, err);
        if (res == NULL)
            return -1;
        snprintf(out_status, status_len, "%s", PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "failed");
        PQclear(res);
        if (strcmp(out_status, "running") != 0 || si_now_ms() >= until)
            return 0;
        usleep(WAIT_POLL_MS * 1000);
    }
}

int import_start(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    const struct bank_jobs_settings *s = &((const struct import_config *)ctx->fn_config)->s;
    char user[SI_UUID_LEN + 1] = "", id[SI_UUID_LEN + 1] = "", status[16] = "";
    json_t *body = NULL, *out = NULL;
    struct si_error err;
    si_error_clear(&err);
    int rc = -1;
    if (si_json_read_body(req, ctx->scratch, &body, &err) != 0 ||
        si_auth_identify(ctx->config, req, body, (long long)time(NULL), user, &err) != 0)
        goto fail;
    const json_t *j = json_object_get(body, "job_id");
    if (j == NULL || json_is_null(j)) {
        si_error_set(&err, 400, "missing_field", "job_id is required");
        goto fail;
    }
    if (!json_is_string(j) || si_uuid_normalize(json_string_value(j), id) != 0) {
        si_error_set(&err, 400, "invalid_id", "job_id must be a UUID");
        goto fail;
    }
    const json_t *w = json_object_get(body, "wait");
    if (w != NULL && !json_is_null(w) && !json_is_boolean(w)) {
        si_error_set(&err, 400, "invalid_field", "wait must be true or false");
        goto fail;
    }
    if (start_job(ctx->db, s, user, id, status, sizeof status, &err) != 0)
        goto fail;
    if (json_is_true(w) && strcmp(status, "running") == 0 &&
        wait_for_end(ctx->db, user, id, s->wait_ms, status, sizeof status, &err) != 0)
        goto fail;
    if (!json_is_true(w) || strcmp(status, "running") == 0) {
        out = json_pack("{s:b, s:s, s:s}", "ok", 1, "job_id", id, "status", status);
        if (out == NULL)
            goto oom;
        rc = si_response_json(resp, 202, out);
        goto out;
    }
    if (import_result_json(ctx->db, user, id, &out, &err) != 0)
        goto fail;
    const char *code = json_string_value(json_object_get(out, "error"));
    if (code != NULL && strcmp(code, "reauth_required") == 0) {
        si_error_set(&err, 409, "reauth_required", "the bank asks for consent again: reconnect this connection");
        goto fail;
    }
    rc = si_response_json(resp, 200, out);
    goto out;
oom:
    si_error_set(&err, 500, "internal", "out of memory");
fail:
    rc = si_response_from_error(resp, &err);
out:
    json_decref(out);
    json_decref(body);
    return rc;
}
