/* worker.c: smartimport-worker, the one daemon that runs every registered task.
 *
 * Not a FastCGI responder: a plain process under the supervisor.  Several may run
 * at once, on any host; they coordinate only through PostgreSQL (jobs_engine.c).
 * Inside one process:
 *   - SMARTIMPORT_WORKER_THREADS executor threads run one job each.  A NOTIFY
 *     gives one ticket: every idle executor wakes, the first one the scheduler
 *     runs takes it and claims one job for itself, with no hand-over between
 *     threads (a notice naming no job, or a claim that found nothing, also makes a
 *     claim round due).  Letting every woken executor claim instead cost
 *     a herd of empty claims per job: 20% of the workflow bench.  Claim
 *     rounds do the rest, one at a time (the `claiming` token), by whichever
 *     executor is idle: as many jobs as there are idle executors (at most
 *     SMARTIMPORT_WORKER_BATCH a statement, never more of a task than its
 *     max_concurrency leaves), one job at a time for serial lanes, handed to the
 *     others through the ready ring.  A round runs after a quick claim found
 *     nothing, when tickets pile up (a backlog: then claims are batched, and a
 *     round follows each job while the last one may have left jobs), after a job
 *     that held a task limit or a lane, and every SMARTIMPORT_WORKER_POLL_MS
 *     (retries become due that way).
 *     A task without a commit hook, limit or lane just queues its completion;
 *     the others finish on the executor's own connection (lease check, commit
 *     hook, the state change) before the executor takes the next job, so a
 *     limit of N means at most N of its jobs are `running` in the table.
 *     Failures are written at once;
 *   - the writer thread (own connection) writes the queued completions, many
 *     per statement;
 *   - the listener thread LISTENs on channel 'jobs' (enqueues NOTIFY it) and
 *     hands out the tickets.  It also extends the leases of every job in
 *     hand every lease/3 (the heartbeat): if the process dies its leases run
 *     out and another worker takes the jobs over.
 * The daemon's connections commit asynchronously (synchronous_commit off): a
 * crash can undo its last few hundred milliseconds of claims and completions, and
 * those jobs run again, exactly as after a kill -9, which tasks must tolerate
 * anyway (their effects are idempotent).  See README.md for the measurements.
 *
 * SIGTERM/SIGINT: stop claiming, finish the jobs in hand, write their
 * completions, exit 0. */
#include "worker.h"
#include "si_metrics.h"
#include "si_clock.h"
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
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define WORKER_PG_OPTIONS "-c synchronous_commit=off"   /* see the top of this file */
#define TASKS_LITERAL_MAX (JOBS_MAX_TASKS * (JOBS_TASK_NAME_MAX + 1) + 3)

struct worker {
    const struct si_config *cfg;
    const struct worker_config *wc;
    const struct jobs_registry *reg;
    struct jobs_lease lease;
    char serial[TASKS_LITERAL_MAX];   /* every serial task, as a text[] literal */
    char unlimited[TASKS_LITERAL_MAX];   /* every task without a concurrency limit */
    pthread_mutex_t mu;
    pthread_cond_t exec_cv;           /* executors (CLOCK_MONOTONIC): a job is ready, a claim is due, stopping */
    pthread_cond_t writer_cv;         /* writer: a completion is queued, or stopping */
    struct jobs_job *ready;           /* claimed, not started: a ring of `threads` */
    int ready_head, ready_n;
    int busy;                         /* executors running a job */
    long long *running;               /* `threads` slots: the id each executor runs, 0 when none */
    int in_hand[JOBS_MAX_TASKS];      /* ready + running, per task */
    int tickets_one;                  /* NOTIFYs not acted on that name one job (see notice()) */
    int tickets_open;                 /* ... that name none: the transaction may have added several */
    unsigned long changes;            /* a NOTIFY or a slot freed: a claim round is due */
    unsigned long claimed_seq;        /* `changes` when the last claim round began */
    long long last_claim_ms;          /* when the last claim round ended (si_now_ms) */
    bool claiming;                    /* an executor is in a claim round */
    bool maybe_more;                  /* the last claim round may have left runnable jobs */
    bool claims_over;                 /* stopping: no claim round starts any more */
    bool db_warned;                   /* a failed claim round was logged (until one succeeds) */
    struct jobs_done *done;           /* completions for the writer */
    int done_n, done_cap;
    bool writer_stop;                 /* the executors are gone: write what is left and end */
    struct jobs_job *claim_buf;       /* the claiming executor's: `threads` entries */
    atomic_bool listener_stop;
    int stop_pipe[2];
};

