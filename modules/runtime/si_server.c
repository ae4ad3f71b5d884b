/* si_server.c: the FastCGI accept loop shared by every responder.
 *
 * Concurrency: one process per function (started by spawn-fcgi on a unix
 * socket) running SMARTIMPORT_THREADS worker threads that each call
 * FCGX_Accept_r on the same listening socket.  Threads rather than prefork
 * because (1) measured throughput is the same for trivial handlers and
 * threads are slightly cheaper with a database connection each, (2) one
 * process per function means one pid file, so scripts/down stops exactly what
 * scripts/up started, and (3) configuration is loaded once and shared
 * read-only.  Each thread owns its request arena, scratch buffer, response,
 * PostgreSQL connection (and its read connection, opened at its first read,
 * when SMARTIMPORT_DATABASE_READ_URL is set: si_db.h) and outbound HTTP client, so workers share no mutable state; the only
 * shared variable is the `stopping` flag, which is atomic.
 *
 * Accepting: the listening socket is non-blocking; an idle worker waits in
 * its own epoll set, where the socket is registered EPOLLEXCLUSIVE (one
 * connection wakes one idle worker, not all of them) beside the process's
 * wake-up eventfd, then accepts until the backlog is empty.
 *
 * Shutdown: signals are blocked in every thread and the main thread waits
 * for SIGTERM/SIGINT with sigwait() (SIGUSR1 there reopens the log file,
 * si_log.h).  It then sets `stopping` and writes the eventfd, which wakes
 * every idle worker; a thread in the middle of a request finishes it, writes
 * the response, and exits.  The main thread joins them all and exits 0.  The
 * listening socket itself is left as it is (never shut down): it belongs to
 * whoever passed it as fd 0 (systemd's socket unit, smartimport-supervise),
 * and the connections waiting in its backlog are served by the next process.
 *
 * --check-config (si_config.h) loads the configuration, runs the common
 * checks and the function's init and cleanup hooks, prints the verdict and
 * exits, before any socket is touched. */
#include "si_clock.h"
#include "si_idempotency.h"
#include "si_server.h"
#include "si_limits.h"
#include "si_listen.h"
#include "si_log.h"
#include "si_metrics.h"

#include <fcgiapp.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

extern char **environ;

struct worker {
    pthread_t thread;
    int id;
    int listen_fd;
    int wake_fd;                 /* the eventfd the main thread writes to stop */
    const struct si_function *fn;
    const struct si_config *cfg;
    void *fn_config;
};

/* Written by the main thread on SIGTERM, read by the workers. */
static atomic_bool stopping;

static long fcgx_body_read(void *src, char *buf, size_t n)
{
    int want = n > INT_MAX ? INT_MAX : (int)n;
    int got = FCGX_GetStr(buf, want, src);
    return got < 0 ? -1 : got;
}

static bool method_allowed(const char *methods, const char *method)
{
    size_t n = strlen(method);
    for (const char *p = methods; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, method, n) == 0)
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

void si_server_dispatch(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    const struct si_function *fn = ctx->function;
    if (!method_allowed(fn->methods, req->method)) {
        si_response_error(resp, 405, "method_not_allowed", "method %s is not allowed here (allowed: %s)",
                          req->method, fn->methods);
        si_response_header(resp, "Allow", fn->methods);
        return;
    }
    /* Idempotency-Key (si_idempotency.h): a replay or its errors answer without the handler. */
    struct si_idem idem;
    if (si_idem_begin(ctx, req, resp, &idem) != 0) {
        si_idem_finish(ctx, req, resp, &idem);
        return;
    }
    int rc = fn->handle(ctx, req, resp);
    if (rc != 0 && resp->body.len == 0)
        si_response_error(resp, 500, "internal", "internal error");
    if (ctx->db != NULL && si_db_in_transaction(ctx->db)) {
        si_log(SI_LOG_ERROR, "handler left a transaction open; rolled back", NULL);
        si_db_rollback(ctx->db);
    }
    si_idem_finish(ctx, req, resp, &idem);
}

