/* crystal_chat.c: /.netlify/functions/crystal-chat, the seed's "Chat with
 * Crystal" on the advisory card: a conversation about one analysed import.
 *
 *   GET  ?handoffId=      200 {"ok","handoffId","importId","messages":[{"id","role","agent",
 *                         "content","createdAt"}]}: the handoff's chat_messages (Prime's
 *                         acknowledgement first), oldest first, the newest CHAT_PAGE_MAX
 *   POST {"handoffId","message"}
 *                         200 {"ok","handoffId","importId","source":"llm"|"rules",
 *                         "message":{...},"reply":{...}}: the question and Crystal's answer,
 *                         both stored in one transaction once the answer is there
 *
 * Crystal answers from her stored advice (advice_messages, the newest) and the
 * last CHAT_HISTORY messages, through the configured model (chat_prompt.c:
 * everything the user wrote is masked before it leaves); without a model she
 * repeats her analysis ("source":"rules").  The model is asked outside any
 * transaction; if it fails, nothing is stored and the answer is 502
 * model_unavailable (the user asks again).
 *
 * Errors: 400 missing/invalid handoffId, missing or empty message, a message
 * over CHAT_MESSAGE_MAX bytes or with control characters; 404 handoff_not_found
 * (unknown and other users' alike); 409 not_analyzed (Crystal has no advice for
 * it yet), 409 conversation_full (CHAT_TURNS_MAX questions); 502
 * model_unavailable; 503/504 database.  Logs: the outcome and the model's
 * reason code, never a message. */
#include "advice.h"
#include "si_auth.h"
#include "si_clock.h"
#include "si_json.h"
#include "si_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MSG_COLUMNS "id::text, role, agent, content, " SI_SQL_UTC_MS("created_at")

/* The handoff, its import and Crystal's newest advice (NULLs when none). */
static const char sql_context[] =
    "SELECT h.import_id, a.summary, a.budget_impact, a.forecast_delta, a.top_categories::text, "
    "  (SELECT count(*) FROM chat_messages m WHERE m.user_id = h.user_id AND m.handoff_id = h.id "
    "     AND m.role = 'user') "
    "FROM handoffs h LEFT JOIN LATERAL (SELECT summary, budget_impact, forecast_delta, top_categories "
    "  FROM advice_messages WHERE user_id = h.user_id AND handoff_id = h.id ORDER BY id DESC LIMIT 1) a ON true "
    "WHERE h.id = $1 AND h.user_id = $2";
static const char sql_history[] =
    "SELECT role, content FROM (SELECT id, role, content FROM chat_messages "
    "  WHERE handoff_id = $1 AND user_id = $2 AND role IN ('user', 'assistant') AND agent <> 'prime-boss' "
    "  ORDER BY id DESC LIMIT $3) t ORDER BY t.id";
static const char sql_page[] =
    "SELECT " MSG_COLUMNS " FROM (SELECT * FROM chat_messages WHERE handoff_id = $1 AND user_id = $2 "
    "  ORDER BY id DESC LIMIT $3) t ORDER BY t.id";   /* t.id: a bare id would be the id::text column */
static const char sql_store[] =
    "INSERT INTO chat_messages (user_id, handoff_id, import_id, agent, role, content) "
    "VALUES ($1, $2, $3, 'user', 'user', $4), ($1, $2, $3, 'crystal-analytics', 'assistant', $5) "
    "RETURNING " MSG_COLUMNS;

struct chat_context {
    char import_id[SI_UUID_LEN + 1];
    bool analyzed;
    long long questions;
    struct chat_facts facts;
    PGresult *res;   /* owns the facts' strings */
};

/* handoffId (or handoff_id) from the body, or from the query when body is NULL. */
static int handoff_id_of(struct si_request *req, const json_t *body, char out[SI_UUID_LEN + 1], struct si_error *err)
{
    const char *id = body ? si_json_string(body, "handoffId") : si_request_param(req, "handoffId");
    if (id == NULL)
        id = body ? si_json_string(body, "handoff_id") : si_request_param(req, "handoff_id");
    return advice_handoff_id(id, out, err);
}

