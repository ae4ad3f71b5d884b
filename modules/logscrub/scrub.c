/* scrub.c: query strings and tokens out of nginx's error messages (see scrub.h). */
#include "scrub.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define SCRUBBED "[scrubbed]"

struct out {
    char *p;
    size_t len, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->cap == 0)
        return;
    size_t room = o->cap - 1 - o->len;
    if (n > room)
        n = room;
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

/* The last occurrence of needle in [from, end), or NULL. */
static const char *find_last(const char *from, const char *end, const char *needle)
{
    size_t k = strlen(needle);
    if (end - from < (ptrdiff_t)k)
        return NULL;
    for (const char *p = end - k;; p--) {
        if (memcmp(p, needle, k) == 0)
            return p;
        if (p == from)
            return NULL;
    }
}

static const char *find_first(const char *from, const char *end, const char *needle)
{
    size_t k = strlen(needle);
    for (const char *p = from; p + k <= end; p++)
        if (memcmp(p, needle, k) == 0)
            return p;
    return NULL;
}

/* Where the quoted value that holds the query at q ends: just before the last field
 * marker of the message.  A query (or a Referer) can contain fake markers, but the real
 * ones come after it, so the last one is real or later: the cut may take more, never less. */
static const char *value_end(const char *q, const char *end, bool is_request)
{
    static const char *const after_request[] = { "\", subrequest: \"", "\", upstream: \"",
                                                 "\", host: \"", "\", referrer: \"" };
    const char *best = NULL;
    if (is_request) {
        for (size_t i = 0; i < sizeof after_request / sizeof after_request[0]; i++) {
            const char *p = find_last(q, end, after_request[i]);
            if (p != NULL && (best == NULL || p > best))
                best = p;
        }
    }
    if (best == NULL)
        best = find_last(q, end, "\"");
    return best != NULL ? best : end;
}

/* Pass 1: the query of request: "..." and referrer: "..." values. */
static void drop_queries(const char *msg, const char *end, struct out *o)
{
    static const char *const keys[] = { "request: \"", "referrer: \"" };
    const char *p = msg;
    for (;;) {
        const char *key = NULL;
        size_t which = 0;
        for (size_t i = 0; i < 2; i++) {
            const char *k = find_first(p, end, keys[i]);
            if (k != NULL && (key == NULL || k < key)) {
                key = k;
                which = i;
            }
        }
        if (key == NULL)
            break;
        const char *value = key + strlen(keys[which]);
        const char *close = value_end(value, end, which == 0);
        const char *q = memchr(value, '?', (size_t)(close - value));
        if (q == NULL) {
            put(o, p, (size_t)(close - p));
            p = close;
            continue;
        }
        put(o, p, (size_t)(q + 1 - p));
        put(o, SCRUBBED, sizeof SCRUBBED - 1);
        p = close;
    }
    put(o, p, (size_t)(end - p));
}

static bool token_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~' || c == '+' || c == '/' || c == '=' || c == '%';
}

static bool starts_with(const char *p, const char *end, const char *s)
{
    size_t k = strlen(s);
    return (size_t)(end - p) >= k && memcmp(p, s, k) == 0;
}

/* Pass 2, anywhere: "Bearer <token>", "access_token=<value>" and JWT-shaped strings. */
static void drop_tokens(const char *msg, const char *end, struct out *o)
{
    const char *p = msg;
    while (p < end) {
        const char *skip_from = NULL;
        size_t keep = 0;
        if (starts_with(p, end, "Bearer ") || starts_with(p, end, "bearer "))
            keep = 7;
        else if (starts_with(p, end, "access_token="))
            keep = 13;
        else if (starts_with(p, end, "eyJ") && (p == msg || !token_char(p[-1])))
            skip_from = p;
        if (keep > 0 || skip_from != NULL) {
            const char *v = p + keep, *e = v;
            while (e < end && token_char(*e))
                e++;
            if (e > v) {
                put(o, p, keep);
                put(o, SCRUBBED, sizeof SCRUBBED - 1);
                p = e;
                continue;
            }
        }
        put(o, p, 1);
        p++;
    }
}

size_t logscrub_message(const char *msg, size_t n, char *out, size_t cap)
{
    if (cap == 0)
        return 0;
    out[0] = '\0';
    /* The first pass may only shorten the message, so a buffer of n + room fits it. */
    char tmp[8192];
    struct out a = { tmp, 0, sizeof tmp };
    tmp[0] = '\0';
    drop_queries(msg, msg + n, &a);
    struct out b = { out, 0, cap };
    drop_tokens(tmp, tmp + a.len, &b);
    return b.len;
}
