/* si_auth.h: the one place that decides who the caller is.
 *
 * jwt (default): the caller is the `sub` of a verified HS256 bearer token
 * sent as `Authorization: Bearer <token>`.  A userId/user_id in the request
 * that differs from sub is refused with 403.
 * trust-body (SMARTIMPORT_AUTH=trust-body, dev only): the caller is the
 * userId/user_id of the request body (or query for GETs), unverified.
 * Either way the result is a lower-case UUID; anything else is a 400.
 *
 * A token in the URL.  URLs end up in logs, browser history and Referer
 * headers, so an `access_token` query parameter is refused (400
 * token_in_url), in both modes, by every caller of si_auth_identify().  The
 * one exception is a route a browser reaches with EventSource, which cannot
 * send headers: it opts in explicitly with SI_AUTH_QUERY_TOKEN
 * (si_auth_identify_caller), so a new function gets the safe default. */
#ifndef SI_AUTH_H
#define SI_AUTH_H

#include <jansson.h>

#include "si_config.h"
#include "si_error.h"
#include "si_request.h"
#include "si_uuid.h"

/* Flags of si_auth_identify_caller(). */
#define SI_AUTH_QUERY_TOKEN 0x1u   /* accept ?access_token= when there is no Authorization header */

/* Who the caller is, and until when that holds. */
struct si_identity {
    char user_id[SI_UUID_LEN + 1];
    long long expires_at;   /* the token's exp (seconds since the epoch); 0 when
                             * nothing expires (trust-body mode) */
};

/* body: the parsed request body, or NULL to look in the query parameters.
 * now: seconds since the epoch (time(NULL) outside tests).  On success
 * out_user_id holds the caller's id.  The token comes from the Authorization
 * header only. */
int si_auth_identify(const struct si_config *cfg, const struct si_request *req, const json_t *body,
                     long long now, char out_user_id[SI_UUID_LEN + 1], struct si_error *err);

/* The same with flags (SI_AUTH_*) and the token's expiry in out. */
int si_auth_identify_caller(const struct si_config *cfg, const struct si_request *req, const json_t *body,
                            long long now, unsigned flags, struct si_identity *out, struct si_error *err);

#endif
