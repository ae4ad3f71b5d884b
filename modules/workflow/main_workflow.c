/* main_workflow.c: the workflow responder (POST phase/:n, GET jobs/:id, GET stats). */
#include "workflow.h"
#include "si_server.h"

static const struct si_function workflow_function = {
    .name = "workflow", .methods = "GET,POST", .needs_db = true, .needs_auth = true,
    .prepare_statements = true,   /* short statements, thousands a second: parse once */
    .handle = workflow_handle,
    .init = workflow_init,
    .cleanup = workflow_cleanup,
};

int main(int argc, char **argv)
{
    return si_server_main(&workflow_function, argc, argv);
}
