/* main_approve_import.c: the approve-import responder. */
#include "advice.h"
#include "si_server.h"

extern char **environ;

static const struct si_function approve_function = {
    .name = "approve-import", .methods = "POST", .needs_db = true, .needs_auth = true, .handle = approve_handle,
};

int main(int argc, char **argv)
{
    /* The model's settings and curl_global_init, before any worker thread. */
    int rc = advice_startup(approve_function.name, environ);
    if (rc != 0)
        return rc;
    rc = si_server_main(&approve_function, argc, argv);
    advice_shutdown();
    return rc;
}
