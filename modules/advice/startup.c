/* startup.c: the advice responders' start: the model's configuration from
 * the environment, read once before any worker thread exists
 * (OPENAI_BASE_URL, default https://api.openai.com/v1; OPENAI_API_KEY, none =
 * no model, Crystal answers from its rules; OPENAI_MODEL, gpt-4o-mini:
 * read by the runtime's si_llm_config_load; OPENAI_TIMEOUT_MS, 8000), and
 * libcurl's one-time initialisation.  The
 * configuration is kept in one module-level struct that is written before
 * the threads start and only read afterwards, so workers share it without a
 * lock. */
#include "advice.h"
#include "si_config.h"
#include "si_http.h"
#include "si_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Written once by advice_init() before the worker threads exist. */
static struct si_llm_config loaded_config;

const struct si_llm_config *advice_config(void)
{
    return &loaded_config;
}

/* The function's init hook (si_function.h): si_server_main runs it in the main thread before
 * any worker exists, and for --check-config. */
int advice_init(const struct si_config *cfg, void **fn_config, struct si_error *err)
{
    *fn_config = NULL;
    if (si_llm_config_load(&loaded_config, cfg->envp, "OPENAI_TIMEOUT_MS", ADVICE_DEFAULT_TIMEOUT_MS,
                           SI_LLM_MAX_TIMEOUT_MS, err) != 0)
        return -1;
    if (si_http_global_init() != 0)
        return si_error_set(err, 500, "internal", "curl_global_init failed");
    if (loaded_config.api_key[0] == '\0')
        si_log(SI_LOG_WARN, "OPENAI_API_KEY is not set: Crystal answers from its rules (source \"rules\")", NULL);
    else
        si_log(SI_LOG_INFO, "model configured",
               json_pack("{s:s, s:i}", "model", loaded_config.model, "timeout_ms", loaded_config.timeout_ms));
    return 0;
}
