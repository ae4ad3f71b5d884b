/* merchants.h: the responder smartimport-merchants (merchants.c). */
#ifndef MERCHANTS_H
#define MERCHANTS_H

#include "si_function.h"

int merchants_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);

#endif
