/* events_loop.c: the single-threaded epoll loop of the import-events responder.
 *
 * One turn: wait for readiness (or the next timer), handle every ready
 * descriptor, run the timers (heartbeats, request deadlines, shutdown), let
 * the bus fetch replay pages and send its fence, write what was queued, and
 * close the connections that were doomed during the turn.  Closing only at
 * the end of a turn means a connection or stream found through a list stays
 * valid while that list is walked.
 *
 * Output is queued per connection as FastCGI records in a bounded buffer and
 * written without blocking; EPOLLOUT is asked for only while something is
 * left.  A connection reads until EAGAIN; EOF from nginx means the client is
 * gone (nginx closes the FastCGI connection when its client goes), which
 * frees the stream.
 *
 * Statements run on the query threads (events_pool.c); their answers come
 * back through an eventfd in the same epoll set, so a slow statement delays
 * only the request (or stream) that asked for it.  A stream whose token
 * expires is ended cleanly at that moment (the client reconnects with a
 * fresh token and Last-Event-ID).
 *
 * SIGTERM/SIGINT (through a signalfd): stop accepting, end every stream with
 * FCGI_END_REQUEST, give the queued bytes EV_SHUTDOWN_DRAIN_MS to leave, free
 * everything and return.  SIGUSR1 logs a stats line. */
#include "events.h"
#include "si_log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int epoll_set(struct ev_loop *L, int op, int fd, uint32_t events, void *ptr)
{
    struct epoll_event ev = { .events = events, .data.ptr = ptr };
    return epoll_ctl(L->epfd, op, fd, &ev);
}

/* --- connections ------------------------------------------------------------------ */

void ev_conn_set_state(struct ev_loop *L, struct ev_conn *c, enum ev_conn_state state)
{
    if (c->state == EV_CONN_READING && state != EV_CONN_READING)
        L->n_reading--;
    else if (c->state != EV_CONN_READING && state == EV_CONN_READING)
        L->n_reading++;
    c->state = state;
}

static struct ev_conn *conn_new(struct ev_loop *L, int fd)
{
    struct ev_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->watch.kind = EV_WATCH_CONN;
    c->fd = fd;
    c->state = EV_CONN_READING;
    fcgi_conn_init(&c->proto, EV_MAX_PARAMS, EV_MAX_STDIN);
    c->proto.max_conns = (unsigned)L->set.max_streams + EV_MAX_PENDING_CONNS;
    si_buf_init(&c->in, FCGI_MAX_RECORD + EV_READ_CHUNK);
    si_buf_init(&c->out, EV_RESPONSE_MAX);
    c->opened_ms = ev_now_ms();
    c->epoll_mask = EPOLLIN | EPOLLRDHUP;
    if (epoll_set(L, EPOLL_CTL_ADD, fd, c->epoll_mask, c) != 0) {
        fcgi_conn_cleanup(&c->proto);
        free(c);
        return NULL;
    }
    c->next = L->conns;
    if (L->conns != NULL)
        L->conns->prev = c;
    L->conns = c;
    L->n_conns++;
    L->n_reading++;
    return c;
}

