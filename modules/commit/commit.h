/* commit.h: commit-import and revert-import, exposed for approve-import and tests. */
#ifndef COMMIT_H
#define COMMIT_H

#include <jansson.h>
#include <stdbool.h>

#include "si_function.h"
#include "si_uuid.h"

/* What a commit did: approve-import reads these fields; commit-import
 * answers them as JSON (commit_outcome_json). */
struct commit_outcome {
    char import_id[SI_UUID_LEN + 1];
    long long committed;              /* rows this call added (0 when already committed) */
    long long duplicates;             /* rows the user already had */
    long long skipped;                /* rows the user decided to skip (import-preview, decisions) */
    long long replaced_pending;       /* rows that became a pending row of the ledger (sql/0024) */
    bool already_committed;           /* committed before: nothing was added */
    long long previously_committed;   /* then: the import's committed_count */
};

/* Commits the caller's import.  0 with *out filled, or -1 with err (404,
 * 409, 503...). */
int commit_run(struct si_db *db, const char *user_id, const char *import_id, struct commit_outcome *out,
               struct si_error *err);

/* commit_run with the request's keep/skip decisions (NULL: none), applied in the commit's
 * transaction (si_import_apply_decisions). */
int commit_run_decided(struct si_db *db, const char *user_id, const char *import_id, const json_t *decisions,
                       struct commit_outcome *out, struct si_error *err);

/* The commit-import 200 body for an outcome (NULL when out of memory). */
json_t *commit_outcome_json(const struct commit_outcome *o);

int commit_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);
int revert_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);

#endif
