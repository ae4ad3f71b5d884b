/* si_clock.h: the runtime's clocks: the one monotonic clock for deadlines,
 * back-offs and durations, and the one UTC timestamp format for logs, state
 * files and JSON answers.
 *
 * Timestamps are ISO 8601 in UTC with a Z: "2026-01-02T03:04:05.678Z".  Those
 * PostgreSQL formats (a column's value in an answer) come from the SI_SQL_UTC_*
 * macros, so C and SQL spell a time the same way. */
#ifndef SI_CLOCK_H
#define SI_CLOCK_H

#include <stddef.h>
#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC (not wall time: never jumps). */
long long si_now_ms(void);

/* *out = now on `clock` plus ms: the absolute deadline of a timed wait
 * (pthread_cond_timedwait, clock_nanosleep, pthread_timedjoin_np). */
void si_deadline_ts(struct timespec *out, clockid_t clock, long long ms);

/* The same clock in fractional milliseconds, for durations finer than a
 * millisecond (request and step timings): t0 = si_clock_ms(); ... si_ms_since(t0). */
double si_clock_ms(void);
double si_ms_since(double t0);

/* Bytes of "2026-01-02T03:04:05.678Z" with its NUL. */
#define SI_UTC_TIMESTAMP_SIZE 25

/* The current UTC time with milliseconds, "2026-01-02T03:04:05.678Z", into
 * out (n >= SI_UTC_TIMESTAMP_SIZE; cut to n - 1 bytes otherwise). */
void si_utc_timestamp(char *out, size_t n);

/* A timestamptz expression (SQL text) formatted by PostgreSQL in the same
 * way: with milliseconds (the runtime's format), microseconds (the workflow
 * worker's job times) or whole seconds (prime's committedAt). */
#define SI_SQL_UTC_MS(expr) "to_char((" expr ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define SI_SQL_UTC_US(expr) "to_char((" expr ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
#define SI_SQL_UTC_S(expr)  "to_char((" expr ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* Civil (proleptic Gregorian) dates as days since 1970-01-01 and back (H. Hinnant's
 * algorithms), and the length of a month; m is 1..12. */
long si_days_from_civil(long y, int m, int d);
void si_civil_from_days(long days, long *y, int *m, int *d);
int si_days_in_month(long y, int m);

#endif