/* A ticket (under mu): every idle executor wakes, and the first one the scheduler
 * runs takes the ticket and claims one job for itself, with no hand-over between
 * threads; the others find no ticket and sleep again without a statement.  (Waking
 * one executor cost 2 ms a job under load, waiting for a core; letting every woken
 * one claim cost a herd of empty claims per job, 20% of the workflow bench.)  open:
 * the notice named no job.  With no task a quick claim can take, or `threads` claims pending
 * already (a backlog), a claim round is due instead (batched, and again after each
 * job while rounds find more). */
static void ticket_add(struct worker *w, bool open)
{
    if (strcmp(w->unlimited, "{}") == 0 || w->tickets_one + w->tickets_open >= w->wc->threads) {
        w->changes++;
        w->maybe_more = true;
        pthread_cond_broadcast(&w->exec_cv);
        return;
    }
    if (open)
        w->tickets_open++;
    else
        w->tickets_one++;
    pthread_cond_broadcast(&w->exec_cv);
}

/* A NOTIFY on 'jobs': the payload names the new job (an id) or nothing ('': a
 * transaction that may have added several).  One executor acts on it (a quick claim,
 * see claim_one), not every idle one: a herd of claims finding nothing cost the
 * database more than the jobs.  A reconnected listener (notices may have been
 * missed) also makes a claim round due. */
static void notice(struct worker *w, const char *payload, bool reconnected)
{
    bool names_one = payload != NULL && payload[0] != '\0';   /* an id: jobs_add and jobs_wake send '' */
    pthread_mutex_lock(&w->mu);
    ticket_add(w, !names_one);
    if (reconnected) {
        w->changes++;
        pthread_cond_broadcast(&w->exec_cv);
    }
    pthread_mutex_unlock(&w->mu);
}

static int task_index(const struct jobs_registry *reg, const char *name)
{
    for (int i = 0; i < reg->n; i++)
        if (reg->tasks[i].name == name)
            return i;
    return -1;
}

static void db_open(struct worker *w, struct si_db *db, const char *name)
{
    si_db_init(db, w->cfg->database_url, name, w->cfg->db_connect_timeout_ms, w->cfg->db_query_timeout_ms);
    db->options = WORKER_PG_OPTIONS;
    db->prepare = true;   /* the same few statements, thousands of times */
}

/* ---- executors ------------------------------------------------------------------------ */

static const char *event_of(const struct jobs_task *t, const struct jobs_job *job, const struct jobs_end *end,
                            char **out_text)
{
    *out_text = NULL;
    if (t == NULL || t->event == NULL)
        return NULL;
    json_t *payload = NULL;
    const char *type = t->event(t->ctx, job, end, &payload);
    if (type != NULL && payload != NULL)
        *out_text = json_dumps(payload, JSON_COMPACT);
    json_decref(payload);
    if (type != NULL && *out_text == NULL) {
        si_log(SI_LOG_ERROR, "could not build a job's event; the change is recorded without it",
               json_pack("{s:I, s:s}", "job", (json_int_t)job->id, "task", job->task));
        return NULL;
    }
    return type;
}

