/* main_bulk_import.c: the bulk purchase import responder (upload, status, list, retry). */
#include "bulk.h"
#include "bulk_import.h"
#include "ingest_config.h"
#include "si_server.h"

static const struct si_function bulk_import_function = {
    .name = "bulk-import", .methods = "GET,POST", .needs_db = true, .needs_auth = true,
    .max_body_default = BULK_MAX_BODY,   /* nginx/routes: body=101m */
    .handle = bulk_import_handle,
    .init = ingest_init,          /* the spool directory and per-user upload slots of modules/ingest */
    .cleanup = ingest_cleanup,
};

int main(int argc, char **argv)
{
    return si_server_main(&bulk_import_function, argc, argv);
}
