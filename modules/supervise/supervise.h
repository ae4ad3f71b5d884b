/* supervise.h: smartimport-supervise, the process supervisor of a stack.
 *
 * One supervisor starts every long-running process of a stack (the FastCGI
 * responders, the event-stream responder, the job worker, nginx) and
 * restarts any that exits or crashes, at once the first time and with a
 * growing delay while it keeps crashing (a crash loop).  It owns the
 * listening socket of every FastCGI function: a responder gets it as its
 * standard input (the FastCGI convention) and the socket outlives the
 * process, so requests that arrive while a responder restarts wait in the
 * socket's backlog instead of failing; only requests a process was serving
 * when it died are lost (nginx answers them 502 JSON).
 *
 * What it knows is published in a state file (JSON, replaced atomically on
 * every change) that /health reads, and in one pid file per process, which
 * the scripts and tests use.  Each exit is logged with its signal or code.
 * SIGTERM stops every process by rank (lowest first; one rank at a time,
 * each with its own signal and deadline; past it SIGTERM, 5 s later
 * SIGKILL) and ends the supervisor.  Children die with it (PR_SET_PDEATHSIG), so a killed
 * supervisor never leaves orphans holding sockets or ports. */
#ifndef SUPERVISE_H
#define SUPERVISE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SV_MAX_PROCS 64
#define SV_MAX_ARGS 32
#define SV_NAME_MAX 64
#define SV_LINE_MAX 4096

/* A process that ran at least this long before exiting was healthy: its
 * next restart is immediate again. */
#define SV_HEALTHY_MS 10000
#define SV_BACKOFF_FIRST_MS 250
#define SV_BACKOFF_MAX_MS 30000
/* After a stop deadline: SIGTERM, then SIGKILL this much later. */
#define SV_ESCALATE_MS 5000

enum sv_state { SV_UP, SV_BACKOFF, SV_STOPPING, SV_STOPPED };

struct sv_proc {
    /* from the spec */
    char name[SV_NAME_MAX];
    int rank;                 /* stop order: lower ranks stop first */
    int stop_signal;
    int stop_timeout_ms;
    char *socket_path;        /* NULL: not a FastCGI function; else a unix path or tcp:HOST:PORT */
    bool socket_tcp;          /* socket_path is a TCP address (kept open across every restart) */
    char *argv[SV_MAX_ARGS + 1];
    /* at run time */
    enum sv_state state;
    pid_t pid;
    int listen_fd;
    long long started_ms;     /* monotonic */
    long long next_start_ms;  /* monotonic, in SV_BACKOFF */
    long long stop_deadline_ms;
    int stop_step;            /* 0: stop signal sent, 1: SIGTERM sent after it, 2: SIGKILL sent */
    int failures;             /* consecutive exits after less than SV_HEALTHY_MS */
    int restarts;
    char last_exit[48];       /* "signal SIGKILL", "exit 2" or "" */
    char last_exit_at[32];    /* UTC */
    char up_since[32];        /* UTC */
};

struct sv_spec {
    struct sv_proc procs[SV_MAX_PROCS];
    int n;
    char *text;               /* the spec file; argv and socket_path point into it */
};

/* sv_spec.c: reads the spec file.  One process a line, fields separated by
 * blanks ('#' starts a comment line):
 *     NAME RANK SIGNAL STOP_TIMEOUT_S SOCKET|- PROGRAM [ARG...]
 * SOCKET: an absolute unix socket path or tcp:HOST:PORT (HOST:PORT alike; si_listen.h),
 * e.g. "ingest-statement 3 TERM 10 /srv/run/ingest-statement.sock /usr/lib/smartimport/smartimport-ingest-statement".
 * Returns 0, or -1 with a message (line number and reason) in err. */
int sv_spec_load(struct sv_spec *spec, const char *path, char *err, size_t errlen);
int sv_spec_parse(struct sv_spec *spec, char *text, char *err, size_t errlen);   /* takes text */
void sv_spec_free(struct sv_spec *spec);
int sv_signal_number(const char *name);   /* "TERM" or "SIGTERM" -> 15; -1 if unknown */

/* sv_child.c: sockets, starting a process, describing how it ended. */
int sv_listen(const char *addr, char *err, size_t errlen);   /* a fresh listening socket: unix 0660, or TCP */
pid_t sv_start(const struct sv_proc *p, const char *log_dir);
void sv_describe_exit(int status, char *out, size_t n);      /* "exit 0", "signal SIGSEGV" */
bool sv_exit_was_requested(int status);  /* exited on its own or by SIGTERM/SIGINT: it may have shut its socket */
int sv_restart_delay_ms(int failures);   /* 0 for the first failure, then 250 ms doubling to 30 s */

/* sv_state.c: the state file and the pid files. */
int sv_state_write(const struct sv_spec *spec, const char *path, pid_t supervisor_pid);
void sv_pidfile_write(const char *run_dir, const struct sv_proc *p);
void sv_pidfile_remove(const char *run_dir, const struct sv_proc *p);
const char *sv_state_name(enum sv_state s);

#endif
