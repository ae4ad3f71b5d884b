/* fcgi_proto.c: FastCGI records and name-value pairs (see fcgi_proto.h). */
#include "fcgi_proto.h"

#include <stdio.h>
#include <string.h>

/* Stream chunks are a multiple of 8 bytes, so only the last one is padded. */
#define FCGI_CHUNK 65528

static size_t padding_for(size_t n)
{
    return (8 - n % 8) % 8;
}

static bool fits(const struct si_buf *b, size_t n)
{
    return n <= b->max && b->len <= b->max - n;
}

static void truncate_to(struct si_buf *b, size_t len)
{
    b->len = len;
    if (b->data != NULL)
        b->data[len] = '\0';
}

long fcgi_record_parse(const uint8_t *in, size_t n, struct fcgi_record *rec)
{
    if (n >= 1 && in[0] != FCGI_PROTO_VERSION)
        return -1;
    if (n >= 2 && in[1] == 0)
        return -1;
    if (n < FCGI_HEADER_LEN)
        return 0;
    size_t content = ((size_t)in[4] << 8) | in[5];
    size_t total = FCGI_HEADER_LEN + content + in[6];
    if (n < total)
        return 0;
    rec->type = in[1];
    rec->request_id = (uint16_t)((in[2] << 8) | in[3]);
    rec->content = in + FCGI_HEADER_LEN;
    rec->content_length = (uint16_t)content;
    rec->padding_length = in[6];
    return (long)total;
}

static int read_length(const uint8_t *in, size_t n, size_t *pos, size_t *out)
{
    if (*pos >= n)
        return -1;
    uint8_t b = in[*pos];
    if ((b & 0x80) == 0) {
        *out = b;
        *pos += 1;
        return 0;
    }
    if (n - *pos < 4)
        return -1;
    *out = ((size_t)(b & 0x7f) << 24) | ((size_t)in[*pos + 1] << 16) | ((size_t)in[*pos + 2] << 8) |
           in[*pos + 3];
    *pos += 4;
    return 0;
}

int fcgi_pair_next(const uint8_t *in, size_t n, size_t *pos, struct fcgi_pair *out)
{
    if (*pos == n)
        return 0;
    size_t p = *pos, name_len, value_len;
    if (read_length(in, n, &p, &name_len) != 0 || read_length(in, n, &p, &value_len) != 0)
        return -1;
    if (name_len > n - p || value_len > n - p - name_len)
        return -1;
    out->name = in + p;
    out->name_len = name_len;
    out->value = in + p + name_len;
    out->value_len = value_len;
    *pos = p + name_len + value_len;
    return 1;
}

int fcgi_params_to_envp(struct si_arena *arena, const uint8_t *in, size_t n, size_t max_pairs,
                        char ***out_envp, size_t *out_n)
{
    *out_envp = NULL;
    *out_n = 0;
    struct fcgi_pair pair;
    size_t pos = 0, count = 0;
    int r;
    while ((r = fcgi_pair_next(in, n, &pos, &pair)) == 1) {
        if (pair.name_len == 0 || memchr(pair.name, '=', pair.name_len) != NULL ||
            memchr(pair.name, '\0', pair.name_len) != NULL ||
            memchr(pair.value, '\0', pair.value_len) != NULL)
            return -1;
        if (++count > max_pairs)
            return -1;
    }
    if (r < 0)
        return -1;
    char **envp = si_arena_alloc(arena, (count + 1) * sizeof *envp);
    if (envp == NULL)
        return -1;
    pos = 0;
    for (size_t i = 0; i < count; i++) {
        if (fcgi_pair_next(in, n, &pos, &pair) != 1)
            return -1;
        char *s = si_arena_alloc(arena, pair.name_len + pair.value_len + 2);
        if (s == NULL)
            return -1;
        memcpy(s, pair.name, pair.name_len);
        s[pair.name_len] = '=';
        memcpy(s + pair.name_len + 1, pair.value, pair.value_len);
        s[pair.name_len + 1 + pair.value_len] = '\0';
        envp[i] = s;
    }
    envp[count] = NULL;
    *out_envp = envp;
    *out_n = count;
    return 0;
}

void fcgi_conn_init(struct fcgi_conn *c, size_t max_params, unsigned long long max_stdin)
{
    memset(c, 0, sizeof *c);
    c->state = FCGI_S_BEGIN;
    si_buf_init(&c->params, max_params);
    c->max_stdin = max_stdin;
    c->max_conns = 1;
}

