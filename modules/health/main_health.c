/* main_health.c: the health responder (GET /health, /.netlify/functions/health). */
#include "health.h"
#include "si_server.h"

static const struct si_function health_function = {
    .name = "health",
    .methods = "GET,HEAD",
    .needs_db = true,
    .needs_auth = false,
    .handle = health_handle,
    .init = health_init,
    .cleanup = health_cleanup,
};

int main(int argc, char **argv)
{
    return si_server_main(&health_function, argc, argv);
}