static void conn_free(struct ev_loop *L, struct ev_conn *c)
{
    if (c->sub != NULL)
        ev_bus_unsubscribe(L, c->sub, c->sub->started ? (c->close_reason ? c->close_reason : "closed") : NULL);
    if (c->job != NULL)
        c->job->conn = NULL;   /* its answer is dropped when it comes */
    free(c->pending);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        L->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    if (c->state == EV_CONN_READING)
        L->n_reading--;
    L->n_conns--;
    epoll_ctl(L->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    fcgi_conn_cleanup(&c->proto);
    si_buf_cleanup(&c->in);
    si_buf_cleanup(&c->out);
    free(c);
}

void ev_conn_doom(struct ev_loop *L, struct ev_conn *c, const char *reason)
{
    if (c->doomed)
        return;
    c->doomed = true;
    c->close_reason = reason;
    c->doomed_next = L->doomed;
    L->doomed = c;
}

static void mark_dirty(struct ev_loop *L, struct ev_conn *c)
{
    if (c->dirty || c->doomed)
        return;
    c->dirty = true;
    c->dirty_next = L->dirty;
    L->dirty = c;
}

size_t ev_conn_pending(const struct ev_conn *c)
{
    return c->out.len - c->out_off;
}

static void out_compact(struct ev_conn *c)
{
    if (c->out_off == 0)
        return;
    size_t left = c->out.len - c->out_off;
    memmove(c->out.data, c->out.data + c->out_off, left);
    c->out.len = left;
    c->out.data[left] = '\0';
    c->out_off = 0;
}

int ev_conn_send(struct ev_loop *L, struct ev_conn *c, const void *data, size_t n)
{
    if (c->doomed)
        return -1;
    size_t need = fcgi_stream_size(n);
    if (c->out_off > 0 && (c->out.len + need > c->out.max || c->out_off > c->out.len / 2))
        out_compact(c);
    if (fcgi_append_stream(&c->out, FCGI_REC_STDOUT, c->proto.request_id, data, n) != 0) {
        if (c->sub != NULL)
            L->stats.overflows++;
        ev_conn_doom(L, c, "overflow");
        return -1;
    }
    mark_dirty(L, c);
    return 0;
}

void ev_conn_finish(struct ev_loop *L, struct ev_conn *c)
{
    if (c->doomed)
        return;
    out_compact(c);
    if (c->out.max < c->out.len + 64)
        c->out.max = c->out.len + 64;   /* room for the two closing records */
    if (fcgi_append_record(&c->out, FCGI_REC_STDOUT, c->proto.request_id, NULL, 0) != 0 ||
        fcgi_append_end_request(&c->out, c->proto.request_id, 0, FCGI_STATUS_REQUEST_COMPLETE) != 0) {
        ev_conn_doom(L, c, "overflow");
        return;
    }
    ev_conn_set_state(L, c, EV_CONN_FLUSHING);
    mark_dirty(L, c);
}

void ev_stream_end(struct ev_loop *L, struct ev_conn *c, const char *reason)
{
    if (c->sub != NULL)
        ev_bus_unsubscribe(L, c->sub, reason);
    if (c->close_reason == NULL)
        c->close_reason = reason;
    ev_conn_finish(L, c);
}

static void set_want_write(struct ev_loop *L, struct ev_conn *c, bool want)
{
    uint32_t mask = EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0);
    if (mask == c->epoll_mask)
        return;
    if (epoll_set(L, EPOLL_CTL_MOD, c->fd, mask, c) != 0) {
        ev_conn_doom(L, c, "epoll_error");
        return;
    }
    c->epoll_mask = mask;
}

static void conn_flush(struct ev_loop *L, struct ev_conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        ev_conn_doom(L, c, c->sub != NULL ? "client_gone" : "write_error");
        return;
    }
    if (c->out_off < c->out.len) {
        set_want_write(L, c, true);
        return;
    }
    c->out_off = 0;
    si_buf_reset(&c->out);
    if (c->out.cap > EV_OUT_KEEP)
        si_buf_cleanup(&c->out);   /* an idle stream keeps little memory */
    if (c->state == EV_CONN_FLUSHING) {
        ev_conn_doom(L, c, c->close_reason ? c->close_reason : "done");
        return;
    }
    set_want_write(L, c, false);
}

static void on_protocol_error(struct ev_loop *L, struct ev_conn *c)
{
    si_log(SI_LOG_WARN, "FastCGI protocol error",
           json_pack("{s:s}", "detail", c->proto.error ? c->proto.error : "?"));
    if (c->sub != NULL)
        ev_bus_unsubscribe(L, c->sub, "protocol_error");
    c->close_reason = "protocol_error";
    ev_conn_set_state(L, c, EV_CONN_FLUSHING);   /* flush any refusal, then close */
    mark_dirty(L, c);
}

static void conn_feed(struct ev_loop *L, struct ev_conn *c)
{
    while (c->in.len > 0 && !c->doomed) {
        size_t used = 0, out_before = c->out.len;
        enum fcgi_event ev = fcgi_conn_feed(&c->proto, (const uint8_t *)c->in.data, c->in.len, &used,
                                            &c->out);
        if (c->out.len != out_before)
            mark_dirty(L, c);
        if (used > 0) {
            memmove(c->in.data, c->in.data + used, c->in.len - used);
            c->in.len -= used;
            c->in.data[c->in.len] = '\0';
        }
        switch (ev) {
        case FCGI_EV_NONE:
            if (c->in.len == 0)
                si_buf_cleanup(&c->in);
            return;
        case FCGI_EV_REQUEST:
            if (c->state == EV_CONN_READING)
                ev_request_handle(L, c);
            break;
        case FCGI_EV_ABORT:
            if (c->sub != NULL && c->state == EV_CONN_STREAM)
                ev_stream_end(L, c, "aborted");
            else if (c->state == EV_CONN_READING || c->state == EV_CONN_QUERY)
                ev_conn_doom(L, c, "aborted");
            return;
        case FCGI_EV_ERROR:
            on_protocol_error(L, c);
            return;
        }
    }
}

