/* si_db_retry.c: see si_db_retry.h. */
#include "si_db_retry.h"
#include "si_clock.h"
#include "si_limits.h"
#include "si_log.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

bool si_db_error_retryable(const struct si_error *err)
{
    return err != NULL && (strcmp(err->sqlstate, "40P01") == 0 || strcmp(err->sqlstate, "40001") == 0);
}

/* Sleeps base..2*base ms, where base doubles with each attempt; the jitter
 * keeps two colliding transactions from meeting again in step.  The seed is
 * local: the clock's nanoseconds mixed with the caller's address. */
static void back_off(int attempt, const void *salt)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)(uintptr_t)salt * 0x9E3779B97F4A7C15ULL);
    x ^= x >> 33;
    x *= 0xFF51AFD7ED558CCDULL;
    x ^= x >> 33;
    long long base = (long long)SI_DB_TX_BACKOFF_MS << (attempt - 1);
    long long ms = base + (long long)(x % (uint64_t)(base + 1));
    struct timespec pause = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
    while (nanosleep(&pause, &pause) != 0)
        ;   /* EINTR: sleep the rest */
}

static int attempt_once(struct si_db *db, si_db_tx_fn fn, void *arg, struct si_error *err)
{
    if (si_db_begin(db, err) != 0)
        return -1;
    if (fn(db, arg, err) != 0 || si_db_commit(db, err) != 0) {
        si_db_rollback(db);
        return -1;
    }
    return 0;
}

int si_db_retry_tx(struct si_db *db, si_db_tx_fn fn, void *arg, struct si_error *err)
{
    long long start = si_now_ms();
    int attempt;
    for (attempt = 1;; attempt++) {
        long long t0 = si_now_ms();
        si_error_clear(err);
        if (attempt_once(db, fn, arg, err) == 0)
            return 0;
        if (!si_db_error_retryable(err))
            return -1;
        long long spent = si_now_ms() - start, last = si_now_ms() - t0;
        if (attempt >= SI_DB_TX_ATTEMPTS || spent + last > db->bulk_timeout_ms)
            break;
        si_logf(SI_LOG_INFO, "transaction aborted by a concurrent one (sqlstate %s), attempt %d of %d",
                err->sqlstate, attempt, SI_DB_TX_ATTEMPTS);
        back_off(attempt, err);
    }
    char sqlstate[sizeof err->sqlstate];
    snprintf(sqlstate, sizeof sqlstate, "%s", err->sqlstate);
    si_error_set(err, 409, "conflict_retry",
                 "this change kept colliding with concurrent changes of the same data and was not made; try again");
    snprintf(err->sqlstate, sizeof err->sqlstate, "%s", sqlstate);
    si_error_detail(err, "sqlstate %s after %d attempt(s)", sqlstate, attempt);
    return -1;
}
