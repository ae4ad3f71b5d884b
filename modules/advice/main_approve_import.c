/* main_approve_import.c: the approve-import responder. */
#include "advice.h"
#include "si_server.h"

static const struct si_function approve_function = {
    .name = "approve-import", .methods = "POST", .needs_db = true, .needs_auth = true, .handle = approve_handle,
    .init = advice_init,   /* the model's settings and curl_global_init, before any worker thread */
};

int main(int argc, char **argv)
{
    return si_server_main(&approve_function, argc, argv);
}
