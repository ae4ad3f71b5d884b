/* tl_wire.c: one HTTP call to TrueLayer each (token grants, accounts, transactions),
 * through the runtime's si_http client; no database here.
 *
 * What si_http retries is chosen per call: the token grants only when no connection was
 * made (a grant the server may have acted on is not sent twice: a code works once and a
 * refresh token rotates), data reads also on 5xx; a 429 never, since the caller decides
 * what a pause means (a sync pauses one account, not the others).  Every answer is
 * turned into one of the error codes tl_client.h lists; the bank's own text never
 * reaches the client or the log (it could quote an account). */
#include "tl_client.h"
#include "si_crypt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tl_tokens_clear(struct tl_tokens *t)
{
    si_crypt_free_secret(t->access_token);
    si_crypt_free_secret(t->refresh_token);
    t->access_token = NULL;
    t->refresh_token = NULL;
    t->expires_in = 0;
}

static void request_init(struct si_http_request *req, const struct tl_settings *s, const char *url, bool data_read)
{
    si_http_request_init(req);
    req->url = url;
    req->timeout_ms = s->timeout_ms;
    req->deadline_ms = s->deadline_ms;
    req->max_attempts = s->attempts;
    req->max_response = (size_t)s->max_response;
    req->retry_on = data_read ? (SI_HTTP_RETRY_5XX | SI_HTTP_RETRY_CONNECT) : SI_HTTP_RETRY_CONNECT;
}

static void call_from(struct tl_call *call, const struct si_http_result *res)
{
    if (call == NULL)
        return;
    call->status = res->status;
    call->retry_after_ms = res->status == 429 ? res->retry_after_ms : -1;
    call->attempts = res->attempts;
    call->ms = res->ms;
}

/* The error of a failed call (res->error != SI_HTTP_OK) that is not a grant's 400. */
static int call_error(const struct si_http_result *res, const char *what, struct si_error *err)
{
    switch (res->error) {
    case SI_HTTP_ERR_STATUS:
        if (res->status == 401)
            si_error_set(err, 401, "token_expired", "the bank no longer accepts this connection's access token");
        else if (res->status == 429)
            si_error_set(err, 429, "rate_limited", "the bank asked to slow down");
        else if (res->status >= 500)
            si_error_set(err, 503, "bank_unavailable", "the bank is not available right now; try again later");
        else
            si_error_set(err, 502, "bank_error", "the bank refused the request");
        si_error_detail(err, "%s: HTTP %ld after %d attempt(s)", what, res->status, res->attempts);
        break;
    case SI_HTTP_ERR_CONNECT:
    case SI_HTTP_ERR_TIMEOUT:
    case SI_HTTP_ERR_TRANSPORT:
        si_error_set(err, 503, "bank_unavailable", "the bank is not available right now; try again later");
        si_error_detail(err, "%s: %s after %d attempt(s)", what, si_http_error_name(res->error), res->attempts);
        break;
    case SI_HTTP_ERR_TOO_LARGE:
        si_error_set(err, 502, "bank_error", "the bank's answer is larger than TRUELAYER_MAX_RESPONSE_BYTES");
        si_error_detail(err, "%s: answer over the cap", what);
        break;
    case SI_HTTP_ERR_BAD_JSON:
        si_error_set(err, 502, "bank_error", "the bank's answer is not JSON");
        si_error_detail(err, "%s: %s", what, res->detail);
        break;
    default:
        si_error_set(err, 500, "internal", "could not call the bank");
        si_error_detail(err, "%s: %s", what, res->detail);
        break;
    }
    return -1;
}

/* The "error" of a grant's JSON error body, or "" (e.g. "invalid_grant"). */
static void grant_error(const struct si_http_result *res, char *out, size_t n)
{
    out[0] = '\0';
    if (res->body == NULL)
        return;
    json_error_t jerr;
    json_t *doc = json_loadb(res->body, res->body_len, 0, &jerr);
    const char *e = json_string_value(json_object_get(doc, "error"));
    if (e != NULL)
        snprintf(out, n, "%s", e);
    json_decref(doc);
}

