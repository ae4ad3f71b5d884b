/* main_metrics.c: the metrics responder (GET /metrics; metrics.h). */
#include "metrics.h"
#include "si_server.h"

static const struct si_function metrics_function = {
    .name = "metrics",
    .methods = "GET,HEAD",
    .needs_db = true,
    .needs_auth = false,
    .handle = metrics_handle,
    .init = metrics_init,
    .cleanup = metrics_cleanup,
};

int main(int argc, char **argv)
{
    return si_server_main(&metrics_function, argc, argv);
}
