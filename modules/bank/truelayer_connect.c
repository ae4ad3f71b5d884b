/* truelayer_connect.c: the bank-connection responder (smartimport-truelayer-connect).
 *
 *   POST /api/truelayer/connect {code, redirect_uri}
 *        -> 201 {ok, connection_id, provider, state, accounts:[{account_id, display_name,
 *           account_type, currency, last_synced_at}]}
 *        Exchanges the OAuth code at $TRUELAYER_AUTH_URL/connect/token, reads the accounts
 *        with the new token, and only then stores the connection (tokens sealed, si_crypt)
 *        and its accounts in one transaction: a failure anywhere stores nothing.
 *   GET  /api/truelayer/auth-link?redirect_uri=<http(s) URL>
 *        -> 200 {ok, auth_url, state}: TrueLayer's consent page for this client
 *           ($TRUELAYER_AUTH_URL/?response_type=code&client_id&redirect_uri&scope&state&providers),
 *           state = 32 random bytes as hex.  Nothing is stored: the page keeps the state and
 *           checks it when the bank sends the user back with ?code=&state=.
 *   GET  /api/truelayer/connections            the caller's connections with their accounts
 *   GET  /api/truelayer/connections/{id}       one of them (another user's: 404 not_found)
 *   POST /api/truelayer/connections/{id}/refresh
 *        reads the connection's accounts from the bank again (refreshing the token when due
 *        or after a 401; invalid_grant: 409 reauth_required and the connection's state says so)
 *        and updates them; answers the connection.
 *
 * The bank calls happen outside any transaction (a slow bank holds no row), the database
 * writes after them.  Identity: si_auth_identify (jwt: the bearer token; trust-body: the
 * body's or the query's user id); every statement filters by the caller's user_id. */
#include "truelayer_connect.h"
#include "si_auth.h"
#include "si_buf.h"
#include "si_crypt.h"
#include "si_clock.h"
#include "si_json.h"
#include "si_log.h"
#include "si_money.h"
#include "si_uuid.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define CONNECT_PATH "/api/truelayer/connect"
#define AUTH_LINK_PATH "/api/truelayer/auth-link"
#define AUTH_SCOPE "info accounts balance cards transactions offline_access"
#define STATE_BYTES 32
#define AUTH_LINK_MAX (4 * TL_URL_MAX + 4 * TL_TEXT_MAX)   /* bytes: every part percent-encoded at worst */
#define LIST_PATH    "/api/truelayer/connections"
#define TS(col) SI_SQL_UTC_MS(col)

