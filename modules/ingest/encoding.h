/* encoding.h: any statement text -> UTF-8 for the parsers.
 *
 * Banks export UTF-8 with or without a BOM, UTF-16 (with a BOM, sometimes
 * without), and Windows-1252/Latin-1.  The parsers only ever see UTF-8
 * without a BOM. */
#ifndef ENCODING_H
#define ENCODING_H

#include <stdio.h>

#include "si_error.h"

/* Reads in (rewound) and sets *out to a FILE of UTF-8 text: in itself when
 * it already is plain UTF-8, else a new temporary file (the caller fcloses
 * *out when it differs from in).  *out_name names the source encoding.
 * Binary content (NUL bytes in 8-bit text) is a 400 "not_a_statement". */
int encoding_to_utf8(const char *dir, FILE *in, FILE **out, const char **out_name, struct si_error *err);

#endif
