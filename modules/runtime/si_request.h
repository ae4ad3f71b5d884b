/* si_request.h: one HTTP request as a responder sees it.
 *
 * Built from the FastCGI parameters (an envp-style "NAME=value" array) and a
 * body reader, so handlers and tests never touch libfcgi.  Strings live in
 * the worker's arena and are valid until the request ends.  The body is not
 * read until a handler asks: si_request_read_body() reads it whole with the
 * configured size limit; later streaming consumers use body_read directly. */
#ifndef SI_REQUEST_H
#define SI_REQUEST_H

#include <stddef.h>

#include "si_arena.h"
#include "si_buf.h"
#include "si_error.h"

struct si_param {
    const char *name;
    const char *value;
};

struct si_request {
    const char *method;          /* "GET", "POST", ... */
    const char *path;            /* decoded path without the query string */
    const char *query;           /* raw query string, "" when none */
    const char *request_id;      /* nginx's $request_id, or one we made */
    const char *content_type;    /* NULL when absent */
    long long content_length;    /* -1 when absent */
    struct si_param *params;     /* decoded query parameters, in order */
    size_t n_params;
    struct si_param *headers;    /* names lower-case with '-' ("authorization") */
    size_t n_headers;

    /* Body source: returns bytes read (> 0), 0 at end of input, -1 on error. */
    long (*body_read)(void *src, char *buf, size_t n);
    void *body_src;
    size_t max_body;
    int body_taken;              /* set once the body has been read */
};

/* Fills req from envp.  Returns 0, or -1 with err (400 for a malformed query,
 * 413 when CONTENT_LENGTH exceeds max_body, 500 when the arena is full). */
int si_request_from_env(struct si_request *req, struct si_arena *arena, char *const *envp,
                        size_t max_body, struct si_error *err);

/* The first query parameter called name, or NULL. */
const char *si_request_param(const struct si_request *req, const char *name);

/* The header called name (lower-case, e.g. "last-event-id"), or NULL. */
const char *si_request_header(const struct si_request *req, const char *name);

/* Reads the whole body into out (cleared first).  Errors: 413 when it is
 * larger than max_body, 400 when it ends before CONTENT_LENGTH bytes,
 * 409 when it was already read. */
int si_request_read_body(struct si_request *req, struct si_buf *out, struct si_error *err);

/* Splits and percent-decodes a query string ("a=1&b=x%20y").  Returns 0, or
 * -1 with a 400 err for bad escapes, NUL bytes or too many parameters. */
int si_query_parse(struct si_arena *arena, const char *query, struct si_param **out,
                   size_t *out_n, struct si_error *err);

/* The value of one hex digit (0-9, a-f, A-F), or -1. */
int si_hex_value(int c);

#endif
