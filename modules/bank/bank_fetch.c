/* bank_fetch.c: bank.sync_account's calls to the bank, through libbank (tl_fetch_for).
 *
 * The client hands back the answer's results parsed by jansson, amounts as doubles.  They
 * are written out again with 15 significant digits (JSON_REAL_PRECISION(15)), the same
 * rule as tl_amount_minor: every decimal a bank sends with at most 15 significant digits
 * (any amount below the 10^13 minor-unit limit) prints back as the bank wrote it, 0.29 as
 * 0.29, never 0.28999999999999998; the cache keeps that text as jsonb numeric and the
 * ledger scales its digits (bank_amount_minor). */
#include "bank_fetch.h"
#include "tl_client.h"

#include <stdlib.h>

int bank_fetch_settings_load(void **out, char *const *envp, struct si_error *err)
{
    struct tl_settings *s = calloc(1, sizeof *s);
    *out = s;
    if (s == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    return tl_settings_load(s, envp, err);
}

void bank_fetch_settings_free(void *settings)
{
    if (settings == NULL)
        return;
    tl_settings_cleanup(settings);
    free(settings);
}

void bank_fetch_init(struct bank_fetch *f, const void *tl_settings, const char *user_id, const char *connection_id)
{
    f->tl_settings = tl_settings;
    f->user_id = user_id;
    f->connection_id = connection_id;
    si_http_client_init(&f->http);
}

void bank_fetch_cleanup(struct bank_fetch *f)
{
    si_http_client_cleanup(&f->http);
}

int bank_fetch_page(struct bank_fetch *f, struct si_db *db, const char *account_id, const char *from,
                    const char *to, bool pending, char **out_results, double *out_ms, long *out_retry_after_ms,
                    struct si_error *err)
{
    json_t *results = NULL;
    struct tl_call call = { .retry_after_ms = -1 };
    *out_results = NULL;
    int rc = tl_fetch_for(db, &f->http, f->tl_settings, f->user_id, f->connection_id, account_id, from, to, pending,
                          &results, &call, err);
    *out_ms = call.ms;
    *out_retry_after_ms = call.retry_after_ms;
    if (rc != 0)
        return -1;
    *out_results = json_dumps(results, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(results);
    if (*out_results == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    return 0;
}
