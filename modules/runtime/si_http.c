/* si_http.c: the outbound HTTP client on libcurl (see si_http.h).
 *
 * One call = one loop of attempts on the client's easy handle, which is
 * curl_easy_reset() between calls (the reset keeps its connection and TLS
 * session caches, which is the point of keeping it).  Every option is set
 * again per call, so nothing of one call leaks into the next.  The body is
 * collected in a bounded si_buf: over req->max_response the transfer is
 * aborted and the call fails (CURLOPT_MAXFILESIZE refuses a declared length
 * before anything is read).  Headers are watched only for Retry-After, which
 * is reset by each status line (a 100 Continue comes before the answer).
 * Pauses between attempts sleep on CLOCK_MONOTONIC to an absolute time, so a
 * signal cannot shorten them below what the server asked for.  Chosen
 * against: a curl multi handle and a shared connection pool (locks, and a
 * global); one easy handle per caller is enough for the callers we have. */
#include "si_http.h"
#include "si_buf.h"
#include "si_clock.h"

#include <curl/curl.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config.h"

/* ---- once per process ----------------------------------------------------------- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc = -1;   /* written once inside pthread_once, read after it */

static void global_init_once(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

int si_http_global_init(void)
{
    if (pthread_once(&global_once, global_init_once) != 0)
        return -1;
    return global_rc;
}

const char *si_http_error_name(enum si_http_error e)
{
    switch (e) {
    case SI_HTTP_OK: return "ok";
    case SI_HTTP_ERR_SETUP: return "setup";
    case SI_HTTP_ERR_CONNECT: return "connect";
    case SI_HTTP_ERR_TIMEOUT: return "timeout";
    case SI_HTTP_ERR_TRANSPORT: return "transport";
    case SI_HTTP_ERR_TOO_LARGE: return "too_large";
    case SI_HTTP_ERR_STATUS: return "status";
    case SI_HTTP_ERR_BAD_JSON: return "bad_json";
    }
    return "unknown";
}

void si_http_client_init(struct si_http_client *c)
{
    c->easy = NULL;
}

void si_http_client_cleanup(struct si_http_client *c)
{
    if (c->easy != NULL)
        curl_easy_cleanup(c->easy);
    c->easy = NULL;
}

void si_http_request_init(struct si_http_request *req)
{
    memset(req, 0, sizeof *req);
    req->connect_timeout_ms = SI_HTTP_CONNECT_TIMEOUT_MS;
    req->timeout_ms = SI_HTTP_TIMEOUT_MS;
    req->deadline_ms = SI_HTTP_DEADLINE_MS;
    req->max_attempts = SI_HTTP_ATTEMPTS;
    req->retry_on = SI_HTTP_RETRY_DEFAULT;
    req->backoff_ms = SI_HTTP_BACKOFF_MS;
    req->backoff_max_ms = SI_HTTP_BACKOFF_MAX_MS;
    req->retry_after_max_ms = SI_HTTP_RETRY_AFTER_MAX_MS;
    req->max_response = SI_HTTP_MAX_RESPONSE;
}

void si_http_result_cleanup(struct si_http_result *res)
{
    free(res->body);
    res->body = NULL;
    res->body_len = 0;
}

/* ---- Retry-After ---------------------------------------------------------------- */

long si_http_parse_retry_after(const char *value)
{
    char v[64];
    size_t n = 0;
    while (*value == ' ' || *value == '\t')
        value++;
    while (value[n] != '\0' && n < sizeof v - 1) {
        v[n] = value[n];
        n++;
    }
    if (value[n] != '\0')
        return -1;
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
        n--;
    v[n] = '\0';
    if (n == 0)
        return -1;
    bool digits = true;
    for (size_t i = 0; i < n; i++)
        digits = digits && v[i] >= '0' && v[i] <= '9';
    if (digits) {   /* delta-seconds; anything past a day is a day (callers cap far lower) */
        if (n > 6)
            return 86400L * 1000;
        long s = strtol(v, NULL, 10);
        return (s > 86400 ? 86400 : s) * 1000;
    }
    if (!isalpha((unsigned char)v[0]))   /* an HTTP date starts with the day's name */
        return -1;
    time_t when = curl_getdate(v, NULL);
    if (when == (time_t)-1)
        return -1;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long ms = (long long)when * 1000 - ((long long)now.tv_sec * 1000 + now.tv_nsec / 1000000);
    if (ms < 0)
        return 0;
    return ms > 86400LL * 1000 ? 86400L * 1000 : (long)ms;
}

/* ---- one call ------------------------------------------------------------------- */

struct attempt {
    struct si_buf body;
    bool discard, overflow, oom;
    long retry_after_ms;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct attempt *a = ud;
    size_t n = size * nmemb;
    if (a->discard)
        return n;
    if (si_buf_append(&a->body, data, n) != 0) {
        if (n > a->body.max - a->body.len)
            a->overflow = true;
        else
            a->oom = true;
        return 0;   /* aborts the transfer (CURLE_WRITE_ERROR) */
    }
    return n;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *ud)
{
    struct attempt *a = ud;
    size_t n = size * nitems;
    static const char name[] = "Retry-After:";
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        a->retry_after_ms = -1;   /* a new answer (after a 100 Continue, say) */
    } else if (n > sizeof name - 1 && strncasecmp(line, name, sizeof name - 1) == 0) {
        char v[64];
        size_t len = n - (sizeof name - 1);
        if (len < sizeof v) {
            memcpy(v, line + sizeof name - 1, len);
            v[len] = '\0';
            a->retry_after_ms = si_http_parse_retry_after(v);
        }
    }
    return n;
}

