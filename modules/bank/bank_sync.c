/* bank_sync.c: the run of bank.sync_account, one account of one import job.
 *
 * The account's range is cut into windows of BANK_SYNC_WINDOW_DAYS, plus one call for its
 * pending transactions.  A window already in truelayer_page_cache (an earlier attempt of
 * this job: a worker killed, a 5xx) costs no call; every fetched page is committed to the
 * cache at once, with the call counted in the progress row, in one statement.  The ledger
 * is written by the commit hook (bank_sync_commit.c), never here.
 *
 * A 429 pauses this account only: rate_limited_until is set (the status shows it), the run
 * sleeps out the Retry-After (at most BANK_RATE_LIMIT_MAX_WAIT_MS, at most
 * BANK_RATE_LIMIT_MAX_PAUSES times, else the account fails rate_limited) while the other
 * accounts go on in their own executors.  Failures that another attempt cannot fix
 * (reauth_required, the account or connection gone, the pauses used up) end the account as
 * failed with that reason; others (bank_unavailable, the database) are retried by the
 * engine, and on the last attempt the account fails with their code, so the import job
 * always ends.  A failed account's bank:sync:error event is written here, in a transaction
 * of its own (si_event_record_error), before the commit hook marks it. */
#include "bank_sync.h"
#include "bank_fetch.h"
#include "si_event.h"
#include "si_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sync_target {
    char job_id[SI_UUID_LEN + 1];
    char connection_id[SI_UUID_LEN + 1];
    char from[11], to[11];
    int index;
    char *account_id;               /* malloc'd */
    bool finished;                  /* the job or the account already ended: nothing to do */
    bool account_gone;              /* the account left the connection */
};

