/* bank_amount.c: a bank API's JSON number text -> exact integer minor units.
 *
 * The text comes from PostgreSQL's jsonb (the raw page is stored there, and jsonb
 * keeps a number as numeric, digit for digit), never from a C double: 0.29 as a
 * double is 0.28999999999999998, and no rounding rule is right for every currency.
 * The digits are shifted by the currency's exponent and the number's own exponent;
 * a digit that would fall off must be 0. */
#include "tl_client.h"

#include <stdbool.h>

#include <stddef.h>

static int fail(const char **out_reason, const char *reason)
{
    if (out_reason != NULL)
        *out_reason = reason;
    return -1;
}

int bank_amount_minor(const char *text, int exponent, long long *out, const char **out_reason)
{
    if (text == NULL || exponent < 0 || exponent > 9)
        return fail(out_reason, "invalid");
    const char *p = text;
    bool negative = false;
    if (*p == '-') {
        negative = true;
        p++;
    }
    /* The significant digits (leading zeros dropped), and where the point was. */
    char digits[40];
    int n = 0, frac = 0, lost_nonzero = 0;
    if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
        return fail(out_reason, "invalid");
    for (; *p >= '0' && *p <= '9'; p++) {
        if (n == 0 && *p == '0')
            continue;
        if (n == (int)sizeof digits)
            return fail(out_reason, "out_of_range");
        digits[n++] = *p;
    }
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return fail(out_reason, "invalid");
        for (; *p >= '0' && *p <= '9'; p++) {
            if (n == (int)sizeof digits) {       /* beyond 40 digits only zeros may follow */
                if (*p != '0')
                    lost_nonzero = 1;
                continue;
            }
            digits[n++] = *p;
            frac++;
        }
    }
    long e10 = 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        bool eneg = false;
        if (*p == '+' || *p == '-')
            eneg = *p++ == '-';
        if (*p < '0' || *p > '9')
            return fail(out_reason, "invalid");
        for (; *p >= '0' && *p <= '9'; p++)
            if (e10 < 100000)
                e10 = e10 * 10 + (*p - '0');
        if (eneg)
            e10 = -e10;
    }
    if (*p != '\0')
        return fail(out_reason, "invalid");
    if (lost_nonzero)
        return fail(out_reason, "not_exact");
    /* value = digits * 10^(e10 - frac); minor = value * 10^exponent. */
    long shift = e10 - frac + exponent;
    int keep = n;
    if (shift < 0) {
        long drop = -shift;
        for (long i = 0; i < drop && keep > 0; i++)
            if (digits[--keep] != '0')
                return fail(out_reason, "not_exact");
        shift = 0;
    }
    unsigned long long v = 0;
    for (int i = 0; i < keep; i++) {
        v = v * 10 + (unsigned long long)(digits[i] - '0');
        if (v > (unsigned long long)BANK_AMOUNT_MAX)
            return fail(out_reason, "out_of_range");
    }
    for (long i = 0; i < shift && v != 0; i++) {
        v *= 10;
        if (v > (unsigned long long)BANK_AMOUNT_MAX)
            return fail(out_reason, "out_of_range");
    }
    *out = negative ? -(long long)v : (long long)v;
    return 0;
}
