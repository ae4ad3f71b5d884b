/* llm.c: the model, as an OpenAI-compatible chat-completions client on libcurl.
 *
 * Configuration comes from the environment once, at start (advice_startup,
 * before any worker thread): OPENAI_BASE_URL (default
 * https://api.openai.com/v1), OPENAI_API_KEY (none = no model: Crystal
 * answers from its rules), OPENAI_MODEL (gpt-4o-mini), OPENAI_TIMEOUT_MS
 * (8000).  It is kept in one module-level struct that is written before the
 * threads start and only read afterwards, so workers share it without a lock.
 *
 * One call = one CURL easy handle, created and cleaned up by the calling
 * worker (handles are never shared between threads); curl_global_init runs
 * once in main.  CURLOPT_NOSIGNAL because the process is threaded; no
 * redirects; http/https only.  OPENAI_TIMEOUT_MS bounds the whole exchange:
 * the retry (one, on 429 or 5xx, after a short pause) only gets what is left,
 * so a caller never waits more than the timeout for the model.  A timeout or
 * a transport error is not retried.  The response body is capped at
 * ADVICE_MAX_REPLY_BYTES (CURLOPT_MAXFILESIZE for declared lengths, the
 * bounded write buffer for the rest).  Nothing here logs the prompt, the
 * reply or the key. */
#include "advice.h"
#include "si_config.h"
#include "si_log.h"

#include <curl/curl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"

#define LLM_RETRY_PAUSE_MS   250
#define LLM_MIN_ATTEMPT_MS   50

/* Written once by advice_startup() before the worker threads exist. */
static struct advice_config loaded_config;

const struct advice_config *advice_config(void)
{
    return &loaded_config;
}

double advice_ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static bool printable(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7F)
            return false;
    return true;
}

