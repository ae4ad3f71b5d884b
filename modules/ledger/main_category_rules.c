/* main_category_rules.c: the category-rules responder (the user's own categorisation rules). */
#include "ledger.h"
#include "si_server.h"

static const struct si_function category_rules_function = {
    .name = "category-rules", .methods = "GET,POST,DELETE", .needs_db = true, .needs_auth = true,
    .handle = category_rules_handle,
};

int main(int argc, char **argv)
{
    return si_server_main(&category_rules_function, argc, argv);
}
