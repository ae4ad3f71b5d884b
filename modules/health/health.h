/* health.h: the health function's handler, exposed for tests. */
#ifndef HEALTH_HANDLER_H
#define HEALTH_HANDLER_H

#include "si_function.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* The health function's settings, read once at start (health_init, its
 * init hook) and reached by the handler as ctx->fn_config. */
struct health_config {
    const char *state_path;   /* SMARTIMPORT_SUPERVISE_STATE; NULL: no supervisor to report */
};

int health_init(const struct si_config *cfg, void **fn_config, struct si_error *err);
void health_cleanup(void *fn_config);

int health_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);

/* functions.c: {"<process>":{"state","restarts","lastExit","lastExitAt"}} from the
 * supervisor's state file, or NULL when state_path is NULL/empty.  *all_up
 * is false when any process is not up (or the file cannot be read); the
 * first such name goes to first_down.  The file is parsed again only when it
 * changed (its inode, size or modification time); the caller owns the copy it gets. */
json_t *health_functions(const char *state_path, bool *all_up, char *first_down, size_t n);

#endif
