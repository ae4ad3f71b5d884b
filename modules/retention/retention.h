/* retention.h: the task retention.purge of smartimport-worker (registered by
 * modules/jobs/tasks.c through retention_register_tasks): what smartimport no longer needs
 * is deleted by age, in small batches.  The design is in retention.c and README.md. */
#ifndef RETENTION_H
#define RETENTION_H

#include "jobs.h"

#define RETENTION_DAYS_MIN 1
#define RETENTION_DAYS_MAX 3650          /* every SMARTIMPORT_RETAIN_*_DAYS lies in 1..3650 */
#define RETENTION_BATCH_ROWS 5000        /* staged rows or events one DELETE takes (about) */
#define RETENTION_BATCH_JOBS 1000        /* jobs one DELETE takes (their audit rows go with them) */
#define RETENTION_HOURS_MIN 1
#define RETENTION_HOURS_MAX 87600        /* SMARTIMPORT_RETAIN_IDEMPOTENCY_HOURS lies in 1..87600 (10 years) */
#define RETENTION_BATCH_OWNERS 100       /* imports or bulk batches one statement expires */
#define RETENTION_MAX_STATEMENTS 2000    /* DELETEs of one kind in one run; a backlog takes several runs */
#define RETENTION_RUN_BUDGET_MS 600000   /* a run starts no new batch after 10 minutes */
#define RETENTION_QUEUE "retention"      /* the serial lane: one purge at a time */

struct retention_settings {
    int staged_days;       /* SMARTIMPORT_RETAIN_STAGED_DAYS (7): staged rows of imports never committed */
    int jobs_days;         /* SMARTIMPORT_RETAIN_JOBS_DAYS (30): finished jobs and their audit rows */
    int events_days;       /* SMARTIMPORT_RETAIN_EVENTS_DAYS (90): import_events */
    int bulk_days;         /* SMARTIMPORT_RETAIN_BULK_STAGED_DAYS (7): staged rows of failed bulk batches */
    int idempotency_hours; /* SMARTIMPORT_RETAIN_IDEMPOTENCY_HOURS (24): idempotency keys (sql/0028) */
};

/* Reads the five settings (defaults above), each checked against its bounds.  0, or -1 with
 * err naming the variable. */
int retention_settings_load(struct retention_settings *s, char *const *envp, struct si_error *err);

/* Registers retention.purge and enqueues the run of the current UTC hour (job key
 * "retention:YYYY-MM-DDTHHZ", mode keep: workers starting together or restarting add nothing).
 * A database that cannot be reached then is logged, not fatal: the chain of runs goes on from
 * the last run's own enqueue.  A bad setting is -1 with err (the worker stops). */
int retention_register_tasks(struct jobs_registry *reg, char *const *envp, void **out_state, struct si_error *err);
void retention_tasks_free(void *state);

/* Enqueues the run of this UTC hour (next = false: run now) or of the next one (next = true:
 * run_at = the start of the next hour), mode keep, in the lane RETENTION_QUEUE, without waking
 * the workers.  Outside a transaction it commits on its own.  *out_existing: the key was taken.
 * 0, or -1 with err. */
int retention_schedule(struct si_db *db, bool next, long long *out_id, bool *out_existing, struct si_error *err);

#endif
