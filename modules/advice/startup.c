/* startup.c: the advice responders' start: the model's configuration from
 * the environment, read once before any worker thread exists
 * (OPENAI_BASE_URL, default https://api.openai.com/v1; OPENAI_API_KEY, none =
 * no model, Crystal answers from its rules; OPENAI_MODEL, gpt-4o-mini;
 * OPENAI_TIMEOUT_MS, 8000), and libcurl's one-time initialisation.  The
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

/* Written once by advice_startup() before the worker threads exist. */
static struct advice_config loaded_config;

const struct advice_config *advice_config(void)
{
    return &loaded_config;
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
    if (si_http_global_init() != 0) {
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
    /* libcurl stays initialised until the process ends (si_http.h). */
}
