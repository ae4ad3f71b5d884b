/* tl_amount.c: a bank's JSON amount as exact integer minor units.
 *
 * TrueLayer sends amounts as JSON numbers (-0.29, 1234567.89), which jansson holds as
 * doubles.  Scaling the double (x * 100) drifts (0.29 * 100 = 28.999999999999996); instead
 * the double is printed back with 15 significant digits, which returns the decimal text
 * the bank sent for every amount within +-10^13 units, and that text is scaled by
 * bank_amount_minor (bank_amount.c), the one decimal-to-minor-units reader of the bank
 * code.  More decimals than the currency has is an error, not a rounding. */
#include "tl_client.h"

#include <math.h>
#include <stdio.h>

int tl_amount_minor(const json_t *amount, int exponent, long long *out_minor)
{
    char text[64];
    if (json_is_integer(amount))
        snprintf(text, sizeof text, "%" JSON_INTEGER_FORMAT, json_integer_value(amount));
    else if (json_is_real(amount) && isfinite(json_real_value(amount)))
        snprintf(text, sizeof text, "%.15g", json_real_value(amount));
    else
        return -1;
    long long minor;
    if (bank_amount_minor(text, exponent, &minor, NULL) != 0)
        return -1;
    *out_minor = minor;
    return 0;
}
