/* multipart.c: streaming multipart/form-data (see multipart.h).
 *
 * The body is scanned in a 64 KiB window for the delimiter "\r\n--boundary".
 * A virtual "\r\n" is put in front of the body so the first boundary looks
 * like every other one.  While inside a part, everything but the last
 * (delimiter length - 1) bytes of the window is passed on, since those could
 * be the start of a delimiter split across reads. */
#include "multipart.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum mp_state { MP_PREAMBLE, MP_AFTER_DELIM, MP_HEADERS, MP_BODY, MP_DONE };

struct mp_reader {
    char buf[MULTIPART_BUF];
    size_t len;
    int eof;
    long (*read)(void *src, char *buf, size_t n);
    void *src;
};

static int fill(struct mp_reader *r, struct si_error *err)
{
    while (!r->eof && r->len < sizeof r->buf) {
        long got = r->read(r->src, r->buf + r->len, sizeof r->buf - r->len);
        if (got < 0)
            return si_error_set(err, 400, "incomplete_body", "request body could not be read");
        if (got == 0)
            r->eof = 1;
        r->len += (size_t)got;
    }
    return 0;
}

static void consume(struct mp_reader *r, size_t n)
{
    memmove(r->buf, r->buf + n, r->len - n);
    r->len -= n;
}

/* Finds a real delimiter in the window: "\r\n--boundary" followed by "--",
 * CRLF or transport padding (content may contain the boundary text itself
 * followed by other characters).  Returns its start or NULL; *undecided is
 * set when a candidate sits too close to the end of the window to tell. */
static char *find_delimiter(struct mp_reader *r, const char *delim, size_t dlen, char **undecided)
{
    size_t from = 0;
    *undecided = NULL;
    while (from < r->len) {
        char *hit = memmem(r->buf + from, r->len - from, delim, dlen);
        if (hit == NULL)
            return NULL;
        size_t after = (size_t)(hit - r->buf) + dlen;
        if (after + 2 > r->len) {
            if (!r->eof)
                *undecided = hit;
            return NULL;
        }
        const char *a = r->buf + after;
        if ((a[0] == '-' && a[1] == '-') || (a[0] == '\r' && a[1] == '\n') || a[0] == ' ' || a[0] == '\t')
            return hit;
        from = after;
    }
    return NULL;
}

