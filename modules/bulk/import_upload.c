/* import_upload.c: POST /api/import/purchases
 *
 * who is the caller (the bearer token, before the body is read) -> at most
 * SMARTIMPORT_UPLOADS_PER_USER uploads of that user at once (else 429) -> the upload
 * (multipart `file` with fields merchant_id, batch_name, mapping; or the raw CSV as the body
 * with them as query parameters; modules/ingest/upload.c spools it to an unlinked temporary
 * file while hashing it) -> the caller must be an admin of the merchant (else 404) ->
 *   ?dry_run=true: one transaction that stages the file, runs the set-wise checks and is
 *     rolled back: 200 the report, nothing written;
 *   else the same file (SHA-256) already a batch of the merchant: 200 that batch
 *     (duplicate: true); else one transaction: the batch row (pending), the file staged by
 *     COPY, the bulk.import job in the merchant's lane -> commit -> 202 {success, batch_id}.
 * A file that cannot be read as a purchase CSV (empty, binary, no header columns, a broken
 * quote) is a 4xx JSON error and writes nothing; problems of single cells are found by the
 * job and fail the batch with every problem listed. */
#include "bulk_import.h"
#include "bulk.h"
#include "bulk_tasks.h"
#include "file_name.h"
#include "ingest_config.h"
#include "jobs.h"
#include "si_auth.h"
#include "si_log.h"
#include "upload.h"
#include "upload_slots.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct fields {
    char merchant[SI_UUID_LEN + 1];
    char currency[4];                 /* the merchant's, for rows without one */
    const char *batch_name;
    char file_name[FILE_NAME_MAX + 1];
    const json_t *mapping;
    json_t *mapping_owned;            /* parsed from the query string */
    bool dry_run;
};

/* A field from the form, else from the query string; NULL when absent. */
static const char *field(const struct upload *up, const struct si_request *req, const char *name)
{
    const char *v = json_string_value(json_object_get(up->fields, name));
    return v != NULL ? v : si_request_param(req, name);
}

static int read_fields(const struct upload *up, const struct si_request *req, struct fields *f, struct si_error *err)
{
    const char *m = field(up, req, "merchant_id");
    if (m == NULL || *m == '\0')
        return si_error_set(err, 400, "missing_field", "merchant_id is required");
    if (si_uuid_normalize(m, f->merchant) != 0)
        return si_error_set(err, 400, "invalid_id", "merchant_id must be a UUID");
    f->batch_name = field(up, req, "batch_name");
    if (f->batch_name == NULL)
        f->batch_name = "";
    if (strlen(f->batch_name) > BULK_NAME_MAX)
        return si_error_set(err, 400, "bad_field", "batch_name is longer than %d bytes", BULK_NAME_MAX);
    for (const unsigned char *p = (const unsigned char *)f->batch_name; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return si_error_set(err, 400, "bad_field", "batch_name holds a control character");
    const char *fname = field(up, req, "fileName");
    file_name_display(fname ? fname : "", fname ? strlen(fname) : 0, f->file_name);
    const char *dry = field(up, req, "dry_run");
    if (dry != NULL && strcasecmp(dry, "true") != 0 && strcmp(dry, "1") != 0 && strcasecmp(dry, "false") != 0 &&
        strcmp(dry, "0") != 0)
        return si_error_set(err, 400, "bad_field", "dry_run must be true or false");
    f->dry_run = dry != NULL && (strcasecmp(dry, "true") == 0 || strcmp(dry, "1") == 0);
    f->mapping = json_object_get(up->fields, "mapping");
    if (f->mapping == NULL && si_request_param(req, "mapping") != NULL) {
        const char *text = si_request_param(req, "mapping");
        if (strlen(text) > UPLOAD_MAPPING_MAX)
            return si_error_set(err, 400, "bad_mapping", "mapping is longer than %d bytes", UPLOAD_MAPPING_MAX);
        f->mapping_owned = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(f->mapping_owned))
            return si_error_set(err, 400, "bad_mapping", "mapping must be a JSON object");
        f->mapping = f->mapping_owned;
    }
    if (f->mapping != NULL && !json_is_object(f->mapping))
        return si_error_set(err, 400, "bad_mapping", "mapping must be a JSON object");
    return 0;
}

