/* tl_amount.c: a bank's JSON amount as exact integer minor units.
 *
 * TrueLayer sends amounts as JSON numbers (-0.29, 1234567.89), which jansson holds as
 * doubles.  Scaling the double (x * 100) drifts (0.29 * 100 = 28.999999999999996); instead
 * the double is printed back with 15 significant digits, which returns the decimal text
 * the bank sent for every amount within +-10^13 units, and that text is scaled with
 * integer arithmetic.  More decimals than the currency has is an error, not a rounding. */
#include "tl_client.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define TL_AMOUNT_MAX_MINOR 1000000000000000LL   /* amounts are below 10^15 minor units: 15 digits */

int tl_amount_minor(const json_t *amount, int exponent, long long *out_minor)
{
    if (exponent < 0 || exponent > 4)
        return -1;
    long long scale = 1;
    for (int i = 0; i < exponent; i++)
        scale *= 10;
    if (json_is_integer(amount)) {
        json_int_t v = json_integer_value(amount);
        if (v >= TL_AMOUNT_MAX_MINOR / scale || v <= -(TL_AMOUNT_MAX_MINOR / scale))
            return -1;
        *out_minor = (long long)v * scale;
        return 0;
    }
    if (!json_is_real(amount))
        return -1;
    double d = json_real_value(amount);
    if (!isfinite(d) || fabs(d) >= (double)TL_AMOUNT_MAX_MINOR / (double)scale)
        return -1;
    char text[64];
    int n = snprintf(text, sizeof text, "%.15g", d);
    if (n <= 0 || (size_t)n >= sizeof text || strchr(text, 'e') != NULL)
        return -1;   /* no exponent form is expected within the bounds above, but never guess */
    const char *p = text;
    bool negative = *p == '-';
    if (negative)
        p++;
    long long units = 0, frac = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++)
        units = units * 10 + (*p - '0');
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++) {
            if (++digits > exponent)
                return -1;
            frac = frac * 10 + (*p - '0');
        }
    }
    if (*p != '\0')
        return -1;
    for (int i = digits; i < exponent; i++)
        frac *= 10;
    long long minor = units * scale + frac;
    if (minor >= TL_AMOUNT_MAX_MINOR)
        return -1;
    *out_minor = negative ? -minor : minor;
    return 0;
}
