/* crystal_analyze_import.c: POST /.netlify/functions/crystal-analyze-import {"userId","handoffId","force"?}
 *   200 {"ok":true,"handoffId","importId","summary","budgetImpact","forecastDelta",
 *        "topCategories":["Groceries: $450.50",...],
 *        "categories":[{"name","amountMinor","currency","share","momChangePct"}],
 *        "source":"llm"|"rules","stored":bool}
 *
 * Crystal analyses the import behind a handoff: the figures come from SQL
 * over all of the user's transactions (analytics.c), the words from the
 * model when one is configured and answers well, else from the rules
 * template (rules.c) -- still a 200, with "source":"rules" and a warning in
 * the log that names the reason code only.  share is the category's percent
 * of the period's spend and momChangePct its monthly run-rate against the
 * average of the earlier months, both with one decimal; momChangePct is null
 * when there is no earlier spend to compare with.
 *
 * Three steps, so that no transaction stays open while the model thinks
 * (without a model configured they are one transaction: nothing is slow):
 *   1. one transaction: lock the handoff; unless "force", stored advice is
 *      the answer ("stored":true, nothing written, the model not asked);
 *      else mark it analyzing and record crystal:analyze:start;
 *   2. no transaction: the analytics queries and the model call;
 *   3. one transaction: lock the handoff again (a concurrent call that
 *      finished first wins: its advice is the answer), store the advice in
 *      advice_messages, mark the handoff completed and the import analyzed,
 *      record crystal:analyze:complete and advisory:ready.
 * A failure after step 1 began rolls back, records crystal:analyze:error on
 * its own and marks the handoff failed (a later call starts over).
 *
 * Errors: 400 missing/invalid handoffId or a non-boolean force, 404
 * handoff_not_found (unknown and other users' handoffs alike), 409
 * import_not_committed (the import was reverted), 503/504 database. */
#include "advice.h"
#include "si_clock.h"
#include "si_auth.h"
#include "si_event.h"
#include "si_import.h"
#include "si_json.h"
#include "si_log.h"
#include "si_uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct handoff_row {
    char id[SI_UUID_LEN + 1];
    char import_id[SI_UUID_LEN + 1];
    char status[16];
    char import_status[16];
    char date_from[11], date_to[11];
    char currency[4];
};

int advice_respond(struct si_response *resp, int status, const json_t *obj)
{
    /* Like si_response_json, but reals are written with 12 significant
     * digits, so 12.3 is "12.3" and not 12.300000000000001. */
    si_buf_reset(&resp->body);
    char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    if (text == NULL || si_buf_appends(&resp->body, text) != 0) {
        free(text);
        return si_response_error(resp, 500, "internal", "response too large");
    }
    free(text);
    resp->status = status;
    resp->content_type = "application/json";
    return 0;
}

static int lock_handoff(struct si_db *db, const char *user, struct handoff_row *h, struct si_error *err)
{
    const char *params[] = { h->id, user };
    PGresult *res = si_db_exec(db,
        "SELECT h.import_id, h.status, i.status, coalesce(i.date_from, i.created_at::date)::text, "
        "  coalesce(i.date_to, i.created_at::date)::text, i.currency "
        "FROM handoffs h JOIN imports i ON i.id = h.import_id AND i.user_id = h.user_id "
        "WHERE h.id = $1 AND h.user_id = $2 FOR UPDATE OF h", 2, params, err);
    if (res == NULL)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return si_error_set(err, 404, "handoff_not_found", "handoff not found");
    }
    snprintf(h->import_id, sizeof h->import_id, "%s", PQgetvalue(res, 0, 0));
    snprintf(h->status, sizeof h->status, "%s", PQgetvalue(res, 0, 1));
    snprintf(h->import_status, sizeof h->import_status, "%s", PQgetvalue(res, 0, 2));
    snprintf(h->date_from, sizeof h->date_from, "%s", PQgetvalue(res, 0, 3));
    snprintf(h->date_to, sizeof h->date_to, "%s", PQgetvalue(res, 0, 4));
    snprintf(h->currency, sizeof h->currency, "%s", PQgetvalue(res, 0, 5));
    PQclear(res);
    if (!si_import_name_in_ledger(h->import_status))
        return si_error_set(err, 409, "import_not_committed", "the handoff's import is %s: nothing to analyse",
                            h->import_status);
    return 0;
}

