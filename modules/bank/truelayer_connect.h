/* truelayer_connect.h: the bank-connection responder's handler and hooks
 * (truelayer_connect.c; main_truelayer_connect.c is its main). */
#ifndef TRUELAYER_CONNECT_H
#define TRUELAYER_CONNECT_H

#include "si_function.h"
#include "tl_client.h"

/* GET /api/truelayer/connections lists at most this many (newest first). */
#define TL_CONNECTIONS_MAX 100
#define TL_CONNECTIONS_MAX_TEXT "100"

int truelayer_connect_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);
/* Reads the TrueLayer settings (tl_settings_load) into *fn_config: refuses to start in jwt
 * mode without SMARTIMPORT_TOKEN_KEY, or with any bad TRUELAYER_* value. */
int truelayer_connect_init(const struct si_config *cfg, void **fn_config, struct si_error *err);
void truelayer_connect_cleanup(void *fn_config);

#endif
