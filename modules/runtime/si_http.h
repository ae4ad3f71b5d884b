/* si_http.h: the one HTTP client for every outbound call (libcurl).
 *
 * A call is a struct si_http_request (URL, body, headers, timeouts, retry
 * policy, response cap) handed to si_http_perform() or one of its JSON/form
 * helpers with a struct si_http_client the caller owns.  The client keeps
 * one curl easy handle, so calls made through it reuse connections (keep-
 * alive, TLS sessions); a client belongs to one thread at a time.
 *
 * Retries: an answer 429 or 5xx, or a connection that could not be made, is
 * tried again (as req->retry_on says) up to req->max_attempts in all and
 * within req->deadline_ms for the whole call.  The pause before attempt k+1
 * is req->backoff_ms x 2^(k-1), capped at req->backoff_max_ms; an answer
 * with Retry-After (seconds or an HTTP date) is waited for exactly, never
 * less.  A pause beyond req->retry_after_max_ms, or one that would leave
 * less than SI_HTTP_MIN_ATTEMPT_MS of the deadline, ends the call there with
 * the answer it has (result->retry_after_ms says how long the server asked
 * for).  A timeout or a connection that broke after the
 * request was sent is not retried unless asked (the server may have acted
 * on it); an Idempotency-Key, when given, is the same on every attempt.
 *
 * Nothing here logs: no URL (it may carry a token), no header (Authorization),
 * no body.  Callers log the error code, status and attempts.
 *
 * curl_global_init runs once, under pthread_once, the first time a client is
 * used or when si_http_global_init() is called; call that from main() before
 * starting threads when the libcurl in use is older than 7.84 (not
 * thread-safe there). */
#ifndef SI_HTTP_H
#define SI_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "si_limits.h"

/* What is retried (req->retry_on, or'ed). */
#define SI_HTTP_RETRY_429        0x1u
#define SI_HTTP_RETRY_5XX        0x2u
#define SI_HTTP_RETRY_CONNECT    0x4u   /* no connection made: the request was never sent */
#define SI_HTTP_RETRY_TIMEOUT    0x8u
#define SI_HTTP_RETRY_DEFAULT    (SI_HTTP_RETRY_429 | SI_HTTP_RETRY_5XX | SI_HTTP_RETRY_CONNECT)

enum si_http_error {
    SI_HTTP_OK = 0,
    SI_HTTP_ERR_SETUP,       /* bad request fields, out of memory, curl refused an option */
    SI_HTTP_ERR_CONNECT,     /* could not resolve or connect */
    SI_HTTP_ERR_TIMEOUT,     /* an attempt or the deadline ran out */
    SI_HTTP_ERR_TRANSPORT,   /* the connection broke (reset, nothing answered, TLS, protocol) */
    SI_HTTP_ERR_TOO_LARGE,   /* the response body is over req->max_response */
    SI_HTTP_ERR_STATUS,      /* an answer, not 2xx (result->status) */
    SI_HTTP_ERR_BAD_JSON,    /* a 2xx whose body is not a JSON object or array (JSON helpers) */
};

/* A stable lower-case name for logs and error codes: "connect", "timeout"... */
const char *si_http_error_name(enum si_http_error e);

struct si_http_client {
    void *easy;   /* CURL *, created on first use; NULL until then */
};

void si_http_client_init(struct si_http_client *c);
void si_http_client_cleanup(struct si_http_client *c);   /* safe to call twice */

struct si_http_request {
    const char *url;              /* http:// or https:// only; no redirects are followed */
    const char *method;           /* NULL: POST when there is a body, else GET */
    const char *body;             /* NULL: none */
    size_t body_len;
    const char *content_type;     /* of body; NULL: none sent */
    const char *accept;           /* NULL: none sent */
    const char *const *headers;   /* extra "Name: value" lines, NULL-terminated; never logged */
    const char *idempotency_key;  /* NULL: none; else Idempotency-Key on every attempt */
    const char *user_agent;       /* NULL: "smartimport/<version>" */
    long connect_timeout_ms;      /* one attempt's connect */
    long timeout_ms;              /* one attempt, connect included */
    long deadline_ms;             /* the whole call: attempts and pauses */
    int max_attempts;             /* 1..SI_HTTP_ATTEMPTS_MAX */
    unsigned retry_on;            /* SI_HTTP_RETRY_* */
    long backoff_ms, backoff_max_ms;
    long retry_after_max_ms;
    size_t max_response;          /* a longer body is SI_HTTP_ERR_TOO_LARGE, never cut */
    bool discard_body;            /* read and drop the body (no cap applies, result->body NULL) */
};

/* Sets the defaults above (and SI_HTTP_RETRY_DEFAULT); the caller then sets url etc. */
void si_http_request_init(struct si_http_request *req);

struct si_http_result {
    enum si_http_error error;     /* SI_HTTP_OK when the last attempt got a 2xx */
    long status;                  /* the last answer's HTTP status, 0 when none came */
    char *body;                   /* the last answer's body, NUL-terminated (malloc'd), or NULL */
    size_t body_len;
    long retry_after_ms;          /* the last answer's Retry-After, -1 when none */
    int attempts;
    double ms;                    /* the whole call */
    char detail[128];             /* curl's text for a transport error: for logs (no URL, no header) */
};

/* Frees result->body; safe to call twice. */
void si_http_result_cleanup(struct si_http_result *res);

/* Performs the request with its retries.  0 when the last attempt got a
 * 2xx; -1 otherwise, with res->error (and res->status for an answer).
 * res is always filled (cleanup it either way). */
int si_http_perform(struct si_http_client *c, const struct si_http_request *req, struct si_http_result *res);

/* JSON in and out: sends `send` (when not NULL; else req's body as it is)
 * as application/json, asks for application/json, and on a 2xx parses the
 * body into *out (when out is not NULL; the caller json_decref's): a body
 * that is not a JSON object or array is -1 with SI_HTTP_ERR_BAD_JSON. */
int si_http_json(struct si_http_client *c, const struct si_http_request *req, const json_t *send, json_t **out,
                 struct si_http_result *res);

/* application/x-www-form-urlencoded: pairs is name, value, name, value, ...,
 * NULL.  Returns the encoded text (malloc'd) or NULL when out of memory.
 * Letters, digits and "-._~" stay, a space is '+', every other byte %XX. */
char *si_http_form_encode(const char *const *pairs);

/* POSTs the pairs form-encoded (e.g. an OAuth token exchange) and parses a
 * JSON answer into *out like si_http_json (out may be NULL). */
int si_http_form(struct si_http_client *c, const struct si_http_request *req, const char *const *pairs, json_t **out,
                 struct si_http_result *res);

/* Parses a Retry-After value (delta-seconds or an HTTP date) into
 * milliseconds from now (>= 0); -1 when it is neither. */
long si_http_parse_retry_after(const char *value);

/* Runs curl_global_init once.  0, or -1 when it failed. */
int si_http_global_init(void);

#endif
