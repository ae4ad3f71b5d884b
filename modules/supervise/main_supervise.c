/* main_supervise.c: smartimport-supervise SPEC STATE_FILE RUN_DIR LOG_DIR
 *
 * Starts every process of SPEC, restarts each one that ends, and on SIGTERM
 * or SIGINT stops them all by rank and exits 0 (design in supervise.h).
 * Its own log lines go to standard error, one JSON object each.
 * smartimport-supervise --check-config SPEC [...]: reads SPEC, prints {"ok":true} or the
 * error, exits 0 or 1 (si_config.h); nothing is started. */
#include "supervise.h"
#include "si_clock.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "si_config.h"
#include "si_log.h"

struct supervisor {
    struct sv_spec spec;
    const char *state_path, *run_dir, *log_dir;
    bool stopping;
    bool changed;             /* the state file is behind */
    int stop_rank;            /* the rank being stopped, while stopping */
};

/* Rewrites the state file when something changed since the last write (the
 * loop wakes every second even when nothing happens). */
static void publish(struct supervisor *sv)
{
    if (!sv->changed)
        return;
    sv->changed = false;
    if (sv_state_write(&sv->spec, sv->state_path, getpid()) != 0)
        si_log(SI_LOG_WARN, "cannot write the state file", NULL);
}

static int open_socket(struct sv_proc *p)
{
    char err[200];
    if (p->socket_path == NULL || p->listen_fd >= 0)
        return 0;
    p->listen_fd = sv_listen(p->socket_path, err, sizeof err);
    if (p->listen_fd < 0) {
        si_log(SI_LOG_ERROR, "cannot open a function's socket", json_pack("{s:s, s:s}", "process", p->name,
                                                                          "error", err));
        return -1;
    }
    return 0;
}

static void close_socket(struct sv_proc *p)
{
    if (p->listen_fd >= 0) {
        close(p->listen_fd);
        p->listen_fd = -1;
    }
}

static void start(struct supervisor *sv, struct sv_proc *p)
{
    long long now = si_now_ms();
    sv->changed = true;
    pid_t pid = open_socket(p) == 0 ? sv_start(p, sv->log_dir) : -1;
    if (pid < 0) {
        p->failures++;
        p->state = SV_BACKOFF;
        p->next_start_ms = now + (sv_restart_delay_ms(p->failures) > 0 ? sv_restart_delay_ms(p->failures) : 1000);
        si_log(SI_LOG_ERROR, "cannot start a process", json_pack("{s:s, s:s}", "process", p->name, "error",
                                                                  strerror(errno)));
        return;
    }
    p->pid = pid;
    p->state = SV_UP;
    p->started_ms = now;
    si_utc_timestamp(p->up_since, sizeof p->up_since);
    sv_pidfile_write(sv->run_dir, p);
    si_log(SI_LOG_INFO, "started", json_pack("{s:s, s:i, s:i}", "process", p->name, "pid", (int)pid,
                                             "restarts", p->restarts));
}

static struct sv_proc *find_pid(struct supervisor *sv, pid_t pid)
{
    for (int i = 0; i < sv->spec.n; i++)
        if (sv->spec.procs[i].pid == pid && (sv->spec.procs[i].state == SV_UP ||
                                            sv->spec.procs[i].state == SV_STOPPING))
            return &sv->spec.procs[i];
    return NULL;
}

