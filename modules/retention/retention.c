/* retention.c: the task retention.purge (modules/jobs/tasks.c calls retention_register_tasks).
 *
 * Each run deletes, by age, what smartimport no longer needs, every DELETE a small batch in a
 * transaction of its own (the worker's connection autocommits each statement), so no table is
 * locked for long and no long transaction holds back VACUUM:
 *   - staged rows of statement imports never committed: a `parsed` import older than
 *     SMARTIMPORT_RETAIN_STAGED_DAYS is first made `failed` with failure_reason 'expiring'
 *     (a short UPDATE of up to 100 imports, SKIP LOCKED: an import that commit-import holds is
 *     left for the next run; once failed it can no longer be committed, and the same file can be
 *     uploaded again), then its staged rows go page range by page range, then its
 *     failure_reason becomes 'expired'.  A run that stops in between (a crash, its budget)
 *     finds the 'expiring' ones again next time;
 *   - staged rows of failed bulk batches (SMARTIMPORT_RETAIN_BULK_STAGED_DAYS after they
 *     failed): the same two steps, error_code 'staging_expiring' then 'staging_lost' (a retry
 *     answers 409 staging_lost, the file may be uploaded again: file_sha256 is cleared);
 *   - finished jobs (succeeded, dead) older than SMARTIMPORT_RETAIN_JOBS_DAYS, their job_audit
 *     and workflow_triggers rows with them (ON DELETE CASCADE); never a queued, running or
 *     failed one, and never a job a workflow effect still points at (a connection, a claim
 *     route, a payout monitor, a rejection, a payout: those rows are the workflow's data and
 *     the cascade would take them);
 *   - import_events older than SMARTIMPORT_RETAIN_EVENTS_DAYS;
 *   - idempotency keys (sql/0028) created more than SMARTIMPORT_RETAIN_IDEMPOTENCY_HOURS ago,
 *     RETENTION_BATCH_ROWS a DELETE, the oldest first through their created_at index.
 *
 * How a batch is found without scanning a big table: staged rows are adjacent on disk (each
 * import or batch is one COPY), so their page span is read once and then deleted by ctid ranges
 * of about RETENTION_BATCH_ROWS rows (a TID range scan reads only those pages; deleting "the
 * first 5,000 rows of the import" again and again would reread the pages already emptied, which
 * is quadratic).  Jobs and events are walked by primary key from the oldest id up, and the walk
 * stops at the first batch holding a row created after the cutoff: ids follow time, so nothing
 * behind it can be old enough.  No index is added to the engine's or the events' hot path.
 *
 * Scheduling: the engine has no cron.  A run first enqueues the next hour's run (job key
 * "retention:<next UTC hour>", mode keep, run_at = that hour) in its own commit, so a run that
 * fails does not end the chain; the worker enqueues the current hour's run when it starts
 * (mode keep: many workers or restarts add nothing).  Jobs of the task share one serial lane. */
#include "retention.h"
#include "si_clock.h"
#include "si_config.h"
#include "si_log.h"

#include <stdio.h>
#include <stdlib.h>

/* One run's state and figures. */
struct run {
    const struct retention_settings *s;
    struct si_db *db;
    double t0;                   /* si_clock_ms() at the start */
    int kind_statements;         /* DELETEs (and expiring UPDATEs) of the current kind */
    bool more;                   /* a limit stopped a kind: the next run goes on */
    long long statements;
    double max_ms;               /* the longest statement that locks rows: the longest a batch holds them */
    double max_read_ms;          /* the longest one that only reads (a staged owner's page span) */
    long long imports, staged_rows, bulk_batches, bulk_rows, jobs, job_audit, events, idempotency_keys;
    double staged_ms, bulk_ms, jobs_ms, events_ms, idempotency_ms;
};

