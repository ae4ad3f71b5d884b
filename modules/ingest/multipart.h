/* multipart.h: a streaming multipart/form-data parser.
 *
 * Pulls the body through a read callback in fixed-size chunks and hands each
 * part's bytes to a handler as they arrive, so an uploaded file is never held
 * in memory whole.  Limits: MULTIPART_MAX_PARTS parts, MULTIPART_MAX_HEADER
 * bytes of headers per part, boundaries of 1..70 characters (RFC 2046). */
#ifndef MULTIPART_H
#define MULTIPART_H

#include <stddef.h>

#include "si_error.h"

#define MULTIPART_MAX_PARTS   32
#define MULTIPART_MAX_HEADER  8192
#define MULTIPART_BUF         65536

struct multipart_part {
    char name[128];          /* form field name */
    char filename[256];      /* "" when the part is not a file */
    char content_type[128];  /* "" when absent */
};

struct multipart_handler {
    int (*begin)(void *ctx, const struct multipart_part *part);   /* 0 or -1 (err set) */
    int (*data)(void *ctx, const char *p, size_t n);               /* 0 or -1 (err set) */
    int (*end)(void *ctx);                                          /* 0 or -1 (err set) */
    void *ctx;
};

/* Extracts the boundary from a Content-Type value; 0, or -1 when missing or invalid. */
int multipart_boundary(const char *content_type, char out[72]);

/* Parses the whole body.  Handler failures propagate (the handler fills err);
 * malformed input is a 400 "bad_multipart" naming what was wrong. */
int multipart_parse(const char *boundary, long (*read)(void *src, char *buf, size_t n), void *src,
                    const struct multipart_handler *h, struct si_error *err);

#endif
