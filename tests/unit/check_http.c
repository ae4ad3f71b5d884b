/* check_http.c: the runtime's HTTP client (si_http.h) against a small HTTP
 * server in this test: a thread on 127.0.0.1 that answers each request with
 * the next reply of a script and records what it received (head, body, when,
 * on which connection).  Retries, Retry-After, the size cap, timeouts, the
 * idempotency key, JSON and form bodies.  Time is only asserted as "not
 * earlier than" (a wait the server asked for), never as a speed. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "si_http.h"

/* ---- the scripted server ------------------------------------------------------------- */

#define MAX_SCRIPT 16
#define MAX_SEEN   16
#define MAX_TEXT   8192

enum action { REPLY, HANG, DROP };

struct step {
    enum action action;
    char text[MAX_TEXT];   /* the raw answer for REPLY */
};

struct seen {
    char head[MAX_TEXT];
    char body[MAX_TEXT];
    long long mono_ms, wall_ms;
    int connection;
};

struct server {
    int fd, port;
    pthread_t thread;
    pthread_mutex_t lock;
    bool stop;                    /* guarded by lock */
    struct step script[MAX_SCRIPT];
    size_t n_script, next;        /* next: guarded by lock */
    struct seen seen[MAX_SEEN];
    size_t n_seen;                /* guarded by lock */
    int connections;              /* guarded by lock */
};

static long long now_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void add_reply(struct server *s, const char *status_line, const char *extra_headers, const char *body)
{
    struct step *st = &s->script[s->n_script++];
    st->action = REPLY;
    snprintf(st->text, sizeof st->text, "HTTP/1.1 %s\r\nContent-Length: %zu\r\n%s\r\n%s", status_line, strlen(body),
             extra_headers, body);
}

static void add_raw(struct server *s, enum action action, const char *text)
{
    struct step *st = &s->script[s->n_script++];
    st->action = action;
    snprintf(st->text, sizeof st->text, "%s", text);
}

static bool stopping(struct server *s)
{
    pthread_mutex_lock(&s->lock);
    bool stop = s->stop;
    pthread_mutex_unlock(&s->lock);
    return stop;
}

