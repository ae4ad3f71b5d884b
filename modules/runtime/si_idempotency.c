/* si_idempotency.c: Idempotency-Key (Stripe's model) for every responder; see si_idempotency.h.
 *
 * Every statement runs on the worker's connection outside any transaction, so each commits
 * at once: the `running` row exists before the handler's first statement, and the handler's
 * own transactions never include it.  The one window this leaves: the handler committed its
 * effects and the store of the answer failed (the database went away in between).  The row
 * then stays `running`, a repeat answers 409 until SI_IDEMPOTENCY_ABANDON_S and then runs
 * again; the functions' own guards (an import commits once, job keys, file hashes) still
 * hold.  The error is logged. */
#include "si_idempotency.h"
#include "si_auth.h"
#include "si_crypt.h"
#include "si_log.h"
#include "si_metrics.h"

#include <openssl/evp.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#define HASH_HEX (2 * 32 + 1)

bool si_idem_key_valid(const char *key)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++, n++)
        if (*p < 0x20 || *p > 0x7e || n >= SI_IDEMPOTENCY_KEY_MAX)
            return false;
    return n > 0;
}

static bool changes_state(const char *method)
{
    return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0 ||
           strcmp(method, "DELETE") == 0;
}

/* The body reader handlers see while a key is active: the request's own, hashed. */
static long hashing_read(void *src, char *buf, size_t n)
{
    struct si_idem *idem = src;
    if (idem->eof)
        return 0;
    long got = idem->read(idem->src, buf, n);
    if (got < 0) {
        idem->failed = true;
        return got;
    }
    if (got == 0) {
        idem->eof = true;
        return 0;
    }
    if (EVP_DigestUpdate(idem->md, buf, (size_t)got) != 1)
        idem->failed = true;
    idem->got += got;
    if (idem->want >= 0 && idem->got >= idem->want)
        idem->eof = true;
    return got;
}

/* Reads what the handler left of the body (bounded by CONTENT_LENGTH, itself at most the
 * body limit) and writes the hash.  0, or -1 when the body could not be read whole. */
static int body_hash(struct si_idem *idem, char out[HASH_HEX])
{
    char chunk[16384];
    while (!idem->eof && !idem->failed)
        if (hashing_read(idem, chunk, sizeof chunk) < 0)
            break;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (idem->failed || EVP_DigestFinal_ex(idem->md, digest, &len) != 1 || len != 32)
        return -1;
    si_crypt_hex(digest, len, out);
    return 0;
}

static int query_hash(const char *query, char out[HASH_HEX])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(query, strlen(query), digest, &len, EVP_sha256(), NULL) != 1 || len != 32)
        return -1;
    si_crypt_hex(digest, len, out);
    return 0;
}

/* The caller, for the key's owner.  0, or -1 with resp the error. */
static int identify(struct si_ctx *ctx, const struct si_request *req, struct si_response *resp,
                    struct si_idem *idem)
{
    struct si_error err;
    si_error_clear(&err);
    if (si_auth_identify(ctx->config, req, NULL, (long long)time(NULL), idem->user_id, &err) == 0)
        return 0;
    if (ctx->config->auth_mode == SI_AUTH_TRUST_BODY && err.code != NULL && strcmp(err.code, "missing_user_id") == 0)
        return si_response_error(resp, 400, "idempotency_needs_user",
                                 "in trust-body mode an Idempotency-Key needs userId in the query string");
    return si_response_from_error(resp, &err);
}

static const char SELECT_SQL[] =
    "SELECT function, request, encode(query_sha256, 'hex'), state, encode(body_sha256, 'hex'), status, "
    "content_type, headers, body, body_stored FROM idempotency_keys WHERE user_id = $1 AND key = $2";

/* The repeat of a request whose row is found: 422, 409 or the stored answer.  Returns 1
 * (answered), or 2 when the row is gone (the caller tries the insert again). */
