/* events_loop.c: the single-threaded epoll loop of the import-events responder.
 *
 * One turn: wait for readiness (or the next timer), handle every ready
 * descriptor, run the timers (heartbeats, request deadlines, shutdown), let
 * the bus fetch replay pages and send its fence, write what was queued, and
 * close the connections that were doomed during the turn.  Closing only at
 * the end of a turn means a connection or stream found through a list stays
 * valid while that list is walked.
 *
 * The connections themselves (output queue, reads, FastCGI records) are
 * events_conn.c's; the loop accepts them, dispatches their readiness, and
 * writes and closes them at the end of each turn.
 *
 * Statements run on the query threads (events_pool.c); their answers come
 * back through an eventfd in the same epoll set, so a slow statement delays
 * only the request (or stream) that asked for it.  A stream whose token
 * expires is ended cleanly at that moment (the client reconnects with a
 * fresh token and Last-Event-ID).
 *
 * SIGTERM/SIGINT (through a signalfd): stop accepting, end every stream with
 * FCGI_END_REQUEST, give the queued bytes EV_SHUTDOWN_DRAIN_MS to leave, free
 * everything and return.  SIGUSR1 logs a stats line and reopens SMARTIMPORT_LOG_FILE. */
#include "events.h"
#include "si_listen.h"
#include "si_log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "si_clock.h"

#define EV_EPOLL_BATCH 256

long long ev_now_ms(void)
{
    return si_now_ms();
}

int ev_epoll_set(struct ev_loop *L, int op, int fd, uint32_t events, void *ptr)
{
    struct epoll_event ev = { .events = events, .data.ptr = ptr };
    return epoll_ctl(L->epfd, op, fd, &ev);
}

/* --- accepting ---------------------------------------------------------------------- */

static void accept_pause(struct ev_loop *L, long long now)
{
    if (L->accept_registered) {
        epoll_ctl(L->epfd, EPOLL_CTL_DEL, L->accept_fd, NULL);
        L->accept_registered = false;
    }
    L->accept_paused_until_ms = now + 100;
}

static void accept_some(struct ev_loop *L)
{
    for (int i = 0; i < 64 && L->accept_fd >= 0; i++) {
        struct sockaddr_storage peer;
        socklen_t peer_len = sizeof peer;
        int fd = accept4(L->accept_fd, (struct sockaddr *)&peer, &peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            si_logf(SI_LOG_WARN, "accept failed: %s; pausing for 100 ms", strerror(errno));
            accept_pause(L, ev_now_ms());
            return;
        }
        if (peer.ss_family == AF_INET || peer.ss_family == AF_INET6) {
            /* FastCGI over TCP: only nginx's addresses (FCGI_WEB_SERVER_ADDRS), and no Nagle
             * delay on the small writes of a stream. */
            if (!si_listen_peer_allowed((struct sockaddr *)&peer, L->set.web_server_addrs)) {
                si_log(SI_LOG_WARN, "connection from an address not in FCGI_WEB_SERVER_ADDRS: closed", NULL);
                close(fd);
                continue;
            }
            int one = 1;
            if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
                si_logf(SI_LOG_WARN, "TCP_NODELAY: %s", strerror(errno));
        }
        if (L->n_conns >= (size_t)L->set.max_streams + EV_MAX_PENDING_CONNS) {
            si_log(SI_LOG_WARN, "too many connections: refused one", NULL);
            close(fd);
            continue;
        }
        if (ev_conn_new(L, fd) == NULL) {
            si_log(SI_LOG_ERROR, "out of memory accepting a connection", NULL);
            close(fd);
        }
    }
}

/* --- timers, signals, shutdown ------------------------------------------------------- */

static void log_stats(struct ev_loop *L)
{
    const struct ev_stats *s = &L->stats;
    si_log(SI_LOG_INFO, "stats",
           json_pack("{s:I, s:I, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                     "streams", (json_int_t)L->n_streams, "connections", (json_int_t)L->n_conns,
                     "listening", L->bus.up, "opened", (json_int_t)s->streams_opened,
                     "closed", (json_int_t)s->streams_closed, "requests", (json_int_t)s->requests,
                     "notifications", (json_int_t)s->notifications, "batches", (json_int_t)s->batches,
                     "delivered", (json_int_t)s->delivered, "overflows", (json_int_t)s->overflows,
                     "listenReconnects", (json_int_t)s->listen_reconnects,
                     "liveDelivered", (json_int_t)s->live_delivered));
}

