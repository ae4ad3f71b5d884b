/* main_workflow_worker.c: smartimport-workflow-worker, the daemon that runs workflow jobs.
 *
 * Not a FastCGI responder: a plain process that scripts/up starts in the
 * background.  Several may run at once, on any host; they coordinate only
 * through PostgreSQL:
 *   - claiming: each of WORKFLOW_WORKER_THREADS threads (own si_db connection)
 *     claims one runnable job at a time with FOR UPDATE SKIP LOCKED, so no two
 *     workers ever hold the same job and none waits for another's locks;
 *   - the lease: a claimed job is leased to this process (lease_owner =
 *     host:pid:random) until lease_until; a heartbeat extends the leases of the
 *     jobs in hand every WORKFLOW_LEASE_MS / 3.  If the process dies (kill -9),
 *     its leases run out and any worker claims those jobs again.  A job is
 *     completed only by the lease holder (every finishing statement checks
 *     lease_owner under a row lock), and the phase handlers are idempotent, so
 *     a job that runs twice has its effects once;
 *   - waking: one extra connection LISTENs on channel 'workflow_jobs' (the
 *     enqueue NOTIFYs it) and wakes idle threads; without notices they look
 *     again every WORKFLOW_POLL_MS (retries become due that way);
 *   - failures: retried after WORKFLOW_BACKOFF_MS * 2^(attempt-1) (capped at
 *     WORKFLOW_BACKOFF_MAX_MS) until max_attempts, then the job is `dead`.
 * Every transition writes a workflow_audit row (with the time spent) and an
 * event (workflow:phase:complete|retry|dead) in the same transaction.
 *
 * The worker's transactions commit asynchronously (synchronous_commit off on
 * its connections).  Every event insert NOTIFYs, and PostgreSQL holds one
 * database-wide lock from a notifying transaction's pre-commit until its
 * commit record is flushed, so with synchronous commits the worker and the
 * enqueue API took turns on one fsync each (~450 transitions/s in all).
 * Losing the last few hundred milliseconds of worker commits in a crash is
 * harmless here: a lost claim leaves the job queued, a lost completion leaves
 * it running with a lease that expires, and the job runs again -- exactly the
 * kill -9 case, which the idempotent phase handlers already make safe.  The
 * enqueue API keeps synchronous commits: its 202 is a promise.
 *
 * SIGTERM/SIGINT: stop claiming, finish the jobs in hand, exit 0. */
#include "workflow.h"
#include "si_clock.h"
#include "si_config.h"
#include "si_event.h"
#include "si_log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

extern char **environ;

#define WORKER_PG_OPTIONS "-c synchronous_commit=off"   /* see the top of this file */

#define TS(col) SI_SQL_UTC_US(col)

struct shared {
    const struct si_config *cfg;
    const struct wf_settings *s;
    char owner[160];
    char lease_ms[24];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned long wake_seq;     /* bumped on every NOTIFY (under mu) */
    atomic_bool stopping;       /* job threads: stop claiming */
    atomic_bool listener_stop;  /* after the job threads have finished */
    int stop_pipe[2];
};

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void wake_all(struct shared *sh)
{
    pthread_mutex_lock(&sh->mu);
    sh->wake_seq++;
    pthread_cond_broadcast(&sh->cv);
    pthread_mutex_unlock(&sh->mu);
}

/* ---- claiming ----------------------------------------------------------------------- */

