/* approve_import.c: POST /.netlify/functions/approve-import {"userId","importId"}
 *
 * The whole approval on the server, in one request: commit -> Prime's
 * handoff -> Crystal's analysis, calling the steps' C functions directly
 * (commit_run, prime_run, crystal_run) on this worker's connection; each
 * step keeps its own transactions and events.
 *
 *   200 {"ok":true,"importId","handoffId","committed","summary","budgetImpact","forecastDelta",
 *        "topCategories","source","timestamp","timings":{"commitMs","primeMs","crystalMs","totalMs"}}
 *
 * The steps answer typed outcomes (struct commit_outcome, struct
 * prime_outcome): nothing is parsed back from JSON between them.
 *
 * Approving again is safe: commit_run answers an already committed import
 * with already_committed and adds nothing, and then "committed" is the
 * import's original count (imports.committed_count); Prime answers its existing
 * handoff and Crystal its stored advice (the model is not asked again).
 *
 * When a step fails:
 *   commit   -> the commit's own status (400/404/409/503/504...) and
 *               {"ok":false,"stage":"commit","error","code","message":"Failed to commit
 *                transactions. Data remains in staging.","recoverySteps":[...]}
 *   prime or -> {"ok":false,"partial":true,"stage":"prime_handoff"|"crystal_analysis",
 *   crystal     "importId","committed","handoffId" (crystal only),"error","code"}
 *               with the failed step's OWN status: 500 internal, 503 database
 *               unavailable, 504 statement timeout (409/404 only if the
 *               import was reverted in between).  Not a 2xx, because the
 *               client must notice that the analysis is missing; not 502,
 *               because no upstream failed: the model failing is not a
 *               failure (Crystal answers from its rules), and the steps run
 *               in this process.  The commit stays done; approving again
 *               resumes where it stopped.
 * Errors before any step (bad body, identity, importId) are the usual shape. */
#include "advice.h"
#include "commit.h"
#include "import_lock.h"
#include "si_json.h"
#include "si_clock.h"
#include "si_log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static double tenth(double ms)
{
    return (double)(long long)(ms * 10.0 + 0.5) / 10.0;
}

/* What the client can do about a failed commit, by kind of failure. */
static json_t *recovery_steps(const struct si_error *err)
{
    if (err->status == 404)
        return json_pack("[s, s]", "Check the importId: it must be one of your imports",
                         "Upload the statement again if the import was removed");
    if (err->status == 409)
        return json_pack("[s, s]", "Only a parsed import can be committed: check its status",
                         "Upload the statement again to start a new import");
    return json_pack("[s, s, s]", "Retry the approval: a commit is all-or-nothing and idempotent, so retrying is safe",
                     "Check that the database is reachable (GET /health)",
                     "If it keeps failing, upload the statement again");
}

static int fail(struct si_response *resp, const struct si_error *err, json_t *body)
{
    int status = err->status >= 400 && err->status <= 599 ? err->status : 500;
    if (body == NULL || advice_respond(resp, status, body) != 0) {
        json_decref(body);
        return si_response_from_error(resp, err);
    }
    json_decref(body);
    resp->error_code = err->code ? err->code : "internal";
    snprintf(resp->log_detail, sizeof resp->log_detail, "%s", err->detail);
    return -1;
}

static int fail_commit(struct si_response *resp, const struct si_error *err)
{
    json_t *steps = recovery_steps(err);
    json_t *body = steps == NULL ? NULL
        : json_pack("{s:b, s:s, s:s, s:s, s:s, s:o}", "ok", 0, "stage", "commit", "error", err->message, "code",
                    err->code ? err->code : "internal", "message",
                    "Failed to commit transactions. Data remains in staging.", "recoverySteps", steps);
    return fail(resp, err, body);
}

static int fail_partial(struct si_response *resp, const struct si_error *err, const char *stage,
                        const char *import_id, long long committed, const char *handoff_id)
{
    json_t *body = json_pack("{s:b, s:b, s:s, s:s, s:I, s:s, s:s}", "ok", 0, "partial", 1, "stage", stage,
                             "importId", import_id, "committed", (json_int_t)committed, "error", err->message,
                             "code", err->code ? err->code : "internal");
    if (body != NULL && handoff_id != NULL)
        json_object_set_new(body, "handoffId", json_string(handoff_id));
    return fail(resp, err, body);
}

/* The rows this approval (or the first one) committed. */
static long long committed_count(const struct commit_outcome *commit)
{
    if (commit->already_committed)
        return commit->previously_committed > 0 ? commit->previously_committed : 0;
    return commit->committed;
}

int approve_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    json_t *body = NULL, *crystal = NULL, *out = NULL;
    char user[SI_UUID_LEN + 1] = "", handoff_id[SI_UUID_LEN + 1] = "", now[32];
    struct commit_outcome commit;
    struct prime_outcome prime = { .message = NULL };
    struct locked_import imp;
    struct si_error err;
    double t0 = 0, t1 = 0;
    si_error_clear(&err);
    int rc = -1;
    if (import_request(ctx, req, &body, user, &imp, &err) != 0) {
        si_response_from_error(resp, &err);
        goto out;
    }
    t0 = si_clock_ms();

    if (commit_run(ctx->db, user, imp.id, &commit, &err) != 0) {
        fail_commit(resp, &err);
        goto out;
    }
    long long committed = committed_count(&commit);
    double commit_ms = si_ms_since(t0);

    t1 = si_clock_ms();
    if (prime_run(ctx->db, user, imp.id, &prime, &err) != 0) {
        fail_partial(resp, &err, "prime_handoff", imp.id, committed, NULL);
        goto out;
    }
    snprintf(handoff_id, sizeof handoff_id, "%s", prime.handoff_id);
    double prime_ms = si_ms_since(t1);

    t1 = si_clock_ms();
    if (crystal_run(ctx->db, ctx->http, user, handoff_id, false, &crystal, &err) != 0) {
        fail_partial(resp, &err, "crystal_analysis", imp.id, committed, handoff_id);
        goto out;
    }
    double crystal_ms = si_ms_since(t1);

    si_utc_timestamp(now, sizeof now);
    out = json_pack("{s:b, s:s, s:s, s:I, s:O, s:O, s:O, s:O, s:O, s:s, s:{s:f, s:f, s:f, s:f}}", "ok", 1,
                    "importId", imp.id, "handoffId", handoff_id, "committed", (json_int_t)committed,
                    "summary", json_object_get(crystal, "summary"),
                    "budgetImpact", json_object_get(crystal, "budgetImpact"),
                    "forecastDelta", json_object_get(crystal, "forecastDelta"),
                    "topCategories", json_object_get(crystal, "topCategories"),
                    "source", json_object_get(crystal, "source"), "timestamp", now,
                    "timings", "commitMs", tenth(commit_ms), "primeMs", tenth(prime_ms), "crystalMs",
                    tenth(crystal_ms), "totalMs", tenth(si_ms_since(t0)));
    if (out == NULL) {
        si_response_error(resp, 500, "internal", "out of memory");
        goto out;
    }
    rc = advice_respond(resp, 200, out);
out:
    json_decref(out);
    json_decref(crystal);
    prime_outcome_cleanup(&prime);
    json_decref(body);
    return rc;
}
