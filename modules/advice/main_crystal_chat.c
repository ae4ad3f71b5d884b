/* main_crystal_chat.c: the crystal-chat responder (Chat with Crystal). */
#include "advice.h"
#include "si_server.h"

static const struct si_function chat_function = {
    .name = "crystal-chat", .methods = "GET,POST", .needs_db = true, .needs_auth = true, .handle = chat_handle,
    .init = advice_init,   /* the model's settings and curl_global_init, before any worker thread */
};

int main(int argc, char **argv)
{
    return si_server_main(&chat_function, argc, argv);
}