/* si_db_exec, timed into the run's figures (max_ms: statements that lock rows). */
static PGresult *timed_as(struct run *r, bool locks, const char *sql, int n, const char *const *p,
                          struct si_error *err)
{
    double t0 = si_clock_ms();
    PGresult *res = si_db_exec(r->db, sql, n, p, err);
    double ms = si_ms_since(t0);
    if (locks && ms > r->max_ms)
        r->max_ms = ms;
    if (!locks && ms > r->max_read_ms)
        r->max_read_ms = ms;
    r->statements++;
    r->kind_statements++;
    return res;
}

static PGresult *timed(struct run *r, const char *sql, int n, const char *const *p, struct si_error *err)
{
    return timed_as(r, true, sql, n, p, err);
}

/* True (and notes it) when this kind has used its statements or the run its time. */
static bool must_stop(struct run *r)
{
    if (r->kind_statements >= RETENTION_MAX_STATEMENTS || si_ms_since(r->t0) > RETENTION_RUN_BUDGET_MS) {
        r->more = true;
        return true;
    }
    return false;
}

/* ---- staged rows, page range by page range ------------------------------------------------ */

struct staged_table {
    const char *span;    /* $1 owner, $2 user/merchant: first page, last page, rows */
    const char *purge;   /* $1, $2, $3 first tid, $4 last tid */
};

static const struct staged_table STATEMENT_STAGING = {
    "SELECT min(b), max(b), count(*) FROM (SELECT (ctid::text::point)[0]::bigint AS b "
    "FROM transactions_staging WHERE import_id = $1 AND user_id = $2) s",
    "DELETE FROM transactions_staging WHERE ctid >= $3::tid AND ctid <= $4::tid AND import_id = $1 AND user_id = $2",
};

static const struct staged_table BULK_STAGING = {
    "SELECT min(b), max(b), count(*) FROM (SELECT (ctid::text::point)[0]::bigint AS b "
    "FROM bulk_import_staging WHERE batch_id = $1 AND merchant_id = $2) s",
    "DELETE FROM bulk_import_staging WHERE ctid >= $3::tid AND ctid <= $4::tid AND batch_id = $1 AND merchant_id = $2",
};

/* Deletes one owner's staged rows in page ranges of about RETENTION_BATCH_ROWS rows.
 * 0 = all gone, 1 = stopped by a limit (the rest is for the next run), -1 = error. */
static int purge_pages(struct run *r, const struct staged_table *t, const char *owner, const char *user,
                       long long *out_rows, struct si_error *err)
{
    const char *p[] = { owner, user };
    PGresult *res = timed_as(r, false, t->span, 2, p, err);
    if (res == NULL)
        return -1;
    long long lo = 0, hi = 0, n = 0;
    int a = si_db_get_int64(res, 0, 0, &lo), b = si_db_get_int64(res, 0, 1, &hi), c = si_db_get_int64(res, 0, 2, &n);
    PQclear(res);
    if (a < 0 || b < 0 || c != 0)
        return si_db_bad_value(err, "staged rows' pages");
    if (n == 0 || a == 1 || b == 1)
        return 0;
    long long step = (RETENTION_BATCH_ROWS * (hi - lo + 1) + n - 1) / n;
    if (step < 1)
        step = 1;
    for (long long page = lo; page <= hi; page += step) {
        if (must_stop(r))
            return 1;
        long long last = page + step - 1 < hi ? page + step - 1 : hi;
        char from[40], to[40];
        snprintf(from, sizeof from, "(%lld,0)", page);
        snprintf(to, sizeof to, "(%lld,65535)", last);
        const char *d[] = { owner, user, from, to };
        if ((res = timed(r, t->purge, 4, d, err)) == NULL)
            return -1;
        long long k = si_db_rows_affected(res);
        PQclear(res);
        if (k > 0)
            *out_rows += k;
    }
    return 0;
}

/* Runs sql ($1, $2 = p) again and again until it changes fewer than batch rows, adding them
 * to *out.  0 = done, 1 = stopped by a limit (the rest is for the next run), -1 = error. */
