/* main_prime_handoff.c: the prime-handoff responder. */
#include "advice.h"
#include "si_server.h"

extern char **environ;

static const struct si_function prime_function = {
    .name = "prime-handoff", .methods = "POST", .needs_db = true, .needs_auth = true, .handle = prime_handle,
};

int main(int argc, char **argv)
{
    /* The model's settings and curl_global_init, before any worker thread. */
    int rc = advice_startup(prime_function.name, environ);
    if (rc != 0)
        return rc;
    rc = si_server_main(&prime_function, argc, argv);
    advice_shutdown();
    return rc;
}
