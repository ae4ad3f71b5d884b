/* si_arena.h: per-request memory.
 *
 * A worker owns one arena; everything a request parses (path, query
 * parameters, headers) is carved from it and dies together when the worker
 * resets the arena after the response is written, so handlers have no free
 * paths for it.  Chunks are kept across resets, so a steady worker stops
 * calling malloc.  The arena has a hard ceiling (SI_ARENA_MAX). */
#ifndef SI_ARENA_H
#define SI_ARENA_H

#include <stddef.h>

struct si_arena_chunk;

struct si_arena {
    struct si_arena_chunk *head;   /* chunk being filled */
    struct si_arena_chunk *spare;  /* chunks kept from earlier resets */
    size_t used_total;             /* bytes handed out since the last reset */
    size_t max_total;
};

void si_arena_init(struct si_arena *a, size_t max_total);
/* Returns NULL when the ceiling is reached or malloc fails. */
void *si_arena_alloc(struct si_arena *a, size_t n);
char *si_arena_strndup(struct si_arena *a, const char *s, size_t n);
char *si_arena_strdup(struct si_arena *a, const char *s);
void si_arena_reset(struct si_arena *a);
void si_arena_cleanup(struct si_arena *a);  /* safe to call twice */

#endif
