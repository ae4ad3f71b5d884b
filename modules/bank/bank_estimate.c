/* bank_estimate.c: an import plan's estimates, from data: each account's observed
 * transactions per day (or the documented default for a first sync), the measured
 * milliseconds per API call (or a default before any was measured), the price per call.
 * An account costs one call per window plus one for its pending transactions; accounts
 * run BANK_SYNC_PARALLEL at a time, so the duration is the rounds of the longest lane. */
#include "bank_jobs.h"

long long bank_estimate_account_tx(double tx_per_day, long days)
{
    if (!(tx_per_day > 0) || days <= 0)
        return 0;
    double v = tx_per_day * (double)days;
    if (v > 1e12)
        v = 1e12;
    return (long long)(v + 0.5);   /* positive: round half up */
}

void bank_estimate_plan(const struct bank_estimate_in *in, struct bank_estimate *out)
{
    *out = (struct bank_estimate){ 0 };
    if (in->accounts <= 0)
        return;
    for (int i = 0; i < in->accounts; i++)
        out->transactions += bank_estimate_account_tx(in->tx_per_day[i], in->days);
    out->calls_per_account = bank_window_count(0, in->days - 1, in->window_days) + 1;
    out->api_calls = out->calls_per_account * in->accounts;
    int parallel = in->parallel < 1 ? 1 : in->parallel;
    int rounds = (in->accounts + parallel - 1) / parallel;
    double ms = (double)rounds * out->calls_per_account * (in->ms_per_call > 0 ? in->ms_per_call : 0);
    if (ms > 1e12)
        ms = 1e12;
    long long whole_ms = (long long)ms + ((double)(long long)ms < ms);   /* rounded up */
    out->duration_seconds = (int)((whole_ms + 999) / 1000);
    out->cost_micros = (long long)out->api_calls * in->price_micros_per_call;
}
