/* bulk_import.c: the responder smartimport-bulk-import behind nginx's ^~/api/import/ route:
 * the dispatch to one handler per endpoint.
 *
 *   POST /api/import/purchases            upload a purchase CSV (import_upload.c): 202 a batch
 *                                         queued; ?dry_run=true: 200 the validation report
 *   GET  /api/import/status/{batch_id}    the batch, its progress and problems (import_status.c)
 *   GET  /api/import/list/{merchant_id}   the merchant's last 50 batches, newest first
 *   POST /api/import/retry/{batch_id}     run a failed batch again from its staged rows
 *
 * Only the merchant's admins reach a batch; anyone else gets the 404 of an unknown id. */
#include "bulk_import.h"

#include <string.h>

#define PREFIX "/api/import/"

static int wrong_method(struct si_response *resp, const char *method, const char *path)
{
    return si_response_error(resp, 405, "method_not_allowed", "use %s for %s", method, path);
}

int bulk_import_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    bool get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
    if (strncmp(req->path, PREFIX, strlen(PREFIX)) != 0)
        return si_response_error(resp, 404, "not_found", "no such import endpoint");
    const char *tail = req->path + strlen(PREFIX);
    if (strcmp(tail, "purchases") == 0)
        return post ? import_upload(ctx, req, resp) : wrong_method(resp, "POST", PREFIX "purchases");
    if (strncmp(tail, "status/", 7) == 0)
        return get ? import_status(ctx, req, resp, tail + 7) : wrong_method(resp, "GET", PREFIX "status/{batch_id}");
    if (strncmp(tail, "list/", 5) == 0)
        return get ? import_list(ctx, req, resp, tail + 5) : wrong_method(resp, "GET", PREFIX "list/{merchant_id}");
    if (strncmp(tail, "retry/", 6) == 0)
        return post ? import_retry(ctx, req, resp, tail + 6) : wrong_method(resp, "POST", PREFIX "retry/{batch_id}");
    return si_response_error(resp, 404, "not_found", "no such import endpoint");
}
