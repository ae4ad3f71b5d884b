/* commit.h: commit-import and revert-import, exposed for approve-import and tests. */
#ifndef COMMIT_H
#define COMMIT_H

#include <jansson.h>

#include "si_function.h"

/* Commits the caller's import; *out_body is the response object (caller
 * json_decref's).  0, or -1 with err (404, 409, 503...). */
int commit_run(struct si_db *db, const char *user_id, const char *import_id, json_t **out_body,
               struct si_error *err);

int commit_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);
int revert_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);

#endif
