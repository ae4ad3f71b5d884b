/* jobs.h: libjobs, smartimport's one job engine (the table `jobs`, sql/0010).
 *
 * A job is a row: a task name ("workflow.phase4", "bank.sync_account"), a JSON
 * payload, an owner (user_id, NULL for system jobs), an optional job_key that makes
 * enqueueing idempotent, a priority, a run_at, attempts and a lease.  Three parts:
 *   - enqueueing from any program on its own si_db connection (jobs_enqueue.c);
 *   - the registry: each module registers its tasks, `name -> run function` plus
 *     options, in one place (tasks.c lists every module's register call); the
 *     engine never names a task (jobs_registry.c, jobs_policy.c: the pure rules);
 *   - the engine's statements (claim, complete, fail, heartbeat: jobs_engine.c) and
 *     the daemon smartimport-worker that runs them (worker.c, main_worker.c).
 * Design notes (why batch claims, async commits, leases) are in README.md. */
#ifndef JOBS_H
#define JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "si_db.h"
#include "si_error.h"

#define JOBS_TASK_NAME_MAX 100      /* bytes, like the table's check */
#define JOBS_KEY_MAX 200            /* job_key and queue, bytes */
#define JOBS_MAX_TASKS 64           /* tasks one registry holds */
#define JOBS_MAX_ATTEMPTS_LIMIT 1000
#define JOBS_BACKOFF_MAX_MS 86400000LL  /* no retry policy waits longer than a day */

/* ---- enqueueing (any program) ------------------------------------------------------ */

enum jobs_key_mode {
    JOBS_KEY_KEEP,     /* the existing job with that key stays as it is */
    JOBS_KEY_REPLACE,  /* a still-queued job with that key gets the new payload, run_at, priority */
};

struct jobs_new {
    const char *task;          /* required */
    const json_t *payload;     /* NULL = {} */
    const char *user_id;       /* owner; NULL for a system job */
    const char *job_key;       /* NULL = no key */
    enum jobs_key_mode key_mode;
    const char *queue;         /* serial lane (for tasks registered serial); NULL = none */
    int priority;              /* lower runs first; 0 by default */
    const char *run_at;        /* timestamptz text; NULL = now */
    int max_attempts;          /* 0 = the table's default (5) */
};

struct jobs_enqueued {
    long long id;
    char state[16];            /* the job's state now */
    bool existing;             /* the key named a job that was there before */
    bool replaced;             /* ... and it was changed (JOBS_KEY_REPLACE) */
};

/* Enqueues in one statement (SQL jobs_add: the row and its audit row), without
 * waking the workers: call jobs_wake() after, or let the caller's own announcement
 * do it (the workflow's workflow_announce).  Outside a transaction it commits
 * durably.  0, or -1 with err (400 for a bad task name or key). */
int jobs_enqueue(struct si_db *db, const struct jobs_new *job, struct jobs_enqueued *out, struct si_error *err);

/* NOTIFYs the workers in a transaction of its own that commits asynchronously.
 * Best effort: a lost wake-up delays a job until the workers' next poll. */
int jobs_wake(struct si_db *db, struct si_error *err);

/* A dead (or failed, retry scheduled) job queued again with a fresh set of attempts.
 * 1 = requeued, 0 = no such job or not dead/failed, -1 = error. */
int jobs_requeue(struct si_db *db, long long id, struct si_error *err);

/* True when name is a task name: dotted lower-case words, "module.task". */
bool jobs_task_name_valid(const char *name);

/* ---- tasks and the registry ---------------------------------------------------------- */

/* A claimed job as a task's functions see it (owned by the engine). */
struct jobs_job {
    long long id;
    const char *task;          /* the registered name */
    char user_id[40];          /* "" for a system job */
    char *job_key;             /* NULL when none */
    char *queue;               /* NULL when none */
    json_t *payload;
    int attempts;              /* including this one */
    int max_attempts;
    char created_at[40];       /* ISO 8601, UTC, microseconds */
    char prev_state[16];       /* queued, failed, or running (a lease taken over) */
    long long started_ms;      /* si_now_ms() when the engine started it */
    long long deadline_ms;     /* si_now_ms() value it must finish by; 0 = none */
};

/* How a job ended, for a task's event hook. */
enum jobs_outcome { JOBS_SUCCEEDED, JOBS_RETRY, JOBS_DEAD };

struct jobs_end {
    enum jobs_outcome outcome;
    double ms;                 /* from the start of the run */
    long long delay_ms;        /* JOBS_RETRY: the backoff */
    const char *code;          /* JOBS_RETRY / JOBS_DEAD: the error code */
};

/* The run function: the job's work, outside any transaction, on the executor's own
 * connection (connected lazily: a task that never uses it costs no connection).
 * Returns 0 with *out_state (may stay NULL) for the commit hook, or -1 with err
 * (err->code is recorded; the job is retried after its backoff, or dead). */
typedef int (*jobs_run_fn)(void *task_ctx, struct si_db *db, const struct jobs_job *job, json_t **out_state,
                           struct si_error *err);
/* Optional: inside the finishing transaction, under the job's row lock and only if
 * this worker still holds the lease: the run's database effects (idempotent: a job
 * can run twice after a worker died) and the job's result in *out_result. */