int advice_config_load(struct advice_config *cfg, char *const *envp, struct si_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->base_url, sizeof cfg->base_url, "%s", ADVICE_DEFAULT_BASE_URL);
    snprintf(cfg->model, sizeof cfg->model, "%s", ADVICE_DEFAULT_MODEL);
    cfg->timeout_ms = ADVICE_DEFAULT_TIMEOUT_MS;

    const char *url = si_env_get(envp, "OPENAI_BASE_URL");
    if (url != NULL && url[0] != '\0') {
        size_t n = strlen(url);
        while (n > 0 && url[n - 1] == '/')
            n--;
        if (n >= sizeof cfg->base_url || !printable(url) ||
            (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
            return si_error_set(err, 500, "bad_config", "OPENAI_BASE_URL must be an http(s) URL of at most %d bytes",
                                ADVICE_MAX_URL - 1);
        memcpy(cfg->base_url, url, n);
        cfg->base_url[n] = '\0';
    }
    const char *key = si_env_get(envp, "OPENAI_API_KEY");
    if (key != NULL) {
        if (strlen(key) >= sizeof cfg->api_key || !printable(key))
            return si_error_set(err, 500, "bad_config", "OPENAI_API_KEY is too long or holds control characters");
        snprintf(cfg->api_key, sizeof cfg->api_key, "%s", key);
    }
    const char *model = si_env_get(envp, "OPENAI_MODEL");
    if (model != NULL && model[0] != '\0') {
        if (strlen(model) >= sizeof cfg->model || !printable(model))
            return si_error_set(err, 500, "bad_config", "OPENAI_MODEL is too long or holds control characters");
        snprintf(cfg->model, sizeof cfg->model, "%s", model);
    }
    return si_env_int(envp, "OPENAI_TIMEOUT_MS", 100, ADVICE_MAX_TIMEOUT_MS, &cfg->timeout_ms, err);
}

extern char **environ;

int advice_startup(const char *function_name, char *const *envp)
{
    struct si_error err;
    si_log_setup(function_name);
    if (advice_config_load(&loaded_config, envp != NULL ? envp : environ, &err) != 0) {
        si_logf(SI_LOG_ERROR, "configuration: %s", err.message);
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        si_log(SI_LOG_ERROR, "curl_global_init failed", NULL);
        return 2;
    }
    if (loaded_config.api_key[0] == '\0')
        si_log(SI_LOG_WARN, "OPENAI_API_KEY is not set: Crystal answers from its rules (source \"rules\")", NULL);
    else
        si_log(SI_LOG_INFO, "model configured",
               json_pack("{s:s, s:i}", "model", loaded_config.model, "timeout_ms", loaded_config.timeout_ms));
    return 0;
}

void advice_shutdown(void)
{
    curl_global_cleanup();
}

/* ---- one exchange ---------------------------------------------------------------- */

struct reply {
    struct si_buf body;
    bool overflow;
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct reply *r = userdata;
    size_t n = size * nmemb;
    if (si_buf_append(&r->body, data, n) != 0) {
        r->overflow = true;
        return 0;   /* aborts the transfer (CURLE_WRITE_ERROR) */
    }
    return n;
}

static const char *status_reason(long status)
{
    switch (status) {
    case 400: return "http_400";
    case 401: return "http_401";
    case 403: return "http_403";
    case 404: return "http_404";
    case 429: return "http_429";
    case 500: return "http_500";
    case 502: return "http_502";
    case 503: return "http_503";
    case 504: return "http_504";
    default:  return status >= 500 ? "http_5xx" : "http_other";
    }
}

static void pause_ms(long ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

#define SETOPT(h, opt, val) \
    do { if (curl_easy_setopt((h), (opt), (val)) != CURLE_OK) { *reason = "curl_setopt"; goto out; } } while (0)

int llm_advise(const struct advice_config *cfg, const char *request_body, struct advice_text *out,
               struct llm_result *res, const char **reason)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    memset(res, 0, sizeof *res);
    *reason = "internal";
    if (cfg->api_key[0] == '\0') {
        *reason = "no_key";
        return -1;
    }
    int rc = -1;
    CURL *h = NULL;
    struct curl_slist *headers = NULL;
    struct reply reply = { .overflow = false };
    si_buf_init(&reply.body, ADVICE_MAX_REPLY_BYTES);
    char url[ADVICE_MAX_URL + 32], auth[ADVICE_MAX_KEY + 32];
    snprintf(url, sizeof url, "%s/chat/completions", cfg->base_url);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", cfg->api_key);

    h = curl_easy_init();
    if (h == NULL) {
        *reason = "curl_init";
        goto out;
    }
    const char *lines[] = { "Content-Type: application/json", "Accept: application/json", "Expect:", auth };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        struct curl_slist *next = curl_slist_append(headers, lines[i]);
        if (next == NULL) {
            *reason = "curl_init";
            goto out;
        }
        headers = next;
    }
    SETOPT(h, CURLOPT_URL, url);
    SETOPT(h, CURLOPT_NOSIGNAL, 1L);
    SETOPT(h, CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(h, CURLOPT_POST, 1L);
    SETOPT(h, CURLOPT_POSTFIELDS, request_body);
    SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(request_body));
    SETOPT(h, CURLOPT_HTTPHEADER, headers);
    SETOPT(h, CURLOPT_USERAGENT, "smartimport/" PACKAGE_VERSION);
    SETOPT(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)ADVICE_MAX_REPLY_BYTES);
    SETOPT(h, CURLOPT_WRITEFUNCTION, on_data);
    SETOPT(h, CURLOPT_WRITEDATA, &reply);

    for (int attempt = 1; attempt <= 2; attempt++) {
        long left = (long)cfg->timeout_ms - (long)advice_ms_since(&t0);
        if (left < LLM_MIN_ATTEMPT_MS) {
            *reason = "timeout";
            break;
        }
        SETOPT(h, CURLOPT_TIMEOUT_MS, left);
        SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, left);
        si_buf_reset(&reply.body);
        reply.overflow = false;
        res->attempts = attempt;
        CURLcode cc = curl_easy_perform(h);
        if (cc != CURLE_OK) {
            if (reply.overflow || cc == CURLE_FILESIZE_EXCEEDED)
                *reason = "too_large";
            else if (cc == CURLE_OPERATION_TIMEDOUT)
                *reason = "timeout";
            else if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST)
                *reason = "connect";
            else
                *reason = "transport";
            break;
        }
        long status = 0;
        if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
            status = 0;
        res->http_status = status;
        if (status == 429 || status >= 500) {
            *reason = status_reason(status);
            if (attempt == 1) {
                long now_left = (long)cfg->timeout_ms - (long)advice_ms_since(&t0);
                pause_ms(now_left / 4 < LLM_RETRY_PAUSE_MS ? now_left / 4 : LLM_RETRY_PAUSE_MS);
                continue;
            }
            break;
        }
        if (status != 200) {
            *reason = status_reason(status);
            break;
        }
        if (reply.body.len == 0 || reply.body.data == NULL) {
            *reason = "bad_envelope";
            break;
        }
        rc = advice_parse_completion(reply.body.data, reply.body.len, out, reason);
        break;
    }
out:
    res->ms = advice_ms_since(&t0);
    curl_slist_free_all(headers);
    if (h != NULL)
        curl_easy_cleanup(h);
    si_buf_cleanup(&reply.body);
    memset(auth, 0, sizeof auth);
    return rc;
}
