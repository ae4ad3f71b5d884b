/* bulk_tasks.h: the task bulk.import of smartimport-worker (registered by modules/jobs/tasks.c
 * through bulk_register_tasks) and its enqueue, used by the responder. */
#ifndef BULK_TASKS_H
#define BULK_TASKS_H

#include "jobs.h"

int bulk_register_tasks(struct jobs_registry *reg, char *const *envp, void **out_state, struct si_error *err);
void bulk_tasks_free(void *state);

/* Enqueues the bulk.import job of a batch run inside the caller's transaction (job_key: the
 * batch id, or "<batch>:retry:<retry>"; queue: the merchant's lane).  *out_job: its id. */
int bulk_enqueue(struct si_db *db, const char *batch_id, const char *merchant_id, const char *user, int retry,
                 long long *out_job, struct si_error *err);

#endif
