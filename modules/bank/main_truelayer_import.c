/* main_truelayer_import.c: the bank import jobs responder (plan, start, status, history). */
#include "truelayer_import.h"
#include "si_server.h"

static const struct si_function truelayer_import_function = {
    .name = "truelayer-import", .methods = "GET,POST", .needs_db = true, .needs_auth = true,
    .handle = truelayer_import_handle,
    .init = truelayer_import_init,
    .cleanup = truelayer_import_cleanup,
};

int main(int argc, char **argv)
{
    return si_server_main(&truelayer_import_function, argc, argv);
}
