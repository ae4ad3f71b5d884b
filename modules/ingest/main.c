/* main.c: the ingest-statement responder. */
#include "handler.h"
#include "si_server.h"

static const struct si_function ingest_function = {
    .name = "ingest-statement",
    .methods = "POST",
    .needs_db = true,
    .needs_auth = true,
    .handle = ingest_handle,
};

int main(int argc, char **argv)
{
    return si_server_main(&ingest_function, argc, argv);
}
