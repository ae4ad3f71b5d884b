/* bank_jobs.h: bank-API import jobs (the import half of modules/bank): the pure rules
 * (amounts, dates, windows, estimates: bank_amount.c, bank_dates.c, bank_estimate.c),
 * the settings (bank_jobs_settings.c), the responder smartimport-truelayer-import
 * (truelayer_import.c and import_*.c) and the tasks bank.sync_account / bank.enrich
 * (bank_tasks.c, bank_sync.c, bank_ledger.c, bank_enrich.c).
 *
 * One design idea: an account's sync fetches pages into truelayer_page_cache (committed
 * as they come, so a retried job fetches nothing twice) and writes the ledger only in
 * the engine's finishing transaction, from the cache, with the job's completion: a job
 * killed half-way has written no transaction, so the run that completes it counts
 * every row exactly once. */
#ifndef BANK_JOBS_H
#define BANK_JOBS_H

#include <stdbool.h>
#include <stdint.h>

#include "si_error.h"
#include "tl_client.h"

/* ---- amounts -------------------------------------------------------------------------- */

/* bank_amount_minor and BANK_AMOUNT_MAX: tl_client.h (libbank), shared with the client. */

/* ---- dates ------------------------------------------------------------------------------- */

#define BANK_RANGE_MAX_YEARS 2

/* Days since 1970-01-01 of a strict ISO date "YYYY-MM-DD" (a real calendar day,
 * years 1900..2999).  0 or -1. */
int bank_date_parse(const char *text, long *out_days);
/* The ISO date of a day number into out (11 bytes). */
void bank_date_format(long days, char out[11]);
/* A plan's range: both dates ISO, to >= from, to no later than from plus
 * BANK_RANGE_MAX_YEARS years.  0, or -1 with a 400 err (invalid_date,
 * invalid_date_range, date_range_too_long). */
int bank_range_check(const char *from, const char *to, long *out_from, long *out_to, struct si_error *err);
/* Windows of at most window_days covering [from, to]: how many. */
int bank_window_count(long from, long to, int window_days);
/* The i-th window's first and last day. */
void bank_window(long from, long to, int window_days, int i, long *out_from, long *out_to);

/* ---- estimates ------------------------------------------------------------------------- */

struct bank_estimate_in {
    int accounts;
    const double *tx_per_day;     /* per account: observed, or the default (see settings) */
    long days;                    /* of the range, both ends included */
    int window_days;
    int parallel;                 /* BANK_SYNC_PARALLEL */
    double ms_per_call;           /* measured, or the default */
    long long price_micros_per_call;
};
struct bank_estimate {
    long long transactions;       /* summed over accounts, each rounded */
    int calls_per_account;        /* booked windows + the pending call */
    int api_calls;
    int duration_seconds;         /* accounts run in rounds of `parallel`, rounded up */
    long long cost_micros;
};
/* Transactions one account is expected to have in `days`. */
long long bank_estimate_account_tx(double tx_per_day, long days);
void bank_estimate_plan(const struct bank_estimate_in *in, struct bank_estimate *out);

/* ---- settings ---------------------------------------------------------------------------- */

struct bank_jobs_settings {
    int sync_parallel;              /* BANK_SYNC_PARALLEL: accounts syncing at once per worker */
    int window_days;                /* BANK_SYNC_WINDOW_DAYS: days per transactions call */
    int default_tx_per_year;        /* BANK_PLAN_DEFAULT_TX_PER_YEAR: a first sync's guess */
    int default_call_ms;            /* BANK_PLAN_DEFAULT_CALL_MS: before any call was measured */
    long long price_micros_per_call;/* BANK_API_PRICE_MICROS_PER_CALL: millionths per call */
    int max_attempts;               /* BANK_SYNC_MAX_ATTEMPTS: engine attempts per account job */
    int rate_limit_max_wait_ms;     /* BANK_RATE_LIMIT_MAX_WAIT_MS: longest Retry-After waited out */
    int rate_limit_max_pauses;      /* BANK_RATE_LIMIT_MAX_PAUSES: 429s per account before it fails */
    int pending_match_days;         /* BANK_PENDING_MATCH_DAYS: a booked row replaces a pending one this close */
    int wait_ms;                    /* BANK_IMPORT_WAIT_MS: start with "wait": true waits this long */
};

/* Reads the settings above (defaults when unset; a bad value is -1 with err naming it). */
int bank_jobs_settings_load(struct bank_jobs_settings *s, char *const *envp, struct si_error *err);

#endif
