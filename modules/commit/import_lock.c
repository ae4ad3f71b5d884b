/* import_lock.c: see import_lock.h. */
#include "import_lock.h"
#include "si_auth.h"
#include "si_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int import_request(struct si_ctx *ctx, struct si_request *req, json_t **body, char user[SI_UUID_LEN + 1],
                   struct locked_import *imp, struct si_error *err)
{
    *body = NULL;
    user[0] = '\0';
    memset(imp, 0, sizeof *imp);
    if (si_json_read_body(req, ctx->scratch, body, err) != 0 ||
        si_auth_identify(ctx->config, req, *body, (long long)time(NULL), user, err) != 0)
        return -1;
    return import_id_from_body(*body, imp, err);
}

int import_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp, import_run_fn run)
{
    json_t *body = NULL, *out = NULL;
    char user[SI_UUID_LEN + 1];
    struct locked_import imp;
    struct si_error err;
    si_error_clear(&err);
    int rc = -1;
    if (import_request(ctx, req, &body, user, &imp, &err) != 0 || run(ctx->db, user, imp.id, &out, &err) != 0)
        si_response_from_error(resp, &err);
    else
        rc = si_response_json(resp, 200, out);
    json_decref(out);
    json_decref(body);
    return rc;
}

int import_id_from_body(const json_t *body, struct locked_import *out, struct si_error *err)
{
    const char *id = si_json_string(body, "importId");
    if (id == NULL)
        id = si_json_string(body, "import_id");
    if (id == NULL)
        return si_error_set(err, 400, "missing_import_id", "importId is required");
    if (si_uuid_normalize(id, out->id) != 0)
        return si_error_set(err, 400, "invalid_import_id", "importId must be a UUID");
    return 0;
}

/* The advisory lock's first key, so it can never meet another use of
 * advisory locks; the second is the hash of the user id (two users sharing a
 * hash only wait for each other). */
#define IMPORT_LEDGER_LOCK_CLASS "1397293057"

int import_ledger_lock(struct si_db *db, const char *user_id, bool exclusive, struct si_error *err)
{
    const char *params[] = { user_id };
    PGresult *res = si_db_exec_bulk(db, exclusive
        ? "SELECT pg_advisory_xact_lock(" IMPORT_LEDGER_LOCK_CLASS ", hashtext($1::text))"
        : "SELECT pg_advisory_xact_lock_shared(" IMPORT_LEDGER_LOCK_CLASS ", hashtext($1::text))", 1, params, err);
    if (res == NULL)
        return -1;
    PQclear(res);
    return 0;
}

int import_lock(struct si_db *db, const char *user_id, struct locked_import *imp, struct si_error *err)
{
    const char *params[] = { imp->id, user_id };
    PGresult *res = si_db_exec(db,
        "SELECT status, rows_total, coalesce(committed_count, -1), coalesce(duplicate_count, 0) "
        "FROM imports WHERE id = $1 AND user_id = $2 FOR UPDATE", 2, params, err);
    if (res == NULL)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return si_error_set(err, 404, "import_not_found", "import not found");
    }
    snprintf(imp->status, sizeof imp->status, "%s", PQgetvalue(res, 0, 0));
    int rc = 0;
    if (si_db_get_int64(res, 0, 1, &imp->rows_total) != 0 || si_db_get_int64(res, 0, 2, &imp->committed_count) != 0 ||
        si_db_get_int64(res, 0, 3, &imp->duplicate_count) != 0)
        rc = si_db_bad_value(err, "imports counts");
    PQclear(res);
    return rc;
}
