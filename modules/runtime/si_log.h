/* si_log.h: structured log lines, one JSON object per line on stderr.
 *
 * Every line has ts (UTC), level, fn (the function name) and msg; callers add
 * fields (request id, status, duration...).  What goes in a field is the
 * caller's promise: ids, counts, timings and codes, never request bodies,
 * statement contents, tokens or account numbers.  Each line is written with
 * one write(2), so lines from different threads never interleave.
 *
 * Buffering (responders, si_log_buffer_start): info and debug lines are
 * collected in one process-wide buffer of SI_LOG_BUFFER bytes and written,
 * whole lines only and in order, when it is full, every flush_ms
 * (SMARTIMPORT_LOG_FLUSH_MS) by a background thread, when a warn or error
 * line comes (it goes out at once, after the lines before it), and at
 * si_log_buffer_stop() or exit().  A crash loses at most the last flush_ms
 * of info lines; warnings and errors are never held back. */
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
 * -1 with errno.  For SMARTIMPORT_LOG_FILE and programs that reopen their log.
 * PATH is remembered for si_log_reopen. */
int si_log_to_file(const char *path);

/* Log rotation (README "Production": logrotate renames the file, then sends SIGUSR1).
 * si_log_reopen opens the remembered PATH again (a new file after a rename) and points
 * standard error at it, after writing what is buffered to the old one; safe from any
 * thread while others log.  1 reopened, 0 no log file (nothing to do), -1 with errno
 * (the old file stays in use).  si_log_reopened(rc) writes the line that says so.
 *
 * Who takes SIGUSR1: si_server_main's main thread (every responder), import-events'
 * signalfd (which also logs its stats line), and in the daemons (smartimport-worker,
 * smartimport-cdc) a thread started by si_log_reopen_on_sigusr1(): call it from the
 * main thread before any other thread exists; it blocks SIGUSR1 in the caller (so in
 * every later thread) and waits for it in a thread of its own.  SIGUSR1 never ends a
 * process, with or without a log file.  0, or -1. */
int si_log_reopen(void);
void si_log_reopened(int rc);
int si_log_reopen_on_sigusr1(void);

/* Starts buffering (above) with a flush every flush_ms (> 0; 0 leaves every
 * line unbuffered).  Call once, from the main thread; the flusher thread
 * starts with every signal blocked.  0, or -1 (then lines stay unbuffered). */
int si_log_buffer_start(int flush_ms);
/* Writes what is buffered now. */
void si_log_flush(void);
/* Writes what is buffered, stops the flusher thread and buffering.  Safe to call twice. */
void si_log_buffer_stop(void);

/* The one request line every responder writes after it answered:
 * {"ts","level","fn","msg":"request","req","method","path","status","ms"[,"worker"][,"code"][,"detail"]}
 * at level error for a 5xx, else info.  NULL strings are logged as "-"; worker < 0 is left out. */
void si_log_request(const char *request_id, const char *method, const char *path, int status, double ms,
                    int worker, const char *code, const char *detail);

#endif
