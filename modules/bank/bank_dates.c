/* bank_dates.c: an import plan's dates: strict ISO parsing, the range rules (to >= from,
 * at most BANK_RANGE_MAX_YEARS years) and the windows one account's sync fetches.
 * Days are counted from 1970-01-01 with the civil-calendar arithmetic (no time zone,
 * no libc state: the same in every thread). */
#include "bank_jobs.h"

#include <stddef.h>

static bool leap(long y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(long y, int m)
{
    static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && leap(y) ? 29 : d[m - 1];
}

/* Days from 1970-01-01 of a civil date (Howard Hinnant's days_from_civil). */
static long days_from_civil(long y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(long z, long *y, int *m, int *d)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

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
    if (y < 1900 || y > 2999 || m < 1 || m > 12 || d < 1 || d > month_days(y, (int)m))
        return -1;
    *out_days = days_from_civil(y, (int)m, (int)d);
    return 0;
}

void bank_date_format(long days, char out[11])
{
    long y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
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
    civil_from_days(f, &y, &m, &d);
    y += BANK_RANGE_MAX_YEARS;
    if (d > month_days(y, m))
        d = month_days(y, m);
    if (t > days_from_civil(y, m, d))
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