static int repeat_batches(struct run *r, const char *sql, const char *const *p, int batch, long long *out,
                          struct si_error *err)
{
    for (;;) {
        if (must_stop(r))
            return 1;
        PGresult *res = timed(r, sql, 2, p, err);
        if (res == NULL)
            return -1;
        long long n = si_db_rows_affected(res);
        PQclear(res);
        if (n > 0)
            *out += n;
        if (n < batch)
            return 0;
    }
}

/* The two steps for one kind of owner: mark the old ones (expire), then for each marked one
 * delete its rows and finish it (done).  $1 of expire: days, $2: how many. */
struct staged_kind {
    const char *expire;        /* $1 days, $2 how many: the rows it changed are counted */
    const char *marked;        /* SELECT owner, user LIMIT $1 */
    const char *done;          /* $1 owner, $2 user[, $3 days] */
    int done_params;
    const struct staged_table *table;
};

static int purge_staged_kind(struct run *r, const struct staged_kind *k, int days, long long *out_owners,
                             long long *out_rows, struct si_error *err)
{
    char d[16], lim[16];
    snprintf(d, sizeof d, "%d", days);
    snprintf(lim, sizeof lim, "%d", RETENTION_BATCH_OWNERS);
    const char *p[] = { d, lim };
    r->kind_statements = 0;
    int expired = repeat_batches(r, k->expire, p, RETENTION_BATCH_OWNERS, out_owners, err);
    if (expired != 0)
        return expired < 0 ? -1 : 0;
    for (;;) {
        if (must_stop(r))
            return 0;
        const char *lp[] = { lim };
        PGresult *res = timed(r, k->marked, 1, lp, err);
        if (res == NULL)
            return -1;
        int n = PQntuples(res);
        for (int i = 0; i < n; i++) {
            const char *owner = PQgetvalue(res, i, 0), *user = PQgetvalue(res, i, 1);
            int rc = purge_pages(r, k->table, owner, user, out_rows, err);
            if (rc != 0) {
                PQclear(res);
                return rc < 0 ? -1 : 0;
            }
            const char *fp[] = { owner, user, d };
            PGresult *f = timed(r, k->done, k->done_params, fp, err);
            if (f == NULL) {
                PQclear(res);
                return -1;
            }
            PQclear(f);
        }
        PQclear(res);
        if (n < RETENTION_BATCH_OWNERS)
            return 0;
    }
}

/* parsed -> failed, a move si_import.h's state machine allows (the names are literals, not
 * parameters, so that the partial index of sql/0026 serves a prepared statement's plan too). */
static const struct staged_kind IMPORTS = {
    "UPDATE imports SET status = 'failed', failure_reason = 'expiring', updated_at = now() "
    "WHERE id IN (SELECT id FROM imports WHERE status = 'parsed' AND created_at < now() - make_interval(days => $1::int) "
    "ORDER BY created_at LIMIT $2::int FOR UPDATE SKIP LOCKED) AND status = 'parsed'",
    "SELECT id, user_id FROM imports WHERE failure_reason = 'expiring' AND status = 'failed' ORDER BY id LIMIT $1::int",
    "UPDATE imports SET failure_reason = 'expired', updated_at = now() "
    "WHERE id = $1 AND user_id = $2 AND failure_reason = 'expiring'",
    2, &STATEMENT_STAGING,
};

static const struct staged_kind BULK = {
    "UPDATE bulk_import_batches SET error_code = 'staging_expiring', file_sha256 = NULL, updated_at = now() "
    "WHERE id IN (SELECT id FROM bulk_import_batches WHERE status = 'failed' "
    "AND error_code IS DISTINCT FROM 'staging_lost' AND error_code IS DISTINCT FROM 'staging_expiring' "
    "AND completed_at < now() - make_interval(days => $1::int) ORDER BY completed_at LIMIT $2::int "
    "FOR UPDATE SKIP LOCKED) AND status = 'failed'",
    "SELECT id, merchant_id FROM bulk_import_batches WHERE status = 'failed' AND error_code = 'staging_expiring' "
    "ORDER BY id LIMIT $1::int",
    "UPDATE bulk_import_batches SET error_code = 'staging_lost', updated_at = now(), "
    "error_message = 'the staged rows of this batch were deleted ' || $3::int || ' days after it failed: "
    "upload the file again' WHERE id = $1 AND merchant_id = $2 AND status = 'failed' "
    "AND error_code = 'staging_expiring'",
    3, &BULK_STAGING,
};

