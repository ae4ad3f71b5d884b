/* bank_tasks.c: registers bank.sync_account and bank.enrich with the job engine
 * (modules/jobs/tasks.c calls bank_register_tasks).
 *
 * bank.sync_account: one account of an import job (bank_sync.c runs it, bank_sync_commit.c
 * commits it); at most BANK_SYNC_PARALLEL at once per worker process (the task's
 * max_concurrency), retried with backoff 1 s doubling to 60 s (20% jitter) up to
 * BANK_SYNC_MAX_ATTEMPTS attempts.  bank.enrich: the categories of a finished job's rows
 * (bank_enrich.c). */
#include "bank_tasks.h"
#include "bank_sync.h"
#include "bank_fetch.h"

#include <stdlib.h>

int bank_register_tasks(struct jobs_registry *reg, char *const *envp, void **out_state, struct si_error *err)
{
    struct bank_tasks_state *st = calloc(1, sizeof *st);
    *out_state = st;
    if (st == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    if (bank_jobs_settings_load(&st->s, envp, err) != 0 || bank_fetch_settings_load(&st->tl_settings, envp, err) != 0)
        return -1;
    const struct jobs_task sync = {
        .name = "bank.sync_account", .run = bank_sync_run, .commit = bank_sync_commit, .ctx = st,
        .max_concurrency = st->s.sync_parallel,
        .retry = { .base_ms = 1000, .cap_ms = 60000, .jitter_pct = 20 },
    };
    const struct jobs_task enrich = {
        .name = "bank.enrich", .run = bank_enrich_run, .commit = bank_enrich_commit, .ctx = st,
        .retry = { .base_ms = 1000, .cap_ms = 60000, .jitter_pct = 20 },
    };
    if (jobs_registry_add(reg, &sync, err) != 0 || jobs_registry_add(reg, &enrich, err) != 0)
        return -1;
    return 0;
}

void bank_tasks_free(void *state)
{
    struct bank_tasks_state *st = state;
    if (st == NULL)
        return;
    bank_fetch_settings_free(st->tl_settings);
    free(st);
}
