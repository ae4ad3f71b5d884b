/* ingest_config.c: the responder's settings from the environment (see
 * ingest_config.h). */
#include "ingest_config.h"
#include "llm_categorize.h"
#include "si_money.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int ingest_config_load(struct ingest_config *cfg, char *const *envp, struct si_error *err)
{
    *cfg = (struct ingest_config){ .spool_dir = INGEST_SPOOL_DIR_DEFAULT,
                                   .uploads_per_user = INGEST_UPLOADS_PER_USER_DEFAULT,
                                   .slots = UPLOAD_SLOTS_INIT };
    const char *dir = si_env_get(envp, "SMARTIMPORT_SPOOL_DIR");
    if (dir == NULL || *dir == '\0')
        dir = si_env_get(envp, "TMPDIR");
    if (dir == NULL || *dir == '\0')
        dir = INGEST_SPOOL_DIR_DEFAULT;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(dir, W_OK | X_OK) != 0)
        return si_error_set(err, 500, "bad_config",
                            "SMARTIMPORT_SPOOL_DIR (or TMPDIR) must be a writable directory");
    if (si_env_int(envp, "SMARTIMPORT_UPLOADS_PER_USER", 1, SI_THREADS_MAX, &cfg->uploads_per_user, err) != 0 ||
        llmcat_config_load(&cfg->llm, envp, err) != 0)
        return -1;
    /* libcurl's one-time start while this is the only thread */
    if (si_llm_configured(&cfg->llm) && si_http_global_init() != 0)
        return si_error_set(err, 500, "internal", "curl_global_init failed");
    cfg->spool_dir = dir;
    const char *currency = si_env_get(envp, "SMARTIMPORT_DEFAULT_CURRENCY");
    if (currency != NULL && *currency != '\0') {
        if (!si_currency_code_valid(currency))
            return si_error_set(err, 500, "bad_config",
                                "SMARTIMPORT_DEFAULT_CURRENCY must be an ISO 4217 code such as EUR");
        snprintf(cfg->default_currency, sizeof cfg->default_currency, "%s", currency);
    }
    return 0;
}

int ingest_init(const struct si_config *cfg, void **fn_config, struct si_error *err)
{
    struct ingest_config *ic = malloc(sizeof *ic);
    if (ic == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    if (ingest_config_load(ic, cfg->envp, err) != 0) {
        free(ic);
        return -1;
    }
    *fn_config = ic;
    return 0;
}

void ingest_cleanup(void *fn_config)
{
    struct ingest_config *ic = fn_config;
    if (ic != NULL)
        pthread_mutex_destroy(&ic->slots.lock);
    free(ic);
}
