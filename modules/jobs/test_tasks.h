/* test_tasks.h: the test.* tasks (test_tasks.c), registered only when
 * SMARTIMPORT_WORKER_TEST_TASKS=1 (scripts/test and scripts/bench-jobs set it). */
#ifndef JOBS_TEST_TASKS_H
#define JOBS_TEST_TASKS_H

#include "jobs.h"

int test_register_tasks(struct jobs_registry *reg, char *const *envp, void **out_state, struct si_error *err);
void test_tasks_free(void *state);

#endif
