/* main_prime_handoff.c: the prime-handoff responder. */
#include "advice.h"
#include "si_server.h"

static const struct si_function prime_function = {
    .name = "prime-handoff", .methods = "POST", .needs_db = true, .needs_auth = true, .handle = prime_handle,
    .init = advice_init,   /* the model's settings and curl_global_init, before any worker thread */
};

int main(int argc, char **argv)
{
    return si_server_main(&prime_function, argc, argv);
}