static void begin_shutdown(struct ev_loop *L, int sig)
{
    if (L->stopping)
        return;
    L->stopping = true;
    L->stop_deadline_ms = ev_now_ms() + EV_SHUTDOWN_DRAIN_MS;
    si_log(SI_LOG_INFO, "stopping: ending open streams",
           json_pack("{s:i, s:I}", "signal", sig, "streams", (json_int_t)L->n_streams));
    if (L->accept_fd >= 0) {
        if (L->accept_registered)
            epoll_ctl(L->epfd, EPOLL_CTL_DEL, L->accept_fd, NULL);
        close(L->accept_fd);
        L->accept_fd = -1;
        L->accept_registered = false;
    }
    for (struct ev_conn *c = L->conns; c != NULL; c = c->next) {
        if (c->doomed)
            continue;
        if (c->sub != NULL && c->state == EV_CONN_STREAM)
            ev_stream_end(L, c, "shutdown");
        else if (c->state == EV_CONN_READING || c->state == EV_CONN_QUERY)
            ev_conn_doom(L, c, "shutdown");
    }
}

static void on_signal(struct ev_loop *L)
{
    struct signalfd_siginfo si;
    while (read(L->signal_fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGUSR1) {   /* the stats line, and the log file reopened (si_log.h) */
            log_stats(L);
            si_log_reopened(si_log_reopen());
        }
        else
            begin_shutdown(L, (int)si.ssi_signo);
    }
}

static void heartbeat(struct ev_loop *L)
{
    static const char hb[] = ": hb\n\n";
    for (struct ev_conn *c = L->conns; c != NULL; c = c->next)
        if (c->sub != NULL && !c->doomed && c->state == EV_CONN_STREAM)
            ev_conn_send(L, c, hb, sizeof hb - 1);
}

/* Ends the streams whose token expired and finds the next expiry. */
static void end_expired(struct ev_loop *L, long long now)
{
    long long next = LLONG_MAX;
    for (struct ev_conn *c = L->conns; c != NULL; c = c->next) {
        if (c->sub == NULL || c->doomed || c->state != EV_CONN_STREAM || c->sub->expires_ms == 0)
            continue;
        if (c->sub->expires_ms <= now)
            ev_stream_end(L, c, "token_expired");
        else if (c->sub->expires_ms < next)
            next = c->sub->expires_ms;
    }
    L->next_expiry_ms = next;
}

/* Answers from the query threads, in the order they came. */
static void on_pool(struct ev_loop *L)
{
    struct ev_job *job = ev_pool_take_done(&L->pool);
    while (job != NULL) {
        struct ev_job *next = job->next;
        if (job->kind == EV_JOB_VISIBLE || job->kind == EV_JOB_NOW || job->kind == EV_JOB_PAGE)
            ev_request_on_job(L, job);
        else
            ev_bus_on_job(L, job);
        ev_job_free(job);
        job = next;
    }
}

static void timers(struct ev_loop *L, long long now)
{
    if (now >= L->next_heartbeat_ms) {
        heartbeat(L);
        L->next_heartbeat_ms = now + L->set.heartbeat_ms;
    }
    if (now >= L->next_expiry_ms)
        end_expired(L, now);
    if (L->n_reading > 0) {
        for (struct ev_conn *c = L->conns; c != NULL; c = c->next)
            if (c->state == EV_CONN_READING && !c->doomed && now - c->opened_ms > EV_REQUEST_TIMEOUT_MS)
                ev_conn_doom(L, c, "request_timeout");
    }
    if (L->accept_fd >= 0 && !L->accept_registered && now >= L->accept_paused_until_ms) {
        if (ev_epoll_set(L, EPOLL_CTL_ADD, L->accept_fd, EPOLLIN, &L->accept_watch) == 0)
            L->accept_registered = true;
        else
            L->accept_paused_until_ms = now + 100;
    }
    if (L->stopping && now >= L->stop_deadline_ms) {
        for (struct ev_conn *c = L->conns; c != NULL; c = c->next)
            ev_conn_doom(L, c, c->close_reason ? c->close_reason : "shutdown");
    }
}

static int next_timeout(const struct ev_loop *L, long long now)
{
    long long t = L->next_heartbeat_ms - now;
    if (L->next_expiry_ms - now < t)
        t = L->next_expiry_ms - now;
    if (L->n_reading > 0 && t > 1000)
        t = 1000;
    if (L->accept_fd >= 0 && !L->accept_registered && L->accept_paused_until_ms - now < t)
        t = L->accept_paused_until_ms - now;
    int bus = L->stopping ? -1 : ev_bus_timeout(L, now);
    if (bus >= 0 && bus < t)
        t = bus;
    if (L->stopping && t > 50)
        t = 50;
    return t < 0 ? 0 : (int)t;
}

static void flush_dirty(struct ev_loop *L)
{
    while (L->dirty != NULL) {
        struct ev_conn *c = L->dirty;
        L->dirty = c->dirty_next;
        c->dirty_next = NULL;
        c->dirty = false;
        if (!c->doomed)
            ev_conn_flush(L, c);
    }
}

static void reap(struct ev_loop *L)
{
    while (L->doomed != NULL) {
        struct ev_conn *c = L->doomed;
        L->doomed = c->doomed_next;
        ev_conn_free(L, c);
    }
}

/* --- the loop ----------------------------------------------------------------------- */

