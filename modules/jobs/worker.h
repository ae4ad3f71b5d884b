/* worker.h: the daemon smartimport-worker (worker.c): its settings and its one entry.
 * main_worker.c parses the command line; tasks.c fills the registry. */
#ifndef JOBS_WORKER_H
#define JOBS_WORKER_H

#include <stdbool.h>

#include "jobs.h"
#include "si_config.h"

struct worker_config {
    int threads;          /* SMARTIMPORT_WORKER_THREADS (old name WORKFLOW_WORKER_THREADS), 8:
                           * jobs run at once, one executor thread each */
    int batch;            /* SMARTIMPORT_WORKER_BATCH (64): most jobs one claim or completion statement takes */
    long long lease_ms;   /* SMARTIMPORT_WORKER_LEASE_MS (old name WORKFLOW_LEASE_MS), 30000 */
    long long poll_ms;    /* SMARTIMPORT_WORKER_POLL_MS (old name WORKFLOW_POLL_MS), 1000: longest
                           * sleep without a NOTIFY */
    bool test_tasks;      /* SMARTIMPORT_WORKER_TEST_TASKS=1: register the test.* tasks */
};

/* Reads the settings (each SMARTIMPORT_WORKER_* name wins over its old WORKFLOW_* one;
 * both are checked).  0, or -1 with err naming the variable. */
int worker_config_load(struct worker_config *wc, char *const *envp, struct si_error *err);

/* Runs until SIGTERM/SIGINT (blocked by the caller, waited for here): then stops
 * claiming, finishes the jobs in hand and returns 0; 1 if it could not start. */
int worker_run(const struct si_config *cfg, const struct worker_config *wc, const struct jobs_registry *reg);

/* tasks.c: every module's register call, in one table.  *out_state is freed by
 * worker_tasks_free. */
int worker_tasks_register(struct jobs_registry *reg, const struct worker_config *wc, char *const *envp,
                          void **out_state, struct si_error *err);
void worker_tasks_free(void *state);

#endif