void fcgi_conn_cleanup(struct fcgi_conn *c)
{
    si_buf_cleanup(&c->params);
}

int fcgi_append_record(struct si_buf *out, uint8_t type, uint16_t request_id, const void *content,
                       size_t n)
{
    if (n > FCGI_MAX_CONTENT)
        return -1;
    size_t pad = padding_for(n);
    if (!fits(out, FCGI_HEADER_LEN + n + pad))
        return -1;
    static const uint8_t zeros[8];
    const uint8_t header[FCGI_HEADER_LEN] = {
        FCGI_PROTO_VERSION, type, (uint8_t)(request_id >> 8), (uint8_t)(request_id & 0xff),
        (uint8_t)(n >> 8), (uint8_t)(n & 0xff), (uint8_t)pad, 0
    };
    size_t before = out->len;
    if (si_buf_append(out, header, sizeof header) != 0 || si_buf_append(out, content, n) != 0 ||
        si_buf_append(out, zeros, pad) != 0) {
        truncate_to(out, before);
        return -1;
    }
    return 0;
}

size_t fcgi_stream_size(size_t n)
{
    size_t full = n / FCGI_CHUNK, last = n % FCGI_CHUNK;
    size_t size = full * (FCGI_HEADER_LEN + FCGI_CHUNK);
    if (last > 0)
        size += FCGI_HEADER_LEN + last + padding_for(last);
    return size;
}

int fcgi_append_stream(struct si_buf *out, uint8_t type, uint16_t request_id, const void *data,
                       size_t n)
{
    if (!fits(out, fcgi_stream_size(n)))
        return -1;
    size_t before = out->len;
    const uint8_t *p = data;
    while (n > 0) {
        size_t chunk = n > FCGI_CHUNK ? FCGI_CHUNK : n;
        if (fcgi_append_record(out, type, request_id, p, chunk) != 0) {
            truncate_to(out, before);
            return -1;
        }
        p += chunk;
        n -= chunk;
    }
    return 0;
}

int fcgi_append_end_request(struct si_buf *out, uint16_t request_id, uint32_t app_status,
                            uint8_t protocol_status)
{
    const uint8_t body[8] = {
        (uint8_t)(app_status >> 24), (uint8_t)(app_status >> 16), (uint8_t)(app_status >> 8),
        (uint8_t)app_status, protocol_status, 0, 0, 0
    };
    return fcgi_append_record(out, FCGI_REC_END_REQUEST, request_id, body, sizeof body);
}

static int append_length(struct si_buf *out, size_t n)
{
    if (n < 128) {
        uint8_t b = (uint8_t)n;
        return si_buf_append(out, &b, 1);
    }
    if (n > 0x7fffffffUL)
        return -1;
    const uint8_t b[4] = { (uint8_t)((n >> 24) | 0x80), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n };
    return si_buf_append(out, b, sizeof b);
}

int fcgi_append_pair(struct si_buf *out, const char *name, size_t name_len, const char *value,
                     size_t value_len)
{
    size_t before = out->len;
    if (append_length(out, name_len) != 0 || append_length(out, value_len) != 0 ||
        si_buf_append(out, name, name_len) != 0 || si_buf_append(out, value, value_len) != 0) {
        truncate_to(out, before);
        return -1;
    }
    return 0;
}

/* FCGI_GET_VALUES: answer the three variables the specification names. */
static int answer_get_values(struct fcgi_conn *c, const struct fcgi_record *r, struct si_buf *reply)
{
    struct si_buf body;
    si_buf_init(&body, FCGI_MAX_CONTENT);
    char conns[16];
    snprintf(conns, sizeof conns, "%u", c->max_conns);
    struct fcgi_pair pair;
    size_t pos = 0;
    int rc = 0;
    while (rc == 0 && fcgi_pair_next(r->content, r->content_length, &pos, &pair) == 1) {
        const char *value = NULL;
        if (pair.name_len == 14 && memcmp(pair.name, "FCGI_MAX_CONNS", 14) == 0)
            value = conns;
        else if (pair.name_len == 13 && memcmp(pair.name, "FCGI_MAX_REQS", 13) == 0)
            value = conns;
        else if (pair.name_len == 15 && memcmp(pair.name, "FCGI_MPXS_CONNS", 15) == 0)
            value = "0";
        if (value != NULL)
            rc = fcgi_append_pair(&body, (const char *)pair.name, pair.name_len, value, strlen(value));
    }
    if (rc == 0)
        rc = fcgi_append_record(reply, FCGI_REC_GET_VALUES_RESULT, 0, body.data, body.len);
    si_buf_cleanup(&body);
    return rc;
}

