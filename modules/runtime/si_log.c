/* si_log.c: JSON log lines (see si_log.h). */
#include "si_log.h"
#include "si_clock.h"
#include "si_limits.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Set once before threads start; read-only afterwards. */
static const char *log_function = "smartimport";

/* The buffer of si_log_buffer_start: everything below is guarded by buf_mu. */
static pthread_mutex_t buf_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t buf_cv;
static char *buf_data;          /* SI_LOG_BUFFER bytes while buffering, else NULL */
static size_t buf_len;
static bool buf_stopping;
static int buf_flush_ms;
static pthread_t buf_thread;
static bool buf_thread_started;

static const char *level_names[] = { "debug", "info", "warn", "error" };

/* The file si_log_to_file pointed standard error at ("" = none): guarded by buf_mu. */
static char log_path[SI_LOG_PATH_MAX];

void si_log_setup(const char *function)
{
    if (function != NULL)
        log_function = function;
}

/* With buf_mu held. */
static int point_stderr_at(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    int rc = dup2(fd, STDERR_FILENO) < 0 ? -1 : 0;
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

static void flush_locked(void);

int si_log_to_file(const char *path)
{
    size_t n = strlen(path);
    if (n >= sizeof log_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    pthread_mutex_lock(&buf_mu);
    if (buf_data != NULL)
        flush_locked();
    int rc = point_stderr_at(path);
    if (rc == 0)
        memcpy(log_path, path, n + 1);
    pthread_mutex_unlock(&buf_mu);
    return rc;
}

int si_log_reopen(void)
{
    pthread_mutex_lock(&buf_mu);
    if (log_path[0] == '\0') {
        pthread_mutex_unlock(&buf_mu);
        return 0;
    }
    /* What was written before the rotation goes to the old file, the rest to the new one.
     * dup2 swaps descriptor 2 in one step: a line another thread is writing at that moment
     * lands whole in one of the two files. */
    if (buf_data != NULL)
        flush_locked();
    int rc = point_stderr_at(log_path);
    int saved = errno;
    pthread_mutex_unlock(&buf_mu);
    errno = saved;
    return rc == 0 ? 1 : -1;
}

void si_log_reopened(int rc)
{
    if (rc > 0)
        si_log(SI_LOG_INFO, "log file reopened (SIGUSR1)", NULL);
    else if (rc < 0)
        si_logf(SI_LOG_ERROR, "cannot reopen SMARTIMPORT_LOG_FILE: %s (still writing to the old file)",
                strerror(errno));
}

static void *reopener(void *arg)
{
    (void)arg;
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    for (;;) {
        int sig = 0;
        if (sigwait(&usr1, &sig) != 0)
            return NULL;
        si_log_reopened(si_log_reopen());
    }
    return NULL;
}

int si_log_reopen_on_sigusr1(void)
{
    sigset_t usr1, all, old;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    /* Blocked here, so in every thread started later: only the reopener takes it. */
    if (pthread_sigmask(SIG_BLOCK, &usr1, NULL) != 0)
        return -1;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t;
    pthread_attr_t attr;
    int rc = pthread_attr_init(&attr);
    if (rc == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        rc = pthread_create(&t, &attr, reopener, NULL);
        pthread_attr_destroy(&attr);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc == 0 ? 0 : -1;
}

static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;   /* nowhere left to report a failed log write */
        p += w;
        n -= (size_t)w;
    }
}

/* With buf_mu held. */
static void flush_locked(void)
{
    if (buf_len > 0)
        write_all(buf_data, buf_len);
    buf_len = 0;
}

/* One whole line (ending in '\n'): buffered, or written at once. */
static void emit(enum si_log_level level, const char *line, size_t n)
{
    pthread_mutex_lock(&buf_mu);
    if (buf_data == NULL) {
        pthread_mutex_unlock(&buf_mu);
        write_all(line, n);
        return;
    }
    if (buf_len + n > SI_LOG_BUFFER)
        flush_locked();
    if (level >= SI_LOG_WARN || n > SI_LOG_BUFFER) {
        flush_locked();
        write_all(line, n);
    } else {
        memcpy(buf_data + buf_len, line, n);
        buf_len += n;
    }
    pthread_mutex_unlock(&buf_mu);
}

void si_log_flush(void)
{
    pthread_mutex_lock(&buf_mu);
    if (buf_data != NULL)
        flush_locked();
    pthread_mutex_unlock(&buf_mu);
}

static void *flusher(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&buf_mu);
    while (!buf_stopping) {
        struct timespec until;
        si_deadline_ts(&until, CLOCK_MONOTONIC, buf_flush_ms);
        int rc = 0;
        while (!buf_stopping && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&buf_cv, &buf_mu, &until);
        flush_locked();
    }
    pthread_mutex_unlock(&buf_mu);
    return NULL;
}

