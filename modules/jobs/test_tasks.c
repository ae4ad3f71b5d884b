/* test_tasks.c: tasks that exist to test and measure the engine
 * (tests/integration/t0051-jobs.sh, scripts/bench-jobs); registered only when
 * SMARTIMPORT_WORKER_TEST_TASKS=1.
 *   test.noop    does nothing (completions written in batches)
 *   test.sleep   sleeps payload.ms (<= 60000); at most 2 at once per worker
 *   test.serial  sleeps payload.ms; serial: jobs that share a queue run one at a time
 *   test.fail    fails while payload.fail is true (retry: 100 ms doubling, cap 400 ms, 50% jitter) */
#include "test_tasks.h"

#include <time.h>

static int sleep_ms(const struct jobs_job *job)
{
    json_int_t ms = json_integer_value(json_object_get(job->payload, "ms"));
    if (ms < 0 || ms > 60000)
        return -1;
    struct timespec ts = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0)
        ;
    return 0;
}

static int run_noop(void *ctx, struct si_db *db, const struct jobs_job *job, json_t **out_state, struct si_error *err)
{
    (void)ctx, (void)db, (void)job, (void)out_state, (void)err;
    return 0;
}

static int run_sleep(void *ctx, struct si_db *db, const struct jobs_job *job, json_t **out_state,
                     struct si_error *err)
{
    (void)ctx, (void)db;
    if (sleep_ms(job) != 0)
        return si_error_set(err, 400, "invalid_payload", "payload.ms must be 0..60000");
    *out_state = json_pack("{s:b}", "slept", 1);
    return 0;
}

static int run_fail(void *ctx, struct si_db *db, const struct jobs_job *job, json_t **out_state,
                    struct si_error *err)
{
    (void)ctx, (void)db, (void)out_state;
    if (json_is_true(json_object_get(job->payload, "fail")))
        return si_error_set(err, 500, "test_failure", "failing on purpose (attempt %d)", job->attempts);
    return 0;
}

int test_register_tasks(struct jobs_registry *reg, char *const *envp, void **out_state, struct si_error *err)
{
    (void)envp;
    *out_state = NULL;
    const struct jobs_retry_policy quick = { .base_ms = 100, .cap_ms = 400, .jitter_pct = 50 };
    const struct jobs_task tasks[] = {
        { .name = "test.noop", .run = run_noop, .retry = quick },
        { .name = "test.sleep", .run = run_sleep, .max_concurrency = 2, .retry = quick },
        { .name = "test.serial", .run = run_sleep, .serial = true, .retry = quick },
        { .name = "test.fail", .run = run_fail, .retry = quick },
    };
    for (size_t i = 0; i < sizeof tasks / sizeof *tasks; i++)
        if (jobs_registry_add(reg, &tasks[i], err) != 0)
            return -1;
    return 0;
}

void test_tasks_free(void *state)
{
    (void)state;
}
