/* fuzz_multipart.c: libFuzzer target for the multipart/form-data parser.
 * The first input byte picks the read size, so chunk boundaries are fuzzed too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "multipart.h"

struct src {
    const uint8_t *data;
    size_t len, pos, step;
};

static long fuzz_read(void *p, char *buf, size_t n)
{
    struct src *s = p;
    if (n > s->step)
        n = s->step;
    if (n > s->len - s->pos)
        n = s->len - s->pos;
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    return (long)n;
}

static int on_begin(void *ctx, const struct multipart_part *part) { (void)ctx; return part->name[0] ? 0 : -1; }
static int on_data(void *ctx, const char *p, size_t n) { *(size_t *)ctx += n; (void)p; return 0; }
static int on_end(void *ctx) { (void)ctx; return 0; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct src s = { data + 1, size - 1, 0, (size_t)data[0] % 97 + 1 };
    size_t total = 0;
    struct multipart_handler h = { on_begin, on_data, on_end, &total };
    struct si_error err;
    multipart_parse("b0undary", fuzz_read, &s, &h, &err);
    return 0;
}
