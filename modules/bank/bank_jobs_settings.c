/* bank_jobs_settings.c: the import jobs' settings (README "Settings"), read once at start
 * by the responder and by the worker's task registration.  Each has its default and its
 * bounds; a bad value stops the program with the variable's name (si_env_int). */
#include "bank_jobs.h"
#include "si_config.h"

int bank_jobs_settings_load(struct bank_jobs_settings *s, char *const *envp, struct si_error *err)
{
    *s = (struct bank_jobs_settings){
        .sync_parallel = 4, .window_days = 90, .default_tx_per_year = 250, .default_call_ms = 500,
        .price_micros_per_call = 250, .max_attempts = 5, .rate_limit_max_wait_ms = 60000,
        .rate_limit_max_pauses = 5, .pending_match_days = 3, .wait_ms = 300000,
    };
    if (si_env_int(envp, "BANK_SYNC_PARALLEL", 1, 64, &s->sync_parallel, err) != 0 ||
        si_env_int(envp, "BANK_SYNC_WINDOW_DAYS", 1, 366, &s->window_days, err) != 0 ||
        si_env_int(envp, "BANK_PLAN_DEFAULT_TX_PER_YEAR", 0, 1000000, &s->default_tx_per_year, err) != 0 ||
        si_env_int(envp, "BANK_PLAN_DEFAULT_CALL_MS", 1, 600000, &s->default_call_ms, err) != 0 ||
        si_env_long(envp, "BANK_API_PRICE_MICROS_PER_CALL", 0, 1000000000LL, &s->price_micros_per_call, err) != 0 ||
        si_env_int(envp, "BANK_SYNC_MAX_ATTEMPTS", 1, 100, &s->max_attempts, err) != 0 ||
        si_env_int(envp, "BANK_RATE_LIMIT_MAX_WAIT_MS", 0, 3600000, &s->rate_limit_max_wait_ms, err) != 0 ||
        si_env_int(envp, "BANK_RATE_LIMIT_MAX_PAUSES", 0, 1000, &s->rate_limit_max_pauses, err) != 0 ||
        si_env_int(envp, "BANK_PENDING_MATCH_DAYS", 0, 30, &s->pending_match_days, err) != 0 ||
        si_env_int(envp, "BANK_IMPORT_WAIT_MS", 0, 320000, &s->wait_ms, err) != 0)
        return -1;
    return 0;
}
