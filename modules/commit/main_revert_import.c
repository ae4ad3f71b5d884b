/* main_revert_import.c: the revert-import responder. */
#include "commit.h"
#include "si_server.h"

static const struct si_function revert_function = {
    .name = "revert-import", .methods = "POST", .needs_db = true, .needs_auth = true, .handle = revert_handle,
};

int main(int argc, char **argv)
{
    return si_server_main(&revert_function, argc, argv);
}
