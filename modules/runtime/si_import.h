/* si_import.h: the import status machine, in one place.
 *
 *   uploaded -> parsed -> committed -> analyzed
 *                 |          \___________\____-> reverted
 *                 \-> failed
 *
 * An import row is written `uploaded` by ingest-statement and becomes
 * `parsed` in the same transaction once its rows are staged; commit-import
 * makes it `committed` (or `failed` when its staged rows were lost), Crystal
 * `analyzed`, revert-import `reverted`.  `failed` and `reverted` are final
 * and free the file's place (the unique index of sql/0002), so the same bytes
 * can be uploaded again.  Every status write goes through si_import_move(),
 * which only changes a row whose current status may move to the new one
 * (the table in si_import.c); the SQL predicates below spell the same sets
 * for queries that must stay plain SQL (a partial index only serves a query
 * whose predicate implies the index's), and check_import_status holds them
 * to the table. */
#ifndef SI_IMPORT_H
#define SI_IMPORT_H

#include <jansson.h>
#include <stdbool.h>

#include "si_db.h"
#include "si_error.h"

enum si_import_status {
    SI_IMPORT_UPLOADED,
    SI_IMPORT_PARSED,
    SI_IMPORT_COMMITTED,
    SI_IMPORT_ANALYZED,
    SI_IMPORT_FAILED,
    SI_IMPORT_REVERTED,
    SI_IMPORT_STATUS_COUNT
};

/* "parsed", ...: the value in imports.status. */
const char *si_import_status_name(enum si_import_status s);
/* 0 with *out, or -1 for a name that is no status. */
int si_import_status_from_name(const char *name, enum si_import_status *out);

/* True when an import in `from` may become `to`. */
bool si_import_may_move(enum si_import_status from, enum si_import_status to);
/* True when the import's rows are in the ledger (committed, analyzed). */
bool si_import_in_ledger(enum si_import_status s);
/* si_import_in_ledger of a status read from imports.status (false for no status). */
bool si_import_name_in_ledger(const char *name);
/* True when the import holds its file's place (every status but the final ones). */
bool si_import_holds_file(enum si_import_status s);

/* The same sets as SQL predicates on a status column. */
#define SI_IMPORT_IN_LEDGER_SQL(col)  col " IN ('committed', 'analyzed')"
#define SI_IMPORT_HOLDS_FILE_SQL(col) col " NOT IN ('failed', 'reverted')"

/* Moves the caller's import to `to`, inside or outside a transaction:
 *   UPDATE imports SET status = to, updated_at = now() <set>
 *   WHERE id = $1 AND user_id = $2 AND status may move to `to`
 * set (may be NULL) adds assignments, e.g. ", committed_count = $5", whose
 * parameters are extra[0..n_extra) as $5, $6, ... ($3 and $4 are the new
 * status and the statuses it may come from).  *moved (may be NULL) says
 * whether the row changed: false when it was not in a status that may move
 * there (or is not the caller's).  0, or -1 with err. */
int si_import_move(struct si_db *db, const char *import_id, const char *user_id, enum si_import_status to,
                   const char *set, int n_extra, const char *const *extra, bool *moved, struct si_error *err);

/* Keep/skip decisions on an import's staged rows (si_import_decisions.c):
 * `decisions` = [{"row": N, "action": "keep"|"skip"}] (NULL or null: none),
 * at most SI_IMPORT_DECISIONS_MAX, each row once, every row one of the
 * import's staged rows (user_id's), written to transactions_staging.decision,
 * which commit-import honours (a skipped row is not committed).  Run it in the
 * caller's transaction: a 400 leaves the rows to its rollback.  0 with
 * *out_applied, or -1 with err (400 bad_decisions, 503...). */
#define SI_IMPORT_DECISIONS_MAX 100000

/* How many days apart a staged row and a committed one of the same amount and
 * currency may be to be a possible duplicate, and how many days after a
 * pending row its booked row may come to replace it (sql/0019, sql/0024): the
 * preview's verdicts and commit-import's replacement use the same figure. */
#define SI_IMPORT_MATCH_DAYS 3
int si_import_apply_decisions(struct si_db *db, const char *import_id, const char *user_id, const json_t *decisions,
                              long long *out_applied, struct si_error *err);

#endif