static void conn_read(struct ev_loop *L, struct ev_conn *c)
{
    for (int round = 0; round < 4 && !c->doomed; round++) {
        ssize_t n = read(c->fd, L->readbuf, EV_READ_CHUNK);
        if (n > 0) {
            if (c->state == EV_CONN_FLUSHING)
                continue;   /* the response is complete; nothing more to read */
            if (si_buf_append(&c->in, L->readbuf, (size_t)n) != 0) {
                ev_conn_doom(L, c, "input_overflow");
                return;
            }
            conn_feed(L, c);
            continue;
        }
        if (n == 0) {
            ev_conn_doom(L, c, c->sub != NULL ? "client_gone" : "peer_closed");
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            ev_conn_doom(L, c, c->sub != NULL ? "client_gone" : "read_error");
        return;
    }
}

static void conn_event(struct ev_loop *L, struct ev_conn *c, uint32_t events)
{
    if (c->doomed)
        return;
    if (events & EPOLLOUT)
        conn_flush(L, c);
    if (!c->doomed && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        conn_read(L, c);
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
        int fd = accept4(L->accept_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            si_logf(SI_LOG_WARN, "accept failed: %s; pausing for 100 ms", strerror(errno));
            accept_pause(L, ev_now_ms());
            return;
        }
        if (L->n_conns >= (size_t)L->set.max_streams + EV_MAX_PENDING_CONNS) {
            si_log(SI_LOG_WARN, "too many connections: refused one", NULL);
            close(fd);
            continue;
        }
        if (conn_new(L, fd) == NULL) {
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
           json_pack("{s:I, s:I, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                     "streams", (json_int_t)L->n_streams, "connections", (json_int_t)L->n_conns,
                     "listening", L->bus.up, "opened", (json_int_t)s->streams_opened,
                     "closed", (json_int_t)s->streams_closed, "requests", (json_int_t)s->requests,
                     "notifications", (json_int_t)s->notifications, "batches", (json_int_t)s->batches,
                     "delivered", (json_int_t)s->delivered, "overflows", (json_int_t)s->overflows,
                     "listenReconnects", (json_int_t)s->listen_reconnects));
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
        if (si.ssi_signo == SIGUSR1)
            log_stats(L);
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
        if (job->kind == EV_JOB_VISIBLE || job->kind == EV_JOB_PAGE)
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
        if (epoll_set(L, EPOLL_CTL_ADD, L->accept_fd, EPOLLIN, &L->accept_watch) == 0)
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
            conn_flush(L, c);
    }
}

static void reap(struct ev_loop *L)
{
    while (L->doomed != NULL) {
        struct ev_conn *c = L->doomed;
        L->doomed = c->doomed_next;
        conn_free(L, c);
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
    if (L->signal_fd < 0 || epoll_set(L, EPOLL_CTL_ADD, L->signal_fd, EPOLLIN, &L->signal_watch) != 0)
        return -1;
    /* after the signals are blocked: the query threads inherit the mask */
    if (ev_pool_init(&L->pool, cfg, set->query_threads, set->query_timeout_ms) != 0 ||
        epoll_set(L, EPOLL_CTL_ADD, L->pool.done_fd, EPOLLIN, &L->pool_watch) != 0)
        return -1;
    int flags = fcntl(accept_fd, F_GETFL);
    if (flags < 0 || fcntl(accept_fd, F_SETFL, flags | O_NONBLOCK) != 0)
        return -1;
    if (epoll_set(L, EPOLL_CTL_ADD, accept_fd, EPOLLIN, &L->accept_watch) != 0)
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
                conn_event(L, (struct ev_conn *)w, evs[i].events);
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
        conn_free(L, c);
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
