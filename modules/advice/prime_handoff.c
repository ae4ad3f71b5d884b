/* prime_handoff.c: POST /.netlify/functions/prime-handoff {"userId","importId"}
 *   200 {"ok":true,"handoffId","importId","primeMessage","transactionCount","importedAt","status"}
 *
 * Prime ("prime-boss") acknowledges a committed import and hands it to
 * Crystal ("crystal-analytics"): in ONE transaction it locks the import,
 * creates the handoffs row (status pending), stores Prime's acknowledgement
 * in chat_messages and records prime:handoff:initiated and prime:message.
 * One handoff per import: the import row lock serialises concurrent calls and
 * a second call answers the existing handoff and message (unchanged, no new
 * events).  transactionCount is the number of the user's transactions this
 * import added (duplicates of older imports are not counted); importedAt is
 * when it was committed.
 *
 * Errors: 400 missing/invalid importId, 404 import_not_found (unknown and
 * other users' imports alike: never reveal that one exists), 409
 * import_not_committed (only committed or analyzed imports are handed off),
 * 503/504 from the database.  A 5xx is recorded as prime:handoff:error
 * (after the rollback, ids and codes only). */
#include "advice.h"
#include "import_lock.h"
#include "si_clock.h"
#include "si_event.h"
#include "si_import.h"
#include "si_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PRIME_AGENT   "prime-boss"
#define PRIME_MESSAGE_MAX 1024

struct import_facts {
    char status[16];
    char file_name[ADVICE_NAME_MAX];   /* masked */
    char committed_at[40];
    char date_from[11], date_to[11];
    long long transactions;
    bool has_handoff;                  /* the import's existing handoff, if any: */
    char handoff_id[SI_UUID_LEN + 1];
    char handoff_status[16];
    long long handoff_count;
    char *message;                     /* Prime's stored message (malloc'd), NULL if none */
};

/* Locks the import (FOR UPDATE, so concurrent calls queue up) and reads it
 * with its handoff, in one statement.  The
 * import's transactions are its committed_count: commit-import set it to the
 * rows it inserted, and only a revert (refused before this) removes them. */
static int load_facts(struct si_db *db, const char *user, const char *import_id, struct import_facts *f,
                      struct si_error *err)
{
    const char *params[] = { import_id, user };
    /* Lock first, read second: in READ COMMITTED a statement that waited for
     * the row lock re-reads only the locked row, so a handoff committed by the
     * call we waited for would be invisible to a joined read in the same
     * statement (and the INSERT below would hit the unique index). */
    PGresult *res = si_db_exec(db, "SELECT 1 FROM imports WHERE id = $1 AND user_id = $2 FOR UPDATE",
                               2, params, err);
    if (res == NULL)
        return -1;
    PQclear(res);
    res = si_db_exec(db,
        "SELECT i.file_name, "
        "  " SI_SQL_UTC_S("coalesce(i.committed_at, i.updated_at)") ", "
        "  coalesce(i.date_from, i.created_at::date)::text, coalesce(i.date_to, i.created_at::date)::text, "
        "  coalesce(i.committed_count, 0), h.id, h.status, h.transaction_count, "
        "  (SELECT m.content FROM chat_messages m WHERE m.user_id = h.user_id AND m.handoff_id = h.id "
        "     ORDER BY m.id LIMIT 1), i.status "
        "FROM imports i LEFT JOIN handoffs h ON h.user_id = i.user_id AND h.import_id = i.id "
        "WHERE i.id = $1 AND i.user_id = $2 FOR UPDATE OF i", 2, params, err);
    if (res == NULL)
        return -1;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return si_error_set(err, 404, "import_not_found", "import not found");
    }
    snprintf(f->status, sizeof f->status, "%s", PQgetvalue(res, 0, 9));
    si_mask_digits(PQgetvalue(res, 0, 0), f->file_name, sizeof f->file_name);
    snprintf(f->committed_at, sizeof f->committed_at, "%s", PQgetvalue(res, 0, 1));
    snprintf(f->date_from, sizeof f->date_from, "%s", PQgetvalue(res, 0, 2));
    snprintf(f->date_to, sizeof f->date_to, "%s", PQgetvalue(res, 0, 3));
    if (si_db_get_int64(res, 0, 4, &f->transactions) != 0) {
        PQclear(res);
        return si_db_bad_value(err, "imports.committed_count");
    }
    f->has_handoff = !PQgetisnull(res, 0, 5);
    if (f->has_handoff) {
        snprintf(f->handoff_id, sizeof f->handoff_id, "%s", PQgetvalue(res, 0, 5));
        snprintf(f->handoff_status, sizeof f->handoff_status, "%s", PQgetvalue(res, 0, 6));
        if (si_db_get_int64(res, 0, 7, &f->handoff_count) != 0) {
            PQclear(res);
            return si_db_bad_value(err, "handoffs.transaction_count");
        }
        if (!PQgetisnull(res, 0, 8) && (f->message = strdup(PQgetvalue(res, 0, 8))) == NULL) {
            PQclear(res);
            return si_error_set(err, 500, "internal", "out of memory");
        }
    }
    PQclear(res);
    return 0;
}

