/* fuzz_csv.c: libFuzzer target for the CSV engine.
 *
 * The input is the CSV file, read through fmemopen.  When it starts with a
 * line beginning with '{', that line is taken as the override (the user's
 * mapping, JSON) and the rest as the file, so the fuzzer also exercises
 * validation of the mapping and parsing under a forced mapping.  The cheap
 * csv_layout_fingerprint runs first on the same FILE.  Build: see
 * fuzz_csv.sources (the .c files it links). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

struct counts {
    long rows, warnings;
};

static int count_txn(void *ctx, const struct stmt_txn *t)
{
    struct counts *c = ctx;
    /* touch everything the parser hands out */
    if (strlen(t->date) != 10 || t->description == NULL || strlen(t->currency) > 3)
        abort();
    if (t->bank_id != NULL && strlen(t->bank_id) == (size_t)-1)
        abort();
    c->rows++;
    return 0;
}

static void count_warning(void *ctx, long line, const char *message)
{
    struct counts *c = ctx;
    if (message == NULL || line < 0)
        abort();
    c->warnings++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *override = NULL;
    if (size > 0 && data[0] == '{') {
        const uint8_t *nl = memchr(data, '\n', size);
        size_t len = nl != NULL ? (size_t)(nl - data) : size;
        override = json_loadb((const char *)data, len, 0, NULL);
        data += nl != NULL ? len + 1 : len;
        size -= nl != NULL ? len + 1 : len;
    }
    /* fmemopen refuses an empty buffer on some libcs: give it one byte it cannot read */
    static const char empty[1] = { 0 };
    FILE *f = fmemopen(size > 0 ? (void *)data : (void *)empty, size > 0 ? size : 1, "r");
    if (f == NULL) {
        json_decref(override);
        return 0;
    }
    if (size == 0)
        (void)fgetc(f);   /* at the end: an empty file */
    char fp[65];
    struct stmt_error fperr;
    if (csv_layout_fingerprint(f, fp, &fperr) == 0 && strlen(fp) != 64)
        abort();
    struct counts c = { 0, 0 };
    struct stmt_sink sink = { count_txn, count_warning, &c };
    struct stmt_error err;
    json_t *columns = NULL;
    int rc = csv_parse(f, override, (size & 1) ? "EUR" : "", &columns, &sink, &err);
    if (rc != 0 && (err.message[0] == '\0' || strlen(err.message) >= sizeof err.message))
        abort();
    if (rc == 0 && columns == NULL)
        abort();
    json_decref(columns);
    json_decref(override);
    fclose(f);
    return 0;
}
