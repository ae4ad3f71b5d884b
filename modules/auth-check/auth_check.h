/* auth_check.h: the auth-check function's handler, exposed for tests. */
#ifndef AUTH_CHECK_HANDLER_H
#define AUTH_CHECK_HANDLER_H

#include "si_function.h"

int auth_check_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);

#endif