/* 1 = claimed into *job, 0 = nothing runnable, -1 = database error. */
static int claim(struct shared *sh, struct si_db *db, struct wf_job *job, struct si_error *err)
{
    /* The one statement in smartimport that is not filtered by user_id: the queue
     * is shared, and a worker runs every user's jobs.  Everything it does to a job
     * afterwards is scoped by the job's own user_id. */
    const char *p[] = { sh->owner, sh->lease_ms };
    PGresult *res = si_db_exec(db,
        "WITH c AS (SELECT id, status, run_after FROM workflow_jobs "
        "    WHERE status IN ('queued', 'failed', 'running') AND run_after <= now() "
        "    ORDER BY run_after, id FOR UPDATE SKIP LOCKED LIMIT 1), "
        "  u AS (UPDATE workflow_jobs j SET status = 'running', lease_owner = $1, "
        "      lease_until = now() + $2::bigint * interval '1 millisecond', "
        "      run_after = now() + $2::bigint * interval '1 millisecond', "
        "      attempts = j.attempts + 1, started_at = coalesce(j.started_at, now()) "
        "    FROM c WHERE j.id = c.id "
        "    RETURNING j.id, j.user_id, j.phase, j.sync_id, j.payload, j.attempts, j.max_attempts, j.created_at, "
        "      c.status AS prev, extract(epoch FROM now() - c.run_after) * 1000 AS waited_ms), "
        "  a AS (INSERT INTO workflow_audit (job_id, user_id, phase, from_status, to_status, attempt, worker, "
        "      duration_ms, error) "
        "    SELECT id, user_id, phase, prev, 'running', attempts, $1, waited_ms, "
        "      CASE WHEN prev = 'running' THEN 'lease_expired' END FROM u) "
        "SELECT id, user_id, phase, sync_id, payload::text, attempts, max_attempts, " TS("created_at") ", prev "
        "FROM u", 2, p, err);
    if (res == NULL)
        return -1;
    int rc = 0;
    if (PQntuples(res) == 1) {
        json_error_t jerr;
        memset(job, 0, sizeof *job);
        bool numbers_ok = si_db_get_int64(res, 0, 0, &job->id) == 0 && si_db_get_int(res, 0, 2, &job->phase) == 0 &&
                          si_db_get_int(res, 0, 5, &job->attempts) == 0 &&
                          si_db_get_int(res, 0, 6, &job->max_attempts) == 0;
        snprintf(job->user_id, sizeof job->user_id, "%s", PQgetvalue(res, 0, 1));
        job->sync_id = PQgetisnull(res, 0, 3) ? NULL : strdup(PQgetvalue(res, 0, 3));
        job->payload = json_loads(PQgetvalue(res, 0, 4), 0, &jerr);
        snprintf(job->created_at, sizeof job->created_at, "%s", PQgetvalue(res, 0, 7));
        snprintf(job->prev_status, sizeof job->prev_status, "%s", PQgetvalue(res, 0, 8));
        rc = 1;
        if (!numbers_ok || job->payload == NULL || (!PQgetisnull(res, 0, 3) && job->sync_id == NULL) ||
            job->phase < WF_PHASE_MIN || job->phase > WF_PHASE_MAX) {
            si_error_set(err, 500, "invalid_job", "a claimed job could not be read");
            rc = 2;   /* claimed but unusable: fail it */
        }
    }
    PQclear(res);
    return rc;
}

/* Locks the job row if this worker still holds its lease.  1 = held, 0 = lost. */
static int lock_held(struct shared *sh, struct si_db *db, const struct wf_job *job, struct si_error *err)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", job->id);
    const char *p[] = { id, job->user_id, sh->owner };
    PGresult *res = si_db_exec(db, "SELECT 1 FROM workflow_jobs WHERE id = $1::bigint AND user_id = $2 "
                                   "AND lease_owner = $3 AND status = 'running' FOR UPDATE", 3, p, err);
    if (res == NULL)
        return -1;
    int held = PQntuples(res) == 1;
    PQclear(res);
    return held;
}

static int audit(struct shared *sh, struct si_db *db, const struct wf_job *job, const char *to, double ms,
                 const char *error, struct si_error *err)
{
    char id[24], phase[4], attempt[12], dur[32];
    snprintf(id, sizeof id, "%lld", job->id);
    snprintf(phase, sizeof phase, "%d", job->phase);
    snprintf(attempt, sizeof attempt, "%d", job->attempts);
    snprintf(dur, sizeof dur, "%.3f", ms);
    const char *p[] = { id, job->user_id, phase, to, attempt, sh->owner, dur, error };
    return si_db_command(db,
        "INSERT INTO workflow_audit (job_id, user_id, phase, from_status, to_status, attempt, worker, duration_ms, error) "
        "VALUES ($1::bigint, $2, $3::smallint, 'running', $4, $5::int, $6, $7::float8, $8)", 8, p, err);
}

