/* si_clock.h: the one monotonic clock the runtime and its programs measure
 * deadlines, back-offs and durations with. */
#ifndef SI_CLOCK_H
#define SI_CLOCK_H

/* Milliseconds on CLOCK_MONOTONIC (not wall time: never jumps). */
long long si_now_ms(void);

#endif
