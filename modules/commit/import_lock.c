/* import_lock.c: see import_lock.h. */
#include "import_lock.h"
#include "si_json.h"

#include <stdio.h>
#include <stdlib.h>

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
    imp->rows_total = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    imp->committed_count = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    imp->duplicate_count = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    PQclear(res);
    return 0;
}
