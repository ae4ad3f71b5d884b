/* handler.c: GET /health -- is this responder alive and can it reach
 * PostgreSQL?
 *
 * 200 {"ok":true,"version","schema":<highest applied migration>,"db":"up"}
 * 503 {"ok":false,"error","code":"db_unavailable","db":"down",...} within
 * SI_HEALTH_TIMEOUT_MS when the database does not answer.  The worker's
 * connection is reused and replaced after a server restart by si_db, so
 * health turns 200 again on its own once PostgreSQL is back. */
#include "handler.h"
#include "si_limits.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"

int health_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    (void)req;
    struct si_error err;
    si_error_clear(&err);
    long long schema = 0;
    PGresult *res = si_db_exec_timeout(ctx->db, "SELECT coalesce(max(version), 0) FROM schema_migrations",
                                       0, NULL, SI_HEALTH_TIMEOUT_MS, &err);
    if (res != NULL) {
        schema = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
    } else if (err.status != 503 && err.status != 504) {
        /* The database answers but has no migrations table yet: up, schema 0. */
        if (strcmp(err.sqlstate, "42P01") != 0)
            return si_response_from_error(resp, &err);
    } else {
        json_t *body = si_error_json(503, "db_unavailable", "database unavailable");
        json_object_set_new(body, "version", json_string(PACKAGE_VERSION));
        json_object_set_new(body, "db", json_string("down"));
        si_response_json(resp, 503, body);
        json_decref(body);
        resp->error_code = "db_unavailable";
        snprintf(resp->log_detail, sizeof resp->log_detail, "%s", err.detail);
        return 0;
    }
    json_t *body = json_pack("{s:b, s:s, s:I, s:s}", "ok", 1, "version", PACKAGE_VERSION,
                             "schema", (json_int_t)schema, "db", "up");
    int rc = body ? si_response_json(resp, 200, body) : -1;
    json_decref(body);
    return rc;
}