/* A process ended: log it, and schedule its restart unless we are stopping. */
static void on_exit_status(struct supervisor *sv, struct sv_proc *p, int status)
{
    sv->changed = true;
    long long now = si_now_ms(), uptime = now - p->started_ms;
    sv_describe_exit(status, p->last_exit, sizeof p->last_exit);
    si_utc_timestamp(p->last_exit_at, sizeof p->last_exit_at);
    sv_pidfile_remove(sv->run_dir, p);
    pid_t pid = p->pid;
    p->pid = 0;
    /* What it forked goes with it: nginx's workers outlive a killed master
     * and would keep its port from the new one. */
    if (kill(-pid, SIGKILL) == 0)
        si_log(SI_LOG_WARN, "ended what the process left running", json_pack("{s:s, s:i}", "process", p->name,
                                                                                "pid", (int)pid));
    /* A process that ended on its own or by SIGTERM may have shut its
     * listening unix socket down (the responders once did, to drain): use a new
     * one.  A TCP socket stays open across every restart: reopening it would
     * refuse the connections that arrive in between (nginx would mark the host
     * failed). */
    if (sv_exit_was_requested(status) && !p->socket_tcp)
        close_socket(p);
    if (sv->stopping || p->state == SV_STOPPING) {
        p->state = SV_STOPPED;
        si_log(SI_LOG_INFO, "stopped", json_pack("{s:s, s:i, s:s}", "process", p->name, "pid", (int)pid,
                                                 "status", p->last_exit));
        return;
    }
    p->failures = uptime >= SV_HEALTHY_MS ? 1 : p->failures + 1;
    int delay = sv_restart_delay_ms(p->failures);
    p->state = SV_BACKOFF;
    p->next_start_ms = now + delay;
    p->restarts++;
    si_log(SI_LOG_WARN, "process ended: restarting", json_pack("{s:s, s:i, s:s, s:I, s:i, s:i}", "process", p->name,
                                                               "pid", (int)pid, "status", p->last_exit, "uptime_ms",
                                                               (json_int_t)uptime, "restart_in_ms", delay,
                                                               "crashes_in_a_row", p->failures));
}

static void reap(struct supervisor *sv)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return;
        struct sv_proc *p = find_pid(sv, pid);
        if (p != NULL)
            on_exit_status(sv, p, status);
    }
}

/* Stopping: one rank at a time, lowest first; each process gets its own
 * signal, then SIGKILL at its deadline. */
static void advance_stop(struct supervisor *sv)
{
    long long now = si_now_ms();
    for (;;) {
        bool busy = false;
        for (int i = 0; i < sv->spec.n; i++) {
            struct sv_proc *p = &sv->spec.procs[i];
            if (p->state == SV_BACKOFF) {
                p->state = SV_STOPPED;
                sv->changed = true;
            }
            if (p->rank != sv->stop_rank)
                continue;
            if (p->state == SV_UP) {
                sv->changed = true;
                p->state = SV_STOPPING;
                p->stop_step = 0;
                p->stop_deadline_ms = now + p->stop_timeout_ms;
                kill(p->pid, p->stop_signal);
                si_log(SI_LOG_INFO, "stopping", json_pack("{s:s, s:i, s:s}", "process", p->name, "pid", (int)p->pid,
                                                          "signal", sigabbrev_np(p->stop_signal)));
            }
            if (p->state == SV_STOPPING) {
                busy = true;
                if (now >= p->stop_deadline_ms && p->stop_step < 2) {
                    /* Past the deadline: SIGTERM (a fast stop, for nginx after
                     * QUIT), then SIGKILL. */
                    bool term = p->stop_step == 0 && p->stop_signal != SIGTERM;
                    p->stop_step = term ? 1 : 2;
                    p->stop_deadline_ms = now + SV_ESCALATE_MS;
                    si_log(SI_LOG_WARN, "did not stop in time", json_pack("{s:s, s:i, s:s}", "process", p->name,
                                                                         "pid", (int)p->pid, "signal",
                                                                         term ? "TERM" : "KILL"));
                    kill(p->pid, term ? SIGTERM : SIGKILL);
                }
            }
        }
        if (busy)
            return;
        int next = 100;
        for (int i = 0; i < sv->spec.n; i++)
            if (sv->spec.procs[i].rank > sv->stop_rank && sv->spec.procs[i].rank < next)
                next = sv->spec.procs[i].rank;
        if (next == 100) {
            sv->stop_rank = 100;   /* all stopped */
            return;
        }
        sv->stop_rank = next;
    }
}

