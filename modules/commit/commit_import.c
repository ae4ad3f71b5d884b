/* commit_import.c: POST /.netlify/functions/commit-import {"userId","importId","decisions"?}
 *
 * decisions ([{row, action: keep|skip}], also made before by import-preview's PATCH) keep
 * the skipped rows out of the ledger; they are applied in the commit's own transaction.
 * A staged row that books a pending row of the ledger (verdict replaces_pending,
 * sql/0024) turns that row into the booked one instead of adding a second, unless the
 * user decided 'keep' (then it is a row of its own).
 *
 * Moves an import's staged rows into transactions in ONE transaction: all
 * rows land or none do.  Rows whose dedup hash the user already has are
 * skipped by the unique index (ON CONFLICT DO NOTHING), so re-importing a
 * statement or an overlapping one adds nothing twice; every skipped row is
 * linked to the import in transaction_imports (sql/0009), which is what lets
 * revert-import keep the rows other imports still contain.
 * The import row is locked first, so concurrent commits of one import queue
 * up: the first inserts, the others find it committed and answer 200 with
 * committed 0.  Commits of different imports of one user run side by side
 * (a revert of theirs waits: import_ledger_lock) and insert in dedup_hash
 * order, so they wait for each other's rows without deadlocking; should
 * PostgreSQL abort one anyway (deadlock, serialization failure) the whole
 * transaction runs again (si_db_retry_tx), and 409 conflict_retry is the
 * answer only when that keeps failing.  If PostgreSQL goes away half-way the
 * server rolls everything back and the client gets a 503; a retry then does
 * the whole commit. */
#include "commit.h"
#include "import_lock.h"
#include "si_clock.h"
#include "si_db_retry.h"
#include "si_event.h"
#include "si_import.h"
#include "si_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* One attempt at the commit, inside the transaction si_db_retry_tx opened. */
struct commit_attempt {
    const char *user;
    const json_t *decisions;   /* the request's keep/skip decisions, or NULL */
    struct locked_import *imp;
    long long t0_ms;   /* si_now_ms() at the start */
    struct commit_outcome result;
    /* where this attempt's time went (the "commit steps" log line; scripts/bench-commit) */
    long long mark_ms;
    long long step_ms[5];
};

enum commit_step { STEP_LOCKS, STEP_PENDING, STEP_INSERT, STEP_LINK, STEP_STAGING };

/* Charges the time since the last lap to step. */
static void lap(struct commit_attempt *a, enum commit_step step)
{
    long long now = si_now_ms();
    a->step_ms[step] += now - a->mark_ms;
    a->mark_ms = now;
}

