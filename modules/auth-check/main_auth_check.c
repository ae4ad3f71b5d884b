/* main_auth_check.c: the auth-check responder (nginx's internal =/_si_auth, see auth_check.c). */
#include "auth_check.h"
#include "si_server.h"

static const struct si_function auth_check_function = {
    .name = "auth-check",
    .methods = "GET",
    .needs_db = false,
    .needs_auth = true,
    .handle = auth_check_handle,
};

int main(int argc, char **argv)
{
    return si_server_main(&auth_check_function, argc, argv);
}
