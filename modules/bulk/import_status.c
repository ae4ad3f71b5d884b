/* import_status.c: GET /api/import/status/{batch_id}, GET /api/import/list/{merchant_id},
 * POST /api/import/retry/{batch_id}.
 *
 * Each identifies the caller first and reaches a batch only through merchant_admins, so
 * another merchant's batch, a batch of a merchant the caller does not administer and an
 * unknown id are one and the same 404 not_found.  A retry puts a failed batch back to
 * pending and enqueues a new bulk.import job (job_key "<batch>:retry:<n>") in the merchant's
 * lane, in one transaction under the batch's row lock; the job re-runs the checks on the
 * staged rows that were kept, so the file is not sent again. */
#include "bulk_import.h"
#include "bulk.h"
#include "bulk_tasks.h"
#include "jobs.h"
#include "si_auth.h"
#include "si_clock.h"
#include "si_json.h"
#include "si_log.h"

#include <string.h>
#include <time.h>

/* The caller; POST bodies (optional, JSON) carry userId in trust-body mode. */
static int identify(struct si_ctx *ctx, struct si_request *req, char user[SI_UUID_LEN + 1], struct si_error *err)
{
    json_t *body = NULL;
    if (strcmp(req->method, "POST") == 0 && req->content_length > 0 &&
        si_json_read_body(req, ctx->scratch, &body, err) != 0)
        return -1;
    int rc = si_auth_identify(ctx->config, req, body, (long long)time(NULL), user, err);
    json_decref(body);
    return rc;
}

static int path_id(const char *s, char out[SI_UUID_LEN + 1], const char *what, struct si_error *err)
{
    if (si_uuid_normalize(s, out) != 0)
        return si_error_set(err, 404, "not_found", "no such %s", what);
    return 0;
}

int import_status(struct si_ctx *ctx, struct si_request *req, struct si_response *resp, const char *id)
{
    char user[SI_UUID_LEN + 1], batch[SI_UUID_LEN + 1];
    struct si_error err;
    si_error_clear(&err);
    json_t *out = NULL;
    if (identify(ctx, req, user, &err) != 0 || path_id(id, batch, "batch", &err) != 0)
        return si_response_from_error(resp, &err);
    int found = bulk_batch_json(ctx->db, batch, user, &out, &err);
    if (found <= 0) {
        if (found == 0)
            si_error_set(&err, 404, "not_found", "no such batch");
        return si_response_from_error(resp, &err);
    }
    int rc = si_response_json(resp, 200, out);
    json_decref(out);
    return rc;
}

int import_list(struct si_ctx *ctx, struct si_request *req, struct si_response *resp, const char *merchant_text)
{
    char user[SI_UUID_LEN + 1], merchant[SI_UUID_LEN + 1];
    struct si_error err;
    si_error_clear(&err);
    if (identify(ctx, req, user, &err) != 0 || path_id(merchant_text, merchant, "merchant", &err) != 0)
        return si_response_from_error(resp, &err);
    int admin = bulk_is_admin(ctx->db, merchant, user, &err);
    if (admin <= 0) {
        if (admin == 0)
            si_error_set(&err, 404, "not_found", "no such merchant");
        return si_response_from_error(resp, &err);
    }
    const char *p[] = { merchant };
    PGresult *res = si_db_exec(ctx->db,
        "SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, 'batch_name', batch_name, 'status', status, "
        "  'imported_purchases', imported_purchases, 'imported_items', imported_items, 'rows_total', rows_total, "
        "  'problems_total', problems_total, 'error_message', error_message, 'retries', retries, "
        "  'created_at', " SI_SQL_UTC_MS("created_at") ", 'started_at', " SI_SQL_UTC_MS("started_at") ", "
        "  'completed_at', " SI_SQL_UTC_MS("completed_at") ") ORDER BY created_at DESC, id), '[]')::text "
        "FROM (SELECT * FROM bulk_import_batches WHERE merchant_id = $1 ORDER BY created_at DESC, id LIMIT 50) b",
        1, p, &err);
    if (res == NULL)
        return si_response_from_error(resp, &err);
    json_t *batches = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    PQclear(res);
    json_t *out = batches ? json_pack("{s:b, s:s, s:o}", "success", 1, "merchant_id", merchant, "batches", batches) : NULL;
    if (out == NULL)
        return si_response_error(resp, 500, "internal", "out of memory");
    int rc = si_response_json(resp, 200, out);
    json_decref(out);
    return rc;
}