/* ---- jobs and events, walked by id ------------------------------------------------------ */

/* $1 days, $2 the last id walked, $3 batch.  Answers deleted, audit rows deleted with them,
 * the new last id, rows walked, rows walked that are younger than the cutoff. */
static const char JOBS_SQL[] =
    "WITH b AS (SELECT id, state, finished_at, created_at FROM jobs WHERE id > $2::bigint ORDER BY id LIMIT $3::int), "
    "c AS (SELECT coalesce(array_agg(b.id), '{}') AS ids FROM b WHERE b.state IN ('succeeded', 'dead') "
    "  AND b.finished_at < now() - make_interval(days => $1::int) "
    "  AND NOT EXISTS (SELECT 1 FROM workflow_connections w WHERE w.job_id = b.id) "
    "  AND NOT EXISTS (SELECT 1 FROM workflow_claim_routes w WHERE w.job_id = b.id) "
    "  AND NOT EXISTS (SELECT 1 FROM workflow_payout_monitors w WHERE w.job_id = b.id) "
    "  AND NOT EXISTS (SELECT 1 FROM workflow_rejections w WHERE w.job_id = b.id) "
    "  AND NOT EXISTS (SELECT 1 FROM workflow_payouts w WHERE w.job_id = b.id)), "
    "a AS (SELECT count(*) AS n FROM job_audit WHERE job_id = ANY ((SELECT ids FROM c)::bigint[])), "
    "d AS (DELETE FROM jobs j WHERE j.id = ANY ((SELECT ids FROM c)::bigint[]) AND j.state IN ('succeeded', 'dead') "
    "  RETURNING j.id) "
    "SELECT (SELECT count(*) FROM d), (SELECT n FROM a), coalesce((SELECT max(id) FROM b), $2::bigint), "
    "(SELECT count(*) FROM b), (SELECT count(*) FROM b WHERE created_at >= now() - make_interval(days => $1::int))";

static const char EVENTS_SQL[] =
    "WITH b AS (SELECT id, created_at < now() - make_interval(days => $1::int) AS old FROM import_events "
    "  WHERE id > $2::bigint ORDER BY id LIMIT $3::int), "
    "d AS (DELETE FROM import_events e WHERE e.id IN (SELECT id FROM b WHERE old) RETURNING 1) "
    "SELECT (SELECT count(*) FROM d), 0, coalesce((SELECT max(id) FROM b), $2::bigint), "
    "(SELECT count(*) FROM b), (SELECT count(*) FROM b WHERE NOT old)";

static int purge_walk(struct run *r, const char *sql, int days, int batch, long long *out_rows,
                      long long *out_side, struct si_error *err)
{
    char d[16], lim[16], last[24];
    snprintf(d, sizeof d, "%d", days);
    snprintf(lim, sizeof lim, "%d", batch);
    long long cursor = 0;
    r->kind_statements = 0;
    for (;;) {
        if (must_stop(r))
            return 0;
        snprintf(last, sizeof last, "%lld", cursor);
        const char *p[] = { d, last, lim };
        PGresult *res = timed(r, sql, 3, p, err);
        if (res == NULL)
            return -1;
        long long v[5] = { 0 };
        for (int i = 0; i < 5; i++)
            if (si_db_get_int64(res, 0, i, &v[i]) != 0) {
                PQclear(res);
                return si_db_bad_value(err, "a retention batch's counts");
            }
        PQclear(res);
        *out_rows += v[0];
        if (out_side != NULL)
            *out_side += v[1];
        cursor = v[2];
        if (v[3] < batch || v[4] > 0)
            return 0;
    }
}

/* ---- idempotency keys, oldest first by created_at (their index) ------------------------- */

