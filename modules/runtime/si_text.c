/* si_text.c: what keeps account and card numbers out of everything sent to
 * a model or written for a person: the digit masker (a run of 6+ digits keeps
 * only its last 4) and UTF-8-safe copying and cutting, so a masked or
 * shortened text never ends in half a character.  Crystal's prompt and the
 * ingest's merchant categories both use it.  Pure; tests/unit/check_advice.c
 * and tests/unit/check_llmcat.c. */
#include "si_text.h"

#include <string.h>

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

size_t si_utf8_cut(const char *s, size_t len)
{
    size_t i = len, cont = 0;
    while (i > 0 && cont < 3 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) {
        i--;
        cont++;
    }
    if (i == 0)
        return 0;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t need;
    if (lead < 0x80)
        return cont == 0 ? len : i;   /* stray continuation bytes after ASCII: drop them */
    else if ((lead & 0xE0) == 0xC0)
        need = 2;
    else if ((lead & 0xF0) == 0xE0)
        need = 3;
    else if ((lead & 0xF8) == 0xF0)
        need = 4;
    else
        return i - 1;
    return cont + 1 == need ? len : i - 1;
}

void si_copy_utf8(char *dst, size_t n, const char *src)
{
    if (n == 0)
        return;
    size_t len = strlen(src);
    if (len >= n)
        len = si_utf8_cut(src, n - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* The digit run starting at s[0] (a digit): its length in bytes and its
 * number of digits.  Single ' ' or '-' between two digits belong to it. */
static size_t digit_run(const char *s, size_t *digits)
{
    size_t i = 0, d = 0;
    for (;;) {
        if (is_digit(s[i])) {
            d++;
            i++;
        } else if ((s[i] == ' ' || s[i] == '-') && i > 0 && is_digit(s[i - 1]) && is_digit(s[i + 1])) {
            i++;
        } else {
            break;
        }
    }
    *digits = d;
    return i;
}

char *si_mask_digits(const char *in, char *out, size_t n)
{
    if (n == 0)
        return out;
    size_t o = 0;
    for (size_t i = 0; in[i] != '\0' && o + 1 < n;) {
        if (!is_digit(in[i])) {
            out[o++] = in[i++];
            continue;
        }
        size_t digits, len = digit_run(in + i, &digits), seen = 0;
        for (size_t k = 0; k < len && o + 1 < n; k++) {
            char c = in[i + k];
            if (is_digit(c)) {
                seen++;
                if (digits >= 6 && seen + 4 <= digits)
                    c = '*';
            }
            out[o++] = c;
        }
        i += len;
    }
    out[si_utf8_cut(out, o)] = '\0';
    return out;
}

bool si_has_digit_run(const char *s)
{
    for (size_t i = 0; s[i] != '\0';) {
        if (!is_digit(s[i])) {
            i++;
            continue;
        }
        size_t digits, len = digit_run(s + i, &digits);
        if (digits >= 6)
            return true;
        i += len;
    }
    return false;
}
