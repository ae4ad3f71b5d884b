/* functions.c: the state of every process of the stack, for /health.
 *
 * smartimport-supervise publishes it in a JSON file (its path in
 * SMARTIMPORT_SUPERVISE_STATE, set by scripts/up); this reads it and keeps
 * what a health check needs: each process's state, restart count and how it
 * last ended.  No supervisor (a responder run by hand, the unit tests): no
 * "functions" field at all. */
#include "health.h"

#include <stdlib.h>
#include <string.h>

json_t *health_functions(const char *state_path, bool *all_up, char *first_down, size_t n)
{
    *all_up = true;
    if (first_down != NULL && n > 0)
        first_down[0] = '\0';
    if (state_path == NULL || state_path[0] == '\0')
        return NULL;
    json_error_t jerr;
    json_t *root = json_load_file(state_path, 0, &jerr);
    json_t *procs = root ? json_object_get(root, "processes") : NULL;
    json_t *out = json_object();
    if (out == NULL) {
        json_decref(root);
        return NULL;
    }
    if (!json_is_object(procs)) {
        /* The supervisor is not running (or the file is being replaced: it is
         * renamed into place, so a reader sees the old or the new one). */
        *all_up = false;
        if (first_down != NULL)
            snprintf(first_down, n, "supervisor");
        json_object_set_new(out, "supervisor", json_pack("{s:s}", "state", "unknown"));
        json_decref(root);
        return out;
    }
    const char *name;
    json_t *p;
    json_object_foreach(procs, name, p) {
        const char *state = json_string_value(json_object_get(p, "state"));
        json_t *o = json_pack("{s:s, s:I}", "state", state ? state : "unknown", "restarts",
                              (json_int_t)json_integer_value(json_object_get(p, "restarts")));
        if (o == NULL)
            continue;
        const char *last = json_string_value(json_object_get(p, "last_exit"));
        if (last != NULL) {
            json_object_set_new(o, "lastExit", json_string(last));
            json_object_set(o, "lastExitAt", json_object_get(p, "last_exit_at"));
        }
        if (state == NULL || strcmp(state, "up") != 0) {
            if (*all_up && first_down != NULL)
                snprintf(first_down, n, "%s", name);
            *all_up = false;
        }
        json_object_set_new(out, name, o);
    }
    json_decref(root);
    return out;
}
