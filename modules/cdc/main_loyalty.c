/* main_loyalty.c: the loyalty responder (GET /api/cdc/stats, a customer's loyalty). */
#include "loyalty_api.h"
#include "si_server.h"

static const struct si_function loyalty_function = {
    .name = "loyalty", .methods = "GET,HEAD", .needs_db = true, .needs_auth = true,
    .handle = loyalty_handle,
};

int main(int argc, char **argv)
{
    return si_server_main(&loyalty_function, argc, argv);
}
