/* si_request.c: FastCGI parameters -> struct si_request, query parsing and
 * the bounded body read. */
#include "si_request.h"
#include "si_config.h"
#include "si_limits.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int si_hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes s[0..n) (form encoding: '+' is a space) into an arena string. */
static char *percent_decode(struct si_arena *arena, const char *s, size_t n, struct si_error *err)
{
    char *out = si_arena_alloc(arena, n + 1);
    if (out == NULL) {
        si_error_set(err, 500, "internal", "request too large to parse");
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (n - i < 3) {
                si_error_set(err, 400, "bad_query", "truncated %%-escape in query string");
                return NULL;
            }
            int h = si_hex_value((unsigned char)s[i + 1]), l = si_hex_value((unsigned char)s[i + 2]);
            if (h < 0 || l < 0) {
                si_error_set(err, 400, "bad_query", "invalid %%-escape in query string");
                return NULL;
            }
            c = (char)(h * 16 + l);
            if (c == '\0') {
                si_error_set(err, 400, "bad_query", "NUL byte in query string");
                return NULL;
            }
            i += 2;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return out;
}

int si_query_parse(struct si_arena *arena, const char *query, struct si_param **out,
                   size_t *out_n, struct si_error *err)
{
    *out = NULL;
    *out_n = 0;
    if (query == NULL || *query == '\0')
        return 0;
    size_t qlen = strlen(query);
    if (qlen > SI_MAX_QUERY)
        return si_error_set(err, 400, "bad_query", "query string longer than %d bytes", SI_MAX_QUERY);

    size_t count = 1;
    for (const char *p = query; *p; p++)
        count += (*p == '&');
    if (count > SI_MAX_QUERY_PARAMS)
        return si_error_set(err, 400, "bad_query", "more than %d query parameters", SI_MAX_QUERY_PARAMS);
    struct si_param *params = si_arena_alloc(arena, count * sizeof *params);
    if (params == NULL)
        return si_error_set(err, 500, "internal", "request too large to parse");

    size_t n = 0;
    const char *p = query;
    while (*p) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            size_t name_len = eq ? (size_t)(eq - p) : len;
            const char *val = eq ? eq + 1 : p + len;
            size_t val_len = eq ? len - name_len - 1 : 0;
            params[n].name = percent_decode(arena, p, name_len, err);
            if (params[n].name == NULL)
                return -1;
            params[n].value = percent_decode(arena, val, val_len, err);
            if (params[n].value == NULL)
                return -1;
            n++;
        }
        p += len;
        if (*p == '&')
            p++;
    }
    *out = params;
    *out_n = n;
    return 0;
}

const char *si_request_param(const struct si_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_params; i++)
        if (strcmp(req->params[i].name, name) == 0)
            return req->params[i].value;
    return NULL;
}