/* Success: effects, completed + result, audit and event in one transaction. */
static int complete(struct shared *sh, struct si_db *db, const struct wf_job *job, const json_t *trigger,
                    const struct timespec *t0, bool *lost, struct si_error *err)
{
    int rc = -1, held;
    json_t *result = NULL, *ev = NULL;
    char *result_text = NULL, *ev_text = NULL, id[24];
    if (si_db_begin(db, err) != 0 || (held = lock_held(sh, db, job, err)) < 0)
        goto out;
    if (!held) {
        *lost = true;
        rc = 0;
        goto out;
    }
    if (wf_phase_apply(db, job, trigger, &result, err) != 0)
        goto out;
    if ((result_text = json_dumps(result, JSON_COMPACT)) == NULL) {
        si_error_set(err, 500, "internal", "out of memory");
        goto out;
    }
    snprintf(id, sizeof id, "%lld", job->id);
    double ms = ms_since(t0);
    /* the job row, its audit row and its event in one statement (one round
     * trip instead of three: the worker's cost is mostly round trips) */
    ev = json_pack("{s:I, s:i, s:i, s:f}", "jobId", (json_int_t)job->id, "phase", job->phase,
                   "attempt", job->attempts, "ms", ms);
    if (ev == NULL || !si_event_payload_safe(ev) || (ev_text = json_dumps(ev, JSON_COMPACT)) == NULL) {
        si_error_set(err, 500, "internal", "could not build the completion event");
        goto out;
    }
    char phase[4], attempt[12], dur[32];
    snprintf(phase, sizeof phase, "%d", job->phase);
    snprintf(attempt, sizeof attempt, "%d", job->attempts);
    snprintf(dur, sizeof dur, "%.3f", ms);
    const char *p[] = { id, sh->owner, result_text, job->user_id, phase, attempt, dur, ev_text };
    PGresult *res = si_db_exec(db,
        "WITH done AS (UPDATE workflow_jobs SET status = 'completed', result = $3::jsonb, error = NULL, "
        "    finished_at = now(), lease_owner = NULL, lease_until = NULL "
        "    WHERE id = $1::bigint AND lease_owner = $2 AND user_id = $4 RETURNING id), "
        "  audit AS (INSERT INTO workflow_audit (job_id, user_id, phase, from_status, to_status, attempt, worker, "
        "    duration_ms) SELECT id, $4, $5::smallint, 'running', 'completed', $6::int, $2, $7::float8 FROM done) "
        "INSERT INTO import_events (user_id, import_id, event_type, payload) "
        "SELECT $4::uuid, NULL, 'workflow:phase:complete', $8::jsonb FROM done", 8, p, err);
    if (res == NULL)
        goto out;
    bool one = strcmp(PQcmdTuples(res), "1") == 0;
    PQclear(res);
    if (!one) {   /* cannot happen under the row lock taken above */
        si_error_set(err, 500, "internal", "the job's lease changed under its lock");
        goto out;
    }
    if (si_db_commit(db, err) != 0)
        goto out;
    rc = 0;
out:
    si_db_rollback(db);   /* no-op after a commit */
    free(result_text);
    free(ev_text);
    json_decref(ev);
    json_decref(result);
    return rc;
}

