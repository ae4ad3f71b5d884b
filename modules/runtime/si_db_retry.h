/* si_db_retry.h: run a transaction again when PostgreSQL aborted it only
 * because of a concurrent one.
 *
 * A deadlock (SQLSTATE 40P01) or a serialization failure (40001) says
 * nothing about the request: PostgreSQL rolled one of two colliding
 * transactions back, and the same work done again normally succeeds.  So
 * the server does it again, a bounded number of times with a short jittered
 * pause, instead of handing the client a 503.  Only the whole transaction
 * can be repeated, hence a function pointer: the helper opens the
 * transaction, the function does the work inside it, the helper commits (or
 * rolls back) and decides whether to go round again.  Any other error is
 * returned at once, unchanged. */
#ifndef SI_DB_RETRY_H
#define SI_DB_RETRY_H

#include <stdbool.h>

#include "si_db.h"

/* The work of one attempt, inside an open transaction: 0 to commit, or -1
 * with err to roll back.  It may run up to SI_DB_TX_ATTEMPTS times, so it
 * must start from the same state each time (reset its outputs first) and
 * must not end the transaction itself. */
typedef int (*si_db_tx_fn)(struct si_db *db, void *arg, struct si_error *err);

/* True for the errors a new attempt can cure: deadlock_detected (40P01)
 * and serialization_failure (40001). */
bool si_db_error_retryable(const struct si_error *err);

/* BEGIN, fn, COMMIT; when the attempt fails with a retryable error it is
 * rolled back and, after 1..2 x SI_DB_TX_BACKOFF_MS (doubling per attempt),
 * run again: at most SI_DB_TX_ATTEMPTS attempts, and no new one once the
 * attempts so far plus the last one's duration would pass the bulk deadline
 * (db->bulk_timeout_ms).  When none succeeds: 409 "conflict_retry" (nothing
 * was changed; the client may try again).  0, or -1 with err; the
 * transaction is closed either way. */
int si_db_retry_tx(struct si_db *db, si_db_tx_fn fn, void *arg, struct si_error *err);

#endif