static int wait_in(int fd, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int rc;
    do
        rc = poll(&p, 1, ms);
    while (rc < 0 && errno == EINTR);
    return rc;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* Reads one request (head and Content-Length body) into seen; false at the end of the connection. */
static bool read_request(int fd, struct seen *out, char *pending, size_t *pending_len)
{
    size_t have = *pending_len;
    char *end;
    pending[have] = '\0';
    while ((end = strstr(pending, "\r\n\r\n")) == NULL) {
        if (have >= MAX_TEXT - 1 || wait_in(fd, 5000) <= 0)
            return false;
        ssize_t r = recv(fd, pending + have, MAX_TEXT - 1 - have, 0);
        if (r <= 0)
            return false;
        have += (size_t)r;
        pending[have] = '\0';
    }
    size_t head_len = (size_t)(end - pending) + 4;
    memcpy(out->head, pending, head_len);
    out->head[head_len] = '\0';
    size_t want = 0;
    const char *cl = strcasestr(out->head, "\r\nContent-Length:");
    if (cl != NULL)
        want = strtoul(cl + 17, NULL, 10);
    if (want >= MAX_TEXT)
        return false;
    while (have - head_len < want) {
        if (wait_in(fd, 5000) <= 0)
            return false;
        ssize_t r = recv(fd, pending + have, MAX_TEXT - 1 - have, 0);
        if (r <= 0)
            return false;
        have += (size_t)r;
    }
    memcpy(out->body, pending + head_len, want);
    out->body[want] = '\0';
    memmove(pending, pending + head_len + want, have - head_len - want);
    *pending_len = have - head_len - want;
    return true;
}

static void serve_connection(struct server *s, int fd, int connection)
{
    static char pending[MAX_TEXT];   /* only the server thread uses it */
    size_t pending_len = 0;
    for (;;) {
        struct seen got;
        memset(&got, 0, sizeof got);
        if (!read_request(fd, &got, pending, &pending_len))
            return;
        got.mono_ms = now_ms(CLOCK_MONOTONIC);
        got.wall_ms = now_ms(CLOCK_REALTIME);
        got.connection = connection;
        pthread_mutex_lock(&s->lock);
        if (s->n_seen < MAX_SEEN)
            s->seen[s->n_seen++] = got;
        const struct step *st = s->next < s->n_script ? &s->script[s->next++] : NULL;
        pthread_mutex_unlock(&s->lock);
        if (st == NULL) {
            static const char none[] = "HTTP/1.1 500 Script Over\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            send_all(fd, none, sizeof none - 1);
            return;
        }
        if (st->action == DROP)
            return;
        if (st->action == HANG) {   /* until the client gives up */
            char sink[256];
            while (!stopping(s)) {
                int r = wait_in(fd, 100);
                if (r < 0 || (r > 0 && recv(fd, sink, sizeof sink, 0) <= 0))
                    return;
            }
            return;
        }
        send_all(fd, st->text, strlen(st->text));
        if (strcasestr(st->text, "Connection: close") != NULL)
            return;
    }
}

static void *serve(void *arg)
{
    struct server *s = arg;
    int connection = 0;
    while (!stopping(s)) {
        if (wait_in(s->fd, 50) <= 0)
            continue;
        int fd = accept(s->fd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&s->lock);
        connection = ++s->connections;
        pthread_mutex_unlock(&s->lock);
        serve_connection(s, fd, connection);
        close(fd);
    }
    return NULL;
}

/* A socket on a free port of 127.0.0.1; its port in *port. */
static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(fd, 16), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static struct server *server_new(void)
{
    struct server *s = calloc(1, sizeof *s);
    ck_assert_ptr_nonnull(s);
    pthread_mutex_init(&s->lock, NULL);
    s->fd = listen_any(&s->port);
    return s;
}

static void server_start(struct server *s)
{
    ck_assert_int_eq(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_free(struct server *s)
{
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    close(s->fd);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static size_t seen_count(struct server *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->n_seen;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* The value of header name in a recorded head, copied to out ("" when absent). */
static const char *seen_header(const struct seen *r, const char *name, char *out, size_t n)
{
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\r\n%s:", name);
    const char *p = strcasestr(r->head, pattern);
    out[0] = '\0';
    if (p == NULL)
        return out;
    p += strlen(pattern);
    while (*p == ' ')
        p++;
    size_t len = strcspn(p, "\r\n");
    if (len >= n)
        len = n - 1;
    memcpy(out, p, len);
    out[len] = '\0';
    return out;
}

static void request_for(struct si_http_request *req, const struct server *s, char *url, size_t n, const char *path)
{
    si_http_request_init(req);
    snprintf(url, n, "http://127.0.0.1:%d%s", s->port, path);
    req->url = url;
    req->backoff_ms = 10;
    req->timeout_ms = 5000;
    req->deadline_ms = 20000;
}

/* ---- retries -------------------------------------------------------------------------- */

START_TEST(a_503_is_retried_and_the_success_after_it_is_the_answer)
{
    struct server *s = server_new();
    add_reply(s, "503 Service Unavailable", "", "busy");
    add_reply(s, "200 OK", "Content-Type: text/plain\r\n", "done");
    server_start(s);
    struct si_http_client c;
    struct si_http_request req;
    struct si_http_result res;
    char url[64];
    si_http_client_init(&c);
    request_for(&req, s, url, sizeof url, "/work");
    req.body = "x";
    req.body_len = 1;
    ck_assert_int_eq(si_http_perform(&c, &req, &res), 0);
    ck_assert_int_eq(res.error, SI_HTTP_OK);
    ck_assert_int_eq(res.status, 200);
    ck_assert_int_eq(res.attempts, 2);
    ck_assert_str_eq(res.body, "done");
    ck_assert_uint_eq(seen_count(s), 2);
    ck_assert(strncmp(s->seen[1].head, "POST /work HTTP/1.1", 19) == 0);
    ck_assert_str_eq(s->seen[1].body, "x");
    si_http_result_cleanup(&res);
    si_http_client_cleanup(&c);
    si_http_client_cleanup(&c);   /* twice is safe */
    server_free(s);
}
END_TEST

START_TEST(the_idempotency_key_is_the_same_on_every_retry)
{
    struct server *s = server_new();
    add_reply(s, "503 Service Unavailable", "", "");
    add_reply(s, "502 Bad Gateway", "", "");
    add_reply(s, "200 OK", "", "{}");
    server_start(s);
    struct si_http_client c;
    struct si_http_request req;
    struct si_http_result res;
    char url[64], key[128];
    si_http_client_init(&c);
    request_for(&req, s, url, sizeof url, "/pay");
    req.idempotency_key = "job-42";
    req.body = "{}";
    req.body_len = 2;
    ck_assert_int_eq(si_http_perform(&c, &req, &res), 0);
    ck_assert_int_eq(res.attempts, 3);
    ck_assert_uint_eq(seen_count(s), 3);
    for (size_t i = 0; i < 3; i++)
        ck_assert_str_eq(seen_header(&s->seen[i], "Idempotency-Key", key, sizeof key), "job-42");
    si_http_result_cleanup(&res);
    si_http_client_cleanup(&c);
    server_free(s);
}
END_TEST

START_TEST(a_429_is_retried_no_earlier_than_its_retry_after_seconds)
{
    struct server *s = server_new();
    add_reply(s, "429 Too Many Requests", "Retry-After: 1\r\n", "slow down");
    add_reply(s, "200 OK", "", "ok");
    server_start(s);
    struct si_http_client c;
    struct si_http_request req;
    struct si_http_result res;
    char url[64];
    si_http_client_init(&c);
    request_for(&req, s, url, sizeof url, "/");
    ck_assert_int_eq(si_http_perform(&c, &req, &res), 0);
    ck_assert_int_eq(res.attempts, 2);
    ck_assert_uint_eq(seen_count(s), 2);
    ck_assert(strncmp(s->seen[0].head, "GET / HTTP/1.1", 14) == 0);
    ck_assert_int_ge(s->seen[1].mono_ms - s->seen[0].mono_ms, 1000);
    si_http_result_cleanup(&res);
    si_http_client_cleanup(&c);
    server_free(s);
}
END_TEST

START_TEST(a_retry_after_http_date_is_waited_for)
{
    struct server *s = server_new();
    time_t when = time(NULL) + 2;
    struct tm tm;
    char date[80], extra[128];
    gmtime_r(&when, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    snprintf(extra, sizeof extra, "Retry-After: %s\r\n", date);
    add_reply(s, "503 Service Unavailable", extra, "");
    add_reply(s, "200 OK", "", "ok");
    server_start(s);
    struct si_http_client c;
    struct si_http_request req;
    struct si_http_result res;
    char url[64];
    si_http_client_init(&c);
    request_for(&req, s, url, sizeof url, "/");
    ck_assert_int_eq(si_http_perform(&c, &req, &res), 0);
    ck_assert_int_eq(res.attempts, 2);
    ck_assert_int_ge(s->seen[1].wall_ms, (long long)when * 1000);
    si_http_result_cleanup(&res);
    si_http_client_cleanup(&c);
    server_free(s);
}
END_TEST

START_TEST(a_retry_after_beyond_the_cap_ends_the_call_with_that_answer)
{
    struct server *s = server_new();
    add_reply(s, "429 Too Many Requests", "Retry-After: 3600\r\n", "later");
    add_reply(s, "200 OK", "", "too early");
    server_start(s);
    struct si_http_client c;
    struct si_http_request req;
    struct si_http_result res;
    char url[64];
    si_http_client_init(&c);
    request_for(&req, s, url, sizeof url, "/");
    req.retry_after_max_ms = 2000;
    ck_assert_int_eq(si_http_perform(&c, &req, &res), -1);
    ck_assert_int_eq(res.error, SI_HTTP_ERR_STATUS);
    ck_assert_int_eq(res.status, 429);
    ck_assert_int_eq(res.retry_after_ms, 3600 * 1000);
    ck_assert_int_eq(res.attempts, 1);
    ck_assert_str_eq(res.body, "later");
    ck_assert_uint_eq(seen_count(s), 1);
    si_http_result_cleanup(&res);
    si_http_client_cleanup(&c);
    server_free(s);
}
END_TEST

START_TEST(a_400_is_not_retried)
{
    struct server *s = server_new();
    add_reply(s, "400 Bad Request", "", "{\"error\":\"invalid_grant\"}");
    add_reply(s, "200 OK", "", "never");
    server_start(s);
    struct si_http_client c;
    struct si_http_request req;
    struct si_http_result res;
    char url[64];
    si_http_client_init(&c);
    request_for(&req, s, url, sizeof url, "/");
    ck_assert_int_eq(si_http_perform(&c, &req, &res), -1);
    ck_assert_int_eq(res.error, SI_HTTP_ERR_STATUS);
    ck_assert_int_eq(res.status, 400);
    ck_assert_int_eq(res.attempts, 1);
    ck_assert_str_eq(res.body, "{\"error\":\"invalid_grant\"}");
    ck_assert_uint_eq(seen_count(s), 1);
    si_http_result_cleanup(&res);
    si_http_client_cleanup(&c);
    server_free(s);
}
END_TEST

START_TEST(the_attempts_are_bounded_by_their_number_and_by_the_deadline)
{
    struct server *s = server_new();
    for (int i = 0; i < 6; i++)
        add_reply(s, "500 Internal Server Error", "", "");
    server_start(s);
    struct si_http_client c;
    struct si_http_request req;
    struct si_http_result res;
    char url[64];
    si_http_client_init(&c);
    request_for(&req, s, url, sizeof url, "/");
    req.max_attempts = 3;
    ck_assert_int_eq(si_http_perform(&c, &req, &res), -1);
    ck_assert_int_eq(res.status, 500);
    ck_assert_int_eq(res.attempts, 3);
    si_http_result_cleanup(&res);
    /* 10 attempts allowed, but after the pause of 200 ms the next one (400) does not fit in 600 */
    req.max_attempts = 10;
    req.backoff_ms = 200;
    req.deadline_ms = 600;
    ck_assert_int_eq(si_http_perform(&c, &req, &res), -1);
    ck_assert_int_eq(res.status, 500);
    ck_assert_int_le(res.attempts, 2);
    ck_assert_uint_eq(seen_count(s), 3 + (size_t)res.attempts);
    si_http_result_cleanup(&res);
    si_http_client_cleanup(&c);
    server_free(s);
}
END_TEST

START_TEST(a_refused_connection_is_retried_and_named)
{
    int port, fd = listen_any(&port);
    close(fd);   /* nothing listens there now */
    struct si_http_client c;
    struct si_http_request req;
    struct si_http_result res;
    char url[64];
    si_http_client_init(&c);
    si_http_request_init(&req);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    req.url = url;
    req.backoff_ms = 1;
    ck_assert_int_eq(si_http_perform(&c, &req, &res), -1);
    ck_assert_int_eq(res.error, SI_HTTP_ERR_CONNECT);
    ck_assert_str_eq(si_http_error_name(res.error), "connect");
    ck_assert_int_eq(res.status, 0);
    ck_assert_int_eq(res.attempts, SI_HTTP_ATTEMPTS);
    si_http_result_cleanup(&res);
    req.retry_on = SI_HTTP_RETRY_5XX;
    ck_assert_int_eq(si_http_perform(&c, &req, &res), -1);
    ck_assert_int_eq(res.attempts, 1);
    si_http_result_cleanup(&res);
    si_http_client_cleanup(&c);
}
END_TEST

/* ---- limits ----------------------------------------------------------------------------- */

START_TEST(a_server_that_does_not_answer_is_a_timeout_and_not_retried)
{
    struct server *s = server_new();
    add_raw(s, HANG, "");
    add_reply(s, "200 OK", "", "never");
    server_start(s);
    struct si_http_client c;
    struct si_http_request req;
    struct si_http_result res;
    char url[64];
    si_http_client_init(&c);
    request_for(&req, s, url, sizeof url, "/");
    req.timeout_ms = 300;
    ck_assert_int_eq(si_http_perform(&c, &req, &res), -1);
    ck_assert_int_eq(res.error, SI_HTTP_ERR_TIMEOUT);
    ck_assert_int_eq(res.attempts, 1);
    ck_assert_int_eq(res.status, 0);
    ck_assert_uint_eq(seen_count(s), 1);
    si_http_result_cleanup(&res);
    si_http_client_cleanup(&c);
    server_free(s);
}
END_TEST

START_TEST(a_body_over_the_cap_is_an_error_not_a_truncation)
{
    static char big[3001];
    memset(big, 'a', sizeof big - 1);
    struct server *s = server_new();
    add_reply(s, "200 OK", "", big);   /* with its Content-Length */
    char chunked[MAX_TEXT];            /* without: the cap is met while reading */
    snprintf(chunked, sizeof chunked, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%zx\r\n%s\r\n0\r\n\r\n",
             strlen(big), big);
    add_raw(s, REPLY, chunked);
    add_reply(s, "200 OK", "", "small");
    server_start(s);
    struct si_http_client c;
    struct si_http_request req;
    struct si_http_result res;
    char url[64];
    si_http_client_init(&c);
    request_for(&req, s, url, sizeof url, "/");
    req.max_response = 1000;
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(si_http_perform(&c, &req, &res), -1);
        ck_assert_int_eq(res.error, SI_HTTP_ERR_TOO_LARGE);
        ck_assert_ptr_null(res.body);
        ck_assert_int_eq(res.attempts, 1);
        si_http_result_cleanup(&res);
    }
    ck_assert_int_eq(si_http_perform(&c, &req, &res), 0);   /* the handle is still good */
    ck_assert_str_eq(res.body, "small");
    si_http_result_cleanup(&res);
    si_http_client_cleanup(&c);
    server_free(s);
}
END_TEST

START_TEST(calls_through_one_client_reuse_its_connection)
{
    struct server *s = server_new();
    add_reply(s, "200 OK", "", "one");
    add_reply(s, "200 OK", "", "two");
    server_start(s);
    struct si_http_client c;
    struct si_http_request req;
    struct si_http_result res;
    char url[64];
    si_http_client_init(&c);
    request_for(&req, s, url, sizeof url, "/");
    ck_assert_int_eq(si_http_perform(&c, &req, &res), 0);
    si_http_result_cleanup(&res);
    ck_assert_int_eq(si_http_perform(&c, &req, &res), 0);
    ck_assert_str_eq(res.body, "two");
    si_http_result_cleanup(&res);
    ck_assert_int_eq(s->seen[0].connection, 1);
    ck_assert_int_eq(s->seen[1].connection, 1);
    si_http_client_cleanup(&c);
    server_free(s);
}
END_TEST

START_TEST(extra_headers_are_sent_and_a_header_with_a_line_break_is_refused)
{
    struct server *s = server_new();
    add_reply(s, "200 OK", "", "");
    server_start(s);
    struct si_http_client c;
    struct si_http_request req;
    struct si_http_result res;
    char url[64], value[128];
    si_http_client_init(&c);
    request_for(&req, s, url, sizeof url, "/");
    const char *good[] = { "Authorization: Bearer sk-test", NULL };
    req.headers = good;
    ck_assert_int_eq(si_http_perform(&c, &req, &res), 0);
    ck_assert_str_eq(seen_header(&s->seen[0], "Authorization", value, sizeof value), "Bearer sk-test");
    ck_assert_str_eq(seen_header(&s->seen[0], "Expect", value, sizeof value), "");
    si_http_result_cleanup(&res);
    const char *bad[] = { "X-A: 1\r\nX-Injected: 2", NULL };
    req.headers = bad;
    ck_assert_int_eq(si_http_perform(&c, &req, &res), -1);
    ck_assert_int_eq(res.error, SI_HTTP_ERR_SETUP);
    ck_assert_int_eq(res.attempts, 0);
    si_http_result_cleanup(&res);
    req.headers = NULL;
    req.idempotency_key = "k\nX-Injected: 1";
    ck_assert_int_eq(si_http_perform(&c, &req, &res), -1);
    ck_assert_int_eq(res.error, SI_HTTP_ERR_SETUP);
    si_http_result_cleanup(&res);
    req.idempotency_key = NULL;
    req.url = "file:///etc/passwd";
    ck_assert_int_eq(si_http_perform(&c, &req, &res), -1);
    ck_assert_int_eq(res.error, SI_HTTP_ERR_SETUP);
    si_http_result_cleanup(&res);
    ck_assert_uint_eq(seen_count(s), 1);
    si_http_client_cleanup(&c);
    server_free(s);
}
END_TEST

/* ---- JSON and forms ------------------------------------------------------------------------ */

START_TEST(json_goes_out_and_comes_back_parsed)
{
    struct server *s = server_new();
    add_reply(s, "200 OK", "Content-Type: application/json\r\n", "{\"id\":7,\"ok\":true}");
    add_reply(s, "200 OK", "", "<html>not json</html>");
    server_start(s);
    struct si_http_client c;
    struct si_http_request req;
    struct si_http_result res;
    char url[64], value[128];
    si_http_client_init(&c);
    request_for(&req, s, url, sizeof url, "/api");
    json_t *send = json_pack("{s:s, s:i}", "name", "a\"b", "n", 3), *got = NULL;
    ck_assert_int_eq(si_http_json(&c, &req, send, &got, &res), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(got, "id")), 7);
    ck_assert_str_eq(s->seen[0].body, "{\"name\":\"a\\\"b\",\"n\":3}");
    ck_assert_str_eq(seen_header(&s->seen[0], "Content-Type", value, sizeof value), "application/json");
    ck_assert_str_eq(seen_header(&s->seen[0], "Accept", value, sizeof value), "application/json");
    json_decref(got);
    si_http_result_cleanup(&res);
    ck_assert_int_eq(si_http_json(&c, &req, send, &got, &res), -1);
    ck_assert_int_eq(res.error, SI_HTTP_ERR_BAD_JSON);
    ck_assert_int_eq(res.status, 200);
    ck_assert_ptr_null(got);
    si_http_result_cleanup(&res);
    json_decref(send);
    si_http_client_cleanup(&c);
    server_free(s);
}
END_TEST

static const struct { const char *pairs[7]; const char *encoded; } forms[] = {
    { { "grant_type", "authorization_code", NULL }, "grant_type=authorization_code" },
    { { "code", "a b&c=d", "redirect_uri", "https://x.test/cb?x=1#f", NULL },
      "code=a+b%26c%3Dd&redirect_uri=https%3A%2F%2Fx.test%2Fcb%3Fx%3D1%23f" },
    { { "k+y", "caf\xC3\xA9 %~._-", NULL }, "k%2By=caf%C3%A9+%25~._-" },
    { { "empty", "", "line", "a\r\nb", NULL }, "empty=&line=a%0D%0Ab" },
    { { NULL }, "" },
};

START_TEST(form_fields_are_escaped)
{
    char *got = si_http_form_encode(forms[_i].pairs);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, forms[_i].encoded);
    free(got);
}
END_TEST

START_TEST(a_form_is_posted_with_its_content_type_and_the_json_answer_parsed)
{
    struct server *s = server_new();
    add_reply(s, "200 OK", "", "{\"access_token\":\"t\",\"expires_in\":3600}");
    server_start(s);
    struct si_http_client c;
    struct si_http_request req;
    struct si_http_result res;
    char url[64], value[128];
    si_http_client_init(&c);
    request_for(&req, s, url, sizeof url, "/token");
    const char *pairs[] = { "grant_type", "authorization_code", "code", "a b&c", NULL };
    json_t *got = NULL;
    ck_assert_int_eq(si_http_form(&c, &req, pairs, &got, &res), 0);
    ck_assert_str_eq(json_string_value(json_object_get(got, "access_token")), "t");
    ck_assert(strncmp(s->seen[0].head, "POST /token HTTP/1.1", 20) == 0);
    ck_assert_str_eq(seen_header(&s->seen[0], "Content-Type", value, sizeof value),
                     "application/x-www-form-urlencoded");
    ck_assert_str_eq(s->seen[0].body, "grant_type=authorization_code&code=a+b%26c");
    json_decref(got);
    si_http_result_cleanup(&res);
    si_http_client_cleanup(&c);
    server_free(s);
}
END_TEST

START_TEST(retry_after_values_are_seconds_or_http_dates)
{
    ck_assert_int_eq(si_http_parse_retry_after("120"), 120000);
    ck_assert_int_eq(si_http_parse_retry_after(" 0 \r\n"), 0);
    ck_assert_int_eq(si_http_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), 0);   /* past: now */
    ck_assert_int_eq(si_http_parse_retry_after(""), -1);
    ck_assert_int_eq(si_http_parse_retry_after("soon"), -1);
    ck_assert_int_eq(si_http_parse_retry_after("-3"), -1);
    ck_assert_int_eq(si_http_parse_retry_after("1.5"), -1);
    ck_assert_int_eq(si_http_parse_retry_after("99999999999999"), 86400L * 1000);
}
END_TEST

static Suite *http_suite(void)
{
    Suite *s = suite_create("http");
    TCase *t = tcase_create("retries");
    tcase_set_timeout(t, 30);
    tcase_add_test(t, a_503_is_retried_and_the_success_after_it_is_the_answer);
    tcase_add_test(t, the_idempotency_key_is_the_same_on_every_retry);
    tcase_add_test(t, a_429_is_retried_no_earlier_than_its_retry_after_seconds);
    tcase_add_test(t, a_retry_after_http_date_is_waited_for);
    tcase_add_test(t, a_retry_after_beyond_the_cap_ends_the_call_with_that_answer);
    tcase_add_test(t, a_400_is_not_retried);
    tcase_add_test(t, the_attempts_are_bounded_by_their_number_and_by_the_deadline);
    tcase_add_test(t, a_refused_connection_is_retried_and_named);
    tcase_add_test(t, retry_after_values_are_seconds_or_http_dates);
    suite_add_tcase(s, t);
    t = tcase_create("limits");
    tcase_set_timeout(t, 30);
    tcase_add_test(t, a_server_that_does_not_answer_is_a_timeout_and_not_retried);
    tcase_add_test(t, a_body_over_the_cap_is_an_error_not_a_truncation);
    tcase_add_test(t, calls_through_one_client_reuse_its_connection);
    tcase_add_test(t, extra_headers_are_sent_and_a_header_with_a_line_break_is_refused);
    suite_add_tcase(s, t);
    t = tcase_create("bodies");
    tcase_set_timeout(t, 30);
    tcase_add_test(t, json_goes_out_and_comes_back_parsed);
    tcase_add_loop_test(t, form_fields_are_escaped, 0, (int)(sizeof forms / sizeof forms[0]));
    tcase_add_test(t, a_form_is_posted_with_its_content_type_and_the_json_answer_parsed);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    if (si_http_global_init() != 0)
        return EXIT_FAILURE;
    SRunner *r = srunner_create(http_suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
