/* preview.h: what commit would do with each staged row of an import.
 *
 * Every staged row has a verdict (sql/0019_import_verdicts.sql, import_row_verdicts):
 * "new" | "duplicate" (the same transaction is already committed: commit skips it) |
 * "possible_duplicate" (a committed row of the same amount and currency within
 * PREVIEW_NEAR_DAYS days, scored 0..100 with its reasons and the matched row, or
 * identical to an earlier row of the same file) | "replaces_pending" (a pending row the
 * bank API synced is now booked in this file: commit turns it into this row, sql/0024).  preview_page answers one page of rows
 * with their verdicts and the counts of the whole file, in one statement: the ingest
 * answer's first STAGE_PREVIEW rows and the import-preview responder's pages. */
#ifndef PREVIEW_H
#define PREVIEW_H

#include <jansson.h>
#include <stdbool.h>

#include "si_db.h"
#include "si_import.h"

#define PREVIEW_NEAR_DAYS  SI_IMPORT_MATCH_DAYS
#define PREVIEW_PAGE_MAX   200   /* rows per page of import-preview */
#define PREVIEW_ROW_MAX    2147483647LL   /* staged rows are numbered 1..INT_MAX */

struct preview_page {
    json_t *rows;          /* [{row, line, date, description, counterparty, counterpartyAccount
                            *   ("****" + its last 4, or null), amountMinor, currency,
                            *   category, verdict, reason, score, reasons, match, decision}] */
    json_t *counts;        /* {total, new, duplicate, possible_duplicate, replaces_pending} of the whole file;
                              NULL when not asked for (with_counts false) */
    long long next_after;  /* the last row's number when more rows follow, else 0 */
};

/* Rows of import_id (the user's, still in staging) after row number `after` (0 <= after <
 * PREVIEW_ROW_MAX), at most
 * `limit`, only those of `verdict` when it is not NULL.  0 or -1 with err. */
int preview_page(struct si_db *db, const char *user_id, const char *import_id, const char *verdict,
                 long long after, int limit, bool with_counts, struct preview_page *out, struct si_error *err);
void preview_page_clear(struct preview_page *p);

#endif
