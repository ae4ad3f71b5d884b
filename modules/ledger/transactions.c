/* transactions.c: the transactions responder: the caller's ledger, a page at a time, and
 * a transaction's category.
 *
 *   GET /.netlify/functions/transactions?from&to&q&category&account&importId&limit&cursor
 *     200 {"ok":true,"transactions":[{id, date, amount_minor, currency, description,
 *          counterparty, memo, category, account, counterparty_account, import_id}],
 *          "totals":[{currency, income_minor, expense_minor, net_minor, count}] | null,
 *          "next_cursor": "..." | null}
 *     Newest first (tx_date desc, id desc), keyset paging: next_cursor (opaque, base64url
 *     of the last row's date and id) gives the page after this one, null on the last page.
 *     Filters: from/to (YYYY-MM-DD, inclusive), q (case-insensitive substring of the
 *     description or the counterparty, at most LEDGER_Q_MAX characters), category (exact),
 *     account (the stored account, or its masked form "****1234" as answered: the rows
 *     whose account ends so), importId (the import that holds the row).  limit 1..200
 *     (default 50).  An empty parameter is an absent one; any other bad value is a 400
 *     bad_param naming it.
 *     totals: per currency, over every row of the filter (not only the page), on the first
 *     page (no cursor); null on the pages after it (the filter, so the totals, are the
 *     same: the client keeps the first page's).  Without a filter they come from
 *     ledger_totals, kept by triggers (a million-row ledger is not summed per request).  income_minor sums the positive amounts,
 *     expense_minor the negative ones as a positive number, net_minor = income - expense.
 *     account and counterparty_account are masked: "****" and the last 4 characters
 *     (sql/0020's mask_account; null when the row has none).
 *
 *   PATCH /.netlify/functions/transactions {"id", "category", "always_for_counterparty"?}
 *     200 {"ok":true,"transaction":{...as above},"rule":{id, match, category, created_at}?}
 *     category must be one the categoriser knows (400 unknown_category); another user's id,
 *     or no such id, is 404 not_found.  always_for_counterparty: true also writes the user's
 *     rule "the row's counterparty (normalised) -> category" (category_rules, what the next
 *     import's categoriser reads first; an existing rule for it changes category); a row
 *     without a counterparty is a 400 no_counterparty and nothing changes.  One transaction:
 *     the row and the rule change together or not at all. */
#include "ledger.h"
#include "ledger_sql.h"
#include "si_json.h"

#include <stdio.h>
#include <string.h>

