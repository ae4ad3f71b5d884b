/* events_replay.c: replay pages and fences of the import-events bus.
 *
 * A stream first gets the events after its cursor, page by page (one page
 * per fence, and only while the client keeps up), then live rows.  A page's
 * ids stay in the stream's `recent` until the fence committed after the page
 * arrives and every notification read before it was delivered, so a late
 * notification of a replayed row is recognised and not sent twice
 * (events.h explains why that suffices).  After the LISTEN connection was
 * lost, every stream catches up with replay pages from its cursor. */
#include "events.h"
#include "si_metrics.h"
#include "si_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char sql_replay_user[] =
    "SELECT " EV_ROW_COLUMNS " FROM import_events "
    "WHERE user_id = $1::uuid AND id > $2::bigint ORDER BY id LIMIT $3::int";
static const char sql_replay_import[] =
    "SELECT " EV_ROW_COLUMNS " FROM import_events "
    "WHERE import_id = $4::uuid AND user_id = $1::uuid AND id > $2::bigint ORDER BY id LIMIT $3::int";
static const char sql_fence[] = "SELECT pg_notify('import_events_fence', $1)";

/* --- replay pages ---------------------------------------------------------------------- */

static int recent_reserve(struct ev_sub *sub, size_t n)
{
    if (n <= sub->cap_recent)
        return 0;
    long long *p = realloc(sub->recent, n * sizeof *p);
    if (p == NULL)
        return -1;
    sub->recent = p;
    sub->cap_recent = n;
    return 0;
}

int ev_replay_submit(struct ev_loop *L, struct ev_sub *sub)
{
    char after[24], limit[16];
    snprintf(after, sizeof after, "%lld", sub->page_cursor);
    snprintf(limit, sizeof limit, "%d", EV_REPLAY_PAGE);
    const char *params[] = { sub->user, after, limit, sub->import_id };
    bool by_import = sub->import_id[0] != '\0';
    struct ev_job *job = ev_job_new(EV_JOB_REPLAY, by_import ? sql_replay_import : sql_replay_user,
                                    by_import ? 4 : 3, params);
    if (job == NULL)
        return -1;
    job->sub = sub;
    sub->page_job = job;
    ev_pool_submit(&L->pool, EV_LANE_BUS, job);
    return 0;
}

/* The fence a page answered now waits for: the next one sent (a fence
 * already in flight may have been committed before the page's snapshot). */
static unsigned long long next_fence(const struct ev_bus *bus)
{
    return bus->fence_busy ? bus->fence_next + 1 : bus->fence_next;
}

/* Appends the frames of a replay page to sub's stream. */
static int apply_page(struct ev_loop *L, struct ev_sub *sub, PGresult *res, struct si_error *err)
{
    struct ev_bus *bus = &L->bus;
    int rows = PQntuples(res);
    /* A new page replaces `recent`; the previous page's fence has arrived (pages wait for it). */
    ev_sub_set_await(bus, sub, 0);
    if (recent_reserve(sub, (size_t)rows) != 0)
        return si_error_set(err, 500, "internal", "out of memory");
    size_t high = L->set.out_max / 2;
    bool cut = false;
    struct ev_conn *c = sub->conn;
    for (int i = 0; i < rows; i++) {
        if (ev_conn_pending(c) >= high) {
            cut = true;
            break;
        }
        struct ev_row row;
        if (ev_row_read(res, i, &row) != 0) {
            si_log(SI_LOG_WARN, "skipped an event row that does not match the schema", NULL);
            long long id = 0;
            if (si_db_get_int64(res, i, 0, &id) == 0 && id > sub->page_cursor)
                sub->page_cursor = id;
            continue;
        }
        long long id_line = row.id > sub->cursor ? row.id : sub->cursor;
        si_buf_reset(&L->frame);
        if (ev_sse_frame(&L->frame, id_line, &row) != 0)
            return si_error_set(err, 500, "internal", "event frame too large");
        if (ev_conn_send(L, c, L->frame.data, L->frame.len) != 0)
            break;   /* the stream was cut off; it is closed at the end of the turn */
        sub->recent[sub->n_recent++] = row.id;
        sub->page_cursor = row.id;
        sub->cursor = id_line;
        sub->events_sent++;
        L->stats.delivered++;
        si_metrics_sse_delivered(false);
    }
    ev_sub_set_replaying(bus, sub, cut || rows == EV_REPLAY_PAGE);
    if (sub->n_recent > 0) {
        ev_sub_set_await(bus, sub, next_fence(bus));
        bus->fence_wanted = true;
    }
    return 0;
}

