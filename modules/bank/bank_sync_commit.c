/* bank_sync_commit.c: the commit hook of bank.sync_account, inside the engine's finishing
 * transaction (only while this worker still holds the job's lease, under its row lock).
 *
 * The import job's row is locked first (every account of a job finishes through it, in
 * that order, so two accounts ending together cannot both miss being the last).  Then
 * the account's cached pages go into the ledger (bank_ledger.c), its progress row gets
 * the counts, truelayer_accounts its last sync and observed rate, and the
 * bank:sync:progress event is written; or the account is marked failed with its reason (its
 * bank:sync:error was written by the run: error events commit on their own, si_event.h).  When it was the last account the job ends: completed (some accounts
 * synced; the others carry their reasons), or failed with reauth_required (the bank asked
 * for consent again: the job ends with that reason whatever else happened) or
 * all_accounts_failed; its page cache is dropped; bank:sync:complete {status, code} is
 * written; with auto_enrich a bank.enrich job is enqueued.  All of it commits with the
 * engine's completion or not at all, so a worker killed at any point leaves either nothing
 * or everything, and the counts are exact. */
#include "bank_sync.h"
#include "bank_ledger.h"
#include "import_lock.h"
#include "si_event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int account_done(const struct bank_tasks_state *st, struct si_db *db, const char *user, const char *job_id,
                        int index, const PGresult *job, const char *failed, json_t **out_counts,
                        struct si_error *err)
{
    char idx[16];
    snprintf(idx, sizeof idx, "%d", index);
    const char *p[] = { job_id, idx, user };
    PGresult *prog = si_db_exec(db,
        "SELECT p.status, p.account_id, coalesce(a.currency, 'GBP'), "
        "  (SELECT count(*) FROM truelayer_import_progress q WHERE q.job_id = p.job_id AND q.user_id = p.user_id) "
        "FROM truelayer_import_progress p "
        "LEFT JOIN truelayer_import_jobs j ON j.id = p.job_id AND j.user_id = p.user_id "
        "LEFT JOIN truelayer_accounts a ON a.connection_id = j.connection_id AND a.account_id = p.account_id "
        "  AND a.user_id = p.user_id "
        "WHERE p.job_id = $1 AND p.account_index = $2::int AND p.user_id = $3 FOR UPDATE OF p", 3, p, err);
    if (prog == NULL)
        return -1;
    int rc = -1;
    if (PQntuples(prog) != 1 || strcmp(PQgetvalue(prog, 0, 0), "completed") == 0 ||
        strcmp(PQgetvalue(prog, 0, 0), "failed") == 0) {
        rc = 0;                                 /* ended before: nothing to do */
        goto out;
    }
    int total = 0, batch_size = 0;
    if (si_db_get_int(prog, 0, 3, &total) != 0 || si_db_get_int(job, 0, 2, &batch_size) != 0) {
        si_db_bad_value(err, "truelayer_import_progress");
        goto out;
    }
    if (failed != NULL) {                       /* its bank:sync:error was written by the run */
        const char *q[] = { job_id, idx, user, failed };
        if (si_db_command(db, "UPDATE truelayer_import_progress SET status = 'failed', error_code = $4, "
                              "  rate_limited_until = NULL, completed_at = now(), updated_at = now() "
                              "WHERE job_id = $1 AND account_index = $2::int AND user_id = $3", 4, q, err) != 0)
            goto out;
        rc = 0;
        goto out;
    }
    const struct bank_ledger_in in = {
        .user_id = user, .job_id = job_id, .account_id = PQgetvalue(prog, 0, 1), .currency = PQgetvalue(prog, 0, 2),
        .batch_size = batch_size, .pending_match_days = st->s.pending_match_days,
    };
    struct bank_ledger_counts c;
    /* Shared, like commit-import: a revert (exclusive) never runs between our look at a row
     * and our claim of it. */
    if (import_ledger_lock(db, user, false, err) != 0 || bank_ledger_write(db, &in, &c, err) != 0)
        goto out;
    char synced[16], dups[16], errs[16], repl[16], booked[16];
    snprintf(synced, sizeof synced, "%d", c.synced);
    snprintf(dups, sizeof dups, "%d", c.duplicates);
    snprintf(errs, sizeof errs, "%d", c.errors);
    snprintf(repl, sizeof repl, "%d", c.pending_replaced);
    snprintf(booked, sizeof booked, "%d", c.booked);
    const char *q[] = { job_id, idx, user, synced, dups, errs, repl };
    if (si_db_command(db, "UPDATE truelayer_import_progress SET status = 'completed', synced = $4::int, "
                          "  duplicates = $5::int, errors = $6::int, pending_replaced = $7::int, "
                          "  rate_limited_until = NULL, completed_at = now(), updated_at = now() "
                          "WHERE job_id = $1 AND account_index = $2::int AND user_id = $3", 7, q, err) != 0)
        goto out;
    /* The account's last sync, newest booked day and observed rate (for the next plan's estimate). */
    const char *a[] = { job_id, user, in.account_id, c.newest_booked[0] ? c.newest_booked : NULL, booked };
    if (si_db_command(db,
            "UPDATE truelayer_accounts a SET last_synced_at = now(), "
            "  last_synced_at_incremental = greatest(a.last_synced_at_incremental, $4::date::timestamptz), "
            "  observed_tx_per_day = round($5::numeric / (j.to_date - j.from_date + 1), 4) "
            "FROM truelayer_import_jobs j WHERE j.id = $1 AND j.user_id = $2 "
            "  AND a.connection_id = j.connection_id AND a.account_id = $3 AND a.user_id = $2", 5, a, err) != 0)
        goto out;
    if (si_event_record(db, user, NULL, "bank:sync:progress",
                        json_pack("{s:s, s:i, s:s, s:i, s:i, s:i, s:i, s:i}", "jobId", job_id, "account", index,
                                  "status", "completed", "synced", c.synced, "duplicates", c.duplicates,
                                  "errors", c.errors, "pendingReplaced", c.pending_replaced, "totalAccounts", total),
                        NULL, err) != 0)
        goto out;
    *out_counts = json_pack("{s:i, s:i, s:i, s:i}", "synced", c.synced, "duplicates", c.duplicates, "errors",
                            c.errors, "pending_replaced", c.pending_replaced);
    rc = 0;
out:
    PQclear(prog);
    return rc;
}