static json_t *answer(const struct handoff_row *h, const char *summary, const char *budget, const char *forecast,
                      json_t *top, json_t *categories, const char *source, bool stored)
{
    json_t *o = json_pack("{s:b, s:s, s:s, s:s, s:s, s:s, s:O, s:O, s:s, s:b}", "ok", 1, "handoffId", h->id,
                          "importId", h->import_id, "summary", summary, "budgetImpact", budget,
                          "forecastDelta", forecast, "topCategories", top, "categories", categories, "source",
                          source, "stored", stored);
    return o;
}

/* The newest stored advice for the handoff: 1 found (*out set), 0 none, -1 error. */
static int stored_advice(struct si_db *db, const char *user, const struct handoff_row *h, json_t **out,
                         struct si_error *err)
{
    const char *params[] = { user, h->id };
    PGresult *res = si_db_exec(db,
        "SELECT source, summary, budget_impact, forecast_delta, top_categories::text, categories::text "
        "FROM advice_messages WHERE user_id = $1 AND handoff_id = $2 ORDER BY id DESC LIMIT 1", 2, params, err);
    if (res == NULL)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    json_error_t jerr;
    json_t *top = json_loads(PQgetvalue(res, 0, 4), 0, &jerr);
    json_t *cats = json_loads(PQgetvalue(res, 0, 5), 0, &jerr);
    if (top != NULL && cats != NULL)
        *out = answer(h, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3), top, cats,
                      PQgetvalue(res, 0, 0), true);
    json_decref(top);
    json_decref(cats);
    PQclear(res);
    return *out != NULL ? 1 : si_error_set(err, 500, "internal", "stored advice is unreadable");
}

