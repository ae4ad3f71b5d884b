/* si_idempotency.h: Idempotency-Key for every state-changing request, in one place.
 *
 * si_server_dispatch() calls si_idem_begin() before a handler runs and si_idem_finish()
 * after it, for every function: a function that needs an authenticated caller
 * (si_function.needs_auth) and a method that changes state (POST, PUT, PATCH, DELETE).
 * Without the header nothing changes.  With it (1..255 printable ASCII, else 400
 * bad_idempotency_key) the pair (caller, key) is a row of idempotency_keys (sql/0028):
 *
 *   first request   the row is inserted `running` (its own statement, committed before
 *                   the handler), the handler runs, then its status, content type, extra
 *                   headers and body are stored (`done`) with the SHA-256 of the body it
 *                   read (hashed as it is read, the rest drained after the handler).
 *                   A 5xx, 408, 429 or 409 conflict_retry answer deletes the row instead
 *                   (a retry runs again); other 4xx answers are stored.
 *   repeat, done    another function, method, path or query string: 422
 *                   idempotency_key_reused at once; else its body is read and hashed
 *                   (never handed to the handler): another body is 422 too, the same one
 *                   gets the stored answer with `Idempotent-Replayed: true`.  An answer
 *                   larger than SI_IDEMPOTENCY_MAX_STORED (or not text: a NUL byte, not
 *                   UTF-8) was kept without its body: 409 idempotent_response_too_large.
 *   repeat, running 409 idempotency_in_progress; a row `running` for more than
 *                   SI_IDEMPOTENCY_ABANDON_S (a crash, a lost database between the handler
 *                   and the store) is taken over: the request runs anew.
 *
 * The caller is si_auth_identify() without a body: the bearer token's subject (jwt), or
 * in trust-body mode (development) the query's userId, and without one the header is
 * refused (400 idempotency_needs_user: the body is not parsed before the handler). */
#ifndef SI_IDEMPOTENCY_H
#define SI_IDEMPOTENCY_H

#include <stdbool.h>

#include "si_function.h"
#include "si_uuid.h"

#define SI_IDEMPOTENCY_KEY_MAX     255                /* bytes of an Idempotency-Key */
#define SI_IDEMPOTENCY_MAX_STORED  (1024UL * 1024)    /* bytes of a stored answer's body */
#define SI_IDEMPOTENCY_ABANDON_S   360                /* nginx's longest wait (330 s) + a margin */

/* One request's state between si_idem_begin and si_idem_finish (on the worker's stack). */
struct si_idem {
    bool active;                 /* this request owns a `running` row */
    char user_id[SI_UUID_LEN + 1];
    const char *key;
    /* the body reader the request had, and the hash of what went through it */
    long (*read)(void *src, char *buf, size_t n);
    void *src;
    void *md;                    /* EVP_MD_CTX */
    long long got, want;         /* bytes read; CONTENT_LENGTH or -1 */
    bool eof, failed;
};

/* Whether the header applies (function and method), and if so the checks and the row.
 * 0: run the handler (req's body reader now hashes).  1: resp is the answer (a replay or
 * an error) and the handler must not run.  Either way si_idem_finish() follows. */
int si_idem_begin(struct si_ctx *ctx, struct si_request *req, struct si_response *resp, struct si_idem *idem);

/* After the handler: stores the answer or deletes the row (see above); frees the hash. */
void si_idem_finish(struct si_ctx *ctx, struct si_request *req, const struct si_response *resp,
                    struct si_idem *idem);

/* The key's syntax: 1..SI_IDEMPOTENCY_KEY_MAX bytes, each 0x20..0x7e. */
bool si_idem_key_valid(const char *key);

#endif