void ev_replay_on_page(struct ev_loop *L, struct ev_job *job)
{
    struct ev_bus *bus = &L->bus;
    struct ev_sub *sub = job->sub;
    if (sub == NULL)
        return;   /* the stream went away, or a catch-up replaced this page */
    sub->page_job = NULL;
    struct ev_conn *c = sub->conn;
    struct si_error err = job->err;
    if (c == NULL || c->doomed)
        return;
    if (!sub->started) {
        if (job->res == NULL) {
            ev_request_stream_failed(L, c, &err);   /* unsubscribes sub */
            return;
        }
        char head[256];
        int n = si_http_head(head, sizeof head, 200, "text/event-stream", -1, "X-Accel-Buffering: no\r\n");
        /* after=now: an `id:` line without data sets the client's Last-Event-ID
         * (no event is dispatched), so a reconnect before any event resumes here */
        int m = n < 0 ? -1
              : sub->announce_cursor
                  ? snprintf(head + n, sizeof head - (size_t)n, "retry: %d\nid: %lld\n\n", EV_RETRY_MS, sub->cursor)
                  : snprintf(head + n, sizeof head - (size_t)n, "retry: %d\n\n", EV_RETRY_MS);
        ev_conn_set_state(L, c, EV_CONN_STREAM);
        c->out.max = L->set.out_max > c->out.len + 4096 ? L->set.out_max : c->out.len + 4096;
        sub->started = true;
        if (m < 0 || (size_t)(n + m) >= sizeof head || ev_conn_send(L, c, head, (size_t)(n + m)) != 0) {
            ev_conn_doom(L, c, "internal");
            return;
        }
        if (apply_page(L, sub, job->res, &err) != 0) {
            ev_conn_doom(L, c, "replay_failed");
            return;
        }
        ev_request_stream_started(L, c);
        return;
    }
    if (job->res != NULL && apply_page(L, sub, job->res, &err) == 0)
        return;
    if (err.status == 503 || err.status == 504) {
        si_log(SI_LOG_WARN, "replay page failed; retrying",
               json_pack("{s:s, s:s}", "code", err.code ? err.code : "?", "detail", err.detail));
        bus->db_retry_at_ms = ev_now_ms() + EV_DB_RETRY_MS;
        return;   /* still replaying: run_pages submits it again */
    }
    si_log(SI_LOG_ERROR, "replay page failed; ending the stream",
           json_pack("{s:s, s:s}", "code", err.code ? err.code : "?", "detail", err.detail));
    ev_conn_doom(L, c, "replay_failed");
}

/* Every replaying stream whose fence arrived and whose client keeps up gets its next page. */
void ev_replay_run(struct ev_loop *L)
{
    struct ev_bus *bus = &L->bus;
    for (unsigned b = 0; b < EV_USER_BUCKETS && bus->n_replaying > 0; b++) {
        for (struct ev_sub *sub = bus->buckets[b]; sub != NULL; sub = sub->hnext) {
            if (!sub->replaying || sub->await_fence != 0 || sub->page_job != NULL || sub->conn == NULL ||
                sub->conn->doomed)
                continue;
            if (sub->started && (!ev_sub_live(sub) || ev_conn_pending(sub->conn) >= EV_OUT_LOW_WATER))
                continue;
            if (ev_replay_submit(L, sub) != 0) {
                si_log(SI_LOG_ERROR, "out of memory submitting a replay page", NULL);
                return;
            }
        }
    }
}

void ev_fence_send(struct ev_loop *L)
{
    struct ev_bus *bus = &L->bus;
    char payload[64];
    snprintf(payload, sizeof payload, "%ld:%llu", (long)getpid(), bus->fence_next);
    const char *params[] = { payload };
    struct ev_job *job = ev_job_new(EV_JOB_FENCE, sql_fence, 1, params);
    if (job == NULL) {
        bus->db_retry_at_ms = ev_now_ms() + EV_DB_RETRY_MS;
        return;
    }
    bus->fence_busy = true;
    bus->fence_wanted = false;
    ev_pool_submit(&L->pool, EV_LANE_BUS, job);
}

void ev_fence_on_sent(struct ev_loop *L, struct ev_job *job)
{
    struct ev_bus *bus = &L->bus;
    bus->fence_busy = false;
    if (job->res == NULL) {
        bus->fence_wanted = true;   /* the same seq again */
        bus->db_retry_at_ms = ev_now_ms() + EV_DB_RETRY_MS;
        si_log(SI_LOG_WARN, "fence failed; retrying",
               json_pack("{s:s, s:s}", "code", job->err.code ? job->err.code : "?", "detail", job->err.detail));
        return;
    }
    bus->fence_next++;
    L->stats.fences++;
}

/* After (re)connecting, what was committed while nobody listened is caught
 * up with replay pages from each stream's cursor. */
void ev_replay_catch_up_all(struct ev_loop *L)
{
    struct ev_bus *bus = &L->bus;
    for (unsigned b = 0; b < EV_USER_BUCKETS; b++) {
        for (struct ev_sub *sub = bus->buckets[b]; sub != NULL; sub = sub->hnext) {
            if (sub->page_job != NULL) {
                /* its snapshot may predate what LISTEN missed: ask again */
                sub->page_job->sub = NULL;
                sub->page_job = NULL;
            }
            ev_sub_set_await(bus, sub, 0);
            sub->page_cursor = sub->cursor;
            ev_sub_set_replaying(bus, sub, true);
        }
    }
}
