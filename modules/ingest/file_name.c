/* file_name.c: the safe display form of a file name (see file_name.h). */
#include "file_name.h"

#include <stdbool.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at p[0..n), or 0 when it is not one
 * (overlong forms, surrogates and values past U+10FFFF included). */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
               : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F) || (c == 0xF0 && p[1] < 0x90) ||
        (c == 0xF4 && p[1] > 0x8F))
        return 0;
    return len;
}

/* Bytes of the ESC sequence starting at p[0] == ESC: CSI (ESC [ params
 * final), OSC and the other strings (ESC ] P X ^ _ ... BEL or ESC \), or ESC
 * and one more character. */
static size_t escape_len(const unsigned char *p, size_t n)
{
    size_t i = 1;
    if (i >= n)
        return 1;
    if (p[i] == '[') {
        for (i++; i < n && p[i] >= 0x20 && p[i] <= 0x3F; i++)
            ;
        for (; i < n && p[i] >= 0x20 && p[i] <= 0x2F; i++)
            ;
        return i < n && p[i] >= 0x40 && p[i] <= 0x7E ? i + 1 : i;
    }
    if (p[i] == ']' || p[i] == 'P' || p[i] == 'X' || p[i] == '^' || p[i] == '_') {
        for (i++; i < n; i++) {
            if (p[i] == 0x07)
                return i + 1;
            if (p[i] == 0x1B && i + 1 < n && p[i + 1] == '\\')
                return i + 2;
        }
        return n;
    }
    return p[i] >= 0x20 && p[i] <= 0x7E ? 2 : 1;
}

/* Control characters: C0, DEL, C1 (U+0080..U+009F), the line and paragraph
 * separators and the bidirectional overrides and isolates (U+2028..U+202E,
 * U+2066..U+2069), which can make a name display as another. */
static bool is_control(const unsigned char *p, size_t len)
{
    if (len == 1)
        return p[0] < 0x20 || p[0] == 0x7F;
    if (len == 2)
        return p[0] == 0xC2 && p[1] < 0xA0;
    if (len == 3 && p[0] == 0xE2)
        return (p[1] == 0x80 && p[2] >= 0xA8 && p[2] <= 0xAE) || (p[1] == 0x81 && p[2] >= 0xA6 && p[2] <= 0xA9);
    return false;
}

char *file_name_display(const char *in, size_t n, char out[FILE_NAME_MAX + 1])
{
    const unsigned char *p = (const unsigned char *)in;
    size_t w = 0;      /* bytes of the current path component */
    size_t kept = 0;   /* of them in out: whole characters, up to FILE_NAME_MAX bytes */
    for (size_t i = 0; i < n;) {
        if (p[i] == 0x1B) {
            i += escape_len(p + i, n - i);
            continue;
        }
        size_t len = utf8_len(p + i, n - i);
        if (len == 0) {                        /* not UTF-8: dropped */
            i++;
            continue;
        }
        if (p[i] == '/' || p[i] == '\\') {
            w = kept = 0;                      /* keep only the last component */
        } else if (!is_control(p + i, len) && !(w == 0 && p[i] == ' ')) {
            if (kept == w && w + len <= FILE_NAME_MAX) {   /* cut before a character that does not fit */
                memcpy(out + w, p + i, len);
                kept += len;
            }
            w += len;
        }
        i += len;
    }
    size_t end = kept;
    while (end > 0 && out[end - 1] == ' ')
        end--;
    out[end] = '\0';
    if (end == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
        memcpy(out, FILE_NAME_DEFAULT, sizeof FILE_NAME_DEFAULT);
    return out;
}
