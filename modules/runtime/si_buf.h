/* si_buf.h: a growable byte buffer created with a maximum size.
 *
 * Appends past the maximum fail instead of growing, so no input can make a
 * buffer grow without bound.  The content is always NUL-terminated. */
#ifndef SI_BUF_H
#define SI_BUF_H

#include <stddef.h>

struct si_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};

void si_buf_init(struct si_buf *b, size_t max);
int si_buf_append(struct si_buf *b, const void *p, size_t n);   /* 0 or -1 */
int si_buf_appends(struct si_buf *b, const char *s);
int si_buf_printf(struct si_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void si_buf_reset(struct si_buf *b);     /* keeps the memory */
void si_buf_cleanup(struct si_buf *b);   /* safe to call twice */

#endif
