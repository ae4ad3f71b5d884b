/* bulk_tasks.c: the task bulk.import of smartimport-worker (modules/jobs/tasks.c calls
 * bulk_register_tasks).
 *
 * A job per batch run (job_key = the batch id, or "<batch>:retry:<n>" for a retry), in the
 * serial lane of its merchant (queue = merchant id), so two imports of one merchant run one
 * after the other.  The run: the batch becomes processing -> the set-wise checks of its
 * staged rows (bulk_validate) -> any problem: the batch failed with them, nothing else
 * written -> else one durable transaction: every purchase and item, the batch completed,
 * its staged rows removed.  A job that finds its batch ended, or taken over by a newer job
 * (a retry), does nothing, so a job run twice (a worker killed mid-insert: its transaction
 * never committed) imports once.  A database failure is retried by the engine (backoff 1 s
 * doubling to 30 s); on the last attempt the batch is marked failed. */
#include "bulk_tasks.h"
#include "bulk.h"
#include "si_log.h"
#include "si_uuid.h"

#include <stdlib.h>
#include <string.h>

#define BULK_TASK_ATTEMPTS 5

/* Marks the batch failed (outside any transaction), only while `job_id` is in charge. */
static int fail_batch(struct si_db *db, const char *batch, const char *merchant, const char *job_id, const char *code,
                      const char *message, const struct bulk_report *r, bool forget_file, struct si_error *err)
{
    char *errors = r && r->errors ? json_dumps(r->errors, JSON_COMPACT) : NULL;
    char problems[24];
    snprintf(problems, sizeof problems, "%lld", r ? r->problems : 0);
    const char *p[] = { batch, merchant, job_id, code, message, errors, problems, forget_file ? "t" : "f" };
    int rc = si_db_command(db, "UPDATE bulk_import_batches SET status = 'failed', error_code = $4, error_message = $5, "
                               "errors = $6::jsonb, problems_total = $7::int, completed_at = now(), updated_at = now(), "
                               "file_sha256 = CASE WHEN $8::bool THEN NULL ELSE file_sha256 END "
                               "WHERE id = $1 AND merchant_id = $2 AND job_id = $3::bigint "
                               "AND status IN ('pending', 'processing')", 8, p, err);
    free(errors);
    return rc;
}