static json_t *top_categories_json(const struct advice_analytics *a)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < a->n_categories && json_array_size(arr) < ADVICE_TOP_CATEGORIES; i++) {
        const struct advice_category *c = &a->categories[i];
        if (c->spend <= 0)
            continue;
        char amount[48], line[ADVICE_NAME_MAX + 64];
        advice_format_amount(a, c->spend, amount, sizeof amount);
        snprintf(line, sizeof line, "%s: %s", c->name, amount);
        if (json_array_append_new(arr, json_string(line)) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static json_t *categories_json(const struct advice_analytics *a)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < a->n_categories; i++) {
        const struct advice_category *c = &a->categories[i];
        if (c->spend <= 0)
            continue;
        json_t *o = json_pack("{s:s, s:I, s:s, s:f, s:o}", "name", c->name, "amountMinor", (json_int_t)c->spend,
                              "currency", a->currency, "share", (double)c->share_tenths / 10.0, "momChangePct",
                              c->has_mom ? json_real((double)c->mom_tenths / 10.0) : json_null());
        if (o == NULL || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* Step 1.  1 = stored advice answered (*out set), 0 = go on, -1 = error.
 * keep_open: leave the transaction open for the rest (no model to wait for). */
static int start(struct si_db *db, const char *user, struct handoff_row *h, bool force, bool keep_open,
                 json_t **out, struct si_error *err)
{
    if (si_db_begin(db, err) != 0 || lock_handoff(db, user, h, err) != 0)
        return -1;
    if (!force) {
        int found = stored_advice(db, user, h, out, err);
        if (found != 0) {
            si_db_rollback(db);
            return found;
        }
    }
    const char *params[] = { h->id, user };
    if ((!keep_open &&
         si_db_command(db, "UPDATE handoffs SET status = 'analyzing', updated_at = now() WHERE id = $1 AND user_id = $2",
                       2, params, err) != 0) ||
        si_event_record(db, user, h->import_id, "crystal:analyze:start",
                        json_pack("{s:s, s:s, s:b}", "handoffId", h->id, "importId", h->import_id, "force", force),
                        NULL, err) != 0)
        return -1;
    return keep_open ? 0 : si_db_commit(db, err);
}

/* Step 2b: the words.  Returns the source; *reason is the fallback's code. */
static const char *advise(struct si_http_client *http, const struct advice_analytics *a, struct advice_text *text,
                          struct si_llm_result *lr, const char **reason)
{
    const struct si_llm_config *cfg = advice_config();
    *reason = NULL;
    memset(lr, 0, sizeof *lr);
    if (cfg->api_key[0] == '\0') {
        *reason = "no_key";
    } else {
        char *body = advice_prompt(a, cfg->model);
        if (body == NULL)
            *reason = "prompt";
        else if (llm_advise(http, cfg, body, text, lr, reason) == 0)
            *reason = NULL;
        free(body);
    }
    if (*reason == NULL)
        return "llm";
    advice_template(a, text);
    si_log(SI_LOG_WARN, "model not used: Crystal answered from its rules",
           json_pack("{s:s, s:i, s:i, s:f}", "reason", *reason, "attempts", lr->attempts, "http_status",
                     (int)lr->http_status, "llm_ms", lr->ms));
    return "rules";
}

/* Step 3.  *out is the answer.  in_tx: step 1's transaction is still open
 * (and its lock held), so there is nothing to re-check. */
static int finish(struct si_db *db, const char *user, struct handoff_row *h, bool force, bool in_tx,
                  const struct advice_analytics *a, const struct advice_text *text, const char *source,
                  const char *reason, const struct si_llm_result *lr, double t0, json_t **out,
                  struct si_error *err)
{
    json_t *top = NULL, *cats = NULL;
    char *top_text = NULL, *cats_text = NULL;
    int rc = -1;
    if (!in_tx && (si_db_begin(db, err) != 0 || lock_handoff(db, user, h, err) != 0))
        goto out;
    if (!force && !in_tx) {
        int found = stored_advice(db, user, h, out, err);
        if (found != 0) {   /* a concurrent call stored its advice first: that is the answer */
            si_db_rollback(db);
            rc = found < 0 ? -1 : 0;
            goto out;
        }
    }
    top = top_categories_json(a);
    cats = categories_json(a);
    top_text = top ? json_dumps(top, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
    cats_text = cats ? json_dumps(cats, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12)) : NULL;
    if (top_text == NULL || cats_text == NULL) {
        si_error_set(err, 500, "internal", "out of memory");
        goto out;
    }
    char spend[32], projection[32];
    snprintf(spend, sizeof spend, "%lld", a->spend);
    snprintf(projection, sizeof projection, "%lld", a->projection);
    const char *ap[] = { user, h->id, h->import_id, source, reason, text->summary, text->budget_impact,
                         text->forecast_delta, top_text, cats_text, a->currency, spend, projection };
    PGresult *res = si_db_exec(db,
        "INSERT INTO advice_messages (user_id, handoff_id, import_id, source, fallback_reason, summary, "
        "  budget_impact, forecast_delta, top_categories, categories, currency, period_spend_minor, projection_minor) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::jsonb, $11, $12, $13) RETURNING id",
        13, ap, err);
    if (res == NULL)
        goto out;
    long long advice_id = 0;
    if (si_db_get_int64(res, 0, 0, &advice_id) != 0) {
        PQclear(res);
        si_db_bad_value(err, "advice.id");
        goto out;
    }
    PQclear(res);
    const char *hp[] = { h->id, user };
    if (si_db_command(db, "UPDATE handoffs SET status = 'completed', completed_at = now(), updated_at = now() "
                          "WHERE id = $1 AND user_id = $2", 2, hp, err) != 0 ||
        si_import_move(db, h->import_id, user, SI_IMPORT_ANALYZED, NULL, 0, NULL, NULL, err) != 0)
        goto out;
    json_t *complete = json_pack("{s:s, s:s, s:I, s:s, s:i, s:I, s:i, s:f, s:f}", "handoffId", h->id, "importId",
                                 h->import_id, "adviceId", (json_int_t)advice_id, "source", source, "categories",
                                 (int)a->n_categories, "transactions", (json_int_t)a->tx_count, "llmAttempts",
                                 lr->attempts, "llmMs", lr->ms, "ms", si_ms_since(t0));
    if (complete != NULL && reason != NULL)
        json_object_set_new(complete, "fallback", json_string(reason));
    if (si_event_record(db, user, h->import_id, "crystal:analyze:complete", complete, NULL, err) != 0 ||
        si_event_record(db, user, h->import_id, "advisory:ready",
                        json_pack("{s:s, s:s, s:I, s:s}", "handoffId", h->id, "importId", h->import_id, "adviceId",
                                  (json_int_t)advice_id, "source", source), NULL, err) != 0 ||
        si_db_commit(db, err) != 0)
        goto out;
    *out = answer(h, text->summary, text->budget_impact, text->forecast_delta, top, cats, source, false);
    rc = *out != NULL ? 0 : si_error_set(err, 500, "internal", "out of memory");
out:
    free(top_text);
    free(cats_text);
    json_decref(top);
    json_decref(cats);
    return rc;
}

static void record_failure(struct si_db *db, const char *user, const struct handoff_row *h, bool started,
                           const struct si_error *failure)
{
    if (h->import_id[0] == '\0' || (!started && failure->status < 500))
        return;   /* never reached one of the caller's handoffs, or refused before starting */
    struct si_error e2;
    if (si_event_record_error(db, user, h->import_id, "crystal:analyze:error", failure,
                              json_pack("{s:s}", "handoffId", h->id), &e2) != 0)
        si_log(SI_LOG_WARN, "could not record crystal:analyze:error", NULL);
    if (started) {   /* a later call starts over; "analyzing" would claim otherwise */
        const char *params[] = { h->id, user };
        if (si_db_command(db, "UPDATE handoffs SET status = 'failed', updated_at = now() "
                              "WHERE id = $1 AND user_id = $2 AND status = 'analyzing'", 2, params, &e2) != 0)
            si_log(SI_LOG_WARN, "could not mark the handoff failed", NULL);
    }
}

int crystal_run(struct si_db *db, struct si_http_client *http, const char *user, const char *handoff_id, bool force,
                json_t **out, struct si_error *err)
{
    double t0 = si_clock_ms();
    struct handoff_row h;
    memset(&h, 0, sizeof h);
    snprintf(h.id, sizeof h.id, "%s", handoff_id);
    *out = NULL;
    bool started = false;
    /* Without a model nothing slow happens between the steps: one transaction. */
    bool one_tx = advice_config()->api_key[0] == '\0';
    int rc = start(db, user, &h, force, one_tx, out, err);
    if (rc == 1)
        return 0;   /* stored advice */
    if (rc != 0)
        goto fail;
    started = true;

    struct advice_analytics a;
    struct advice_text text;
    struct si_llm_result lr;
    const char *reason;
    if (advice_analytics_load(db, user, h.date_from, h.date_to, h.currency, &a, err) != 0)
        goto fail;
    const char *source = advise(http, &a, &text, &lr, &reason);
    if (finish(db, user, &h, force, one_tx, &a, &text, source, reason, &lr, t0, out, err) == 0)
        return 0;
fail:
    si_db_rollback(db);
    json_decref(*out);
    *out = NULL;
    record_failure(db, user, &h, started, err);
    return -1;
}

int advice_handoff_id(const char *id, char out[SI_UUID_LEN + 1], struct si_error *err)
{
    if (id == NULL)
        return si_error_set(err, 400, "missing_handoff_id", "handoffId is required");
    if (si_uuid_normalize(id, out) != 0)
        return si_error_set(err, 400, "invalid_handoff_id", "handoffId must be a UUID");
    return 0;
}

static int handoff_id_from_body(const json_t *body, char out[SI_UUID_LEN + 1], bool *force, struct si_error *err)
{
    const char *id = si_json_string(body, "handoffId");
    if (advice_handoff_id(id ? id : si_json_string(body, "handoff_id"), out, err) != 0)
        return -1;
    const json_t *f = json_object_get(body, "force");
    if (f != NULL && !json_is_boolean(f) && !json_is_null(f))
        return si_error_set(err, 400, "bad_field", "force must be true or false");
    *force = f != NULL && json_is_true(f);
    return 0;
}

int crystal_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    json_t *body = NULL, *out = NULL;
    char user[SI_UUID_LEN + 1] = "", handoff_id[SI_UUID_LEN + 1];
    bool force = false;
    struct si_error err;
    si_error_clear(&err);
    int rc = -1;
    if (si_json_read_body(req, ctx->scratch, &body, &err) != 0 ||
        si_auth_identify(ctx->config, req, body, (long long)time(NULL), user, &err) != 0 ||
        handoff_id_from_body(body, handoff_id, &force, &err) != 0 ||
        crystal_run(ctx->db, ctx->http, user, handoff_id, force, &out, &err) != 0) {
        si_response_from_error(resp, &err);
        goto out;
    }
    rc = advice_respond(resp, 200, out);
out:
    json_decref(out);
    json_decref(body);
    return rc;
}