static void fail(struct worker *w, struct si_db *db, const struct jobs_task *t, const struct jobs_job *job,
                 const struct si_error *why, bool no_retry)
{
    struct si_error err;
    si_error_clear(&err);
    const char *code = why->code != NULL ? why->code : "internal";
    bool dead = no_retry || t == NULL || job->attempts >= job->max_attempts;
    uint32_t rnd = 0;
    if (!dead && t->retry.jitter_pct > 0 && getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        rnd = (uint32_t)si_now_ms();
    long long delay = dead ? 0 : jobs_backoff_ms(&t->retry, job->attempts, rnd);
    char text[SI_ERROR_MESSAGE_MAX + 64], *ev_text = NULL;
    snprintf(text, sizeof text, "%s: %s", code, why->message);
    double ms = (double)(si_now_ms() - job->started_ms);
    si_metrics_job_run(job->task, false, ms);
    struct jobs_end end = { .outcome = dead ? JOBS_DEAD : JOBS_RETRY, .ms = ms, .delay_ms = delay, .code = code };
    const char *ev = event_of(t, job, &end, &ev_text);
    int n = jobs_fail(db, &w->lease, job->id, dead, delay, ms, text, ev, ev_text, &err);
    free(ev_text);
    if (n < 0) {
        si_log(SI_LOG_ERROR, "could not record a job failure (its lease will expire)",
               json_pack("{s:I, s:s, s:s}", "job", (json_int_t)job->id, "code", err.code, "detail", err.detail));
        return;
    }
    if (n == 0) {
        si_log(SI_LOG_WARN, "lease lost before the failure was recorded; another worker has the job",
               json_pack("{s:I}", "job", (json_int_t)job->id));
        return;
    }
    si_log(dead ? SI_LOG_WARN : SI_LOG_INFO, dead ? "job dead" : "job failed; will retry",
           json_pack("{s:I, s:s, s:i, s:s, s:I, s:s}", "job", (json_int_t)job->id, "task", job->task ? job->task : "?",
                     "attempt", job->attempts, "code", code, "delay_ms", (json_int_t)delay, "detail", why->detail));
}

/* Fills d for a successful run; 0 or -1 (out of memory). */
static int done_entry(const struct jobs_task *t, const struct jobs_job *job, const json_t *result,
                      struct jobs_done *d)
{
    memset(d, 0, sizeof *d);
    d->id = job->id;
    d->ms = (double)(si_now_ms() - job->started_ms);
    si_metrics_job_run(job->task, true, d->ms);
    if (result != NULL && (d->result = json_dumps(result, JSON_COMPACT)) == NULL)
        return -1;
    struct jobs_end end = { .outcome = JOBS_SUCCEEDED, .ms = d->ms };
    d->event_type = event_of(t, job, &end, &d->event_payload);
    return 0;
}

/* Success of a task with a commit hook, limit or lane, on the executor's connection:
 * the lease check, the hook and the state change in one transaction. */
static int complete_now(struct worker *w, struct si_db *db, const struct jobs_task *t, const struct jobs_job *job,
                        const json_t *state, bool *out_lost, struct si_error *err)
{
    int rc = -1, held, n = 0;
    json_t *result = NULL;
    struct jobs_done d;
    memset(&d, 0, sizeof d);
    if (si_db_begin(db, err) != 0 || (held = jobs_lock_held(db, &w->lease, job->id, err)) < 0)
        goto out;
    if (!held) {
        *out_lost = true;
        rc = 0;
        goto out;
    }
    if (t->commit != NULL && t->commit(t->ctx, db, job, state, &result, err) != 0)
        goto out;
    if (done_entry(t, job, t->commit != NULL ? result : state, &d) != 0) {
        si_error_set(err, 500, "internal", "out of memory");
        goto out;
    }
    if (jobs_complete(db, &w->lease, &d, 1, &n, err) != 0)
        goto out;
    if (n != 1) {   /* cannot happen under the row lock taken above */
        si_error_set(err, 500, "internal", "the job's lease changed under its lock");
        goto out;
    }
    if (si_db_commit(db, err) != 0)
        goto out;
    rc = 0;
out:
    si_db_rollback(db);   /* no-op after a commit */
    jobs_done_clear(&d);
    json_decref(result);
    return rc;
}

static void queue_done(struct worker *w, struct jobs_done *d)
{
    pthread_mutex_lock(&w->mu);
    if (w->done_n == w->done_cap) {
        int cap = w->done_cap ? w->done_cap * 2 : 64;
        struct jobs_done *nd = realloc(w->done, (size_t)cap * sizeof *nd);
        if (nd == NULL) {
            pthread_mutex_unlock(&w->mu);
            si_log(SI_LOG_ERROR, "out of memory queueing a completion (its lease will expire)",
                   json_pack("{s:I}", "job", (json_int_t)d->id));
            jobs_done_clear(d);
            return;
        }
        w->done = nd;
        w->done_cap = cap;
    }
    w->done[w->done_n++] = *d;
    memset(d, 0, sizeof *d);
    pthread_cond_signal(&w->writer_cv);
    pthread_mutex_unlock(&w->mu);
}

static void run_job(struct worker *w, struct si_db *db, struct jobs_job *job)
{
    struct si_error err;
    si_error_clear(&err);
    int ti = job->task != NULL ? task_index(w->reg, job->task) : -1;
    const struct jobs_task *t = ti >= 0 ? &w->reg->tasks[ti] : NULL;
    json_t *state = NULL;
    bool lost = false;
    if (t == NULL || job->payload == NULL) {
        si_error_set(&err, 500, "invalid_job", "a claimed job could not be read");
        fail(w, db, t, job, &err, true);
        return;
    }
    if (job->attempts > job->max_attempts) {
        /* Claimed again after its holders kept dying: stop here. */
        si_error_set(&err, 500, "lease_expired", "the job's worker stopped %d times", job->attempts - 1);
        fail(w, db, t, job, &err, true);
        return;
    }
    int rc = t->run(t->ctx, db, job, &state, &err);
    if (rc == 0 && job->deadline_ms > 0 && si_now_ms() > job->deadline_ms) {
        si_error_set(&err, 500, "job_timeout", "the job ran longer than its task's %lld ms", t->timeout_ms);
        rc = -1;
    }
    if (rc == 0 && t->commit == NULL && t->max_concurrency == 0 && !(t->serial && job->queue != NULL)) {
        struct jobs_done d;
        if (done_entry(t, job, state, &d) == 0)
            queue_done(w, &d);
        else {
            jobs_done_clear(&d);
            si_error_set(&err, 500, "internal", "out of memory");
            rc = -1;
        }
    } else if (rc == 0 && complete_now(w, db, t, job, state, &lost, &err) != 0) {
        rc = -1;
    }
    if (rc != 0)
        fail(w, db, t, job, &err, false);
    else if (lost)
        si_log(SI_LOG_WARN, "lease lost before completion; another worker has the job",
               json_pack("{s:I}", "job", (json_int_t)job->id));
    json_decref(state);
}

/* ---- claims (by whichever executor is idle; one round at a time) ---------------------- */

static void push_ready(struct worker *w, struct jobs_job *jobs, int n)
{
    pthread_mutex_lock(&w->mu);
    for (int i = 0; i < n; i++) {
        int ti = jobs[i].task != NULL ? task_index(w->reg, jobs[i].task) : -1;
        if (ti >= 0)
            w->in_hand[ti]++;
        w->ready[(w->ready_head + w->ready_n) % w->wc->threads] = jobs[i];
        w->ready_n++;
    }
    pthread_cond_broadcast(&w->exec_cv);
    pthread_mutex_unlock(&w->mu);
}

/* Appends name to a text[] literal being built in buf ("{" ... "}" added by the caller). */
static void literal_add(char *buf, size_t cap, const char *name)
{
    size_t len = strlen(buf);
    snprintf(buf + len, cap - len, "%s%s", len > 1 ? "," : "", name);
}

/* Ends a PostgreSQL array literal begun with "{". */
static void literal_close(char *buf, size_t cap)
{
    size_t len = strlen(buf);
    snprintf(buf + len, cap - len, "}");
}

/* Free slots for task i now (under mu): INT_MAX-like when unlimited. */
static int task_free(const struct worker *w, int i)
{
    const struct jobs_task *t = &w->reg->tasks[i];
    return t->max_concurrency == 0 ? w->wc->threads : t->max_concurrency - w->in_hand[i];
}

/* One round of claims; returns how many jobs were claimed, or -1 on a database error.
 * *out_more: some statement got all it asked for, or the free slots ran out, so more
 * jobs may be waiting (a task held back by its limit or a busy lane is claimed again
 * when one of its jobs here ends; the poll finds the rest). */
static int claim_round(struct worker *w, struct si_db *db, struct jobs_job *buf, bool *out_more,
                       struct si_error *err)
{
    const struct jobs_registry *reg = w->reg;
    int free_t[JOBS_MAX_TASKS], total = 0, n;
    pthread_mutex_lock(&w->mu);
    int free = w->wc->threads - w->busy - w->ready_n;
    for (int i = 0; i < reg->n; i++)
        free_t[i] = task_free(w, i);
    pthread_mutex_unlock(&w->mu);
    *out_more = true;
    if (free <= 0)
        return 0;
    bool full = false;
    if (strcmp(w->unlimited, "{}") != 0) {
        int lim = free < w->wc->batch ? free : w->wc->batch;
        if (jobs_claim(db, &w->lease, reg, w->unlimited, w->serial, lim, buf, &n, err) != 0)
            return -1;
        full = full || n == lim;
        push_ready(w, buf, n);
        free -= n;
        total += n;
    }
    for (int i = 0; i < reg->n && free > 0; i++) {
        if (reg->tasks[i].max_concurrency == 0 || free_t[i] <= 0)
            continue;
        char one[JOBS_TASK_NAME_MAX + 3];
        snprintf(one, sizeof one, "{%s}", reg->tasks[i].name);
        int lim = free < free_t[i] ? free : free_t[i];
        if (lim > w->wc->batch)
            lim = w->wc->batch;
        if (jobs_claim(db, &w->lease, reg, one, w->serial, lim, buf, &n, err) != 0)
            return -1;
        full = full || n == lim;
        push_ready(w, buf, n);
        free -= n;
        total += n;
    }
    /* Serial lanes: one job a statement, while slots are free. */
    while (free > 0 && strcmp(w->serial, "{}") != 0) {
        char lanes[TASKS_LITERAL_MAX] = "{";
        pthread_mutex_lock(&w->mu);
        for (int i = 0; i < reg->n; i++)
            if (reg->tasks[i].serial && task_free(w, i) > 0)
                literal_add(lanes, sizeof lanes, reg->tasks[i].name);
        pthread_mutex_unlock(&w->mu);
        literal_close(lanes, sizeof lanes);
        if (strcmp(lanes, "{}") == 0)
            break;
        if (jobs_claim_lane(db, &w->lease, reg, lanes, buf, &n, err) != 0)
            return -1;
        if (n == 0)
            break;
        push_ready(w, buf, n);
        free -= n;
        total += n;
    }
    *out_more = full || free <= 0;
    return total;
}

/* Until there is a job for this executor (0, *job filled), a ticket (2: a quick claim
 * for itself, counted busy meanwhile; *open: the ticket's notice named no job), a
 * claim round is due and no other executor is in one (1), or the worker stops with
 * nothing left (-1).  Under mu. */
static int next_step(struct worker *w, struct jobs_job *job, bool *open)
{
    for (;;) {
        if (w->ready_n > 0) {
            *job = w->ready[w->ready_head];
            w->ready_head = (w->ready_head + 1) % w->wc->threads;
            w->ready_n--;
            w->busy++;
            return 0;
        }
        if (w->claims_over)
            return -1;
        if (w->tickets_one + w->tickets_open > 0) {
            *open = w->tickets_open > 0;
            if (*open)
                w->tickets_open--;
            else
                w->tickets_one--;
            w->busy++;   /* so a claim round meanwhile leaves this slot alone */
            return 2;
        }
        long long due_at = w->last_claim_ms + w->wc->poll_ms;
        if (!w->claiming && (w->changes != w->claimed_seq || si_now_ms() >= due_at))
            return 1;
        if (w->claiming) {
            pthread_cond_wait(&w->exec_cv, &w->mu);   /* the claimer broadcasts when done */
            continue;
        }
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        long long ms = due_at - si_now_ms() + 1;
        long long ns = until.tv_nsec + (ms % 1000) * 1000000LL;
        until.tv_sec += (time_t)(ms / 1000 + ns / 1000000000LL);
        until.tv_nsec = (long)(ns % 1000000000LL);
        (void)pthread_cond_timedwait(&w->exec_cv, &w->mu, &until);
    }
}

/* One claim round on db (the caller's own connection), entered and left under mu
 * with the claiming token free; the jobs go to the ready ring. */
static void claim_locked(struct worker *w, struct si_db *db)
{
    struct si_error err;
    si_error_clear(&err);
    unsigned long seq = w->changes;   /* read under mu by the caller's lock below */
    w->claiming = true;
    pthread_mutex_unlock(&w->mu);
    bool more = false;
    int claimed = claim_round(w, db, w->claim_buf, &more, &err);
    pthread_mutex_lock(&w->mu);
    w->maybe_more = claimed >= 0 && more;   /* no free slot counts as "maybe"; after an error the poll tries again */
    if (claimed < 0 && !w->db_warned) {
        w->db_warned = true;
        pthread_mutex_unlock(&w->mu);
        si_log(SI_LOG_ERROR, "claiming failed; retrying",
               json_pack("{s:s, s:s}", "code", err.code ? err.code : "", "detail", err.detail));
        pthread_mutex_lock(&w->mu);
    } else if (claimed > 0) {
        w->db_warned = false;
    }
    w->claiming = false;
    w->claimed_seq = seq;   /* what changed during the round makes the next one due */
    w->last_claim_ms = si_now_ms();
    pthread_cond_broadcast(&w->exec_cv);
}

/* A quick claim for a ticket: one job of a task without limits, for this executor
 * (counted busy).  1 with *job filled, or 0.  Each notice naming one job gives one
 * ticket, so those tickets are never fewer than the announced jobs waiting; after a
 * hit for an open ticket a claim round is due (its transaction may have added more:
 * the round claims them in one statement for every idle executor).  When nothing
 * is found, the job may be of a task with a limit or a lane (quick claims take only
 * the others), or the claim failed: a claim round is due. */
static int claim_one(struct worker *w, struct si_db *db, struct jobs_job *job, bool open)
{
    struct si_error err;
    si_error_clear(&err);
    int n = 0;
    pthread_mutex_unlock(&w->mu);
    if (jobs_claim(db, &w->lease, w->reg, w->unlimited, w->serial, 1, job, &n, &err) != 0)
        n = 0;   /* the claim rounds log database errors */
    pthread_mutex_lock(&w->mu);
    if (n == 1) {
        int ti = job->task != NULL ? task_index(w->reg, job->task) : -1;
        if (ti >= 0)
            w->in_hand[ti]++;
        if (open) {   /* the transaction may have added more: a (batched) round for them */
            w->changes++;
            pthread_cond_broadcast(&w->exec_cv);
        }
        return 1;
    }
    w->busy--;
    w->changes++;
    return 0;
}

static void *executor(void *arg)
{
    struct worker *w = arg;
    struct si_db db;
    db_open(w, &db, "smartimport-worker");
    pthread_mutex_lock(&w->mu);
    for (;;) {
        struct jobs_job job;
        bool open = false;
        int step = next_step(w, &job, &open);
        if (step < 0)
            break;
        if (step == 1) {
            claim_locked(w, &db);
            continue;
        }
        if (step == 2 && claim_one(w, &db, &job, open) == 0)
            continue;
        for (int i = 0; i < w->wc->threads; i++)   /* busy <= threads: a slot is free */
            if (w->running[i] == 0) {
                w->running[i] = job.id;
                break;
            }
        pthread_mutex_unlock(&w->mu);

        int ti = job.task != NULL ? task_index(w->reg, job.task) : -1;
        run_job(w, &db, &job);
        long long done_id = job.id;
        jobs_job_clear(&job);

        pthread_mutex_lock(&w->mu);
        w->busy--;
        if (ti >= 0)
            w->in_hand[ti]--;
        for (int i = 0; i < w->wc->threads; i++)
            if (w->running[i] == done_id) {
                w->running[i] = 0;
                break;
            }
        /* A slot is free: claim again when jobs may be waiting, or when this job's end
         * lets a limited task or a lane run more (otherwise the next NOTIFY or the poll
         * does: an empty claim round after every job would hold the claiming token). */
        const struct jobs_task *t = ti >= 0 ? &w->reg->tasks[ti] : NULL;
        if (w->maybe_more || (t != NULL && (t->max_concurrency > 0 || t->serial)))
            w->changes++;
    }
    pthread_mutex_unlock(&w->mu);
    si_db_cleanup(&db);
    return NULL;
}

/* ---- the writer: queued completions, many per statement ------------------------------- */

static void *writer(void *arg)
{
    struct worker *w = arg;
    struct si_db db;
    db_open(w, &db, "smartimport-worker-write");
    for (;;) {
        struct si_error err;
        si_error_clear(&err);
        pthread_mutex_lock(&w->mu);
        while (w->done_n == 0 && !w->writer_stop)
            pthread_cond_wait(&w->writer_cv, &w->mu);
        struct jobs_done *done = w->done;
        int done_n = w->done_n;
        w->done = NULL;
        w->done_n = w->done_cap = 0;
        pthread_mutex_unlock(&w->mu);
        if (done_n == 0)
            break;   /* stopping, and everything is written */
        for (int off = 0; off < done_n; off += w->wc->batch) {
            int n = done_n - off < w->wc->batch ? done_n - off : w->wc->batch, written = 0;
            int rc = jobs_complete(&db, &w->lease, done + off, n, &written, &err);
            for (int again = 0; rc != 0 && again < 2 && err.code != NULL && strcmp(err.code, "retry") == 0; again++) {
                si_error_clear(&err);   /* a deadlock or serialization failure: the statement is idempotent */
                rc = jobs_complete(&db, &w->lease, done + off, n, &written, &err);
            }
            if (rc != 0) {
                si_log(SI_LOG_ERROR, "could not record completions (their leases will expire and they run again)",
                       json_pack("{s:i, s:s, s:s}", "jobs", n, "code", err.code ? err.code : "", "detail", err.detail));
                si_error_clear(&err);
            } else if (written != n) {
                si_log(SI_LOG_WARN, "leases lost before completion; other workers have those jobs",
                       json_pack("{s:i}", "jobs", n - written));
            }
        }
        for (int i = 0; i < done_n; i++)
            jobs_done_clear(&done[i]);
        free(done);
    }
    si_db_cleanup(&db);
    return NULL;
}

/* ---- LISTEN and the lease heartbeat --------------------------------------------------- */

/* The ids of the jobs in hand (running, or claimed and waiting in the ring) as a
 * bigint[] literal (malloc'd), or NULL when out of memory. */
static char *ids_in_hand(struct worker *w)
{
    size_t cap = (size_t)w->wc->threads * 2 * 21 + 3, len = 1;
    char *buf = malloc(cap);
    if (buf == NULL)
        return NULL;
    buf[0] = '{';
    pthread_mutex_lock(&w->mu);
    for (int i = 0; i < w->wc->threads; i++)
        if (w->running[i] != 0)
            len += (size_t)snprintf(buf + len, cap - len, "%s%lld", len > 1 ? "," : "", w->running[i]);
    for (int k = 0; k < w->ready_n; k++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%lld", len > 1 ? "," : "",
                                w->ready[(w->ready_head + k) % w->wc->threads].id);
    pthread_mutex_unlock(&w->mu);
    snprintf(buf + len, cap - len, "}");
    return buf;
}

static PGconn *listen_connect(struct worker *w)
{
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%d", (w->cfg->db_connect_timeout_ms + 999) / 1000);
    const char *keys[] = { "dbname", "connect_timeout", "application_name", NULL };
    const char *vals[] = { w->cfg->database_url, timeout, "smartimport-worker-listen", NULL };
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c == NULL)
        return NULL;
    PGresult *r = NULL;
    if (PQstatus(c) != CONNECTION_OK || (r = PQexec(c, "LISTEN jobs")) == NULL ||
        PQresultStatus(r) != PGRES_COMMAND_OK) {
        PQclear(r);
        PQfinish(c);
        return NULL;
    }
    PQclear(r);
    return c;
}

