/* ingest_config.c: the responder's settings from the environment (see
 * ingest_config.h). */
#include "ingest_config.h"
#include "si_config.h"

#include <sys/stat.h>
#include <unistd.h>

/* Written once by ingest_config_load() before the worker threads exist. */
static struct ingest_config loaded = {
    .spool_dir = INGEST_SPOOL_DIR_DEFAULT,
    .uploads_per_user = INGEST_UPLOADS_PER_USER_DEFAULT,
};

const struct ingest_config *ingest_config(void)
{
    return &loaded;
}

int ingest_config_load(char *const *envp, struct si_error *err)
{
    const char *dir = si_env_get(envp, "SMARTIMPORT_SPOOL_DIR");
    if (dir == NULL || *dir == '\0')
        dir = si_env_get(envp, "TMPDIR");
    if (dir == NULL || *dir == '\0')
        dir = INGEST_SPOOL_DIR_DEFAULT;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(dir, W_OK | X_OK) != 0)
        return si_error_set(err, 500, "bad_config",
                            "SMARTIMPORT_SPOOL_DIR (or TMPDIR) must be a writable directory");
    long long per_user = INGEST_UPLOADS_PER_USER_DEFAULT;
    if (si_env_long(envp, "SMARTIMPORT_UPLOADS_PER_USER", 1, SI_THREADS_MAX, &per_user, err) != 0)
        return -1;
    loaded.spool_dir = dir;
    loaded.uploads_per_user = (int)per_user;
    return 0;
}
