/* si_base64.c: the one base64 codec (see si_base64.h). */
#include "si_base64.h"

#include <stdbool.h>
#include <string.h>

static int value_of(unsigned char c, unsigned flags)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (flags & SI_BASE64_URL) {
        if (c == '-') return 62;
        if (c == '_') return 63;
    } else {
        if (c == '+') return 62;
        if (c == '/') return 63;
    }
    return -1;
}

enum si_base64_status si_base64_decode(const char *in, size_t n, unsigned flags, si_base64_sink sink, void *arg)
{
    unsigned char out[3 * 1024];
    size_t o = 0;
    unsigned int acc = 0;
    int bits = 0, pad = 0;
    bool url = (flags & SI_BASE64_URL) != 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        int v = value_of(c, flags);
        if (v < 0) {
            if (!url && c == '=') {
                pad++;
                continue;
            }
            if (!url && (c == ' ' || c == '\n' || c == '\r' || c == '\t'))
                continue;
            return SI_BASE64_BAD_CHAR;
        }
        if (pad)
            return SI_BASE64_AFTER_PADDING;
        acc = (acc << 6) | (unsigned int)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
            if (o == sizeof out) {
                if (sink(arg, out, o) != 0)
                    return SI_BASE64_SINK;
                o = 0;
            }
        }
    }
    if (bits >= 6 || pad > 2)
        return SI_BASE64_TRUNCATED;
    if (url && acc != 0)   /* one text per byte string */
        return SI_BASE64_NONCANONICAL;
    if (o > 0 && sink(arg, out, o) != 0)
        return SI_BASE64_SINK;
    return SI_BASE64_OK;
}

struct fixed_out {
    unsigned char *p;
    size_t cap, len;
};

static int fixed_sink(void *arg, const unsigned char *data, size_t n)
{
    struct fixed_out *f = arg;
    if (n > f->cap - f->len)
        return -1;
    memcpy(f->p + f->len, data, n);
    f->len += n;
    return 0;
}

int si_base64url_decode(const char *in, size_t n, unsigned char *out, size_t cap, size_t *out_len)
{
    struct fixed_out f = { out, cap, 0 };
    *out_len = 0;
    if (si_base64_decode(in, n, SI_BASE64_URL, fixed_sink, &f) != SI_BASE64_OK)
        return -1;
    *out_len = f.len;
    return 0;
}

int si_base64url_encode(const unsigned char *data, size_t n, struct si_buf *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned int acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | data[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            if (si_buf_append(out, &alphabet[(acc >> bits) & 63], 1) != 0)
                return -1;
        }
        acc &= (1u << bits) - 1;
    }
    if (bits > 0 && si_buf_append(out, &alphabet[(acc << (6 - bits)) & 63], 1) != 0)
        return -1;
    return 0;
}
