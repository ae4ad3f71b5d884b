/* bank_tasks.h: the tasks bank.sync_account and bank.enrich of smartimport-worker
 * (registered by modules/jobs/tasks.c through bank_register_tasks). */
#ifndef BANK_TASKS_H
#define BANK_TASKS_H

#include "jobs.h"

int bank_register_tasks(struct jobs_registry *reg, char *const *envp, void **out_state, struct si_error *err);
void bank_tasks_free(void *state);

#endif