int si_log_buffer_start(int flush_ms)
{
    if (flush_ms <= 0 || buf_data != NULL)
        return 0;
    char *data = malloc(SI_LOG_BUFFER);
    pthread_condattr_t attr;
    if (data == NULL || pthread_condattr_init(&attr) != 0) {
        free(data);
        return -1;
    }
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&buf_cv, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0) {
        free(data);
        return -1;
    }
    pthread_mutex_lock(&buf_mu);
    buf_data = data;
    buf_len = 0;
    buf_stopping = false;
    buf_flush_ms = flush_ms;
    pthread_mutex_unlock(&buf_mu);
    /* The flusher must never take a signal meant for the process's own handling. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&buf_thread, NULL, flusher, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        si_log_buffer_stop();
        return -1;
    }
    buf_thread_started = true;
    static bool registered;
    if (!registered && atexit(si_log_flush) == 0)
        registered = true;
    return 0;
}

void si_log_buffer_stop(void)
{
    pthread_mutex_lock(&buf_mu);
    if (buf_data == NULL) {
        pthread_mutex_unlock(&buf_mu);
        return;
    }
    buf_stopping = true;
    pthread_cond_signal(&buf_cv);
    pthread_mutex_unlock(&buf_mu);
    if (buf_thread_started)
        pthread_join(buf_thread, NULL);
    buf_thread_started = false;
    pthread_mutex_lock(&buf_mu);
    flush_locked();
    free(buf_data);
    buf_data = NULL;
    pthread_mutex_unlock(&buf_mu);
    pthread_cond_destroy(&buf_cv);
}

/* The length of the valid UTF-8 sequence at p (lead byte >= 0x80), or 0. */
static size_t utf8_sequence(const unsigned char *p)
{
    size_t len = p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 && p[0] < 0xe0 ? 2 : 0;
    if (p[0] > 0xf4)
        return 0;
    for (size_t k = 1; k < len; k++)
        if ((p[k] & 0xc0) != 0x80)
            return 0;
    return len;
}

/* Appends s as a JSON string (quoted, escaped) to out[*o..cap); false when it does not fit. */
static bool put_json_string(char *out, size_t cap, size_t *o, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = *o;
    if (i + 1 >= cap)
        return false;
    out[i++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (i + 7 >= cap)
            return false;
        unsigned char ch = *p;
        if (ch == '"' || ch == '\\') {
            out[i++] = '\\';
            out[i++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            memcpy(out + i, "\\u00", 4);
            out[i + 4] = hex[ch >> 4];
            out[i + 5] = hex[ch & 15];
            i += 6;
        } else if (ch >= 0x80) {
            size_t len = utf8_sequence(p);
            if (len == 0) {
                memcpy(out + i, "\\ufffd", 6);   /* not UTF-8: the line stays valid JSON */
                i += 6;
            } else {
                memcpy(out + i, p, len);
                i += len;
                p += len - 1;
            }
        } else {
            out[i++] = (char)ch;
        }
    }
    out[i++] = '"';
    *o = i;
    return true;
}

static bool put_raw(char *out, size_t cap, size_t *o, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool put_raw(char *out, size_t cap, size_t *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + *o, cap - *o, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *o)
        return false;
    *o += (size_t)n;
    return true;
}

void si_log_request(const char *request_id, const char *method, const char *path, int status, double ms,
                    int worker, const char *code, const char *detail)
{
    enum si_log_level level = status >= 500 ? SI_LOG_ERROR : SI_LOG_INFO;
    char ts[32];
    si_utc_timestamp(ts, sizeof ts);
    char line[SI_LOG_LINE_MAX];
    size_t o = 0, cap = sizeof line - 1;
    bool ok = put_raw(line, cap, &o, "{\"ts\":\"%s\",\"level\":\"%s\",\"fn\":", ts, level_names[level]) &&
              put_json_string(line, cap, &o, log_function) &&
              put_raw(line, cap, &o, ",\"msg\":\"request\",\"req\":") &&
              put_json_string(line, cap, &o, request_id ? request_id : "-") &&
              put_raw(line, cap, &o, ",\"method\":") && put_json_string(line, cap, &o, method ? method : "-") &&
              put_raw(line, cap, &o, ",\"path\":") && put_json_string(line, cap, &o, path ? path : "-") &&
              put_raw(line, cap, &o, ",\"status\":%d,\"ms\":%.3f", status, ms);
    if (ok && worker >= 0)
        ok = put_raw(line, cap, &o, ",\"worker\":%d", worker);
    if (ok && code != NULL)
        ok = put_raw(line, cap, &o, ",\"code\":") && put_json_string(line, cap, &o, code);
    if (ok && detail != NULL && detail[0] != '\0')
        ok = put_raw(line, cap, &o, ",\"detail\":") && put_json_string(line, cap, &o, detail);
    if (ok)
        ok = put_raw(line, cap, &o, "}");
    if (!ok) {
        si_log(SI_LOG_ERROR, "log line too long", NULL);
        return;
    }
    line[o++] = '\n';
    emit(level, line, o);
}

void si_log(enum si_log_level level, const char *msg, json_t *fields)
{
    char ts[SI_UTC_TIMESTAMP_SIZE];
    si_utc_timestamp(ts, sizeof ts);
    json_t *line = json_object();
    if (line == NULL) {
        json_decref(fields);
        return;
    }
    json_object_set_new(line, "ts", json_string(ts));
    json_object_set_new(line, "level", json_string(level_names[level]));
    json_object_set_new(line, "fn", json_string(log_function));
    json_object_set_new(line, "msg", json_string(msg != NULL ? msg : ""));
    if (fields != NULL && json_is_object(fields))
        json_object_update(line, fields);
    json_decref(fields);

    char buf[SI_LOG_LINE_MAX];
    size_t n = json_dumpb(line, buf, sizeof buf - 1, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(line);
    if (n == 0 || n > sizeof buf - 1) {
        /* Too long for one line: say so rather than write half a line. */
        n = (size_t)snprintf(buf, sizeof buf - 1,
                             "{\"ts\":\"%s\",\"level\":\"error\",\"fn\":\"%s\",\"msg\":\"log line too long\"}",
                             ts, log_function);
        if (n > sizeof buf - 1)
            n = sizeof buf - 1;
    }
    buf[n++] = '\n';
    emit(level, buf, n);
}

void si_logf(enum si_log_level level, const char *fmt, ...)
{
    char msg[SI_ERROR_MESSAGE_MAX * 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    si_log(level, msg, NULL);
}