/* Prime's acknowledgement.  The file name is masked like everything else
 * that is user text (it may carry an account number). */
static void prime_message(const struct import_facts *f, char *out, size_t n)
{
    if (f->transactions == 0)
        snprintf(out, n,
                 "I've checked %s: every transaction in it was already in your history, so nothing new was added. "
                 "I've still asked Crystal to refresh your analysis for %s to %s.",
                 f->file_name, f->date_from, f->date_to);
    else
        snprintf(out, n,
                 "I've added %lld transaction%s from %s (%s to %s) to your history and handed them to Crystal, "
                 "who is preparing your spending summary, budget impact and forecast.",
                 f->transactions, f->transactions == 1 ? "" : "s", f->file_name, f->date_from, f->date_to);
}

/* Fills out; 0, or -1 with err when the message cannot be copied. */
static int answer(struct prime_outcome *out, const char *handoff_id, const char *import_id, const char *message,
                  long long count, const char *imported_at, const char *status, struct si_error *err)
{
    snprintf(out->handoff_id, sizeof out->handoff_id, "%s", handoff_id);
    snprintf(out->import_id, sizeof out->import_id, "%s", import_id);
    snprintf(out->imported_at, sizeof out->imported_at, "%s", imported_at);
    snprintf(out->status, sizeof out->status, "%s", status);
    out->transaction_count = count;
    if ((out->message = strdup(message)) == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    return 0;
}

json_t *prime_outcome_json(const struct prime_outcome *o)
{
    return json_pack("{s:b, s:s, s:s, s:s, s:I, s:s, s:s}", "ok", 1, "handoffId", o->handoff_id, "importId",
                     o->import_id, "primeMessage", o->message != NULL ? o->message : "", "transactionCount",
                     (json_int_t)o->transaction_count, "importedAt", o->imported_at, "status", o->status);
}

void prime_outcome_cleanup(struct prime_outcome *o)
{
    free(o->message);
    o->message = NULL;
}

static int handoff(struct si_db *db, const char *user, struct locked_import *imp, struct prime_outcome *out,
                   struct si_error *err)
{
    double t0 = si_clock_ms();
    struct import_facts f;
    memset(&f, 0, sizeof f);
    if (si_db_begin(db, err) != 0 || load_facts(db, user, imp->id, &f, err) != 0)
        goto fail;
    if (!si_import_name_in_ledger(f.status)) {
        si_error_set(err, 409, "import_not_committed",
                     "the import is %s: only a committed import can be handed to Prime", f.status);
        goto fail;
    }
    if (f.has_handoff) {   /* one handoff per import: answer the one there is */
        char fallback[PRIME_MESSAGE_MAX];
        if (f.message == NULL)
            prime_message(&f, fallback, sizeof fallback);
        si_db_rollback(db);   /* nothing changed */
        int rc = answer(out, f.handoff_id, imp->id, f.message != NULL ? f.message : fallback, f.handoff_count,
                        f.committed_at, f.handoff_status, err);
        free(f.message);
        return rc;
    }
    free(f.message);   /* none without a handoff; keeps every path simple */
    f.message = NULL;

    char count[32], message[PRIME_MESSAGE_MAX], handoff_id[SI_UUID_LEN + 1];
    snprintf(count, sizeof count, "%lld", f.transactions);
    prime_message(&f, message, sizeof message);
    const char *hp[] = { user, imp->id, count };
    PGresult *res = si_db_exec(db,
        "INSERT INTO handoffs (user_id, import_id, from_agent, to_agent, status, transaction_count) "
        "VALUES ($1, $2, 'prime-boss', 'crystal-analytics', 'pending', $3) RETURNING id", 3, hp, err);
    if (res == NULL)
        return -1;
    snprintf(handoff_id, sizeof handoff_id, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    const char *mp[] = { user, handoff_id, imp->id, message };
    res = si_db_exec(db,
        "INSERT INTO chat_messages (user_id, handoff_id, import_id, agent, role, content) "
        "VALUES ($1, $2, $3, '" PRIME_AGENT "', 'assistant', $4) RETURNING id", 4, mp, err);
    if (res == NULL)
        return -1;
    long long message_id = 0;
    int got = si_db_get_int64(res, 0, 0, &message_id);
    PQclear(res);
    if (got != 0)
        return si_db_bad_value(err, "chat_messages.id");
    if (si_event_record(db, user, imp->id, "prime:handoff:initiated",
                        json_pack("{s:s, s:s, s:I}", "importId", imp->id, "handoffId", handoff_id, "transactionCount",
                                  (json_int_t)f.transactions), NULL, err) != 0 ||
        si_event_record(db, user, imp->id, "prime:message",
                        json_pack("{s:s, s:s, s:I, s:f}", "importId", imp->id, "handoffId", handoff_id, "messageId",
                                  (json_int_t)message_id, "ms", si_ms_since(t0)), NULL, err) != 0)
        return -1;
    if (si_db_commit(db, err) != 0)
        return -1;
    return answer(out, handoff_id, imp->id, message, f.transactions, f.committed_at, "pending", err);
fail:
    free(f.message);
    return -1;
}

int prime_run(struct si_db *db, const char *user, const char *import_id, struct prime_outcome *out,
              struct si_error *err)
{
    struct locked_import imp;
    memset(&imp, 0, sizeof imp);
    snprintf(imp.id, sizeof imp.id, "%s", import_id);
    memset(out, 0, sizeof *out);
    if (handoff(db, user, &imp, out, err) == 0)
        return 0;
    si_db_rollback(db);
    prime_outcome_cleanup(out);
    if (err->status >= 500) {
        struct si_error e2;
        if (si_event_record_error(db, user, imp.id, "prime:handoff:error", err, NULL, &e2) != 0)
            si_log(SI_LOG_WARN, "could not record prime:handoff:error", NULL);
    }
    return -1;
}

/* prime_run for import_handle: the outcome as the 200 body. */
static int prime_run_json(struct si_db *db, const char *user, const char *import_id, json_t **out,
                          struct si_error *err)
{
    struct prime_outcome o;
    *out = NULL;
    if (prime_run(db, user, import_id, &o, err) != 0)
        return -1;
    *out = prime_outcome_json(&o);
    prime_outcome_cleanup(&o);
    return *out != NULL ? 0 : si_error_set(err, 500, "internal", "out of memory");
}

int prime_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    return import_handle(ctx, req, resp, prime_run_json);
}
