/* import_preview.h: the import-preview responder's handler (import_preview.c). */
#ifndef IMPORT_PREVIEW_H
#define IMPORT_PREVIEW_H

#include "si_function.h"

int import_preview_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);

#endif
