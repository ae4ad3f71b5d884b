/* main_commit_import.c: the commit-import responder. */
#include "commit.h"
#include "si_server.h"

static const struct si_function commit_function = {
    .name = "commit-import", .methods = "POST", .needs_db = true, .needs_auth = true, .handle = commit_handle,
};

int main(int argc, char **argv)
{
    return si_server_main(&commit_function, argc, argv);
}