static bool all_stopped(const struct supervisor *sv)
{
    return sv->stopping && sv->stop_rank == 100;
}

/* How long poll may sleep: until the next restart or stop deadline. */
static int poll_timeout(const struct supervisor *sv)
{
    long long now = si_now_ms(), next = now + 1000;
    for (int i = 0; i < sv->spec.n; i++) {
        const struct sv_proc *p = &sv->spec.procs[i];
        if (p->state == SV_BACKOFF && p->next_start_ms < next)
            next = p->next_start_ms;
        if (p->state == SV_STOPPING && p->stop_step < 2 && p->stop_deadline_ms < next)
            next = p->stop_deadline_ms;
    }
    return next <= now ? 0 : (int)(next - now);
}

static int run(struct supervisor *sv)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0)
        return 1;
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        si_logf(SI_LOG_ERROR, "signalfd: %s", strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < sv->spec.n; i++)
        start(sv, &sv->spec.procs[i]);
    publish(sv);

    while (!all_stopped(sv)) {
        struct pollfd pfd = { .fd = sfd, .events = POLLIN };
        int n = poll(&pfd, 1, poll_timeout(sv));
        if (n < 0 && errno != EINTR) {
            si_logf(SI_LOG_ERROR, "poll: %s", strerror(errno));
            break;
        }
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
            if ((si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) && !sv->stopping) {
                si_log(SI_LOG_INFO, "stopping every process", json_pack("{s:i}", "signal", (int)si.ssi_signo));
                sv->stopping = true;
                sv->stop_rank = -1;
            }
        }
        reap(sv);
        if (sv->stopping) {
            advance_stop(sv);
        } else {
            long long now = si_now_ms();
            for (int i = 0; i < sv->spec.n; i++)
                if (sv->spec.procs[i].state == SV_BACKOFF && sv->spec.procs[i].next_start_ms <= now)
                    start(sv, &sv->spec.procs[i]);
        }
        publish(sv);
    }
    close(sfd);
    return 0;
}

int main(int argc, char **argv)
{
    si_log_setup("supervise");
    if (si_check_config_asked(argc, argv)) {
        struct si_error e;
        si_error_clear(&e);
        struct sv_spec spec;
        char why[300];
        int rc = argc < 3 ? si_error_set(&e, 500, "bad_config", "usage: %s --check-config SPEC", argv[0])
                 : sv_spec_load(&spec, argv[2], why, sizeof why) != 0
                     ? si_error_set(&e, 500, "bad_config", "SPEC %s: %s", argv[2], why)
                     : 0;
        if (rc == 0)
            sv_spec_free(&spec);
        return si_check_config_report(rc, &e);
    }
    if (argc != 5) {
        fprintf(stderr, "usage: %s SPEC STATE_FILE RUN_DIR LOG_DIR\n", argv[0]);
        return 2;
    }
    struct supervisor sv = { .state_path = argv[2], .run_dir = argv[3], .log_dir = argv[4] };
    char err[300];
    if (sv_spec_load(&sv.spec, argv[1], err, sizeof err) != 0) {
        si_log(SI_LOG_ERROR, "bad spec", json_pack("{s:s}", "error", err));
        return 2;
    }
    si_log(SI_LOG_INFO, "supervisor started", json_pack("{s:i, s:i}", "pid", (int)getpid(), "processes",
                                                         sv.spec.n));
    int rc = run(&sv);
    for (int i = 0; i < sv.spec.n; i++) {
        struct sv_proc *p = &sv.spec.procs[i];
        close_socket(p);
        if (p->socket_path != NULL && !p->socket_tcp)
            unlink(p->socket_path);
    }
    unlink(sv.state_path);
    si_log(SI_LOG_INFO, "supervisor stopped", NULL);
    sv_spec_free(&sv.spec);
    return rc;
}
