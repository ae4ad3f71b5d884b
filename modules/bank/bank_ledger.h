/* bank_ledger.h: one account's cached pages into the `transactions` ledger (bank_ledger.c),
 * inside the engine's finishing transaction of its bank.sync_account job. */
#ifndef BANK_LEDGER_H
#define BANK_LEDGER_H

#include "si_db.h"
#include "si_error.h"

struct bank_ledger_in {
    const char *user_id;
    const char *job_id;            /* the import job */
    const char *account_id;        /* the provider's account id: the ledger's `account` */
    const char *currency;          /* the account's, for rows without their own */
    int batch_size;                /* rows per INSERT */
    int pending_match_days;        /* a booked row replaces a pending one dated this many days before it or less */
};

struct bank_ledger_counts {
    int synced;                    /* new ledger rows */
    int duplicates;                /* rows the ledger already had (an earlier sync, a statement import) */
    int errors;                    /* rows that could not be read (amount, date, id): skipped */
    int pending_replaced;          /* booked rows that replaced their pending row */
    int booked;                    /* booked rows read (synced, duplicate or replacing) */
    char newest_booked[11];        /* "" when none */
};

/* Reads every cached page of (job, account) and writes its rows: booked first (each
 * either new, a duplicate by its dedup key, or the replacement of a pending row of the
 * same account and amount dated up to pending_match_days before it), then pending.
 * The caller's transaction is open.  0, or -1 with err. */
int bank_ledger_write(struct si_db *db, const struct bank_ledger_in *in, struct bank_ledger_counts *out,
                      struct si_error *err);

#endif
