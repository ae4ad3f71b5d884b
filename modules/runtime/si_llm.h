/* si_llm.h: the model every module may ask, an OpenAI-compatible
 * chat-completions endpoint, and its settings (moved here from the advice
 * module so that Crystal and the ingest's merchant categories share one
 * client and one configuration).
 *
 * Settings, read once at start: OPENAI_BASE_URL (default
 * https://api.openai.com/v1), OPENAI_API_KEY (none = no model: every caller
 * answers without one and sends nothing), OPENAI_MODEL (gpt-4o-mini).  How
 * long a caller waits is the caller's own setting (Crystal: OPENAI_TIMEOUT_MS;
 * the ingest: SMARTIMPORT_LLMCAT_TIMEOUT_MS), handed to si_llm_chat.
 *
 * si_llm_chat bounds the whole exchange by that timeout: at most two
 * attempts, the second only after a 429 or a 5xx and only with what is left
 * (after a pause of 250 ms, or the answer's Retry-After when it fits).  A
 * timeout or a transport error is not retried.  The response body is capped
 * (an error, not a cut).  Every failure is a reason code ("no_key",
 * "timeout", "connect", "http_500", "bad_envelope", ...); nothing here logs
 * the prompt, the reply or the key. */
#ifndef SI_LLM_H
#define SI_LLM_H

#include <jansson.h>
#include <stddef.h>

#include "si_error.h"
#include "si_http.h"

#define SI_LLM_DEFAULT_BASE_URL "https://api.openai.com/v1"
#define SI_LLM_DEFAULT_MODEL    "gpt-4o-mini"
#define SI_LLM_MIN_TIMEOUT_MS   100
#define SI_LLM_MAX_TIMEOUT_MS   120000
#define SI_LLM_MAX_URL          512
#define SI_LLM_MAX_KEY          512
#define SI_LLM_MAX_MODEL        128

struct si_llm_config {
    char base_url[SI_LLM_MAX_URL];   /* OPENAI_BASE_URL, without a trailing slash */
    char api_key[SI_LLM_MAX_KEY];    /* OPENAI_API_KEY; "" = no model */
    char model[SI_LLM_MAX_MODEL];    /* OPENAI_MODEL */
    int timeout_ms;                  /* the caller's: the whole exchange, retry included */
};

/* Fills cfg from envp (NULL-terminated "NAME=value"); the timeout is read
 * from timeout_name (in [SI_LLM_MIN_TIMEOUT_MS, max_timeout_ms], at most
 * SI_LLM_MAX_TIMEOUT_MS; default_timeout_ms when unset).  0, or -1 with err
 * naming the variable. */
int si_llm_config_load(struct si_llm_config *cfg, char *const *envp, const char *timeout_name,
                       int default_timeout_ms, int max_timeout_ms, struct si_error *err);

/* True when a model is configured (an API key is set). */
bool si_llm_configured(const struct si_llm_config *cfg);

struct si_llm_result {
    int attempts;
    long http_status;     /* of the last attempt, 0 when none */
    double ms;
};

/* Sends request_body (a chat-completions request, JSON text) to cfg's
 * endpoint through http (the worker's client, so its connection is kept;
 * NULL: one for this call) within cfg->timeout_ms, the answer capped at
 * max_response bytes.  0 with *content the first choice's message content
 * (malloc'd, the caller frees) and *content_len; or -1 with *reason a code
 * ("no_key", "timeout", "connect", "http_500", "bad_envelope", "refused",
 * ...).  res is filled either way. */
int si_llm_chat(struct si_http_client *http, const struct si_llm_config *cfg, const char *request_body,
                size_t max_response, char **content, size_t *content_len, struct si_llm_result *res,
                const char **reason);

/* The message content of a parsed chat.completion: 0 with *content pointing
 * into completion, or -1 with *reason ("bad_envelope", "refused"). */
int si_llm_completion_content(const json_t *completion, const json_t **content, const char **reason);

#endif