static void write_response(FCGX_Request *r, const char *method, const struct si_response *resp)
{
    char head[SI_RESPONSE_HEAD_MAX];
    int n = si_response_head(resp, head, sizeof head);
    if (n < 0)
        return;
    if (FCGX_PutStr(head, n, r->out) < 0)
        return;
    if (strcmp(method, "HEAD") != 0 && resp->body.len > 0)
        FCGX_PutStr(resp->body.data, (int)resp->body.len, r->out);
}

static void serve_one(struct si_ctx *ctx, FCGX_Request *r, struct si_response *resp)
{
    double t0 = si_clock_ms();
    si_metrics_request_start();
    struct si_request req;
    struct si_error err;
    si_error_clear(&err);
    si_response_reset(resp);
    if (si_request_from_env(&req, ctx->arena, r->envp, ctx->config->max_body, &err) != 0) {
        si_response_from_error(resp, &err);
    } else {
        req.body_read = fcgx_body_read;
        req.body_src = r->in;
        si_server_dispatch(ctx, &req, resp);
    }
    write_response(r, req.method ? req.method : "GET", resp);
    FCGX_Finish_r(r);
    double ms = si_ms_since(t0);
    si_metrics_request_end(resp->status, ms, true);
    si_log_request(req.request_id, req.method, req.path, resp->status, ms, ctx->worker,
                   resp->error_code, resp->log_detail);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct si_arena arena;
    struct si_buf scratch;
    struct si_response resp;
    struct si_db db, read_db;
    struct si_http_client http;
    FCGX_Request r;

    si_arena_init(&arena, SI_ARENA_MAX);
    si_buf_init(&scratch, w->cfg->max_body);
    si_response_init(&resp);
    si_http_client_init(&http);
    char app_name[64];
    snprintf(app_name, sizeof app_name, "smartimport-%s", w->fn->name);
    si_db_init(&db, w->cfg->database_url, app_name, w->cfg->db_connect_timeout_ms,
               w->cfg->db_query_timeout_ms);
    db.bulk_timeout_ms = w->cfg->db_bulk_timeout_ms;
    db.prepare = w->fn->prepare_statements;
    /* The read connection is opened by its first read only: none without the setting. */
    char read_name[64];
    snprintf(read_name, sizeof read_name, "smartimport-%s-read", w->fn->name);
    si_db_init_read(&read_db, &db, w->cfg->database_read_url, read_name);
    bool reads_apart = w->fn->needs_db && w->cfg->database_read_url != NULL;
    struct si_ctx ctx = {
        .config = w->cfg, .function = w->fn, .fn_config = w->fn_config, .db = w->fn->needs_db ? &db : NULL,
        .read_db = reads_apart ? &read_db : (w->fn->needs_db ? &db : NULL),
        .arena = &arena, .scratch = &scratch, .http = &http, .worker = w->id,
    };
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = w->listen_fd };
    struct epoll_event wev = { .events = EPOLLIN, .data.fd = w->wake_fd };
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, w->listen_fd, &lev) != 0 ||
        epoll_ctl(ep, EPOLL_CTL_ADD, w->wake_fd, &wev) != 0) {
        si_logf(SI_LOG_ERROR, "worker %d: epoll: %s", w->id, strerror(errno));
        goto out;
    }
    if (FCGX_InitRequest(&r, w->listen_fd, 0) != 0) {
        si_logf(SI_LOG_ERROR, "worker %d: FCGX_InitRequest failed", w->id);
        goto out;
    }
    bool idle = false;   /* the last accept found the backlog empty: wait for the next one */
    while (!atomic_load(&stopping)) {
        if (idle) {
            struct epoll_event ev[2];
            int n = epoll_wait(ep, ev, 2, -1);
            if (n < 0 && errno != EINTR) {
                si_logf(SI_LOG_ERROR, "worker %d: epoll_wait failed: %s", w->id, strerror(errno));
                struct timespec pause = { 0, 100 * 1000 * 1000 };
                nanosleep(&pause, NULL);
            }
            idle = false;
            continue;
        }
        int got = FCGX_Accept_r(&r);
        if (got < 0) {
            if (atomic_load(&stopping))
                break;
            if (got == -EAGAIN || got == -EWOULDBLOCK || got == -EINTR) {
                idle = true;
                continue;
            }
            si_logf(SI_LOG_ERROR, "worker %d: accept failed: %s", w->id, strerror(-got));
            struct timespec pause = { 0, 100 * 1000 * 1000 };
            nanosleep(&pause, NULL);
            continue;
        }
        serve_one(&ctx, &r, &resp);
        si_arena_reset(&arena);
        if (scratch.cap > 4 * 1024 * 1024)  /* give a large body's memory back */
            si_buf_cleanup(&scratch);
        si_buf_reset(&scratch);
    }
    FCGX_Free(&r, 0);