const char *si_request_header(const struct si_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (strcmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

/* "HTTP_LAST_EVENT_ID" -> "last-event-id" */
static char *header_name(struct si_arena *arena, const char *param, size_t n)
{
    char *name = si_arena_strndup(arena, param, n);
    if (name == NULL)
        return NULL;
    for (char *c = name; *c; c++)
        *c = (*c == '_') ? '-' : (char)tolower((unsigned char)*c);
    return name;
}

static int collect_headers(struct si_request *req, struct si_arena *arena, char *const *envp,
                           struct si_error *err)
{
    size_t count = 0;
    for (char *const *e = envp; *e; e++)
        if (strncmp(*e, "HTTP_", 5) == 0)
            count++;
    count += 2;  /* content-type, content-length */
    if (count > SI_MAX_HEADERS)
        return si_error_set(err, 400, "bad_request", "more than %d request headers", SI_MAX_HEADERS);
    req->headers = si_arena_alloc(arena, count * sizeof *req->headers);
    if (req->headers == NULL)
        return si_error_set(err, 500, "internal", "request too large to parse");
    for (char *const *e = envp; *e; e++) {
        const char *name;
        size_t name_len;
        if (strncmp(*e, "HTTP_", 5) == 0)
            name = *e + 5;
        else if (strncmp(*e, "CONTENT_TYPE=", 13) == 0 || strncmp(*e, "CONTENT_LENGTH=", 15) == 0)
            name = *e;
        else
            continue;
        const char *eq = strchr(name, '=');
        if (eq == NULL)
            continue;
        name_len = (size_t)(eq - name);
        if (strlen(eq + 1) > SI_MAX_HEADER_VALUE)
            return si_error_set(err, 400, "bad_request", "a request header is longer than %d bytes",
                                SI_MAX_HEADER_VALUE);
        struct si_param *h = &req->headers[req->n_headers];
        h->name = header_name(arena, name, name_len);
        h->value = si_arena_strdup(arena, eq + 1);
        if (h->name == NULL || h->value == NULL)
            return si_error_set(err, 500, "internal", "request too large to parse");
        req->n_headers++;
    }
    return 0;
}

int si_request_from_env(struct si_request *req, struct si_arena *arena, char *const *envp,
                        size_t max_body, struct si_error *err)
{
    memset(req, 0, sizeof *req);
    req->content_length = -1;
    req->max_body = max_body;

    /* Every string is copied into the arena: FastCGI frees envp when the
     * request is finished, before the request line is logged. */
    const char *method = si_env_get(envp, "REQUEST_METHOD");
    req->method = si_arena_strdup(arena, (method && *method) ? method : "GET");

    const char *path = si_env_get(envp, "DOCUMENT_URI");
    const char *uri = si_env_get(envp, "REQUEST_URI");
    if (path == NULL || *path == '\0') {
        if (uri != NULL) {
            const char *q = strchr(uri, '?');
            path = q ? si_arena_strndup(arena, uri, (size_t)(q - uri)) : uri;
        }
    }
    if (path != NULL && strlen(path) > SI_MAX_PATH)
        return si_error_set(err, 400, "bad_request", "request path longer than %d bytes", SI_MAX_PATH);
    req->path = si_arena_strdup(arena, path ? path : "/");

    const char *query = si_env_get(envp, "QUERY_STRING");
    req->query = si_arena_strdup(arena, query ? query : "");
    if (req->method == NULL || req->path == NULL || req->query == NULL)
        return si_error_set(err, 500, "internal", "request too large to parse");
    if (si_query_parse(arena, req->query, &req->params, &req->n_params, err) != 0)
        return -1;

    const char *rid = si_env_get(envp, "REQUEST_ID");
    req->request_id = si_arena_strdup(arena, (rid && *rid) ? rid : "-");
    const char *ctype = si_env_get(envp, "CONTENT_TYPE");
    req->content_type = (ctype && *ctype) ? si_arena_strdup(arena, ctype) : NULL;
    if (req->request_id == NULL)
        return si_error_set(err, 500, "internal", "request too large to parse");

    const char *clen = si_env_get(envp, "CONTENT_LENGTH");
    if (clen != NULL && *clen != '\0') {
        char *end = NULL;
        errno = 0;
        long long n = strtoll(clen, &end, 10);
        if (errno != 0 || *end != '\0' || n < 0)
            return si_error_set(err, 400, "bad_request", "invalid Content-Length");
        req->content_length = n;
        if ((unsigned long long)n > max_body)
            return si_error_set(err, 413, "payload_too_large",
                                "request body is larger than the limit of %zu bytes", max_body);
    }
    return collect_headers(req, arena, envp, err);
}

int si_request_read_body(struct si_request *req, struct si_buf *out, struct si_error *err)
{
    si_buf_reset(out);
    if (req->body_taken)
        return si_error_set(err, 500, "internal", "request body was already read");
    req->body_taken = 1;
    if (req->content_length <= 0 || req->body_read == NULL)
        return 0;
    if ((unsigned long long)req->content_length > req->max_body)
        return si_error_set(err, 413, "payload_too_large",
                            "request body is larger than the limit of %zu bytes", req->max_body);
    size_t want = (size_t)req->content_length;
    out->max = want;
    char chunk[16384];
    while (out->len < want) {
        size_t n = want - out->len < sizeof chunk ? want - out->len : sizeof chunk;
        long got = req->body_read(req->body_src, chunk, n);
        if (got <= 0)
            return si_error_set(err, 400, "incomplete_body",
                                "request body ended after %zu of %zu bytes", out->len, want);
        if (si_buf_append(out, chunk, (size_t)got) != 0)
            return si_error_set(err, 500, "internal", "out of memory reading the request body");
    }
    return 0;
}