int ev_loop_init(struct ev_loop *L, const struct si_config *cfg, const struct ev_settings *set,
                 int accept_fd)
{
    memset(L, 0, sizeof *L);
    L->cfg = cfg;
    L->set = *set;
    L->epfd = -1;
    L->signal_fd = -1;
    L->accept_fd = accept_fd;
    L->accept_watch.kind = EV_WATCH_ACCEPT;
    L->signal_watch.kind = EV_WATCH_SIGNAL;
    L->listen_db_watch.kind = EV_WATCH_LISTEN_DB;
    L->pool_watch.kind = EV_WATCH_POOL;
    L->pool.done_fd = -1;
    si_arena_init(&L->arena, SI_ARENA_MAX);
    si_response_init(&L->resp);
    si_buf_init(&L->frame, 4 * SI_EVENT_PAYLOAD_MAX);
    ev_bus_init(&L->bus, cfg);
    L->next_heartbeat_ms = ev_now_ms() + set->heartbeat_ms;
    L->next_expiry_ms = LLONG_MAX;

    L->readbuf = malloc(EV_READ_CHUNK);
    if (L->readbuf == NULL)
        return -1;
    L->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (L->epfd < 0)
        return -1;
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGUSR1);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0)
        return -1;
    L->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (L->signal_fd < 0 || ev_epoll_set(L, EPOLL_CTL_ADD, L->signal_fd, EPOLLIN, &L->signal_watch) != 0)
        return -1;
    /* after the signals are blocked: the query threads inherit the mask */
    if (ev_pool_init(&L->pool, cfg, set->query_threads, set->query_timeout_ms) != 0 ||
        ev_epoll_set(L, EPOLL_CTL_ADD, L->pool.done_fd, EPOLLIN, &L->pool_watch) != 0)
        return -1;
    int flags = fcntl(accept_fd, F_GETFL);
    if (flags < 0 || fcntl(accept_fd, F_SETFL, flags | O_NONBLOCK) != 0)
        return -1;
    if (ev_epoll_set(L, EPOLL_CTL_ADD, accept_fd, EPOLLIN, &L->accept_watch) != 0)
        return -1;
    L->accept_registered = true;
    return 0;
}

int ev_loop_run(struct ev_loop *L)
{
    si_log(SI_LOG_INFO, "started",
           json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:I, s:s}", "version", PACKAGE_VERSION, "pid", (int)getpid(),
                     "maxStreams", L->set.max_streams, "streamsPerUser", L->set.streams_per_user,
                     "queryThreads", L->set.query_threads, "heartbeatMs", L->set.heartbeat_ms,
                     "outMax", (json_int_t)L->set.out_max,
                     "auth", L->cfg->auth_mode == SI_AUTH_JWT ? "jwt" : "trust-body"));
    ev_bus_tick(L, ev_now_ms());   /* LISTEN before the first request */
    struct epoll_event evs[EV_EPOLL_BATCH];
    while (!(L->stopping && L->n_conns == 0)) {
        int n = epoll_wait(L->epfd, evs, EV_EPOLL_BATCH, next_timeout(L, ev_now_ms()));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            si_logf(SI_LOG_ERROR, "epoll_wait failed: %s", strerror(errno));
            return -1;
        }
        for (int i = 0; i < n; i++) {
            struct ev_watch *w = evs[i].data.ptr;
            switch (w->kind) {
            case EV_WATCH_ACCEPT:
                accept_some(L);
                break;
            case EV_WATCH_SIGNAL:
                on_signal(L);
                break;
            case EV_WATCH_LISTEN_DB:
                ev_bus_on_input(L);
                break;
            case EV_WATCH_POOL:
                on_pool(L);
                break;
            case EV_WATCH_CONN:
                ev_conn_event(L, (struct ev_conn *)w, evs[i].events);
                break;
            }
        }
        long long now = ev_now_ms();
        timers(L, now);
        if (!L->stopping)
            ev_bus_tick(L, now);
        flush_dirty(L);
        reap(L);
    }
    log_stats(L);
    return 0;
}

void ev_loop_cleanup(struct ev_loop *L)
{
    while (L->conns != NULL) {
        struct ev_conn *c = L->conns;
        if (c->close_reason == NULL)
            c->close_reason = "shutdown";
        ev_conn_free(L, c);
    }
    L->dirty = L->doomed = NULL;
    ev_bus_cleanup(L);
    ev_pool_cleanup(&L->pool);
    if (L->accept_fd >= 0)
        close(L->accept_fd);
    L->accept_fd = -1;
    if (L->signal_fd >= 0)
        close(L->signal_fd);
    L->signal_fd = -1;
    if (L->epfd >= 0)
        close(L->epfd);
    L->epfd = -1;
    free(L->readbuf);
    L->readbuf = NULL;
    si_buf_cleanup(&L->frame);
    si_response_cleanup(&L->resp);
    si_arena_cleanup(&L->arena);
}
