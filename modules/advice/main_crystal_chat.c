/* main_crystal_chat.c: the crystal-chat responder (Chat with Crystal). */
#include "advice.h"
#include "si_server.h"

extern char **environ;

static const struct si_function chat_function = {
    .name = "crystal-chat", .methods = "GET,POST", .needs_db = true, .needs_auth = true, .handle = chat_handle,
};

int main(int argc, char **argv)
{
    /* The model's settings and curl_global_init, before any worker thread. */
    int rc = advice_startup(chat_function.name, environ);
    if (rc != 0)
        return rc;
    rc = si_server_main(&chat_function, argc, argv);
    advice_shutdown();
    return rc;
}
