/* fuzz_formats.c: libFuzzer target for stmt_detect and the OFX/QFX, QIF,
 * CAMT.053 and MT940 parsers, reading the input through an fmemopen FILE.
 * A first byte 0x01..0x04 picks the parser (OFX, QIF, CAMT.053, MT940) for
 * the rest of the input; any other input goes to the parser stmt_detect
 * names, or, when it names none, to the one its length picks.  So the
 * fixtures in tests/fixtures/formats are good seeds as they are.  The sink checks what every parser promises about a
 * transaction and traps when a promise is broken. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "stmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s)
{
    if (s == NULL)
        return;
    size_t n = strlen(s);
    /* Normalised: no leading/trailing blank, no control characters. */
    if (n > 0 && (s[0] == ' ' || s[n - 1] == ' '))
        __builtin_trap();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20)
            __builtin_trap();
}

static int count_txn(void *ctx, const struct stmt_txn *t)
{
    size_t *count = ctx;
    if (t->description == NULL || strlen(t->date) != 10 || t->date[4] != '-' || t->date[7] != '-')
        __builtin_trap();
    if (t->exponent < 0 || t->exponent > 4 || t->line < 1)
        __builtin_trap();
    if (t->currency[0] != '\0' && strlen(t->currency) != 3)
        __builtin_trap();
    check_text(t->description);
    check_text(t->counterparty);
    check_text(t->bank_id);
    check_text(t->account);
    (*count)++;
    return 0;
}

static void count_warning(void *ctx, long line, const char *message)
{
    (void)ctx;
    if (message == NULL || message[0] == '\0' || line < 0)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned pick = 0;
    const char *text = (const char *)data;
    size_t n = size;
    if (data[0] >= 1 && data[0] <= 4) {
        pick = data[0];
        text++;
        n--;
    }
    enum stmt_format f = stmt_detect(text, n);
    (void)stmt_format_name(f);
    if (pick == 0)
        pick = f == STMT_FORMAT_OFX ? 1 : f == STMT_FORMAT_QIF ? 2 : f == STMT_FORMAT_CAMT053 ? 3
             : f == STMT_FORMAT_MT940 ? 4 : 1 + (unsigned)(size % 4);
    if (n == 0)
        return 0;
    FILE *in = fmemopen((void *)text, n, "r");
    if (in == NULL)
        return 0;
    size_t count = 0;
    struct stmt_sink sink = { count_txn, count_warning, &count };
    struct stmt_error err = { 0, "" };
    int rc;
    switch (pick) {
    case 1:
        rc = stmt_parse_ofx(in, &sink, &err);
        break;
    case 2:
        rc = stmt_parse_qif(in, &sink, &err);
        break;
    case 3:
        rc = stmt_parse_camt053(in, &sink, &err);
        break;
    default:
        rc = stmt_parse_mt940(in, &sink, &err);
        break;
    }
    fclose(in);
    if (rc != 0 && (rc != -1 || err.message[0] == '\0' || err.line < 0))
        __builtin_trap();
    return 0;
}
