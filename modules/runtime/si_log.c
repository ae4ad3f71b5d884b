/* si_log.c: JSON log lines (see si_log.h). */
#include "si_log.h"
#include "si_clock.h"
#include "si_limits.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Set once before threads start; read-only afterwards. */
static const char *log_function = "smartimport";

static const char *level_names[] = { "debug", "info", "warn", "error" };

void si_log_setup(const char *function)
{
    if (function != NULL)
        log_function = function;
}

int si_log_to_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0)
        return -1;
    int rc = dup2(fd, STDERR_FILENO) < 0 ? -1 : 0;
    close(fd);
    return rc;
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
    ssize_t w = write(STDERR_FILENO, buf, n);
    (void)w;  /* nowhere left to report a failed log write */
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
