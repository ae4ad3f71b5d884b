/* bank_sync.h: bank.sync_account's run (bank_sync.c: fetch the account's pages into the
 * cache) and commit (bank_sync_commit.c: the ledger, the counts, the job's end). */
#ifndef BANK_SYNC_H
#define BANK_SYNC_H

#include "bank_jobs.h"
#include "jobs.h"
#include "si_uuid.h"

struct bank_tasks_state {
    struct bank_jobs_settings s;
    void *tl_settings;              /* the TrueLayer client's settings (tl_client.h), owned */
};

/* The run: state {"account_index", "failed": code?} for the commit. */
int bank_sync_run(void *ctx, struct si_db *db, const struct jobs_job *job, json_t **out_state, struct si_error *err);
int bank_sync_commit(void *ctx, struct si_db *db, const struct jobs_job *job, const json_t *state,
                     json_t **out_result, struct si_error *err);
/* bank.enrich (bank_enrich.c): categorise the import job's rows with the statement rules. */
int bank_enrich_run(void *ctx, struct si_db *db, const struct jobs_job *job, json_t **out_state, struct si_error *err);
int bank_enrich_commit(void *ctx, struct si_db *db, const struct jobs_job *job, const json_t *state,
                       json_t **out_result, struct si_error *err);

#endif
