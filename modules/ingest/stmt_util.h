/* stmt_util.h: small helpers every statement parser shares: decimal text to
 * integer minor units, description clean-up, currency exponents, dates. */
#ifndef STMT_UTIL_H
#define STMT_UTIL_H

#include <stdbool.h>
#include <stddef.h>

/* Converts a plain decimal number s[0..n) to minor units with `exponent`
 * fraction digits: optional leading '+'/'-', digits with optional `thousands`
 * separators (0 = none allowed; groups of 3 are checked), optional
 * `decimal` separator and fraction digits.  Fractions longer than the exponent
 * are accepted only when the extra digits are zeros (no rounding of money).
 * Returns 0, or -1 for anything else (letters, empty, overflow). */
int stmt_decimal_to_minor(const char *s, size_t n, char decimal, char thousands, int exponent,
                          long long *out);

/* Trims, collapses runs of whitespace (incl. tabs/newlines/NBSP) to one space,
 * drops control characters; in place; returns s. */
char *stmt_normalize_text(char *s);

/* Minor-unit digits of an ISO 4217 code ("JPY" -> 0, "KWD" -> 3, else 2). */
int stmt_currency_exponent(const char *code);

/* True when code is three upper-case ASCII letters. */
bool stmt_currency_code_valid(const char *code);

/* Checks the date (years 1900..2199, the calendar, leap years included)
 * and, when out is not NULL, writes "YYYY-MM-DD" into it (>= 11 bytes).
 * Two-digit years: 00-69 -> 20xx, 70-99 -> 19xx.  Returns 0 or -1. */
int stmt_make_date(int year, int month, int day, char *out);

/* Length of s[0..len) without a UTF-8 sequence cut short at its end (for
 * text truncated at a byte limit); len when nothing is cut. */
size_t stmt_utf8_trim_partial(const char *s, size_t len);

#endif
