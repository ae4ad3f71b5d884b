/* main_logscrub.c: smartimport-logscrub, the reader of nginx's error log.
 *
 *   smartimport-logscrub [--check-config] --socket PATH --out FILE
 *   smartimport-logscrub [--check-config] --socket - --out FILE
 *
 * nginx sends its error log to syslog on the unix datagram socket PATH (nginx.conf.in:
 * error_log syslog:server=unix:PATH); this program binds PATH, scrubs each message
 * (scrub.h: no query strings, no tokens) and appends it to FILE as one JSON line
 * {"ts","level","fn":"nginx","msg"}.  It runs in the foreground for a supervisor: SIGTERM
 * or SIGINT ends it (removing PATH), SIGHUP or SIGUSR1 reopens FILE (log rotation).  While
 * it does not run nginx's messages are dropped, never written unscrubbed.  --check-config
 * checks that FILE can be appended to and PATH can be bound, prints the verdict and exits
 * 0 or 1 (si_config.h) without binding.
 * `--socket -`: the datagram socket is standard input (fd 0), bound by someone else (systemd's
 * smartimport-logscrub.socket, dist/systemd); it is neither bound nor removed here, and the
 * messages sent while this program restarts wait in it. */
#include "scrub.h"
#include "si_config.h"
#include "si_limits.h"
#include "si_log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static volatile sig_atomic_t stop_signal, reopen_requested;

static void on_stop(int sig) { stop_signal = sig; }
static void on_hup(int sig) { (void)sig; reopen_requested = 1; }

static int usage(void)
{
    fprintf(stderr, "usage: smartimport-logscrub --socket PATH --out FILE\n");
    return 2;
}

/* fd 0 when it is a unix datagram socket (`--socket -`), else -1. */
static int inherited_socket(void)
{
    int type = 0;
    socklen_t len = sizeof type;
    struct sockaddr_un addr;
    socklen_t alen = sizeof addr;
    if (getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_DGRAM ||
        getsockname(0, (struct sockaddr *)&addr, &alen) != 0 || addr.sun_family != AF_UNIX) {
        errno = ENOTSOCK;
        return -1;
    }
    return 0;
}

static int bind_socket(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof addr.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            errno = EEXIST;
            return -1;
        }
        unlink(path);  /* a socket left by a previous run */
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    mode_t old = umask(0117);  /* rw for the owner and group (nginx's workers) */
    int rc = bind(fd, (struct sockaddr *)&addr, sizeof addr);
    umask(old);
    if (rc != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* "<PRI>Mmm dd hh:mm:ss nginx: text": the severity, and where the text starts. */
static enum si_log_level parse_syslog(const char *m, size_t n, size_t *out_start)
{
    static const enum si_log_level by_severity[8] = {
        SI_LOG_ERROR, SI_LOG_ERROR, SI_LOG_ERROR, SI_LOG_ERROR,  /* emerg alert crit err */
        SI_LOG_WARN, SI_LOG_INFO, SI_LOG_INFO, SI_LOG_DEBUG,     /* warning notice info debug */
    };
    enum si_log_level level = SI_LOG_ERROR;
    size_t i = 0;
    *out_start = 0;
    if (n > 0 && m[0] == '<') {
        unsigned pri = 0;
        for (i = 1; i < n && i < 5 && m[i] >= '0' && m[i] <= '9'; i++)
            pri = pri * 10 + (unsigned)(m[i] - '0');
        if (i < n && m[i] == '>') {
            level = by_severity[pri & 7];
            i++;
        } else {
            i = 0;
        }
    }
    const char *tag = NULL;
    for (size_t j = i; j + 7 <= n && j < i + 40; j++)
        if (memcmp(m + j, "nginx: ", 7) == 0) {
            tag = m + j;
            break;
        }
    *out_start = tag != NULL ? (size_t)(tag - m) + 7 : i;
    return level;
}

int main(int argc, char **argv)
{
    const char *sock_path = NULL, *out_path = NULL;
    bool check = si_check_config_asked(argc, argv);
    for (int i = check ? 2 : 1; i < argc; i++) {
        if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
            sock_path = argv[++i];
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out_path = argv[++i];
        else
            return usage();
    }
    if (sock_path == NULL || out_path == NULL)
        return usage();
    if (check) {
        struct si_error e;
        si_error_clear(&e);
        struct sockaddr_un addr;
        int rc = si_check_log_file("--out", out_path, &e);
        if (rc == 0 && strlen(sock_path) >= sizeof addr.sun_path)
            rc = si_error_set(&e, 500, "bad_config", "--socket is longer than %zu bytes", sizeof addr.sun_path - 1);
        /* its folder takes a new file; `-`: systemd's socket, bound when the service starts */
        if (rc == 0 && strcmp(sock_path, "-") != 0)
            rc = si_check_log_file("--socket", sock_path, &e);
        return si_check_config_report(rc, &e);
    }
    si_log_setup("nginx");
    if (si_log_to_file(out_path) != 0) {
        fprintf(stderr, "smartimport-logscrub: cannot open %s: %s\n", out_path, strerror(errno));
        return 1;
    }
    bool inherited = strcmp(sock_path, "-") == 0;
    int fd = inherited ? inherited_socket() : bind_socket(sock_path);
    if (fd < 0) {
        si_logf(SI_LOG_ERROR, "logscrub: cannot %s %s: %s", inherited ? "read from" : "bind",
                inherited ? "standard input (--socket -: a unix datagram socket)" : sock_path, strerror(errno));
        return 1;
    }
    struct sigaction stop = { .sa_handler = on_stop }, hup = { .sa_handler = on_hup };
    sigemptyset(&stop.sa_mask);
    sigemptyset(&hup.sa_mask);
    /* No SA_RESTART: a signal ends the blocking recv() with EINTR. */
    sigaction(SIGTERM, &stop, NULL);
    sigaction(SIGINT, &stop, NULL);
    sigaction(SIGHUP, &hup, NULL);
    sigaction(SIGUSR1, &hup, NULL);
    si_logf(SI_LOG_INFO, "logscrub: reading nginx's error log on %s", inherited ? "standard input" : sock_path);

    char msg[8192], clean[SI_LOG_LINE_MAX - 256];
    int rc = 0;
    while (!stop_signal) {
        if (reopen_requested) {
            reopen_requested = 0;
            if (si_log_to_file(out_path) != 0) {
                rc = 1;
                break;
            }
        }
        ssize_t got = recv(fd, msg, sizeof msg - 1, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            si_logf(SI_LOG_ERROR, "logscrub: recv failed: %s", strerror(errno));
            rc = 1;
            break;
        }
        size_t n = (size_t)got, start;
        while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
            n--;
        enum si_log_level level = parse_syslog(msg, n, &start);
        logscrub_message(msg + start, n - start, clean, sizeof clean);
        si_log(level, clean, NULL);
    }
    if (!inherited) {
        close(fd);
        unlink(sock_path);
    }
    if (stop_signal)
        si_logf(SI_LOG_INFO, "logscrub: stopped (signal %d)", (int)stop_signal);
    return rc;
}