/* Failure: failed (retry after backoff) or dead, with audit and event. */
static void fail(struct shared *sh, struct si_db *db, const struct wf_job *job, const struct si_error *why,
                 const struct timespec *t0, bool no_retry)
{
    struct si_error err;
    si_error_clear(&err);
    const char *code = why->code != NULL ? why->code : "internal";
    bool dead = no_retry || job->attempts >= job->max_attempts;
    long long delay = dead ? 0 : wf_backoff_ms(job->attempts, sh->s->backoff_ms, sh->s->backoff_max_ms);
    char id[24], delay_s[24], text[SI_ERROR_MESSAGE_MAX + 64];
    snprintf(id, sizeof id, "%lld", job->id);
    snprintf(delay_s, sizeof delay_s, "%lld", delay);
    snprintf(text, sizeof text, "%s: %s", code, why->message);
    double ms = ms_since(t0);
    int held;
    if (si_db_begin(db, &err) != 0 || (held = lock_held(sh, db, job, &err)) < 0)
        goto out;
    if (!held)
        goto out;
    const char *p[] = { id, sh->owner, text, delay_s };
    int rc = dead
        ? si_db_command(db, "UPDATE workflow_jobs SET status = 'dead', error = $3, finished_at = now(), "
                            "lease_owner = NULL, lease_until = NULL WHERE id = $1::bigint AND lease_owner = $2",
                        3, p, &err)
        : si_db_command(db, "UPDATE workflow_jobs SET status = 'failed', error = $3, lease_owner = NULL, "
                            "lease_until = NULL, run_after = now() + $4::bigint * interval '1 millisecond' "
                            "WHERE id = $1::bigint AND lease_owner = $2", 4, p, &err);
    if (rc != 0 || audit(sh, db, job, dead ? "dead" : "failed", ms, text, &err) != 0)
        goto out;
    json_t *ev = dead ? json_pack("{s:I, s:i, s:i, s:s}", "jobId", (json_int_t)job->id, "phase", job->phase,
                                  "attempts", job->attempts, "code", code)
                      : json_pack("{s:I, s:i, s:i, s:I, s:s}", "jobId", (json_int_t)job->id, "phase", job->phase,
                                  "attempt", job->attempts, "delayMs", (json_int_t)delay, "code", code);
    if (si_event_record(db, job->user_id, NULL, dead ? "workflow:phase:dead" : "workflow:phase:retry", ev, NULL,
                        &err) != 0 ||
        si_db_commit(db, &err) != 0)
        goto out;
    si_log(dead ? SI_LOG_WARN : SI_LOG_INFO, dead ? "job dead" : "job failed; will retry",
           json_pack("{s:I, s:i, s:i, s:s, s:I, s:s}", "job", (json_int_t)job->id, "phase", job->phase,
                     "attempt", job->attempts, "code", code, "delay_ms", (json_int_t)delay, "detail", why->detail));
    return;
out:
    si_db_rollback(db);
    if (err.code != NULL)
        si_log(SI_LOG_ERROR, "could not record a job failure (its lease will expire)",
               json_pack("{s:I, s:s, s:s}", "job", (json_int_t)job->id, "code", err.code, "detail", err.detail));
}

static void run_job(struct shared *sh, struct si_db *db, const struct wf_job *job)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct si_error err;
    si_error_clear(&err);
    json_t *trigger = NULL;
    bool lost = false;
    if (job->attempts > job->max_attempts) {
        /* Claimed again after its holders kept dying: stop here. */
        si_error_set(&err, 500, "lease_expired", "the job's worker stopped %d times", job->attempts - 1);
        fail(sh, db, job, &err, &t0, true);
        return;
    }
    if (wf_phase_trigger(sh->s, job, &trigger, &err) != 0 || complete(sh, db, job, trigger, &t0, &lost, &err) != 0) {
        fail(sh, db, job, &err, &t0, false);
    } else if (lost) {
        si_log(SI_LOG_WARN, "lease lost before completion; another worker has the job",
               json_pack("{s:I}", "job", (json_int_t)job->id));
    }
    json_decref(trigger);
}

struct thread_arg {
    struct shared *sh;
    int id;
};

