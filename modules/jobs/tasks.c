/* tasks.c: every task smartimport-worker runs, one register call per module.
 * A module that adds tasks writes its own `<module>_register_tasks` (registering
 * `name -> run function` + options with jobs_registry_add) and adds one line to
 * MODULES below; the engine is never touched. */
#include "worker.h"
#include "test_tasks.h"
#include "workflow.h"
#include "bank_tasks.h"
#include "bulk_tasks.h"
#include "loyalty.h"
#include "retention.h"

#include <stdlib.h>

struct module_tasks {
    const char *module;
    /* Registers the module's tasks; *out_state (its settings, owned) lives until free. */
    int (*register_tasks)(struct jobs_registry *reg, char *const *envp, void **out_state, struct si_error *err);
    void (*free_state)(void *state);
    bool test_only;    /* only with SMARTIMPORT_WORKER_TEST_TASKS=1 */
};

static const struct module_tasks MODULES[] = {
    { "workflow", workflow_register_tasks, workflow_tasks_free, false },   /* workflow.phase1..7 */
    { "bank", bank_register_tasks, bank_tasks_free, false },               /* bank.sync_account, bank.enrich */
    { "bulk", bulk_register_tasks, bulk_tasks_free, false },               /* bulk.import */
    { "cdc", loyalty_register_tasks, loyalty_tasks_free, false },          /* loyalty.currency, .tier, .mission */
    { "retention", retention_register_tasks, retention_tasks_free, false }, /* retention.purge */
    { "test", test_register_tasks, test_tasks_free, true },                /* test.noop, test.sleep, ... */
};
#define N_MODULES (sizeof MODULES / sizeof *MODULES)

struct tasks_state {
    void *state[N_MODULES];
};

int worker_tasks_register(struct jobs_registry *reg, const struct worker_config *wc, char *const *envp,
                          void **out_state, struct si_error *err)
{
    struct tasks_state *ts = calloc(1, sizeof *ts);
    *out_state = ts;
    if (ts == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    for (size_t i = 0; i < N_MODULES; i++) {
        if (MODULES[i].test_only && !wc->test_tasks)
            continue;
        if (MODULES[i].register_tasks(reg, envp, &ts->state[i], err) != 0)
            return -1;
    }
    return 0;
}

void worker_tasks_free(void *state)
{
    struct tasks_state *ts = state;
    if (ts == NULL)
        return;
    for (size_t i = 0; i < N_MODULES; i++)
        if (ts->state[i] != NULL)
            MODULES[i].free_state(ts->state[i]);
    free(ts);
}