static int answer_repeat(struct si_ctx *ctx, struct si_response *resp, struct si_idem *idem, const char *request,
                         const char *qhash)
{
    struct si_error err;
    si_error_clear(&err);
    const char *p[] = { idem->user_id, idem->key };
    PGresult *res = si_db_exec(ctx->db, SELECT_SQL, 2, p, &err);
    if (res == NULL)
        return si_response_from_error(resp, &err), 1;
    int rc = 1;
    if (PQntuples(res) != 1) {
        rc = 2;
        goto out;
    }
    const char *fn = si_db_get_text(res, 0, 0), *rq = si_db_get_text(res, 0, 1), *qh = si_db_get_text(res, 0, 2);
    const char *state = si_db_get_text(res, 0, 3);
    if (fn == NULL || rq == NULL || qh == NULL || state == NULL) {
        si_db_bad_value(&err, "an idempotency key's row");
        si_response_from_error(resp, &err);
        goto out;
    }
    if (strcmp(fn, ctx->function->name) != 0 || strcmp(rq, request) != 0 || strcmp(qh, qhash) != 0) {
        si_response_error(resp, 422, "idempotency_key_reused",
                          "this Idempotency-Key was used for another request (%s); use a new key", rq);
        goto out;
    }
    if (strcmp(state, "done") != 0) {
        si_response_error(resp, 409, "idempotency_in_progress",
                          "a request with this Idempotency-Key is still running; retry later");
        si_response_header(resp, "Retry-After", "1");
        goto out;
    }
    char bh[HASH_HEX];
    const char *stored_bh = si_db_get_text(res, 0, 4);
    if (body_hash(idem, bh) != 0) {
        si_response_error(resp, 400, "incomplete_body", "the request body could not be read whole");
        goto out;
    }
    if (stored_bh == NULL || strcmp(stored_bh, bh) != 0) {
        si_response_error(resp, 422, "idempotency_key_reused",
                          "this Idempotency-Key was used with another request body; use a new key");
        goto out;
    }
    int status = 0;
    bool stored = false;
    if (si_db_get_int(res, 0, 5, &status) != 0 || si_db_get_bool(res, 0, 9, &stored) != 0) {
        si_db_bad_value(&err, "an idempotency key's answer");
        si_response_from_error(resp, &err);
        goto out;
    }
    if (!stored) {
        si_response_error(resp, 409, "idempotent_response_too_large",
                          "the first request with this Idempotency-Key answered %d with a body that was not kept "
                          "for a replay (larger than %lu bytes, or not text); read the result with a GET",
                          status, (unsigned long)SI_IDEMPOTENCY_MAX_STORED);
        si_response_header(resp, "Idempotent-Replayed", "true");
        goto out;
    }
    const char *ct = si_db_get_text(res, 0, 6), *hd = si_db_get_text(res, 0, 7);
    const char *body = si_db_get_text(res, 0, 8);
    size_t hl = hd != NULL ? strlen(hd) : 0, bl = body != NULL ? strlen(body) : 0;
    char *ct_copy = si_arena_strdup(ctx->arena, ct != NULL ? ct : "application/json");
    si_buf_reset(&resp->body);
    if (ct_copy == NULL || hl >= sizeof resp->headers || (bl > 0 && si_buf_append(&resp->body, body, bl) != 0)) {
        si_response_error(resp, 500, "internal", "the stored answer does not fit");
        goto out;
    }
    memcpy(resp->headers, hd != NULL ? hd : "", hl + 1);
    resp->headers_len = hl;
    resp->status = status;
    resp->content_type = ct_copy;
    resp->error_code = NULL;
    snprintf(resp->log_detail, sizeof resp->log_detail, "idempotent replay");
    si_metrics_idempotent_replay();
    si_response_header(resp, "Idempotent-Replayed", "true");
out:
    PQclear(res);
    return rc;
}