/* The merchant's currency if the caller is its admin: 1, 0 (not found / not theirs), -1. */
static int merchant_currency(struct si_db *db, const char *merchant, const char *user, char out[4], struct si_error *err)
{
    const char *p[] = { merchant, user };
    PGresult *res = si_db_exec(db, "SELECT m.currency FROM merchants m JOIN merchant_admins a ON a.merchant_id = m.id "
                                   "AND a.user_id = $2 WHERE m.id = $1", 2, p, err);
    if (res == NULL)
        return -1;
    int n = PQntuples(res);
    if (n > 0)
        snprintf(out, 4, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return n > 0 ? 1 : 0;
}

/* 200 the existing batch of the same file: 1 = answered, 0 = none, -1 = error. */
static int answer_existing(struct si_ctx *ctx, const char *merchant, const char *user, const char *sha,
                           struct si_response *resp, struct si_error *err)
{
    const char *p[] = { merchant, sha };
    PGresult *res = si_db_exec(ctx->db, "SELECT id FROM bulk_import_batches WHERE merchant_id = $1 AND file_sha256 = $2",
                               2, p, err);
    if (res == NULL)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    char id[SI_UUID_LEN + 1];
    snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    json_t *batch = NULL;
    int found = bulk_batch_json(ctx->db, id, user, &batch, err);
    if (found <= 0)
        return found < 0 ? -1 : si_error_set(err, 500, "internal", "the existing batch vanished");
    json_t *out = json_pack("{s:b, s:s, s:b, s:s, s:O}", "success", 1, "batch_id", id, "duplicate", 1, "message",
                            "this file was uploaded before: here is its batch", "batch", batch);
    json_decref(batch);
    if (out == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    si_response_json(resp, 200, out);
    json_decref(out);
    return 1;
}

static int dry_run(struct si_ctx *ctx, const struct fields *f, struct upload *up, struct si_response *resp,
                   struct si_error *err)
{
    struct bulk_stage_result st = { 0 };
    struct bulk_report r = { 0 };
    json_t *out = NULL;
    int rc = -1;
    char batch[SI_UUID_LEN + 1];
    if (si_db_begin(ctx->db, err) != 0)
        return -1;
    PGresult *res = si_db_exec(ctx->db, "SELECT gen_random_uuid()", 0, NULL, err);
    if (res == NULL)
        goto out;
    snprintf(batch, sizeof batch, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (bulk_stage_file(ctx->db, up->spool, batch, f->merchant, f->currency, f->mapping, &st, err) != 0 ||
        si_db_command(ctx->db, BULK_ANALYZE_STAGING, 0, NULL, err) != 0 ||
        si_db_command(ctx->db, BULK_SET_WORK_MEM, 0, NULL, err) != 0 ||
        bulk_validate(ctx->db, batch, f->merchant, &r, err) != 0)
        goto out;
    char msg[512];
    if (r.problems > 0)
        bulk_report_message(&r, msg, sizeof msg);
    else
        snprintf(msg, sizeof msg, "the file is valid: %lld purchases, %lld items would be imported", r.purchases, r.rows);
    out = json_pack("{s:b, s:b, s:b, s:s, s:I, s:I, s:I, s:I, s:O, s:O}", "success", 1, "dry_run", 1,
                    "valid", r.problems == 0, "message", msg, "rows_total", (json_int_t)r.rows,
                    "purchases", (json_int_t)r.purchases, "items", (json_int_t)r.rows,
                    "problems_total", (json_int_t)r.problems, "errors", r.errors, "columns", st.columns);
    if (out == NULL) {
        si_error_set(err, 500, "internal", "out of memory");
        goto out;
    }
    rc = si_response_json(resp, 200, out);
out:
    si_db_rollback(ctx->db);   /* a dry run writes nothing */
    json_decref(out);
    json_decref(st.columns);
    bulk_report_clear(&r);
    return rc;
}

/* One transaction: the batch, its staged rows, its job.  0 with batch_id; 1 when the same
 * file became a batch meanwhile (nothing written); -1 with err. */
static int create_batch(struct si_ctx *ctx, const char *user, const struct fields *f, struct upload *up,
                        char batch_id[SI_UUID_LEN + 1], struct si_error *err)
{
    struct bulk_stage_result st = { 0 };
    char *columns = NULL;
    int rc = -1;
    char bytes[24];
    snprintf(bytes, sizeof bytes, "%zu", up->size);
    if (si_db_begin(ctx->db, err) != 0)
        return -1;
    const char *p[] = { f->merchant, user, f->batch_name, up->sha256, f->file_name, bytes };
    PGresult *res = si_db_exec(ctx->db,
        "INSERT INTO bulk_import_batches (merchant_id, created_by, batch_name, file_sha256, file_name, file_bytes) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (merchant_id, file_sha256) WHERE file_sha256 IS NOT NULL "
        "DO NOTHING RETURNING id", 6, p, err);
    if (res == NULL)
        goto out;
    if (PQntuples(res) == 0) {
        PQclear(res);
        rc = 1;
        goto out;
    }
    snprintf(batch_id, SI_UUID_LEN + 1, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (bulk_stage_file(ctx->db, up->spool, batch_id, f->merchant, f->currency, f->mapping, &st, err) != 0)
        goto out;
    long long job = 0;
    if (bulk_enqueue(ctx->db, batch_id, f->merchant, user, 0, &job, err) != 0)
        goto out;
    columns = json_dumps(st.columns, JSON_COMPACT);
    char rows[24], job_text[24];
    snprintf(rows, sizeof rows, "%lld", st.rows);
    snprintf(job_text, sizeof job_text, "%lld", job);
    const char *u[] = { batch_id, rows, columns, job_text };
    if (columns == NULL) {
        si_error_set(err, 500, "internal", "out of memory");
        goto out;
    }
    if (si_db_command(ctx->db, "UPDATE bulk_import_batches SET rows_total = $2, columns = $3::jsonb, job_id = $4, "
                               "updated_at = now() WHERE id = $1", 4, u, err) != 0 ||
        si_db_commit(ctx->db, err) != 0)
        goto out;
    rc = 0;
out:
    if (rc != 0)
        si_db_rollback(ctx->db);
    free(columns);
    json_decref(st.columns);
    return rc;
}

int import_upload(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    struct ingest_config *ic = ctx->fn_config;
    struct upload up = { 0 };
    struct fields f = { 0 };
    struct si_error err;
    si_error_clear(&err);
    char user[SI_UUID_LEN + 1] = "", slot_user[SI_UUID_LEN + 1] = "";
    json_t *out = NULL;
    int rc = -1;
    long long now = (long long)time(NULL);
    if (ctx->config->auth_mode == SI_AUTH_JWT && si_auth_identify(ctx->config, req, NULL, now, user, &err) != 0)
        goto fail;
    if (user[0] != '\0') {
        if (!upload_slots_take(&ic->slots, user, ic->uploads_per_user)) {
            si_response_header(resp, "Retry-After", "5");
            si_error_set(&err, 429, "too_many_uploads", "at most %d uploads of one user at once", ic->uploads_per_user);
            goto fail;
        }
        memcpy(slot_user, user, sizeof slot_user);
    }
    if (upload_read(ctx, req, &up, &err) != 0)
        goto fail;
    if (si_auth_identify(ctx->config, req, up.fields, now, user, &err) != 0 || read_fields(&up, req, &f, &err) != 0)
        goto fail;
    if (up.size > (size_t)BULK_MAX_FILE_BYTES) {
        si_error_set(&err, 413, "payload_too_large", "the file is larger than %lld bytes", BULK_MAX_FILE_BYTES);
        goto fail;
    }
    int found = merchant_currency(ctx->db, f.merchant, user, f.currency, &err);
    if (found < 0)
        goto fail;
    if (found == 0) {
        si_error_set(&err, 404, "not_found", "no such merchant");
        goto fail;
    }
    if (up.size == 0) {
        si_error_set(&err, 422, "empty_file", "the file is empty: send a CSV with a header and one row per item");
        goto fail;
    }
    if (f.dry_run) {
        if (dry_run(ctx, &f, &up, resp, &err) != 0)
            goto fail;
        rc = 0;
        goto out;
    }
    int answered = answer_existing(ctx, f.merchant, user, up.sha256, resp, &err);
    if (answered < 0)
        goto fail;
    if (answered > 0) {
        rc = 0;
        goto out;
    }
    char batch[SI_UUID_LEN + 1] = "";
    int made = create_batch(ctx, user, &f, &up, batch, &err);
    if (made < 0)
        goto fail;
    if (made == 1) {   /* the same file, uploaded at the same moment, won the race */
        answered = answer_existing(ctx, f.merchant, user, up.sha256, resp, &err);
        if (answered <= 0) {
            if (answered == 0)
                si_error_set(&err, 409, "conflict", "the same file is being uploaded: try again");
            goto fail;
        }
        rc = 0;
        goto out;
    }
    struct si_error werr;
    si_error_clear(&werr);
    if (jobs_wake(ctx->db, &werr) != 0)
        si_log(SI_LOG_WARN, "could not wake the workers (their poll will find the job)", NULL);
    out = json_pack("{s:b, s:s, s:s, s:s}", "success", 1, "batch_id", batch, "status", "pending", "message",
                    "Import started. Check the status endpoint for progress.");
    if (out == NULL) {
        si_error_set(&err, 500, "internal", "out of memory");
        goto fail;
    }
    rc = si_response_json(resp, 202, out);
    goto out;
fail:
    rc = si_response_from_error(resp, &err);
out:
    if (slot_user[0] != '\0')
        upload_slots_give(&ic->slots, slot_user);
    json_decref(out);
    json_decref(f.mapping_owned);
    upload_cleanup(&up);
    return rc;
}
