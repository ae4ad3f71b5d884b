/* events_bus.c: the import-events responder's table of open streams, and the
 * dispatch of the bus's work (answers of the bus lane, the per-turn tick).
 *
 * The design (why fetch by notified ids, what a fence is for, how a stream
 * switches from replay to live) is explained at the top of events.h.  Streams
 * are found by user through a small hash table (EV_USER_BUCKETS chains), so a
 * notification for a user with no open stream costs a hash lookup and nothing
 * else, and the delivery query of a wakeup names only the users that someone
 * is watching.  The two halves of the bus's work live beside it:
 *   events_replay.c  replay pages, fences and the catch-up after an outage
 *   events_live.c    the LISTEN connection, notifications and live delivery
 *
 * Every statement runs on the bus lane (events_pool.c): one query thread,
 * so delivery batches, replay pages and fences are answered in the order
 * they were submitted, as if the loop had run them itself at that moment. */
#include "events.h"
#include "si_metrics.h"
#include "si_log.h"

#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

unsigned ev_bus_bucket(const char *user)
{
    uint32_t h = 2166136261u;
    for (const char *p = user; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return h % EV_USER_BUCKETS;
}

void ev_sub_set_replaying(struct ev_bus *bus, struct ev_sub *sub, bool on)
{
    if (sub->replaying == on)
        return;
    sub->replaying = on;
    if (on)
        bus->n_replaying++;
    else
        bus->n_replaying--;
}

void ev_sub_set_await(struct ev_bus *bus, struct ev_sub *sub, unsigned long long fence)
{
    if ((sub->await_fence != 0) != (fence != 0)) {
        if (fence != 0)
            bus->n_awaiting++;
        else
            bus->n_awaiting--;
    }
    sub->await_fence = fence;
    if (fence == 0) {
        sub->n_recent = 0;
        if (sub->cap_recent > 64) {
            free(sub->recent);
            sub->recent = NULL;
            sub->cap_recent = 0;
        }
    }
}

void ev_bus_init(struct ev_bus *bus, const struct si_config *cfg)
{
    memset(bus, 0, sizeof *bus);
    si_db_init(&bus->listen, cfg->database_url, "smartimport-import-events-listen",
               cfg->db_connect_timeout_ms, EV_QUERY_TIMEOUT_MS_DEFAULT);
    bus->listen_fd = -1;
    bus->retry_ms = EV_LISTEN_RETRY_MS;
    bus->fence_next = 1;
}

int ev_bus_start(struct ev_loop *L, struct ev_sub *sub)
{
    struct ev_bus *bus = &L->bus;
    unsigned b = ev_bus_bucket(sub->user);
    sub->hprev = NULL;
    sub->hnext = bus->buckets[b];
    if (sub->hnext != NULL)
        sub->hnext->hprev = sub;
    bus->buckets[b] = sub;
    if (sub->replaying)
        bus->n_replaying++;
    if (sub->await_fence != 0)
        bus->n_awaiting++;
    L->n_streams++;
    si_metrics_sse_streams((long long)L->n_streams);
    if (ev_replay_submit(L, sub) != 0) {
        sub->conn = NULL;   /* the caller still owns the connection */
        ev_bus_unsubscribe(L, sub, NULL);
        return -1;
    }
    return 0;
}

int ev_bus_user_streams(const struct ev_loop *L, const char *user)
{
    int n = 0;
    for (const struct ev_sub *sub = L->bus.buckets[ev_bus_bucket(user)]; sub != NULL; sub = sub->hnext)
        if (sub->conn != NULL && !sub->conn->doomed && strcmp(sub->user, user) == 0)
            n++;
    return n;
}

void ev_bus_unsubscribe(struct ev_loop *L, struct ev_sub *sub, const char *reason)
{
    struct ev_bus *bus = &L->bus;
    if (sub->hprev != NULL)
        sub->hprev->hnext = sub->hnext;
    else
        bus->buckets[ev_bus_bucket(sub->user)] = sub->hnext;
    if (sub->hnext != NULL)
        sub->hnext->hprev = sub->hprev;
    ev_sub_set_replaying(bus, sub, false);
    ev_sub_set_await(bus, sub, 0);
    if (sub->page_job != NULL)
        sub->page_job->sub = NULL;   /* its answer is dropped when it comes */
    L->n_streams--;
    si_metrics_sse_streams((long long)L->n_streams);
    if (reason != NULL) {
        L->stats.streams_closed++;
        si_log(SI_LOG_INFO, "stream close",
               json_pack("{s:s, s:I, s:I, s:s}", "req", sub->request_id,
                         "ms", (json_int_t)(ev_now_ms() - sub->opened_ms),
                         "events", (json_int_t)sub->events_sent, "reason", reason));
    }
    if (sub->conn != NULL)
        sub->conn->sub = NULL;
    free(sub->recent);
    free(sub);
}

bool ev_sub_live(const struct ev_sub *sub)
{
    return sub->conn != NULL && !sub->conn->doomed && sub->conn->state == EV_CONN_STREAM;
}

bool ev_sub_in_recent(const struct ev_sub *sub, long long id)
{
    size_t lo = 0, hi = sub->n_recent;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sub->recent[mid] == id)
            return true;
        if (sub->recent[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

void ev_bus_on_job(struct ev_loop *L, struct ev_job *job)
{
    switch (job->kind) {
    case EV_JOB_REPLAY:
        ev_replay_on_page(L, job);
        break;
    case EV_JOB_DELIVER:
        ev_live_on_delivered(L, job);
        break;
    case EV_JOB_FENCE:
        ev_fence_on_sent(L, job);
        break;
    case EV_JOB_VISIBLE:
    case EV_JOB_NOW:
    case EV_JOB_PAGE:
        break;
    }
}

void ev_bus_tick(struct ev_loop *L, long long now)
{
    struct ev_bus *bus = &L->bus;
    if (!bus->up && now >= bus->retry_at_ms)
        ev_live_connect(L, now);
    if (bus->up && bus->n_replaying > 0 && now >= bus->db_retry_at_ms)
        ev_replay_run(L);
    if (bus->fence_wanted && !bus->fence_busy && now >= bus->db_retry_at_ms)
        ev_fence_send(L);
}

int ev_bus_timeout(const struct ev_loop *L, long long now)
{
    const struct ev_bus *bus = &L->bus;
    long long t = -1;
    if (!bus->up)
        t = bus->retry_at_ms - now;
    if (((bus->fence_wanted && !bus->fence_busy) || (bus->up && bus->n_replaying > 0)) && bus->db_retry_at_ms > now &&
        (t < 0 || bus->db_retry_at_ms - now < t))
        t = bus->db_retry_at_ms - now;
    if (t < 0 && !bus->up)
        t = 0;
    return t < 0 ? -1 : (t > 60000 ? 60000 : (int)t);
}

void ev_bus_cleanup(struct ev_loop *L)
{
    struct ev_bus *bus = &L->bus;
    for (unsigned b = 0; b < EV_USER_BUCKETS; b++)
        while (bus->buckets[b] != NULL)
            ev_bus_unsubscribe(L, bus->buckets[b], "shutdown");
    free(bus->notes);
    bus->notes = NULL;
    bus->n_notes = bus->cap_notes = 0;
    if (bus->listen_fd >= 0 && L->epfd >= 0)
        epoll_ctl(L->epfd, EPOLL_CTL_DEL, bus->listen_fd, NULL);
    bus->listen_fd = -1;
    si_db_cleanup(&bus->listen);
    bus->up = false;
}