static void *job_thread(void *arg)
{
    struct thread_arg *ta = arg;
    struct shared *sh = ta->sh;
    struct si_db db;
    si_db_init(&db, sh->cfg->database_url, "smartimport-workflow-worker", sh->cfg->db_connect_timeout_ms,
               sh->cfg->db_query_timeout_ms);
    db.options = WORKER_PG_OPTIONS;
    db.prepare = true;   /* the same few short statements for every job */
    bool warned = false;
    while (!atomic_load(&sh->stopping)) {
        pthread_mutex_lock(&sh->mu);
        unsigned long seq = sh->wake_seq;
        pthread_mutex_unlock(&sh->mu);

        struct wf_job job;
        struct si_error err;
        si_error_clear(&err);
        memset(&job, 0, sizeof job);
        int got = claim(sh, &db, &job, &err);
        if (got == 1) {
            warned = false;
            run_job(sh, &db, &job);
            wf_job_clear(&job);
            continue;
        }
        if (got == 2) {
            struct timespec t0;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            fail(sh, &db, &job, &err, &t0, true);
            wf_job_clear(&job);
            continue;
        }
        if (got < 0 && !warned) {
            si_log(SI_LOG_ERROR, "claiming failed; retrying",
                   json_pack("{s:i, s:s, s:s}", "thread", ta->id, "code", err.code ? err.code : "", "detail", err.detail));
            warned = true;
        }
        /* Nothing runnable: sleep until a NOTIFY or the poll interval. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        long long ns = until.tv_nsec + (sh->s->poll_ms % 1000) * 1000000LL;
        until.tv_sec += (time_t)(sh->s->poll_ms / 1000 + ns / 1000000000LL);
        until.tv_nsec = (long)(ns % 1000000000LL);
        pthread_mutex_lock(&sh->mu);
        while (seq == sh->wake_seq && !atomic_load(&sh->stopping))
            if (pthread_cond_timedwait(&sh->cv, &sh->mu, &until) == ETIMEDOUT)
                break;
        pthread_mutex_unlock(&sh->mu);
    }
    si_db_cleanup(&db);
    return NULL;
}

/* ---- LISTEN and the lease heartbeat ------------------------------------------------- */

static PGconn *listen_connect(struct shared *sh)
{
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%d", (sh->cfg->db_connect_timeout_ms + 999) / 1000);
    const char *keys[] = { "dbname", "connect_timeout", "application_name", NULL };
    const char *vals[] = { sh->cfg->database_url, timeout, "smartimport-workflow-listen", NULL };
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c == NULL)
        return NULL;
    PGresult *r = NULL;
    if (PQstatus(c) != CONNECTION_OK || (r = PQexec(c, "LISTEN workflow_jobs")) == NULL ||
        PQresultStatus(r) != PGRES_COMMAND_OK) {
        PQclear(r);
        PQfinish(c);
        return NULL;
    }
    PQclear(r);
    return c;
}

static void heartbeat(struct shared *sh, PGconn *c)
{
    const char *p[] = { sh->owner, sh->lease_ms };
    PGresult *r = PQexecParams(c,
        "UPDATE workflow_jobs SET lease_until = now() + $2::bigint * interval '1 millisecond', "
        "run_after = now() + $2::bigint * interval '1 millisecond' "
        "WHERE lease_owner = $1 AND status = 'running'", 2, NULL, p, NULL, NULL, 0);
    if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK)
        si_log(SI_LOG_WARN, "lease heartbeat failed", NULL);
    PQclear(r);
}

static void *listen_thread(void *arg)
{
    struct shared *sh = arg;
    PGconn *c = NULL;
    struct timespec last_beat;
    clock_gettime(CLOCK_MONOTONIC, &last_beat);
    double beat_ms = (double)sh->s->lease_ms / 3.0;
    while (!atomic_load(&sh->listener_stop)) {
        if (c == NULL || PQstatus(c) != CONNECTION_OK) {
            if (c != NULL)
                PQfinish(c);
            c = listen_connect(sh);
            if (c != NULL)
                wake_all(sh);  /* notices may have been missed meanwhile */
        }
        int timeout = (int)(beat_ms - ms_since(&last_beat));
        if (timeout < 0)
            timeout = 0;
        if (c == NULL && timeout > 500)
            timeout = 500;
        struct pollfd fds[2] = { { .fd = sh->stop_pipe[0], .events = POLLIN },
                                 { .fd = c != NULL ? PQsocket(c) : -1, .events = POLLIN } };
        int n = poll(fds, 2, timeout);
        if (n < 0 && errno != EINTR)
            si_logf(SI_LOG_ERROR, "poll: %s", strerror(errno));
        if (c != NULL && n > 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            bool got = false;
            if (PQconsumeInput(c) == 0) {
                PQfinish(c);
                c = NULL;
            } else {
                PGnotify *nt;
                while ((nt = PQnotifies(c)) != NULL) {
                    got = true;
                    PQfreemem(nt);
                }
            }
            if (got)
                wake_all(sh);
        }
        if (ms_since(&last_beat) >= beat_ms) {
            clock_gettime(CLOCK_MONOTONIC, &last_beat);
            if (c != NULL)
                heartbeat(sh, c);
        }
    }
    if (c != NULL)
        PQfinish(c);
    return NULL;
}

