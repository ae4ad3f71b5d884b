/* workflow.h: the seven-phase workflow (issue 7), on the general job engine
 * (modules/jobs: the table `jobs`, the daemon smartimport-worker).
 *
 * Four parts share this header:
 *   wf_util.c    pure helpers (phase numbers, the fee, canonical JSON + sha256,
 *                backoff, payload validation); unit-tested in tests/unit/check_workflow.c
 *   workflow.c   the HTTP responder smartimport-workflow (enqueue, job, list, audit, stats)
 *   phases.c     what each phase does when its job runs
 *   wf_tasks.c   the tasks workflow.phase1 .. workflow.phase7 registered with the
 *                engine (modules/jobs/tasks.c calls workflow_register_tasks) */
#ifndef WORKFLOW_H
#define WORKFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "jobs.h"
#include "si_db.h"
#include "si_error.h"
#include "si_function.h"

#define WF_PHASE_MIN 1
#define WF_PHASE_MAX 7
#define WF_SYNC_ID_MAX 200          /* bytes */
#define WF_CLAIM_ID_MAX 100         /* bytes */
#define WF_MAX_MATCHES 10000        /* phase 4 */
#define WF_MAX_PAYLOAD (1024 * 1024) /* request body of an enqueue, bytes */
#define WF_MAX_AMOUNT_MINOR 1000000000000000LL  /* 10^15 minor units */
#define WF_FEE_BPS 2000             /* 20% platform fee, basis points */
#define WF_AUTO_SUBMIT_MIN 0.85
#define WF_SMART_PROMPT_MIN 0.50
#define WF_MAX_ATTEMPTS_DEFAULT 5   /* WORKFLOW_MAX_ATTEMPTS */
#define WF_MAX_ATTEMPTS_MAX 100
#define WF_LIST_DEFAULT 50          /* GET jobs: a page's default size */
#define WF_LIST_MAX 200             /* GET jobs: the largest page */
#define WF_AUDIT_MAX 1000           /* GET jobs/:id/audit: the most rows answered */

/* "1".."7" exactly (no sign, no leading zero, nothing after) -> 1..7; else -1. */
int wf_parse_phase(const char *s);

/* Platform fee of a payout: 20% rounded half up to the minor unit,
 * fee = (amount * 2000 + 5000) / 10000 (integer division, amount >= 0),
 * net = amount - fee.  -1 when amount is outside 0..WF_MAX_AMOUNT_MINOR. */
int wf_fee(long long amount_minor, long long *fee_minor, long long *net_minor);

/* Phase 4 routing of one confidence (0..1). */
const char *wf_route(double confidence);

/* Retry delay after `attempt` failed attempts (1, 2, ...):
 * base * 2^(attempt-1), capped at cap_ms: the engine's jobs_backoff_ms without jitter. */
long long wf_backoff_ms(int attempt, long long base_ms, long long cap_ms);

/* The canonical form of a JSON document: keys sorted, no whitespace, UTF-8
 * as is (jansson's JSON_COMPACT | JSON_SORT_KEYS); the caller frees it.
 * Documents that are hashed hold strings and integers only. */
char *wf_canonical_json(const json_t *doc);

/* Lower-case hex sha256 of data into out (65 bytes).  0 or -1. */
int wf_sha256_hex(const void *data, size_t len, char out[65]);

/* Checks an enqueue body's phase fields (user_id and sync_id are checked by
 * the caller).  0, or -1 with a 400 err naming the field. */
int wf_validate_phase_fields(int phase, const json_t *body, struct si_error *err);

/* The HTTP responder's handler (workflow.c). */
int workflow_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);

/* The responder's settings, read once at start by its init hook
 * (workflow_init) and reached as ctx->fn_config. */
struct wf_api_config {
    int max_attempts;   /* WORKFLOW_MAX_ATTEMPTS (5, 1..100): a new job's attempts */
};
int workflow_init(const struct si_config *cfg, void **fn_config, struct si_error *err);
void workflow_cleanup(void *fn_config);

/* ---- the worker side (phases.c) ---- */

/* The phases' settings.  The worker-wide ones that used to be WORKFLOW_* (threads,
 * lease, poll) are smartimport-worker's now; their old names still work there
 * (modules/jobs/worker.h). */
struct wf_settings {
    int max_attempts;            /* WORKFLOW_MAX_ATTEMPTS (5), 1..100: a job's attempts, set at enqueue */
    long long backoff_ms;        /* WORKFLOW_BACKOFF_MS (1000) */
    long long backoff_max_ms;    /* WORKFLOW_BACKOFF_MAX_MS (300000), >= WORKFLOW_BACKOFF_MS */
    int backoff_jitter_pct;      /* WORKFLOW_BACKOFF_JITTER_PCT (0): 0 keeps each retry's delay exactly
                                  * base * 2^(n-1), as the workflow:phase:retry events report it */
    long long http_timeout_ms;   /* WORKFLOW_HTTP_TIMEOUT_MS (5000) */
    const char *url[WF_PHASE_MAX + 1];  /* trigger URL per phase, NULL = skipped */
    const char *service[WF_PHASE_MAX + 1]; /* the service's name per phase, NULL = none */
};

/* Reads the WORKFLOW_* variables from envp.  0, or -1 with err. */
int wf_settings_load(struct wf_settings *s, char *const *envp, struct si_error *err);

/* The task name of a phase ("workflow.phase4"), and back (-1 when not a phase task). */
const char *wf_task_name(int phase);
int wf_task_phase(const char *task);

/* wf_tasks.c: registers workflow.phase1..7 with the engine (modules/jobs/tasks.c);
 * *out_state holds the settings until workflow_tasks_free. */
int workflow_register_tasks(struct jobs_registry *reg, char *const *envp, void **out_state, struct si_error *err);
void workflow_tasks_free(void *state);

/* A claimed job, as the worker holds it. */
struct wf_job {
    long long id;
    char user_id[40];
    int phase;
    char *sync_id;       /* NULL when none; malloc'd */
    json_t *payload;     /* owned */
    int attempts;        /* including this one */
    int max_attempts;
    char created_at[40]; /* timestamptz as text (ISO 8601, UTC) */
    char prev_status[16];
};

void wf_job_clear(struct wf_job *job);

/* Step 1, outside any transaction: the phase's external HTTP trigger, if it
 * has one.  Fills *out_trigger ({"service","status","http_status"} or NULL for
 * phases without one).  -1 with err->code a short code on a failed call. */
int wf_phase_trigger(const struct wf_settings *s, const struct wf_job *job, json_t **out_trigger,
                     struct si_error *err);

/* Step 2, inside the caller's transaction: the phase's database effects
 * (idempotent), returning the job's result object in *out_result. */
int wf_phase_apply(struct si_db *db, const struct wf_job *job, const json_t *trigger, json_t **out_result,
                   struct si_error *err);

#endif
