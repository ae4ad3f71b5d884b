/* csv_text.c: small text helpers of the CSV engine: trimming cells, counting
 * non-empty fields, and the key normalisation (case, common Latin accents,
 * punctuation; CJK and Hangul kept) used to match header names, month names,
 * DR/CR markers and balance/total rows in several languages. */
#include "csv.h"

#include <string.h>

static size_t space_len(const unsigned char *p, size_t n)
{
    if (n >= 1 && (p[0] == ' ' || p[0] == '\t' || p[0] == '\n' || p[0] == '\r' || p[0] == '\v' ||
                   p[0] == '\f'))
        return 1;
    if (n >= 2 && p[0] == 0xC2 && p[1] == 0xA0)    /* NBSP */
        return 2;
    if (n >= 3 && p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xAF || p[2] == 0x89))  /* narrow/thin */
        return 3;
    return 0;
}

static size_t space_len_back(const unsigned char *p, size_t n)
{
    if (n >= 1 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\n' || p[n - 1] == '\r' ||
                   p[n - 1] == '\v' || p[n - 1] == '\f'))
        return 1;
    if (n >= 2 && p[n - 2] == 0xC2 && p[n - 1] == 0xA0)
        return 2;
    if (n >= 3 && p[n - 3] == 0xE2 && p[n - 2] == 0x80 && (p[n - 1] == 0xAF || p[n - 1] == 0x89))
        return 3;
    return 0;
}

void csv_trim(const char **s, size_t *n)
{
    const unsigned char *p = (const unsigned char *)*s;
    size_t len = *n, k;
    /* the common case: nothing to trim (no space byte, no NBSP lead byte at either end) */
    if (len == 0 || ((p[0] > ' ' && p[0] != 0xC2 && p[0] != 0xE2) &&
                     (p[len - 1] > ' ' && p[len - 1] != 0xA0 && p[len - 1] != 0xAF &&
                      p[len - 1] != 0x89)))
        return;
    while (len > 0 && (k = space_len(p, len)) > 0) {
        p += k;
        len -= k;
    }
    while (len > 0 && (k = space_len_back(p, len)) > 0)
        len -= k;
    *s = (const char *)p;
    *n = len;
}

/* Whether field i holds more than blanks. */
static bool field_nonempty(const struct csv_reader *r, size_t i)
{
    const char *s = csv_field(r, i);
    size_t n = csv_field_len(r, i);
    csv_trim(&s, &n);
    return n > 0;
}

size_t csv_nonempty_fields(const struct csv_reader *r)
{
    size_t count = 0;
    for (size_t i = 0; i < r->nfields; i++)
        count += field_nonempty(r, i);
    return count;
}

size_t csv_trimmed_count(const struct csv_reader *r)
{
    size_t last = 0;
    for (size_t i = 0; i < r->nfields; i++)
        if (field_nonempty(r, i))
            last = i + 1;
    return last;
}

bool csv_has_letter(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        /* 0xC3..0xDF: Latin-1 letters onwards (2-byte); 0xE3..: CJK and others;
         * 0xC2 and 0xE2 start symbols and punctuation (£, €, NBSP). */
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= 0xC3 && c <= 0xDF) ||
            (c >= 0xE3 && c <= 0xF4))
            return true;
    }
    return false;
}

/* ASCII folding of U+00C0..U+00FF (UTF-8 0xC3 0x80..0xBF); "" = not a letter. */
static const char *const latin1_fold[64] = {
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    "d", "n", "o", "o", "o", "o", "o", "",  "o", "u", "u", "u", "u", "y", "th", "ss",
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    "d", "n", "o", "o", "o", "o", "o", "",  "o", "u", "u", "u", "u", "y", "th", "y",
};

size_t csv_norm_key(const char *s, size_t n, char *out, size_t outsz)
{
    size_t w = 0;
    bool space = true;   /* suppresses leading and repeated spaces */
    if (outsz == 0)
        return 0;
    for (size_t i = 0; i < n && w + 1 < outsz; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *add = NULL;
        char one[2] = { 0, 0 };
        char one3[4] = { 0, 0, 0, 0 };
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            one[0] = (char)c;
            add = one;
        } else if (c >= 'A' && c <= 'Z') {
            one[0] = (char)(c - 'A' + 'a');
            add = one;
        } else if (c == 0xC3 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
                   (unsigned char)s[i + 1] <= 0xBF) {
            add = latin1_fold[(unsigned char)s[i + 1] - 0x80];
            i++;
            if (add[0] == '\0')
                add = NULL;
        } else if (c >= 0xE3 && c <= 0xED && i + 2 < n && ((unsigned char)s[i + 1] & 0xC0) == 0x80 &&
                   ((unsigned char)s[i + 2] & 0xC0) == 0x80 && !(c == 0xE3 && (unsigned char)s[i + 1] == 0x80)) {
            /* CJK and Hangul (U+3040..U+DFFF): kept as they are, so that Korean
             * headers (거래일자, 적요) have a key; CJK punctuation U+3000..U+303F is
             * a separator below */
            memcpy(one3, s + i, 3);
            add = one3;
            i += 2;
        } else if (c >= 0x80) {
            /* other non-ASCII: skip the whole sequence, as a separator */
            while (i + 1 < n && ((unsigned char)s[i + 1] & 0xC0) == 0x80)
                i++;
        }
        if (add == NULL) {
            if (!space) {
                out[w++] = ' ';
                space = true;
            }
            continue;
        }
        for (const char *p = add; *p && w + 1 < outsz; p++)
            out[w++] = *p;
        space = false;
    }
    if (w > 0 && out[w - 1] == ' ')
        w--;
    out[w] = '\0';
    return w;
}
