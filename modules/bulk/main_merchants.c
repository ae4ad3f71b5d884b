/* main_merchants.c: the merchants responder (merchants and their reference data). */
#include "merchants.h"
#include "si_server.h"

static const struct si_function merchants_function = {
    .name = "merchants", .methods = "GET,POST,PUT", .needs_db = true, .needs_auth = true,
    .handle = merchants_handle,
};

int main(int argc, char **argv)
{
    return si_server_main(&merchants_function, argc, argv);
}