/* Takes the token pair out of a grant's answer.  0, or -1 with 502 bank_error. */
static int tokens_from(const json_t *doc, struct tl_tokens *out, struct si_error *err)
{
    const json_t *at = json_object_get(doc, "access_token"), *rt = json_object_get(doc, "refresh_token"),
                 *exp = json_object_get(doc, "expires_in");
    const char *type = json_string_value(json_object_get(doc, "token_type"));
    if (!json_is_string(at) || json_string_length(at) == 0 || json_string_length(at) > TL_TEXT_MAX * 4 ||
        !json_is_integer(exp) || json_integer_value(exp) <= 0 || json_integer_value(exp) > 10LL * 365 * 86400 ||
        (rt != NULL && !json_is_null(rt) && (!json_is_string(rt) || json_string_length(rt) > TL_TEXT_MAX * 4)) ||
        (type != NULL && strcasecmp(type, "Bearer") != 0)) {
        si_error_set(err, 502, "bank_error", "the bank's token answer is not what the protocol says");
        return -1;
    }
    out->access_token = strdup(json_string_value(at));
    out->refresh_token = json_is_string(rt) && json_string_length(rt) > 0 ? strdup(json_string_value(rt)) : NULL;
    out->expires_in = (long long)json_integer_value(exp);
    if (out->access_token == NULL || (json_is_string(rt) && json_string_length(rt) > 0 && out->refresh_token == NULL)) {
        tl_tokens_clear(out);
        return si_error_set(err, 500, "internal", "out of memory");
    }
    return 0;
}

/* One grant: pairs are the form fields after client_id/client_secret. */
static int grant(struct si_http_client *http, const struct tl_settings *s, const char *grant_type,
                 const char *name1, const char *value1, const char *name2, const char *value2,
                 struct tl_tokens *out, struct tl_call *call, char *error_out, size_t error_n, struct si_error *err)
{
    memset(out, 0, sizeof *out);
    error_out[0] = '\0';
    if (tl_settings_ready(s, err) != 0)
        return -1;
    char url[TL_URL_MAX + 32];
    snprintf(url, sizeof url, "%s/connect/token", s->auth_url);
    struct si_http_request req;
    request_init(&req, s, url, false);
    const char *pairs[] = { "grant_type", grant_type, "client_id", s->client_id, "client_secret", s->client_secret,
                            name1, value1, name2, value2, NULL };
    if (name2 == NULL)
        pairs[8] = NULL;
    struct si_http_result res = { 0 };
    json_t *doc = NULL;
    int rc = si_http_form(http, &req, pairs, &doc, &res);
    call_from(call, &res);
    if (rc != 0) {
        if (res.error == SI_HTTP_ERR_STATUS && (res.status == 400 || res.status == 401))
            grant_error(&res, error_out, error_n);
        if (strcmp(error_out, "invalid_grant") != 0) {
            call_error(&res, "token grant", err);
            if (res.status == 400 || res.status == 401) {
                /* invalid_client & co.: our configuration, not the user's request. */
                si_error_set(err, 502, "bank_error", "the bank refused this server's client credentials or request");
                si_error_detail(err, "token grant: HTTP %ld, error %.40s", res.status,
                                error_out[0] != '\0' ? error_out : "(none)");
            }
        }
        si_http_result_cleanup(&res);
        return -1;
    }
    rc = tokens_from(doc, out, err);
    json_decref(doc);
    si_http_result_cleanup(&res);
    return rc;
}

int tl_exchange_code(struct si_http_client *http, const struct tl_settings *s, const char *code,
                     const char *redirect_uri, struct tl_tokens *out, struct tl_call *call, struct si_error *err)
{
    char e[64];
    if (grant(http, s, "authorization_code", "redirect_uri", redirect_uri, "code", code, out, call, e, sizeof e,
              err) == 0)
        return 0;
    if (strcmp(e, "invalid_grant") == 0)
        si_error_set(err, 400, "invalid_grant",
                     "the bank refused the authorization code (used already, expired, or another redirect_uri)");
    return -1;
}

int tl_refresh_tokens(struct si_http_client *http, const struct tl_settings *s, const char *refresh_token,
                      struct tl_tokens *out, struct tl_call *call, struct si_error *err)
{
    char e[64];
    if (grant(http, s, "refresh_token", "refresh_token", refresh_token, NULL, NULL, out, call, e, sizeof e, err) == 0)
        return 0;
    if (strcmp(e, "invalid_grant") == 0)
        si_error_set(err, 409, "reauth_required",
                     "the bank connection must be authorised again (consent expired or revoked): connect it again");
    return -1;
}

