/* workflow.c: the workflow responder (smartimport-workflow), behind nginx's
 * ^~/api/v1/workflow/ route.
 *
 *   POST /api/v1/workflow/phase/:n   n = 1..7 (anything else 400 invalid_phase)
 *        {"user_id", "sync_id"?, "seller_id"?, ...phase fields}
 *        -> 202 {"ok":true,"job_id","phase","status","existing"}
 *        The job (task workflow.phase<n>, job_key = sync_id, in the engine's table
 *        `jobs`, modules/jobs) and its audit row (null -> queued) are committed
 *        first; then the workflow:phase:queued event and a NOTIFY on channel 'jobs'
 *        (see announce() for why that is a second transaction).  The same
 *        (user_id, phase, sync_id) again returns the existing job (existing: true,
 *        status: whatever it is now) and writes nothing.
 *   GET  /api/v1/workflow/jobs/:id   the caller's job; anyone else's is 404 job_not_found
 *   GET  /api/v1/workflow/jobs?phase=1..7&status=queued|running|completed|failed|dead
 *        &limit=1..200(50)&cursor=
 *        -> 200 {"ok":true,"jobs":[{job_id, phase, status, attempts, max_attempts, sync_id,
 *           created_at, updated_at, run_at?, last_error?}],"next_cursor": "<id>" | null}
 *        The caller's phase jobs, newest first (id descending), keyset paging: the cursor
 *        is the last job id of the page before, in decimal (next_cursor gives it; null on
 *        the last page).  updated_at = the time of the job's latest audit row (its last
 *        state change); run_at only for queued (its start) and failed (its retry) jobs;
 *        last_error only when the job has one ("code: message").  An empty parameter is an
 *        absent one; any other bad value is a 400 bad_param naming it.
 *   GET  /api/v1/workflow/jobs/:id/audit
 *        -> 200 {"ok":true,"job_id","audit":[{at, from, to, attempt, code?, ms?}],
 *           "truncated": bool}
 *        The job's state changes (job_audit), oldest first, at most WF_AUDIT_MAX rows
 *        (truncated: there were more).  from/to in this API's words (null -> queued is
 *        the enqueue; succeeded is completed); code is the failure's code (the error's
 *        text before ": ", e.g. trigger_http_error, lease_expired, requeued); ms is the
 *        time the change measured (-> running: the wait since it became runnable; a
 *        finish: the run), whole milliseconds.  Anyone else's job is 404 job_not_found.
 *   GET  /api/v1/workflow/stats      the caller's jobs: counts by phase and status, the
 *        age of the oldest queued job, jobs finished in the last minute
 *
 * The engine's state `succeeded` is this API's status `completed`; the other states
 * (queued, running, failed = retry scheduled, dead) are the same words.
 *
 * Identity: si_auth_identify with the body (POST) or the query (GET); in jwt mode a
 * body user_id that differs from the token's sub is a 403.  Every query filters by
 * the caller's user_id (and by the workflow's tasks). */
#include "workflow.h"
#include "si_auth.h"
#include "si_clock.h"
#include "si_event.h"
#include "si_json.h"
#include "si_log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PREFIX "/api/v1/workflow/"
#define TS(col) SI_SQL_UTC_MS(col)

static const char *const STATUSES[] = { "queued", "running", "completed", "failed", "dead" };