/* Ends the import job when no account is left; *out_ended says whether it did. */
static int maybe_finish(const struct bank_tasks_state *st, struct si_db *db, const char *user, const char *job_id,
                        bool auto_enrich, struct si_error *err)
{
    const char *p[] = { job_id, user };
    PGresult *res = si_db_exec(db,
        "SELECT count(*) FILTER (WHERE status NOT IN ('completed', 'failed')), "
        "  count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status = 'failed'), "
        "  coalesce(bool_or(error_code = 'reauth_required'), false), "
        "  coalesce(sum(synced), 0), coalesce(sum(duplicates), 0), coalesce(sum(errors), 0) "
        "FROM truelayer_import_progress WHERE job_id = $1 AND user_id = $2", 2, p, err);
    if (res == NULL)
        return -1;
    int rc = -1;
    long long left = 0, ok = 0, bad = 0, synced = 0, dups = 0, errs = 0;
    if (si_db_get_int64(res, 0, 0, &left) != 0 || si_db_get_int64(res, 0, 1, &ok) != 0 ||
        si_db_get_int64(res, 0, 2, &bad) != 0 || si_db_get_int64(res, 0, 4, &synced) != 0 ||
        si_db_get_int64(res, 0, 5, &dups) != 0 || si_db_get_int64(res, 0, 6, &errs) != 0) {
        si_db_bad_value(err, "truelayer_import_progress sums");
        goto out;
    }
    if (left > 0) {
        rc = 0;
        goto out;
    }
    const char *code = strcmp(PQgetvalue(res, 0, 3), "t") == 0 ? "reauth_required"
                       : ok == 0                               ? "all_accounts_failed"
                                                               : NULL;
    const char *q[] = { job_id, user, code == NULL ? "completed" : "failed", code };
    if (si_db_command(db, "UPDATE truelayer_import_jobs SET status = $3, error_code = $4, completed_at = now(), "
                          "  updated_at = now() WHERE id = $1 AND user_id = $2", 4, q, err) != 0 ||
        si_db_command(db, "DELETE FROM truelayer_page_cache WHERE job_id = $1 AND user_id = $2", 2, p, err) != 0)
        goto out;
    int e = si_event_record(db, user, NULL, "bank:sync:complete",
                            json_pack("{s:s, s:s, s:s?, s:I, s:I, s:I, s:I, s:I}", "jobId", job_id,
                                      "status", code == NULL ? "completed" : "failed", "code", code,
                                      "synced", (json_int_t)synced, "duplicates", (json_int_t)dups,
                                      "errors", (json_int_t)errs, "accounts", (json_int_t)(ok + bad),
                                      "failedAccounts", (json_int_t)bad), NULL, err);
    if (e != 0)
        goto out;
    if (code == NULL && auto_enrich) {
        if (si_db_command(db, "INSERT INTO truelayer_enrichment_jobs (user_id, import_job_id) VALUES ($2, $1) "
                              "ON CONFLICT (import_job_id) DO NOTHING", 2, p, err) != 0)
            goto out;
        json_t *payload = json_pack("{s:s}", "import_job_id", job_id);
        struct jobs_enqueued qd;
        const struct jobs_new job = {
            .task = "bank.enrich", .payload = payload, .user_id = user, .job_key = job_id,
            .key_mode = JOBS_KEY_KEEP, .max_attempts = st->s.max_attempts,
        };
        e = payload == NULL ? si_error_set(err, 500, "internal", "out of memory") : jobs_enqueue(db, &job, &qd, err);
        json_decref(payload);
        if (e != 0)
            goto out;
    }
    rc = 0;
out:
    PQclear(res);
    return rc;
}

