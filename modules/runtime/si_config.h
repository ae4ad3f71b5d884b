/* si_config.h: a responder's configuration, read once from the environment.
 *
 * Loaded by the main thread before any worker starts and never written
 * afterwards, so workers share it read-only without a lock.  The variables
 * are documented in the top README ("Configuration"). */
#ifndef SI_CONFIG_H
#define SI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "si_error.h"
#include "si_limits.h"

enum si_auth_mode {
    SI_AUTH_JWT,         /* verified Authorization: Bearer HS256 token (default) */
    SI_AUTH_TRUST_BODY   /* dev only: the user id is taken from the request */
};

struct si_config {
    const char *database_url;      /* DATABASE_URL; NULL when unset */
    const char *database_read_url; /* SMARTIMPORT_DATABASE_READ_URL, for reads that tolerate
                                    * a little lag (si_db.h); NULL when unset */
    enum si_auth_mode auth_mode;   /* SMARTIMPORT_AUTH = jwt | trust-body */
    unsigned char jwt_secret[SI_MAX_JWT_SECRET];
    size_t jwt_secret_len;         /* SMARTIMPORT_JWT_SECRET; 0 when unset */
    int threads;                   /* SMARTIMPORT_THREADS */
    size_t max_body;               /* SMARTIMPORT_MAX_BODY, bytes */
    int db_connect_timeout_ms;     /* SMARTIMPORT_DB_CONNECT_TIMEOUT_MS */
    int db_query_timeout_ms;       /* SMARTIMPORT_DB_QUERY_TIMEOUT_MS */
    int db_bulk_timeout_ms;        /* SMARTIMPORT_DB_BULK_TIMEOUT_MS */
    const char *log_file;          /* SMARTIMPORT_LOG_FILE; NULL = stderr as is */
    int log_flush_ms;              /* SMARTIMPORT_LOG_FLUSH_MS; 0 = unbuffered (si_log.h) */
    const char *listen_path;       /* SMARTIMPORT_LISTEN; NULL = socket on fd 0 */
    char *const *envp;             /* the environment it was read from: a function's
                                    * init hook reads its own settings from it */
};

/* Reads the configuration from envp (a NULL-terminated "NAME=value" array,
 * e.g. environ).  String members point into envp.  Returns 0, or -1 with err
 * naming the variable that is wrong (SMARTIMPORT_DATABASE_READ_URL too, when
 * set and libpq cannot read it). */
int si_config_load(struct si_config *cfg, char *const *envp, struct si_error *err);

/* The value of name in envp, or NULL. */
const char *si_env_get(char *const *envp, const char *name);

/* A whole decimal integer in [lo, hi] (an optional '-', digits, nothing else: no spaces,
 * no '+'): 0 with *out, or -1 (NULL, malformed, out of range).  For settings and for
 * request parameters alike. */
int si_parse_long(const char *s, long long lo, long long hi, long long *out);

/* The one way a numeric setting is read (durations are integers too, in the
 * unit their name ends with: _MS, _S).  Parses an optional decimal integer
 * within [lo, hi]: unset or empty keeps *out (the caller's default); anything
 * else that is not such an integer (a sign or space around it, a unit,
 * "1e3", an overflow, a value out of bounds) is an error naming the variable
 * and its bounds, which the caller turns into a refusal to start: never a
 * silent fallback to the default.  Returns 0, or -1 with err (500
 * bad_config). */
int si_env_long(char *const *envp, const char *name, long long lo, long long hi, long long *out,
                struct si_error *err);
/* si_env_long for an int (lo and hi within int). */
int si_env_int(char *const *envp, const char *name, int lo, int hi, int *out, struct si_error *err);

/* --check-config, which every binary takes (README "Production"): it reads every setting the
 * binary reads at start (the environment, the files and keys they name), prints {"ok":true}
 * or {"ok":false,"code","error"} (the error names the variable) on standard output and exits
 * 0 or 1, without opening a socket or connecting to PostgreSQL. */

/* True when argv is "PROGRAM --check-config ..." (the flag first). */
bool si_check_config_asked(int argc, char **argv);

/* What every binary checks: DATABASE_URL set when needs_db, SMARTIMPORT_JWT_SECRET set in
 * jwt mode when needs_auth, SMARTIMPORT_LOG_FILE appendable (or creatable), SMARTIMPORT_LISTEN
 * a valid address (a unix path short enough, or tcp:HOST:PORT: si_listen.h).  0, or -1 with
 * err naming the variable.  Nothing is created. */
int si_config_check_common(const struct si_config *cfg, bool needs_db, bool needs_auth, struct si_error *err);

/* A log file the process could append to: it exists and opens for appending, or its folder
 * takes a new file (nothing is created).  0, or -1 with err naming what (the variable). */
int si_check_log_file(const char *what, const char *path, struct si_error *err);

/* The binary's own settings, checked after the common ones (NULL: none). */
typedef int (*si_check_fn)(const struct si_config *cfg, void *arg, struct si_error *err);

/* The whole --check-config of a binary in one call: si_config_load(envp), the common checks,
 * then check(cfg, arg, err); prints the verdict on stdout; returns the exit status (0 or 1). */
int si_check_config_main(char *const *envp, bool needs_db, bool needs_auth, si_check_fn check, void *arg);

/* Prints the verdict of a check that ran elsewhere (rc 0 or -1, err) and returns 0 or 1. */
int si_check_config_report(int rc, const struct si_error *err);

#endif