typedef int (*jobs_commit_fn)(void *task_ctx, struct si_db *db, const struct jobs_job *job, const json_t *state,
                              json_t **out_result, struct si_error *err);
/* Optional: the import_events row that records a state change (written by the engine
 * in the same statement as the change); returns the event type and *out_payload, or
 * NULL for none. */
typedef const char *(*jobs_event_fn)(void *task_ctx, const struct jobs_job *job, const struct jobs_end *end,
                                     json_t **out_payload);

struct jobs_retry_policy {
    long long base_ms;         /* first retry after this; doubled each attempt */
    long long cap_ms;          /* never longer than this */
    int jitter_pct;            /* 0..100: the delay is taken at random from [d*(100-j)/100, d] */
};

struct jobs_task {
    const char *name;          /* "workflow.phase1"; static storage */
    jobs_run_fn run;
    jobs_commit_fn commit;     /* NULL: completions are written in batches */
    jobs_event_fn event;       /* NULL: no events */
    void *ctx;                 /* handed to the functions above; owned by the registering module */
    int max_concurrency;       /* jobs of this task at once in one worker process; 0 = no limit */
    bool serial;               /* jobs that name a queue run one at a time per queue */
    long long timeout_ms;      /* a run that takes longer fails with job_timeout; 0 = none */
    struct jobs_retry_policy retry;
};

struct jobs_registry {
    struct jobs_task tasks[JOBS_MAX_TASKS];
    int n;
};

void jobs_registry_init(struct jobs_registry *reg);
/* Validates the task's options and adds it.  0, or -1 with err naming the problem
 * (a bad name or option, a name registered twice, a full registry). */
int jobs_registry_add(struct jobs_registry *reg, const struct jobs_task *task, struct si_error *err);
/* The task's index, or -1. */
int jobs_registry_find(const struct jobs_registry *reg, const char *name);
/* 0, or -1 with err naming the option that is out of range. */
int jobs_task_validate(const struct jobs_task *task, struct si_error *err);

/* The delay before retry number `attempt` (attempt = failed attempts so far, >= 1):
 * d = min(cap, base * 2^(attempt-1)), then with jitter j% taken from
 * [d - d*j/100, d] using rnd (uniform over 0..UINT32_MAX).  Never above cap, never
 * below 0. */
long long jobs_backoff_ms(const struct jobs_retry_policy *p, int attempt, uint32_t rnd);

void jobs_job_clear(struct jobs_job *job);

/* ---- the engine's statements (jobs_engine.c; the daemon in worker.c runs them) ---- */

/* Who holds leases: "host:pid:random", and for how long a lease lasts. */
struct jobs_lease {
    char owner[160];
    char lease_ms[24];          /* decimal milliseconds, as a statement parameter */
};

/* Claims up to `limit` runnable jobs (run_at due, by priority then run_at) of the
 * tasks in `tasks` (a PostgreSQL array literal, "{a.b,c.d}") in one statement with
 * FOR UPDATE SKIP LOCKED, leasing them to lease->owner.  Jobs with a queue of the
 * tasks in `serial` (another array literal) are left for jobs_claim_lane.  Fills
 * out[0..*out_n-1] (the caller clears each with jobs_job_clear); task names point
 * into reg.  0, or -1 with err. */
int jobs_claim(struct si_db *db, const struct jobs_lease *lease, const struct jobs_registry *reg,
               const char *tasks, const char *serial, int limit, struct jobs_job *out, int *out_n,
               struct si_error *err);
/* The same for one job of a serial task (`tasks`) with a queue whose lane is free;
 * the lane is held (job_queues.locked_by) until the job ends. */
int jobs_claim_lane(struct si_db *db, const struct jobs_lease *lease, const struct jobs_registry *reg,
                    const char *tasks, struct jobs_job *out, int *out_n, struct si_error *err);

/* One successful job, as jobs_complete writes it. */
struct jobs_done {
    long long id;
    double ms;                  /* run time */
    char *result;               /* JSON text or NULL; owned */
    const char *event_type;     /* or NULL */
    char *event_payload;        /* JSON text or NULL; owned */
};
void jobs_done_clear(struct jobs_done *d);

/* Marks jobs succeeded in one statement (their audit rows, events and serial lanes
 * with them), each only if this lease still holds it; *out_n = how many were.
 * Inside or outside the caller's transaction. */
int jobs_complete(struct si_db *db, const struct jobs_lease *lease, const struct jobs_done *done, int n,
                  int *out_n, struct si_error *err);

/* Locks the job's row if this lease still holds it (inside a transaction).
 * 1 = held, 0 = lost, -1 = error. */
int jobs_lock_held(struct si_db *db, const struct jobs_lease *lease, long long id, struct si_error *err);

/* A failed run: `failed` with run_at after delay_ms, or `dead`; with its audit row
 * (error text), event and lane release, in one statement.  1 = recorded, 0 = the
 * lease was lost, -1 = error. */
int jobs_fail(struct si_db *db, const struct jobs_lease *lease, long long id, bool dead, long long delay_ms,
              double ms, const char *error, const char *event_type, const char *event_payload,
              struct si_error *err);

/* Extends the leases of the jobs in hand (ids: a bigint[] literal) and of their lanes.
 * 0 or -1. */
int jobs_heartbeat(PGconn *conn, const struct jobs_lease *lease, const char *ids);

#endif
