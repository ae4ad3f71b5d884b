/* si_function.h: what a responder is: a name, a handler and its needs.
 *
 * A responder's main.c fills one struct si_function and calls
 * si_server_main().  The runtime answers what can be answered before the
 * handler runs (405 for a method not in `methods`, 413 for a body over the
 * limit) and gives the handler a context that belongs to its worker thread.
 *
 * A function with settings or state of its own (ingest's spool directory and
 * upload slots) does not keep them in process globals: its init hook reads
 * them once at start, before any worker exists, into an object the runtime
 * hands every handler as ctx->fn_config and gives back to cleanup at exit.
 * A failing init stops the start with its message, like a bad
 * SMARTIMPORT_* variable. */
#ifndef SI_FUNCTION_H
#define SI_FUNCTION_H

#include <stdbool.h>

#include "si_arena.h"
#include "si_buf.h"
#include "si_config.h"
#include "si_db.h"
#include "si_http.h"
#include "si_request.h"
#include "si_response.h"

struct si_function;

/* Everything a handler may use; owned by one worker thread. */
struct si_ctx {
    const struct si_config *config;      /* shared, read-only */
    const struct si_function *function;  /* shared, read-only */
    void *fn_config;                     /* what function->init made (NULL without one); shared
                                          * by every worker: read-only, or guarded by its own lock */
    struct si_db *db;                    /* this worker's connection; NULL if !needs_db */
    struct si_db *read_db;               /* for reads of committed data that tolerate a little
                                          * lag, outside any transaction: the worker's read
                                          * connection (SMARTIMPORT_DATABASE_READ_URL, si_db.h),
                                          * or db itself when that is unset */
    struct si_arena *arena;              /* reset after every request */
    struct si_buf *scratch;              /* e.g. the request body; reset per request */
    struct si_http_client *http;         /* this worker's outbound HTTP client (keeps its connections) */
    int worker;                          /* 0..threads-1, for logs */
};

struct si_function {
    const char *name;        /* "health"; also the log's fn and the socket name */
    const char *methods;     /* allowed methods, comma-separated: "GET,HEAD" */
    bool needs_db;
    bool needs_auth;         /* refuse to start in jwt mode without a secret */
    bool prepare_statements; /* prepare statements with parameters (si_db.h) */
    size_t max_body_default; /* the body limit when SMARTIMPORT_MAX_BODY is unset (0: the
                              * runtime's, SI_MAX_BODY_DEFAULT); its route in nginx/routes
                              * says the same with body=SIZE */
    /* Fills resp; a return of -1 with resp still at 500 and no body becomes a
     * generic internal error.  The handler may read the body through req. */
    int (*handle)(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);
    /* Optional.  Runs once in the main thread after the configuration is
     * loaded and before any worker starts; reads the function's own settings
     * (cfg->envp, with si_env_long & co.) and sets *fn_config.  0, or -1 with
     * err naming what is wrong: the responder logs it and refuses to start. */
    int (*init)(const struct si_config *cfg, void **fn_config, struct si_error *err);
    /* Optional.  Runs once after the last worker ended, with *fn_config. */
    void (*cleanup)(void *fn_config);
};

/* Runs fn->init when there is one (*fn_config stays NULL otherwise): 0, or
 * -1 with err ("<function>: start-up failed" when init left it empty). */
int si_function_init(const struct si_function *fn, const struct si_config *cfg, void **fn_config,
                     struct si_error *err);
/* Runs fn->cleanup when there is one. */
void si_function_cleanup(const struct si_function *fn, void *fn_config);

#endif
