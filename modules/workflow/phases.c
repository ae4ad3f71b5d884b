/* phases.c: what each of the seven phases does when smartimport-worker runs its job
 * (the task workflow.phaseN, wf_tasks.c).
 *
 * A job runs in two steps.  wf_phase_trigger() makes the phase's external HTTP
 * call (if it has one) outside any transaction: a call cannot be rolled back, so
 * it carries `Idempotency-Key: <job id>` and the receiving service must treat a
 * repeat as the same request (a job runs again after a worker died mid-job or a
 * failure).  A non-2xx answer, a timeout or a refused connection fails the job,
 * and the queue retries it.  With no URL configured the trigger is recorded as
 * skipped.  wf_phase_apply() then writes the phase's effects inside the worker's
 * finishing transaction, keyed by job id or natural keys (ON CONFLICT), so a job
 * that runs twice changes them once.
 *
 *   1 OAuth completed   records the seller connection; triggers the sync (WORKFLOW_SYNC_URL)
 *   2 sync completed    triggers detection (WORKFLOW_DETECTION_URL)
 *   3 detection done    triggers evidence matching (WORKFLOW_MATCHING_URL)
 *   4 matches           routes each claim: >= 0.85 auto_submit, 0.50..0.85 smart_prompt, else hold
 *   5 claim submitted   starts payout monitoring; notifies WORKFLOW_PAYOUT_MONITOR_URL
 *   6 rejection         logged for learning; notifies WORKFLOW_LEARNING_URL
 *   7 payout            20% platform fee (half up) and a proof packet with its sha256 */
#include "workflow.h"
#include "si_config.h"
#include "si_http.h"
#include "si_log.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"

static const struct {
    const char *service, *env;
} TRIGGERS[WF_PHASE_MAX + 1] = {
    [1] = { "sync", "WORKFLOW_SYNC_URL" },
    [2] = { "detection", "WORKFLOW_DETECTION_URL" },
    [3] = { "matching", "WORKFLOW_MATCHING_URL" },
    [5] = { "payout_monitor", "WORKFLOW_PAYOUT_MONITOR_URL" },
    [6] = { "learning", "WORKFLOW_LEARNING_URL" },
};

int wf_settings_load(struct wf_settings *s, char *const *envp, struct si_error *err)
{
    long long attempts = WF_MAX_ATTEMPTS_DEFAULT, jitter = 0;
    memset(s, 0, sizeof *s);
    s->backoff_ms = 1000;
    s->backoff_max_ms = 300000;
    s->http_timeout_ms = 5000;
    if (si_env_long(envp, "WORKFLOW_MAX_ATTEMPTS", 1, WF_MAX_ATTEMPTS_MAX, &attempts, err) != 0 ||
        si_env_long(envp, "WORKFLOW_BACKOFF_MS", 0, 3600000, &s->backoff_ms, err) != 0 ||
        si_env_long(envp, "WORKFLOW_BACKOFF_MAX_MS", 0, 86400000, &s->backoff_max_ms, err) != 0 ||
        si_env_long(envp, "WORKFLOW_BACKOFF_JITTER_PCT", 0, 100, &jitter, err) != 0 ||
        si_env_long(envp, "WORKFLOW_HTTP_TIMEOUT_MS", 10, 600000, &s->http_timeout_ms, err) != 0)
        return -1;
    if (s->backoff_max_ms < s->backoff_ms)
        return si_error_set(err, 500, "bad_config", "WORKFLOW_BACKOFF_MAX_MS must be at least WORKFLOW_BACKOFF_MS");
    s->max_attempts = (int)attempts;
    s->backoff_jitter_pct = (int)jitter;
    for (int p = WF_PHASE_MIN; p <= WF_PHASE_MAX; p++) {
        s->service[p] = TRIGGERS[p].service;
        if (TRIGGERS[p].env != NULL) {
            const char *u = si_env_get(envp, TRIGGERS[p].env);
            s->url[p] = (u != NULL && *u != '\0') ? u : NULL;
        }
    }
    return 0;
}

void wf_job_clear(struct wf_job *job)
{
    free(job->sync_id);
    json_decref(job->payload);
    memset(job, 0, sizeof *job);
}

/* ---- step 1: the HTTP trigger ------------------------------------------------------ */

/* POSTs the job to the phase's service through the runtime's HTTP client:
 * one attempt (the queue retries the job), WORKFLOW_HTTP_TIMEOUT_MS for all
 * of it, `Idempotency-Key: <job id>`, the answer's body read and dropped. */
