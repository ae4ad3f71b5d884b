/* sv_child.c: a function's listening socket, starting one process, and how
 * a process ended. */
#include "supervise.h"
#include "si_listen.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* The backlog that holds requests while a responder restarts (the kernel
 * caps it at net.core.somaxconn). */
#define SV_LISTEN_BACKLOG 1024

int sv_listen(const char *addr, char *err, size_t errlen)
{
    /* 0660 like spawn-fcgi -M 0660: nginx's workers and the owner only.  A TCP socket gets
     * SO_REUSEADDR: reopened at once after a supervisor restart. */
    return si_listen_open(addr, SV_LISTEN_BACKLOG, 0660, err, errlen);
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void child_exec(const struct sv_proc *p, const char *log_path)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    /* Die with the supervisor, so no orphan keeps a socket or a port; and
     * lead a process group of its own, so whatever it forks (nginx's
     * workers) can be ended with it. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() == 1 || setpgid(0, 0) != 0)
        _exit(127);
    int in = p->listen_fd >= 0 ? p->listen_fd : open("/dev/null", O_RDONLY);
    int log = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (in < 0 || log < 0 || dup2(in, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
        _exit(127);
    close_range(3, ~0U, 0);
    execv(p->argv[0], p->argv);
    static const char msg[] = "{\"level\":\"error\",\"fn\":\"supervise\",\"msg\":\"exec failed\"}\n";
    if (write(2, msg, sizeof msg - 1) < 0)
        _exit(127);
    _exit(127);
}

pid_t sv_start(const struct sv_proc *p, const char *log_dir)
{
    char log_path[4096];
    if (snprintf(log_path, sizeof log_path, "%s/%s.log", log_dir, p->name) >= (int)sizeof log_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    /* The environment is built before fork: setenv is not async-signal-safe. */
    if (setenv("SMARTIMPORT_FUNCTION", p->name, 1) != 0 || setenv("SMARTIMPORT_LOG_FILE", log_path, 1) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0)
        child_exec(p, log_path);
    return pid;
}

void sv_describe_exit(int status, char *out, size_t n)
{
    if (WIFSIGNALED(status)) {
        const char *abbrev = sigabbrev_np(WTERMSIG(status));
        if (abbrev != NULL)
            snprintf(out, n, "signal SIG%s%s", abbrev, WCOREDUMP(status) ? " (core dumped)" : "");
        else
            snprintf(out, n, "signal %d", WTERMSIG(status));
    } else if (WIFEXITED(status)) {
        snprintf(out, n, "exit %d", WEXITSTATUS(status));
    } else {
        snprintf(out, n, "status %d", status);
    }
}

bool sv_exit_was_requested(int status)
{
    if (WIFEXITED(status))
        return true;
    return WIFSIGNALED(status) && (WTERMSIG(status) == SIGTERM || WTERMSIG(status) == SIGINT);
}

int sv_restart_delay_ms(int failures)
{
    if (failures <= 1)
        return 0;
    long long d = SV_BACKOFF_FIRST_MS;
    for (int i = 2; i < failures && d < SV_BACKOFF_MAX_MS; i++)
        d *= 2;
    return d > SV_BACKOFF_MAX_MS ? SV_BACKOFF_MAX_MS : (int)d;
}
