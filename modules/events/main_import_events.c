/* main_import_events.c: smartimport-import-events, the import-events stream responder.
 *
 * Reads the runtime's configuration (the same variables as every responder)
 * plus its own, opens the listening socket (fd 0 from spawn-fcgi, or
 * SMARTIMPORT_LISTEN) and runs the event loop until SIGTERM.  The design is
 * in events.h.  --check-config checks those settings and exits (si_config.h). */
#include "events.h"
#include "si_metrics.h"
#include "si_listen.h"
#include "si_log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

extern char **environ;

static int load_settings(struct ev_settings *set, struct si_error *err)
{
    long long streams = EV_MAX_STREAMS_DEFAULT, out = EV_OUT_MAX_DEFAULT;
    long long hb = EV_HEARTBEAT_MS_DEFAULT, query = EV_QUERY_TIMEOUT_MS_DEFAULT;
    long long per_user = EV_STREAMS_PER_USER_DEFAULT, threads = EV_QUERY_THREADS_DEFAULT;
    if (si_env_long(environ, "SMARTIMPORT_EVENTS_MAX_STREAMS", 1, EV_MAX_STREAMS_CEILING, &streams, err) != 0 ||
        si_env_long(environ, "SMARTIMPORT_EVENTS_STREAMS_PER_USER", 1, EV_MAX_STREAMS_CEILING, &per_user, err) != 0 ||
        si_env_long(environ, "SMARTIMPORT_EVENTS_QUERY_THREADS", 1, EV_QUERY_THREADS_CEILING, &threads, err) != 0 ||
        si_env_long(environ, "SMARTIMPORT_EVENTS_OUT_MAX", EV_OUT_MAX_MIN, EV_OUT_MAX_CEILING, &out, err) != 0 ||
        si_env_long(environ, "SMARTIMPORT_EVENTS_HEARTBEAT_MS", EV_HEARTBEAT_MS_MIN, EV_HEARTBEAT_MS_CEILING, &hb, err) != 0 ||
        si_env_long(environ, "SMARTIMPORT_EVENTS_QUERY_TIMEOUT_MS", 100, 60000, &query, err) != 0)
        return -1;
    set->max_streams = (int)streams;
    set->streams_per_user = (int)per_user;
    set->query_threads = (int)threads;
    set->out_max = (size_t)out;
    set->heartbeat_ms = (int)hb;
    set->query_timeout_ms = (int)query;
    set->web_server_addrs = si_env_get(environ, "FCGI_WEB_SERVER_ADDRS");
    return 0;
}


/* Every stream is a descriptor: make sure the soft limit allows them all. */
static void raise_fd_limit(const struct ev_settings *set)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)set->max_streams + EV_MAX_PENDING_CONNS + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
        si_log(SI_LOG_WARN, "the open-file limit is below what max streams need",
               json_pack("{s:I, s:I}", "limit", (json_int_t)rl.rlim_cur, "want", (json_int_t)want));
}

static int open_listen_socket(const struct si_config *cfg)
{
    if (cfg->listen_path == NULL) {
        int accepting = 0;
        socklen_t len = sizeof accepting;
        if (getsockopt(STDIN_FILENO, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) != 0 || !accepting) {
            si_log(SI_LOG_ERROR, "standard input is not a FastCGI socket: start me with spawn-fcgi, "
                                 "or set SMARTIMPORT_LISTEN=/path/to.sock or tcp:HOST:PORT", NULL);
            return -1;
        }
        return STDIN_FILENO;
    }
    char why[200];
    int fd = si_listen_open(cfg->listen_path, 1024, 0, why, sizeof why);
    if (fd < 0)
        si_logf(SI_LOG_ERROR, "cannot listen on SMARTIMPORT_LISTEN: %s", why);
    return fd;
}

static int check_settings(const struct si_config *cfg, void *arg, struct si_error *err)
{
    (void)cfg;
    (void)arg;
    struct ev_settings set;
    return load_settings(&set, err);
}

int main(int argc, char **argv)
{
    struct si_config cfg;
    struct si_error err;
    struct ev_settings set;
    struct ev_loop loop;
    si_log_setup("import-events");
    if (si_check_config_asked(argc, argv))
        return si_check_config_main(environ, true, true, check_settings, NULL);
    if (si_config_load(&cfg, environ, &err) != 0) {
        si_logf(SI_LOG_ERROR, "configuration: %s", err.message);
        return 2;
    }
    if (cfg.log_file != NULL && si_log_to_file(cfg.log_file) != 0) {
        si_logf(SI_LOG_ERROR, "cannot open SMARTIMPORT_LOG_FILE: %s", strerror(errno));
        return 2;
    }
    if (cfg.auth_mode == SI_AUTH_TRUST_BODY)
        si_log(SI_LOG_WARN, "SMARTIMPORT_AUTH=trust-body: callers are NOT authenticated, the user id "
                            "is taken from the request as sent. For local development only.", NULL);
    if (cfg.auth_mode == SI_AUTH_JWT && cfg.jwt_secret_len == 0) {
        si_log(SI_LOG_ERROR, "SMARTIMPORT_JWT_SECRET is not set (or set SMARTIMPORT_AUTH=trust-body for development)", NULL);
        return 2;
    }
    if (cfg.database_url == NULL) {
        si_log(SI_LOG_ERROR, "DATABASE_URL is not set", NULL);
        return 2;
    }
    if (load_settings(&set, &err) != 0) {
        si_logf(SI_LOG_ERROR, "configuration: %s", err.message);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit(&set);
    int fd = open_listen_socket(&cfg);
    if (fd < 0)
        return 2;
    int rc = 2;
    if (si_log_buffer_start(cfg.log_flush_ms) != 0)
        si_log(SI_LOG_WARN, "cannot buffer the log: every line is written at once", NULL);
    if (si_metrics_open("import-events", environ) != 0)
        si_logf(SI_LOG_WARN, "metrics: cannot map SMARTIMPORT_METRICS_DIR/import-events.<pid>: %s (not counted)",
                strerror(errno));
    if (ev_loop_init(&loop, &cfg, &set, fd) != 0)
        si_logf(SI_LOG_ERROR, "cannot start the event loop: %s", strerror(errno));
    else
        rc = ev_loop_run(&loop) == 0 ? 0 : 1;
    ev_loop_cleanup(&loop);
    si_metrics_close();
    si_log(SI_LOG_INFO, "stopped", NULL);
    si_log_buffer_stop();
    return rc;
}