static int http_post(const struct wf_settings *s, const char *url, const struct wf_job *job, long *out_status,
                     struct si_error *err)
{
    int rc = -1;
    char key[32];
    struct si_http_client client;
    struct si_http_request req;
    struct si_http_result res = { .body = NULL };
    si_http_client_init(&client);
    json_t *doc = json_pack("{s:I, s:i, s:s, s:o, s:O}", "job_id", (json_int_t)job->id, "phase", job->phase,
                            "user_id", job->user_id, "sync_id",
                            job->sync_id != NULL ? json_string(job->sync_id) : json_null(), "payload", job->payload);
    if (doc == NULL) {
        si_error_set(err, 500, "internal", "out of memory");
        goto out;
    }
    snprintf(key, sizeof key, "%lld", job->id);
    si_http_request_init(&req);
    req.url = url;
    req.idempotency_key = key;
    req.user_agent = "smartimport-workflow/" PACKAGE_VERSION;
    req.timeout_ms = req.connect_timeout_ms = req.deadline_ms = (long)s->http_timeout_ms;
    req.max_attempts = 1;
    req.discard_body = true;
    req.accept = "*/*";
    if (si_http_json(&client, &req, doc, NULL, &res) == 0) {
        *out_status = res.status;
        rc = 0;
    } else if (res.error == SI_HTTP_ERR_STATUS) {
        *out_status = res.status;
        si_error_set(err, 502, "trigger_http_error", "the %s service answered %ld", s->service[job->phase],
                     res.status);
    } else if (res.error == SI_HTTP_ERR_SETUP) {
        si_error_set(err, 500, "trigger_setup", "the request to the %s service could not be made",
                     s->service[job->phase]);
        si_error_detail(err, "http: %s", res.detail);
    } else {
        si_error_set(err, 502, res.error == SI_HTTP_ERR_TIMEOUT ? "trigger_timeout" : "trigger_unreachable",
                     "the %s service did not answer", s->service[job->phase]);
        si_error_detail(err, "http: %s", res.detail);
    }
out:
    si_http_result_cleanup(&res);
    si_http_client_cleanup(&client);
    json_decref(doc);
    return rc;
}

int wf_phase_trigger(const struct wf_settings *s, const struct wf_job *job, json_t **out_trigger,
                     struct si_error *err)
{
    *out_trigger = NULL;
    if (TRIGGERS[job->phase].service == NULL)
        return 0;
    long status = 0;
    const char *url = s->url[job->phase];
    if (url != NULL && http_post(s, url, job, &status, err) != 0)
        return -1;
    *out_trigger = url != NULL
        ? json_pack("{s:s, s:s, s:i}", "service", TRIGGERS[job->phase].service, "status", "sent", "http_status", (int)status)
        : json_pack("{s:s, s:s, s:n}", "service", TRIGGERS[job->phase].service, "status", "skipped", "http_status");
    if (*out_trigger == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    return 0;
}

/* ---- step 2: the database effects --------------------------------------------------- */

static const char *str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static int record_trigger(struct si_db *db, const struct wf_job *job, const json_t *trigger, struct si_error *err)
{
    if (trigger == NULL)
        return 0;
    char id[24], phase[4], status[16];
    snprintf(id, sizeof id, "%lld", job->id);
    snprintf(phase, sizeof phase, "%d", job->phase);
    const json_t *hs = json_object_get(trigger, "http_status");
    snprintf(status, sizeof status, "%lld", (long long)json_integer_value(hs));
    const char *p[] = { id, job->user_id, phase, str(trigger, "service"), str(trigger, "status"),
                        json_is_integer(hs) ? status : NULL };
    return si_db_command(db,
        "INSERT INTO workflow_triggers (job_id, user_id, phase, service, status, http_status) "
        "VALUES ($1::bigint, $2, $3::smallint, $4, $5, $6::int) ON CONFLICT (job_id) DO NOTHING", 6, p, err);
}

static int phase1(struct si_db *db, const struct wf_job *job, json_t *result, struct si_error *err)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", job->id);
    const char *seller = str(job->payload, "seller_id");
    const char *p[] = { job->user_id, seller != NULL ? seller : "", job->sync_id, id };
    if (si_db_command(db,
            "INSERT INTO workflow_connections (user_id, seller_id, sync_id, job_id) VALUES ($1, $2, $3, $4::bigint) "
            "ON CONFLICT (user_id, seller_id) DO UPDATE SET sync_id = excluded.sync_id, job_id = excluded.job_id, "
            "connected_at = now()", 4, p, err) != 0)
        return -1;
    if (json_object_set_new(result, "connection", json_pack("{s:s}", "seller_id", p[1])) != 0)
        return si_error_set(err, 500, "internal", "out of memory");
    return 0;
}