out:
    if (ep >= 0)
        close(ep);
    si_db_cleanup(&read_db);
    si_db_cleanup(&db);
    si_http_client_cleanup(&http);
    si_response_cleanup(&resp);
    si_buf_cleanup(&scratch);
    si_arena_cleanup(&arena);
    return NULL;
}


static int check_startup(const struct si_function *fn, const struct si_config *cfg)
{
    if (cfg->log_file != NULL && si_log_to_file(cfg->log_file) != 0) {
        si_logf(SI_LOG_ERROR, "cannot open SMARTIMPORT_LOG_FILE: %s", strerror(errno));
        return -1;
    }
    if (cfg->auth_mode == SI_AUTH_TRUST_BODY)
        si_log(SI_LOG_WARN, "SMARTIMPORT_AUTH=trust-body: callers are NOT authenticated, the user id "
                            "is taken from the request as sent. For local development only.", NULL);
    if (fn->needs_auth && cfg->auth_mode == SI_AUTH_JWT && cfg->jwt_secret_len == 0) {
        si_log(SI_LOG_ERROR, "SMARTIMPORT_JWT_SECRET is not set (or set SMARTIMPORT_AUTH=trust-body for development)", NULL);
        return -1;
    }
    if (fn->needs_db && cfg->database_url == NULL) {
        si_log(SI_LOG_ERROR, "DATABASE_URL is not set", NULL);
        return -1;
    }
    return 0;
}

/* --check-config: the function's init hook reads its own settings; cleanup gives them back. */
static int check_function(const struct si_config *cfg, void *arg, struct si_error *err)
{
    const struct si_function *fn = arg;
    void *fn_config = NULL;
    if (si_function_init(fn, cfg, &fn_config, err) != 0)
        return -1;
    si_function_cleanup(fn, fn_config);
    return 0;
}

