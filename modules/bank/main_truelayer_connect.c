/* main_truelayer_connect.c: the bank-connection responder (POST connect, GET connections,
 * GET connections/{id}, POST connections/{id}/refresh). */
#include "truelayer_connect.h"
#include "si_server.h"

static const struct si_function truelayer_connect_function = {
    .name = "truelayer-connect", .methods = "GET,POST", .needs_db = true, .needs_auth = true,
    .handle = truelayer_connect_handle,
    .init = truelayer_connect_init,
    .cleanup = truelayer_connect_cleanup,
};

int main(int argc, char **argv)
{
    return si_server_main(&truelayer_connect_function, argc, argv);
}
