/* jobs_policy.c: the engine's pure rules (no database): task names, option
 * validation, the registry and the retry backoff with jitter.  Unit-tested in
 * tests/unit/check_jobs.c. */
#include "jobs.h"

#include <stdlib.h>
#include <string.h>

bool jobs_task_name_valid(const char *name)
{
    /* ^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$, as the table's check */
    if (name == NULL || !(name[0] >= 'a' && name[0] <= 'z') || strlen(name) > JOBS_TASK_NAME_MAX)
        return false;
    int dots = 0;
    bool empty_part = false;
    for (const char *p = name; *p != '\0'; p++) {
        if (*p == '.') {
            if (empty_part)
                return false;
            dots++;
            empty_part = true;
            continue;
        }
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
        empty_part = false;
    }
    return dots > 0 && !empty_part;
}

int jobs_task_validate(const struct jobs_task *t, struct si_error *err)
{
    if (!jobs_task_name_valid(t->name))
        return si_error_set(err, 500, "bad_task", "a task name is dotted lower-case words (module.task)");
    if (t->run == NULL)
        return si_error_set(err, 500, "bad_task", "task %s has no run function", t->name);
    if (t->max_concurrency < 0 || t->max_concurrency > 1024)
        return si_error_set(err, 500, "bad_task", "task %s: max_concurrency must be 0 (no limit) to 1024", t->name);
    if (t->timeout_ms < 0 || t->timeout_ms > JOBS_BACKOFF_MAX_MS)
        return si_error_set(err, 500, "bad_task", "task %s: timeout_ms must be 0 (none) to %lld", t->name,
                            JOBS_BACKOFF_MAX_MS);
    if (t->retry.base_ms < 0 || t->retry.base_ms > JOBS_BACKOFF_MAX_MS || t->retry.cap_ms < t->retry.base_ms ||
        t->retry.cap_ms > JOBS_BACKOFF_MAX_MS)
        return si_error_set(err, 500, "bad_task", "task %s: retry needs 0 <= base_ms <= cap_ms <= %lld", t->name,
                            JOBS_BACKOFF_MAX_MS);
    if (t->retry.jitter_pct < 0 || t->retry.jitter_pct > 100)
        return si_error_set(err, 500, "bad_task", "task %s: retry jitter_pct must be 0 to 100", t->name);
    return 0;
}

void jobs_registry_init(struct jobs_registry *reg)
{
    memset(reg, 0, sizeof *reg);
}

int jobs_registry_find(const struct jobs_registry *reg, const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < reg->n; i++)
        if (strcmp(reg->tasks[i].name, name) == 0)
            return i;
    return -1;
}

int jobs_registry_add(struct jobs_registry *reg, const struct jobs_task *task, struct si_error *err)
{
    if (jobs_task_validate(task, err) != 0)
        return -1;
    if (jobs_registry_find(reg, task->name) >= 0)
        return si_error_set(err, 500, "bad_task", "task %s is registered twice", task->name);
    if (reg->n >= JOBS_MAX_TASKS)
        return si_error_set(err, 500, "bad_task", "more than %d tasks", JOBS_MAX_TASKS);
    reg->tasks[reg->n++] = *task;
    return 0;
}

long long jobs_backoff_ms(const struct jobs_retry_policy *p, int attempt, uint32_t rnd)
{
    long long base = p->base_ms < 0 ? 0 : p->base_ms, cap = p->cap_ms < base ? base : p->cap_ms;
    if (attempt < 1)
        attempt = 1;
    long long d = base;
    for (int i = 1; i < attempt && d < cap; i++)
        d *= 2;   /* d < cap <= JOBS_BACKOFF_MAX_MS: no overflow */
    if (d > cap)
        d = cap;
    int j = p->jitter_pct < 0 ? 0 : p->jitter_pct > 100 ? 100 : p->jitter_pct;
    /* span = d*j/100; subtract span * rnd / 2^32 (d <= 8.64e7, so the products fit) */
    long long span = d * j / 100;
    long long off = (long long)(((unsigned long long)span * (unsigned long long)rnd) >> 32);
    return d - off;
}

void jobs_job_clear(struct jobs_job *job)
{
    free(job->job_key);
    free(job->queue);
    json_decref(job->payload);
    memset(job, 0, sizeof *job);
}
