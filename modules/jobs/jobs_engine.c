/* jobs_engine.c: the engine's statements: claim (in batches, or one job of a serial
 * lane), complete (in batches), fail, the lease check and the heartbeat.
 *
 * Every state change is one statement that also writes its job_audit row and, when
 * the task asks for one, its import_events row, so a change and its record commit
 * together.  Every finishing statement checks `locked_by = owner`: a worker whose
 * lease was taken over (it stalled, or was presumed dead) changes nothing.  These
 * are the only statements in smartimport not filtered by user_id: the queue is
 * shared and a worker runs every user's jobs; what a task does afterwards is scoped
 * by the job's own user_id. */
#include "jobs.h"
#include "si_clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS(col) SI_SQL_UTC_US(col)

/* "The job is running", for statements that find a job by id.  Written so that it does
 * not imply jobs_runnable_idx's predicate: a plain `state = 'running'` lets the planner
 * pick that partial index (small by its statistics) and scan all of it, dead entries
 * included, for one id (priority and run_at lead it); under a busy queue that was
 * 10-90 ms a statement where the primary key takes a few microseconds. */
#define RUNNING(alias) "(" alias "state = 'running') IS TRUE"
#define LEASE "$2::bigint * interval '1 millisecond'"

/* What a claim returns, after the claiming update (u) and its audit rows. */
#define CLAIM_TAIL \
    "  a AS (INSERT INTO job_audit (job_id, user_id, task, from_state, to_state, attempt, worker, duration_ms, error) " \
    "    SELECT id, user_id, task, prev, 'running', attempts, $1, waited_ms, " \
    "      CASE WHEN prev = 'running' THEN 'lease_expired' END FROM u) " \
    "SELECT id, task, user_id, job_key, queue, payload::text, attempts, max_attempts, " TS("created_at") ", prev FROM u"

#define CLAIM_SET \
    "SET state = 'running', locked_by = $1, locked_until = now() + " LEASE ", run_at = now() + " LEASE ", " \
    "  attempts = j.attempts + 1, started_at = coalesce(j.started_at, now()) "

#define CLAIM_RETURNING \
    "RETURNING j.id, j.task, j.user_id, j.job_key, j.queue, j.payload, j.attempts, j.max_attempts, j.created_at, " \
    "  c.state AS prev, extract(epoch FROM now() - c.run_at) * 1000 AS waited_ms"

static char *dup_or_null(const PGresult *res, int r, int c)
{
    return PQgetisnull(res, r, c) ? NULL : strdup(PQgetvalue(res, r, c));
}

/* Rows of a claim into out[]; a row that cannot be read keeps payload NULL (the
 * worker fails it). */
static int read_claimed(PGresult *res, const struct jobs_registry *reg, struct jobs_job *out, int *out_n)
{
    int n = PQntuples(res);
    long long now = si_now_ms();
    for (int r = 0; r < n; r++) {
        struct jobs_job *j = &out[r];
        json_error_t jerr;
        memset(j, 0, sizeof *j);
        if (si_db_get_int64(res, r, 0, &j->id) != 0)
            j->id = 0;
        int t = jobs_registry_find(reg, PQgetvalue(res, r, 1));
        j->task = t >= 0 ? reg->tasks[t].name : NULL;
        snprintf(j->user_id, sizeof j->user_id, "%s", PQgetvalue(res, r, 2));
        j->job_key = dup_or_null(res, r, 3);
        j->queue = dup_or_null(res, r, 4);
        j->payload = json_loads(PQgetvalue(res, r, 5), 0, &jerr);
        if (si_db_get_int(res, r, 6, &j->attempts) != 0 || si_db_get_int(res, r, 7, &j->max_attempts) != 0) {
            json_decref(j->payload);
            j->payload = NULL;   /* the worker fails a row it cannot read */
        }
        snprintf(j->created_at, sizeof j->created_at, "%s", PQgetvalue(res, r, 8));
        snprintf(j->prev_state, sizeof j->prev_state, "%s", PQgetvalue(res, r, 9));
        j->started_ms = now;
        if (j->task != NULL && reg->tasks[t].timeout_ms > 0)
            j->deadline_ms = now + reg->tasks[t].timeout_ms;
        if ((!PQgetisnull(res, r, 3) && j->job_key == NULL) || (!PQgetisnull(res, r, 4) && j->queue == NULL)) {
            json_decref(j->payload);   /* out of memory: unusable */
            j->payload = NULL;
        }
    }
    *out_n = n;
    return 0;
}