static int commit_import(struct si_db *db, void *arg, struct si_error *err)
{
    struct commit_attempt *a = arg;
    struct locked_import *imp = a->imp;
    const char *user = a->user;
    struct commit_outcome *out = &a->result;
    memset(out, 0, sizeof *out);
    memset(a->step_ms, 0, sizeof a->step_ms);   /* a retried attempt starts over */
    a->mark_ms = si_now_ms();
    if (import_ledger_lock(db, user, false, err) != 0 || import_lock(db, user, imp, err) != 0)
        return -1;
    enum si_import_status status;
    if (si_import_status_from_name(imp->status, &status) != 0)
        return si_db_bad_value(err, "imports.status");
    if (si_import_in_ledger(status)) {
        out->already_committed = true;   /* nothing to change */
        return 0;
    }
    if (!si_import_may_move(status, SI_IMPORT_COMMITTED))
        return si_error_set(err, 409, "import_not_parsed", "the import is %s, not parsed: nothing to commit",
                            imp->status);
    long long decided = 0;   /* the request's decisions join those made before (import-preview PATCH) */
    if (si_import_apply_decisions(db, imp->id, user, a->decisions, &decided, err) != 0)
        return -1;
    if (si_event_record(db, user, imp->id, "import:commit:start",
                        json_pack("{s:s, s:I}", "importId", imp->id, "rowCount", (json_int_t)imp->rows_total), NULL,
                        err) != 0)
        return -1;

    lap(a, STEP_LOCKS);
    /* The pending rows this import books (the preview's replaces_pending): each becomes
     * its booked row in place, keeping its id, account and the sync that holds it.  Only a
     * user with pending rows (a bank sync's) can have any: one probe of the partial index
     * transactions_pending_idx spares everyone else the matching statement. */
    char days[12];
    snprintf(days, sizeof days, "%d", SI_IMPORT_MATCH_DAYS);
    const char *params[] = { imp->id, user, days };
    PGresult *res = si_db_exec(db, "SELECT EXISTS (SELECT 1 FROM transactions WHERE user_id = $1 AND pending)", 1,
                               params + 1, err);
    if (res == NULL)
        return -1;
    bool has_pending = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    res = !has_pending ? NULL : si_db_exec_bulk(db,
        "WITH m AS (SELECT pm.row_no, pm.id FROM import_pending_matches($2::uuid, $1::uuid, $3::int, 1, 2147483647) pm"
        "    JOIN transactions_staging s ON s.import_id = $1 AND s.user_id = $2 AND s.row_no = pm.row_no"
        "   WHERE s.decision IS NULL), "
        "upd AS (UPDATE transactions t SET tx_date = s.tx_date, description = s.description, "
        "    counterparty = coalesce(s.counterparty, t.counterparty), memo = coalesce(s.memo, t.memo), "
        "    bank_id = coalesce(s.bank_id, t.bank_id), dedup_hash = s.dedup_hash, pending = false, "
        "    category = CASE WHEN t.category = 'Other' THEN s.category ELSE t.category END "
        "  FROM m JOIN transactions_staging s ON s.import_id = $1 AND s.user_id = $2 AND s.row_no = m.row_no "
        "  WHERE t.id = m.id AND t.user_id = $2 AND t.pending RETURNING t.id, m.row_no) "
        "UPDATE transactions_staging s SET replaced_id = upd.id FROM upd "
        "WHERE s.import_id = $1 AND s.user_id = $2 AND s.row_no = upd.row_no", 3, params, err);
    if (has_pending && res == NULL)
        return -1;
    PQclear(res);
    lap(a, STEP_PENDING);

    /* In dedup_hash order, so two commits of overlapping imports wait for
     * each other's rows in the same order and cannot deadlock (in file
     * order, one oldest-first and one newest-first statement did). */
    res = si_db_exec_bulk(db,
        "INSERT INTO transactions (user_id, import_id, tx_date, amount_minor, currency, description, "
        "  counterparty, memo, bank_id, account, category, dedup_hash, counterparty_account) "
        "SELECT user_id, import_id, tx_date, amount_minor, currency, description, counterparty, memo, bank_id, "
        "  account, category, dedup_hash, counterparty_account FROM transactions_staging "
        "WHERE import_id = $1 AND user_id = $2 "
        "  AND decision IS DISTINCT FROM 'skip' AND replaced_id IS NULL "
        "ORDER BY dedup_hash COLLATE \"C\" "
        "ON CONFLICT (user_id, dedup_hash) DO NOTHING", 2, params, err);
    if (res == NULL)
        return -1;
    out->committed = si_db_rows_affected(res);
    PQclear(res);
    if (out->committed < 0)
        return si_db_bad_value(err, "the rows inserted");
    lap(a, STEP_INSERT);
    /* Each row the import contains but another import holds (a duplicate)
     * is linked to it (sql/0009): a revert of the holder must then leave the
     * row in place.  The rows it inserted need no link: it holds them
     * (transactions.import_id), so a fresh import pays nothing here.  A
     * separate statement, so that it sees the rows of concurrent commits the
     * insert waited for. */
    if (out->committed < imp->rows_total) {
        /* One probe of the unique index per staged row, whatever the
         * planner believes: right after an upload the staging table's
         * statistics can say "1 row", and a join planned on that scanned
         * the user's whole ledger once per row (OFFSET 0 keeps the
         * subquery from being flattened into such a join).  In dedup_hash
         * order the probes walk the index, and the holders' ids (inserted
         * in that order) come out ascending for the link's indexes. */
        res = si_db_exec_bulk(db,
            "INSERT INTO transaction_imports (user_id, import_id, transaction_id) "
            "SELECT user_id, import_id, holder FROM ("
            "  SELECT s.user_id, s.import_id, (SELECT t.id FROM transactions t WHERE t.user_id = s.user_id "
            "    AND t.dedup_hash = s.dedup_hash AND t.import_id <> $1) AS holder "
            "  FROM transactions_staging s WHERE s.import_id = $1 AND s.user_id = $2 "
            "  ORDER BY s.dedup_hash COLLATE \"C\" OFFSET 0) x "
            "WHERE holder IS NOT NULL "
            "ON CONFLICT DO NOTHING", 2, params, err);
        if (res == NULL)
            return -1;
        PQclear(res);
    }
    lap(a, STEP_LINK);
    res = si_db_exec_bulk(db, "WITH d AS (DELETE FROM transactions_staging WHERE import_id = $1 AND user_id = $2 "
                              "RETURNING decision, replaced_id) SELECT count(*), count(*) FILTER (WHERE decision = 'skip'), "
                              "count(replaced_id) FROM d", 2, params, err);
    if (res == NULL)
        return -1;
    long long staged = 0;
    if (si_db_get_int64(res, 0, 0, &staged) != 0 || si_db_get_int64(res, 0, 1, &out->skipped) != 0 ||
        si_db_get_int64(res, 0, 2, &out->replaced_pending) != 0) {
        PQclear(res);
        return si_db_bad_value(err, "the staged rows deleted");
    }
    PQclear(res);
    if (staged != imp->rows_total)   /* the unlogged staging table was reset (see sql/0007) */
        return si_error_set(err, 409, "staging_lost",
                            "the staged rows of this import were lost (database restart): upload the file again");
    out->duplicates = staged - out->committed - out->skipped - out->replaced_pending;
    lap(a, STEP_STAGING);

    char committed[32], duplicates[32];
    snprintf(committed, sizeof committed, "%lld", out->committed);
    snprintf(duplicates, sizeof duplicates, "%lld", out->duplicates);
    const char *counts[] = { committed, duplicates };
    bool moved = false;
    if (si_import_move(db, imp->id, user, SI_IMPORT_COMMITTED,
                       ", committed_count = $5, duplicate_count = $6, committed_at = now()", 2, counts, &moved,
                       err) != 0)
        return -1;
    if (!moved)   /* cannot happen: the row is locked and was parsed */
        return si_error_set(err, 409, "import_not_parsed", "the import is no longer parsed: nothing to commit");
    return si_event_record(db, user, imp->id, "import:commit:complete",
                           json_pack("{s:s, s:I, s:I, s:I, s:f}", "importId", imp->id, "committed",
                                     (json_int_t)out->committed, "duplicates", (json_int_t)out->duplicates,
                                     "replacedPending", (json_int_t)out->replaced_pending, "ms",
                                     (double)(si_now_ms() - a->t0_ms)), NULL, err);
}

