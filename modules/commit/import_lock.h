/* import_lock.h: find the caller's import and lock it for a state change.
 *
 * Commit and revert both start here: the importId is checked (400), the row
 * is locked FOR UPDATE inside the caller's transaction so concurrent calls on
 * the same import queue up instead of racing, and an import that does not
 * exist or belongs to someone else is the same 404 (never reveal that
 * another user's import exists). */
#ifndef IMPORT_LOCK_H
#define IMPORT_LOCK_H

#include <jansson.h>

#include "si_db.h"
#include "si_function.h"
#include "si_request.h"
#include "si_response.h"
#include "si_uuid.h"

struct locked_import {
    char id[SI_UUID_LEN + 1];
    char status[16];
    long long rows_total;
    long long committed_count;    /* -1 when never committed */
    long long duplicate_count;
};

/* Reads importId from body into out->id (400 when missing or not a UUID). */
int import_id_from_body(const json_t *body, struct locked_import *out, struct si_error *err);

/* The start of every POST {"userId","importId"} function (commit, revert,
 * prime, approve): the JSON body (*body, the caller's to json_decref), the
 * caller (si_auth_identify) and the import id.  0, or -1 with err. */
int import_request(struct si_ctx *ctx, struct si_request *req, json_t **body, char user[SI_UUID_LEN + 1],
                   struct locked_import *imp, struct si_error *err);

/* What commit-import and prime-handoff do with such a request. */
typedef int (*import_run_fn)(struct si_db *db, const char *user, const char *import_id, json_t **out,
                             struct si_error *err);

/* A whole handler: import_request, then run; 200 with what run returned,
 * or the error. */
int import_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp, import_run_fn run);

/* Orders the caller's commits against the caller's reverts, inside an open
 * transaction, before import_lock: commits take the user's ledger lock
 * shared (they run side by side), a revert takes it exclusive.  A revert
 * decides from the links of the committed imports (sql/0009) which rows
 * stay; a commit running at the same time could link a row after the revert
 * looked and see it deleted before it linked it.  Waits up to the bulk
 * deadline (a whole import's commit or revert may be ahead).  0, or -1 with
 * err. */
int import_ledger_lock(struct si_db *db, const char *user_id, bool exclusive, struct si_error *err);

/* Locks the import inside an open transaction: 0, or -1 with err (404 when
 * not the caller's). */
int import_lock(struct si_db *db, const char *user_id, struct locked_import *imp, struct si_error *err);

#endif