static int purge_idempotency(struct run *r, struct si_error *err)
{
    char h[16], lim[16];
    snprintf(h, sizeof h, "%d", r->s->idempotency_hours);
    snprintf(lim, sizeof lim, "%d", RETENTION_BATCH_ROWS);
    const char *p[] = { h, lim };
    r->kind_statements = 0;
    return repeat_batches(r,
        "DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(SELECT ctid FROM idempotency_keys "
        "WHERE created_at < now() - make_interval(hours => $1::int) ORDER BY created_at LIMIT $2::int))",
        p, RETENTION_BATCH_ROWS, &r->idempotency_keys, err) < 0 ? -1 : 0;
}

/* ---- the task -------------------------------------------------------------------------- */

int retention_schedule(struct si_db *db, bool next, long long *out_id, bool *out_existing, struct si_error *err)
{
    const char *p[] = { next ? "t" : "f", RETENTION_QUEUE };
    PGresult *res = si_db_exec(db,
        "SELECT a.id, a.existing FROM (SELECT date_trunc('hour', now() AT TIME ZONE 'UTC') "
        "  + CASE WHEN $1::bool THEN interval '1 hour' ELSE interval '0' END AS h) t, "
        "LATERAL jobs_add('retention.purge', '{}'::jsonb, p_job_key => 'retention:' || to_char(t.h, "
        "  'YYYY-MM-DD\"T\"HH24\"Z\"'), p_key_mode => 'keep', p_queue => $2, "
        "  p_run_at => CASE WHEN $1::bool THEN t.h AT TIME ZONE 'UTC' ELSE now() END, p_wake => false) a",
        2, p, err);
    if (res == NULL)
        return -1;
    int rc = 0;
    if (PQntuples(res) != 1 || si_db_get_int64(res, 0, 0, out_id) != 0 || si_db_get_bool(res, 0, 1, out_existing) != 0)
        rc = si_db_bad_value(err, "jobs_add's answer");
    PQclear(res);
    return rc;
}

static int run_purge(void *task_ctx, struct si_db *db, const struct jobs_job *job, json_t **out_state,
                     struct si_error *err)
{
    (void)job;
    struct run r = { .s = task_ctx, .db = db, .t0 = si_clock_ms() };
    long long next = 0;
    bool existing = false;
    if (retention_schedule(db, true, &next, &existing, err) != 0)
        return -1;
    double t = si_clock_ms();
    if (purge_staged_kind(&r, &IMPORTS, r.s->staged_days, &r.imports, &r.staged_rows, err) != 0)
        return -1;
    r.staged_ms = si_ms_since(t);
    t = si_clock_ms();
    if (purge_staged_kind(&r, &BULK, r.s->bulk_days, &r.bulk_batches, &r.bulk_rows, err) != 0)
        return -1;
    r.bulk_ms = si_ms_since(t);
    t = si_clock_ms();
    if (purge_walk(&r, JOBS_SQL, r.s->jobs_days, RETENTION_BATCH_JOBS, &r.jobs, &r.job_audit, err) != 0)
        return -1;
    r.jobs_ms = si_ms_since(t);
    t = si_clock_ms();
    if (purge_walk(&r, EVENTS_SQL, r.s->events_days, RETENTION_BATCH_ROWS, &r.events, NULL, err) != 0)
        return -1;
    r.events_ms = si_ms_since(t);
    t = si_clock_ms();
    if (purge_idempotency(&r, err) != 0)
        return -1;
    r.idempotency_ms = si_ms_since(t);
    json_t *out = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:f, s:f, s:f, s:f, s:f}, s:f, s:f, s:f, s:I, s:b, s:I}",
                            "imports_expired", (json_int_t)r.imports, "staged_rows", (json_int_t)r.staged_rows,
                            "bulk_batches_expired", (json_int_t)r.bulk_batches, "bulk_staged_rows",
                            (json_int_t)r.bulk_rows, "jobs", (json_int_t)r.jobs, "job_audit", (json_int_t)r.job_audit,
                            "events", (json_int_t)r.events, "idempotency_keys", (json_int_t)r.idempotency_keys,
                            "kind_ms", "staged", r.staged_ms, "bulk", r.bulk_ms,
                            "jobs", r.jobs_ms, "events", r.events_ms, "idempotency", r.idempotency_ms, "ms", si_ms_since(r.t0), "max_lock_ms",
                            r.max_ms, "max_read_ms", r.max_read_ms, "statements", (json_int_t)r.statements, "more", r.more, "next_job",
                            (json_int_t)next);
    if (out == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    si_log(SI_LOG_INFO, "retention purge", json_deep_copy(out));
    *out_state = out;
    return 0;
}