int si_idem_begin(struct si_ctx *ctx, struct si_request *req, struct si_response *resp, struct si_idem *idem)
{
    *idem = (struct si_idem){ .active = false };
    const char *key = si_request_header(req, "idempotency-key");
    if (key == NULL || !ctx->function->needs_auth || ctx->db == NULL || !changes_state(req->method))
        return 0;
    if (!si_idem_key_valid(key))
        return si_response_error(resp, 400, "bad_idempotency_key",
                                 "Idempotency-Key must be 1 to %d printable ASCII characters",
                                 SI_IDEMPOTENCY_KEY_MAX), 1;
    if (identify(ctx, req, resp, idem) != 0)
        return 1;
    idem->key = key;
    char qhash[HASH_HEX];
    char *request = si_arena_alloc(ctx->arena, strlen(req->method) + strlen(req->path) + 2);
    if (request == NULL || query_hash(req->query, qhash) != 0)
        return si_response_error(resp, 500, "internal", "out of memory"), 1;
    snprintf(request, strlen(req->method) + strlen(req->path) + 2, "%s %s", req->method, req->path);

    idem->md = EVP_MD_CTX_new();
    if (idem->md == NULL || EVP_DigestInit_ex(idem->md, EVP_sha256(), NULL) != 1)
        return si_response_error(resp, 500, "internal", "cannot hash the request body"), 1;
    idem->read = req->body_read;
    idem->src = req->body_src;
    idem->want = req->content_length;
    idem->eof = req->content_length == 0 || req->body_read == NULL;
    req->body_read = hashing_read;
    req->body_src = idem;

    char abandon[16];
    snprintf(abandon, sizeof abandon, "%d", SI_IDEMPOTENCY_ABANDON_S);
    const char *p[] = { idem->user_id, key, ctx->function->name, request, qhash, abandon };
    for (int attempt = 0; attempt < 3; attempt++) {
        struct si_error err;
        si_error_clear(&err);
        /* The key is ours when it is new, or when a row left `running` by a crash is taken
         * over (the same request or not): after SI_IDEMPOTENCY_ABANDON_S, or at once when the
         * database session that runs it has ended (a lost responder host: the server's TCP
         * keepalives end its session).  One statement: `fresh` tells the two apart. */
        PGresult *res = si_db_exec(ctx->db,
            "INSERT INTO idempotency_keys AS k (user_id, key, function, request, query_sha256, state, holder_pid, "
            "  holder_start) "
            "SELECT $1, $2, $3, $4, decode($5, 'hex'), 'running', me.pid, me.backend_start "
            "FROM pg_stat_activity me WHERE me.pid = pg_backend_pid() "
            "ON CONFLICT (user_id, key) DO UPDATE SET function = excluded.function, request = excluded.request, "
            "  query_sha256 = excluded.query_sha256, body_sha256 = NULL, status = NULL, content_type = NULL, "
            "  headers = NULL, body = NULL, body_stored = NULL, created_at = now(), updated_at = now(), "
            "  holder_pid = excluded.holder_pid, holder_start = excluded.holder_start "
            "WHERE k.state = 'running' AND (k.updated_at < now() - make_interval(secs => $6::int) "
            "  OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = k.holder_pid AND a.backend_start = k.holder_start)) "
            "RETURNING k.xmax = 0",
            6, p, &err);
        if (res == NULL)
            return si_response_from_error(resp, &err), 1;
        bool fresh = false;
        int n = PQntuples(res);
        if (n == 1 && si_db_get_bool(res, 0, 0, &fresh) != 0) {
            PQclear(res);
            si_db_bad_value(&err, "an idempotency key");
            return si_response_from_error(resp, &err), 1;
        }
        PQclear(res);
        if (n == 1) {
            if (!fresh)
                si_log(SI_LOG_WARN, "idempotency key abandoned while running: taken over",
                       json_pack("{s:s}", "request_id", req->request_id ? req->request_id : ""));
            idem->active = true;
            return 0;
        }
        int rc = answer_repeat(ctx, resp, idem, request, qhash);
        if (rc != 2)
            return 1;
    }
    return si_response_error(resp, 409, "idempotency_in_progress",
                             "a request with this Idempotency-Key is changing; retry later"), 1;
}

static const char STORE_SQL[] =
    "UPDATE idempotency_keys SET state = 'done', body_sha256 = decode($3, 'hex'), status = $4::int, "
    "content_type = $5, headers = $6, body = $7, body_stored = $8::bool, updated_at = now() "
    "WHERE user_id = $1 AND key = $2 AND state = 'running'";

/* Whether an answer is kept: not when a retry should run the request again. */
static bool keeps(const struct si_response *resp)
{
    if (resp->status >= 500 || resp->status == 408 || resp->status == 429)
        return false;
    return !(resp->status == 409 && resp->error_code != NULL && strcmp(resp->error_code, "conflict_retry") == 0);
}

void si_idem_finish(struct si_ctx *ctx, struct si_request *req, const struct si_response *resp,
                    struct si_idem *idem)
{
    if (idem->active) {
        struct si_error err;
        si_error_clear(&err);
        char bh[HASH_HEX];
        PGresult *res = NULL;
        if (!keeps(resp) || body_hash(idem, bh) != 0) {
            const char *p[] = { idem->user_id, idem->key };
            res = si_db_exec(ctx->db, "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND state = 'running'",
                             2, p, &err);
        } else {
            char status[16];
            snprintf(status, sizeof status, "%d", resp->status);
            bool fits = resp->body.len <= SI_IDEMPOTENCY_MAX_STORED &&
                        (resp->body.len == 0 || memchr(resp->body.data, '\0', resp->body.len) == NULL);
            const char *p[] = { idem->user_id, idem->key, bh, status, resp->content_type, resp->headers,
                                fits ? (resp->body.len > 0 ? resp->body.data : "") : NULL, fits ? "t" : "f" };
            res = si_db_exec(ctx->db, STORE_SQL, 8, p, &err);
            if (res == NULL && fits && err.status != 503) {
                /* a body the column refuses (not UTF-8): the status alone, so a repeat still
                 * does not run the request again */
                p[6] = NULL;
                p[7] = "f";
                si_error_clear(&err);
                res = si_db_exec(ctx->db, STORE_SQL, 8, p, &err);
            }
        }
        if (res == NULL)
            si_log(SI_LOG_ERROR, "idempotency key: the answer could not be stored (the key stays running)",
                   json_pack("{s:s, s:s}", "code", err.code ? err.code : "internal", "request_id", req->request_id ? req->request_id : ""));
        PQclear(res);
        idem->active = false;
    }
    EVP_MD_CTX_free(idem->md);
    idem->md = NULL;
}