static void *listener(void *arg)
{
    struct worker *w = arg;
    PGconn *c = NULL;
    long long last_beat = si_now_ms();
    long long beat_ms = w->wc->lease_ms / 3;
    while (!atomic_load(&w->listener_stop)) {
        if (c == NULL || PQstatus(c) != CONNECTION_OK) {
            if (c != NULL)
                PQfinish(c);
            c = listen_connect(w);
            if (c != NULL)
                notice(w, NULL, true);   /* notices may have been missed meanwhile */
        }
        long long timeout = beat_ms - (si_now_ms() - last_beat);
        if (timeout < 0)
            timeout = 0;
        if (c == NULL && timeout > 500)
            timeout = 500;
        struct pollfd fds[2] = { { .fd = w->stop_pipe[0], .events = POLLIN },
                                 { .fd = c != NULL ? PQsocket(c) : -1, .events = POLLIN } };
        int n = poll(fds, 2, (int)timeout);
        if (n < 0 && errno != EINTR)
            si_logf(SI_LOG_ERROR, "poll: %s", strerror(errno));
        if (c != NULL && n > 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            if (PQconsumeInput(c) == 0) {
                PQfinish(c);
                c = NULL;
            } else {
                PGnotify *nt;
                while ((nt = PQnotifies(c)) != NULL) {
                    notice(w, nt->extra, false);
                    PQfreemem(nt);
                }
            }
        }
        if (si_now_ms() - last_beat >= beat_ms) {
            last_beat = si_now_ms();
            char *ids = ids_in_hand(w);
            if (c != NULL && (ids == NULL || jobs_heartbeat(c, &w->lease, ids) != 0))
                si_log(SI_LOG_WARN, "lease heartbeat failed", NULL);
            free(ids);
        }
    }
    if (c != NULL)
        PQfinish(c);
    return NULL;
}