int multipart_boundary(const char *content_type, char out[72])
{
    if (content_type == NULL || strncasecmp(content_type, "multipart/form-data", 19) != 0)
        return -1;
    const char *p = strcasestr(content_type, "boundary=");
    if (p == NULL)
        return -1;
    p += 9;
    size_t n = 0;
    if (*p == '"') {
        p++;
        while (p[n] && p[n] != '"')
            n++;
    } else {
        while (p[n] && p[n] != ';' && p[n] != ' ' && p[n] != '\t')
            n++;
    }
    if (n == 0 || n > 70)
        return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

/* Copies the value of param (e.g. name=) from a Content-Disposition line. */
static void disposition_param(const char *line, size_t n, const char *param, char *out, size_t cap)
{
    out[0] = '\0';
    size_t plen = strlen(param);
    for (size_t i = 0; i + plen < n; i++) {
        if ((i == 0 || line[i - 1] == ' ' || line[i - 1] == ';') &&
            strncasecmp(line + i, param, plen) == 0) {
            const char *v = line + i + plen;
            size_t left = n - i - plen, k = 0;
            if (left > 0 && *v == '"') {
                v++;
                left--;
                while (k < left && v[k] != '"')
                    k++;
            } else {
                while (k < left && v[k] != ';' && v[k] != ' ')
                    k++;
            }
            if (k >= cap)
                k = cap - 1;
            memcpy(out, v, k);
            out[k] = '\0';
            return;
        }
    }
}

static int parse_headers(const char *h, size_t n, struct multipart_part *part, struct si_error *err)
{
    memset(part, 0, sizeof *part);
    int have_disposition = 0;
    while (n > 0) {
        const char *eol = memchr(h, '\r', n);
        size_t len = eol ? (size_t)(eol - h) : n;
        if (len > 20 && strncasecmp(h, "Content-Disposition:", 20) == 0) {
            have_disposition = 1;
            disposition_param(h + 20, len - 20, "name=", part->name, sizeof part->name);
            disposition_param(h + 20, len - 20, "filename=", part->filename, sizeof part->filename);
        } else if (len > 13 && strncasecmp(h, "Content-Type:", 13) == 0) {
            size_t k = 13;
            while (k < len && h[k] == ' ')
                k++;
            size_t vlen = len - k < sizeof part->content_type - 1 ? len - k : sizeof part->content_type - 1;
            memcpy(part->content_type, h + k, vlen);
            part->content_type[vlen] = '\0';
        }
        size_t step = len + (eol ? 2 : 0);
        if (step > n)
            step = n;
        h += step;
        n -= step;
    }
    if (!have_disposition || part->name[0] == '\0')
        return si_error_set(err, 400, "bad_multipart", "a multipart part has no Content-Disposition name");
    return 0;
}

int multipart_parse(const char *boundary, long (*read)(void *src, char *buf, size_t n), void *src,
                    const struct multipart_handler *h, struct si_error *err)
{
    char delim[80];
    size_t dlen = (size_t)snprintf(delim, sizeof delim, "\r\n--%s", boundary);
    struct mp_reader *r = malloc(sizeof *r);
    if (r == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    r->read = read;
    r->src = src;
    r->eof = 0;
    memcpy(r->buf, "\r\n", 2);
    r->len = 2;
    enum mp_state state = MP_PREAMBLE;
    int parts = 0, rc = -1;

    while (state != MP_DONE) {
        if (fill(r, err) != 0)
            goto out;
        char *hit;
        switch (state) {
        case MP_PREAMBLE:
            hit = memmem(r->buf, r->len, delim, dlen);
            if (hit == NULL) {
                if (r->eof) {
                    si_error_set(err, 400, "bad_multipart", "multipart body has no boundary line");
                    goto out;
                }
                consume(r, r->len - (dlen - 1));
                break;
            }
            consume(r, (size_t)(hit - r->buf) + dlen);
            state = MP_AFTER_DELIM;
            break;
        case MP_AFTER_DELIM:
            if (r->len >= 2 && memcmp(r->buf, "--", 2) == 0) {
                state = MP_DONE;
                break;
            }
            {
                size_t k = 0;    /* transport padding before the CRLF */
                while (k < r->len && (r->buf[k] == ' ' || r->buf[k] == '\t'))
                    k++;
                if (r->len - k >= 2 && memcmp(r->buf + k, "\r\n", 2) == 0) {
                    consume(r, k + 2);
                    state = MP_HEADERS;
                    break;
                }
            }
            si_error_set(err, 400, "bad_multipart", "multipart body is truncated or malformed after a boundary");
            goto out;
        case MP_HEADERS: {
            hit = memmem(r->buf, r->len, "\r\n\r\n", 4);
            if (hit == NULL || (size_t)(hit - r->buf) > MULTIPART_MAX_HEADER) {
                si_error_set(err, 400, "bad_multipart", hit == NULL && r->eof
                             ? "multipart body is truncated in a part's headers"
                             : "multipart part headers are too long");
                goto out;
            }
            if (++parts > MULTIPART_MAX_PARTS) {
                si_error_set(err, 400, "bad_multipart", "more than %d multipart parts", MULTIPART_MAX_PARTS);
                goto out;
            }
            struct multipart_part part;
            if (parse_headers(r->buf, (size_t)(hit - r->buf) + 2, &part, err) != 0)
                goto out;
            consume(r, (size_t)(hit - r->buf) + 4);
            if (h->begin(h->ctx, &part) != 0)
                goto out;
            state = MP_BODY;
            break;
        }
        case MP_BODY: {
            char *undecided;
            hit = find_delimiter(r, delim, dlen, &undecided);
            if (undecided != NULL) {
                /* pass on what comes before it, then read on to decide */
                size_t n = (size_t)(undecided - r->buf);
                if (n > 0 && h->data(h->ctx, r->buf, n) != 0)
                    goto out;
                consume(r, n);
                break;
            }
            if (hit != NULL) {
                size_t n = (size_t)(hit - r->buf);
                if ((n > 0 && h->data(h->ctx, r->buf, n) != 0) || h->end(h->ctx) != 0)
                    goto out;
                consume(r, n + dlen);
                state = MP_AFTER_DELIM;
                break;
            }
            if (r->eof) {
                si_error_set(err, 400, "bad_multipart", "multipart body is truncated inside a part");
                goto out;
            }
            {
                size_t n = r->len - (dlen - 1);
                if (h->data(h->ctx, r->buf, n) != 0)
                    goto out;
                consume(r, n);
            }
            break;
        }
        case MP_DONE:
            break;
        }
    }
    rc = 0;
out:
    free(r);
    return rc;
}