static bool header_safe(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p == '\r' || *p == '\n' || *p == 0)
            return false;
    return strlen(s) < SI_HTTP_MAX_HEADER_LINE;
}

/* Appends one header line; false (and the list freed) on failure. */
static bool add_header(struct curl_slist **list, const char *line)
{
    struct curl_slist *next = curl_slist_append(*list, line);
    if (next == NULL)
        return false;
    *list = next;
    return true;
}

static int build_headers(const struct si_http_request *req, struct curl_slist **out)
{
    char line[SI_HTTP_MAX_HEADER_LINE + 32];
    struct curl_slist *list = NULL;
    *out = NULL;
    if (!add_header(&list, "Expect:"))
        goto fail;
    const char *named[][2] = { { "Content-Type", req->content_type }, { "Accept", req->accept },
                               { "Idempotency-Key", req->idempotency_key } };
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        if (named[i][1] == NULL)
            continue;
        if (!header_safe(named[i][1]) || named[i][1][0] == '\0')
            goto fail;
        snprintf(line, sizeof line, "%s: %s", named[i][0], named[i][1]);
        if (!add_header(&list, line))
            goto fail;
    }
    for (size_t i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
        const char *h = req->headers[i], *colon = strchr(h, ':');
        if (!header_safe(h) || colon == NULL || colon == h || !add_header(&list, h))
            goto fail;
    }
    *out = list;
    return 0;
fail:
    curl_slist_free_all(list);
    return -1;
}

#define SETOPT(h, opt, val) \
    do { if (curl_easy_setopt((h), (opt), (val)) != CURLE_OK) goto setup_failed; } while (0)