static int question_of(const json_t *body, const char **out, struct si_error *err)
{
    const char *q = si_json_string(body, "message");
    if (q == NULL)
        return si_error_set(err, 400, "missing_message", "message (the question, text) is required");
    size_t len = strlen(q);
    if (len > CHAT_MESSAGE_MAX)
        return si_error_set(err, 400, "message_too_long", "message is at most %d bytes", CHAT_MESSAGE_MAX);
    bool blank = true;
    for (const unsigned char *p = (const unsigned char *)q; *p; p++) {
        if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
            return si_error_set(err, 400, "bad_message", "message holds a control character");
        if (*p != ' ' && *p != '\n' && *p != '\t')
            blank = false;
    }
    if (blank)
        return si_error_set(err, 400, "missing_message", "message is empty");
    *out = q;
    return 0;
}

static int load_context(struct si_db *db, const char *user, const char *handoff, struct chat_context *c,
                        struct si_error *err)
{
    const char *params[] = { handoff, user };
    memset(c, 0, sizeof *c);
    c->res = si_db_exec(db, sql_context, 2, params, err);
    if (c->res == NULL)
        return -1;
    if (PQntuples(c->res) != 1)
        return si_error_set(err, 404, "handoff_not_found", "handoff not found");
    snprintf(c->import_id, sizeof c->import_id, "%s", PQgetvalue(c->res, 0, 0));
    c->analyzed = !PQgetisnull(c->res, 0, 1);
    c->facts = (struct chat_facts){ PQgetvalue(c->res, 0, 1), PQgetvalue(c->res, 0, 2), PQgetvalue(c->res, 0, 3),
                                    PQgetvalue(c->res, 0, 4) };
    if (si_db_get_int64(c->res, 0, 5, &c->questions) != 0)
        return si_db_bad_value(err, "the questions asked");
    return 0;
}

static json_t *message_json(PGresult *res, int row)
{
    long long id = 0;
    if (si_db_get_int64(res, row, 0, &id) != 0)
        return NULL;
    return json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)id,
                     "role", PQgetvalue(res, row, 1), "agent", PQgetvalue(res, row, 2),
                     "content", PQgetvalue(res, row, 3), "createdAt", PQgetvalue(res, row, 4));
}

/* Crystal's answer to question: 0 with reply filled and *source set, or -1
 * with err (502 when the model failed). */
static int answer(struct si_ctx *ctx, const char *user, const char *handoff, const struct chat_context *c,
                  const char *question, char *reply, size_t n, const char **source, struct si_error *err)
{
    const struct si_llm_config *cfg = advice_config();
    if (!si_llm_configured(cfg)) {
        advice_chat_rules_reply(&c->facts, reply, n);
        *source = "rules";
        return 0;
    }
    char limit[16];
    snprintf(limit, sizeof limit, "%d", CHAT_HISTORY);
    const char *params[] = { handoff, user, limit };
    PGresult *hist = si_db_exec(ctx->db, sql_history, 3, params, err);
    if (hist == NULL)
        return -1;
    struct chat_turn turns[CHAT_HISTORY];
    size_t n_turns = 0;
    for (int i = 0; i < PQntuples(hist) && n_turns < CHAT_HISTORY; i++)
        turns[n_turns++] = (struct chat_turn){ PQgetvalue(hist, i, 0), PQgetvalue(hist, i, 1) };
    char *request = advice_chat_prompt(cfg->model, &c->facts, turns, n_turns, question);
    PQclear(hist);
    if (request == NULL)
        return si_error_set(err, 500, "internal", "could not build the model request");
    char *content = NULL;
    size_t len = 0;
    struct si_llm_result res;
    const char *reason = NULL;
    int rc = si_llm_chat(ctx->http, cfg, request, ADVICE_MAX_REPLY_BYTES, &content, &len, &res, &reason);
    free(request);
    if (rc != 0 || content == NULL || len == 0) {
        free(content);
        si_log(SI_LOG_WARN, "crystal chat: the model did not answer",
               json_pack("{s:s, s:i, s:f}", "reason", reason ? reason : "empty", "attempts", res.attempts, "ms", res.ms));
        return si_error_set(err, 502, "model_unavailable",
                            "Crystal could not answer just now; nothing was saved, ask again in a moment");
    }
    si_copy_utf8(reply, n, content);
    free(content);
    *source = "llm";
    return 0;
}

