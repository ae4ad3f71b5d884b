/* main_crystal_analyze_import.c: the crystal-analyze-import responder. */
#include "advice.h"
#include "si_server.h"

static const struct si_function crystal_function = {
    .name = "crystal-analyze-import", .methods = "POST", .needs_db = true, .needs_auth = true, .handle = crystal_handle,
    .init = advice_init,   /* the model's settings and curl_global_init, before any worker thread */
};

int main(int argc, char **argv)
{
    return si_server_main(&crystal_function, argc, argv);
}
