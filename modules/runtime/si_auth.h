/* si_auth.h: the one place that decides who the caller is.
 *
 * jwt (default): the caller is the `sub` of a verified HS256 bearer token
 * (Authorization: Bearer, or an access_token query parameter for browsers'
 * EventSource, which cannot send headers).  A userId/user_id in the request
 * that differs from sub is refused with 403.
 * trust-body (SMARTIMPORT_AUTH=trust-body, dev only): the caller is the
 * userId/user_id of the request body (or query for GETs), unverified.
 * Either way the result is a lower-case UUID; anything else is a 400. */
#ifndef SI_AUTH_H
#define SI_AUTH_H

#include <jansson.h>

#include "si_config.h"
#include "si_error.h"
#include "si_request.h"
#include "si_uuid.h"

/* body: the parsed request body, or NULL to look in the query parameters.
 * now: seconds since the epoch (time(NULL) outside tests).  On success
 * out_user_id holds the caller's id. */
int si_auth_identify(const struct si_config *cfg, const struct si_request *req, const json_t *body,
                     long long now, char out_user_id[SI_UUID_LEN + 1], struct si_error *err);

#endif
