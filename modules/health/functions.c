/* functions.c: the state of every process of the stack, for /health.
 *
 * smartimport-supervise publishes it in a JSON file (its path in
 * SMARTIMPORT_SUPERVISE_STATE, set by scripts/up); this reads it and keeps
 * what a health check needs: each process's state, restart count and how it
 * last ended.  No supervisor (a responder run by hand, the unit tests): no
 * "functions" field at all.
 *
 * The file changes only when a process changes state (the supervisor
 * renames a new one into place), while /health may be asked thousands of
 * times a second: what was read is kept, shared by the worker threads under
 * a lock, and read again only when the file's identity (device, inode, size,
 * modification time to the nanosecond) differs from the one read, so a
 * request costs one stat(2) instead of an open, a read and a parse. */
#include "health.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* What the last read of the file gave, and which file it was. */
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char *path;              /* the state path it was read from; NULL = nothing cached */
    bool exists;             /* the file was there (else st is unused) */
    struct stat st;
    json_t *functions;       /* what health_functions answered */
    bool all_up;
    char first_down[64];
} cache;

/* Reads the file: the "functions" object, or NULL when out of memory. */
static json_t *read_state(const char *state_path, bool *all_up, char *first_down, size_t n)
{
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
            if (*all_up)
                snprintf(first_down, n, "%s", name);
            *all_up = false;
        }
        json_object_set_new(out, name, o);
    }
    json_decref(root);
    return out;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

json_t *health_functions(const char *state_path, bool *all_up, char *first_down, size_t n)
{
    *all_up = true;
    if (first_down != NULL && n > 0)
        first_down[0] = '\0';
    if (state_path == NULL || state_path[0] == '\0')
        return NULL;
    struct stat st;
    bool exists = stat(state_path, &st) == 0;
    json_t *out = NULL;
    pthread_mutex_lock(&cache_mu);
    bool hit = cache.path != NULL && cache.functions != NULL && strcmp(cache.path, state_path) == 0 &&
               cache.exists == exists && (!exists || same_file(&cache.st, &st));
    if (!hit) {
        bool up = true;
        char down[sizeof cache.first_down] = "";
        json_t *fresh = read_state(state_path, &up, down, sizeof down);
        if (fresh != NULL) {
            char *path = cache.path != NULL && strcmp(cache.path, state_path) == 0 ? cache.path : strdup(state_path);
            if (path != NULL) {
                if (path != cache.path)
                    free(cache.path);
                json_decref(cache.functions);
                cache.path = path;
                cache.exists = exists;
                if (exists)
                    cache.st = st;
                cache.functions = fresh;
                cache.all_up = up;
                memcpy(cache.first_down, down, sizeof down);
                hit = true;
            } else {
                /* Cannot remember it: answer this once from what was read. */
                *all_up = up;
                if (first_down != NULL && n > 0)
                    snprintf(first_down, n, "%s", down);
                pthread_mutex_unlock(&cache_mu);
                return fresh;
            }
        }
    }
    if (hit) {
        out = json_deep_copy(cache.functions);   /* the caller owns and may change its copy */
        *all_up = cache.all_up;
        if (first_down != NULL && n > 0)
            snprintf(first_down, n, "%s", cache.first_down);
    }
    pthread_mutex_unlock(&cache_mu);
    return out;
}