/* ---- start and stop ------------------------------------------------------------------- */

int worker_config_load(struct worker_config *wc, char *const *envp, struct si_error *err)
{
    long long threads = 8, batch = 64, lease = 30000, poll_ms = 1000, test = 0;
    memset(wc, 0, sizeof *wc);
    if (si_env_long(envp, "WORKFLOW_WORKER_THREADS", 1, 128, &threads, err) != 0 ||
        si_env_long(envp, "SMARTIMPORT_WORKER_THREADS", 1, 128, &threads, err) != 0 ||
        si_env_long(envp, "SMARTIMPORT_WORKER_BATCH", 1, 1000, &batch, err) != 0 ||
        si_env_long(envp, "WORKFLOW_LEASE_MS", 200, 86400000, &lease, err) != 0 ||
        si_env_long(envp, "SMARTIMPORT_WORKER_LEASE_MS", 200, 86400000, &lease, err) != 0 ||
        si_env_long(envp, "WORKFLOW_POLL_MS", 10, 60000, &poll_ms, err) != 0 ||
        si_env_long(envp, "SMARTIMPORT_WORKER_POLL_MS", 10, 60000, &poll_ms, err) != 0 ||
        si_env_long(envp, "SMARTIMPORT_WORKER_TEST_TASKS", 0, 1, &test, err) != 0)
        return -1;
    wc->threads = (int)threads;
    wc->batch = (int)batch;
    wc->lease_ms = lease;
    wc->poll_ms = poll_ms;
    wc->test_tasks = test == 1;
    return 0;
}

