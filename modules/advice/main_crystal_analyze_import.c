/* main_crystal_analyze_import.c: the crystal-analyze-import responder. */
#include "advice.h"
#include "si_server.h"

extern char **environ;

static const struct si_function crystal_function = {
    .name = "crystal-analyze-import", .methods = "POST", .needs_db = true, .needs_auth = true, .handle = crystal_handle,
};

int main(int argc, char **argv)
{
    /* The model's settings and curl_global_init, before any worker thread. */
    int rc = advice_startup(crystal_function.name, environ);
    if (rc != 0)
        return rc;
    rc = si_server_main(&crystal_function, argc, argv);
    advice_shutdown();
    return rc;
}
