/* main_ingest_statement.c: the ingest-statement responder. */
#include "ingest_statement.h"
#include "ingest_config.h"
#include "si_log.h"
#include "si_server.h"

extern char **environ;

static const struct si_function ingest_function = {
    .name = "ingest-statement",
    .methods = "POST",
    .needs_db = true,
    .needs_auth = true,
    .handle = ingest_handle,
};

int main(int argc, char **argv)
{
    struct si_error err;
    if (ingest_config_load(environ, &err) != 0) {
        si_log_setup(ingest_function.name);
        si_logf(SI_LOG_ERROR, "configuration: %s", err.message);
        return 2;
    }
    return si_server_main(&ingest_function, argc, argv);
}
