/* si_auth.c: caller identity (see si_auth.h). */
#include "si_auth.h"
#include "si_jwt.h"

#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* The user id the request claims, from body or query: NULL when none, or
 * -1 when userId and user_id disagree or are not strings. */
static int claimed_user(const struct si_request *req, const json_t *body, const char **out,
                        struct si_error *err)
{
    const char *a = NULL, *b = NULL;
    *out = NULL;
    if (body != NULL) {
        const json_t *ja = json_object_get(body, "userId"), *jb = json_object_get(body, "user_id");
        if ((ja != NULL && !json_is_string(ja)) || (jb != NULL && !json_is_string(jb)))
            return si_error_set(err, 400, "invalid_user_id", "userId must be a UUID string");
        a = json_string_value(ja);
        b = json_string_value(jb);
    } else {
        a = si_request_param(req, "userId");
        b = si_request_param(req, "user_id");
    }
    if (a != NULL && b != NULL && strcasecmp(a, b) != 0)
        return si_error_set(err, 400, "invalid_user_id", "userId and user_id differ");
    *out = a != NULL ? a : b;
    return 0;
}

static const char *bearer_token(const struct si_request *req, bool query_allowed)
{
    const char *h = si_request_header(req, "authorization");
    if (h != NULL) {
        if (strncasecmp(h, "Bearer ", 7) != 0)
            return NULL;
        h += 7;
        while (*h == ' ')
            h++;
        return *h ? h : NULL;
    }
    if (!query_allowed)
        return NULL;
    const char *q = si_request_param(req, "access_token");
    return (q != NULL && *q) ? q : NULL;
}

int si_auth_identify(const struct si_config *cfg, const struct si_request *req, const json_t *body,
                     long long now, char out_user_id[SI_UUID_LEN + 1], struct si_error *err)
{
    struct si_identity who;
    int rc = si_auth_identify_caller(cfg, req, body, now, 0, &who, err);
    memcpy(out_user_id, who.user_id, sizeof who.user_id);
    return rc;
}

int si_auth_identify_caller(const struct si_config *cfg, const struct si_request *req, const json_t *body,
                            long long now, unsigned flags, struct si_identity *out, struct si_error *err)
{
    char *out_user_id = out->user_id;
    out_user_id[0] = '\0';
    out->expires_at = 0;
    bool query_allowed = (flags & SI_AUTH_QUERY_TOKEN) != 0;
    if (!query_allowed && si_request_param(req, "access_token") != NULL)
        return si_error_set(err, 400, "token_in_url",
                            "do not put the access token in the URL; send it in the Authorization header");
    const char *claimed = NULL;
    if (claimed_user(req, body, &claimed, err) != 0)
        return -1;
    char claimed_norm[SI_UUID_LEN + 1] = "";
    if (claimed != NULL && si_uuid_normalize(claimed, claimed_norm) != 0)
        return si_error_set(err, 400, "invalid_user_id", "userId must be a UUID");

    if (cfg->auth_mode == SI_AUTH_TRUST_BODY) {
        if (claimed == NULL)
            return si_error_set(err, 400, "missing_user_id", "userId is required");
        memcpy(out_user_id, claimed_norm, sizeof claimed_norm);
        return 0;
    }

    const char *token = bearer_token(req, query_allowed);
    if (token == NULL)
        return si_error_set(err, 401, "missing_token", "an Authorization: Bearer token is required");
    json_t *claims = NULL;
    if (si_jwt_verify_hs256(token, cfg->jwt_secret, cfg->jwt_secret_len, now, &claims, err) != 0)
        return -1;
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    char sub_norm[SI_UUID_LEN + 1];
    int rc = -1;
    if (sub == NULL || si_uuid_normalize(sub, sub_norm) != 0) {
        si_error_set(err, 400, "invalid_user_id", "the token's subject is not a UUID user id");
        goto out;
    }
    if (claimed != NULL && strcmp(claimed_norm, sub_norm) != 0) {
        si_error_set(err, 403, "user_mismatch", "userId does not match the authenticated user");
        goto out;
    }
    memcpy(out_user_id, sub_norm, sizeof sub_norm);
    /* si_jwt_verify_hs256 checked that exp is a finite number later than now:
     * the token holds for the seconds before ceil(exp) */
    double exp = ceil(json_number_value(json_object_get(claims, "exp")));
    out->expires_at = exp >= 9.0e18 ? LLONG_MAX : (long long)exp;
    rc = 0;
out:
    json_decref(claims);
    return rc;
}
