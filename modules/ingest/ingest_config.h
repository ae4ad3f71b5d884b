/* ingest_config.h: the ingest-statement responder's own settings and state.
 *
 * ingest_init (the function's init hook, si_function.h) reads them once from
 * the environment before the worker threads start; every handler reaches
 * them as ctx->fn_config.  The settings are read-only afterwards; the upload
 * slots (upload_slots.h) have their own lock.  Documented in the top README
 * ("Configuration") and modules/ingest/README.md. */
#ifndef INGEST_CONFIG_H
#define INGEST_CONFIG_H

#include "si_config.h"
#include "si_error.h"
#include "si_llm.h"
#include "upload_slots.h"

#define INGEST_UPLOADS_PER_USER_DEFAULT 2
#define INGEST_SPOOL_DIR_DEFAULT        "/tmp"

struct ingest_config {
    const char *spool_dir;      /* SMARTIMPORT_SPOOL_DIR, else $TMPDIR, else /tmp */
    int uploads_per_user;       /* SMARTIMPORT_UPLOADS_PER_USER: concurrent uploads of one user */
    char default_currency[4];   /* SMARTIMPORT_DEFAULT_CURRENCY: the deployment's, "" = none */
    struct upload_slots slots;  /* the uploads of each user running now */
    struct si_llm_config llm;   /* the category model (llm_categorize.h): OPENAI_*, SMARTIMPORT_LLMCAT_TIMEOUT_MS */
};

/* Reads the settings from envp (strings point into it) into cfg and checks
 * that the spool directory is a writable directory.  0, or -1 with err
 * naming the variable. */
int ingest_config_load(struct ingest_config *cfg, char *const *envp, struct si_error *err);

/* The init and cleanup hooks of struct si_function: *fn_config becomes a
 * struct ingest_config loaded from cfg->envp. */
int ingest_init(const struct si_config *cfg, void **fn_config, struct si_error *err);
void ingest_cleanup(void *fn_config);

#endif
