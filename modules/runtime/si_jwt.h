/* si_jwt.h: HS256 JSON Web Tokens (Supabase-style access tokens).
 *
 * Only HS256 is accepted: the header's alg must be exactly "HS256", so
 * "none" and every asymmetric algorithm are refused before the signature is
 * looked at.  The signature is compared in constant time, then exp (required)
 * and nbf (optional) are checked.  Base64url is the strict JWT flavour: no
 * padding, no whitespace, no stray bits. */
#ifndef SI_JWT_H
#define SI_JWT_H

#include <stddef.h>
#include <jansson.h>

#include "si_base64.h"   /* si_base64url_decode, si_base64url_encode */
#include "si_buf.h"
#include "si_error.h"

/* Verifies token with secret at time now (seconds since the epoch).  On
 * success *out_claims is the payload object (caller json_decref's it).
 * Errors are 401 with code invalid_token or token_expired. */
int si_jwt_verify_hs256(const char *token, const unsigned char *secret, size_t secret_len,
                        long long now, json_t **out_claims, struct si_error *err);

/* Signs claims as an HS256 token appended to out (used by smartimport-token
 * and the tests).  Returns 0 or -1. */
int si_jwt_sign_hs256(const json_t *claims, const unsigned char *secret, size_t secret_len,
                      struct si_buf *out);

#endif
