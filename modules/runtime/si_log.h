/* si_log.h: structured log lines, one JSON object per line on stderr.
 *
 * Every line has ts (UTC), level, fn (the function name) and msg; callers add
 * fields (request id, status, duration...).  What goes in a field is the
 * caller's promise: ids, counts, timings and codes, never request bodies,
 * statement contents, tokens or account numbers.  Each line is written with
 * one write(2), so lines from different threads never interleave. */
#ifndef SI_LOG_H
#define SI_LOG_H

#include <jansson.h>

enum si_log_level { SI_LOG_DEBUG, SI_LOG_INFO, SI_LOG_WARN, SI_LOG_ERROR };

/* Call once from the main thread before workers start (read-only afterwards). */
void si_log_setup(const char *function);

/* Writes one line; fields (a JSON object, may be NULL) is stolen. */
void si_log(enum si_log_level level, const char *msg, json_t *fields);

/* Shorthand for a line with a message only. */
void si_logf(enum si_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Points standard error (where every line goes) at PATH, appending: 0, or
 * -1 with errno.  For SMARTIMPORT_LOG_FILE and programs that reopen their log. */
int si_log_to_file(const char *path);

#endif
