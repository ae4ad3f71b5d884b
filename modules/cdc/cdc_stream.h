/* cdc_stream.h: the loop of smartimport-cdc (cdc_stream.c): the replication connection, the
 * decoded transactions, the enqueue and the confirmation of the slot's position. */
#ifndef CDC_STREAM_H
#define CDC_STREAM_H

#include <signal.h>

#include "loyalty.h"
#include "si_config.h"

#define CDC_MAX_MERCHANTS 64          /* merchants buffered in one transaction; more flush early */

struct cdc_settings {
    int batch_ms;                     /* SMARTIMPORT_CDC_BATCH_MS: longest an enqueue transaction stays open */
    int status_ms;                    /* SMARTIMPORT_CDC_STATUS_MS: standby status at least this often */
    int retry_max_ms;                 /* SMARTIMPORT_CDC_RETRY_MAX_MS: longest wait between reconnects */
    int create_slot;                  /* SMARTIMPORT_CDC_CREATE_SLOT: 1 make the slot when it is missing;
                                       * 0 the database tier owns it (scripts/pg-ha: Patroni's permanent
                                       * slot), a missing one is waited for, never made afresh */
};

/* Reads the settings (defaults 50, 10000, 5000, 1).  0, or -1 with err naming the variable. */
int cdc_settings_load(struct cdc_settings *s, char *const *envp, struct si_error *err);

/* Runs until *stop is set (SIGTERM/SIGINT), reconnecting after any failure.  Returns 0. */
int cdc_run(const struct si_config *cfg, const struct cdc_settings *s, volatile sig_atomic_t *stop);

#endif
