/* si_clock.c: the monotonic clock and the UTC timestamp (see si_clock.h). */
#include "si_clock.h"

#include <stdio.h>
#include <time.h>

long long si_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void si_utc_timestamp(char *out, size_t n)
{
    struct timespec ts;
    struct tm tm;
    if (n == 0)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (gmtime_r(&ts.tv_sec, &tm) == NULL) {
        out[0] = '\0';
        return;
    }
    snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

double si_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

double si_ms_since(double t0)
{
    return si_clock_ms() - t0;
}