static int phase4(struct si_db *db, const struct wf_job *job, json_t *result, struct si_error *err)
{
    int rc = -1;
    char *rows_text = NULL, id[24];
    json_t *rows = json_array(), *lists = json_pack("{s:[], s:[], s:[]}", "auto_submit", "smart_prompt", "hold");
    if (rows == NULL || lists == NULL)
        goto oom;
    size_t i;
    const json_t *m;
    json_array_foreach(json_object_get(job->payload, "matches"), i, m) {
        const char *claim = str(m, "claim_id");
        double c = json_number_value(json_object_get(m, "confidence"));
        const char *route = wf_route(c);
        if (claim == NULL)
            continue;  /* validated at enqueue; never happens */
        if (json_array_append_new(rows, json_pack("{s:s, s:f, s:s}", "claim_id", claim, "confidence", c,
                                                  "route", route)) != 0 ||
            json_array_append_new(json_object_get(lists, route), json_string(claim)) != 0)
            goto oom;
    }
    if ((rows_text = json_dumps(rows, JSON_COMPACT)) == NULL)
        goto oom;
    snprintf(id, sizeof id, "%lld", job->id);
    const char *p[] = { job->user_id, rows_text, id };
    if (si_db_command(db,
            "INSERT INTO workflow_claim_routes (user_id, claim_id, confidence, route, job_id) "
            "SELECT $1, r.claim_id, r.confidence, r.route, $3::bigint "
            "FROM jsonb_to_recordset($2::jsonb) AS r(claim_id text, confidence double precision, route text) "
            "ON CONFLICT (user_id, claim_id) DO UPDATE SET confidence = excluded.confidence, route = excluded.route, "
            "job_id = excluded.job_id, routed_at = now()", 3, p, err) != 0)
        goto out;
    const char *keys[] = { "auto_submit", "smart_prompt", "hold" };
    json_t *counts = json_object();
    if (counts == NULL || json_object_set_new(result, "counts", counts) != 0)
        goto oom;
    for (size_t k = 0; k < 3; k++)
        if (json_object_set(result, keys[k], json_object_get(lists, keys[k])) != 0 ||
            json_object_set_new(counts, keys[k], json_integer((json_int_t)json_array_size(json_object_get(lists, keys[k])))) != 0)
            goto oom;
    rc = 0;
    goto out;
oom:
    si_error_set(err, 500, "internal", "out of memory");
out:
    free(rows_text);
    json_decref(rows);
    json_decref(lists);
    return rc;
}

static int phase5(struct si_db *db, const struct wf_job *job, json_t *result, struct si_error *err)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", job->id);
    const char *p[] = { job->user_id, str(job->payload, "claim_id"), id };
    if (si_db_command(db, "INSERT INTO workflow_payout_monitors (user_id, claim_id, job_id) "
                          "VALUES ($1, $2, $3::bigint) ON CONFLICT (user_id, claim_id) DO NOTHING", 3, p, err) != 0)
        return -1;
    if (json_object_set_new(result, "claim_id", json_string(p[1])) != 0 ||
        json_object_set_new(result, "monitoring", json_true()) != 0)
        return si_error_set(err, 500, "internal", "out of memory");
    return 0;
}

static int phase6(struct si_db *db, const struct wf_job *job, json_t *result, struct si_error *err)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", job->id);
    const char *p[] = { id, job->user_id, str(job->payload, "claim_id"), str(job->payload, "reason") };
    if (si_db_command(db, "INSERT INTO workflow_rejections (job_id, user_id, claim_id, reason) "
                          "VALUES ($1::bigint, $2, $3, $4) ON CONFLICT (job_id) DO NOTHING", 4, p, err) != 0)
        return -1;
    if (json_object_set_new(result, "claim_id", json_string(p[2])) != 0 ||
        json_object_set_new(result, "logged_for_learning", json_true()) != 0)
        return si_error_set(err, 500, "internal", "out of memory");
    return 0;
}

