/* category_rules.c: the category-rules responder: the caller's own categorisation rules,
 * the ones the ingest categoriser reads first (table category_rules, modules/ingest/
 * categorize.c): a row whose counterparty or description contains a rule's match gets its
 * category, ahead of the built-in knowledge.
 *
 *   GET    /.netlify/functions/category-rules          200 {"ok":true,"rules":[{id, match,
 *                                                      category, created_at}]} newest first
 *                                                      (all of them: at most LEDGER_RULES_MAX),
 *                                                      "categories":["Dining", …, "Other"] (every
 *                                                      category a row or a rule may have, sorted)
 *   POST   /.netlify/functions/category-rules {match, category}
 *                                                      201 {"ok":true,"rule":{...}}; a match the
 *                                                      user already has gets the new category
 *                                                      (200, same shape); 409 too_many_rules
 *   DELETE /.netlify/functions/category-rules?id=N     204, or 404 (no such rule of the caller)
 *
 * match is stored lower case with its white space made single spaces (2..200 characters);
 * category must be one the categoriser knows (400 unknown_category). */
#include "ledger.h"
#include "si_clock.h"
#include "si_json.h"

#include <stdio.h>
#include <string.h>

static int list(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    char user[SI_UUID_LEN + 1], max[16];
    struct si_error err;
    si_error_clear(&err);
    if (ledger_identify(ctx, req, NULL, user, &err) != 0)
        return si_response_from_error(resp, &err);
    snprintf(max, sizeof max, "%d", LEDGER_RULES_MAX);
    const char *p[] = { user, max };
    PGresult *res = si_db_exec(ctx->db,
        "SELECT coalesce(json_agg(json_build_object('id', r.id, 'match', r.keyword, 'category', r.category, "
        "  'created_at', " SI_SQL_UTC_MS("r.created_at") ") ORDER BY r.created_at DESC, r.id DESC), '[]')::text "
        "FROM (SELECT * FROM category_rules WHERE user_id = $1::uuid ORDER BY created_at DESC, id DESC LIMIT $2::int) r",
        2, p, &err);
    PGresult *cats = res == NULL ? NULL : si_db_exec(ctx->db,
        "SELECT json_agg(c ORDER BY c COLLATE \"C\")::text FROM "
        "(SELECT DISTINCT category AS c FROM category_rules_builtin UNION SELECT 'Other') x", 0, NULL, &err);
    if (cats == NULL) {
        PQclear(res);
        return si_response_from_error(resp, &err);
    }
    struct si_buf *b = &resp->body;
    si_buf_reset(b);
    int bad = si_buf_appends(b, "{\"ok\":true,\"rules\":") | si_buf_appends(b, PQgetvalue(res, 0, 0)) |
              si_buf_appends(b, ",\"categories\":") | si_buf_appends(b, PQgetvalue(cats, 0, 0)) |
              si_buf_appends(b, "}");
    PQclear(res);
    PQclear(cats);
    if (bad != 0) {
        si_buf_reset(b);
        return si_response_error(resp, 500, "internal", "response too large");
    }
    resp->status = 200;
    resp->content_type = "application/json";
    return 0;
}

static int create(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    char user[SI_UUID_LEN + 1], match[4 * LEDGER_MATCH_MAX + 8];
    struct si_error err;
    si_error_clear(&err);
    json_t *body = NULL, *rule = NULL, *out = NULL;
    bool created = false;
    int rc = -1;
    if (si_json_read_body(req, ctx->scratch, &body, &err) != 0 || ledger_identify(ctx, req, body, user, &err) != 0)
        goto fail;
    const json_t *m = json_object_get(body, "match"), *c = json_object_get(body, "category");
    if (!json_is_string(m) || strlen(json_string_value(m)) != json_string_length(m)) {
        si_error_set(&err, 400, "bad_field", "match must be a string");
        goto fail;
    }
    if (!json_is_string(c) || json_string_length(c) == 0 || json_string_length(c) > LEDGER_TEXT_MAX ||
        strlen(json_string_value(c)) != json_string_length(c)) {
        si_error_set(&err, 400, "bad_field", "category must be a string of 1 to %d bytes", LEDGER_TEXT_MAX);
        goto fail;
    }
    if (ledger_match_normalize(json_string_value(m), match, sizeof match, &err) != 0)
        goto fail;
    int known = ledger_category_known(ctx->db, json_string_value(c), &err);
    if (known < 0)
        goto fail;
    if (known == 0) {
        si_error_set(&err, 400, "unknown_category", "category must be one of the categories (e.g. Groceries, Other)");
        goto fail;
    }
    if (ledger_rule_upsert(ctx->db, user, match, json_string_value(c), &rule, &created, &err) != 0)
        goto fail;
    out = json_pack("{s:b, s:O}", "ok", 1, "rule", rule);
    if (out == NULL) {
        si_error_set(&err, 500, "internal", "out of memory");
        goto fail;
    }
    rc = si_response_json(resp, created ? 201 : 200, out);
    goto done;
fail:
    rc = si_response_from_error(resp, &err);
done:
    json_decref(out);
    json_decref(rule);
    json_decref(body);
    return rc;
}

static int delete(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    char user[SI_UUID_LEN + 1], id_text[24];
    struct si_error err;
    si_error_clear(&err);
    long long id = 0;
    if (ledger_identify(ctx, req, NULL, user, &err) != 0)
        return si_response_from_error(resp, &err);
    if (si_parse_long(si_request_param(req, "id"), 1, 9223372036854775807LL, &id) != 0)
        return si_response_error(resp, 400, "bad_param", "id must be a rule id (a whole number)");
    snprintf(id_text, sizeof id_text, "%lld", id);
    const char *p[] = { id_text, user };
    PGresult *res = si_db_exec(ctx->db, "DELETE FROM category_rules WHERE id = $1::bigint AND user_id = $2::uuid",
                               2, p, &err);
    if (res == NULL)
        return si_response_from_error(resp, &err);
    long long n = si_db_rows_affected(res);
    PQclear(res);
    if (n != 1)
        return si_response_error(resp, 404, "not_found", "no such rule");
    si_buf_reset(&resp->body);
    resp->status = 204;
    return 0;
}

int category_rules_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    if (strcmp(req->method, "POST") == 0)
        return create(ctx, req, resp);
    if (strcmp(req->method, "DELETE") == 0)
        return delete(ctx, req, resp);
    return list(ctx, req, resp);
}
