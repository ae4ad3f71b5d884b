/* events_live.c: the LISTEN connection of the import-events bus and live delivery.
 *
 * The LISTEN connection stays on the loop thread and is only read (its socket
 * is in the epoll set).  The notifications read while no batch is in flight
 * (up to EV_BATCH_MAX) form the next delivery batch: ONE statement fetches
 * exactly the notified ids, and each row is framed once and appended to every
 * stream that takes it (events.h explains why by ids and not by range).  At
 * most one batch is in flight; notifications read meanwhile wait for the
 * next.  When the connection drops it is reconnected with a back-off, and
 * every stream then catches up with replay pages (events_replay.c). */
#include "events.h"
#include "si_metrics.h"
#include "si_event.h"
#include "si_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static const char sql_deliver[] =
    "SELECT " EV_ROW_COLUMNS " FROM import_events "
    "WHERE id = ANY($1::bigint[]) AND user_id = ANY($2::uuid[]) ORDER BY id";

#define CHANNEL_EVENTS "import_events"
#define CHANNEL_FENCE "import_events_fence"
#define CHANNEL_LIVE SI_EVENT_LIVE_CHANNEL   /* live events: progress, never stored */

static void drain(struct ev_loop *L);

/* --- the LISTEN connection ------------------------------------------------------------- */

void ev_live_lost(struct ev_loop *L, const char *why)
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

void ev_live_connect(struct ev_loop *L, long long now)
{
    struct ev_bus *bus = &L->bus;
    struct si_error err;
    si_error_clear(&err);
    /* Two statements (the extended protocol takes one at a time).  A
     * notification that arrives between them may be dropped by si_db's idle
     * check; the catch-up below covers it, as it covers the whole outage. */
    if (si_db_command(&bus->listen, "LISTEN " CHANNEL_FENCE, 0, NULL, &err) != 0 ||
        si_db_command(&bus->listen, "LISTEN " CHANNEL_EVENTS, 0, NULL, &err) != 0 ||
        si_db_command(&bus->listen, "LISTEN " CHANNEL_LIVE, 0, NULL, &err) != 0) {
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
    ev_replay_catch_up_all(L);
    drain(L);   /* notifications libpq may already hold */
}

/* --- notifications and delivery ------------------------------------------------------- */

/* Starting streams count: a batch formed now is answered after their first
 * page (the bus lane keeps order), when they are live. */
static bool someone_wants(const struct ev_bus *bus, const char *user, const char *import_id)
{
    for (const struct ev_sub *sub = bus->buckets[ev_bus_bucket(user)]; sub != NULL; sub = sub->hnext) {
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

/* A live event: the notification is the whole event (si_event_live_message).
 * It goes at once to the started streams of its user whose import filter
 * it passes; it has no id, moves no cursor and is never replayed.  One the
 * loop cannot check is dropped (it was only progress). */
static void on_live_note(struct ev_loop *L, const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    const char *user = json_string_value(json_object_get(j, "user_id"));
    const json_t *jimp = json_object_get(j, "import_id");
    const char *imp = json_string_value(jimp);
    const char *type = json_string_value(json_object_get(j, "type"));
    const char *at = json_string_value(json_object_get(j, "at"));
    const json_t *payload = json_object_get(j, "payload");
    char *ptext = NULL;
    if (user == NULL || !si_uuid_valid(user) || (jimp != NULL && !json_is_null(jimp) && imp == NULL) ||
        type == NULL || at == NULL || !json_is_object(payload) || !si_event_payload_safe(payload)) {
        si_log(SI_LOG_WARN, "ignored a malformed live event notification", NULL);
        goto out;
    }
    if (!someone_wants(&L->bus, user, imp))
        goto out;
    ptext = json_dumps(payload, JSON_COMPACT);
    si_buf_reset(&L->frame);
    if (ptext == NULL || ev_live_frame(&L->frame, type, imp, ptext, at) != 0) {
        si_log(SI_LOG_WARN, "ignored a malformed live event notification", NULL);
        goto out;
    }
    for (struct ev_sub *sub = L->bus.buckets[ev_bus_bucket(user)]; sub != NULL; sub = sub->hnext) {
        if (!ev_sub_live(sub) || strcmp(sub->user, user) != 0)
            continue;
        if (sub->import_id[0] != '\0' && (imp == NULL || strcmp(sub->import_id, imp) != 0))
            continue;
        if (ev_conn_send(L, sub->conn, L->frame.data, L->frame.len) == 0) {
            L->stats.live_delivered++;
            si_metrics_sse_delivered(true);
        }
    }
out:
    free(ptext);
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
    if (!ev_sub_live(sub) || strcmp(sub->user, row->user_id) != 0)
        return false;
    if (sub->import_id[0] != '\0' && (row->import_id == NULL || strcmp(sub->import_id, row->import_id) != 0))
        return false;
    if (row->id == sub->cursor)
        return false;   /* the resume point itself: the client has it */
    if (sub->replaying && row->id > sub->page_cursor)
        return false;   /* a later replay page will carry it */
    if (sub->await_fence != 0 && (note == NULL || note->fence_before < sub->await_fence) &&
        ev_sub_in_recent(sub, row->id))
        return false;   /* the replay already sent it */
    return true;
}

static void deliver_row(struct ev_loop *L, const struct ev_row *row, const struct ev_note *note,
                        struct si_buf *late)
{
    bool framed = false;
    for (struct ev_sub *sub = L->bus.buckets[ev_bus_bucket(row->user_id)]; sub != NULL; sub = sub->hnext) {
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
        si_metrics_sse_delivered(false);
        si_metrics_sse_lag(row->created_at);
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

void ev_live_on_delivered(struct ev_loop *L, struct ev_job *job)
{
    struct ev_bus *bus = &L->bus;
    bus->deliver_busy = false;
    if (job->res == NULL) {
        si_log(SI_LOG_WARN, "delivery query failed; reconnecting LISTEN to catch up",
               json_pack("{s:s, s:s}", "code", job->err.code ? job->err.code : "?", "detail", job->err.detail));
        if (bus->up)
            ev_live_lost(L, "delivery_failed");
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
                ev_sub_set_await(bus, sub, 0);
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
        else if (strcmp(n->relname, CHANNEL_LIVE) == 0)
            on_live_note(L, n->extra);
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
        ev_live_lost(L, "delivery_failed");
}

void ev_bus_on_input(struct ev_loop *L)
{
    struct ev_bus *bus = &L->bus;
    if (bus->listen.conn == NULL)
        return;
    if (!PQconsumeInput(bus->listen.conn)) {
        ev_live_lost(L, "connection_closed");
        return;
    }
    drain(L);
    if (bus->listen.conn != NULL && PQstatus(bus->listen.conn) != CONNECTION_OK)
        ev_live_lost(L, "connection_bad");
}