int bank_sync_commit(void *ctx, struct si_db *db, const struct jobs_job *job, const json_t *state,
                     json_t **out_result, struct si_error *err)
{
    const struct bank_tasks_state *st = ctx;
    if (json_is_true(json_object_get(state, "skip")))
        return 0;
    char job_id[SI_UUID_LEN + 1];
    const char *jid = json_string_value(json_object_get(job->payload, "import_job_id"));
    if (jid == NULL || si_uuid_normalize(jid, job_id) != 0)
        return si_error_set(err, 500, "invalid_job", "a bank.sync_account job without its import job");
    int index = (int)json_integer_value(json_object_get(state, "account_index"));
    const char *p[] = { job_id, job->user_id };
    PGresult *jr = si_db_exec(db, "SELECT status, auto_enrich, batch_size FROM truelayer_import_jobs "
                                  "WHERE id = $1 AND user_id = $2 FOR UPDATE", 2, p, err);
    if (jr == NULL)
        return -1;
    int rc = -1;
    if (PQntuples(jr) != 1 || strcmp(PQgetvalue(jr, 0, 0), "running") != 0) {
        rc = 0;                                  /* the job is gone or ended */
        goto out;
    }
    if (account_done(st, db, job->user_id, job_id, index, jr, json_string_value(json_object_get(state, "failed")),
                     out_result, err) != 0 ||
        maybe_finish(st, db, job->user_id, job_id, strcmp(PQgetvalue(jr, 0, 1), "t") == 0, err) != 0)
        goto out;
    rc = 0;
out:
    PQclear(jr);
    return rc;
}