/* A parameter's value, NULL when absent or empty. */
static const char *param(const struct si_request *req, const char *name)
{
    const char *v = si_request_param(req, name);
    return v == NULL || *v == '\0' ? NULL : v;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

/* q as an ILIKE pattern that matches it as a plain substring, into the arena. */
static const char *like_pattern(struct si_arena *arena, const char *q)
{
    size_t n = strlen(q);
    char *out = si_arena_alloc(arena, 2 * n + 3);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    out[o++] = '%';
    for (size_t i = 0; i < n; i++) {
        if (q[i] == '%' || q[i] == '_' || q[i] == '\\')
            out[o++] = '\\';
        out[o++] = q[i];
    }
    out[o++] = '%';
    out[o] = '\0';
    return out;
}

static int bad_param(struct si_error *err, const char *name, const char *what)
{
    return si_error_set(err, 400, "bad_param", "%s must be %s", name, what);
}

static int list(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    char user[SI_UUID_LEN + 1], import_id[SI_UUID_LEN + 1], cursor_date[11], limit_text[8], id_text[24];
    struct si_error err;
    si_error_clear(&err);
    if (ledger_identify(ctx, req, NULL, user, &err) != 0)
        return si_response_from_error(resp, &err);
    const char *from = param(req, "from"), *to = param(req, "to"), *q = param(req, "q"),
               *category = param(req, "category"), *account = param(req, "account"),
               *import_text = param(req, "importId"), *limit_param = param(req, "limit"),
               *cursor = param(req, "cursor"), *pattern = NULL;
    long long limit = LEDGER_LIMIT_DEFAULT, cursor_id = 0;
    if (from != NULL && !ledger_date_valid(from))
        bad_param(&err, "from", "a date written YYYY-MM-DD");
    else if (to != NULL && !ledger_date_valid(to))
        bad_param(&err, "to", "a date written YYYY-MM-DD");
    else if (from != NULL && to != NULL && strcmp(from, to) > 0)
        bad_param(&err, "from", "on or before to");
    else if (q != NULL && utf8_chars(q) > LEDGER_Q_MAX)
        si_error_set(&err, 400, "bad_param", "q must hold at most %d characters", LEDGER_Q_MAX);
    else if (category != NULL && strlen(category) > LEDGER_TEXT_MAX)
        si_error_set(&err, 400, "bad_param", "category must hold at most %d bytes", LEDGER_TEXT_MAX);
    else if (account != NULL && strlen(account) > LEDGER_TEXT_MAX)
        si_error_set(&err, 400, "bad_param", "account must hold at most %d bytes", LEDGER_TEXT_MAX);
    else if (import_text != NULL && si_uuid_normalize(import_text, import_id) != 0)
        bad_param(&err, "importId", "an import id (a UUID)");
    else if (limit_param != NULL && si_parse_long(limit_param, 1, LEDGER_LIMIT_MAX, &limit) != 0)
        si_error_set(&err, 400, "bad_param", "limit must be a whole number from 1 to %d", LEDGER_LIMIT_MAX);
    else if (cursor != NULL && ledger_cursor_decode(cursor, cursor_date, &cursor_id) != 0)
        bad_param(&err, "cursor", "the next_cursor of an earlier page");
    if (err.status != 0)
        return si_response_from_error(resp, &err);
    if (q != NULL && (pattern = like_pattern(ctx->arena, q)) == NULL)
        return si_response_error(resp, 500, "internal", "out of memory");
    snprintf(limit_text, sizeof limit_text, "%lld", limit);
    /* The shape: the filters present, each parameter numbered in ledger_sql.h's order. */
    const char *p[LEDGER_PARAMS_MAX] = { user, limit_text };
    int n = 2;
    unsigned shape = 0;
    if (from != NULL || to != NULL) {
        shape |= LEDGER_SHAPE_DATES;
        p[n++] = from != NULL ? from : "-infinity";
        p[n++] = to != NULL ? to : "infinity";
    }
    if (q != NULL) {
        shape |= LEDGER_SHAPE_Q;
        p[n++] = pattern;
    }
    if (category != NULL) {
        shape |= LEDGER_SHAPE_CATEGORY;
        p[n++] = category;
    }
    if (account != NULL) {
        shape |= LEDGER_SHAPE_ACCOUNT;
        p[n++] = account;
    }
    if (import_text != NULL) {
        shape |= LEDGER_SHAPE_IMPORT;
        p[n++] = import_id;
    }
    if (cursor != NULL) {
        snprintf(id_text, sizeof id_text, "%lld", cursor_id);
        shape |= LEDGER_SHAPE_CURSOR;
        p[n++] = cursor_date;
        p[n++] = id_text;
    }
    char sql[LEDGER_SQL_MAX];
    int n_params = 0;
    if (ledger_sql_page(shape, sql, sizeof sql, &n_params) != 0 || n_params != n)
        return si_response_error(resp, 500, "internal", "no statement for the filters");
    /* Prepared on this connection the first time the shape runs, executed after that
     * with its generic plan (LEDGER_DB_OPTIONS): no planning per request.  On the read
     * connection (a standby when one is configured: modules/ledger/README.md). */
    PGresult *res = si_db_exec_prepared(ctx->read_db, sql, n, p, ctx->read_db->query_timeout_ms, &err);
    if (res == NULL)
        return si_response_from_error(resp, &err);
    long long rows = 0;
    const char *last = si_db_get_text(res, 0, 2), *totals = si_db_get_text(res, 0, 3);
    char next[LEDGER_CURSOR_MAX + 1] = "";
    if (PQntuples(res) != 1 || si_db_get_int64(res, 0, 1, &rows) != 0) {
        PQclear(res);
        return si_response_error(resp, 500, "internal", "unexpected page result");
    }
    if (rows > limit && last != NULL) {
        const char *sp = strchr(last, ' ');
        long long last_id = 0;
        char last_date[11];
        if (sp == NULL || sp - last != 10 || si_parse_long(sp + 1, 1, 9223372036854775807LL, &last_id) != 0 ||
            (memcpy(last_date, last, 10), last_date[10] = '\0',
             ledger_cursor_encode(last_date, last_id, next, sizeof next)) != 0) {
            PQclear(res);
            return si_response_error(resp, 500, "internal", "unexpected page result");
        }
    }
    /* The rows and totals arrive as JSON text: the answer is put together around them. */
    struct si_buf *b = &resp->body;
    si_buf_reset(b);
    int bad = si_buf_appends(b, "{\"ok\":true,\"transactions\":") | si_buf_appends(b, PQgetvalue(res, 0, 0)) |
              si_buf_appends(b, ",\"totals\":") | si_buf_appends(b, totals != NULL ? totals : "null") |
              si_buf_appends(b, ",\"next_cursor\":");
    if (next[0] != '\0')
        bad |= si_buf_printf(b, "\"%s\"}", next);
    else
        bad |= si_buf_appends(b, "null}");
    PQclear(res);
    if (bad != 0) {
        si_buf_reset(b);
        return si_response_error(resp, 500, "internal", "response too large");
    }
    resp->status = 200;
    resp->content_type = "application/json";
    return 0;
}

static int patch(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    char user[SI_UUID_LEN + 1], id_text[24], match[4 * LEDGER_MATCH_MAX + 8];
    struct si_error err;
    si_error_clear(&err);
    json_t *body = NULL, *out = NULL, *row = NULL, *rule = NULL;
    PGresult *res = NULL;
    int rc = -1;
    if (si_json_read_body(req, ctx->scratch, &body, &err) != 0 || ledger_identify(ctx, req, body, user, &err) != 0)
        goto fail;
    const json_t *id = json_object_get(body, "id"), *category = json_object_get(body, "category"),
                 *always = json_object_get(body, "always_for_counterparty");
    long long tx_id = 0;
    if (json_is_integer(id) && json_integer_value(id) > 0)
        tx_id = json_integer_value(id);
    else if (!json_is_string(id) || si_parse_long(json_string_value(id), 1, 9223372036854775807LL, &tx_id) != 0) {
        si_error_set(&err, 400, "bad_field", "id must be a transaction id (a whole number)");
        goto fail;
    }
    if (!json_is_string(category) || json_string_length(category) == 0 ||
        json_string_length(category) > LEDGER_TEXT_MAX || strlen(json_string_value(category)) != json_string_length(category)) {
        si_error_set(&err, 400, "bad_field", "category must be a string of 1 to %d bytes", LEDGER_TEXT_MAX);
        goto fail;
    }
    if (always != NULL && !json_is_null(always) && !json_is_boolean(always)) {
        si_error_set(&err, 400, "bad_field", "always_for_counterparty must be true or false");
        goto fail;
    }
    const char *cat = json_string_value(category);
    int known = ledger_category_known(ctx->db, cat, &err);
    if (known < 0)
        goto fail;
    if (known == 0) {
        si_error_set(&err, 400, "unknown_category", "category must be one of the categories (e.g. Groceries, Other)");
        goto fail;
    }
    snprintf(id_text, sizeof id_text, "%lld", tx_id);
    if (si_db_begin(ctx->db, &err) != 0)
        goto fail;
    const char *p[] = { id_text, user, cat };
    res = si_db_exec(ctx->db, "UPDATE transactions t SET category = $3 WHERE t.id = $1::bigint AND t.user_id = $2::uuid "
                              "RETURNING " ROW_JSON "::text, t.counterparty", 3, p, &err);
    if (res == NULL)
        goto rollback;
    if (PQntuples(res) != 1) {
        si_error_set(&err, 404, "not_found", "no such transaction");
        goto rollback;
    }
    if ((row = json_loads(PQgetvalue(res, 0, 0), 0, NULL)) == NULL) {
        si_error_set(&err, 500, "internal", "could not read the transaction");
        goto rollback;
    }
    if (json_is_true(always)) {
        const char *cp = si_db_get_text(res, 0, 1);
        bool created = false;
        if (cp == NULL || cp[strspn(cp, " \t\r\n")] == '\0') {
            si_error_set(&err, 400, "no_counterparty", "the transaction has no counterparty to make a rule for");
            goto rollback;
        }
        if (ledger_match_normalize(cp, match, sizeof match, &err) != 0 ||
            ledger_rule_upsert(ctx->db, user, match, cat, &rule, &created, &err) != 0)
            goto rollback;
    }
    PQclear(res);
    res = NULL;
    if (si_db_commit(ctx->db, &err) != 0)
        goto fail;
    out = json_pack("{s:b, s:O}", "ok", 1, "transaction", row);
    if (out == NULL || (rule != NULL && json_object_set(out, "rule", rule) != 0)) {
        si_error_set(&err, 500, "internal", "out of memory");
        goto fail;
    }
    rc = si_response_json(resp, 200, out);
    goto done;
rollback:
    si_db_rollback(ctx->db);
fail:
    rc = si_response_from_error(resp, &err);
done:
    PQclear(res);
    json_decref(out);
    json_decref(row);
    json_decref(rule);
    json_decref(body);
    return rc;
}

int transactions_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    /* Before this worker's first statement, so that every connection it opens has them. */
    ctx->db->options = LEDGER_DB_OPTIONS;
    ctx->read_db->options = LEDGER_DB_OPTIONS;
    if (strcmp(req->method, "PATCH") == 0)
        return patch(ctx, req, resp);
    return list(ctx, req, resp);
}