/* Marks an import whose staged rows are gone as failed (on its own, after
 * the rollback), which also frees its file for a new upload. */
static void mark_staging_lost(struct si_db *db, const char *user, const char *import_id)
{
    struct si_error err;
    if (si_import_move(db, import_id, user, SI_IMPORT_FAILED, ", failure_reason = 'staging_lost'", 0, NULL, NULL,
                       &err) != 0)
        si_logf(SI_LOG_WARN, "could not mark import %s failed: %s", import_id, err.message);
}

/* Records import:commit:error on its own (after the rollback), except for
 * requests that never reached one of the caller's imports. */
static void record_failure(struct si_db *db, const char *user, const char *import_id, const struct si_error *failure)
{
    if (user[0] == '\0' || failure->status == 400 || failure->status == 401 || failure->status == 403 ||
        failure->status == 404)
        return;
    struct si_error err;
    if (si_event_record_error(db, user, import_id, "import:commit:error", failure, NULL, &err) != 0)
        si_logf(SI_LOG_WARN, "could not record import:commit:error: %s", err.message);
}

int commit_run(struct si_db *db, const char *user, const char *import_id, struct commit_outcome *out,
               struct si_error *err)
{
    return commit_run_decided(db, user, import_id, NULL, out, err);
}

int commit_run_decided(struct si_db *db, const char *user, const char *import_id, const json_t *decisions,
                       struct commit_outcome *out, struct si_error *err)
{
    struct locked_import imp;
    memset(&imp, 0, sizeof imp);
    snprintf(imp.id, sizeof imp.id, "%s", import_id);
    struct commit_attempt attempt = { .user = user, .decisions = decisions, .imp = &imp };
    attempt.t0_ms = si_now_ms();
    memset(out, 0, sizeof *out);
    if (si_db_retry_tx(db, commit_import, &attempt, err) != 0) {
        if (err->code != NULL && strcmp(err->code, "staging_lost") == 0)
            mark_staging_lost(db, user, imp.id);
        record_failure(db, user, imp.id, err);
        return -1;
    }
    *out = attempt.result;
    snprintf(out->import_id, sizeof out->import_id, "%s", imp.id);
    if (!out->already_committed) {
        /* finish = the import's row, the last event and COMMIT (its WAL flush), plus any retried attempt */
        const long long *st = attempt.step_ms;
        long long total = si_now_ms() - attempt.t0_ms;
        si_log(SI_LOG_INFO, "commit steps",
               json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "rows", (json_int_t)imp.rows_total,
                         "locksMs", (json_int_t)st[STEP_LOCKS], "pendingMs", (json_int_t)st[STEP_PENDING],
                         "insertMs", (json_int_t)st[STEP_INSERT], "linkMs", (json_int_t)st[STEP_LINK],
                         "stagingMs", (json_int_t)st[STEP_STAGING],
                         "finishMs", (json_int_t)(total - st[0] - st[1] - st[2] - st[3] - st[4]), "ms", (json_int_t)total));
    }
    if (out->already_committed)
        out->previously_committed = imp.committed_count;
    return 0;
}

