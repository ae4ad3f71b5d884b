/* stmt_util.h: small helpers every statement parser shares: decimal text to
 * integer minor units, description clean-up, dates.  Currency exponents and
 * code checks are the runtime's (si_money.h). */
#ifndef STMT_UTIL_H
#define STMT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "stmt.h"

/* The largest magnitude of one transaction's amount, in minor units: 10^13
 * (100,000,000,000.00 in a currency with cents).  The stage refuses a row
 * beyond it with 422 amount_out_of_range naming the line (stage.c), whatever
 * the format; README "Uploading a statement". */
#define STMT_AMOUNT_MAX        10000000000000LL
/* What stmt_decimal_to_minor gives (with the number's sign) for a magnitude
 * of 10^17 minor units or more: a number, so the row reaches the stage and is
 * refused there with its line rather than skipped as unreadable, and small
 * enough that adding or subtracting a few such values cannot overflow. */
#define STMT_AMOUNT_SATURATED  100000000000000000LL

/* Converts a plain decimal number s[0..n) to minor units with `exponent`
 * fraction digits: optional leading '+'/'-', digits with optional `thousands`
 * separators (0 = none allowed; groups of 3 are checked), optional
 * `decimal` separator and fraction digits.  Fractions longer than the exponent
 * are accepted only when the extra digits are zeros (no rounding of money).
 * Any number of digits is read: magnitudes from STMT_AMOUNT_SATURATED up
 * become +-STMT_AMOUNT_SATURATED.  Returns 0, or -1 for anything else
 * (letters, empty). */
int stmt_decimal_to_minor(const char *s, size_t n, char decimal, char thousands, int exponent,
                          long long *out);

/* Trims, collapses runs of whitespace (incl. tabs/newlines/NBSP) to one space,
 * drops control characters; in place; returns s. */
char *stmt_normalize_text(char *s);

/* Checks the date (years 1900..2199, the calendar, leap years included)
 * and, when out is not NULL, writes "YYYY-MM-DD" into it (>= 11 bytes).
 * Two-digit years: 00-69 -> 20xx, 70-99 -> 19xx.  Returns 0 or -1. */
int stmt_make_date(int year, int month, int day, char *out);

/* Length of s[0..len) without a UTF-8 sequence cut short at its end (for
 * text truncated at a byte limit); len when nothing is cut. */
size_t stmt_utf8_trim_partial(const char *s, size_t len);

/* Appends src[0..n) to the NUL-terminated dst (capacity cap), cut on a UTF-8
 * boundary when it does not fit. */
void stmt_append(char *dst, size_t cap, const char *src, size_t n);

/* A parser's error: err->line and err->message set; returns -1. */
int stmt_fail(struct stmt_error *err, long line, const char *message);

/* A parser's warning, handed to the sink (when it takes warnings). */
void stmt_warn(const struct stmt_sink *sink, long line, const char *message);

/* A line reader over a FILE for the line-oriented formats (QIF, MT940): the
 * caller's buffer, the number of the line in it. */
struct stmt_lines {
    FILE *in;
    long line;
    char *buf;
    size_t cap;         /* bytes of buf, >= 2 */
};

/* Reads the next line into r->buf without its end of line (LF, CR LF; NUL bytes
 * dropped; a longer line is cut on a UTF-8 boundary), then without trailing CRs,
 * and also without trailing blanks (space, tab) when trim_blanks.  1 = a line,
 * 0 = end of file, -1 = read error. */
int stmt_read_line(struct stmt_lines *r, bool trim_blanks);

#endif
