/* testutil.h: helpers shared by the unit tests: requests built from
 * envp-style arrays and a body reader over memory. */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <string.h>

#include "si_request.h"

struct mem_body {
    const char *data;
    size_t len;
    size_t pos;
    size_t step;   /* max bytes per read; 0 = unlimited */
};

static inline long mem_body_read(void *src, char *buf, size_t n)
{
    struct mem_body *b = src;
    size_t left = b->len - b->pos;
    if (b->step && n > b->step)
        n = b->step;
    if (n > left)
        n = left;
    memcpy(buf, b->data + b->pos, n);
    b->pos += n;
    return (long)n;
}

#endif
