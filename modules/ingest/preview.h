/* preview.h: what commit would do with each previewed row.
 *
 * Each preview row gets "verdict": "new" | "duplicate" (the same transaction
 * is already committed) | "possible_duplicate" (same amount and currency
 * within PREVIEW_NEAR_DAYS days with a different description, or identical
 * to an earlier row of the same file), and a "reason" in words. */
#ifndef PREVIEW_H
#define PREVIEW_H

#include <jansson.h>

#include "si_db.h"
#include "stage.h"

#define PREVIEW_NEAR_DAYS 3

/* Adds verdict and reason to preview[i] for the n keys.  0 or -1 with err. */
int preview_verdicts(struct si_db *db, const char *user_id, const struct stage_preview_row *keys,
                     size_t n, json_t *preview, struct si_error *err);

/* Rebuilds the preview of an import still in staging (for a repeated upload). */
int preview_from_staging(struct si_db *db, const char *user_id, const char *import_id,
                         json_t **out_preview, struct si_error *err);

#endif
