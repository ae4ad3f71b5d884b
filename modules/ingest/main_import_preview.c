/* main_import_preview.c: the import-preview responder (any page of an import's staged rows
 * with their verdicts; import_preview.c). */
#include "import_preview.h"
#include "si_server.h"

static const struct si_function import_preview_function = {
    .name = "import-preview", .methods = "GET,PATCH", .needs_db = true, .needs_auth = true,
    .handle = import_preview_handle,
};

int main(int argc, char **argv)
{
    return si_server_main(&import_preview_function, argc, argv);
}
