/* main_user_settings.c: the user-settings responder (a user's default currency and locale;
 * user_settings.c). */
#include "user_settings.h"
#include "si_server.h"

static const struct si_function user_settings_function = {
    .name = "user-settings", .methods = "GET,PUT,PATCH", .needs_db = true, .needs_auth = true,
    .handle = user_settings_handle,
};

int main(int argc, char **argv)
{
    return si_server_main(&user_settings_function, argc, argv);
}
