/* si_function.c: a function's start-up and exit hooks (see si_function.h). */
#include "si_function.h"

int si_function_init(const struct si_function *fn, const struct si_config *cfg, void **fn_config,
                     struct si_error *err)
{
    *fn_config = NULL;
    if (fn->init == NULL)
        return 0;
    si_error_clear(err);
    if (fn->init(cfg, fn_config, err) == 0)
        return 0;
    if (err->message[0] == '\0')
        si_error_set(err, 500, "bad_config", "%s: start-up failed", fn->name);
    if (*fn_config != NULL && fn->cleanup != NULL)
        fn->cleanup(*fn_config);
    *fn_config = NULL;
    return -1;
}

void si_function_cleanup(const struct si_function *fn, void *fn_config)
{
    if (fn->cleanup != NULL)
        fn->cleanup(fn_config);
}