/* Appends s percent-encoded (everything but letters, digits and "-._~") to out. */
static int append_escaped(char *out, size_t cap, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = strlen(out);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                     c == '.' || c == '_' || c == '~';
        if (len + (plain ? 1 : 3) >= cap)
            return -1;
        if (plain)
            out[len++] = (char)c;
        else {
            out[len++] = '%';
            out[len++] = hex[c >> 4];
            out[len++] = hex[c & 15];
        }
    }
    out[len] = '\0';
    return 0;
}

/* GET url with the bearer token; *out_results = the answer's "results" array. */
static int data_get(struct si_http_client *http, const struct tl_settings *s, const char *token, const char *url,
                    const char *what, json_t **out_results, struct tl_call *call, struct si_error *err)
{
    *out_results = NULL;
    if (token == NULL || *token == '\0' || strpbrk(token, "\r\n") != NULL)
        return si_error_set(err, 500, "internal", "no access token");
    size_t hlen = strlen(token) + 32;
    char *auth = malloc(hlen);
    if (auth == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    snprintf(auth, hlen, "Authorization: Bearer %s", token);
    const char *headers[] = { auth, NULL };
    struct si_http_request req;
    request_init(&req, s, url, true);
    req.method = "GET";
    req.headers = headers;
    struct si_http_result res = { 0 };
    json_t *doc = NULL;
    int rc = si_http_json(http, &req, NULL, &doc, &res);
    si_crypt_wipe(auth, hlen);
    free(auth);
    call_from(call, &res);
    if (rc != 0) {
        call_error(&res, what, err);
        si_http_result_cleanup(&res);
        return -1;
    }
    si_http_result_cleanup(&res);
    json_t *results = json_object_get(doc, "results");
    if (!json_is_array(results)) {
        json_decref(doc);
        si_error_set(err, 502, "bank_error", "the bank's answer has no results");
        return -1;
    }
    *out_results = json_incref(results);
    json_decref(doc);
    return 0;
}

int tl_fetch_accounts(struct si_http_client *http, const struct tl_settings *s, const char *token,
                      json_t **out_results, struct tl_call *call, struct si_error *err)
{
    char url[TL_URL_MAX + 32];
    snprintf(url, sizeof url, "%s/data/v1/accounts", s->api_url);
    return data_get(http, s, token, url, "accounts", out_results, call, err);
}

static bool day_valid(const char *d)
{
    if (d == NULL || strlen(d) != 10)
        return false;
    for (int i = 0; i < 10; i++)
        if (i == 4 || i == 7 ? d[i] != '-' : (d[i] < '0' || d[i] > '9'))
            return false;
    return true;
}

int tl_fetch_transactions(struct si_http_client *http, const struct tl_settings *s, const char *token,
                          const char *account_id, const char *from, const char *to, bool pending,
                          json_t **out_results, struct tl_call *call, struct si_error *err)
{
    *out_results = NULL;
    if (account_id == NULL || *account_id == '\0' || strlen(account_id) > TL_ACCOUNT_ID_MAX)
        return si_error_set(err, 400, "invalid_account", "an account id is 1..%d bytes", TL_ACCOUNT_ID_MAX);
    if ((from != NULL && !day_valid(from)) || (to != NULL && !day_valid(to)))
        return si_error_set(err, 400, "invalid_date", "dates are YYYY-MM-DD");
    char url[TL_URL_MAX + 3 * TL_ACCOUNT_ID_MAX + 128];
    snprintf(url, sizeof url, "%s/data/v1/accounts/", s->api_url);
    if (append_escaped(url, sizeof url, account_id) != 0)
        return si_error_set(err, 500, "internal", "URL too long");
    size_t len = strlen(url);
    /* TrueLayer takes ISO 8601 date-times; both days are included whole. */
    snprintf(url + len, sizeof url - len, "/transactions%s%s%s%s%s%s%s", pending ? "/pending" : "",
             from != NULL || to != NULL ? "?" : "", from != NULL ? "from=" : "", from != NULL ? from : "",
             from != NULL ? "T00%3A00%3A00" : "", from != NULL && to != NULL ? "&" : "", to != NULL ? "to=" : "");
    if (to != NULL) {
        len = strlen(url);
        snprintf(url + len, sizeof url - len, "%sT23%%3A59%%3A59", to);
    }
    return data_get(http, s, token, url, pending ? "pending transactions" : "transactions", out_results, call, err);
}
