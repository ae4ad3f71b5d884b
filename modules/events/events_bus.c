/* events_bus.c: LISTEN/NOTIFY fan-out, replay pages, fences and catch-up.
 *
 * The design (why fetch by notified ids, what a fence is for, how a stream
 * switches from replay to live) is explained at the top of events.h; this
 * file is its implementation.  Streams are found by user through a small
 * hash table (EV_USER_BUCKETS chains), so a notification for a user with no
 * open stream costs a hash lookup and nothing else, and the delivery query
 * of a wakeup names only the users that someone is watching.
 *
 * Every statement runs on the bus lane (events_pool.c): one query thread,
 * so delivery batches, replay pages and fences are answered in the order
 * they were submitted, as if the loop had run them itself at that moment.
 * At most one delivery batch and one fence are in flight; notifications
 * read meanwhile wait for the next batch.  A fence only releases a stream's
 * `recent` ids once every notification read before it has been delivered
 * (fence_released), so a late notification of a replayed row is still
 * recognised. */
#include "events.h"
#include "si_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static const char sql_replay_user[] =
    "SELECT " EV_ROW_COLUMNS " FROM import_events "
    "WHERE user_id = $1::uuid AND id > $2::bigint ORDER BY id LIMIT $3::int";
static const char sql_replay_import[] =
    "SELECT " EV_ROW_COLUMNS " FROM import_events "
    "WHERE import_id = $4::uuid AND user_id = $1::uuid AND id > $2::bigint ORDER BY id LIMIT $3::int";
static const char sql_deliver[] =
    "SELECT " EV_ROW_COLUMNS " FROM import_events "
    "WHERE id = ANY($1::bigint[]) AND user_id = ANY($2::uuid[]) ORDER BY id";
static const char sql_fence[] = "SELECT pg_notify('import_events_fence', $1)";

#define CHANNEL_EVENTS "import_events"
#define CHANNEL_FENCE "import_events_fence"

static unsigned user_bucket(const char *user)
{
    uint32_t h = 2166136261u;
    for (const char *p = user; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return h % EV_USER_BUCKETS;
}

static void set_replaying(struct ev_bus *bus, struct ev_sub *sub, bool on)
{
    if (sub->replaying == on)
        return;
    sub->replaying = on;
    if (on)
        bus->n_replaying++;
    else
        bus->n_replaying--;
}

static void set_await(struct ev_bus *bus, struct ev_sub *sub, unsigned long long fence)
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

static int submit_page(struct ev_loop *L, struct ev_sub *sub);

int ev_bus_start(struct ev_loop *L, struct ev_sub *sub)
{
    struct ev_bus *bus = &L->bus;
    unsigned b = user_bucket(sub->user);
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
    if (submit_page(L, sub) != 0) {
        sub->conn = NULL;   /* the caller still owns the connection */
        ev_bus_unsubscribe(L, sub, NULL);
        return -1;
    }
    return 0;
}

int ev_bus_user_streams(const struct ev_loop *L, const char *user)
{
    int n = 0;
    for (const struct ev_sub *sub = L->bus.buckets[user_bucket(user)]; sub != NULL; sub = sub->hnext)
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
        bus->buckets[user_bucket(sub->user)] = sub->hnext;
    if (sub->hnext != NULL)
        sub->hnext->hprev = sub->hprev;
    set_replaying(bus, sub, false);
    set_await(bus, sub, 0);
    if (sub->page_job != NULL)
        sub->page_job->sub = NULL;   /* its answer is dropped when it comes */
    L->n_streams--;
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

static bool sub_live(const struct ev_sub *sub)
{
    return sub->conn != NULL && !sub->conn->doomed && sub->conn->state == EV_CONN_STREAM;
}

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

static bool in_recent(const struct ev_sub *sub, long long id)
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

static int submit_page(struct ev_loop *L, struct ev_sub *sub)
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
    set_await(bus, sub, 0);
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
    }
    set_replaying(bus, sub, cut || rows == EV_REPLAY_PAGE);
    if (sub->n_recent > 0) {
        set_await(bus, sub, next_fence(bus));
        bus->fence_wanted = true;
    }
    return 0;
}