int si_server_main(const struct si_function *fn, int argc, char **argv)
{
    struct si_config cfg;
    struct si_error err;
    si_log_setup(fn->name);
    if (si_check_config_asked(argc, argv))
        return si_check_config_main(environ, fn->needs_db, fn->needs_auth, check_function, (void *)fn);
    if (si_config_load(&cfg, environ, &err) != 0) {
        si_logf(SI_LOG_ERROR, "configuration: %s", err.message);
        return 2;
    }
    if (fn->max_body_default > 0 && si_env_get(environ, "SMARTIMPORT_MAX_BODY") == NULL)
        cfg.max_body = fn->max_body_default;
    if (check_startup(fn, &cfg) != 0)
        return 2;
    if (FCGX_Init() != 0) {
        si_log(SI_LOG_ERROR, "FCGX_Init failed", NULL);
        return 2;
    }
    int listen_fd = 0;
    if (cfg.listen_path != NULL) {
        char why[200];
        listen_fd = si_listen_open(cfg.listen_path, 1024, 0, why, sizeof why);
        if (listen_fd < 0) {
            si_logf(SI_LOG_ERROR, "cannot listen on SMARTIMPORT_LISTEN: %s", why);
            return 2;
        }
    } else if (FCGX_IsCGI()) {
        si_log(SI_LOG_ERROR, "standard input is not a FastCGI socket: start me with spawn-fcgi, "
                             "or set SMARTIMPORT_LISTEN=/path/to.sock or tcp:HOST:PORT", NULL);
        return 2;
    }

    /* A fixed mmap threshold: blocks of 1 MiB and more (an import's
     * occurrence table, reader buffers) are mapped and given back to the
     * system when freed.  With glibc's adaptive threshold they end up in the
     * worker threads' arenas, each of which then stays at its high-water
     * mark (seen: 50 MB per worker after one 1M-row import). */
    if (mallopt(M_MMAP_THRESHOLD, 1 << 20) != 1)
        si_log(SI_LOG_INFO, "mallopt(M_MMAP_THRESHOLD) not supported by this allocator", NULL);
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    /* Non-blocking, for the workers' accept-until-empty (accepted connections do not inherit it). */
    int fl = fcntl(listen_fd, F_GETFL);
    if (fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) != 0) {
        si_logf(SI_LOG_ERROR, "cannot make the listening socket non-blocking: %s", strerror(errno));
        return 2;
    }
    int wake_fd = eventfd(0, EFD_CLOEXEC);
    if (wake_fd < 0) {
        si_logf(SI_LOG_ERROR, "eventfd: %s", strerror(errno));
        return 2;
    }
    if (si_log_buffer_start(cfg.log_flush_ms) != 0)
        si_log(SI_LOG_WARN, "cannot buffer the log: every line is written at once", NULL);
    if (si_metrics_open(fn->name, environ) != 0)
        si_logf(SI_LOG_WARN, "metrics: cannot map SMARTIMPORT_METRICS_DIR/%s.<pid>: %s (not counted)", fn->name,
                strerror(errno));

    void *fn_config = NULL;
    if (si_function_init(fn, &cfg, &fn_config, &err) != 0) {
        si_logf(SI_LOG_ERROR, "configuration: %s", err.message);
        si_log_buffer_stop();
        close(wake_fd);
        return 2;
    }
    struct worker *workers = calloc((size_t)cfg.threads, sizeof *workers);
    if (workers == NULL) {
        si_function_cleanup(fn, fn_config);
        si_log_buffer_stop();
        close(wake_fd);
        return 2;
    }
    int started = 0;
    for (int i = 0; i < cfg.threads; i++) {
        workers[i] = (struct worker){ .id = i, .listen_fd = listen_fd, .wake_fd = wake_fd, .fn = fn, .cfg = &cfg, .fn_config = fn_config };
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
            si_logf(SI_LOG_ERROR, "cannot start worker %d", i);
            break;
        }
        started++;
    }
    si_log(SI_LOG_INFO, "started",
           json_pack("{s:s, s:i, s:i, s:I, s:s}", "version", PACKAGE_VERSION, "pid", (int)getpid(),
                     "threads", started, "max_body", (json_int_t)cfg.max_body,
                     "auth", cfg.auth_mode == SI_AUTH_JWT ? "jwt" : "trust-body"));

    int sig = 0;
    while (started == cfg.threads) {
        if (sigwait(&set, &sig) != 0)
            break;
        if (sig != SIGUSR1)
            break;
        si_log_reopened(si_log_reopen());
    }
    atomic_store(&stopping, true);
    si_log(SI_LOG_INFO, "stopping: finishing requests in flight", json_pack("{s:i}", "signal", sig));
    uint64_t one = 1;
    if (write(wake_fd, &one, sizeof one) != (ssize_t)sizeof one)
        si_logf(SI_LOG_ERROR, "cannot wake the workers: %s", strerror(errno));
    for (int i = 0; i < started; i++)
        pthread_join(workers[i].thread, NULL);
    free(workers);
    close(wake_fd);
    si_function_cleanup(fn, fn_config);
    si_metrics_close();
    si_log(SI_LOG_INFO, "stopped", NULL);
    si_log_buffer_stop();
    return started == cfg.threads ? 0 : 1;
}
