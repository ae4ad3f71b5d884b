/* ingest_statement.h: the ingest-statement function, exposed for tests. */
#ifndef INGEST_HANDLER_H
#define INGEST_HANDLER_H

#include "si_function.h"

int ingest_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);

#endif
