/* si_crypt.c: AES-256-GCM seal/open of secrets kept at rest (see si_crypt.h).
 *
 * One EVP_CIPHER_CTX per call: the calls are rare (a token per bank request)
 * and a context per call needs no lock.  The nonce comes from RAND_bytes and
 * is never reused with the same key in practice (96 random bits, NIST's
 * limit is 2^32 seals per key). */
#include "si_crypt.h"
#include "si_request.h"   /* si_hex_value */

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

void si_crypt_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int si_crypt_unhex(const char *hex, unsigned char *out, size_t n)
{
    if (hex == NULL || strlen(hex) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = si_hex_value((unsigned char)hex[2 * i]), lo = si_hex_value((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi * 16 + lo);
    }
    return 0;
}

int si_crypt_key_parse(const char *hex, struct si_crypt_key *out, struct si_error *err)
{
    memset(out, 0, sizeof *out);
    if (hex == NULL || si_crypt_unhex(hex, out->bytes, SI_CRYPT_KEY_LEN) != 0) {
        si_crypt_key_clear(out);
        return si_error_set(err, 500, "invalid_token_key",
                            "SMARTIMPORT_TOKEN_KEY must be 64 hex digits (32 bytes; e.g. openssl rand -hex 32)");
    }
    out->set = true;
    return 0;
}

void si_crypt_key_clear(struct si_crypt_key *key)
{
    si_crypt_wipe(key->bytes, sizeof key->bytes);
    key->set = false;
}

void si_crypt_wipe(void *p, size_t n)
{
    if (p != NULL && n > 0)
        OPENSSL_cleanse(p, n);
}

void si_crypt_free_secret(char *s)
{
    if (s == NULL)
        return;
    si_crypt_wipe(s, strlen(s));
    free(s);
}

int si_crypt_seal(const struct si_crypt_key *key, const void *plain, size_t len, const void *aad, size_t aad_len,
                  unsigned char **out_blob, size_t *out_len, struct si_error *err)
{
    *out_blob = NULL;
    *out_len = 0;
    if (key == NULL || !key->set)
        return si_error_set(err, 500, "internal", "no token key");
    if (len > SI_CRYPT_MAX_PLAINTEXT || aad_len > (size_t)SI_CRYPT_MAX_PLAINTEXT)
        return si_error_set(err, 500, "internal", "a secret to seal is over %d bytes", SI_CRYPT_MAX_PLAINTEXT);
    unsigned char *blob = malloc(len + SI_CRYPT_OVERHEAD);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0, rc = -1;
    if (blob == NULL || c == NULL) {
        si_error_set(err, 500, "internal", "out of memory");
        goto out;
    }
    unsigned char *nonce = blob, *ct = blob + SI_CRYPT_NONCE_LEN, *tag = blob + SI_CRYPT_NONCE_LEN + len;
    if (RAND_bytes(nonce, SI_CRYPT_NONCE_LEN) != 1 ||
        EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, SI_CRYPT_NONCE_LEN, NULL) != 1 ||
        EVP_EncryptInit_ex(c, NULL, NULL, key->bytes, nonce) != 1 ||
        (aad_len > 0 && EVP_EncryptUpdate(c, NULL, &n, aad, (int)aad_len) != 1) ||
        EVP_EncryptUpdate(c, ct, &n, plain, (int)len) != 1 || EVP_EncryptFinal_ex(c, ct + n, &fin) != 1 ||
        (size_t)(n + fin) != len || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, SI_CRYPT_TAG_LEN, tag) != 1) {
        si_error_set(err, 500, "internal", "could not seal a secret");
        si_error_detail(err, "EVP AES-256-GCM encryption failed");
        goto out;
    }
    *out_blob = blob;
    *out_len = len + SI_CRYPT_OVERHEAD;
    blob = NULL;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(c);
    free(blob);
    return rc;
}

int si_crypt_open(const struct si_crypt_key *key, const unsigned char *blob, size_t blob_len, const void *aad,
                  size_t aad_len, char **out_plain, size_t *out_len, struct si_error *err)
{
    *out_plain = NULL;
    *out_len = 0;
    if (key == NULL || !key->set)
        return si_error_set(err, 500, "internal", "no token key");
    if (blob == NULL || blob_len < SI_CRYPT_OVERHEAD || blob_len - SI_CRYPT_OVERHEAD > SI_CRYPT_MAX_PLAINTEXT ||
        aad_len > (size_t)SI_CRYPT_MAX_PLAINTEXT)
        return si_error_set(err, 500, "sealed_value_unreadable", "a stored secret could not be read");
    size_t len = blob_len - SI_CRYPT_OVERHEAD;
    const unsigned char *nonce = blob, *ct = blob + SI_CRYPT_NONCE_LEN, *tag = blob + SI_CRYPT_NONCE_LEN + len;
    unsigned char tagbuf[SI_CRYPT_TAG_LEN];
    memcpy(tagbuf, tag, sizeof tagbuf);
    char *plain = malloc(len + 1);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0, rc = -1;
    if (plain == NULL || c == NULL) {
        si_error_set(err, 500, "internal", "out of memory");
        goto out;
    }
    if (EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, SI_CRYPT_NONCE_LEN, NULL) != 1 ||
        EVP_DecryptInit_ex(c, NULL, NULL, key->bytes, nonce) != 1 ||
        (aad_len > 0 && EVP_DecryptUpdate(c, NULL, &n, aad, (int)aad_len) != 1) ||
        EVP_DecryptUpdate(c, (unsigned char *)plain, &n, ct, (int)len) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, SI_CRYPT_TAG_LEN, tagbuf) != 1 ||
        EVP_DecryptFinal_ex(c, (unsigned char *)plain + n, &fin) != 1 || (size_t)(n + fin) != len) {
        /* Wrong key, wrong aad or an altered blob: GCM's tag check refuses them alike. */
        si_error_set(err, 500, "sealed_value_unreadable", "a stored secret could not be read");
        si_error_detail(err, "AES-256-GCM authentication failed (wrong key, wrong row or altered value)");
        si_crypt_wipe(plain, len);
        goto out;
    }
    plain[len] = '\0';
    *out_plain = plain;
    *out_len = len;
    plain = NULL;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(c);
    free(plain);
    return rc;
}
