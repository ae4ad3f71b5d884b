/* loyalty_api.h: the loyalty responder (smartimport-loyalty, loyalty_api.c), in libcdc so that
 * another responder can hand it the loyalty paths it receives: smartimport-merchants (modules/bulk)
 * owns nginx's ^~/api/merchants/ route, and sends GET .../customers/:customer_id/loyalty here with
 *     if (loyalty_api_owns(req->path)) return loyalty_handle(ctx, req, resp);   */
#ifndef LOYALTY_API_H
#define LOYALTY_API_H

#include <stdbool.h>

#include "si_function.h"

/* True for the paths loyalty_handle answers: /api/cdc/stats, /api/loyalty/..., and
 * /api/merchants/<id>/customers/<customer_id>/loyalty (any <id>: a malformed one is its 404). */
bool loyalty_api_owns(const char *path);

int loyalty_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);

#endif
