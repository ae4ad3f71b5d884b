/* si_clock.c: the monotonic clock (see si_clock.h). */
#include "si_clock.h"

#include <time.h>

long long si_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
