/* si_arena.c: a bump allocator over a list of chunks (see si_arena.h). */
#include "si_arena.h"
#include "si_limits.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct si_arena_chunk {
    struct si_arena_chunk *next;
    size_t size;
    size_t used;
    max_align_t data[];
};

void si_arena_init(struct si_arena *a, size_t max_total)
{
    a->head = NULL;
    a->spare = NULL;
    a->used_total = 0;
    a->max_total = max_total;
}

static struct si_arena_chunk *chunk_new(struct si_arena *a, size_t need)
{
    /* Reuse a spare chunk when it is big enough. */
    struct si_arena_chunk **pp = &a->spare;
    while (*pp != NULL) {
        if ((*pp)->size >= need) {
            struct si_arena_chunk *c = *pp;
            *pp = c->next;
            c->used = 0;
            return c;
        }
        pp = &(*pp)->next;
    }
    size_t size = need > SI_ARENA_CHUNK ? need : SI_ARENA_CHUNK;
    struct si_arena_chunk *c = malloc(sizeof *c + size);
    if (c == NULL)
        return NULL;
    c->size = size;
    c->used = 0;
    c->next = NULL;
    return c;
}

void *si_arena_alloc(struct si_arena *a, size_t n)
{
    const size_t align = sizeof(max_align_t);
    if (n == 0)
        n = 1;
    if (n > a->max_total || a->used_total > a->max_total - n)
        return NULL;
    size_t rounded = (n + align - 1) / align * align;
    struct si_arena_chunk *c = a->head;
    if (c == NULL || c->size - c->used < rounded) {
        c = chunk_new(a, rounded);
        if (c == NULL)
            return NULL;
        c->next = a->head;
        a->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += rounded;
    a->used_total += n;
    return p;
}

char *si_arena_strndup(struct si_arena *a, const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *p = si_arena_alloc(a, n + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *si_arena_strdup(struct si_arena *a, const char *s)
{
    return si_arena_strndup(a, s, strlen(s));
}

void si_arena_reset(struct si_arena *a)
{
    while (a->head != NULL) {
        struct si_arena_chunk *c = a->head;
        a->head = c->next;
        c->next = a->spare;
        a->spare = c;
    }
    a->used_total = 0;
}

void si_arena_cleanup(struct si_arena *a)
{
    si_arena_reset(a);
    while (a->spare != NULL) {
        struct si_arena_chunk *c = a->spare;
        a->spare = c->next;
        free(c);
    }
}
