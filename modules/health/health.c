/* health.c: GET /health -- can this stack reach PostgreSQL, and is every
 * one of its processes up?
 *
 * 200 {"ok":true,"version","schema":<highest applied migration>,"db":"up",
 *      "functions":{"ingest-statement":{"state":"up","restarts":0},...}}
 * 503 {"ok":false,"error","code":"db_unavailable","db":"down",...} within
 * SI_HEALTH_TIMEOUT_MS when the database does not answer;
 * 503 {"ok":false,"code":"function_down",...} while a process is not up
 * (restarting after a crash, or in a crash loop's back-off).  "functions"
 * comes from the supervisor (SMARTIMPORT_SUPERVISE_STATE, read once at start by
 * health_init; functions.c).  The worker's
 * connection is reused and replaced after a server restart by si_db, so
 * health turns 200 again on its own once PostgreSQL is back. */
#include "health.h"
#include "si_limits.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"

int health_init(const struct si_config *cfg, void **fn_config, struct si_error *err)
{
    struct health_config *hc = calloc(1, sizeof *hc);
    if (hc == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    const char *path = si_env_get(cfg->envp, "SMARTIMPORT_SUPERVISE_STATE");
    hc->state_path = (path != NULL && *path != '\0') ? path : NULL;
    *fn_config = hc;
    return 0;
}

void health_cleanup(void *fn_config)
{
    free(fn_config);
}

int health_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    const struct health_config *hc = ctx->fn_config;
    (void)req;
    struct si_error err;
    si_error_clear(&err);
    long long schema = 0;
    bool db_up = true;
    /* Prepared once per connection: its plan (the index's last entry) cannot depend on a value. */
    PGresult *res = si_db_exec_prepared(ctx->db, "SELECT coalesce(max(version), 0) FROM schema_migrations",
                                        0, NULL, SI_HEALTH_TIMEOUT_MS, &err);
    if (res != NULL) {
        int got = si_db_get_int64(res, 0, 0, &schema);
        PQclear(res);
        if (got != 0)
            return si_response_error(resp, 500, "internal", "unexpected schema version");
    } else if (err.status != 503 && err.status != 504) {
        /* The database answers but has no migrations table yet: up, schema 0. */
        if (strcmp(err.sqlstate, "42P01") != 0)
            return si_response_from_error(resp, &err);
    } else {
        db_up = false;
    }
    bool all_up;
    char down[64];
    json_t *functions = health_functions(hc->state_path, &all_up, down, sizeof down);
    json_t *body;
    int status = 200;
    if (!db_up) {
        status = 503;
        body = si_error_json(503, "db_unavailable", "database unavailable");
        resp->error_code = "db_unavailable";
        snprintf(resp->log_detail, sizeof resp->log_detail, "%s", err.detail);
    } else if (!all_up) {
        status = 503;
        char msg[128];
        snprintf(msg, sizeof msg, "%s is not running (restarting)", down);
        body = si_error_json(503, "function_down", msg);
        resp->error_code = "function_down";
    } else {
        body = json_pack("{s:b}", "ok", 1);
    }
    if (body == NULL) {
        json_decref(functions);
        return -1;
    }
    json_object_set_new(body, "version", json_string(PACKAGE_VERSION));
    json_object_set_new(body, "db", json_string(db_up ? "up" : "down"));
    if (db_up)
        json_object_set_new(body, "schema", json_integer((json_int_t)schema));
    if (functions != NULL)
        json_object_set_new(body, "functions", functions);
    int rc = si_response_json(resp, status, body);
    json_decref(body);
    return rc;
}
