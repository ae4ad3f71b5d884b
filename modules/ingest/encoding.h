/* encoding.h: any statement text -> UTF-8 for the parsers.
 *
 * Banks export UTF-8 with or without a BOM, UTF-16 (with a BOM, sometimes
 * without), and Windows-1252/Latin-1.  The parsers only ever see UTF-8
 * without a BOM. */
#ifndef ENCODING_H
#define ENCODING_H

#include <stdio.h>

#include "si_error.h"

/* Lines of an otherwise UTF-8 file where a byte sequence was not UTF-8 and
 * became U+FFFD: the first ENCODING_MAX_REPAIRS lines and how many in all. */
#define ENCODING_MAX_REPAIRS 10
struct encoding_repairs {
    long lines[ENCODING_MAX_REPAIRS];
    int n;
    long total;
};

/* Reads in (rewound) and sets *out to a FILE of UTF-8 text: in itself when
 * it already is plain UTF-8, else a new temporary file (the caller fcloses
 * *out when it differs from in).  *out_name names the source encoding.
 * Binary content (NUL bytes in 8-bit text) is a 400 "not_a_statement".
 *
 * UTF-16 without a BOM is recognised by its pattern of zero bytes and line
 * breaks ("\n\0" at even offsets for little endian, "\0\n" for big endian),
 * whatever the high bytes of the letters are (Greek, Cyrillic, Polish...).
 * A file that is UTF-8 but for a few invalid sequences (no more of them than
 * valid multi-byte characters) stays UTF-8 ("utf-8-repaired"): each bad
 * sequence becomes U+FFFD and its line is recorded in *repairs (when not
 * NULL); otherwise text that is not UTF-8 is read as Windows-1252. */
int encoding_to_utf8_repairs(const char *dir, FILE *in, FILE **out, const char **out_name,
                             struct encoding_repairs *repairs, struct si_error *err);
/* The same without the list of repaired lines. */
int encoding_to_utf8(const char *dir, FILE *in, FILE **out, const char **out_name, struct si_error *err);

#endif
