/* si_money.h: currencies and money as text, for every module.
 *
 * Money is int64 minor units everywhere; how many of them make a unit is the
 * currency's ISO 4217 exponent (2 for EUR and USD, 0 for JPY, 3 for KWD).
 * The parsers (libstmt) read amounts with it and the advice writes them with
 * it, so both take it from here.  Integer arithmetic only. */
#ifndef SI_MONEY_H
#define SI_MONEY_H

#include <stdbool.h>
#include <stddef.h>

/* Minor-unit digits of an ISO 4217 code ("JPY" -> 0, "KWD" -> 3, else 2;
 * NULL or an unknown code -> 2). */
int si_currency_exponent(const char *code);

/* True when code is three upper-case ASCII letters. */
bool si_currency_code_valid(const char *code);

/* v's digits grouped in threes with commas: "1,234,567".  Cut to fit n. */
void si_format_thousands(unsigned long long v, char *out, size_t n);

/* minor units as display text: "$1,234.56", "€1,234.56", "£0.05", "¥1,235",
 * "1,234.56 CHF", "-$3.50" ("XXX" when currency is NULL or empty).  Every
 * int64, LLONG_MIN included. */
void si_money_format(long long minor, const char *currency, char *out, size_t n);

#endif
