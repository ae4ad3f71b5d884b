/* revert_import.c: POST /.netlify/functions/revert-import {"userId","importId"}
 *
 * The safe undo, in one transaction: the import stops containing the rows
 * it only contained as duplicates (its links in transaction_imports,
 * sql/0009, are dropped), and of the rows it holds (transactions.import_id)
 * those that another committed import still contains are handed over to it
 * (the earliest committed) and stay, as do those a bank sync also contains
 * (transactions.import_job_id, modules/bank: held by no import from then on);
 * only the others are removed.  Rows it contained as duplicates of rows held
 * by other imports stay where they are.  Then it is marked reverted and
 * import:revert:complete records {removed, handedOver}.  A reverted import
 * no longer holds its file's place, so the same file can be imported again.
 *
 * The revert takes the user's ledger lock exclusively (import_ledger_lock):
 * a commit of another of the user's imports cannot link a row between the
 * moment the revert looks at a row's other imports and the moment it
 * removes the row.  Like a commit it runs again when PostgreSQL aborts it
 * for a deadlock or serialization failure (si_db_retry_tx). */
#include "commit.h"
#include "import_lock.h"
#include "si_db_retry.h"
#include "si_event.h"
#include "si_import.h"

#include <stdlib.h>
#include <string.h>

struct revert_attempt {
    const char *user;
    struct locked_import *imp;
    long long removed;      /* rows deleted from the ledger */
    long long handed_over;  /* rows it held that another committed import took over */
    bool already;
};

/* Runs a bulk statement and returns the rows it touched, or -1 with err. */
static long long bulk_count(struct si_db *db, const char *sql, const char *const *params, struct si_error *err)
{
    PGresult *res = si_db_exec_bulk(db, sql, 2, params, err);
    if (res == NULL)
        return -1;
    long long n = si_db_rows_affected(res);
    PQclear(res);
    return n >= 0 ? n : si_db_bad_value(err, "the rows touched");
}

static int revert_import(struct si_db *db, void *arg, struct si_error *err)
{
    struct revert_attempt *a = arg;
    struct locked_import *imp = a->imp;
    a->removed = a->handed_over = 0;
    a->already = false;
    if (import_ledger_lock(db, a->user, true, err) != 0 || import_lock(db, a->user, imp, err) != 0)
        return -1;
    enum si_import_status status;
    if (si_import_status_from_name(imp->status, &status) != 0)
        return si_db_bad_value(err, "imports.status");
    if (status == SI_IMPORT_REVERTED) {
        a->already = true;
        return 0;
    }
    if (!si_import_may_move(status, SI_IMPORT_REVERTED))
        return si_error_set(err, 409, "import_not_committed", "the import is %s: only a committed import can be reverted",
                            imp->status);
    const char *params[] = { imp->id, a->user };
    if (bulk_count(db, "DELETE FROM transaction_imports WHERE import_id = $1 AND user_id = $2", params, err) < 0)
        return -1;
    /* Each row it holds that another committed import contains goes to the
     * earliest committed of those, whose link it no longer needs (the holder
     * has none): one deleted link per row handed over. */
    a->handed_over = bulk_count(db,
        "WITH heir AS ("
        "  SELECT DISTINCT ON (l.transaction_id) l.transaction_id, l.import_id "
        "  FROM transactions r "
        "  JOIN transaction_imports l ON l.transaction_id = r.id AND l.user_id = r.user_id "
        "  JOIN imports i ON i.id = l.import_id AND i.user_id = l.user_id "
        "  WHERE r.import_id = $1 AND r.user_id = $2 AND " SI_IMPORT_IN_LEDGER_SQL("i.status") " "
        "  ORDER BY l.transaction_id, i.committed_at, i.id), "
        "moved AS ("
        "  UPDATE transactions t SET import_id = heir.import_id FROM heir "
        "  WHERE t.id = heir.transaction_id AND t.user_id = $2 RETURNING t.id, t.import_id) "
        "DELETE FROM transaction_imports l USING moved "
        "WHERE l.transaction_id = moved.id AND l.import_id = moved.import_id AND l.user_id = $2", params, err);
    if (a->handed_over < 0)
        return -1;
    /* A row a bank sync also contains (import_job_id, modules/bank) stays, held by no import. */
    long long to_bank = bulk_count(db, "UPDATE transactions SET import_id = NULL "
                                       "WHERE import_id = $1 AND user_id = $2 AND import_job_id IS NOT NULL", params, err);
    if (to_bank < 0)
        return -1;
    a->handed_over += to_bank;
    a->removed = bulk_count(db, "DELETE FROM transactions WHERE import_id = $1 AND user_id = $2", params, err);
    if (a->removed < 0)
        return -1;
    bool moved = false;
    if (si_import_move(db, imp->id, a->user, SI_IMPORT_REVERTED, ", reverted_at = now()", 0, NULL, &moved, err) != 0)
        return -1;
    if (!moved)   /* cannot happen: the row is locked and was committed */
        return si_error_set(err, 409, "import_not_committed", "the import is no longer committed");
    return si_event_record(db, a->user, imp->id, "import:revert:complete",
                           json_pack("{s:s, s:I, s:I}", "importId", imp->id, "removed", (json_int_t)a->removed,
                                     "handedOver", (json_int_t)a->handed_over), NULL, err);
}

int revert_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    json_t *body = NULL, *out = NULL;
    char user[SI_UUID_LEN + 1] = "";
    struct locked_import imp;
    struct si_error err;
    struct revert_attempt attempt = { .user = user, .imp = &imp };
    int rc = -1;
    si_error_clear(&err);
    if (import_request(ctx, req, &body, user, &imp, &err) != 0 ||
        si_db_retry_tx(ctx->db, revert_import, &attempt, &err) != 0)
        goto fail;
    out = json_pack("{s:b, s:s, s:I, s:I, s:s, s:b}", "ok", 1, "importId", imp.id, "removed",
                    (json_int_t)attempt.removed, "handedOver", (json_int_t)attempt.handed_over, "status", "reverted",
                    "alreadyReverted", attempt.already);
    rc = out ? si_response_json(resp, 200, out) : si_response_error(resp, 500, "internal", "out of memory");
    goto out;
fail:
    si_response_from_error(resp, &err);
out:
    json_decref(out);
    json_decref(body);
    return rc;
}
