/* events_request.c: GET /.netlify/functions/import-events, one complete request.
 *
 *   ?importId=<uuid>   only that import's events (another user's or an unknown
 *                      import is 404 import_not_found); without it, all of the
 *                      caller's events
 *   Accept: text/event-stream
 *                      a stream: `retry: 2000`, the events after the cursor in
 *                      id order, then new ones as they commit, `: hb` comments
 *                      in between.  Cursor: the Last-Event-ID header (what
 *                      EventSource sends when it reconnects), else lastEventId
 *                      or after in the query, else 0.
 *   otherwise          a JSON page {"ok","events","nextAfter","hasMore"} of up
 *                      to ?limit= (1..1000, default 100) events after ?after=
 *                      (or lastEventId / Last-Event-ID), for polling clients.
 *
 * The caller is si_auth_identify()'s: a bearer token in the Authorization
 * header or the access_token query parameter (EventSource cannot send
 * headers), or userId in the query in trust-body mode.  Everything that can
 * go wrong is answered as the runtime's JSON error before a stream starts;
 * once it has started, a stream only ever ends. */
#include "events.h"
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
static const char sql_page_user[] =
    "SELECT " EV_ROW_COLUMNS " FROM import_events "
    "WHERE user_id = $1::uuid AND id > $2::bigint ORDER BY id LIMIT $3::int";
static const char sql_page_import[] =
    "SELECT " EV_ROW_COLUMNS " FROM import_events "
    "WHERE import_id = $4::uuid AND user_id = $1::uuid AND id > $2::bigint ORDER BY id LIMIT $3::int";

struct query {
    char user[SI_UUID_LEN + 1];
    char import_id[SI_UUID_LEN + 1];   /* "" = all the user's events */
    bool stream;
    bool head;
    long long after;
    int limit;
};

static void log_request(const struct si_request *req, const struct si_response *resp, long long t0)
{
    json_t *f = json_pack("{s:s, s:s, s:s, s:i, s:I}", "req", req && req->request_id ? req->request_id : "-",
                          "method", req && req->method ? req->method : "-",
                          "path", req && req->path ? req->path : "-", "status", resp->status,
                          "ms", (json_int_t)(ev_now_ms() - t0));
    if (f != NULL && resp->error_code != NULL)
        json_object_set_new(f, "code", json_string(resp->error_code));
    if (f != NULL && resp->log_detail[0] != '\0')
        json_object_set_new(f, "detail", json_string(resp->log_detail));
    si_log(resp->status >= 500 ? SI_LOG_ERROR : SI_LOG_INFO, "request", f);
}

/* Writes L->resp as c's whole response and ends the request. */
static void respond(struct ev_loop *L, struct ev_conn *c, const struct si_request *req, bool head,
                    long long t0)
{
    const struct si_response *resp = &L->resp;
    char top[SI_MAX_EXTRA_HEADERS + 256];
    int n = snprintf(top, sizeof top,
                     "Status: %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\n%s\r\n",
                     resp->status, si_status_text(resp->status), resp->content_type, resp->body.len,
                     resp->headers);
    if (n < 0 || (size_t)n >= sizeof top) {
        ev_conn_doom(L, c, "internal");
        return;
    }
    if (ev_conn_send(L, c, top, (size_t)n) != 0 ||
        (!head && resp->body.len > 0 && ev_conn_send(L, c, resp->body.data, resp->body.len) != 0))
        return;
    c->close_reason = "done";
    ev_conn_finish(L, c);
    log_request(req, resp, t0);
}

/* 1 when the import is the user's, 0 when it is not (or does not exist), -1 on error. */
static int import_visible(struct ev_loop *L, const struct query *q, struct si_error *err)
{
    const char *params[] = { q->import_id, q->user };
    PGresult *res = si_db_exec(&L->db, sql_import_visible, 2, params, err);
    if (res == NULL)
        return -1;
    int found = PQntuples(res) > 0;
    PQclear(res);
    return found;
}

/* The JSON page into L->resp. */
static int json_page(struct ev_loop *L, const struct query *q, struct si_error *err)
{
    char after[24], limit[16];
    snprintf(after, sizeof after, "%lld", q->after);
    snprintf(limit, sizeof limit, "%d", q->limit + 1);   /* one more says whether there is more */
    const char *params[] = { q->user, after, limit, q->import_id };
    bool by_import = q->import_id[0] != '\0';
    PGresult *res = si_db_exec(&L->db, by_import ? sql_page_import : sql_page_user, by_import ? 4 : 3,
                               params, err);
    if (res == NULL)
        return -1;
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
            long long id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
            next = id > next ? id : next;
            continue;
        }
        rc = (first ? 0 : si_buf_appends(b, ",")) || ev_event_json(b, &row);
        first = false;
        next = row.id;
    }
    if (rc == 0)
        rc = si_buf_printf(b, "],\"nextAfter\":%lld,\"hasMore\":%s}", next, more ? "true" : "false");
    PQclear(res);
    if (rc != 0)
        return si_error_set(err, 500, "internal", "response too large");
    L->resp.status = 200;
    L->resp.content_type = "application/json";
    return 0;
}

/* Turns c into a stream: subscribe, write the head, run the first replay
 * page.  Returns 0, or -1 with err when nothing was sent yet. */
