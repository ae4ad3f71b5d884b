/* sv_spec.c: reads the supervisor's spec file (format in supervise.h). */
#include "supervise.h"
#include "si_listen.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *name; int sig; } signals[] = {
    { "TERM", SIGTERM }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "HUP", SIGHUP },
    { "KILL", SIGKILL }, { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 },
};

int sv_signal_number(const char *name)
{
    if (strncmp(name, "SIG", 3) == 0)
        name += 3;
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
        if (strcmp(name, signals[i].name) == 0)
            return signals[i].sig;
    return -1;
}

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= SV_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_line(struct sv_proc *p, char *line, char *err, size_t errlen)
{
    char *fields[SV_MAX_ARGS + 5];
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(line, " \t", &save); tok != NULL; tok = strtok_r(NULL, " \t", &save)) {
        if (n == (int)(sizeof fields / sizeof fields[0])) {
            snprintf(err, errlen, "more than %d arguments", SV_MAX_ARGS);
            return -1;
        }
        fields[n++] = tok;
    }
    if (n < 6) {
        snprintf(err, errlen, "expected NAME RANK SIGNAL STOP_TIMEOUT_S SOCKET|- PROGRAM [ARG...]");
        return -1;
    }
    memset(p, 0, sizeof *p);
    if (!valid_name(fields[0])) {
        snprintf(err, errlen, "bad name (a-z, 0-9 and '-', at most %d characters)", SV_NAME_MAX - 1);
        return -1;
    }
    snprintf(p->name, sizeof p->name, "%s", fields[0]);
    int timeout_s;
    if (parse_int(fields[1], 0, 99, &p->rank) != 0) {
        snprintf(err, errlen, "bad rank '%s' (0..99)", fields[1]);
        return -1;
    }
    if ((p->stop_signal = sv_signal_number(fields[2])) < 0) {
        snprintf(err, errlen, "unknown signal '%s'", fields[2]);
        return -1;
    }
    if (parse_int(fields[3], 1, 3600, &timeout_s) != 0) {
        snprintf(err, errlen, "bad stop timeout '%s' (1..3600 s)", fields[3]);
        return -1;
    }
    p->stop_timeout_ms = timeout_s * 1000;
    if (strcmp(fields[4], "-") != 0) {
        /* An absolute unix socket path, or tcp:HOST:PORT (si_listen.h). */
        struct si_listen_addr addr;
        char why[120];
        if (si_listen_parse(fields[4], &addr, why, sizeof why) != 0) {
            snprintf(err, errlen, "bad socket '%s': %s", fields[4], why);
            return -1;
        }
        if (!addr.tcp && fields[4][0] != '/') {
            snprintf(err, errlen, "the socket path must be absolute (or tcp:HOST:PORT)");
            return -1;
        }
        p->socket_path = fields[4];
        p->socket_tcp = addr.tcp;
    }
    if (fields[5][0] != '/') {
        snprintf(err, errlen, "the program path must be absolute");
        return -1;
    }
    for (int i = 5; i < n; i++)
        p->argv[i - 5] = fields[i];
    p->argv[n - 5] = NULL;
    p->listen_fd = -1;
    p->state = SV_STOPPED;
    return 0;
}

int sv_spec_parse(struct sv_spec *spec, char *text, char *err, size_t errlen)
{
    memset(spec, 0, sizeof *spec);
    spec->text = text;
    int lineno = 0;
    for (char *line = text, *next; line != NULL && *line != '\0'; line = next) {
        lineno++;
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        if (strlen(line) >= SV_LINE_MAX) {
            snprintf(err, errlen, "line %d: longer than %d bytes", lineno, SV_LINE_MAX - 1);
            return -1;
        }
        const char *s = line + strspn(line, " \t");
        if (*s == '\0' || *s == '#')
            continue;
        if (spec->n == SV_MAX_PROCS) {
            snprintf(err, errlen, "line %d: more than %d processes", lineno, SV_MAX_PROCS);
            return -1;
        }
        char why[160];
        if (parse_line(&spec->procs[spec->n], line, why, sizeof why) != 0) {
            snprintf(err, errlen, "line %d: %s", lineno, why);
            return -1;
        }
        for (int i = 0; i < spec->n; i++)
            if (strcmp(spec->procs[i].name, spec->procs[spec->n].name) == 0) {
                snprintf(err, errlen, "line %d: '%s' is listed twice", lineno, spec->procs[i].name);
                return -1;
            }
        spec->n++;
    }
    if (spec->n == 0) {
        snprintf(err, errlen, "no process listed");
        return -1;
    }
    return 0;
}

int sv_spec_load(struct sv_spec *spec, const char *path, char *err, size_t errlen)
{
    memset(spec, 0, sizeof *spec);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, len;
    char *text = malloc(cap + 1);
    if (text == NULL) {
        fclose(f);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    len = fread(text, 1, cap, f);
    bool too_long = len == cap && fgetc(f) != EOF;
    bool failed = ferror(f);
    fclose(f);
    if (failed || too_long) {
        free(text);
        snprintf(err, errlen, failed ? "cannot read %s" : "%s is larger than 64 KiB", path);
        return -1;
    }
    text[len] = '\0';
    if (sv_spec_parse(spec, text, err, errlen) != 0) {
        free(text);
        spec->text = NULL;
        return -1;
    }
    return 0;
}

void sv_spec_free(struct sv_spec *spec)
{
    free(spec->text);
    spec->text = NULL;
    spec->n = 0;
}