/* ---- main -------------------------------------------------------------------------- */


int main(void)
{
    struct si_config cfg;
    struct wf_settings s;
    struct si_error err;
    struct shared sh;
    pthread_t listener;
    pthread_t *threads = NULL;
    struct thread_arg *args = NULL;
    int started = 0, rc = 2;
    bool listening = false, curl_up = false;
    memset(&sh, 0, sizeof sh);
    sh.stop_pipe[0] = sh.stop_pipe[1] = -1;

    si_log_setup("workflow-worker");
    if (si_config_load(&cfg, environ, &err) != 0 || wf_settings_load(&s, environ, &err) != 0) {
        si_logf(SI_LOG_ERROR, "configuration: %s", err.message);
        return 2;
    }
    if (cfg.log_file != NULL && si_log_to_file(cfg.log_file) != 0) {
        si_logf(SI_LOG_ERROR, "cannot open SMARTIMPORT_LOG_FILE: %s", strerror(errno));
        return 2;
    }
    if (cfg.database_url == NULL) {
        si_log(SI_LOG_ERROR, "DATABASE_URL is not set", NULL);
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        si_log(SI_LOG_ERROR, "curl_global_init failed", NULL);
        return 2;
    }
    curl_up = true;
    sh.cfg = &cfg;
    sh.s = &s;
    char host[64] = "localhost";
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    unsigned int rnd = 0;
    int ufd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (ufd >= 0) {
        if (read(ufd, &rnd, sizeof rnd) != (ssize_t)sizeof rnd)
            rnd = (unsigned int)time(NULL);
        close(ufd);
    }
    snprintf(sh.owner, sizeof sh.owner, "%s:%d:%08x", host, (int)getpid(), rnd);
    snprintf(sh.lease_ms, sizeof sh.lease_ms, "%lld", s.lease_ms);
    if (pthread_mutex_init(&sh.mu, NULL) != 0 || pthread_cond_init(&sh.cv, NULL) != 0 ||
        pipe2(sh.stop_pipe, O_CLOEXEC) != 0)
        goto out;

    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    if (pthread_create(&listener, NULL, listen_thread, &sh) != 0)
        goto out;
    listening = true;
    threads = calloc((size_t)s.threads, sizeof *threads);
    args = calloc((size_t)s.threads, sizeof *args);
    if (threads == NULL || args == NULL)
        goto stop;
    for (int i = 0; i < s.threads; i++) {
        args[i] = (struct thread_arg){ .sh = &sh, .id = i };
        if (pthread_create(&threads[i], NULL, job_thread, &args[i]) != 0)
            break;
        started++;
    }
    si_log(SI_LOG_INFO, "started",
           json_pack("{s:i, s:s, s:i, s:I, s:I, s:i}", "pid", (int)getpid(), "owner", sh.owner, "threads", started,
                     "lease_ms", (json_int_t)s.lease_ms, "backoff_ms", (json_int_t)s.backoff_ms,
                     "max_attempts", s.max_attempts));
    int sig = 0;
    if (started == s.threads)
        sigwait(&set, &sig);
    si_log(SI_LOG_INFO, "stopping: finishing the jobs in hand", json_pack("{s:i}", "signal", sig));
stop:
    atomic_store(&sh.stopping, true);
    wake_all(&sh);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    rc = started == s.threads ? 0 : 1;
out:
    if (listening) {
        atomic_store(&sh.listener_stop, true);
        if (write(sh.stop_pipe[1], "x", 1) != 1)
            si_log(SI_LOG_WARN, "could not wake the listener", NULL);
        pthread_join(listener, NULL);
    }
    free(threads);
    free(args);
    for (int i = 0; i < 2; i++)
        if (sh.stop_pipe[i] >= 0)
            close(sh.stop_pipe[i]);
    if (curl_up)
        curl_global_cleanup();
    si_log(SI_LOG_INFO, "stopped", json_pack("{s:i}", "status", rc));
    return rc;
}