static void lease_owner(struct jobs_lease *lease, long long lease_ms)
{
    char host[64] = "localhost";
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    unsigned int rnd = 0;
    if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        rnd = (unsigned int)time(NULL);
    snprintf(lease->owner, sizeof lease->owner, "%s:%d:%08x", host, (int)getpid(), rnd);
    snprintf(lease->lease_ms, sizeof lease->lease_ms, "%lld", lease_ms);
}

/* exec_cv waits with CLOCK_MONOTONIC deadlines (the poll), like si_now_ms. */
static int exec_cv_init(pthread_cond_t *cv)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return -1;
    int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 && pthread_cond_init(cv, &attr) == 0 ? 0 : -1;
    pthread_condattr_destroy(&attr);
    return rc;
}

int worker_run(const struct si_config *cfg, const struct worker_config *wc, const struct jobs_registry *reg)
{
    struct worker w;
    pthread_t listen_thread, writer_thread;
    pthread_t *threads = NULL;
    int started = 0, rc = 1;
    bool listening = false, writing = false, exec_cv_up = false, writer_cv_up = false, mu_up = false;
    memset(&w, 0, sizeof w);
    w.cfg = cfg;
    w.wc = wc;
    w.reg = reg;
    w.stop_pipe[0] = w.stop_pipe[1] = -1;
    w.last_claim_ms = si_now_ms() - wc->poll_ms;   /* the first claim round is due at once */
    w.claimed_seq = (unsigned long)-1;
    lease_owner(&w.lease, wc->lease_ms);
    snprintf(w.serial, sizeof w.serial, "{");
    for (int i = 0; i < reg->n; i++)
        if (reg->tasks[i].serial)
            literal_add(w.serial, sizeof w.serial, reg->tasks[i].name);
    literal_close(w.serial, sizeof w.serial);
    snprintf(w.unlimited, sizeof w.unlimited, "{");
    for (int i = 0; i < reg->n; i++)
        if (reg->tasks[i].max_concurrency == 0)
            literal_add(w.unlimited, sizeof w.unlimited, reg->tasks[i].name);
    literal_close(w.unlimited, sizeof w.unlimited);
    w.ready = calloc((size_t)wc->threads, sizeof *w.ready);
    w.claim_buf = calloc((size_t)wc->threads, sizeof *w.claim_buf);
    w.running = calloc((size_t)wc->threads, sizeof *w.running);
    threads = calloc((size_t)wc->threads, sizeof *threads);
    if (w.ready == NULL || w.claim_buf == NULL || w.running == NULL || threads == NULL || !(mu_up = pthread_mutex_init(&w.mu, NULL) == 0) ||
        !(exec_cv_up = exec_cv_init(&w.exec_cv) == 0) || !(writer_cv_up = pthread_cond_init(&w.writer_cv, NULL) == 0))
        goto out;
    if (pipe2(w.stop_pipe, O_CLOEXEC) != 0)
        goto out;
    if (pthread_create(&listen_thread, NULL, listener, &w) != 0)
        goto out;
    listening = true;
    if (pthread_create(&writer_thread, NULL, writer, &w) != 0)
        goto out;
    writing = true;
    for (int i = 0; i < wc->threads; i++) {
        if (pthread_create(&threads[i], NULL, executor, &w) != 0)
            break;
        started++;
    }
    json_t *names = json_array();
    for (int i = 0; i < reg->n && names != NULL; i++)
        json_array_append_new(names, json_string(reg->tasks[i].name));
    si_log(SI_LOG_INFO, "started",
           json_pack("{s:i, s:s, s:i, s:i, s:I, s:I, s:o*}", "pid", (int)getpid(), "owner", w.lease.owner,
                     "threads", started, "batch", wc->batch, "lease_ms", (json_int_t)wc->lease_ms,
                     "poll_ms", (json_int_t)wc->poll_ms, "tasks", names));
    int sig = 0;
    if (started == wc->threads) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigwait(&set, &sig);
        rc = 0;
    }
    si_log(SI_LOG_INFO, "stopping: finishing the jobs in hand", json_pack("{s:i}", "signal", sig));
    /* No claim round starts any more; the executors run what is in the ring, the
     * writer writes their completions. */
    pthread_mutex_lock(&w.mu);
    w.claims_over = true;
    pthread_cond_broadcast(&w.exec_cv);
    pthread_mutex_unlock(&w.mu);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
out:
    if (writing) {
        pthread_mutex_lock(&w.mu);
        w.writer_stop = true;
        pthread_cond_signal(&w.writer_cv);
        pthread_mutex_unlock(&w.mu);
        pthread_join(writer_thread, NULL);
    }
    if (listening) {
        atomic_store(&w.listener_stop, true);
        if (write(w.stop_pipe[1], "x", 1) != 1)
            si_log(SI_LOG_WARN, "could not wake the listener", NULL);
        pthread_join(listen_thread, NULL);
    }
    for (int i = 0; i < 2; i++)
        if (w.stop_pipe[i] >= 0)
            close(w.stop_pipe[i]);
    for (int i = 0; i < w.done_n; i++)
        jobs_done_clear(&w.done[i]);
    free(w.done);
    free(w.ready);
    free(w.claim_buf);
    free(w.running);
    free(threads);
    if (exec_cv_up)
        pthread_cond_destroy(&w.exec_cv);
    if (writer_cv_up)
        pthread_cond_destroy(&w.writer_cv);
    if (mu_up)
        pthread_mutex_destroy(&w.mu);
    return rc;
}
