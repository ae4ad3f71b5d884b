/* main_transactions.c: the transactions responder (the ledger, a page at a time; a row's category). */
#include "ledger.h"
#include "si_server.h"

static const struct si_function transactions_function = {
    .name = "transactions", .methods = "GET,PATCH", .needs_db = true, .needs_auth = true,
    .handle = transactions_handle,
};

int main(int argc, char **argv)
{
    return si_server_main(&transactions_function, argc, argv);
}
