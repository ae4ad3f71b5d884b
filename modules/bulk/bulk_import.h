/* bulk_import.h: the responder smartimport-bulk-import: dispatch (bulk_import.c) and one
 * handler per endpoint (import_upload.c, import_status.c). */
#ifndef BULK_IMPORT_H
#define BULK_IMPORT_H

#include "si_function.h"

int bulk_import_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);

int import_upload(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);
int import_status(struct si_ctx *ctx, struct si_request *req, struct si_response *resp, const char *id);
int import_list(struct si_ctx *ctx, struct si_request *req, struct si_response *resp, const char *merchant);
int import_retry(struct si_ctx *ctx, struct si_request *req, struct si_response *resp, const char *id);

#endif
