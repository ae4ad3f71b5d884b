/* si_config.c: environment -> struct si_config, with every value checked. */
#include "si_config.h"
#include "si_listen.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *si_env_get(char *const *envp, const char *name)
{
    size_t n = strlen(name);
    for (char *const *e = envp; e != NULL && *e != NULL; e++) {
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    }
    return NULL;
}

int si_parse_long(const char *s, long long lo, long long hi, long long *out)
{
    if (s == NULL)
        return -1;
    const char *digits = s[0] == '-' ? s + 1 : s;   /* strtoll would also take spaces and '+' */
    char *end = NULL;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (!isdigit((unsigned char)digits[0]) || errno != 0 || *end != '\0' || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

int si_env_long(char *const *envp, const char *name, long long lo, long long hi,
                    long long *out, struct si_error *err)
{
    const char *v = si_env_get(envp, name);
    if (v == NULL || *v == '\0')
        return 0;
    if (si_parse_long(v, lo, hi, out) != 0)
        return si_error_set(err, 500, "bad_config", "%s must be an integer in [%lld, %lld]",
                            name, lo, hi);
    return 0;
}

int si_env_int(char *const *envp, const char *name, int lo, int hi, int *out, struct si_error *err)
{
    long long v = *out;
    if (si_env_long(envp, name, lo, hi, &v, err) != 0)
        return -1;
    *out = (int)v;
    return 0;
}

int si_config_load(struct si_config *cfg, char *const *envp, struct si_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->envp = envp;

    const char *url = si_env_get(envp, "DATABASE_URL");
    cfg->database_url = (url != NULL && *url != '\0') ? url : NULL;
    const char *read_url = si_env_get(envp, "SMARTIMPORT_DATABASE_READ_URL");
    cfg->database_read_url = (read_url != NULL && *read_url != '\0') ? read_url : NULL;
    if (cfg->database_read_url != NULL) {
        /* libpq's message can quote the string, a password with it: not repeated */
        char *why = NULL;
        PQconninfoOption *opts = PQconninfoParse(cfg->database_read_url, &why);
        bool readable = opts != NULL;
        PQconninfoFree(opts);
        PQfreemem(why);
        if (!readable)
            return si_error_set(err, 500, "bad_config",
                                "SMARTIMPORT_DATABASE_READ_URL is not a libpq connection string or URL");
    }

    const char *mode = si_env_get(envp, "SMARTIMPORT_AUTH");
    if (mode == NULL || *mode == '\0' || strcmp(mode, "jwt") == 0)
        cfg->auth_mode = SI_AUTH_JWT;
    else if (strcmp(mode, "trust-body") == 0)
        cfg->auth_mode = SI_AUTH_TRUST_BODY;
    else
        return si_error_set(err, 500, "bad_config", "SMARTIMPORT_AUTH must be 'jwt' or 'trust-body'");

    const char *secret = si_env_get(envp, "SMARTIMPORT_JWT_SECRET");
    if (secret != NULL && *secret != '\0') {
        size_t n = strlen(secret);
        if (n > sizeof cfg->jwt_secret)
            return si_error_set(err, 500, "bad_config", "SMARTIMPORT_JWT_SECRET is longer than %d bytes",
                                SI_MAX_JWT_SECRET);
        memcpy(cfg->jwt_secret, secret, n);
        cfg->jwt_secret_len = n;
    }

    long long threads = SI_THREADS_DEFAULT, max_body = (long long)SI_MAX_BODY_DEFAULT;
    long long connect_ms = SI_DB_CONNECT_TIMEOUT_MS, query_ms = SI_DB_QUERY_TIMEOUT_MS;
    long long bulk_ms = SI_DB_BULK_TIMEOUT_MS, flush_ms = SI_LOG_FLUSH_MS_DEFAULT;
    if (si_env_long(envp, "SMARTIMPORT_THREADS", 1, SI_THREADS_MAX, &threads, err) != 0 ||
        si_env_long(envp, "SMARTIMPORT_MAX_BODY", 1, (long long)SI_MAX_BODY_CEILING, &max_body, err) != 0 ||
        si_env_long(envp, "SMARTIMPORT_DB_CONNECT_TIMEOUT_MS", 100, 60000, &connect_ms, err) != 0 ||
        si_env_long(envp, "SMARTIMPORT_DB_QUERY_TIMEOUT_MS", 100, 3600000, &query_ms, err) != 0 ||
        si_env_long(envp, "SMARTIMPORT_DB_BULK_TIMEOUT_MS", 100, 3600000, &bulk_ms, err) != 0 ||
        si_env_long(envp, "SMARTIMPORT_LOG_FLUSH_MS", 0, SI_LOG_FLUSH_MS_MAX, &flush_ms, err) != 0)
        return -1;
    cfg->threads = (int)threads;
    cfg->max_body = (size_t)max_body;
    cfg->db_connect_timeout_ms = (int)connect_ms;
    cfg->db_query_timeout_ms = (int)query_ms;
    cfg->db_bulk_timeout_ms = (int)bulk_ms;
    cfg->log_flush_ms = (int)flush_ms;

    const char *log_file = si_env_get(envp, "SMARTIMPORT_LOG_FILE");
    cfg->log_file = (log_file != NULL && *log_file != '\0') ? log_file : NULL;
    const char *listen = si_env_get(envp, "SMARTIMPORT_LISTEN");
    cfg->listen_path = (listen != NULL && *listen != '\0') ? listen : NULL;
    return 0;
}

bool si_check_config_asked(int argc, char **argv)
{
    return argc >= 2 && argv[1] != NULL && strcmp(argv[1], "--check-config") == 0;
}

int si_check_log_file(const char *what, const char *path, struct si_error *err)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    if (errno != ENOENT)
        return si_error_set(err, 500, "bad_config", "%s: cannot append to %s: %s", what, path,
                            strerror(errno));
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t n = slash == NULL ? 1 : (slash == path ? 1 : (size_t)(slash - path));
    if (n >= sizeof dir)
        return si_error_set(err, 500, "bad_config", "%s is too long", what);
    if (slash == NULL)
        memcpy(dir, ".", 2);
    else {
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    if (access(dir, W_OK | X_OK) != 0)
        return si_error_set(err, 500, "bad_config", "%s: cannot create %s: %s", what, path,
                            strerror(errno));
    return 0;
}

int si_config_check_common(const struct si_config *cfg, bool needs_db, bool needs_auth, struct si_error *err)
{
    if (needs_db && cfg->database_url == NULL)
        return si_error_set(err, 500, "bad_config", "DATABASE_URL is not set");
    if (needs_auth && cfg->auth_mode == SI_AUTH_JWT && cfg->jwt_secret_len == 0)
        return si_error_set(err, 500, "bad_config",
                            "SMARTIMPORT_JWT_SECRET is not set (or set SMARTIMPORT_AUTH=trust-body for development)");
    if (cfg->log_file != NULL && si_check_log_file("SMARTIMPORT_LOG_FILE", cfg->log_file, err) != 0)
        return -1;
    struct si_listen_addr addr;
    char why[120];
    if (cfg->listen_path != NULL && si_listen_parse(cfg->listen_path, &addr, why, sizeof why) != 0)
        return si_error_set(err, 500, "bad_config", "SMARTIMPORT_LISTEN: %s", why);
    return 0;
}

int si_check_config_report(int rc, const struct si_error *err)
{
    json_t *out = rc == 0 ? json_pack("{s:b}", "ok", 1)
                          : json_pack("{s:b, s:s, s:s}", "ok", 0, "code", err->code != NULL && err->code[0] ? err->code : "bad_config",
                                      "error", err->message[0] ? err->message : "configuration refused");
    char *text = out != NULL ? json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (text != NULL)
        printf("%s\n", text);
    else
        printf("{\"ok\":%s}\n", rc == 0 ? "true" : "false");
    free(text);
    json_decref(out);
    if (fflush(stdout) != 0)
        return 1;
    return rc == 0 ? 0 : 1;
}

int si_check_config_main(char *const *envp, bool needs_db, bool needs_auth, si_check_fn check, void *arg)
{
    struct si_config cfg;
    struct si_error err;
    si_error_clear(&err);
    int rc = si_config_load(&cfg, envp, &err);
    if (rc == 0)
        rc = si_config_check_common(&cfg, needs_db, needs_auth, &err);
    if (rc == 0 && check != NULL)
        rc = check(&cfg, arg, &err);
    return si_check_config_report(rc == 0 ? 0 : -1, &err);
}
