/* llm.c: the model, an OpenAI-compatible chat-completions endpoint, called
 * through the runtime's HTTP client (si_http.h) on the worker's client, so
 * the connection (and its TLS session) is kept between analyses.
 *
 * OPENAI_TIMEOUT_MS bounds the whole exchange: at most two attempts, the
 * second only after a 429 or a 5xx and only with what is left (after a pause
 * of 250 ms, or the answer's Retry-After when it fits), so a caller never
 * waits more than the timeout for the model.  A timeout or a transport error
 * is not retried.  The response body is capped at ADVICE_MAX_REPLY_BYTES (an
 * error, not a cut).  Every failure is a reason code ("timeout", "http_500",
 * "bad_envelope", ...) and Crystal answers from its rules; nothing here logs
 * the prompt, the reply or the key. */
#include "advice.h"
#include "si_clock.h"
#include "si_http.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"

#define LLM_ATTEMPTS       2
#define LLM_RETRY_PAUSE_MS 250

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

/* The reason code of a failed exchange (the codes the stored advice and the
 * log have always used). */
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

int llm_advise(struct si_http_client *http, const struct advice_config *cfg, const char *request_body,
               struct advice_text *out, struct llm_result *res, const char **reason)
{
    double t0 = si_clock_ms();
    memset(res, 0, sizeof *res);
    *reason = "internal";
    if (cfg->api_key[0] == '\0') {
        *reason = "no_key";
        return -1;
    }
    char url[ADVICE_MAX_URL + 32], auth[ADVICE_MAX_KEY + 32];
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
    req.max_attempts = LLM_ATTEMPTS;
    req.retry_on = SI_HTTP_RETRY_429 | SI_HTTP_RETRY_5XX;
    req.backoff_ms = LLM_RETRY_PAUSE_MS;
    req.backoff_max_ms = LLM_RETRY_PAUSE_MS;
    req.retry_after_max_ms = cfg->timeout_ms;
    req.max_response = ADVICE_MAX_REPLY_BYTES;

    struct si_http_client own;
    si_http_client_init(&own);
    struct si_http_result r;
    json_t *reply = NULL;
    int rc = -1;
    if (si_http_json(http != NULL ? http : &own, &req, NULL, &reply, &r) != 0)
        *reason = failure_reason(&r);
    else if (r.status != 200)
        *reason = status_reason(r.status);
    else
        rc = advice_parse_completion_json(reply, out, reason);
    res->attempts = r.attempts;
    res->http_status = r.status;
    res->ms = si_ms_since(t0);
    json_decref(reply);
    si_http_result_cleanup(&r);
    si_http_client_cleanup(&own);
    memset(auth, 0, sizeof auth);
    return rc;
}