static int ask(struct si_ctx *ctx, const char *user, const json_t *body, json_t **out, struct si_error *err)
{
    char handoff[SI_UUID_LEN + 1], reply[CHAT_REPLY_MAX + 1];
    const char *question = NULL, *source = NULL;
    struct chat_context c;
    memset(&c, 0, sizeof c);
    int rc = -1;
    if (handoff_id_of(NULL, body, handoff, err) != 0 || question_of(body, &question, err) != 0 ||
        load_context(ctx->db, user, handoff, &c, err) != 0)
        goto out;
    if (!c.analyzed) {
        si_error_set(err, 409, "not_analyzed", "Crystal has not analysed this import yet");
        goto out;
    }
    if (c.questions >= CHAT_TURNS_MAX) {
        si_error_set(err, 409, "conversation_full", "this conversation has its %d questions", CHAT_TURNS_MAX);
        goto out;
    }
    if (answer(ctx, user, handoff, &c, question, reply, sizeof reply, &source, err) != 0)
        goto out;
    const char *params[] = { user, handoff, c.import_id, question, reply };
    PGresult *res = si_db_exec(ctx->db, sql_store, 5, params, err);
    if (res == NULL)
        goto out;
    if (PQntuples(res) != 2) {
        PQclear(res);
        si_error_set(err, 500, "internal", "the messages were not stored");
        goto out;
    }
    int mine = strcmp(PQgetvalue(res, 0, 1), "user") == 0 ? 0 : 1;   /* RETURNING's order is not promised */
    *out = json_pack("{s:b, s:s, s:s, s:s, s:o, s:o}", "ok", 1, "handoffId", handoff, "importId", c.import_id,
                     "source", source, "message", message_json(res, mine), "reply", message_json(res, 1 - mine));
    PQclear(res);
    if (*out == NULL) {
        si_error_set(err, 500, "internal", "out of memory");
        goto out;
    }
    si_log(SI_LOG_INFO, "crystal chat: answered", json_pack("{s:s, s:I}", "source", source, "question", (json_int_t)(c.questions + 1)));
    rc = 0;
out:
    PQclear(c.res);
    return rc;
}

static int conversation(struct si_ctx *ctx, struct si_request *req, const char *user, json_t **out,
                        struct si_error *err)
{
    char handoff[SI_UUID_LEN + 1], limit[16];
    struct chat_context c;
    memset(&c, 0, sizeof c);
    if (handoff_id_of(req, NULL, handoff, err) != 0 || load_context(ctx->db, user, handoff, &c, err) != 0) {
        PQclear(c.res);
        return -1;
    }
    snprintf(limit, sizeof limit, "%d", CHAT_PAGE_MAX);
    const char *params[] = { handoff, user, limit };
    PGresult *res = si_db_exec(ctx->db, sql_page, 3, params, err);
    json_t *messages = res ? json_array() : NULL;
    for (int i = 0; messages != NULL && i < PQntuples(res); i++)
        if (json_array_append_new(messages, message_json(res, i)) != 0) {
            json_decref(messages);
            messages = NULL;
        }
    PQclear(res);
    if (messages != NULL)
        *out = json_pack("{s:b, s:s, s:s, s:b, s:o}", "ok", 1, "handoffId", handoff, "importId", c.import_id,
                         "analyzed", c.analyzed, "messages", messages);
    PQclear(c.res);
    if (messages == NULL || *out == NULL)
        return err->status ? -1 : si_error_set(err, 500, "internal", "out of memory");
    return 0;
}

int chat_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    json_t *body = NULL, *out = NULL;
    char user[SI_UUID_LEN + 1] = "";
    struct si_error err;
    si_error_clear(&err);
    bool post = strcmp(req->method, "POST") == 0;
    int rc;
    if ((post && si_json_read_body(req, ctx->scratch, &body, &err) != 0) ||
        si_auth_identify(ctx->config, req, body, (long long)time(NULL), user, &err) != 0 ||
        (post ? ask(ctx, user, body, &out, &err) : conversation(ctx, req, user, &out, &err)) != 0)
        rc = si_response_from_error(resp, &err);
    else
        rc = advice_respond(resp, 200, out);
    json_decref(out);
    json_decref(body);
    return rc;
}
