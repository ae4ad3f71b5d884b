/* bank_dates.c: an import plan's dates: strict ISO parsing, the range rules (to >= from,
 * at most BANK_RANGE_MAX_YEARS years) and the windows one account's sync fetches.
 * Days are counted from 1970-01-01 with the civil-calendar arithmetic (no time zone,
 * no libc state: the same in every thread). */
#include "bank_jobs.h"
#include "si_clock.h"

#include <stddef.h>

static int digits(const char *s, int n, long *out)
{
    long v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int bank_date_parse(const char *text, long *out_days)
{
    long y, m, d;
    if (text == NULL || digits(text, 4, &y) != 0 || text[4] != '-' || digits(text + 5, 2, &m) != 0 ||
        text[7] != '-' || digits(text + 8, 2, &d) != 0 || text[10] != '\0')
        return -1;
    if (y < 1900 || y > 2999 || m < 1 || m > 12 || d < 1 || d > si_days_in_month(y, (int)m))
        return -1;
    *out_days = si_days_from_civil(y, (int)m, (int)d);
    return 0;
}

void bank_date_format(long days, char out[11])
{
    long y;
    int m, d;
    si_civil_from_days(days, &y, &m, &d);
    unsigned yy = (unsigned)(y < 0 ? 0 : y % 10000);
    const unsigned v[] = { yy / 1000, yy / 100 % 10, yy / 10 % 10, yy % 10, 10, (unsigned)m / 10, (unsigned)m % 10,
                           10, (unsigned)d / 10, (unsigned)d % 10 };
    for (int i = 0; i < 10; i++)
        out[i] = v[i] == 10 ? '-' : (char)('0' + v[i]);
    out[10] = '\0';
}

int bank_range_check(const char *from, const char *to, long *out_from, long *out_to, struct si_error *err)
{
    long f, t;
    if (bank_date_parse(from, &f) != 0)
        return si_error_set(err, 400, "invalid_date", "from_date must be an ISO date (YYYY-MM-DD)");
    if (bank_date_parse(to, &t) != 0)
        return si_error_set(err, 400, "invalid_date", "to_date must be an ISO date (YYYY-MM-DD)");
    if (t < f)
        return si_error_set(err, 400, "invalid_date_range", "to_date is before from_date");
    /* from plus N years: the same day of the month N years later (29 Feb -> 28 Feb). */
    long y;
    int m, d;
    si_civil_from_days(f, &y, &m, &d);
    y += BANK_RANGE_MAX_YEARS;
    if (d > si_days_in_month(y, m))
        d = si_days_in_month(y, m);
    if (t > si_days_from_civil(y, m, d))
        return si_error_set(err, 400, "date_range_too_long", "a date range is at most %d years",
                            BANK_RANGE_MAX_YEARS);
    *out_from = f;
    *out_to = t;
    return 0;
}

int bank_window_count(long from, long to, int window_days)
{
    if (to < from || window_days < 1)
        return 0;
    return (int)((to - from) / window_days + 1);
}

void bank_window(long from, long to, int window_days, int i, long *out_from, long *out_to)
{
    *out_from = from + (long)i * window_days;
    long last = *out_from + window_days - 1;
    *out_to = last < to ? last : to;
}