int workflow_init(const struct si_config *cfg, void **fn_config, struct si_error *err)
{
    struct wf_api_config *c = malloc(sizeof *c);
    if (c == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    c->max_attempts = WF_MAX_ATTEMPTS_DEFAULT;
    if (si_env_int(cfg->envp, "WORKFLOW_MAX_ATTEMPTS", 1, WF_MAX_ATTEMPTS_MAX, &c->max_attempts, err) != 0) {
        free(c);
        return -1;
    }
    *fn_config = c;
    return 0;
}

void workflow_cleanup(void *fn_config)
{
    free(fn_config);
}

/* The API's word for an engine state. */
static const char *status_of(const char *state)
{
    return strcmp(state, "succeeded") == 0 ? "completed" : state;
}

/* SQL: the same, for a column. */
#define STATUS_OF(col) "CASE " col " WHEN 'succeeded' THEN 'completed' ELSE " col " END"
#define WF_TASKS "task LIKE 'workflow.phase_'"

/* After the job's own transaction committed: the workflow:phase:queued event
 * and the worker wake-up, in a second transaction that commits asynchronously.
 *
 * Why two.  A transaction that NOTIFYs (every event insert does, through the
 * import_events trigger) holds a database-wide lock from its pre-commit until
 * its commit record is flushed, so enqueues that notified inside their own
 * durable commit took turns on one fsync each and capped the queue near 450
 * jobs/s with the worker waiting on the same lock.  Now the job and its audit
 * row are flushed by an ordinary commit (many enqueues share one fsync), and
 * the notifying transaction holds the lock for microseconds.  The job is
 * durable before the 202; the announcement is not: if it is lost (a crash in
 * the next few hundred milliseconds, or an error, which is logged) the stream
 * misses one "queued" event and the worker finds the job on its next poll
 * (WORKFLOW_POLL_MS).  Each is one statement, one round trip (the SQL
 * function workflow_announce, sql/0008). */
static void announce(struct si_db *db, const char *user, long long job_id, int phase)
{
    struct si_error err;
    si_error_clear(&err);
    char id[24], phase_s[12];
    snprintf(id, sizeof id, "%lld", job_id);
    snprintf(phase_s, sizeof phase_s, "%d", phase);
    const char *p[] = { user, id, phase_s };
    if (si_db_command(db, "SELECT workflow_announce($1::uuid, $2::bigint, $3::smallint)", 3, p, &err) != 0)
        si_log(SI_LOG_WARN, "could not announce a queued job (the worker's poll will find it)",
               json_pack("{s:I, s:s, s:s}", "job", (json_int_t)job_id, "code", err.code ? err.code : "internal",
                         "detail", err.detail));
}

/* Enqueues the job unless (user, phase, sync_id) exists (the engine's job_key, mode
 * keep); fills the job's id/status. */
static int enqueue(struct si_db *db, int max_attempts, const char *user, int phase, const char *sync_id,
                   const json_t *body,
                   long long *out_id, char *out_status, size_t status_len, bool *out_existing,
                   struct si_error *err)
{
    struct jobs_enqueued q;
    const struct jobs_new job = {
        .task = wf_task_name(phase), .payload = body, .user_id = user, .job_key = sync_id,
        .key_mode = JOBS_KEY_KEEP, .max_attempts = max_attempts,
    };
    if (jobs_enqueue(db, &job, &q, err) != 0)
        return -1;
    *out_id = q.id;
    *out_existing = q.existing;
    snprintf(out_status, status_len, "%s", status_of(q.state));
    if (!q.existing)
        announce(db, user, q.id, phase);
    return 0;
}

static int post_phase(struct si_ctx *ctx, struct si_request *req, struct si_response *resp, const char *rest)
{
    json_t *body = NULL, *out = NULL;
    char user[SI_UUID_LEN + 1] = "", status[16] = "";
    struct si_error err;
    si_error_clear(&err);
    int rc = -1;
    int phase = wf_parse_phase(rest);
    if (phase < 0) {
        rc = si_response_error(resp, 400, "invalid_phase", "the phase must be an integer from 1 to 7");
        goto out;
    }
    if (si_json_read_body(req, ctx->scratch, &body, &err) != 0)
        goto fail;
    if (ctx->scratch->len > WF_MAX_PAYLOAD) {
        si_error_set(&err, 413, "payload_too_large", "a workflow request body is limited to %d bytes", WF_MAX_PAYLOAD);
        goto fail;
    }
    const json_t *uid = json_object_get(body, "user_id");
    if (uid == NULL || json_is_null(uid)) {
        si_error_set(&err, 400, "missing_field", "user_id is required");
        goto fail;
    }
    if (!json_is_string(uid) || !si_uuid_valid(json_string_value(uid))) {
        si_error_set(&err, 400, "invalid_field", "user_id must be a UUID");
        goto fail;
    }
    if (si_auth_identify(ctx->config, req, body, (long long)time(NULL), user, &err) != 0)
        goto fail;
    const json_t *sid = json_object_get(body, "sync_id");
    const char *sync_id = NULL;
    if (sid != NULL && !json_is_null(sid)) {
        sync_id = json_string_value(sid);
        if (sync_id == NULL || json_string_length(sid) == 0 || json_string_length(sid) > WF_SYNC_ID_MAX ||
            strlen(sync_id) != json_string_length(sid)) {
            si_error_set(&err, 400, "invalid_field", "sync_id must be a string of 1..%d bytes", WF_SYNC_ID_MAX);
            goto fail;
        }
    }
    if (wf_validate_phase_fields(phase, body, &err) != 0)
        goto fail;
    long long id = 0;
    bool existing = false;
    if (enqueue(ctx->db, ((const struct wf_api_config *)ctx->fn_config)->max_attempts, user, phase, sync_id, body, &id, status, sizeof status, &existing, &err) != 0)
        goto fail;
    out = json_pack("{s:b, s:I, s:i, s:s, s:b}", "ok", 1, "job_id", (json_int_t)id, "phase", phase,
                    "status", status, "existing", existing);
    if (out == NULL) {
        si_error_set(&err, 500, "internal", "out of memory");
        goto fail;
    }
    rc = si_response_json(resp, 202, out);
    goto out;
fail:
    rc = si_response_from_error(resp, &err);
out:
    json_decref(out);
    json_decref(body);
    return rc;
}

static json_t *text_or_null(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? json_null() : json_string(PQgetvalue(res, row, col));
}

static int get_job(struct si_ctx *ctx, struct si_request *req, struct si_response *resp, const char *rest)
{
    char user[SI_UUID_LEN + 1] = "";
    struct si_error err;
    si_error_clear(&err);
    PGresult *res = NULL;
    json_t *out = NULL, *result = NULL;
    int rc = -1;
    size_t n = strspn(rest, "0123456789");
    if (n == 0 || n > 18 || rest[n] != '\0') {
        rc = si_response_error(resp, 400, "invalid_job_id", "a job id is a positive integer");
        goto out;
    }
    if (si_auth_identify(ctx->config, req, NULL, (long long)time(NULL), user, &err) != 0)
        goto fail;
    const char *p[] = { rest, user };
    res = si_db_exec(ctx->db,
        "SELECT id, substr(task, 15), " STATUS_OF("state") ", attempts, max_attempts, result::text, error, job_key, "
        TS("created_at") ", " TS("started_at") ", " TS("finished_at") " "
        "FROM jobs WHERE id = $1::bigint AND user_id = $2 AND " WF_TASKS, 2, p, &err);
    if (res == NULL)
        goto fail;
    if (PQntuples(res) != 1) {
        si_error_set(&err, 404, "job_not_found", "no such job");
        goto fail;
    }
    if (!PQgetisnull(res, 0, 5)) {
        json_error_t jerr;
        result = json_loads(PQgetvalue(res, 0, 5), 0, &jerr);
        if (result == NULL) {
            si_error_set(&err, 500, "internal", "a stored job result is not JSON");
            goto fail;
        }
    }
    long long job_id = 0;
    int phase = 0, attempts = 0, max_attempts = 0;
    if (si_db_get_int64(res, 0, 0, &job_id) != 0 || si_db_get_int(res, 0, 1, &phase) != 0 ||
        si_db_get_int(res, 0, 3, &attempts) != 0 || si_db_get_int(res, 0, 4, &max_attempts) != 0) {
        si_db_bad_value(&err, "workflow_jobs");
        goto fail;
    }
    out = json_pack("{s:b, s:I, s:i, s:s, s:i, s:i, s:o, s:o, s:o, s:o, s:o, s:o}", "ok", 1,
                    "job_id", (json_int_t)job_id, "phase", phase, "status", PQgetvalue(res, 0, 2),
                    "attempts", attempts, "max_attempts", max_attempts,
                    "result", result != NULL ? json_incref(result) : json_null(),
                    "error", text_or_null(res, 0, 6), "sync_id", text_or_null(res, 0, 7),
                    "created_at", text_or_null(res, 0, 8), "started_at", text_or_null(res, 0, 9),
                    "finished_at", text_or_null(res, 0, 10));
    if (out == NULL) {
        si_error_set(&err, 500, "internal", "out of memory");
        goto fail;
    }
    rc = si_response_json(resp, 200, out);
    goto out;
fail:
    rc = si_response_from_error(resp, &err);
out:
    json_decref(result);
    json_decref(out);
    PQclear(res);
    return rc;
}

static int get_stats(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    char user[SI_UUID_LEN + 1] = "";
    struct si_error err;
    si_error_clear(&err);
    PGresult *res = NULL, *res2 = NULL;
    json_t *out = NULL, *phases = NULL, *totals = NULL;
    int rc = -1;
    if (si_auth_identify(ctx->config, req, NULL, (long long)time(NULL), user, &err) != 0)
        goto fail;
    const char *p[] = { user };
    /* Counts for a dashboard: the read connection (a standby when one is configured: README). */
    res = si_db_exec(ctx->read_db, "SELECT substr(task, 15), " STATUS_OF("state") ", count(*) FROM jobs "
                              "WHERE user_id = $1 AND " WF_TASKS " GROUP BY task, state", 1, p, &err);
    if (res == NULL)
        goto fail;
    res2 = si_db_exec(ctx->read_db,
        "SELECT (SELECT extract(epoch FROM now() - min(created_at)) * 1000 FROM jobs "
        "          WHERE user_id = $1 AND " WF_TASKS " AND state = 'queued'), "
        "       (SELECT count(*) FROM jobs WHERE user_id = $1 AND " WF_TASKS " "
        "          AND finished_at > now() - interval '1 minute'), "
        "       (SELECT count(*) FROM jobs WHERE user_id = $1 AND " WF_TASKS " AND state = 'succeeded' "
        "          AND finished_at > now() - interval '1 minute')", 1, p, &err);
    if (res2 == NULL)
        goto fail;
    phases = json_object();
    totals = json_object();
    if (phases == NULL || totals == NULL)
        goto oom;
    for (size_t s = 0; s < sizeof STATUSES / sizeof *STATUSES; s++)
        if (json_object_set_new(totals, STATUSES[s], json_integer(0)) != 0)
            goto oom;
    for (int ph = WF_PHASE_MIN; ph <= WF_PHASE_MAX; ph++) {
        json_t *o = json_object();
        char key[4];
        snprintf(key, sizeof key, "%d", ph);
        if (o == NULL || json_object_set_new(phases, key, o) != 0)
            goto oom;
        for (size_t s = 0; s < sizeof STATUSES / sizeof *STATUSES; s++)
            if (json_object_set_new(o, STATUSES[s], json_integer(0)) != 0)
                goto oom;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        json_t *o = json_object_get(phases, PQgetvalue(res, r, 0));
        const char *st = PQgetvalue(res, r, 1);
        long long c = 0;
        if (si_db_get_int64(res, r, 2, &c) != 0) {
            si_db_bad_value(&err, "workflow_jobs count");
            goto fail;
        }
        json_t *t = json_object_get(totals, st);
        if (o == NULL || t == NULL)
            continue;
        if (json_object_set_new(o, st, json_integer(c)) != 0 ||
            json_integer_set(t, json_integer_value(t) + c) != 0)
            goto oom;
    }
    long long finished = 0, completed = 0;
    if (si_db_get_int64(res2, 0, 1, &finished) != 0 || si_db_get_int64(res2, 0, 2, &completed) != 0) {
        si_db_bad_value(&err, "workflow_jobs counts");
        goto fail;
    }
    out = json_pack("{s:b, s:O, s:O, s:o, s:I, s:I}", "ok", 1, "phases", phases, "totals", totals,
                    "oldest_queued_age_ms",
                    PQgetisnull(res2, 0, 0) ? json_null() : json_integer((json_int_t)atof(PQgetvalue(res2, 0, 0))),
                    "finished_last_minute", (json_int_t)finished, "completed_last_minute", (json_int_t)completed);
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
    json_decref(phases);
    json_decref(totals);
    PQclear(res);
    PQclear(res2);
    return rc;
}

/* A parameter's value, NULL when absent or empty. */
static const char *param(const struct si_request *req, const char *name)
{
    const char *v = si_request_param(req, name);
    return v == NULL || *v == '\0' ? NULL : v;
}

/* The engine's state for an API status word, or NULL when it is none. */
static const char *state_of(const char *status)
{
    for (size_t s = 0; s < sizeof STATUSES / sizeof *STATUSES; s++)
        if (strcmp(status, STATUSES[s]) == 0)
            return strcmp(status, "completed") == 0 ? "succeeded" : status;
    return NULL;
}

/* Adds key: the column's text to o unless it is NULL.  0 or -1 (out of memory). */
static int set_text_if(json_t *o, const char *key, const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return 0;
    return json_object_set_new(o, key, json_string(PQgetvalue(res, row, col)));
}

static int list_jobs(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    char user[SI_UUID_LEN + 1] = "", limit_s[8], task[24], cursor_s[24];
    struct si_error err;
    si_error_clear(&err);
    PGresult *res = NULL;
    json_t *out = NULL, *jobs = NULL;
    int rc = -1;
    const char *phase_p = param(req, "phase"), *status_p = param(req, "status"), *limit_p = param(req, "limit"),
               *cursor_p = param(req, "cursor"), *state = NULL;
    long long limit = WF_LIST_DEFAULT, cursor = 0;
    int phase = phase_p != NULL ? wf_parse_phase(phase_p) : 0;
    if (si_auth_identify(ctx->config, req, NULL, (long long)time(NULL), user, &err) != 0)
        goto fail;
    if (phase < 0)
        si_error_set(&err, 400, "bad_param", "phase must be an integer from %d to %d", WF_PHASE_MIN, WF_PHASE_MAX);
    else if (status_p != NULL && (state = state_of(status_p)) == NULL)
        si_error_set(&err, 400, "bad_param", "status must be queued, running, completed, failed or dead");
    else if (limit_p != NULL && si_parse_long(limit_p, 1, WF_LIST_MAX, &limit) != 0)
        si_error_set(&err, 400, "bad_param", "limit must be a whole number from 1 to %d", WF_LIST_MAX);
    else if (cursor_p != NULL && (strspn(cursor_p, "0123456789") != strlen(cursor_p) ||
                                  si_parse_long(cursor_p, 1, 999999999999999999LL, &cursor) != 0))
        si_error_set(&err, 400, "bad_param", "cursor must be the next_cursor of an earlier page");
    if (err.status != 0)
        goto fail;
    snprintf(limit_s, sizeof limit_s, "%lld", limit + 1);
    if (phase > 0)
        snprintf(task, sizeof task, "%s", wf_task_name(phase));
    if (cursor > 0)
        snprintf(cursor_s, sizeof cursor_s, "%lld", cursor);
    const char *p[] = { user, limit_s, phase > 0 ? task : NULL, state, cursor > 0 ? cursor_s : NULL };
    /* A history page: the read connection (a standby when one is configured: README). */
    res = si_db_exec(ctx->read_db,
        "SELECT j.id, substr(j.task, 15), " STATUS_OF("j.state") ", j.attempts, j.max_attempts, j.job_key, "
        TS("j.created_at") ", " TS("coalesce(a.at, j.created_at)") ", "
        "CASE WHEN j.state IN ('queued', 'failed') THEN " TS("j.run_at") " END, j.error "
        "FROM jobs j LEFT JOIN LATERAL (SELECT at FROM job_audit WHERE job_id = j.id ORDER BY id DESC LIMIT 1) a "
        "  ON true "
        "WHERE j.user_id = $1 AND " WF_TASKS " AND ($3::text IS NULL OR j.task = $3) "
        "  AND ($4::text IS NULL OR j.state = $4) AND ($5::bigint IS NULL OR j.id < $5) "
        "ORDER BY j.id DESC LIMIT $2::int", 5, p, &err);
    if (res == NULL)
        goto fail;
    int rows = PQntuples(res);
    bool more = rows > limit;
    if (more)
        rows = (int)limit;
    if ((jobs = json_array()) == NULL)
        goto oom;
    long long last = 0;
    for (int r = 0; r < rows; r++) {
        int ph = 0, attempts = 0, max_attempts = 0;
        if (si_db_get_int64(res, r, 0, &last) != 0 || si_db_get_int(res, r, 1, &ph) != 0 ||
            si_db_get_int(res, r, 3, &attempts) != 0 || si_db_get_int(res, r, 4, &max_attempts) != 0) {
            si_db_bad_value(&err, "jobs");
            goto fail;
        }
        json_t *o = json_pack("{s:I, s:i, s:s, s:i, s:i, s:o, s:s, s:s}", "job_id", (json_int_t)last, "phase", ph,
                              "status", PQgetvalue(res, r, 2), "attempts", attempts, "max_attempts", max_attempts,
                              "sync_id", text_or_null(res, r, 5), "created_at", PQgetvalue(res, r, 6),
                              "updated_at", PQgetvalue(res, r, 7));
        if (o == NULL || json_array_append_new(jobs, o) != 0 || set_text_if(o, "run_at", res, r, 8) != 0 ||
            set_text_if(o, "last_error", res, r, 9) != 0)
            goto oom;
    }
    char next[24];
    snprintf(next, sizeof next, "%lld", last);
    out = json_pack("{s:b, s:O, s:o}", "ok", 1, "jobs", jobs, "next_cursor", more ? json_string(next) : json_null());
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
    json_decref(jobs);
    PQclear(res);
    return rc;
}

/* The code of an audit row's error: its text before ": " (the whole text when none). */
static json_t *code_of(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return NULL;
    const char *e = PQgetvalue(res, row, col), *colon = strstr(e, ": ");
    return colon != NULL ? json_stringn(e, (size_t)(colon - e)) : json_string(e);
}

static int job_audit(struct si_ctx *ctx, struct si_request *req, struct si_response *resp, const char *id)
{
    char user[SI_UUID_LEN + 1] = "", limit_s[12];
    struct si_error err;
    si_error_clear(&err);
    PGresult *res = NULL;
    json_t *out = NULL, *audit = NULL;
    int rc = -1;
    if (si_auth_identify(ctx->config, req, NULL, (long long)time(NULL), user, &err) != 0)
        goto fail;
    snprintf(limit_s, sizeof limit_s, "%d", WF_AUDIT_MAX + 1);
    const char *p[] = { id, user, limit_s };
    /* One row with NULLs for a job without audit rows; none for anyone else's job. */
    res = si_db_exec(ctx->db,
        "SELECT j.id, a.id, " TS("a.at") ", "
        "  CASE a.from_state WHEN 'succeeded' THEN 'completed' ELSE a.from_state END, "
        "  CASE a.to_state WHEN 'succeeded' THEN 'completed' ELSE a.to_state END, "
        "  a.attempt, a.error, round(a.duration_ms)::bigint "
        "FROM jobs j LEFT JOIN LATERAL (SELECT id, at, from_state, to_state, attempt, error, duration_ms "
        "  FROM job_audit WHERE job_id = j.id AND user_id = $2 ORDER BY id LIMIT $3::int) a ON true "
        "WHERE j.id = $1::bigint AND j.user_id = $2 AND j." WF_TASKS " ORDER BY a.id", 3, p, &err);
    if (res == NULL)
        goto fail;
    if (PQntuples(res) == 0) {
        si_error_set(&err, 404, "job_not_found", "no such job");
        goto fail;
    }
    long long job_id = 0;
    if (si_db_get_int64(res, 0, 0, &job_id) != 0) {
        si_db_bad_value(&err, "jobs");
        goto fail;
    }
    if ((audit = json_array()) == NULL)
        goto oom;
    int rows = PQntuples(res);
    bool truncated = rows > WF_AUDIT_MAX;
    if (truncated)
        rows = WF_AUDIT_MAX;
    for (int r = 0; r < rows && !PQgetisnull(res, r, 1); r++) {
        int attempt = 0;
        long long ms = 0;
        if (si_db_get_int(res, r, 5, &attempt) != 0 || (!PQgetisnull(res, r, 7) && si_db_get_int64(res, r, 7, &ms) != 0)) {
            si_db_bad_value(&err, "job_audit");
            goto fail;
        }
        json_t *o = json_pack("{s:s, s:o, s:s, s:i}", "at", PQgetvalue(res, r, 2), "from", text_or_null(res, r, 3),
                              "to", PQgetvalue(res, r, 4), "attempt", attempt);
        if (o == NULL || json_array_append_new(audit, o) != 0)
            goto oom;
        json_t *code = code_of(res, r, 6);
        if (!PQgetisnull(res, r, 6) && (code == NULL || json_object_set_new(o, "code", code) != 0))
            goto oom;
        if (!PQgetisnull(res, r, 7) && json_object_set_new(o, "ms", json_integer((json_int_t)ms)) != 0)
            goto oom;
    }
    out = json_pack("{s:b, s:I, s:O, s:b}", "ok", 1, "job_id", (json_int_t)job_id, "audit", audit, "truncated", truncated);
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
    json_decref(audit);
    PQclear(res);
    return rc;
}

/* jobs/<id>/audit: the id's length, or 0 when tail is not of that form. */
static size_t audit_path(const char *tail)
{
    size_t n = strspn(tail, "0123456789");
    return n > 0 && n <= 18 && strcmp(tail + n, "/audit") == 0 ? n : 0;
}

int workflow_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    const char *path = req->path;
    bool get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
    if (strncmp(path, PREFIX, strlen(PREFIX)) != 0)
        return si_response_error(resp, 404, "not_found", "no such workflow endpoint");
    const char *tail = path + strlen(PREFIX);
    if (strncmp(tail, "phase/", 6) == 0) {
        if (!post)
            return si_response_error(resp, 405, "method_not_allowed", "use POST for %s", "/api/v1/workflow/phase/:n");
        return post_phase(ctx, req, resp, tail + 6);
    }
    if (strcmp(tail, "phase") == 0)
        return si_response_error(resp, 400, "invalid_phase", "the phase must be an integer from 1 to 7");
    if (strcmp(tail, "jobs") == 0) {
        if (!get)
            return si_response_error(resp, 405, "method_not_allowed", "use GET for %s", "/api/v1/workflow/jobs");
        return list_jobs(ctx, req, resp);
    }
    size_t id_len = strncmp(tail, "jobs/", 5) == 0 ? audit_path(tail + 5) : 0;
    if (id_len > 0) {
        if (!get)
            return si_response_error(resp, 405, "method_not_allowed", "use GET for %s", "/api/v1/workflow/jobs/:id/audit");
        char id[24];
        snprintf(id, sizeof id, "%.*s", (int)id_len, tail + 5);
        return job_audit(ctx, req, resp, id);
    }
    if (strncmp(tail, "jobs/", 5) == 0) {
        if (!get)
            return si_response_error(resp, 405, "method_not_allowed", "use GET for %s", "/api/v1/workflow/jobs/:id");
        return get_job(ctx, req, resp, tail + 5);
    }
    if (strcmp(tail, "stats") == 0) {
        if (!get)
            return si_response_error(resp, 405, "method_not_allowed", "use GET for %s", "/api/v1/workflow/stats");
        return get_stats(ctx, req, resp);
    }
    return si_response_error(resp, 404, "not_found", "no such workflow endpoint");
}