static int open_stream(struct ev_loop *L, struct ev_conn *c, const struct si_request *req,
                       const struct query *q, struct si_error *err)
{
    if (L->n_streams >= (size_t)L->set.max_streams)
        return si_error_set(err, 503, "too_many_streams", "too many open event streams; retry later");
    struct ev_sub *sub = calloc(1, sizeof *sub);
    if (sub == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    sub->conn = c;
    memcpy(sub->user, q->user, sizeof sub->user);
    memcpy(sub->import_id, q->import_id, sizeof sub->import_id);
    snprintf(sub->request_id, sizeof sub->request_id, "%s", req->request_id ? req->request_id : "-");
    sub->cursor = sub->page_cursor = q->after;
    sub->replaying = true;
    sub->opened_ms = ev_now_ms();
    c->sub = sub;
    ev_bus_subscribe(L, sub);   /* before the replay query: see events.h */

    size_t out_before = c->out.len;
    ev_conn_set_state(L, c, EV_CONN_STREAM);
    c->out.max = L->set.out_max > c->out.len + 4096 ? L->set.out_max : c->out.len + 4096;
    char head[256];
    int n = snprintf(head, sizeof head,
                     "Status: 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
                     "X-Accel-Buffering: no\r\n\r\nretry: %d\n\n", EV_RETRY_MS);
    if (n < 0 || (size_t)n >= sizeof head || ev_conn_send(L, c, head, (size_t)n) != 0 ||
        ev_bus_replay_page(L, sub, err) != 0) {
        /* Nothing was written yet (output leaves at the end of the turn): answer an error instead. */
        if (err->status == 0)
            si_error_set(err, 500, "internal", "could not start the stream");
        ev_bus_unsubscribe(L, sub, NULL);
        c->out.len = out_before;
        if (c->out.data != NULL)
            c->out.data[out_before] = '\0';
        c->out.max = EV_RESPONSE_MAX;
        ev_conn_set_state(L, c, EV_CONN_READING);
        return -1;
    }
    L->stats.streams_opened++;
    si_log(SI_LOG_INFO, "stream open",
           json_pack("{s:s, s:s, s:I, s:I, s:b}", "req", sub->request_id,
                     "scope", q->import_id[0] ? "import" : "user", "after", (json_int_t)q->after,
                     "replayed", (json_int_t)sub->events_sent, "more", sub->replaying));
    return 0;
}

static bool wants_stream(const struct si_request *req)
{
    const char *accept = si_request_header(req, "accept");
    return accept != NULL && strcasestr(accept, "text/event-stream") != NULL;
}

/* The cursor: for a stream the Last-Event-ID header first (an EventSource
 * reconnecting keeps its original URL), for a page the query first. */
static int read_cursor(const struct si_request *req, bool stream, long long *out, struct si_error *err)
{
    const char *header = si_request_header(req, "last-event-id");
    const char *query = si_request_param(req, "after");
    if (query == NULL)
        query = si_request_param(req, "lastEventId");
    if (header != NULL && *header == '\0')
        header = NULL;
    const char *s = stream ? (header ? header : query) : (query ? query : header);
    *out = 0;
    if (s != NULL && ev_parse_cursor(s, out) != 0)
        return si_error_set(err, 400, "invalid_cursor", "after / lastEventId / Last-Event-ID must be an event id");
    return 0;
}

static int read_query(const struct ev_loop *L, const struct si_request *req, struct query *q,
                      struct si_error *err)
{
    memset(q, 0, sizeof *q);
    q->head = strcmp(req->method, "HEAD") == 0;
    q->stream = !q->head && wants_stream(req);
    if (si_auth_identify(L->cfg, req, NULL, (long long)time(NULL), q->user, err) != 0)
        return -1;
    const char *imp = si_request_param(req, "importId");
    if (imp == NULL)
        imp = si_request_param(req, "import_id");
    if (imp != NULL && si_uuid_normalize(imp, q->import_id) != 0)
        return si_error_set(err, 400, "invalid_import_id", "importId must be a UUID");
    if (read_cursor(req, q->stream, &q->after, err) != 0)
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
    long long t0 = ev_now_ms();
    struct si_request req;
    struct si_error err;
    struct query q;
    char **envp = NULL;
    size_t n_env = 0;
    bool head = false;
    memset(&req, 0, sizeof req);
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
    head = strcmp(req.method, "HEAD") == 0;
    if (strcmp(req.method, "GET") != 0 && !head) {
        si_response_error(&L->resp, 405, "method_not_allowed", "method %s is not allowed here (allowed: GET,HEAD)",
                          req.method);
        si_response_header(&L->resp, "Allow", "GET,HEAD");
        goto reply;
    }
    if (read_query(L, &req, &q, &err) != 0)
        goto fail;
    if (q.import_id[0] != '\0') {
        int visible = import_visible(L, &q, &err);
        if (visible < 0)
            goto fail;
        if (visible == 0) {
            si_error_set(&err, 404, "import_not_found", "import not found");
            goto fail;
        }
    }
    if (q.stream) {
        if (open_stream(L, c, &req, &q, &err) != 0)
            goto fail;
        goto out;
    }
    if (json_page(L, &q, &err) != 0)
        goto fail;
    goto reply;
fail:
    si_response_from_error(&L->resp, &err);
reply:
    respond(L, c, &req, head, t0);
out:
    si_arena_reset(&L->arena);
}
