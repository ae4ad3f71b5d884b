/* ingest_config.h: the ingest-statement responder's own settings.
 *
 * Read once from the environment by main() before the worker threads start
 * and only read afterwards, so workers share them without a lock.  Until
 * ingest_config_load runs (unit tests) the defaults apply.  Documented in the
 * top README ("Configuration") and modules/ingest/README.md. */
#ifndef INGEST_CONFIG_H
#define INGEST_CONFIG_H

#include "si_error.h"

#define INGEST_UPLOADS_PER_USER_DEFAULT 2
#define INGEST_SPOOL_DIR_DEFAULT        "/tmp"

struct ingest_config {
    const char *spool_dir;      /* SMARTIMPORT_SPOOL_DIR, else $TMPDIR, else /tmp */
    int uploads_per_user;       /* SMARTIMPORT_UPLOADS_PER_USER: concurrent uploads of one user */
};

/* Reads the settings from envp (strings point into it) and checks that the
 * spool directory is a writable directory.  0, or -1 with err naming the
 * variable. */
int ingest_config_load(char *const *envp, struct si_error *err);

/* The loaded settings (the defaults before ingest_config_load). */
const struct ingest_config *ingest_config(void);

#endif