json_t *commit_outcome_json(const struct commit_outcome *o)
{
    if (o->already_committed)
        return json_pack("{s:b, s:s, s:i, s:i, s:s, s:b, s:I, s:s}", "ok", 1, "importId", o->import_id,
                         "committed", 0, "duplicates", 0, "status", "committed", "alreadyCommitted", 1,
                         "previouslyCommitted", (json_int_t)o->previously_committed,
                         "message", "this import was already committed; nothing was added");
    return json_pack("{s:b, s:s, s:I, s:I, s:I, s:I, s:s, s:b}", "ok", 1, "importId", o->import_id,
                     "committed", (json_int_t)o->committed, "duplicates", (json_int_t)o->duplicates,
                     "skipped", (json_int_t)o->skipped, "replacedPending", (json_int_t)o->replaced_pending,
                     "status", "committed", "alreadyCommitted", 0);
}

/* POST {importId, decisions?}: the commit, honouring the decisions, its outcome as the 200 body. */
int commit_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    json_t *body = NULL, *out = NULL;
    char user[SI_UUID_LEN + 1];
    struct locked_import imp;
    struct commit_outcome o;
    struct si_error err;
    si_error_clear(&err);
    int rc = -1;
    if (import_request(ctx, req, &body, user, &imp, &err) != 0 ||
        commit_run_decided(ctx->db, user, imp.id, json_object_get(body, "decisions"), &o, &err) != 0)
        si_response_from_error(resp, &err);
    else if ((out = commit_outcome_json(&o)) == NULL)
        si_response_error(resp, 500, "internal", "out of memory");
    else
        rc = si_response_json(resp, 200, out);
    json_decref(out);
    json_decref(body);
    return rc;
}