int import_retry(struct si_ctx *ctx, struct si_request *req, struct si_response *resp, const char *id)
{
    char user[SI_UUID_LEN + 1], batch[SI_UUID_LEN + 1], merchant[SI_UUID_LEN + 1];
    struct si_error err;
    si_error_clear(&err);
    PGresult *res = NULL;
    if (identify(ctx, req, user, &err) != 0 || path_id(id, batch, "batch", &err) != 0)
        return si_response_from_error(resp, &err);
    if (si_db_begin(ctx->db, &err) != 0)
        return si_response_from_error(resp, &err);
    const char *p[] = { batch, user };
    res = si_db_exec(ctx->db, "SELECT b.merchant_id, b.status, coalesce(b.error_code, ''), b.retries + 1 "
                              "FROM bulk_import_batches b JOIN merchant_admins a ON a.merchant_id = b.merchant_id "
                              "AND a.user_id = $2 WHERE b.id = $1 FOR UPDATE OF b", 2, p, &err);
    if (res == NULL)
        goto fail;
    if (PQntuples(res) == 0) {
        si_error_set(&err, 404, "not_found", "no such batch");
        goto fail;
    }
    snprintf(merchant, sizeof merchant, "%s", PQgetvalue(res, 0, 0));
    if (strcmp(PQgetvalue(res, 0, 1), "failed") != 0) {
        si_error_set(&err, 409, "not_failed", "only a failed batch can be retried; this one is %s", PQgetvalue(res, 0, 1));
        goto fail;
    }
    if (strcmp(PQgetvalue(res, 0, 2), "staging_lost") == 0) {
        si_error_set(&err, 409, "staging_lost", "the staged rows of this batch were lost: upload the file again");
        goto fail;
    }
    int retry = 0;
    if (si_db_get_int(res, 0, 3, &retry) != 0) {
        si_db_bad_value(&err, "bulk_import_batches.retries");
        goto fail;
    }
    PQclear(res);
    res = NULL;
    long long job = 0;
    if (bulk_enqueue(ctx->db, batch, merchant, user, retry, &job, &err) != 0)
        goto fail;
    char job_text[24], retry_text[16];
    snprintf(job_text, sizeof job_text, "%lld", job);
    snprintf(retry_text, sizeof retry_text, "%d", retry);
    const char *u[] = { batch, job_text, retry_text };
    if (si_db_command(ctx->db, "UPDATE bulk_import_batches SET status = 'pending', job_id = $2, retries = $3, "
                               "error_code = NULL, error_message = NULL, errors = NULL, problems_total = 0, "
                               "rows_validated = 0, rows_inserted = 0, started_at = NULL, completed_at = NULL, "
                               "updated_at = now() WHERE id = $1", 3, u, &err) != 0 ||
        si_db_commit(ctx->db, &err) != 0)
        goto fail;
    struct si_error werr;
    si_error_clear(&werr);
    if (jobs_wake(ctx->db, &werr) != 0)
        si_log(SI_LOG_WARN, "could not wake the workers (their poll will find the job)", NULL);
    json_t *out = json_pack("{s:b, s:s, s:s, s:i, s:s}", "success", 1, "batch_id", batch, "status", "pending",
                            "retries", retry, "message", "Retry started. Check the status endpoint for progress.");
    if (out == NULL)
        return si_response_error(resp, 500, "internal", "out of memory");
    int rc = si_response_json(resp, 202, out);
    json_decref(out);
    return rc;
fail:
    PQclear(res);
    si_db_rollback(ctx->db);
    return si_response_from_error(resp, &err);
}