static int configure(CURL *h, const struct si_http_request *req, struct curl_slist *headers, struct attempt *a,
                     char *errbuf)
{
    SETOPT(h, CURLOPT_URL, req->url);
    SETOPT(h, CURLOPT_NOSIGNAL, 1L);
    SETOPT(h, CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(h, CURLOPT_HTTPHEADER, headers);
    SETOPT(h, CURLOPT_USERAGENT, req->user_agent != NULL ? req->user_agent : "smartimport/" PACKAGE_VERSION);
    SETOPT(h, CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(h, CURLOPT_WRITEDATA, a);
    SETOPT(h, CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(h, CURLOPT_HEADERDATA, a);
    SETOPT(h, CURLOPT_ERRORBUFFER, errbuf);
    if (!req->discard_body)
        SETOPT(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_response);
    const char *method = req->method != NULL ? req->method : req->body != NULL ? "POST" : "GET";
    if (req->body != NULL) {
        SETOPT(h, CURLOPT_POST, 1L);
        SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        SETOPT(h, CURLOPT_POSTFIELDS, req->body);
    } else if (strcmp(method, "GET") == 0) {
        SETOPT(h, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        SETOPT(h, CURLOPT_NOBODY, 1L);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0 && strcmp(method, "HEAD") != 0)
        SETOPT(h, CURLOPT_CUSTOMREQUEST, method);
    return 0;
setup_failed:
    return -1;
}

/* Sleeps until ms from now on the monotonic clock: never less. */
static void pause_ms(long ms)
{
    if (ms <= 0)
        return;
    struct timespec until;
    si_deadline_ts(&until, CLOCK_MONOTONIC, ms);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
        ;
}

static bool request_valid(const struct si_http_request *req)
{
    return req->url != NULL && (strncmp(req->url, "http://", 7) == 0 || strncmp(req->url, "https://", 8) == 0) &&
           header_safe(req->url) && (req->method == NULL || header_safe(req->method)) &&
           (req->user_agent == NULL || header_safe(req->user_agent)) && req->max_attempts >= 1 &&
           req->max_attempts <= SI_HTTP_ATTEMPTS_MAX && req->timeout_ms > 0 && req->connect_timeout_ms > 0 &&
           req->deadline_ms > 0 && req->backoff_ms >= 0 && req->backoff_max_ms >= 0 &&
           req->retry_after_max_ms >= 0 && (req->discard_body || req->max_response > 0) &&
           (req->body != NULL || req->body_len == 0);
}

static long min_l(long a, long b) { return a < b ? a : b; }

/* What the attempt ended with; *retryable when req allows another. */
static enum si_http_error classify(CURL *h, CURLcode cc, const struct si_http_request *req, const struct attempt *a,
                                   struct si_http_result *res, const char *errbuf, bool *retryable)
{
    *retryable = false;
    res->status = 0;
    res->retry_after_ms = -1;
    if (cc != CURLE_OK) {
        snprintf(res->detail, sizeof res->detail, "%s", errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
        if (a->overflow || cc == CURLE_FILESIZE_EXCEEDED)
            return SI_HTTP_ERR_TOO_LARGE;
        if (a->oom || cc == CURLE_OUT_OF_MEMORY)
            return SI_HTTP_ERR_SETUP;
        if (cc == CURLE_OPERATION_TIMEDOUT) {
            *retryable = (req->retry_on & SI_HTTP_RETRY_TIMEOUT) != 0;
            return SI_HTTP_ERR_TIMEOUT;
        }
        if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_RESOLVE_PROXY) {
            *retryable = (req->retry_on & SI_HTTP_RETRY_CONNECT) != 0;
            return SI_HTTP_ERR_CONNECT;
        }
        return SI_HTTP_ERR_TRANSPORT;
    }
    long status = 0;
    if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status < 100) {
        snprintf(res->detail, sizeof res->detail, "no HTTP status");
        return SI_HTTP_ERR_TRANSPORT;
    }
    res->status = status;
    res->retry_after_ms = a->retry_after_ms;
    res->detail[0] = '\0';
    if (status >= 200 && status <= 299)
        return SI_HTTP_OK;
    *retryable = (status == 429 && (req->retry_on & SI_HTTP_RETRY_429) != 0) ||
                 (status >= 500 && status <= 599 && (req->retry_on & SI_HTTP_RETRY_5XX) != 0);
    return SI_HTTP_ERR_STATUS;
}

/* The pause before the next attempt, or -1 when there is to be none. */
static long next_pause(const struct si_http_request *req, const struct si_http_result *res, int attempt, long left)
{
    if (res->status != 0 && res->retry_after_ms >= 0) {   /* the server said when: not earlier */
        if (res->retry_after_ms > req->retry_after_max_ms || res->retry_after_ms + SI_HTTP_MIN_ATTEMPT_MS > left)
            return -1;
        return res->retry_after_ms;
    }
    long pause = req->backoff_ms;
    for (int k = 1; k < attempt && pause < req->backoff_max_ms; k++)
        pause = pause > LONG_MAX / 2 ? LONG_MAX : pause * 2;
    pause = min_l(pause, req->backoff_max_ms);
    return pause + SI_HTTP_MIN_ATTEMPT_MS > left ? -1 : pause;
}

/* A result that failed before any attempt: error "setup" with detail; returns -1. */
static int fail_before_sending(struct si_http_result *res, const char *detail)
{
    memset(res, 0, sizeof *res);
    res->retry_after_ms = -1;
    res->error = SI_HTTP_ERR_SETUP;
    snprintf(res->detail, sizeof res->detail, "%s", detail);
    return -1;
}

int si_http_perform(struct si_http_client *c, const struct si_http_request *req, struct si_http_result *res)
{
    long long t0 = si_now_ms();
    fail_before_sending(res, "");   /* until an attempt says otherwise */
    struct curl_slist *headers = NULL;
    struct attempt a = { .discard = req->discard_body, .retry_after_ms = -1 };
    char errbuf[CURL_ERROR_SIZE];
    si_buf_init(&a.body, req->max_response);
    if (!request_valid(req)) {
        snprintf(res->detail, sizeof res->detail, "invalid request");
        goto out;
    }
    if (si_http_global_init() != 0) {
        snprintf(res->detail, sizeof res->detail, "curl_global_init failed");
        goto out;
    }
    if (c->easy == NULL)
        c->easy = curl_easy_init();
    else
        curl_easy_reset(c->easy);
    CURL *h = c->easy;
    if (h == NULL || build_headers(req, &headers) != 0 || configure(h, req, headers, &a, errbuf) != 0) {
        snprintf(res->detail, sizeof res->detail, h == NULL ? "curl_easy_init failed" : "request setup failed");
        goto out;
    }
    for (int attempt = 1;; attempt++) {
        long left = (long)(req->deadline_ms - (si_now_ms() - t0));
        if (left <= 0) {   /* a later attempt was only begun with SI_HTTP_MIN_ATTEMPT_MS left */
            res->error = SI_HTTP_ERR_TIMEOUT;
            snprintf(res->detail, sizeof res->detail, "deadline reached");
            break;
        }
        long timeout = min_l(req->timeout_ms, left);
        if (curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout) != CURLE_OK ||
            curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, min_l(req->connect_timeout_ms, timeout)) != CURLE_OK) {
            res->error = SI_HTTP_ERR_SETUP;
            break;
        }
        si_buf_reset(&a.body);
        a.overflow = a.oom = false;
        a.retry_after_ms = -1;
        errbuf[0] = '\0';
        res->attempts = attempt;
        bool retryable;
        res->error = classify(h, curl_easy_perform(h), req, &a, res, errbuf, &retryable);
        if (!retryable || attempt >= req->max_attempts)
            break;
        long pause = next_pause(req, res, attempt, (long)(req->deadline_ms - (si_now_ms() - t0)));
        if (pause < 0)
            break;
        pause_ms(pause);
    }
    if (res->error != SI_HTTP_ERR_TOO_LARGE && a.body.data != NULL && res->status != 0) {
        res->body = a.body.data;   /* the result takes the buffer */
        res->body_len = a.body.len;
        si_buf_init(&a.body, 0);
    }
out:
    curl_slist_free_all(headers);
    si_buf_cleanup(&a.body);
    res->ms = (double)(si_now_ms() - t0);
    return res->error == SI_HTTP_OK ? 0 : -1;
}

/* ---- JSON and forms ------------------------------------------------------------- */

int si_http_json(struct si_http_client *c, const struct si_http_request *req, const json_t *send, json_t **out,
                 struct si_http_result *res)
{
    struct si_http_request r = *req;
    char *text = NULL;
    if (out != NULL)
        *out = NULL;
    if (send != NULL) {
        text = json_dumps(send, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (text == NULL) {
            return fail_before_sending(res, "the JSON to send could not be written");
        }
        r.body = text;
        r.body_len = strlen(text);
    }
    if (r.body != NULL && r.content_type == NULL)
        r.content_type = "application/json";
    if (r.accept == NULL)
        r.accept = "application/json";
    int rc = si_http_perform(c, &r, res);
    free(text);
    if (rc != 0 || out == NULL)
        return rc;
    json_error_t jerr;
    *out = res->body != NULL ? json_loadb(res->body, res->body_len, 0, &jerr) : NULL;
    if (*out == NULL) {
        res->error = SI_HTTP_ERR_BAD_JSON;
        if (res->body != NULL)   /* where, not what: the text may quote the body */
            snprintf(res->detail, sizeof res->detail, "not JSON at line %d column %d", jerr.line, jerr.column);
        else
            snprintf(res->detail, sizeof res->detail, "empty body");
        return -1;
    }
    return 0;
}

static bool form_plain(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
           ch == '.' || ch == '_' || ch == '~';
}

static size_t form_escape(const char *s, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (form_plain(*p)) {
            if (out != NULL)
                out[o] = (char)*p;
            o++;
        } else if (*p == ' ') {
            if (out != NULL)
                out[o] = '+';
            o++;
        } else {
            if (out != NULL) {
                out[o] = '%';
                out[o + 1] = hex[*p >> 4];
                out[o + 2] = hex[*p & 15];
            }
            o += 3;
        }
    }
    return o;
}

char *si_http_form_encode(const char *const *pairs)
{
    size_t n = 1;
    for (size_t i = 0; pairs[i] != NULL && pairs[i + 1] != NULL; i += 2) {
        size_t k = form_escape(pairs[i], NULL), v = form_escape(pairs[i + 1], NULL);
        if (k > SIZE_MAX / 4 || v > SIZE_MAX / 4 || n > SIZE_MAX / 4)
            return NULL;
        n += k + v + 2;
    }
    char *out = malloc(n);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; pairs[i] != NULL && pairs[i + 1] != NULL; i += 2) {
        if (o > 0)
            out[o++] = '&';
        o += form_escape(pairs[i], out + o);
        out[o++] = '=';
        o += form_escape(pairs[i + 1], out + o);
    }
    out[o] = '\0';
    return out;
}

int si_http_form(struct si_http_client *c, const struct si_http_request *req, const char *const *pairs, json_t **out,
                 struct si_http_result *res)
{
    struct si_http_request r = *req;
    char *form = si_http_form_encode(pairs);
    if (out != NULL)
        *out = NULL;
    if (form == NULL) {
        return fail_before_sending(res, "out of memory");
    }
    r.body = form;
    r.body_len = strlen(form);
    r.method = "POST";
    r.content_type = "application/x-www-form-urlencoded";
    int rc = si_http_json(c, &r, NULL, out, res);
    free(form);
    return rc;
}
