/* wf_tasks.c: the workflow's seven phases as tasks of the job engine
 * (workflow.phase1 .. workflow.phase7), registered by modules/jobs/tasks.c.
 *
 * A phase job runs as before: its HTTP trigger (wf_phase_trigger) is the task's run
 * function, outside any transaction; its database effects (wf_phase_apply) are the
 * commit hook, inside the engine's finishing transaction under the job's row lock.
 * The event hook gives the engine the workflow:phase:complete|retry|dead events,
 * which it writes in the same statement as the state change.  The retry policy is
 * WORKFLOW_BACKOFF_MS doubling up to WORKFLOW_BACKOFF_MAX_MS, with
 * WORKFLOW_BACKOFF_JITTER_PCT jitter (0 by default). */
#include "workflow.h"
#include "si_event.h"

#include <stdlib.h>
#include <string.h>

struct wf_phase_task {
    const struct wf_settings *s;
    int phase;
};

struct wf_tasks {
    struct wf_settings s;
    struct wf_phase_task phase[WF_PHASE_MAX + 1];
};

/* The engine's job as the phase code knows it (borrowed fields: never wf_job_clear it). */
static void as_wf_job(const struct jobs_job *job, int phase, struct wf_job *out)
{
    memset(out, 0, sizeof *out);
    out->id = job->id;
    snprintf(out->user_id, sizeof out->user_id, "%s", job->user_id);
    out->phase = phase;
    out->sync_id = job->job_key;
    out->payload = job->payload;
    out->attempts = job->attempts;
    out->max_attempts = job->max_attempts;
    snprintf(out->created_at, sizeof out->created_at, "%s", job->created_at);
    snprintf(out->prev_status, sizeof out->prev_status, "%s", job->prev_state);
}

static int run_phase(void *ctx, struct si_db *db, const struct jobs_job *job, json_t **out_state,
                     struct si_error *err)
{
    const struct wf_phase_task *pt = ctx;
    struct wf_job wj;
    (void)db;
    if (job->user_id[0] == '\0')
        return si_error_set(err, 500, "invalid_job", "a workflow job has no user");
    as_wf_job(job, pt->phase, &wj);
    return wf_phase_trigger(pt->s, &wj, out_state, err);
}

static int commit_phase(void *ctx, struct si_db *db, const struct jobs_job *job, const json_t *state,
                        json_t **out_result, struct si_error *err)
{
    const struct wf_phase_task *pt = ctx;
    struct wf_job wj;
    as_wf_job(job, pt->phase, &wj);
    return wf_phase_apply(db, &wj, state, out_result, err);
}

static const char *phase_event(void *ctx, const struct jobs_job *job, const struct jobs_end *end, json_t **out_payload)
{
    const struct wf_phase_task *pt = ctx;
    const char *type = NULL;
    json_t *ev = NULL;
    switch (end->outcome) {
    case JOBS_SUCCEEDED:
        type = "workflow:phase:complete";
        ev = json_pack("{s:I, s:i, s:i, s:f}", "jobId", (json_int_t)job->id, "phase", pt->phase,
                       "attempt", job->attempts, "ms", end->ms);
        break;
    case JOBS_RETRY:
        type = "workflow:phase:retry";
        ev = json_pack("{s:I, s:i, s:i, s:I, s:s}", "jobId", (json_int_t)job->id, "phase", pt->phase,
                       "attempt", job->attempts, "delayMs", (json_int_t)end->delay_ms, "code", end->code);
        break;
    case JOBS_DEAD:
        type = "workflow:phase:dead";
        ev = json_pack("{s:I, s:i, s:i, s:s}", "jobId", (json_int_t)job->id, "phase", pt->phase,
                       "attempts", job->attempts, "code", end->code);
        break;
    }
    if (ev == NULL || !si_event_payload_safe(ev)) {
        json_decref(ev);
        return NULL;
    }
    *out_payload = ev;
    return type;
}

int workflow_register_tasks(struct jobs_registry *reg, char *const *envp, void **out_state, struct si_error *err)
{
    struct wf_tasks *t = calloc(1, sizeof *t);
    *out_state = t;
    if (t == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    if (wf_settings_load(&t->s, envp, err) != 0)
        return -1;
    for (int p = WF_PHASE_MIN; p <= WF_PHASE_MAX; p++) {
        t->phase[p] = (struct wf_phase_task){ .s = &t->s, .phase = p };
        const struct jobs_task task = {
            .name = wf_task_name(p), .run = run_phase, .commit = commit_phase, .event = phase_event,
            .ctx = &t->phase[p],
            .retry = { .base_ms = t->s.backoff_ms, .cap_ms = t->s.backoff_max_ms,
                       .jitter_pct = t->s.backoff_jitter_pct },
        };
        if (jobs_registry_add(reg, &task, err) != 0)
            return -1;
    }
    return 0;
}

void workflow_tasks_free(void *state)
{
    free(state);
}
