/* auth_check.c: auth-check, the edge identity check nginx asks before a body is read.
 *
 * nginx's auth_request sends every request to a route marked "auth" (nginx/routes) here
 * first, as a bodiless GET that carries only the client's headers: no body, no query.
 * The caller is who si_auth_identify says from the Authorization bearer token alone;
 * the answer is 204 with X-SI-User-Id, or a 401 (the only refusal auth_request passes
 * on besides 403) whose code and message ride in X-SI-Auth-Code / X-SI-Auth-Error for
 * nginx's JSON 401.  So a stranger's 60 MB upload is refused before nginx reads it.
 *
 * This is a gate, not the decision: the responder still identifies the caller itself,
 * with the body (a userId that is not the token's user is its 403).  In trust-body mode
 * the identity is in the body, which this check never sees: it always passes. */
#include "auth_check.h"
#include "si_auth.h"

#include <string.h>
#include <time.h>

/* The header values end up in nginx's JSON 401 unescaped: only plain text passes. */
static bool plain_text(const char *s)
{
    for (; *s; s++)
        if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return false;
    return true;
}

int auth_check_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    if (ctx->config->auth_mode == SI_AUTH_TRUST_BODY) {
        resp->status = 204;
        return 0;
    }
    /* Headers only, whatever nginx passed: a query string never identifies the caller here. */
    struct si_request headers_only = *req;
    headers_only.query = "";
    headers_only.params = NULL;
    headers_only.n_params = 0;

    char user[SI_UUID_LEN + 1];
    struct si_error err;
    si_error_clear(&err);
    if (si_auth_identify(ctx->config, &headers_only, NULL, (long long)time(NULL), user, &err) == 0) {
        resp->status = 204;
        return si_response_header(resp, "X-SI-User-Id", user);
    }
    /* Every refusal is a 401 here (a token whose subject is not a user id too): nginx
     * turns any other status of this check into a 500. */
    const char *code = err.code != NULL && plain_text(err.code) ? err.code : "invalid_token";
    const char *message = plain_text(err.message) ? err.message : "invalid access token";
    si_response_error(resp, 401, code, "%s", message);
    if (si_response_header(resp, "X-SI-Auth-Code", code) != 0 ||
        si_response_header(resp, "X-SI-Auth-Error", message) != 0)
        return -1;
    return 0;
}
