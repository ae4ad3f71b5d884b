/* events_conn.c: one FastCGI connection from nginx (= one request) of the import-events
 * responder: its output queue, writing it without blocking, reading and feeding the
 * FastCGI record layer (fcgi_proto.c), and its end.
 *
 * Output is queued per connection as FastCGI records in a bounded buffer and
 * written without blocking; EPOLLOUT is asked for only while something is
 * left.  A connection reads until EAGAIN; EOF from nginx means the client is
 * gone (nginx closes the FastCGI connection when its client goes), which
 * frees the stream.  A connection is closed (ev_conn_free) only by the loop,
 * at the end of the turn in which it was doomed (events_loop.c). */
#include "events.h"
#include "si_log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>


void ev_conn_set_state(struct ev_loop *L, struct ev_conn *c, enum ev_conn_state state)
{
    if (c->state == EV_CONN_READING && state != EV_CONN_READING)
        L->n_reading--;
    else if (c->state != EV_CONN_READING && state == EV_CONN_READING)
        L->n_reading++;
    c->state = state;
}

struct ev_conn *ev_conn_new(struct ev_loop *L, int fd)
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
    if (ev_epoll_set(L, EPOLL_CTL_ADD, fd, c->epoll_mask, c) != 0) {
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

void ev_conn_free(struct ev_loop *L, struct ev_conn *c)
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
    if (ev_epoll_set(L, EPOLL_CTL_MOD, c->fd, mask, c) != 0) {
        ev_conn_doom(L, c, "epoll_error");
        return;
    }
    c->epoll_mask = mask;
}

void ev_conn_flush(struct ev_loop *L, struct ev_conn *c)
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

void ev_conn_event(struct ev_loop *L, struct ev_conn *c, uint32_t events)
{
    if (c->doomed)
        return;
    if (events & EPOLLOUT)
        ev_conn_flush(L, c);
    if (!c->doomed && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        conn_read(L, c);
}
