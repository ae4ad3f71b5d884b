/* spool_file.h: the temporary files an upload is written to.
 *
 * They live in the configured spool directory (SMARTIMPORT_SPOOL_DIR,
 * ingest_config.h) and are unlinked from the start (O_TMPFILE, or a unique
 * name removed at once), so they vanish with their FILE however the request
 * ends.  A full disk or quota is its own answer: 507 storage_full, which
 * changes nothing (the upload never reaches the database). */
#ifndef SPOOL_FILE_H
#define SPOOL_FILE_H

#include <stdio.h>

#include "si_error.h"

/* A new empty read/write temporary file, or NULL with err (507 storage_full
 * when the directory is full, 500 otherwise). */
FILE *spool_file_open(const char *dir, struct si_error *err);

/* Sets err for a failed write or flush of a spool file, from errno: 507
 * storage_full for ENOSPC/EDQUOT/EFBIG, 500 with `what` otherwise.  Returns -1. */
int spool_file_write_error(struct si_error *err, const char *what);

#endif
