/* words.c: the figures as the words both the rules and the prompt use:
 * money in the analytics' currency (si_money_format), percentages, counts
 * with thousands separators (never a run of 6+ digits the masker would
 * hide) and the period in words.  Pure; tests/unit/check_advice.c. */
#include "advice.h"
#include "si_money.h"

#include <stdio.h>

void advice_format_pct(long long tenths, bool with_sign, char *out, size_t n)
{
    unsigned long long a = tenths < 0 ? 0ULL - (unsigned long long)tenths : (unsigned long long)tenths;
    const char *sign = tenths < 0 ? "-" : (with_sign && tenths > 0 ? "+" : "");
    snprintf(out, n, "%s%llu.%llu%%", sign, a / 10, a % 10);
}


void advice_format_amount(const struct advice_analytics *a, long long v, char *out, size_t n)
{
    si_money_format(v, a->currency, out, n);
}

void advice_format_count(long long v, char *out, size_t n)
{
    si_format_thousands(v < 0 ? 0 : (unsigned long long)v, out, n);
}

long long advice_spend_count(const struct advice_analytics *a)
{
    long long n = 0;
    for (size_t i = 0; i < a->n_categories; i++)
        n += a->categories[i].count;
    return n;
}

static const char *month_name(int m)
{
    static const char *names[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    return m >= 1 && m <= 12 ? names[m - 1] : "?";
}

void advice_format_period(const struct advice_analytics *a, char *out, size_t n)
{
    if (a->from_y == a->to_y && a->from_m == a->to_m && a->from_d == a->to_d)
        snprintf(out, n, "on %s %d, %d", month_name(a->to_m), a->to_d, a->to_y);
    else if (a->from_y == a->to_y)
        snprintf(out, n, "between %s %d and %s %d, %d", month_name(a->from_m), a->from_d, month_name(a->to_m),
                 a->to_d, a->to_y);
    else
        snprintf(out, n, "between %s %d, %d and %s %d, %d", month_name(a->from_m), a->from_d, a->from_y,
                 month_name(a->to_m), a->to_d, a->to_y);
}