static void on_page(struct ev_loop *L, struct ev_job *job)
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
        static const char head_fmt[] =
            "Status: 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
            "X-Accel-Buffering: no\r\n\r\nretry: %d\n\n";
        char head[256];
        int n = snprintf(head, sizeof head, head_fmt, EV_RETRY_MS);
        ev_conn_set_state(L, c, EV_CONN_STREAM);
        c->out.max = L->set.out_max > c->out.len + 4096 ? L->set.out_max : c->out.len + 4096;
        sub->started = true;
        if (n < 0 || (size_t)n >= sizeof head || ev_conn_send(L, c, head, (size_t)n) != 0) {
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
static void run_pages(struct ev_loop *L)
{
    struct ev_bus *bus = &L->bus;
    for (unsigned b = 0; b < EV_USER_BUCKETS && bus->n_replaying > 0; b++) {
        for (struct ev_sub *sub = bus->buckets[b]; sub != NULL; sub = sub->hnext) {
            if (!sub->replaying || sub->await_fence != 0 || sub->page_job != NULL || sub->conn == NULL ||
                sub->conn->doomed)
                continue;
            if (sub->started && (!sub_live(sub) || ev_conn_pending(sub->conn) >= EV_OUT_LOW_WATER))
                continue;
            if (submit_page(L, sub) != 0) {
                si_log(SI_LOG_ERROR, "out of memory submitting a replay page", NULL);
                return;
            }
        }
    }
}

static void send_fence(struct ev_loop *L)
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

static void on_fence_sent(struct ev_loop *L, struct ev_job *job)
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

/* --- the LISTEN connection ------------------------------------------------------------- */

static void listen_lost(struct ev_loop *L, const char *why)
{
    struct ev_bus *bus = &L->bus;
    if (bus->listen_fd >= 0)
        epoll_ctl(L->epfd, EPOLL_CTL_DEL, bus->listen_fd, NULL);
    bus->listen_fd = -1;
    si_db_cleanup(&bus->listen);
    if (bus->up)
        si_log(SI_LOG_WARN, "LISTEN connection lost; reconnecting",
               json_pack("{s:s, s:I}", "reason", why, "streams", (json_int_t)L->n_streams));
    bus->up = false;
    bus->relisten = false;
    bus->n_notes = 0;
    bus->fence_released = bus->fence_seen;
    bus->retry_ms = EV_LISTEN_RETRY_MS;
    bus->retry_at_ms = ev_now_ms() + bus->retry_ms;
}

/* After (re)connecting, what was committed while nobody listened is caught
 * up with replay pages from each stream's cursor. */
static void catch_up_all(struct ev_loop *L)
{
    struct ev_bus *bus = &L->bus;
    for (unsigned b = 0; b < EV_USER_BUCKETS; b++) {
        for (struct ev_sub *sub = bus->buckets[b]; sub != NULL; sub = sub->hnext) {
            if (sub->page_job != NULL) {
                /* its snapshot may predate what LISTEN missed: ask again */
                sub->page_job->sub = NULL;
                sub->page_job = NULL;
            }
            set_await(bus, sub, 0);
            sub->page_cursor = sub->cursor;
            set_replaying(bus, sub, true);
        }
    }
}

static void drain(struct ev_loop *L);

static void listen_connect(struct ev_loop *L, long long now)
{
    struct ev_bus *bus = &L->bus;
    struct si_error err;
    si_error_clear(&err);
    /* Two statements (the extended protocol takes one at a time).  A
     * notification that arrives between them may be dropped by si_db's idle
     * check; the catch-up below covers it, as it covers the whole outage. */
    if (si_db_command(&bus->listen, "LISTEN " CHANNEL_FENCE, 0, NULL, &err) != 0 ||
        si_db_command(&bus->listen, "LISTEN " CHANNEL_EVENTS, 0, NULL, &err) != 0) {
        si_db_cleanup(&bus->listen);
        bus->retry_at_ms = now + bus->retry_ms;
        if (bus->retry_ms < EV_LISTEN_RETRY_MAX_MS)
            bus->retry_ms *= 2;
        si_log(SI_LOG_WARN, "cannot LISTEN yet",
               json_pack("{s:s, s:s, s:i}", "code", err.code ? err.code : "?", "detail", err.detail,
                         "retryMs", bus->retry_ms));
        return;
    }
    int fd = PQsocket(bus->listen.conn);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &L->listen_db_watch };
    if (fd < 0 || epoll_ctl(L->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        si_db_cleanup(&bus->listen);
        bus->retry_at_ms = now + bus->retry_ms;
        si_logf(SI_LOG_ERROR, "cannot watch the LISTEN connection: %s", strerror(errno));
        return;
    }
    bus->listen_fd = fd;
    bus->up = true;
    bus->retry_ms = EV_LISTEN_RETRY_MS;
    if (bus->ever_up)
        L->stats.listen_reconnects++;
    si_log(SI_LOG_INFO, "listening for import events",
           json_pack("{s:b, s:I}", "reconnect", bus->ever_up, "streams", (json_int_t)L->n_streams));
    bus->ever_up = true;
    catch_up_all(L);
    drain(L);   /* notifications libpq may already hold */
}

/* --- notifications and delivery ------------------------------------------------------- */

/* Starting streams count: a batch formed now is answered after their first
 * page (the bus lane keeps order), when they are live. */
static bool someone_wants(const struct ev_bus *bus, const char *user, const char *import_id)
{
    for (const struct ev_sub *sub = bus->buckets[user_bucket(user)]; sub != NULL; sub = sub->hnext) {
        if (sub->conn == NULL || sub->conn->doomed || strcmp(sub->user, user) != 0)
            continue;
        if (sub->import_id[0] == '\0' || (import_id != NULL && strcmp(sub->import_id, import_id) == 0))
            return true;
    }
    return false;
}

static void on_event_note(struct ev_loop *L, const char *payload)
{
    struct ev_bus *bus = &L->bus;
    json_error_t jerr;
    json_t *j = json_loads(payload, 0, &jerr);
    json_t *jid = json_object_get(j, "id");
    const char *user = json_string_value(json_object_get(j, "user_id"));
    const char *imp = json_string_value(json_object_get(j, "import_id"));
    if (!json_is_integer(jid) || json_integer_value(jid) <= 0 || user == NULL || !si_uuid_valid(user)) {
        si_log(SI_LOG_WARN, "ignored a malformed import_events notification", NULL);
        goto out;
    }
    if (!someone_wants(bus, user, imp))
        goto out;
    if (bus->n_notes == bus->cap_notes) {
        size_t cap = bus->cap_notes ? bus->cap_notes * 2 : 64;
        struct ev_note *p = realloc(bus->notes, cap * sizeof *p);
        if (p == NULL) {
            bus->relisten = true;   /* cannot remember it: catch up instead */
            goto out;
        }
        bus->notes = p;
        bus->cap_notes = cap;
    }
    struct ev_note *n = &bus->notes[bus->n_notes++];
    n->id = (long long)json_integer_value(jid);
    n->fence_before = bus->fence_seen;
    memcpy(n->user, user, SI_UUID_LEN);
    n->user[SI_UUID_LEN] = '\0';
out:
    json_decref(j);
}

static void on_fence_note(struct ev_bus *bus, const char *payload)
{
    char *end = NULL;
    errno = 0;
    long pid = strtol(payload, &end, 10);
    if (errno != 0 || end == NULL || *end != ':' || pid != (long)getpid())
        return;   /* another process's fence */
    unsigned long long seq = strtoull(end + 1, &end, 10);
    if (errno == 0 && *end == '\0' && seq > bus->fence_seen)
        bus->fence_seen = seq;
}

static int note_cmp(const void *a, const void *b)
{
    long long x = ((const struct ev_note *)a)->id, y = ((const struct ev_note *)b)->id;
    return (x > y) - (x < y);
}

static const struct ev_note *find_note(const struct ev_note *notes, size_t n, long long id)
{
    struct ev_note key = { .id = id };
    return notes == NULL ? NULL : bsearch(&key, notes, n, sizeof key, note_cmp);
}

/* Whether a live row goes to sub (see events.h for why each rule holds). */
static bool sub_takes(const struct ev_sub *sub, const struct ev_row *row, const struct ev_note *note)
{
    if (!sub_live(sub) || strcmp(sub->user, row->user_id) != 0)
        return false;
    if (sub->import_id[0] != '\0' && (row->import_id == NULL || strcmp(sub->import_id, row->import_id) != 0))
        return false;
    if (row->id == sub->cursor)
        return false;   /* the resume point itself: the client has it */
    if (sub->replaying && row->id > sub->page_cursor)
        return false;   /* a later replay page will carry it */
    if (sub->await_fence != 0 && (note == NULL || note->fence_before < sub->await_fence) &&
        in_recent(sub, row->id))
        return false;   /* the replay already sent it */
    return true;
}

static void deliver_row(struct ev_loop *L, const struct ev_row *row, const struct ev_note *note,
                        struct si_buf *late)
{
    bool framed = false;
    for (struct ev_sub *sub = L->bus.buckets[user_bucket(row->user_id)]; sub != NULL; sub = sub->hnext) {
        if (!sub_takes(sub, row, note))
            continue;
        const struct si_buf *frame = &L->frame;
        long long id_line = row->id;
        if (row->id < sub->cursor) {
            /* Committed after a higher id was sent: keep the id line at the resume point. */
            id_line = sub->cursor;
            si_buf_reset(late);
            if (ev_sse_frame(late, id_line, row) != 0)
                continue;
            frame = late;
        } else if (!framed) {
            si_buf_reset(&L->frame);
            if (ev_sse_frame(&L->frame, row->id, row) != 0)
                return;
            framed = true;
        }
        if (ev_conn_send(L, sub->conn, frame->data, frame->len) != 0)
            continue;
        sub->cursor = id_line;
        sub->events_sent++;
        L->stats.delivered++;
    }
}

/* One query for every notification of the batch; the notes go with it. */
static void submit_batch(struct ev_loop *L)
{
    struct ev_bus *bus = &L->bus;
    if (bus->n_notes == 0 || bus->deliver_busy)
        return;
    L->stats.batches++;
    qsort(bus->notes, bus->n_notes, sizeof *bus->notes, note_cmp);
    struct si_buf ids, users;
    si_buf_init(&ids, (size_t)EV_BATCH_MAX * 24 + 16);
    si_buf_init(&users, (size_t)EV_BATCH_MAX * (SI_UUID_LEN + 1) + 16);
    int rc = si_buf_appends(&ids, "{") | si_buf_appends(&users, "{");
    for (size_t i = 0; i < bus->n_notes && rc == 0; i++) {
        rc |= si_buf_printf(&ids, "%s%lld", i ? "," : "", bus->notes[i].id);
        bool seen = false;   /* users: a few per batch, a linear look is enough */
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(bus->notes[j].user, bus->notes[i].user) == 0;
        if (!seen)
            rc |= si_buf_printf(&users, "%s%s", users.len > 1 ? "," : "", bus->notes[i].user);
    }
    rc |= si_buf_appends(&ids, "}") | si_buf_appends(&users, "}");
    struct ev_job *job = NULL;
    if (rc == 0) {
        const char *params[] = { ids.data, users.data };
        job = ev_job_new(EV_JOB_DELIVER, sql_deliver, 2, params);
    }
    si_buf_cleanup(&ids);
    si_buf_cleanup(&users);
    if (job == NULL) {
        si_log(SI_LOG_WARN, "cannot form a delivery batch; reconnecting LISTEN to catch up", NULL);
        bus->relisten = true;
        bus->n_notes = 0;
        return;
    }
    job->notes = bus->notes;
    job->n_notes = bus->n_notes;
    job->fence_mark = bus->fence_seen;
    bus->notes = NULL;
    bus->n_notes = bus->cap_notes = 0;
    bus->deliver_busy = true;
    ev_pool_submit(&L->pool, EV_LANE_BUS, job);
}

static void on_delivered(struct ev_loop *L, struct ev_job *job)
{
    struct ev_bus *bus = &L->bus;
    bus->deliver_busy = false;
    if (job->res == NULL) {
        si_log(SI_LOG_WARN, "delivery query failed; reconnecting LISTEN to catch up",
               json_pack("{s:s, s:s}", "code", job->err.code ? job->err.code : "?", "detail", job->err.detail));
        if (bus->up)
            listen_lost(L, "delivery_failed");
        return;
    }
    struct si_buf late;
    si_buf_init(&late, 4 * SI_EVENT_PAYLOAD_MAX);
    for (int i = 0; i < PQntuples(job->res); i++) {
        struct ev_row row;
        if (ev_row_read(job->res, i, &row) != 0) {
            si_log(SI_LOG_WARN, "skipped an event row that does not match the schema", NULL);
            continue;
        }
        deliver_row(L, &row, find_note(job->notes, job->n_notes, row.id), &late);
    }
    si_buf_cleanup(&late);
    if (job->fence_mark > bus->fence_released)
        bus->fence_released = job->fence_mark;
    if (bus->up)
        drain(L);   /* the notifications read meanwhile, or left unread */
}

/* Streams whose fence arrived, after every notification read before it was
 * delivered, forget their `recent` ids. */
static void release_fences(struct ev_loop *L)
{
    struct ev_bus *bus = &L->bus;
    for (unsigned b = 0; b < EV_USER_BUCKETS && bus->n_awaiting > 0; b++)
        for (struct ev_sub *sub = bus->buckets[b]; sub != NULL; sub = sub->hnext)
            if (sub->await_fence != 0 && sub->await_fence <= bus->fence_released)
                set_await(bus, sub, 0);
}

static void drain(struct ev_loop *L)
{
    struct ev_bus *bus = &L->bus;
    PGnotify *n;
    /* While a batch is in flight, at most EV_BATCH_MAX notes wait here; the
     * rest stay in libpq's queue until it is back. */
    while (!bus->relisten && bus->listen.conn != NULL && !(bus->deliver_busy && bus->n_notes >= EV_BATCH_MAX) &&
           (n = PQnotifies(bus->listen.conn)) != NULL) {
        L->stats.notifications++;
        if (strcmp(n->relname, CHANNEL_FENCE) == 0)
            on_fence_note(bus, n->extra);
        else if (strcmp(n->relname, CHANNEL_EVENTS) == 0)
            on_event_note(L, n->extra);
        PQfreemem(n);
        if (bus->n_notes >= EV_BATCH_MAX)
            submit_batch(L);
    }
    if (!bus->relisten) {
        if (bus->n_notes > 0)
            submit_batch(L);
        else if (!bus->deliver_busy)
            bus->fence_released = bus->fence_seen;   /* nothing read before it is undelivered */
    }
    release_fences(L);
    if (bus->relisten)
        listen_lost(L, "delivery_failed");
}

void ev_bus_on_job(struct ev_loop *L, struct ev_job *job)
{
    switch (job->kind) {
    case EV_JOB_REPLAY:
        on_page(L, job);
        break;
    case EV_JOB_DELIVER:
        on_delivered(L, job);
        break;
    case EV_JOB_FENCE:
        on_fence_sent(L, job);
        break;
    case EV_JOB_VISIBLE:
    case EV_JOB_PAGE:
        break;
    }
}

void ev_bus_on_input(struct ev_loop *L)
{
    struct ev_bus *bus = &L->bus;
    if (bus->listen.conn == NULL)
        return;
    if (!PQconsumeInput(bus->listen.conn)) {
        listen_lost(L, "connection_closed");
        return;
    }
    drain(L);
    if (bus->listen.conn != NULL && PQstatus(bus->listen.conn) != CONNECTION_OK)
        listen_lost(L, "connection_bad");
}

void ev_bus_tick(struct ev_loop *L, long long now)
{
    struct ev_bus *bus = &L->bus;
    if (!bus->up && now >= bus->retry_at_ms)
        listen_connect(L, now);
    if (bus->up && bus->n_replaying > 0 && now >= bus->db_retry_at_ms)
        run_pages(L);
    if (bus->fence_wanted && !bus->fence_busy && now >= bus->db_retry_at_ms)
        send_fence(L);
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
