/* si_llm.c: the OpenAI-compatible chat-completions client and its settings
 * (see si_llm.h), on the runtime's HTTP client (si_http.h).  Moved from
 * modules/advice (startup.c's settings, llm.c's exchange) when the ingest
 * began to ask the model too; the reason codes are the ones Crystal has
 * always stored. */
#include "si_llm.h"
#include "si_clock.h"
#include "si_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define SI_LLM_ATTEMPTS       2
#define SI_LLM_RETRY_PAUSE_MS 250

static bool printable(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7F)
            return false;
    return true;
}

int si_llm_config_load(struct si_llm_config *cfg, char *const *envp, const char *timeout_name,
                       int default_timeout_ms, int max_timeout_ms, struct si_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->base_url, sizeof cfg->base_url, "%s", SI_LLM_DEFAULT_BASE_URL);
    snprintf(cfg->model, sizeof cfg->model, "%s", SI_LLM_DEFAULT_MODEL);
    cfg->timeout_ms = default_timeout_ms;

    const char *url = si_env_get(envp, "OPENAI_BASE_URL");
    if (url != NULL && url[0] != '\0') {
        size_t n = strlen(url);
        while (n > 0 && url[n - 1] == '/')
            n--;
        if (n >= sizeof cfg->base_url || !printable(url) ||
            (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
            return si_error_set(err, 500, "bad_config", "OPENAI_BASE_URL must be an http(s) URL of at most %d bytes",
                                SI_LLM_MAX_URL - 1);
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
    if (max_timeout_ms > SI_LLM_MAX_TIMEOUT_MS)
        max_timeout_ms = SI_LLM_MAX_TIMEOUT_MS;
    return si_env_int(envp, timeout_name, SI_LLM_MIN_TIMEOUT_MS, max_timeout_ms, &cfg->timeout_ms, err);
}

bool si_llm_configured(const struct si_llm_config *cfg)
{
    return cfg != NULL && cfg->api_key[0] != '\0';
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

/* The reason code of a failed exchange. */
static const char *failure_reason(const struct si_http_result *r)
{
    switch (r->error) {
    case SI_HTTP_ERR_TOO_LARGE: return "too_large";
    case SI_HTTP_ERR_TIMEOUT: return "timeout";
    case SI_HTTP_ERR_CONNECT: return "connect";
    case SI_HTTP_ERR_TRANSPORT: return "transport";
    case SI_HTTP_ERR_STATUS: return status_reason(r->status);
    case SI_HTTP_ERR_BAD_JSON: return "bad_envelope";
    case SI_HTTP_ERR_SETUP: return "curl_init";
    case SI_HTTP_OK: break;
    }
    return "internal";
}

int si_llm_completion_content(const json_t *o, const json_t **content, const char **reason)
{
    json_t *choices = json_is_object(o) ? json_object_get(o, "choices") : NULL;
    json_t *first = json_is_array(choices) ? json_array_get(choices, 0) : NULL;
    json_t *message = json_is_object(first) ? json_object_get(first, "message") : NULL;
    json_t *c = json_is_object(message) ? json_object_get(message, "content") : NULL;
    *content = NULL;
    if (!json_is_object(o)) {
        *reason = "bad_envelope";
        return -1;
    }
    if (json_is_object(message) && json_is_string(json_object_get(message, "refusal"))) {
        *reason = "refused";
        return -1;
    }
    if (!json_is_string(c)) {
        *reason = "bad_envelope";
        return -1;
    }
    *content = c;
    return 0;
}

int si_llm_chat(struct si_http_client *http, const struct si_llm_config *cfg, const char *request_body,
                size_t max_response, char **content, size_t *content_len, struct si_llm_result *res,
                const char **reason)
{
    double t0 = si_clock_ms();
    memset(res, 0, sizeof *res);
    *content = NULL;
    *content_len = 0;
    *reason = "internal";
    if (!si_llm_configured(cfg)) {
        *reason = "no_key";
        return -1;
    }
    char url[SI_LLM_MAX_URL + 32], auth[SI_LLM_MAX_KEY + 32];
    snprintf(url, sizeof url, "%s/chat/completions", cfg->base_url);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", cfg->api_key);
    const char *headers[] = { auth, NULL };

    struct si_http_request req;
    si_http_request_init(&req);
    req.url = url;
    req.body = request_body;
    req.body_len = strlen(request_body);
    req.headers = headers;
    req.user_agent = "smartimport/" PACKAGE_VERSION;
    req.timeout_ms = cfg->timeout_ms;
    req.connect_timeout_ms = cfg->timeout_ms;
    req.deadline_ms = cfg->timeout_ms;
    req.max_attempts = SI_LLM_ATTEMPTS;
    req.retry_on = SI_HTTP_RETRY_429 | SI_HTTP_RETRY_5XX;
    req.backoff_ms = SI_LLM_RETRY_PAUSE_MS;
    req.backoff_max_ms = SI_LLM_RETRY_PAUSE_MS;
    req.retry_after_max_ms = cfg->timeout_ms;
    req.max_response = max_response;

    struct si_http_client own;
    si_http_client_init(&own);
    struct si_http_result r;
    json_t *reply = NULL;
    const json_t *c = NULL;
    int rc = -1;
    if (si_http_json(http != NULL ? http : &own, &req, NULL, &reply, &r) != 0) {
        *reason = failure_reason(&r);
    } else if (r.status != 200) {
        *reason = status_reason(r.status);
    } else if (si_llm_completion_content(reply, &c, reason) == 0) {
        size_t n = json_string_length(c);
        *content = malloc(n + 1);
        if (*content == NULL) {
            *reason = "internal";
        } else {
            memcpy(*content, json_string_value(c), n);
            (*content)[n] = '\0';
            *content_len = n;
            rc = 0;
        }
    }
    res->attempts = r.attempts;
    res->http_status = r.status;
    res->ms = si_ms_since(t0);
    json_decref(reply);
    si_http_result_cleanup(&r);
    si_http_client_cleanup(&own);
    memset(auth, 0, sizeof auth);
    return rc;
}