static int run_import(void *task_ctx, struct si_db *db, const struct jobs_job *job, json_t **out_state,
                      struct si_error *err)
{
    (void)task_ctx;
    (void)out_state;
    const char *batch = json_string_value(json_object_get(job->payload, "batch_id"));
    const char *merchant = json_string_value(json_object_get(job->payload, "merchant_id"));
    char job_id[24];
    snprintf(job_id, sizeof job_id, "%lld", job->id);
    if (batch == NULL || merchant == NULL || !si_uuid_valid(batch) || !si_uuid_valid(merchant))
        return si_error_set(err, 400, "bad_payload", "bulk.import needs batch_id and merchant_id");
    struct bulk_report r = { 0 };
    int rc = -1;
    const char *p[] = { batch, merchant, job_id };
    PGresult *res = si_db_exec(db, "UPDATE bulk_import_batches SET status = 'processing', started_at = now(), "
                                   "completed_at = NULL, updated_at = now() "
                                   "WHERE id = $1 AND merchant_id = $2 AND job_id = $3::bigint "
                                   "AND status IN ('pending', 'processing') RETURNING rows_total", 3, p, err);
    if (res == NULL)
        goto retry;
    long long rows_total = -1;
    if (PQntuples(res) == 0) {   /* ended, or a newer job is in charge */
        PQclear(res);
        return 0;
    }
    if (si_db_get_int64(res, 0, 0, &rows_total) != 0) {
        PQclear(res);
        si_db_bad_value(err, "bulk_import_batches.rows_total");
        goto retry;
    }
    PQclear(res);
    if (si_db_command(db, BULK_ANALYZE_STAGING, 0, NULL, err) != 0)
        goto retry;
    /* The checks read in a transaction of their own, only to give their sorts memory. */
    if (si_db_begin(db, err) != 0)
        goto retry;
    if (si_db_command(db, BULK_SET_WORK_MEM, 0, NULL, err) != 0 || bulk_validate(db, batch, merchant, &r, err) != 0 ||
        si_db_commit(db, err) != 0)
        goto rollback;
    if (r.rows != rows_total) {
        rc = fail_batch(db, batch, merchant, job_id, "staging_lost", "the staged rows of this batch were lost "
                        "(a database crash): upload the file again", NULL, true, err);
        goto out;
    }
    if (r.problems > 0) {
        char msg[512];
        bulk_report_message(&r, msg, sizeof msg);
        rc = fail_batch(db, batch, merchant, job_id, "validation_failed", msg, &r, false, err);
        goto out;
    }
    char purchases[24];
    snprintf(purchases, sizeof purchases, "%lld", r.purchases);
    const char *pv[] = { batch, merchant, job_id, purchases };
    if (si_db_command(db, "UPDATE bulk_import_batches SET rows_validated = rows_total, purchases_total = $4::int, "
                          "problems_total = 0, updated_at = now() "
                          "WHERE id = $1 AND merchant_id = $2 AND job_id = $3::bigint AND status = 'processing'",
                      4, pv, err) != 0)
        goto retry;
    long long np = 0, ni = 0;
    if (si_db_begin(db, err) != 0)
        goto retry;
    /* durable whatever the worker's connection says: the batch's purchases are its result */
    if (si_db_command(db, "SET LOCAL synchronous_commit = on", 0, NULL, err) != 0 ||
        si_db_command(db, BULK_SET_WORK_MEM, 0, NULL, err) != 0)
        goto rollback;
    int ins = bulk_insert(db, batch, merchant, job_id, &np, &ni, err);
    if (ins == 1) {   /* a newer job (a retry) is in charge */
        si_db_rollback(db);
        rc = 0;
        goto out;
    }
    if (ins != 0) {
        si_db_rollback(db);
        if (err->status == 409) {
            struct si_error ferr;
            si_error_clear(&ferr);
            rc = fail_batch(db, batch, merchant, job_id, err->code, err->message, NULL, false, &ferr);
            if (rc != 0)
                *err = ferr;
            goto out;
        }
        goto retry;
    }
    if (si_db_commit(db, err) != 0)
        goto retry;
    si_log(SI_LOG_INFO, "bulk import completed", json_pack("{s:s, s:I, s:I}", "batch", batch, "purchases",
                                                           (json_int_t)np, "items", (json_int_t)ni));
    rc = 0;
    goto out;
rollback:
    si_db_rollback(db);
retry:
    if (job->attempts >= job->max_attempts) {   /* the last attempt: the batch ends failed */
        struct si_error ferr;
        si_error_clear(&ferr);
        if (fail_batch(db, batch, merchant, job_id, "import_error", "the import failed on the server: retry it",
                       NULL, false, &ferr) != 0)
            si_log(SI_LOG_WARN, "could not mark a bulk batch failed", json_pack("{s:s}", "batch", batch));
    }
    rc = -1;
out:
    bulk_report_clear(&r);
    return rc;
}

int bulk_register_tasks(struct jobs_registry *reg, char *const *envp, void **out_state, struct si_error *err)
{
    (void)envp;
    *out_state = NULL;
    const struct jobs_task t = {
        .name = "bulk.import", .run = run_import, .serial = true,
        .retry = { .base_ms = 1000, .cap_ms = 30000, .jitter_pct = 20 },
    };
    return jobs_registry_add(reg, &t, err);
}

void bulk_tasks_free(void *state)
{
    (void)state;
}

int bulk_enqueue(struct si_db *db, const char *batch_id, const char *merchant_id, const char *user, int retry,
                 long long *out_job, struct si_error *err)
{
    char key[JOBS_KEY_MAX];
    if (retry > 0)
        snprintf(key, sizeof key, "%s:retry:%d", batch_id, retry);
    else
        snprintf(key, sizeof key, "%s", batch_id);
    json_t *payload = json_pack("{s:s, s:s}", "batch_id", batch_id, "merchant_id", merchant_id);
    if (payload == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    struct jobs_enqueued q;
    const struct jobs_new job = {
        .task = "bulk.import", .payload = payload, .user_id = user, .job_key = key, .key_mode = JOBS_KEY_KEEP,
        .queue = merchant_id, .max_attempts = BULK_TASK_ATTEMPTS,
    };
    int rc = jobs_enqueue(db, &job, &q, err);
    json_decref(payload);
    if (rc == 0)
        *out_job = q.id;
    return rc;
}