int jobs_claim(struct si_db *db, const struct jobs_lease *lease, const struct jobs_registry *reg,
               const char *tasks, const char *serial, int limit, struct jobs_job *out, int *out_n,
               struct si_error *err)
{
    char lim[16];
    *out_n = 0;
    snprintf(lim, sizeof lim, "%d", limit);
    const char *p[] = { lease->owner, lease->lease_ms, tasks, serial, lim };
    PGresult *res = si_db_exec(db,
        "WITH c AS (SELECT id, state, run_at FROM jobs "
        "    WHERE state IN ('queued', 'failed', 'running') AND run_at <= now() AND task = ANY ($3::text[]) "
        "      AND (queue IS NULL OR task <> ALL ($4::text[])) "
        "    ORDER BY priority, run_at, id FOR UPDATE SKIP LOCKED LIMIT $5::int), "
        "  u AS (UPDATE jobs j " CLAIM_SET "FROM c WHERE j.id = c.id " CLAIM_RETURNING "), "
        CLAIM_TAIL, 5, p, err);
    if (res == NULL)
        return -1;
    int rc = read_claimed(res, reg, out, out_n);
    PQclear(res);
    return rc;
}

int jobs_claim_lane(struct si_db *db, const struct jobs_lease *lease, const struct jobs_registry *reg,
                    const char *tasks, struct jobs_job *out, int *out_n, struct si_error *err)
{
    *out_n = 0;
    const char *p[] = { lease->owner, lease->lease_ms, tasks };
    /* Two workers can pick jobs of one free lane at once; the lane's UPDATE then waits
     * for the first and re-checks locked_until on the row it committed, so only one
     * of them gets the lane, and the other's job update joins no row. */
    PGresult *res = si_db_exec(db,
        "WITH c AS (SELECT j.id, j.state, j.run_at, j.queue FROM jobs j "
        "    WHERE j.state IN ('queued', 'failed', 'running') AND j.run_at <= now() AND j.task = ANY ($3::text[]) "
        "      AND j.queue IS NOT NULL "
        "      AND NOT EXISTS (SELECT 1 FROM job_queues q WHERE q.queue = j.queue AND q.locked_until > now()) "
        "    ORDER BY j.priority, j.run_at, j.id FOR UPDATE OF j SKIP LOCKED LIMIT 1), "
        "  lane AS (UPDATE job_queues q SET locked_by = $1, locked_until = now() + " LEASE " FROM c "
        "    WHERE q.queue = c.queue AND (q.locked_until IS NULL OR q.locked_until <= now()) RETURNING q.queue), "
        "  u AS (UPDATE jobs j " CLAIM_SET "FROM c, lane WHERE j.id = c.id AND lane.queue = c.queue " CLAIM_RETURNING "), "
        CLAIM_TAIL, 3, p, err);
    if (res == NULL)
        return -1;
    int rc = read_claimed(res, reg, out, out_n);
    PQclear(res);
    return rc;
}

void jobs_done_clear(struct jobs_done *d)
{
    free(d->result);
    free(d->event_payload);
    memset(d, 0, sizeof *d);
}