static int load_target(struct si_db *db, const struct jobs_job *job, struct sync_target *t, struct si_error *err)
{
    const char *jid = json_string_value(json_object_get(job->payload, "import_job_id"));
    const json_t *idx = json_object_get(job->payload, "account_index");
    if (jid == NULL || si_uuid_normalize(jid, t->job_id) != 0 || !json_is_integer(idx) || job->user_id[0] == '\0')
        return si_error_set(err, 500, "invalid_job", "a bank.sync_account job without its import job and account");
    t->index = (int)json_integer_value(idx);
    char idx_s[16];
    snprintf(idx_s, sizeof idx_s, "%d", t->index);
    const char *p[] = { t->job_id, idx_s, job->user_id };
    PGresult *res = si_db_exec(db,
        "SELECT j.status, j.connection_id, to_char(j.from_date, 'YYYY-MM-DD'), to_char(j.to_date, 'YYYY-MM-DD'), "
        "  p.account_id, p.status, a.account_id IS NULL "
        "FROM truelayer_import_jobs j "
        "JOIN truelayer_import_progress p ON p.job_id = j.id AND p.account_index = $2::int AND p.user_id = j.user_id "
        "LEFT JOIN truelayer_accounts a ON a.connection_id = j.connection_id AND a.account_id = p.account_id "
        "  AND a.user_id = j.user_id "
        "WHERE j.id = $1 AND j.user_id = $3", 3, p, err);
    if (res == NULL)
        return -1;
    if (PQntuples(res) != 1) {
        t->finished = true;          /* the job was deleted with its connection */
        PQclear(res);
        return 0;
    }
    t->finished = strcmp(PQgetvalue(res, 0, 0), "running") != 0 || strcmp(PQgetvalue(res, 0, 5), "completed") == 0 ||
                  strcmp(PQgetvalue(res, 0, 5), "failed") == 0;
    snprintf(t->connection_id, sizeof t->connection_id, "%s", PQgetvalue(res, 0, 1));
    snprintf(t->from, sizeof t->from, "%s", PQgetvalue(res, 0, 2));
    snprintf(t->to, sizeof t->to, "%s", PQgetvalue(res, 0, 3));
    t->account_gone = strcmp(PQgetvalue(res, 0, 6), "t") == 0;
    t->account_id = strdup(PQgetvalue(res, 0, 4));
    PQclear(res);
    if (t->account_id == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    return 0;
}

/* One call of the account's plan: a booked window or the pending list. */
struct sync_call {
    const char *kind;
    char from[11], to[11];
};

/* The progress row's rate-limit pause; best effort (the status shows it). */
static void set_paused(struct si_db *db, const char *user, const struct sync_target *t, long ms)
{
    struct si_error err;
    si_error_clear(&err);
    char idx[16], ms_s[24];
    snprintf(idx, sizeof idx, "%d", t->index);
    snprintf(ms_s, sizeof ms_s, "%ld", ms);
    const char *p[] = { t->job_id, idx, user, ms < 0 ? NULL : ms_s };
    if (si_db_command(db,
            "UPDATE truelayer_import_progress SET rate_limited_until = now() + $4::bigint * interval '1 millisecond', "
            "  rate_limit_pauses = rate_limit_pauses + ($4 IS NOT NULL)::int, updated_at = now() "
            "WHERE job_id = $1 AND account_index = $2::int AND user_id = $3", 4, p, &err) != 0)
        si_log(SI_LOG_WARN, "could not record a rate-limit pause", json_pack("{s:s}", "code", err.code));
}

/* The page into the cache, the call into the progress row (one statement) and the
 * bank:sync:progress event, in one transaction. */
static int cache_page(struct si_db *db, const char *user, const struct sync_target *t, const struct sync_call *c,
                      const char *body, double ms, int done, int total, struct si_error *err)
{
    char idx[16], ms_s[24];
    snprintf(idx, sizeof idx, "%d", t->index);
    snprintf(ms_s, sizeof ms_s, "%lld", (long long)(ms + 0.5));
    const char *p[] = { t->job_id, user, t->account_id, c->kind, c->from, c->to, body, idx, ms_s };
    if (si_db_begin(db, err) != 0)
        return -1;
    if (si_db_command(db,
            "WITH c AS (INSERT INTO truelayer_page_cache (job_id, user_id, account_id, kind, window_from, window_to, "
            "    results) "
            "  VALUES ($1, $2, $3, $4, $5::date, $6::date, $7::jsonb) "
            "  ON CONFLICT DO NOTHING RETURNING 1) "
            "UPDATE truelayer_import_progress SET api_calls = api_calls + 1, api_ms = api_ms + $9::bigint, "
            "  rate_limited_until = NULL, updated_at = now() "
            "WHERE job_id = $1 AND account_index = $8::int AND user_id = $2", 9, p, err) != 0 ||
        si_event_record(db, user, NULL, "bank:sync:progress",
                        json_pack("{s:s, s:i, s:s, s:i, s:i}", "jobId", t->job_id, "account", t->index,
                                  "status", "syncing", "pagesDone", done, "pagesTotal", total), NULL, err) != 0 ||
        si_db_commit(db, err) != 0) {
        si_db_rollback(db);
        return -1;
    }
    return 0;
}

/* Definitive failures end the account; the rest are the engine's to retry. */
static bool definitive(const char *code)
{
    static const char *const codes[] = { "reauth_required", "not_found", "account_not_found", "rate_limited",
                                         "invalid_date_range", "invalid_job" };
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
        if (code != NULL && strcmp(code, codes[i]) == 0)
            return true;
    return false;
}

static int fetch_all(const struct bank_tasks_state *st, struct si_db *db, const char *user, struct sync_target *t,
                     struct si_error *err)
{
    const struct bank_jobs_settings *s = &st->s;
    long f, to;
    if (bank_date_parse(t->from, &f) != 0 || bank_date_parse(t->to, &to) != 0)
        return si_error_set(err, 500, "invalid_job", "an import job with bad dates");
    int nw = bank_window_count(f, to, s->window_days), n = nw + 1;
    struct sync_call *calls = calloc((size_t)n, sizeof *calls);
    if (calls == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    for (int i = 0; i < nw; i++) {
        long a, b;
        bank_window(f, to, s->window_days, i, &a, &b);
        calls[i].kind = "booked";
        bank_date_format(a, calls[i].from);
        bank_date_format(b, calls[i].to);
    }
    calls[nw].kind = "pending";
    memcpy(calls[nw].from, t->from, sizeof calls[nw].from);
    memcpy(calls[nw].to, t->to, sizeof calls[nw].to);

    struct bank_fetch bf;
    bank_fetch_init(&bf, st->tl_settings, user, t->connection_id);
    PGresult *cached = NULL;
    int rc = -1, pauses = 0;
    const char *p[] = { t->job_id, user, t->account_id };
    cached = si_db_exec(db, "SELECT kind, to_char(window_from, 'YYYY-MM-DD') FROM truelayer_page_cache "
                            "WHERE job_id = $1 AND user_id = $2 AND account_id = $3", 3, p, err);
    if (cached == NULL)
        goto out;
    for (int i = 0; i < n; i++) {
        bool have = false;
        for (int r = 0; r < PQntuples(cached) && !have; r++)
            have = strcmp(PQgetvalue(cached, r, 0), calls[i].kind) == 0 &&
                   strcmp(PQgetvalue(cached, r, 1), calls[i].from) == 0;
        while (!have) {
            char *body = NULL;
            double ms = 0;
            long retry_after = -1;
            if (bank_fetch_page(&bf, db, t->account_id, calls[i].from, calls[i].to,
                                strcmp(calls[i].kind, "pending") == 0, &body, &ms, &retry_after, err) == 0) {
                int e = cache_page(db, user, t, &calls[i], body, ms, i + 1, n, err);
                free(body);
                if (e != 0)
                    goto out;
                break;
            }
            if (err->code == NULL || strcmp(err->code, "rate_limited") != 0)
                goto out;
            if (retry_after < 0)
                retry_after = 1000;
            if (++pauses > s->rate_limit_max_pauses || retry_after > s->rate_limit_max_wait_ms)
                goto out;   /* rate_limited: the account fails with it */
            si_log(SI_LOG_INFO, "bank account paused by the bank's rate limit",
                   json_pack("{s:s, s:i, s:I}", "job", t->job_id, "account", t->index, "retryAfterMs",
                             (json_int_t)retry_after));
            set_paused(db, user, t, retry_after);
            struct timespec ts = { retry_after / 1000, (retry_after % 1000) * 1000000L };
            while (nanosleep(&ts, &ts) != 0)
                ;
            si_error_clear(err);
        }
    }
    rc = 0;
out:
    PQclear(cached);
    bank_fetch_cleanup(&bf);
    free(calls);
    return rc;
}

int bank_sync_run(void *ctx, struct si_db *db, const struct jobs_job *job, json_t **out_state, struct si_error *err)
{
    const struct bank_tasks_state *st = ctx;
    struct sync_target t = { 0 };
    int rc = -1;
    const char *failed = NULL;
    if (load_target(db, job, &t, err) != 0)
        goto out;
    if (t.finished) {
        *out_state = json_pack("{s:i, s:b}", "account_index", t.index, "skip", 1);
        rc = *out_state == NULL ? si_error_set(err, 500, "internal", "out of memory") : 0;
        goto out;
    }
    char idx[16];
    snprintf(idx, sizeof idx, "%d", t.index);
    const char *p[] = { t.job_id, idx, job->user_id };
    if (si_db_command(db, "UPDATE truelayer_import_progress SET status = 'syncing', "
                          "  started_at = coalesce(started_at, now()), updated_at = now() "
                          "WHERE job_id = $1 AND account_index = $2::int AND user_id = $3 AND status = 'pending'",
                      3, p, err) != 0)
        goto out;
    if (t.account_gone)
        failed = "account_not_found";
    else if (fetch_all(st, db, job->user_id, &t, err) != 0) {
        bool last = job->attempts >= job->max_attempts;
        if (!definitive(err->code) && !last)
            goto out;                        /* retried by the engine; the cache keeps what was fetched */
        failed = err->code != NULL ? err->code : "internal";
        si_log(SI_LOG_WARN, "bank account sync failed",
               json_pack("{s:s, s:i, s:s, s:i}", "job", t.job_id, "account", t.index, "code", failed,
                         "status", err->status));
        struct si_error eerr;
        si_error_clear(&eerr);
        if (si_event_record_error(db, job->user_id, NULL, "bank:sync:error", err,
                                  json_pack("{s:s, s:i}", "jobId", t.job_id, "account", t.index), &eerr) != 0)
            si_log(SI_LOG_WARN, "could not record a bank:sync:error event", json_pack("{s:s}", "code", eerr.code));
        si_error_clear(err);
    }
    *out_state = json_pack("{s:i, s:s?}", "account_index", t.index, "failed", failed);
    rc = *out_state == NULL ? si_error_set(err, 500, "internal", "out of memory") : 0;
out:
    free(t.account_id);
    return rc;
}
