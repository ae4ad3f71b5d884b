/* loyalty_api.h: the loyalty responder (smartimport-loyalty, loyalty_api.c). */
#ifndef LOYALTY_API_H
#define LOYALTY_API_H

#include "si_function.h"

int loyalty_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);

#endif
