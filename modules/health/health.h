/* health.h: the health function's handler, exposed for tests. */
#ifndef HEALTH_HANDLER_H
#define HEALTH_HANDLER_H

#include "si_function.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

int health_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);

/* functions.c: {"<process>":{"state","restarts","lastExit","lastExitAt"}} from the
 * supervisor's state file, or NULL when state_path is NULL/empty.  *all_up
 * is false when any process is not up (or the file cannot be read); the
 * first such name goes to first_down.  The file is parsed again only when it
 * changed (its inode, size or modification time); the caller owns the copy it gets. */
json_t *health_functions(const char *state_path, bool *all_up, char *first_down, size_t n);

#endif