static int phase7(struct si_db *db, const struct wf_job *job, json_t *result, struct si_error *err)
{
    int rc = -1;
    PGresult *res = NULL;
    char *canon = NULL, sha[65], id[24], amount_s[24], fee_s[24], net_s[24];
    json_t *proof = NULL;
    const char *claim = str(job->payload, "claim_id"), *currency = str(job->payload, "currency");
    long long amount = (long long)json_integer_value(json_object_get(job->payload, "amount_minor")), fee, net;
    if (claim == NULL || currency == NULL || wf_fee(amount, &fee, &net) != 0) {
        si_error_set(err, 500, "invalid_payload", "the phase 7 payload is not valid");
        goto out;
    }
    proof = json_pack("{s:i, s:s, s:I, s:s, s:s, s:o, s:I, s:s, s:i, s:I, s:I, s:s, s:s}",
                      "version", 1, "kind", "payout_proof", "job_id", (json_int_t)job->id, "user_id", job->user_id,
                      "claim_id", claim, "sync_id", job->sync_id != NULL ? json_string(job->sync_id) : json_null(),
                      "amount_minor", (json_int_t)amount, "currency", currency, "fee_bps", WF_FEE_BPS,
                      "fee_minor", (json_int_t)fee, "net_minor", (json_int_t)net, "rounding", "half_up",
                      "received_at", job->created_at);
    if (proof == NULL || (canon = wf_canonical_json(proof)) == NULL) {
        si_error_set(err, 500, "internal", "out of memory");
        goto out;
    }
    if (wf_sha256_hex(canon, strlen(canon), sha) != 0) {
        si_error_set(err, 500, "internal", "sha256 failed");
        goto out;
    }
    snprintf(id, sizeof id, "%lld", job->id);
    snprintf(amount_s, sizeof amount_s, "%lld", amount);
    snprintf(fee_s, sizeof fee_s, "%lld", fee);
    snprintf(net_s, sizeof net_s, "%lld", net);
    const char *p[] = { job->user_id, claim, id, amount_s, currency, fee_s, net_s, canon, sha };
    if (si_db_command(db,
            "INSERT INTO workflow_payouts (user_id, claim_id, job_id, amount_minor, currency, fee_minor, net_minor, "
            "  proof_canonical, proof_sha256, proof) "
            "VALUES ($1, $2, $3::bigint, $4::bigint, $5, $6::bigint, $7::bigint, $8::text, $9, $8::text::jsonb) "
            "ON CONFLICT (user_id, claim_id) DO NOTHING", 9, p, err) != 0)
        goto out;
    const char *q[] = { job->user_id, claim };
    if (si_db_command(db, "UPDATE workflow_payout_monitors SET status = 'paid' WHERE user_id = $1 AND claim_id = $2",
                      2, q, err) != 0)
        goto out;
    /* The payout row is the truth: a second payout job for the same claim reports the first. */
    res = si_db_exec(db, "SELECT job_id, amount_minor, currency, fee_minor, net_minor, proof_sha256 "
                         "FROM workflow_payouts WHERE user_id = $1 AND claim_id = $2", 2, q, err);
    if (res == NULL)
        goto out;
    if (PQntuples(res) != 1) {
        si_error_set(err, 500, "internal", "the payout row is missing");
        goto out;
    }
    long long payout_job = 0, stored_amount = 0, stored_fee = 0, stored_net = 0;
    if (si_db_get_int64(res, 0, 0, &payout_job) != 0 || si_db_get_int64(res, 0, 1, &stored_amount) != 0 ||
        si_db_get_int64(res, 0, 3, &stored_fee) != 0 || si_db_get_int64(res, 0, 4, &stored_net) != 0) {
        si_db_bad_value(err, "workflow_payouts");
        goto out;
    }
    json_t *r = json_pack("{s:s, s:I, s:s, s:I, s:I, s:i, s:s, s:s, s:I}", "claim_id", claim,
                          "amount_minor", (json_int_t)stored_amount, "currency", PQgetvalue(res, 0, 2),
                          "fee_minor", (json_int_t)stored_fee, "net_minor", (json_int_t)stored_net,
                          "fee_bps", WF_FEE_BPS, "rounding", "half_up", "proof_sha256", PQgetvalue(res, 0, 5),
                          "payout_job_id", (json_int_t)payout_job);
    if (r == NULL || json_object_update(result, r) != 0) {
        json_decref(r);
        si_error_set(err, 500, "internal", "out of memory");
        goto out;
    }
    json_decref(r);
    rc = 0;
out:
    PQclear(res);
    free(canon);
    json_decref(proof);
    return rc;
}

int wf_phase_apply(struct si_db *db, const struct wf_job *job, const json_t *trigger, json_t **out_result,
                   struct si_error *err)
{
    json_t *result = json_object();
    *out_result = NULL;
    if (result == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    if (trigger != NULL && json_object_set(result, "trigger", (json_t *)trigger) != 0) {
        json_decref(result);
        return si_error_set(err, 500, "internal", "out of memory");
    }
    int rc = record_trigger(db, job, trigger, err);
    if (rc == 0) {
        switch (job->phase) {
        case 1: rc = phase1(db, job, result, err); break;
        case 4: rc = phase4(db, job, result, err); break;
        case 5: rc = phase5(db, job, result, err); break;
        case 6: rc = phase6(db, job, result, err); break;
        case 7: rc = phase7(db, job, result, err); break;
        default: break;   /* 2, 3: the trigger is the whole phase */
        }
    }
    if (rc != 0) {
        json_decref(result);
        return -1;
    }
    *out_result = result;
    return 0;
}
