/* main_ingest_statement.c: the ingest-statement responder. */
#include "ingest_statement.h"
#include "ingest_config.h"
#include "si_server.h"

static const struct si_function ingest_function = {
    .name = "ingest-statement",
    .methods = "POST",
    .needs_db = true,
    .needs_auth = true,
    .handle = ingest_handle,
    .init = ingest_init,
    .cleanup = ingest_cleanup,
};

int main(int argc, char **argv)
{
    return si_server_main(&ingest_function, argc, argv);
}