int truelayer_connect_init(const struct si_config *cfg, void **fn_config, struct si_error *err)
{
    struct tl_settings *s = malloc(sizeof *s);
    if (s == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    if (tl_settings_load(s, cfg->envp, err) != 0) {
        tl_settings_cleanup(s);
        free(s);
        return -1;
    }
    *fn_config = s;
    return 0;
}

void truelayer_connect_cleanup(void *fn_config)
{
    if (fn_config != NULL)
        tl_settings_cleanup(fn_config);
    free(fn_config);
}

/* A request string field: present, a string of 1..TL_TEXT_MAX bytes without NUL or control
 * characters.  NULL after setting a 400 err. */
static const char *text_field(const json_t *body, const char *name, struct si_error *err)
{
    const json_t *v = json_object_get(body, name);
    if (v == NULL || json_is_null(v)) {
        si_error_set(err, 400, "missing_field", "%s is required", name);
        return NULL;
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (s == NULL || len == 0 || len > TL_TEXT_MAX || strlen(s) != len) {
        si_error_set(err, 400, "invalid_field", "%s must be a string of 1..%d bytes", name, TL_TEXT_MAX);
        return NULL;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        if (*p < 0x20 || *p == 0x7f) {
            si_error_set(err, 400, "invalid_field", "%s must not hold control characters", name);
            return NULL;
        }
    return s;
}

/* text cut to at most max bytes without splitting a UTF-8 sequence (jansson strings are valid UTF-8). */
static json_t *cut_string(const char *text, size_t max)
{
    size_t len = strlen(text);
    if (len > max) {
        len = max;
        while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80)
            len--;
    }
    return json_stringn(text, len);
}

/* The accounts of a bank's answer as this API shows and stores them: account_id, display_name,
 * account_type, currency (no account number, IBAN or sort code is kept).  *out_provider:
 * the first account's provider.provider_id ("unknown" when none).  -1 with 502 bank_error
 * when an account breaks the protocol. */
static int accounts_from(const json_t *results, json_t **out_accounts, char *out_provider, size_t provider_n,
                         struct si_error *err)
{
    json_t *list = json_array();
    snprintf(out_provider, provider_n, "unknown");
    if (list == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    size_t i;
    const json_t *a;
    json_array_foreach(results, i, a) {
        const char *id = json_string_value(json_object_get(a, "account_id"));
        const char *name = json_string_value(json_object_get(a, "display_name"));
        const char *type = json_string_value(json_object_get(a, "account_type"));
        const char *currency = json_string_value(json_object_get(a, "currency"));
        if (id == NULL || *id == '\0' || strlen(id) > TL_ACCOUNT_ID_MAX || !si_currency_code_valid(currency)) {
            json_decref(list);
            return si_error_set(err, 502, "bank_error", "the bank listed an account without a usable id or currency");
        }
        if (i == 0) {
            const char *p = json_string_value(json_object_get(json_object_get(a, "provider"), "provider_id"));
            if (p != NULL && *p != '\0' && strlen(p) < provider_n)
                snprintf(out_provider, provider_n, "%s", p);
        }
        json_t *o = json_pack("{s:s, s:o, s:o, s:s, s:n}", "account_id", id, "display_name",
                              cut_string(name != NULL ? name : "", 500), "account_type",
                              cut_string(type != NULL && *type != '\0' ? type : "UNKNOWN", 100), "currency", currency,
                              "last_synced_at");
        if (o == NULL || json_array_append_new(list, o) != 0) {
            json_decref(list);
            return si_error_set(err, 500, "internal", "out of memory");
        }
    }
    *out_accounts = list;
    return 0;
}

/* Upserts the accounts (a JSON array from accounts_from) of a connection. */
static int store_accounts(struct si_db *db, const char *user, const char *conn, const json_t *accounts,
                          struct si_error *err)
{
    char *text = json_dumps(accounts, JSON_COMPACT);
    if (text == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    const char *p[] = { user, conn, text };
    int rc = si_db_command(db,
        "INSERT INTO truelayer_accounts (user_id, connection_id, account_id, display_name, account_type, currency) "
        "SELECT $1::uuid, $2::uuid, a->>'account_id', a->>'display_name', a->>'account_type', a->>'currency' "
        "FROM jsonb_array_elements($3::jsonb) a "
        "ON CONFLICT (connection_id, account_id) DO UPDATE SET display_name = excluded.display_name, "
        "account_type = excluded.account_type, currency = excluded.currency "
        "WHERE truelayer_accounts.user_id = excluded.user_id",
        3, p, err);
    free(text);
    return rc;
}

/* The caller's connections (one when conn is not NULL) as the API shows them. */
static int load_connections(struct si_db *db, const char *user, const char *conn, json_t **out, struct si_error *err)
{
    *out = NULL;
    const char *p[] = { user, conn };
    PGresult *res = si_db_exec(db,
        "SELECT c.id, c.provider, c.state, " TS("c.created_at") ", " TS("c.updated_at") ", "
        "  coalesce((SELECT json_agg(json_build_object('account_id', a.account_id, 'display_name', a.display_name, "
        "      'account_type', a.account_type, 'currency', a.currency, 'last_synced_at', "
        "      " TS("a.last_synced_at") ") ORDER BY a.account_id) "
        "    FROM truelayer_accounts a WHERE a.connection_id = c.id AND a.user_id = c.user_id), '[]')::text "
        "FROM truelayer_connections c WHERE c.user_id = $1::uuid AND ($2::uuid IS NULL OR c.id = $2::uuid) "
        "ORDER BY c.created_at DESC, c.id LIMIT " TL_CONNECTIONS_MAX_TEXT,
        2, p, err);
    if (res == NULL)
        return -1;
    json_t *list = json_array();
    int rc = -1;
    if (list == NULL) {
        si_error_set(err, 500, "internal", "out of memory");
        goto out;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        json_error_t jerr;
        json_t *accounts = json_loads(PQgetvalue(res, r, 5), 0, &jerr);
        if (!json_is_array(accounts)) {
            json_decref(accounts);
            si_db_bad_value(err, "truelayer_accounts");
            goto out;
        }
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "connection_id", PQgetvalue(res, r, 0), "provider",
                              PQgetvalue(res, r, 1), "state", PQgetvalue(res, r, 2), "created_at",
                              PQgetvalue(res, r, 3), "updated_at", PQgetvalue(res, r, 4), "accounts", accounts);
        if (o == NULL || json_array_append_new(list, o) != 0) {
            si_error_set(err, 500, "internal", "out of memory");
            goto out;
        }
    }
    *out = list;
    list = NULL;
    rc = 0;
out:
    json_decref(list);
    PQclear(res);
    return rc;
}

/* A bank error as the answer: a 429 carries the bank's Retry-After (whole seconds, rounded up). */
static int reply_bank_error(struct si_response *resp, const struct si_error *err, const struct tl_call *call)
{
    int rc = si_response_from_error(resp, err);
    if (err->status == 429 && call->retry_after_ms >= 0) {
        char v[24];
        snprintf(v, sizeof v, "%ld", (call->retry_after_ms + 999) / 1000);
        si_response_header(resp, "Retry-After", v);
    }
    return rc;
}

static void log_bank_failure(const char *msg, const char *conn, const struct tl_call *call,
                             const struct si_error *err)
{
    si_log(SI_LOG_WARN, msg,
           json_pack("{s:s?, s:s, s:i, s:i, s:s}", "connection", conn, "code", err->code ? err->code : "internal",
                     "http_status", (int)call->status, "attempts", call->attempts, "detail", err->detail));
}

static int post_connect(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    const struct tl_settings *s = ctx->fn_config;
    json_t *body = NULL, *results = NULL, *accounts = NULL, *out = NULL;
    struct tl_tokens tokens = { 0 };
    struct tl_call call = { .retry_after_ms = -1 };
    char user[SI_UUID_LEN + 1] = "", provider[201], conn[SI_UUID_LEN + 1] = "";
    char *access_hex = NULL, *refresh_hex = NULL;
    PGresult *res = NULL;
    struct si_error err;
    si_error_clear(&err);
    int rc = -1;
    if (si_json_read_body(req, ctx->scratch, &body, &err) != 0 ||
        si_auth_identify(ctx->config, req, body, (long long)time(NULL), user, &err) != 0)
        goto fail;
    const char *code = text_field(body, "code", &err);
    if (code == NULL)
        goto fail;
    const char *redirect_uri = text_field(body, "redirect_uri", &err);
    if (redirect_uri == NULL)
        goto fail;
    if (strncmp(redirect_uri, "https://", 8) != 0 && strncmp(redirect_uri, "http://", 7) != 0) {
        si_error_set(&err, 400, "invalid_field", "redirect_uri must be an http:// or https:// URL");
        goto fail;
    }
    if (tl_settings_ready(s, &err) != 0)
        goto fail;
    /* The bank first, outside any transaction: nothing is stored unless both calls worked. */
    if (tl_exchange_code(ctx->http, s, code, redirect_uri, &tokens, &call, &err) != 0) {
        log_bank_failure("bank code exchange failed", NULL, &call, &err);
        rc = reply_bank_error(resp, &err, &call);
        goto out;
    }
    if (tl_fetch_accounts(ctx->http, s, tokens.access_token, &results, &call, &err) != 0) {
        log_bank_failure("bank accounts read failed", NULL, &call, &err);
        rc = reply_bank_error(resp, &err, &call);
        goto out;
    }
    if (accounts_from(results, &accounts, provider, sizeof provider, &err) != 0)
        goto fail;
    res = si_db_exec(ctx->db, "SELECT gen_random_uuid()", 0, NULL, &err);
    if (res == NULL)
        goto fail;
    snprintf(conn, sizeof conn, "%s", PQgetvalue(res, 0, 0));
    if (tl_seal_token_hex(s, conn, user, "access", tokens.access_token, &access_hex, &err) != 0 ||
        (tokens.refresh_token != NULL &&
         tl_seal_token_hex(s, conn, user, "refresh", tokens.refresh_token, &refresh_hex, &err) != 0))
        goto fail;
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", tokens.expires_in);
    const char *p[] = { conn, user, provider, access_hex, refresh_hex, ttl };
    if (si_db_begin(ctx->db, &err) != 0 ||
        si_db_command(ctx->db,
                      "INSERT INTO truelayer_connections (id, user_id, provider, access_token_enc, refresh_token_enc, "
                      "token_expires_at) VALUES ($1::uuid, $2::uuid, $3, decode($4, 'hex'), decode($5, 'hex'), "
                      "now() + make_interval(secs => $6::bigint))",
                      6, p, &err) != 0 ||
        store_accounts(ctx->db, user, conn, accounts, &err) != 0 || si_db_commit(ctx->db, &err) != 0)
        goto fail;
    si_log(SI_LOG_INFO, "bank connection stored",
           json_pack("{s:s, s:s, s:i}", "connection", conn, "provider", provider, "accounts",
                     (int)json_array_size(accounts)));
    out = json_pack("{s:b, s:s, s:s, s:s, s:O}", "ok", 1, "connection_id", conn, "provider", provider, "state",
                    "active", "accounts", accounts);
    if (out == NULL) {
        si_error_set(&err, 500, "internal", "out of memory");
        goto fail;
    }
    rc = si_response_json(resp, 201, out);
    goto out;
fail:
    rc = si_response_from_error(resp, &err);
out:
    if (si_db_in_transaction(ctx->db))
        si_db_rollback(ctx->db);
    tl_tokens_clear(&tokens);
    free(access_hex);
    free(refresh_hex);
    PQclear(res);
    json_decref(out);
    json_decref(accounts);
    json_decref(results);
    json_decref(body);
    return rc;
}

/* GET connections, GET connections/{id}; conn NULL for the list. */
static int get_connections(struct si_ctx *ctx, struct si_request *req, struct si_response *resp, const char *conn)
{
    char user[SI_UUID_LEN + 1] = "";
    json_t *list = NULL, *out = NULL;
    struct si_error err;
    si_error_clear(&err);
    int rc = -1;
    if (si_auth_identify(ctx->config, req, NULL, (long long)time(NULL), user, &err) != 0 ||
        load_connections(ctx->db, user, conn, &list, &err) != 0)
        goto fail;
    if (conn != NULL) {
        if (json_array_size(list) != 1) {
            si_error_set(&err, 404, "not_found", "no such bank connection");
            goto fail;
        }
        out = json_deep_copy(json_array_get(list, 0));
        if (out == NULL || json_object_set_new(out, "ok", json_true()) != 0)
            goto oom;
    } else {
        out = json_pack("{s:b, s:O}", "ok", 1, "connections", list);
        if (out == NULL)
            goto oom;
    }
    rc = si_response_json(resp, 200, out);
    goto out;
oom:
    si_error_set(&err, 500, "internal", "out of memory");
fail:
    rc = si_response_from_error(resp, &err);
out:
    json_decref(out);
    json_decref(list);
    return rc;
}

/* POST connections/{id}/refresh */
static int post_refresh(struct si_ctx *ctx, struct si_request *req, struct si_response *resp, const char *conn)
{
    const struct tl_settings *s = ctx->fn_config;
    char user[SI_UUID_LEN + 1] = "", provider[201];
    json_t *body = NULL, *results = NULL, *accounts = NULL;
    struct tl_call call = { .retry_after_ms = -1 };
    struct si_error err;
    si_error_clear(&err);
    int rc = -1;
    if (si_json_read_body(req, ctx->scratch, &body, &err) != 0 ||
        si_auth_identify(ctx->config, req, body, (long long)time(NULL), user, &err) != 0 ||
        tl_settings_ready(s, &err) != 0)
        goto fail;
    if (tl_fetch_accounts_for(ctx->db, ctx->http, s, user, conn, &results, &call, &err) != 0) {
        if (err.status >= 500 || err.status == 429)
            log_bank_failure("bank accounts read failed", conn, &call, &err);
        rc = reply_bank_error(resp, &err, &call);
        goto out;
    }
    if (accounts_from(results, &accounts, provider, sizeof provider, &err) != 0 ||
        store_accounts(ctx->db, user, conn, accounts, &err) != 0)
        goto fail;
    rc = get_connections(ctx, req, resp, conn);
    goto out;
fail:
    rc = si_response_from_error(resp, &err);
out:
    json_decref(accounts);
    json_decref(results);
    json_decref(body);
    return rc;
}

/* Appends "&name=value" (the first without '&') to b with value percent-encoded: letters,
 * digits and "-._~" stay, every other byte (a space too) is %XX.  -1 when out of memory. */
static int query_add(struct si_buf *b, const char *name, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    if (si_buf_printf(b, "%s%s=", b->len > 0 && b->data[b->len - 1] != '?' ? "&" : "", name) != 0)
        return -1;
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        bool keep = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                    *p == '-' || *p == '.' || *p == '_' || *p == '~';
        char enc[3] = { '%', hex[*p >> 4], hex[*p & 15] };
        if (keep ? si_buf_append(b, p, 1) != 0 : si_buf_append(b, enc, 3) != 0)
            return -1;
    }
    return 0;
}

/* GET auth-link?redirect_uri= */
static int get_auth_link(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    const struct tl_settings *s = ctx->fn_config;
    char user[SI_UUID_LEN + 1] = "", state[2 * STATE_BYTES + 1] = "";
    unsigned char rnd[STATE_BYTES];
    struct si_buf url;
    si_buf_init(&url, AUTH_LINK_MAX);
    json_t *q = NULL, *out = NULL;
    struct si_error err;
    si_error_clear(&err);
    int rc = -1;
    if (si_auth_identify(ctx->config, req, NULL, (long long)time(NULL), user, &err) != 0)
        goto fail;
    const char *ru = si_request_param(req, "redirect_uri");
    q = json_object();
    if (q == NULL || (ru != NULL && json_object_set_new(q, "redirect_uri", json_string(ru)) != 0)) {
        si_error_set(&err, 400, "invalid_field", "redirect_uri must be valid UTF-8");
        goto fail;
    }
    const char *redirect_uri = text_field(q, "redirect_uri", &err);
    if (redirect_uri == NULL)
        goto fail;
    if (strncmp(redirect_uri, "https://", 8) != 0 && strncmp(redirect_uri, "http://", 7) != 0) {
        si_error_set(&err, 400, "invalid_field", "redirect_uri must be an http:// or https:// URL");
        goto fail;
    }
    if (tl_settings_ready(s, &err) != 0)
        goto fail;
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        si_error_set(&err, 500, "internal", "no random bytes for the state");
        goto fail;
    }
    si_crypt_hex(rnd, sizeof rnd, state);
    si_crypt_wipe(rnd, sizeof rnd);
    if (si_buf_printf(&url, "%s/?", s->auth_url) != 0 || query_add(&url, "response_type", "code") != 0 ||
        query_add(&url, "client_id", s->client_id) != 0 || query_add(&url, "redirect_uri", redirect_uri) != 0 ||
        query_add(&url, "scope", AUTH_SCOPE) != 0 || query_add(&url, "state", state) != 0 ||
        query_add(&url, "providers", s->providers) != 0)
        goto oom;
    out = json_pack("{s:b, s:s, s:s}", "ok", 1, "auth_url", url.data, "state", state);
    if (out == NULL)
        goto oom;
    rc = si_response_json(resp, 200, out);
    goto out;
oom:
    si_error_set(&err, 500, "internal", "out of memory");
fail:
    rc = si_response_from_error(resp, &err);
out:
    si_buf_cleanup(&url);
    json_decref(out);
    json_decref(q);
    return rc;
}

int truelayer_connect_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    const char *path = req->path;
    bool get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
    if (strcmp(path, AUTH_LINK_PATH) == 0) {
        if (!get)
            return si_response_error(resp, 405, "method_not_allowed", "use GET for %s", AUTH_LINK_PATH);
        return get_auth_link(ctx, req, resp);
    }
    if (strcmp(path, CONNECT_PATH) == 0) {
        if (!post)
            return si_response_error(resp, 405, "method_not_allowed", "use POST for %s", CONNECT_PATH);
        return post_connect(ctx, req, resp);
    }
    if (strcmp(path, LIST_PATH) == 0 || strcmp(path, LIST_PATH "/") == 0) {
        if (!get)
            return si_response_error(resp, 405, "method_not_allowed", "use GET for %s", LIST_PATH);
        return get_connections(ctx, req, resp, NULL);
    }
    if (strncmp(path, LIST_PATH "/", strlen(LIST_PATH) + 1) != 0)
        return si_response_error(resp, 404, "not_found", "no such bank endpoint");
    const char *tail = path + strlen(LIST_PATH) + 1;
    char id[SI_UUID_LEN + 1];
    size_t idl = strcspn(tail, "/");
    if (idl > SI_UUID_LEN) {
        return si_response_error(resp, 400, "invalid_id", "a connection id is a UUID");
    }
    memcpy(id, tail, idl);
    id[idl] = '\0';
    const char *rest = tail + idl;
    char conn[SI_UUID_LEN + 1];
    if (si_uuid_normalize(id, conn) != 0)
        return si_response_error(resp, 400, "invalid_id", "a connection id is a UUID");
    if (*rest == '\0') {
        if (!get)
            return si_response_error(resp, 405, "method_not_allowed", "use GET for %s", LIST_PATH "/{id}");
        return get_connections(ctx, req, resp, conn);
    }
    if (strcmp(rest, "/refresh") == 0) {
        if (!post)
            return si_response_error(resp, 405, "method_not_allowed", "use POST for %s", LIST_PATH "/{id}/refresh");
        return post_refresh(ctx, req, resp, conn);
    }
    return si_response_error(resp, 404, "not_found", "no such bank endpoint");
}
