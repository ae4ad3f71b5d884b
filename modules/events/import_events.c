/* import_events.c: GET /.netlify/functions/import-events, one complete request.
 *
 *   ?importId=<uuid>   only that import's events (another user's or an unknown
 *                      import is 404 import_not_found); without it, all of the
 *                      caller's events
 *   Accept: text/event-stream
 *                      a stream: `retry: 2000`, the events after the cursor in
 *                      id order, then new ones as they commit, `: hb` comments
 *                      in between.  Cursor: the Last-Event-ID header (what
 *                      EventSource sends when it reconnects), else lastEventId
 *                      or after in the query, else 0.  `now` instead of an id
 *                      is the caller's newest event id at the request (so the
 *                      stream starts at the present, without the history); the
 *                      stream's head then carries `id: <it>`, so an EventSource
 *                      that reconnects before any event resumes from there.
 *   otherwise          a JSON page {"ok","events","nextAfter","hasMore"} of up
 *                      to ?limit= (1..1000, default 100) events after ?after=
 *                      (or lastEventId / Last-Event-ID), for polling clients.
 *
 * The caller is si_auth_identify_caller()'s: a bearer token in the
 * Authorization header or, on this route only (SI_AUTH_QUERY_TOKEN), the
 * access_token query parameter (EventSource cannot send headers), or userId
 * in the query in trust-body mode.  A stream ends cleanly when the token
 * expires (events_loop.c), and the client reconnects with a fresh one.
 *
 * The queries a request needs (import ownership, a JSON page, the first
 * replay page) run on the query threads (events_pool.c); the connection
 * waits in EV_CONN_QUERY meanwhile, with its request copied into a struct
 * ev_pending, and the answer comes back through ev_request_on_job().
 * Everything that can go wrong is answered as the runtime's JSON error
 * before a stream starts; once it has started, a stream only ever ends. */
#include "events.h"
#include "si_metrics.h"
#include "si_auth.h"
#include "si_log.h"
#include "si_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char sql_import_visible[] =
    "SELECT 1 FROM imports WHERE id = $1::uuid AND user_id = $2::uuid";
static const char sql_newest[] =
    "SELECT coalesce(max(id), 0) FROM import_events WHERE user_id = $1::uuid";
static const char sql_page_user[] =
    "SELECT " EV_ROW_COLUMNS " FROM import_events "
    "WHERE user_id = $1::uuid AND id > $2::bigint ORDER BY id LIMIT $3::int";
static const char sql_page_import[] =
    "SELECT " EV_ROW_COLUMNS " FROM import_events "
    "WHERE import_id = $4::uuid AND user_id = $1::uuid AND id > $2::bigint ORDER BY id LIMIT $3::int";

static void log_request(const struct ev_pending *p, const struct si_response *resp)
{
    double ms = (double)(ev_now_ms() - p->t0);
    si_metrics_request_end(resp->status, ms, false);
    si_log_request(p->request_id, p->method, p->path, resp->status, ms, -1, resp->error_code, resp->log_detail);
}

static void pending_free(struct ev_conn *c)
{
    free(c->pending);
    c->pending = NULL;
}

/* Writes L->resp as c's whole response and ends the request. */
static void respond(struct ev_loop *L, struct ev_conn *c, const struct ev_pending *p)
{
    const struct si_response *resp = &L->resp;
    char top[SI_RESPONSE_HEAD_MAX];
    int n = si_response_head(resp, top, sizeof top);
    if (n < 0) {
        ev_conn_doom(L, c, "internal");
        return;
    }
    if (ev_conn_send(L, c, top, (size_t)n) != 0 ||
        (!p->q.head && resp->body.len > 0 && ev_conn_send(L, c, resp->body.data, resp->body.len) != 0))
        return;
    c->close_reason = "done";
    ev_conn_finish(L, c);
    log_request(p, resp);
}

/* Answers err (with Retry-After when waiting helps) and ends the request. */
static void respond_error(struct ev_loop *L, struct ev_conn *c, const struct ev_pending *p,
                          const struct si_error *err)
{
    si_response_reset(&L->resp);
    si_response_from_error(&L->resp, err);
    if (err->status == 429 || err->status == 503) {
        char secs[16];
        snprintf(secs, sizeof secs, "%d", EV_RETRY_AFTER_S);
        si_response_header(&L->resp, "Retry-After", secs);
    }
    respond(L, c, p);
}

static void submit(struct ev_loop *L, struct ev_conn *c, struct ev_job *job)
{
    job->conn = c;
    c->job = job;
    ev_conn_set_state(L, c, EV_CONN_QUERY);
    ev_pool_submit(&L->pool, EV_LANE_REQUEST, job);
}

