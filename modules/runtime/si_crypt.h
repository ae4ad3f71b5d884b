/* si_crypt.h: secrets sealed at rest (bank tokens today, any credential a
 * module must keep in the database tomorrow).
 *
 * AES-256-GCM through OpenSSL's EVP interface.  A sealed value is one blob
 *     nonce (12 bytes, fresh random per seal) || ciphertext || tag (16 bytes)
 * stored as it is (a bytea column).  The caller names what the secret belongs
 * to as additional authenticated data (e.g. "<connection id>/<user id>"): the
 * blob opens only with the same key AND the same aad, so a ciphertext copied
 * to another row does not decrypt there.  GCM also authenticates the
 * ciphertext, so a flipped bit is a refusal, never wrong plaintext.
 *
 * The key is 32 bytes, read once from SMARTIMPORT_TOKEN_KEY (64 hex digits)
 * by si_crypt_key_parse; a struct si_crypt_key is read-only after that and may
 * be shared by every thread.  Nothing here logs or keeps plaintext: buffers
 * that held a key or a plaintext are wiped before they are freed. */
#ifndef SI_CRYPT_H
#define SI_CRYPT_H

#include <stdbool.h>
#include <stddef.h>

#include "si_error.h"

#define SI_CRYPT_KEY_LEN   32
#define SI_CRYPT_NONCE_LEN 12
#define SI_CRYPT_TAG_LEN   16
#define SI_CRYPT_OVERHEAD  (SI_CRYPT_NONCE_LEN + SI_CRYPT_TAG_LEN)
#define SI_CRYPT_MAX_PLAINTEXT (64 * 1024)   /* a token is far shorter; anything longer is refused */

struct si_crypt_key {
    unsigned char bytes[SI_CRYPT_KEY_LEN];
    bool set;
};

/* hex: exactly 64 hex digits (either case).  0, or -1 with a 500 err
 * ("invalid_token_key") that never quotes the value. */
int si_crypt_key_parse(const char *hex, struct si_crypt_key *out, struct si_error *err);

/* Wipes the key. */
void si_crypt_key_clear(struct si_crypt_key *key);

/* Seals plain (len bytes, at most SI_CRYPT_MAX_PLAINTEXT) under key with aad
 * (aad_len bytes, may be 0).  *out_blob (malloc'd, the caller frees) gets
 * len + SI_CRYPT_OVERHEAD bytes.  0, or -1 with a 500 err. */
int si_crypt_seal(const struct si_crypt_key *key, const void *plain, size_t len, const void *aad, size_t aad_len,
                  unsigned char **out_blob, size_t *out_len, struct si_error *err);

/* Opens a blob si_crypt_seal made.  *out_plain (malloc'd, NUL-terminated
 * after *out_len bytes; the caller frees it, best after si_crypt_wipe) is
 * the plaintext.  A wrong key, wrong aad, a short or altered blob: -1 with
 * a 500 err "sealed_value_unreadable".  0 on success. */
int si_crypt_open(const struct si_crypt_key *key, const unsigned char *blob, size_t blob_len, const void *aad,
                  size_t aad_len, char **out_plain, size_t *out_len, struct si_error *err);

/* Overwrites n bytes at p in a way the compiler keeps (OPENSSL_cleanse). */
void si_crypt_wipe(void *p, size_t n);

/* Frees a string that held a secret after wiping it; NULL is fine. */
void si_crypt_free_secret(char *s);

/* Lower-case hex of n bytes into out (2n+1 bytes), and back: hex (2n digits)
 * into out (n bytes): 0, or -1 when hex is not exactly that. For blobs passed
 * to and from SQL as text (decode($1, 'hex') / encode(col, 'hex')). */
void si_crypt_hex(const unsigned char *in, size_t n, char *out);
int si_crypt_unhex(const char *hex, unsigned char *out, size_t n);

#endif
