/* bank_fetch.h: one transactions page of one account, for bank.sync_account (bank_fetch.c,
 * over libbank's tl_fetch_for: the connection's token, refreshed when due and once after a
 * 401).  The page comes back as JSON text whose numbers keep their decimal digits, for the
 * page cache (jsonb keeps them as numeric). */
#ifndef BANK_FETCH_H
#define BANK_FETCH_H

#include <stdbool.h>

#include "si_db.h"
#include "si_error.h"
#include "si_http.h"

/* The TrueLayer client's settings for the worker (TRUELAYER_*, SMARTIMPORT_TOKEN_KEY;
 * tl_settings_load), owned. */
int bank_fetch_settings_load(void **out, char *const *envp, struct si_error *err);
void bank_fetch_settings_free(void *settings);

struct bank_fetch {
    const void *tl_settings;
    struct si_http_client http;     /* this run's client (one thread), reused across its calls */
    const char *user_id, *connection_id;
};

void bank_fetch_init(struct bank_fetch *f, const void *tl_settings, const char *user_id, const char *connection_id);
void bank_fetch_cleanup(struct bank_fetch *f);

/* GET the account's booked transactions from..to (ISO dates), or its pending ones.
 * 0 with *out_results (the answer's results array as JSON text, malloc'd) and *out_ms;
 * -1 with err (tl_client.h's codes: rate_limited with *out_retry_after_ms, reauth_required,
 * not_found, token_expired, bank_unavailable, bank_error, bank_not_configured).
 * Outside any transaction on db. */
int bank_fetch_page(struct bank_fetch *f, struct si_db *db, const char *account_id, const char *from,
                    const char *to, bool pending, char **out_results, double *out_ms, long *out_retry_after_ms,
                    struct si_error *err);

#endif
