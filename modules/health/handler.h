/* handler.h: the health function's handler, exposed for tests. */
#ifndef HEALTH_HANDLER_H
#define HEALTH_HANDLER_H

#include "si_function.h"

int health_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);

#endif
