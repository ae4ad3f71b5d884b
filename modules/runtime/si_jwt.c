/* si_jwt.c: HS256 verification and signing over OpenSSL's HMAC (see si_jwt.h). */
#include "si_jwt.h"
#include "si_limits.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define NBF_LEEWAY_SECONDS 30

/* Decodes one base64url segment as a JSON object. */
static json_t *decode_json_segment(const char *seg, size_t n)
{
    unsigned char buf[SI_MAX_TOKEN];
    size_t len = 0;
    if (si_base64url_decode(seg, n, buf, sizeof buf, &len) != 0)
        return NULL;
    json_t *obj = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, NULL);
    if (obj != NULL && !json_is_object(obj)) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

static int hmac_sha256(const unsigned char *key, size_t key_len, const char *data, size_t n,
                       unsigned char out[32])
{
    unsigned int out_len = 0;
    if (HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)data, n, out, &out_len) == NULL ||
        out_len != 32)
        return -1;
    return 0;
}

static int invalid(struct si_error *err, const char *why)
{
    si_error_set(err, 401, "invalid_token", "invalid access token");
    si_error_detail(err, "%s", why);
    return -1;
}

int si_jwt_verify_hs256(const char *token, const unsigned char *secret, size_t secret_len,
                        long long now, json_t **out_claims, struct si_error *err)
{
    *out_claims = NULL;
    if (secret == NULL || secret_len == 0)
        return si_error_set(err, 500, "auth_not_configured", "authentication is not configured");
    size_t len = strlen(token);
    if (len == 0 || len > SI_MAX_TOKEN)
        return invalid(err, "token empty or too long");
    const char *dot1 = strchr(token, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (dot1 == NULL || dot2 == NULL || strchr(dot2 + 1, '.') != NULL)
        return invalid(err, "token is not three segments");
    size_t h_len = (size_t)(dot1 - token), p_len = (size_t)(dot2 - dot1 - 1);
    size_t s_len = len - (size_t)(dot2 + 1 - token);
    if (h_len == 0 || p_len == 0 || s_len == 0)
        return invalid(err, "empty token segment");

    json_t *header = decode_json_segment(token, h_len);
    if (header == NULL)
        return invalid(err, "token header is not base64url JSON");
    const char *alg = json_string_value(json_object_get(header, "alg"));
    int alg_ok = alg != NULL && strcmp(alg, "HS256") == 0 && json_object_get(header, "crit") == NULL;
    json_decref(header);
    if (!alg_ok)
        return invalid(err, "token algorithm is not HS256");

    unsigned char sig[64], want[32];
    size_t sig_len = 0;
    if (si_base64url_decode(dot2 + 1, s_len, sig, sizeof sig, &sig_len) != 0 || sig_len != 32)
        return invalid(err, "token signature is malformed");
    if (hmac_sha256(secret, secret_len, token, (size_t)(dot2 - token), want) != 0)
        return si_error_set(err, 500, "internal", "could not compute token signature");
    if (CRYPTO_memcmp(sig, want, 32) != 0)
        return invalid(err, "token signature does not verify");

    json_t *claims = decode_json_segment(dot1 + 1, p_len);
    if (claims == NULL)
        return invalid(err, "token payload is not base64url JSON");
    json_t *exp = json_object_get(claims, "exp");
    json_t *nbf = json_object_get(claims, "nbf");
    if (!json_is_number(exp) || !isfinite(json_number_value(exp))) {
        json_decref(claims);
        return invalid(err, "token has no exp claim");
    }
    if ((double)now >= json_number_value(exp)) {
        json_decref(claims);
        return si_error_set(err, 401, "token_expired", "access token has expired");
    }
    if (nbf != NULL && (!json_is_number(nbf) ||
                        (double)(now + NBF_LEEWAY_SECONDS) < json_number_value(nbf))) {
        json_decref(claims);
        return invalid(err, "token is not valid yet (nbf)");
    }
    *out_claims = claims;
    return 0;
}

int si_jwt_sign_hs256(const json_t *claims, const unsigned char *secret, size_t secret_len,
                      struct si_buf *out)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char *payload = json_dumps(claims, JSON_COMPACT);
    if (payload == NULL)
        return -1;
    int rc = -1;
    size_t start = out->len;
    unsigned char sig[32];
    if (si_base64url_encode((const unsigned char *)header, strlen(header), out) != 0 ||
        si_buf_append(out, ".", 1) != 0 ||
        si_base64url_encode((const unsigned char *)payload, strlen(payload), out) != 0 ||
        hmac_sha256(secret, secret_len, out->data + start, out->len - start, sig) != 0 ||
        si_buf_append(out, ".", 1) != 0 ||
        si_base64url_encode(sig, sizeof sig, out) != 0)
        goto out;
    rc = 0;
out:
    free(payload);
    return rc;
}