static int submit_visible(struct ev_loop *L, struct ev_conn *c, const struct ev_query *q, struct si_error *err)
{
    const char *params[] = { q->import_id, q->user };
    struct ev_job *job = ev_job_new(EV_JOB_VISIBLE, sql_import_visible, 2, params);
    if (job == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    submit(L, c, job);
    return 0;
}

/* after=now: the caller's newest event id first (every event of the user, also
 * for an importId stream: ids are one sequence). */
static int submit_newest(struct ev_loop *L, struct ev_conn *c, const struct ev_query *q, struct si_error *err)
{
    const char *params[] = { q->user };
    struct ev_job *job = ev_job_new(EV_JOB_NOW, sql_newest, 1, params);
    if (job == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    submit(L, c, job);
    return 0;
}

static int submit_page(struct ev_loop *L, struct ev_conn *c, const struct ev_query *q, struct si_error *err)
{
    char after[24], limit[16];
    snprintf(after, sizeof after, "%lld", q->after);
    snprintf(limit, sizeof limit, "%d", q->limit + 1);   /* one more says whether there is more */
    const char *params[] = { q->user, after, limit, q->import_id };
    bool by_import = q->import_id[0] != '\0';
    struct ev_job *job = ev_job_new(EV_JOB_PAGE, by_import ? sql_page_import : sql_page_user,
                                    by_import ? 4 : 3, params);
    if (job == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    submit(L, c, job);
    return 0;
}

/* The JSON page of res into L->resp. */
static int json_page(struct ev_loop *L, const struct ev_query *q, PGresult *res, struct si_error *err)
{
    int rows = PQntuples(res);
    bool more = rows > q->limit;
    if (more)
        rows = q->limit;
    struct si_buf *b = &L->resp.body;
    long long next = q->after;
    int rc = si_buf_appends(b, "{\"ok\":true,\"events\":[");
    bool first = true;
    for (int i = 0; i < rows && rc == 0; i++) {
        struct ev_row row;
        if (ev_row_read(res, i, &row) != 0) {
            si_log(SI_LOG_WARN, "skipped an event row that does not match the schema", NULL);
            long long id = 0;
            if (si_db_get_int64(res, i, 0, &id) == 0 && id > next)
                next = id;
            continue;
        }
        rc = (first ? 0 : si_buf_appends(b, ",")) || ev_event_json(b, &row);
        first = false;
        next = row.id;
    }
    if (rc == 0)
        rc = si_buf_printf(b, "],\"nextAfter\":%lld,\"hasMore\":%s}", next, more ? "true" : "false");
    if (rc != 0)
        return si_error_set(err, 500, "internal", "response too large");
    L->resp.status = 200;
    L->resp.content_type = "application/json";
    return 0;
}

/* Whether user may open one more stream: 503 past the responder's cap, 429
 * past the per-user cap (one user must not take every slot). */
static int check_stream_caps(const struct ev_loop *L, const char *user, struct si_error *err)
{
    if (L->n_streams >= (size_t)L->set.max_streams)
        return si_error_set(err, 503, "too_many_streams", "too many open event streams; retry later");
    if (ev_bus_user_streams(L, user) >= L->set.streams_per_user)
        return si_error_set(err, 429, "too_many_streams_for_user",
                            "you have %d event streams open already; close one or retry later",
                            L->set.streams_per_user);
    return 0;
}

/* ev_now_ms() at which a token with this exp expires; 0 for none. */
static long long expiry_ms(long long expires_at)
{
    if (expires_at <= 0)
        return 0;
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    long long left_s = expires_at - (long long)wall.tv_sec;
    if (left_s > EV_EXPIRY_HORIZON_S)
        return 0;   /* later than any stream lives */
    long long left_ms = left_s * 1000 - wall.tv_nsec / 1000000;
    return ev_now_ms() + (left_ms > 0 ? left_ms : 0);
}

/* Subscribes c as a stream; the head goes out with its first replay page
 * (events_bus.c).  0, or -1 with err when nothing was started. */
static int start_stream(struct ev_loop *L, struct ev_conn *c, const struct ev_pending *p, struct si_error *err)
{
    if (check_stream_caps(L, p->q.user, err) != 0)
        return -1;
    struct ev_sub *sub = calloc(1, sizeof *sub);
    if (sub == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    sub->conn = c;
    memcpy(sub->user, p->q.user, sizeof sub->user);
    memcpy(sub->import_id, p->q.import_id, sizeof sub->import_id);
    memcpy(sub->request_id, p->request_id, sizeof sub->request_id);
    sub->cursor = sub->page_cursor = p->q.after;
    sub->announce_cursor = p->q.after_now;
    sub->replaying = true;
    sub->opened_ms = ev_now_ms();
    sub->expires_ms = expiry_ms(p->q.expires_at);
    c->sub = sub;
    ev_conn_set_state(L, c, EV_CONN_QUERY);
    if (ev_bus_start(L, sub) != 0) {   /* frees sub when it fails */
        c->sub = NULL;
        return si_error_set(err, 500, "internal", "could not start the stream");
    }
    return 0;
}

void ev_request_stream_failed(struct ev_loop *L, struct ev_conn *c, const struct si_error *err)
{
    if (c->sub != NULL)
        ev_bus_unsubscribe(L, c->sub, NULL);
    struct si_error e = *err;
    if (e.status == 0)
        si_error_set(&e, 500, "internal", "could not start the stream");
    if (c->pending != NULL) {
        respond_error(L, c, c->pending, &e);
        pending_free(c);
    } else {
        ev_conn_doom(L, c, "internal");
    }
}

void ev_request_stream_started(struct ev_loop *L, struct ev_conn *c)
{
    const struct ev_sub *sub = c->sub;
    const struct ev_pending *p = c->pending;
    L->stats.streams_opened++;
    si_metrics_sse_opened();
    if (sub != NULL && sub->expires_ms != 0 && sub->expires_ms < L->next_expiry_ms)
        L->next_expiry_ms = sub->expires_ms;
    if (sub != NULL && p != NULL)
        si_log(SI_LOG_INFO, "stream open",
               json_pack("{s:s, s:s, s:I, s:I, s:b, s:I}", "req", sub->request_id,
                         "scope", p->q.import_id[0] ? "import" : "user", "after", (json_int_t)p->q.after,
                         "replayed", (json_int_t)sub->events_sent, "more", sub->replaying,
                         "queryMs", (json_int_t)(ev_now_ms() - p->t0)));
    pending_free(c);
}

/* After the import check (or without one) and the cursor: a stream, or a page query. */
static int proceed(struct ev_loop *L, struct ev_conn *c, const struct ev_pending *p, struct si_error *err)
{
    if (p->q.after_now && p->q.after < 0)
        return submit_newest(L, c, &p->q, err);
    if (p->q.stream)
        return start_stream(L, c, p, err);
    return submit_page(L, c, &p->q, err);
}

void ev_request_on_job(struct ev_loop *L, struct ev_job *job)
{
    struct ev_conn *c = job->conn;
    if (c == NULL)
        return;   /* the client went away meanwhile */
    c->job = NULL;
    struct ev_pending *p = c->pending;
    if (p == NULL || c->doomed) {
        ev_conn_doom(L, c, "internal");
        return;
    }
    struct si_error err;
    si_error_clear(&err);
    if (job->res == NULL) {
        err = job->err;
        goto fail;
    }
    if (job->kind == EV_JOB_VISIBLE) {
        if (PQntuples(job->res) == 0) {
            si_error_set(&err, 404, "import_not_found", "import not found");
            goto fail;
        }
        if (proceed(L, c, p, &err) != 0)
            goto fail;
        return;
    }
    if (job->kind == EV_JOB_NOW) {
        if (PQntuples(job->res) != 1 || ev_parse_cursor(PQgetvalue(job->res, 0, 0), &p->q.after) != 0) {
            si_error_set(&err, 500, "internal", "could not read the newest event id");
            goto fail;
        }
        if (proceed(L, c, p, &err) != 0)
            goto fail;
        return;
    }
    si_response_reset(&L->resp);
    if (json_page(L, &p->q, job->res, &err) != 0)
        goto fail;
    respond(L, c, p);
    pending_free(c);
    return;
fail:
    respond_error(L, c, p, &err);
    pending_free(c);
}

static bool wants_stream(const struct si_request *req)
{
    const char *accept = si_request_header(req, "accept");
    return accept != NULL && strcasestr(accept, "text/event-stream") != NULL;
}

/* The cursor: for a stream the Last-Event-ID header first (an EventSource
 * reconnecting keeps its original URL), for a page the query first.  `now`
 * sets *now and leaves *out at -1 until the newest id is read. */
static int read_cursor(const struct si_request *req, bool stream, long long *out, bool *now, struct si_error *err)
{
    const char *header = si_request_header(req, "last-event-id");
    const char *query = si_request_param(req, "after");
    if (query == NULL)
        query = si_request_param(req, "lastEventId");
    if (header != NULL && *header == '\0')
        header = NULL;
    const char *s = stream ? (header ? header : query) : (query ? query : header);
    *out = 0;
    *now = false;
    if (s != NULL && strcmp(s, "now") == 0) {
        *now = true;
        *out = -1;   /* resolved by proceed() */
        return 0;
    }
    if (s != NULL && ev_parse_cursor(s, out) != 0)
        return si_error_set(err, 400, "invalid_cursor", "after / lastEventId / Last-Event-ID must be an event id or now");
    return 0;
}

static int read_query(const struct ev_loop *L, const struct si_request *req, struct ev_query *q,
                      struct si_error *err)
{
    memset(q, 0, sizeof *q);
    q->head = strcmp(req->method, "HEAD") == 0;
    q->stream = !q->head && wants_stream(req);
    struct si_identity who;
    /* this route is the one EventSource reaches: the token may be in the URL */
    if (si_auth_identify_caller(L->cfg, req, NULL, (long long)time(NULL), SI_AUTH_QUERY_TOKEN, &who, err) != 0)
        return -1;
    memcpy(q->user, who.user_id, sizeof q->user);
    q->expires_at = who.expires_at;
    const char *imp = si_request_param(req, "importId");
    if (imp == NULL)
        imp = si_request_param(req, "import_id");
    if (imp != NULL && si_uuid_normalize(imp, q->import_id) != 0)
        return si_error_set(err, 400, "invalid_import_id", "importId must be a UUID");
    if (read_cursor(req, q->stream, &q->after, &q->after_now, err) != 0)
        return -1;
    q->limit = EV_PAGE_LIMIT_DEFAULT;
    const char *limit = si_request_param(req, "limit");
    if (limit != NULL) {
        long long v = 0;
        if (ev_parse_cursor(limit, &v) != 0 || v < 1 || v > EV_PAGE_LIMIT_MAX)
            return si_error_set(err, 400, "invalid_limit", "limit must be between 1 and %d", EV_PAGE_LIMIT_MAX);
        q->limit = (int)v;
    }
    return 0;
}

void ev_request_handle(struct ev_loop *L, struct ev_conn *c)
{
    struct si_request req;
    struct si_error err;
    struct ev_pending p;
    char **envp = NULL;
    size_t n_env = 0;
    memset(&req, 0, sizeof req);
    memset(&p, 0, sizeof p);
    p.t0 = ev_now_ms();
    snprintf(p.request_id, sizeof p.request_id, "-");
    snprintf(p.method, sizeof p.method, "-");
    snprintf(p.path, sizeof p.path, "-");
    si_error_clear(&err);
    si_arena_reset(&L->arena);
    si_response_reset(&L->resp);
    L->stats.requests++;

    int rc = fcgi_params_to_envp(&L->arena, (const uint8_t *)c->proto.params.data, c->proto.params.len,
                                 EV_MAX_PARAM_PAIRS, &envp, &n_env);
    si_buf_cleanup(&c->proto.params);   /* copied into the arena */
    if (rc != 0) {
        si_error_set(&err, 400, "bad_request", "malformed FastCGI parameters");
        goto fail;
    }
    if (si_request_from_env(&req, &L->arena, envp, EV_MAX_STDIN, &err) != 0)
        goto fail;
    snprintf(p.request_id, sizeof p.request_id, "%s", req.request_id ? req.request_id : "-");
    snprintf(p.method, sizeof p.method, "%s", req.method ? req.method : "-");
    snprintf(p.path, sizeof p.path, "%s", req.path ? req.path : "-");
    p.q.head = strcmp(req.method, "HEAD") == 0;
    if (strcmp(req.method, "GET") != 0 && !p.q.head) {
        si_response_error(&L->resp, 405, "method_not_allowed", "method %s is not allowed here (allowed: GET,HEAD)",
                          req.method);
        si_response_header(&L->resp, "Allow", "GET,HEAD");
        respond(L, c, &p);
        goto out;
    }
    if (read_query(L, &req, &p.q, &err) != 0)
        goto fail;
    /* a stream over a cap is refused before any query runs (and again when it starts) */
    if (p.q.stream && check_stream_caps(L, p.q.user, &err) != 0)
        goto fail;
    c->pending = malloc(sizeof *c->pending);
    if (c->pending == NULL) {
        si_error_set(&err, 500, "internal", "out of memory");
        goto fail;
    }
    *c->pending = p;
    if (p.q.import_id[0] != '\0')
        rc = submit_visible(L, c, &p.q, &err);
    else
        rc = proceed(L, c, c->pending, &err);
    if (rc != 0) {
        pending_free(c);
        goto fail;
    }
    goto out;
fail:
    respond_error(L, c, &p, &err);
out:
    si_arena_reset(&L->arena);
}