static enum fcgi_event fail(struct fcgi_conn *c, const char *why)
{
    c->error = why;
    return FCGI_EV_ERROR;
}

static enum fcgi_event handle_record(struct fcgi_conn *c, const struct fcgi_record *r,
                                     struct si_buf *reply)
{
    if (r->request_id == 0) {
        int rc;
        if (r->type == FCGI_REC_GET_VALUES) {
            rc = answer_get_values(c, r, reply);
        } else {
            const uint8_t body[8] = { r->type, 0, 0, 0, 0, 0, 0, 0 };
            rc = fcgi_append_record(reply, FCGI_REC_UNKNOWN_TYPE, 0, body, sizeof body);
        }
        return rc == 0 ? FCGI_EV_NONE : fail(c, "management reply does not fit");
    }
    if (r->type == FCGI_REC_BEGIN_REQUEST) {
        if (r->content_length < 8)
            return fail(c, "malformed BEGIN_REQUEST");
        if (c->state != FCGI_S_BEGIN) {
            /* One request per connection: refuse the second one, keep the first. */
            if (r->request_id == c->request_id)
                return fail(c, "BEGIN_REQUEST for the active request");
            if (fcgi_append_end_request(reply, r->request_id, 0, FCGI_STATUS_CANT_MPX_CONN) != 0)
                return fail(c, "reply does not fit");
            return FCGI_EV_NONE;
        }
        c->role = (uint16_t)((r->content[0] << 8) | r->content[1]);
        c->flags = r->content[2];
        c->request_id = r->request_id;
        if (c->role != FCGI_ROLE_RESPONDER) {
            if (fcgi_append_end_request(reply, r->request_id, 0, FCGI_STATUS_UNKNOWN_ROLE) != 0)
                return fail(c, "reply does not fit");
            return fail(c, "role is not RESPONDER");
        }
        c->state = FCGI_S_PARAMS;
        si_buf_reset(&c->params);
        c->stdin_bytes = 0;
        return FCGI_EV_NONE;
    }
    if (c->state == FCGI_S_BEGIN || r->request_id != c->request_id)
        return FCGI_EV_NONE;   /* records of requests that are not active are ignored */
    switch (r->type) {
    case FCGI_REC_ABORT_REQUEST:
        return FCGI_EV_ABORT;
    case FCGI_REC_PARAMS:
        if (c->state != FCGI_S_PARAMS)
            return fail(c, "PARAMS after the end of the params stream");
        if (r->content_length == 0) {
            c->state = FCGI_S_STDIN;
            return FCGI_EV_NONE;
        }
        if (si_buf_append(&c->params, r->content, r->content_length) != 0)
            return fail(c, "params stream larger than the limit");
        return FCGI_EV_NONE;
    case FCGI_REC_STDIN:
        if (c->state == FCGI_S_PARAMS)
            return fail(c, "STDIN before the end of the params stream");
        if (c->state == FCGI_S_ACTIVE)
            return FCGI_EV_NONE;
        if (r->content_length == 0) {
            c->state = FCGI_S_ACTIVE;
            return FCGI_EV_REQUEST;
        }
        c->stdin_bytes += r->content_length;
        if (c->stdin_bytes > c->max_stdin)
            return fail(c, "request body larger than the limit");
        return FCGI_EV_NONE;
    default:
        return FCGI_EV_NONE;   /* DATA, or types a web server does not send */
    }
}

enum fcgi_event fcgi_conn_feed(struct fcgi_conn *c, const uint8_t *in, size_t n, size_t *consumed,
                               struct si_buf *reply)
{
    size_t off = 0;
    enum fcgi_event ev = FCGI_EV_NONE;
    while (ev == FCGI_EV_NONE && off < n) {
        struct fcgi_record r;
        long got = fcgi_record_parse(in + off, n - off, &r);
        if (got == 0)
            break;
        if (got < 0) {
            ev = fail(c, "not a FastCGI record");
            break;
        }
        off += (size_t)got;
        ev = handle_record(c, &r, reply);
    }
    *consumed = off;
    return ev;
}