static int put(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 256;
        while (*len + n + 1 > c)
            c *= 2;
        char *nb = realloc(*buf, c);
        if (nb == NULL)
            return -1;
        *buf = nb;
        *cap = c;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

/* A text[] literal element: NULL, or "..." with " and \ escaped. */
static int put_elem(char **buf, size_t *len, size_t *cap, const char *s, bool first)
{
    if (!first && put(buf, len, cap, ",", 1) != 0)
        return -1;
    if (s == NULL)
        return put(buf, len, cap, "NULL", 4);
    if (put(buf, len, cap, "\"", 1) != 0)
        return -1;
    for (const char *p = s; *p != '\0'; p++) {
        if ((*p == '"' || *p == '\\') && put(buf, len, cap, "\\", 1) != 0)
            return -1;
        if (put(buf, len, cap, p, 1) != 0)
            return -1;
    }
    return put(buf, len, cap, "\"", 1);
}

/* The tail both completions share: the audit row, the event, the lane's release. */
#define COMPLETE_TAIL \
    "  a AS (INSERT INTO job_audit (job_id, user_id, task, from_state, to_state, attempt, worker, duration_ms) " \
    "    SELECT id, user_id, task, 'running', 'succeeded', attempts, $1, ms FROM done), " \
    "  e AS (INSERT INTO import_events (user_id, import_id, event_type, payload) " \
    "    SELECT user_id, NULL, ev_type, ev_payload::jsonb FROM done WHERE ev_type IS NOT NULL AND user_id IS NOT NULL), " \
    "  l AS (UPDATE job_queues q SET locked_by = NULL, locked_until = NULL FROM done " \
    "    WHERE done.queue IS NOT NULL AND q.queue = done.queue AND q.locked_by = $1) " \
    "SELECT count(*) FROM done"

static int completed_count(PGresult *res, int *out_n, struct si_error *err)
{
    if (res == NULL)
        return -1;
    int rc = si_db_get_int(res, 0, 0, out_n) == 0 ? 0 : -1;
    if (rc != 0)
        si_db_bad_value(err, "the completed jobs' count");
    PQclear(res);
    return rc;
}

/* One job: plain parameters instead of arrays to unnest.  The common case by far (a
 * job finished on its executor's connection, a writer batch of one), and the array
 * form cost it about twice as much in the database (pg_stat_statements). */
static int complete_one(struct si_db *db, const struct jobs_lease *lease, const struct jobs_done *d, int *out_n,
                        struct si_error *err)
{
    char id[24], ms[32];
    snprintf(id, sizeof id, "%lld", d->id);
    snprintf(ms, sizeof ms, "%.3f", d->ms);
    const char *p[] = { lease->owner, id, ms, d->result, d->event_type, d->event_payload };
    return completed_count(si_db_exec(db,
        "WITH done AS (UPDATE jobs j SET state = 'succeeded', result = $4::jsonb, error = NULL, finished_at = now(), "
        "      locked_by = NULL, locked_until = NULL "
        "    WHERE j.id = $2::bigint AND j.locked_by = $1 AND " RUNNING("j.") " "
        "    RETURNING j.id, j.user_id, j.task, j.attempts, j.queue, $3::float8 AS ms, $5::text AS ev_type, "
        "      $6::text AS ev_payload), "
        COMPLETE_TAIL, 6, p, err), out_n, err);
}

int jobs_complete(struct si_db *db, const struct jobs_lease *lease, const struct jobs_done *done, int n,
                  int *out_n, struct si_error *err)
{
    int rc = -1;
    char *arr[5] = { NULL };
    size_t len[5] = { 0 }, cap[5] = { 0 };
    *out_n = 0;
    if (n == 0)
        return 0;
    if (n == 1)
        return complete_one(db, lease, done, out_n, err);
    for (int k = 0; k < 5; k++)
        if (put(&arr[k], &len[k], &cap[k], "{", 1) != 0)
            goto oom;
    for (int i = 0; i < n; i++) {
        char id[24], ms[32];
        snprintf(id, sizeof id, "%lld", done[i].id);
        snprintf(ms, sizeof ms, "%.3f", done[i].ms);
        if (put_elem(&arr[0], &len[0], &cap[0], id, i == 0) != 0 ||
            put_elem(&arr[1], &len[1], &cap[1], ms, i == 0) != 0 ||
            put_elem(&arr[2], &len[2], &cap[2], done[i].result, i == 0) != 0 ||
            put_elem(&arr[3], &len[3], &cap[3], done[i].event_type, i == 0) != 0 ||
            put_elem(&arr[4], &len[4], &cap[4], done[i].event_payload, i == 0) != 0)
            goto oom;
    }
    for (int k = 0; k < 5; k++)
        if (put(&arr[k], &len[k], &cap[k], "}", 1) != 0)
            goto oom;
    const char *p[] = { lease->owner, arr[0], arr[1], arr[2], arr[3], arr[4] };
    if (completed_count(si_db_exec(db,
        "WITH r AS (SELECT * FROM unnest($2::bigint[], $3::float8[], $4::text[], $5::text[], $6::text[]) "
        "    AS r(id, ms, result, ev_type, ev_payload)), "
        "  done AS (UPDATE jobs j SET state = 'succeeded', result = r.result::jsonb, error = NULL, finished_at = now(), "
        "      locked_by = NULL, locked_until = NULL "
        "    FROM r WHERE j.id = ANY ($2::bigint[]) AND j.id = r.id AND j.locked_by = $1 AND " RUNNING("j.") " "
        "    RETURNING j.id, j.user_id, j.task, j.attempts, j.queue, r.ms, r.ev_type, r.ev_payload), "
        COMPLETE_TAIL, 6, p, err), out_n, err) != 0)
        goto out;
    rc = 0;
    goto out;
oom:
    si_error_set(err, 500, "internal", "out of memory");
out:
    for (int k = 0; k < 5; k++)
        free(arr[k]);
    return rc;
}

int jobs_lock_held(struct si_db *db, const struct jobs_lease *lease, long long id, struct si_error *err)
{
    char id_s[24];
    snprintf(id_s, sizeof id_s, "%lld", id);
    const char *p[] = { id_s, lease->owner };
    PGresult *res = si_db_exec(db, "SELECT 1 FROM jobs WHERE id = $1::bigint AND locked_by = $2 "
                                   "AND " RUNNING("") " FOR UPDATE", 2, p, err);
    if (res == NULL)
        return -1;
    int held = PQntuples(res) == 1;
    PQclear(res);
    return held;
}

int jobs_fail(struct si_db *db, const struct jobs_lease *lease, long long id, bool dead, long long delay_ms,
              double ms, const char *error, const char *event_type, const char *event_payload,
              struct si_error *err)
{
    char id_s[24], delay[24], ms_s[32];
    snprintf(id_s, sizeof id_s, "%lld", id);
    snprintf(delay, sizeof delay, "%lld", delay_ms);
    snprintf(ms_s, sizeof ms_s, "%.3f", ms);
    const char *p[] = { lease->owner, id_s, dead ? "dead" : "failed", error, delay, ms_s, event_type, event_payload };
    PGresult *res = si_db_exec(db,
        "WITH f AS (UPDATE jobs SET state = $3, error = $4, locked_by = NULL, locked_until = NULL, "
        "      run_at = CASE WHEN $3 = 'failed' THEN now() + $5::bigint * interval '1 millisecond' ELSE run_at END, "
        "      finished_at = CASE WHEN $3 = 'dead' THEN now() END "
        "    WHERE id = $2::bigint AND locked_by = $1 AND " RUNNING("") " "
        "    RETURNING id, user_id, task, attempts, queue), "
        "  a AS (INSERT INTO job_audit (job_id, user_id, task, from_state, to_state, attempt, worker, duration_ms, error) "
        "    SELECT id, user_id, task, 'running', $3, attempts, $1, $6::float8, $4 FROM f), "
        "  e AS (INSERT INTO import_events (user_id, import_id, event_type, payload) "
        "    SELECT user_id, NULL, $7, $8::jsonb FROM f WHERE $7::text IS NOT NULL AND user_id IS NOT NULL), "
        "  l AS (UPDATE job_queues q SET locked_by = NULL, locked_until = NULL FROM f "
        "    WHERE q.queue = f.queue AND q.locked_by = $1) "
        "SELECT count(*) FROM f", 8, p, err);
    if (res == NULL)
        return -1;
    int n = 0;
    if (si_db_get_int(res, 0, 0, &n) != 0)
        n = 0;
    PQclear(res);
    return n == 1 ? 1 : 0;
}

int jobs_heartbeat(PGconn *conn, const struct jobs_lease *lease, const char *ids)
{
    const char *p[] = { lease->owner, lease->lease_ms, ids };
    /* Only the jobs in hand: a job whose completion could not be written must see its
     * lease run out (and run again), not be extended for as long as this process lives.
     * Rows are locked in id order, like a completion batch (by the primary key), so the
     * two cannot deadlock. */
    PGresult *r = PQexecParams(conn,
        "WITH mine AS (SELECT id, queue FROM jobs WHERE id = ANY ($3::bigint[]) AND locked_by = $1 "
        "    AND " RUNNING("") " ORDER BY id FOR UPDATE), "
        "  j AS (UPDATE jobs SET locked_until = now() + " LEASE ", run_at = now() + " LEASE " "
        "    FROM mine WHERE jobs.id = mine.id RETURNING 1) "
        "UPDATE job_queues SET locked_until = now() + " LEASE " "
        "  WHERE locked_by = $1 AND queue IN (SELECT queue FROM mine WHERE queue IS NOT NULL)",
        3, NULL, p, NULL, NULL, 0);
    int rc = r != NULL && PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    PQclear(r);
    return rc;
}