int retention_settings_load(struct retention_settings *s, char *const *envp, struct si_error *err)
{
    *s = (struct retention_settings){ .staged_days = 7, .jobs_days = 30, .events_days = 90, .bulk_days = 7,
                                       .idempotency_hours = 24 };
    if (si_env_int(envp, "SMARTIMPORT_RETAIN_STAGED_DAYS", RETENTION_DAYS_MIN, RETENTION_DAYS_MAX, &s->staged_days,
                   err) != 0 ||
        si_env_int(envp, "SMARTIMPORT_RETAIN_JOBS_DAYS", RETENTION_DAYS_MIN, RETENTION_DAYS_MAX, &s->jobs_days,
                   err) != 0 ||
        si_env_int(envp, "SMARTIMPORT_RETAIN_EVENTS_DAYS", RETENTION_DAYS_MIN, RETENTION_DAYS_MAX, &s->events_days,
                   err) != 0 ||
        si_env_int(envp, "SMARTIMPORT_RETAIN_BULK_STAGED_DAYS", RETENTION_DAYS_MIN, RETENTION_DAYS_MAX, &s->bulk_days,
                   err) != 0 ||
        si_env_int(envp, "SMARTIMPORT_RETAIN_IDEMPOTENCY_HOURS", RETENTION_HOURS_MIN, RETENTION_HOURS_MAX,
                   &s->idempotency_hours, err) != 0)
        return -1;
    return 0;
}

/* The current hour's run, enqueued when the worker starts; failures are only logged. */
static void schedule_now(char *const *envp)
{
    struct si_config cfg;
    struct si_error err;
    si_error_clear(&err);
    if (si_config_load(&cfg, envp, &err) != 0 || cfg.database_url == NULL)
        return;
    struct si_db db;
    si_db_init(&db, cfg.database_url, "smartimport-worker-retention", cfg.db_connect_timeout_ms,
               cfg.db_query_timeout_ms);
    long long id = 0;
    bool existing = false;
    if (retention_schedule(&db, false, &id, &existing, &err) != 0 || (!existing && jobs_wake(&db, &err) != 0))
        si_log(SI_LOG_WARN, "retention: could not enqueue this hour's purge (the last run's enqueue stands)",
               json_pack("{s:s}", "code", err.code));
    else
        si_log(SI_LOG_INFO, "retention purge scheduled", json_pack("{s:I, s:b}", "job", (json_int_t)id, "existing",
                                                                   existing));
    si_db_cleanup(&db);
}

int retention_register_tasks(struct jobs_registry *reg, char *const *envp, void **out_state, struct si_error *err)
{
    struct retention_settings *s = calloc(1, sizeof *s);
    *out_state = s;
    if (s == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    if (retention_settings_load(s, envp, err) != 0)
        return -1;
    const struct jobs_task t = {
        .name = "retention.purge", .run = run_purge, .ctx = s, .max_concurrency = 1, .serial = true,
        .timeout_ms = 3600000,
        .retry = { .base_ms = 60000, .cap_ms = 900000, .jitter_pct = 20 },
    };
    if (jobs_registry_add(reg, &t, err) != 0)
        return -1;
    schedule_now(envp);
    return 0;
}

void retention_tasks_free(void *state)
{
    free(state);
}
