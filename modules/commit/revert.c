/* revert.c: POST /.netlify/functions/revert-import {"userId","importId"}
 *
 * The safe undo: in one transaction, removes exactly the transactions this
 * import added (rows it skipped as duplicates of older imports stay), marks
 * it reverted and records import:revert:complete.  A reverted import no
 * longer holds its file's place, so the same file can be imported again. */
#include "commit.h"
#include "import_lock.h"
#include "si_event.h"

#include <stdlib.h>
#include <string.h>

static int revert_import(struct si_db *db, const char *user, struct locked_import *imp, long long *removed,
                         bool *already, struct si_error *err)
{
    if (si_db_begin(db, err) != 0 || import_lock(db, user, imp, err) != 0)
        return -1;
    if (strcmp(imp->status, "reverted") == 0) {
        *already = true;
        si_db_rollback(db);
        return 0;
    }
    if (strcmp(imp->status, "committed") != 0 && strcmp(imp->status, "analyzed") != 0)
        return si_error_set(err, 409, "import_not_committed", "the import is %s: only a committed import can be reverted",
                            imp->status);
    const char *params[] = { imp->id, user };
    PGresult *res = si_db_exec_bulk(db, "DELETE FROM transactions WHERE import_id = $1 AND user_id = $2", 2, params,
                                    err);
    if (res == NULL)
        return -1;
    *removed = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    if (si_db_command(db, "UPDATE imports SET status = 'reverted', reverted_at = now(), updated_at = now() "
                          "WHERE id = $1 AND user_id = $2", 2, params, err) != 0)
        return -1;
    json_t *p = json_pack("{s:s, s:I}", "importId", imp->id, "removed", (json_int_t)*removed);
    int rc = si_event_record(db, user, imp->id, "import:revert:complete", p, NULL, err);
    json_decref(p);
    if (rc != 0)
        return -1;
    return si_db_commit(db, err);
}

int revert_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    json_t *body = NULL, *out = NULL;
    char user[SI_UUID_LEN + 1] = "";
    struct locked_import imp;
    struct si_error err;
    long long removed = 0;
    bool already = false;
    int rc = -1;
    si_error_clear(&err);
    if (import_request(ctx, req, &body, user, &imp, &err) != 0)
        goto fail;
    if (revert_import(ctx->db, user, &imp, &removed, &already, &err) != 0) {
        si_db_rollback(ctx->db);
        goto fail;
    }
    out = json_pack("{s:b, s:s, s:I, s:s, s:b}", "ok", 1, "importId", imp.id, "removed", (json_int_t)removed,
                    "status", "reverted", "alreadyReverted", already);
    rc = out ? si_response_json(resp, 200, out) : si_response_error(resp, 500, "internal", "out of memory");
    goto out;
fail:
    si_response_from_error(resp, &err);
out:
    json_decref(out);
    json_decref(body);
    return rc;
}
