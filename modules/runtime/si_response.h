/* si_response.h: what a handler answers.
 *
 * A response starts as 500 with no body and becomes what the handler sets;
 * the runtime writes it out after the handler returns.  Bodies are JSON;
 * every failure has the one error shape
 *     {"ok":false,"error":"<human message>","code":"<machine_code>"}
 * made by si_response_error() / si_response_from_error(). */
#ifndef SI_RESPONSE_H
#define SI_RESPONSE_H

#include <jansson.h>

#include "si_buf.h"
#include "si_error.h"
#include "si_limits.h"

struct si_response {
    int status;
    const char *content_type;
    struct si_buf body;
    char headers[SI_MAX_EXTRA_HEADERS];   /* extra "Name: value\r\n" lines */
    size_t headers_len;
    const char *error_code;               /* for the request log; NULL on success */
    char log_detail[SI_ERROR_DETAIL_MAX]; /* log-only detail of the error, "" if none */
};

void si_response_init(struct si_response *resp);
void si_response_reset(struct si_response *resp);    /* back to 500, keeps memory */
void si_response_cleanup(struct si_response *resp);  /* safe to call twice */

/* Adds a header line; returns -1 if it does not fit or contains CR/LF. */
int si_response_header(struct si_response *resp, const char *name, const char *value);

/* Sets status and a JSON body; obj is not stolen.  Returns 0 or -1 (then the
 * response is a 500 error). */
int si_response_json(struct si_response *resp, int status, const json_t *obj);

/* Sets the error shape.  Always returns -1 so callers can `return si_response_error(...)`. */
int si_response_error(struct si_response *resp, int status, const char *code,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int si_response_from_error(struct si_response *resp, const struct si_error *err);

/* The CGI head every responder sends, for si_server's libfcgi workers and
 * import-events' own FastCGI loop alike:
 *   Status: <status> <text>\r\nContent-Type: <type>\r\n[Content-Length: <n>\r\n]
 *   Cache-Control: no-store\r\n<extra header lines>\r\n
 * content_length < 0 leaves Content-Length out (a stream).  Returns the
 * length written to out (NUL-terminated), or -1 when it does not fit in cap. */
int si_http_head(char *out, size_t cap, int status, const char *content_type, long long content_length,
                 const char *extra_headers);
/* si_http_head of resp (its status, type, body length and headers). */
int si_response_head(const struct si_response *resp, char *out, size_t cap);
/* Room enough for si_response_head. */
#define SI_RESPONSE_HEAD_MAX (SI_MAX_EXTRA_HEADERS + 256)

/* The error object itself, for responses that add fields to it. */
json_t *si_error_json(int status, const char *code, const char *message);

#endif
