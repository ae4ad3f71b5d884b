/* si_server.h: the FastCGI accept loop shared by every responder. */
#ifndef SI_SERVER_H
#define SI_SERVER_H

#include "si_function.h"

/* Loads the configuration, starts the worker threads and serves fn until
 * SIGTERM/SIGINT; returns the process exit status. */
int si_server_main(const struct si_function *fn, int argc, char **argv);

/* Runs one request through the same steps as the server (method check,
 * handler, error shape), without FastCGI: used by tests and benchmarks. */
void si_server_dispatch(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);

#endif
