/* stmt_util.c: shared parser helpers (see stmt_util.h). */
#include "stmt_util.h"

#include <stdio.h>
#include <string.h>

int stmt_decimal_to_minor(const char *s, size_t n, char decimal, char thousands, int exponent,
                          long long *out)
{
    size_t i = 0;
    int neg = 0;
    if (exponent < 0 || exponent > 4)
        return -1;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    long long whole = 0;          /* stops growing past STMT_AMOUNT_SATURATED */
    int digits = 0, group = -1;   /* digits since the last thousands separator */
    for (; i < n && s[i] != decimal; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            if (whole <= STMT_AMOUNT_SATURATED)
                whole = whole * 10 + (c - '0');
            digits++;
            if (group >= 0)
                group++;
        } else if (thousands != 0 && c == thousands) {
            if (digits == 0 || (group >= 0 && group != 3) || (group < 0 && digits > 3))
                return -1;
            group = 0;
        } else {
            return -1;
        }
    }
    if (group >= 0 && group != 3)
        return -1;
    long long frac = 0;
    int frac_digits = 0;
    if (i < n) {            /* at the decimal separator */
        i++;
        for (; i < n; i++) {
            char c = s[i];
            if (c < '0' || c > '9')
                return -1;
            if (frac_digits < exponent)
                frac = frac * 10 + (c - '0');
            else if (c != '0')
                return -1;  /* would need rounding: refuse, money is exact */
            frac_digits++;
        }
        if (frac_digits == 0 && digits == 0)
            return -1;
    }
    if (digits == 0 && frac_digits == 0)
        return -1;
    for (int k = frac_digits < exponent ? frac_digits : exponent; k < exponent; k++)
        frac *= 10;
    long long scale = 1;
    for (int k = 0; k < exponent; k++)
        scale *= 10;
    long long v = whole > STMT_AMOUNT_SATURATED / scale ? STMT_AMOUNT_SATURATED : whole * scale + frac;
    if (v > STMT_AMOUNT_SATURATED)
        v = STMT_AMOUNT_SATURATED;
    *out = neg ? -v : v;
    return 0;
}

char *stmt_normalize_text(char *s)
{
    char *w = s;
    int space = 1;  /* drop leading spaces */
    for (unsigned char *r = (unsigned char *)s; *r; r++) {
        unsigned char c = *r;
        int is_space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
        if (c == 0xC2 && r[1] == 0xA0) {   /* UTF-8 no-break space */
            is_space = 1;
            r++;
        }
        if (is_space) {
            if (!space)
                *w++ = ' ';
            space = 1;
        } else if (c < 0x20 || c == 0x7f) {
            continue;
        } else {
            *w++ = (char)c;
            space = 0;
        }
    }
    if (w > s && w[-1] == ' ')
        w--;
    *w = '\0';
    return s;
}

int stmt_make_date(int year, int month, int day, char *out)
{
    if (year >= 0 && year < 100)
        year += year < 70 ? 2000 : 1900;
    if (year < 1900 || year > 2199 || month < 1 || month > 12 || day < 1)
        return -1;
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    int max = mdays[month - 1] + (month == 2 && leap);
    if (day > max)
        return -1;
    if (out != NULL) {   /* by hand: snprintf was a visible share of a million-row parse */
        out[0] = (char)('0' + year / 1000);
        out[1] = (char)('0' + year / 100 % 10);
        out[2] = (char)('0' + year / 10 % 10);
        out[3] = (char)('0' + year % 10);
        out[4] = '-';
        out[5] = (char)('0' + month / 10);
        out[6] = (char)('0' + month % 10);
        out[7] = '-';
        out[8] = (char)('0' + day / 10);
        out[9] = (char)('0' + day % 10);
        out[10] = '\0';
    }
    return 0;
}

size_t stmt_utf8_trim_partial(const char *s, size_t len)
{
    size_t i = len, back = 0;
    while (i > 0 && back < 4 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) {
        i--;
        back++;
    }
    if (i == 0)
        return len;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (need > 1 && back + 1 < need)
        return i - 1;
    return len;
}

int stmt_read_line(struct stmt_lines *r, bool trim_blanks)
{
    size_t len = 0;
    bool full = false, any = false;
    int c;
    while ((c = getc(r->in)) != EOF) {
        any = true;
        if (c == '\n')
            break;
        if (c == '\0')
            continue;
        if (len + 1 < r->cap)
            r->buf[len++] = (char)c;
        else
            full = true;
    }
    if (c == EOF && ferror(r->in))
        return -1;
    if (!any)
        return 0;
    if (full)
        len = stmt_utf8_trim_partial(r->buf, len);
    while (len > 0 && (r->buf[len - 1] == '\r' ||
                       (trim_blanks && (r->buf[len - 1] == ' ' || r->buf[len - 1] == '\t'))))
        len--;
    r->buf[len] = '\0';
    r->line++;
    return 1;
}

int stmt_fail(struct stmt_error *err, long line, const char *message)
{
    err->line = line;
    snprintf(err->message, sizeof err->message, "%s", message);
    return -1;
}

void stmt_warn(const struct stmt_sink *sink, long line, const char *message)
{
    if (sink->warning != NULL)
        sink->warning(sink->ctx, line, message);
}

void stmt_append(char *dst, size_t cap, const char *src, size_t n)
{
    size_t len = strlen(dst);
    if (len + 1 >= cap)
        return;
    if (n > cap - 1 - len) {
        n = cap - 1 - len;
        memcpy(dst + len, src, n);
        n = stmt_utf8_trim_partial(dst, len + n) - len;
    } else {
        memcpy(dst + len, src, n);
    }
    dst[len + n] = '\0';
}
