/* si_money.c: currency exponents and money formatting (see si_money.h). */
#include "si_money.h"

#include <stdio.h>
#include <string.h>

int si_currency_exponent(const char *code)
{
    static const char *zero[] = { "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG",
                                  "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF" };
    static const char *three[] = { "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND" };
    if (code == NULL)
        return 2;
    for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++)
        if (strcmp(code, zero[i]) == 0)
            return 0;
    for (size_t i = 0; i < sizeof three / sizeof three[0]; i++)
        if (strcmp(code, three[i]) == 0)
            return 3;
    return 2;
}

bool si_currency_code_valid(const char *code)
{
    return code != NULL && strlen(code) == 3 && code[0] >= 'A' && code[0] <= 'Z' &&
           code[1] >= 'A' && code[1] <= 'Z' && code[2] >= 'A' && code[2] <= 'Z';
}

void si_format_thousands(unsigned long long v, char *out, size_t n)
{
    char rev[40];
    size_t k = 0, d = 0;
    if (n == 0)
        return;
    do {
        if (d > 0 && d % 3 == 0)
            rev[k++] = ',';
        rev[k++] = (char)('0' + v % 10);
        v /= 10;
        d++;
    } while (v > 0 && k + 2 < sizeof rev);
    size_t o = 0;
    while (k > 0 && o + 1 < n)
        out[o++] = rev[--k];
    out[o] = '\0';
}

void si_money_format(long long minor, const char *currency, char *out, size_t n)
{
    static const struct { const char *code, *symbol; } symbols[] = {
        { "USD", "$" }, { "EUR", "\xE2\x82\xAC" }, { "GBP", "\xC2\xA3" }, { "JPY", "\xC2\xA5" },
    };
    const char *code = currency != NULL ? currency : "";
    int exp = si_currency_exponent(strlen(code) == 3 ? code : NULL);
    unsigned long long v = minor < 0 ? 0ULL - (unsigned long long)minor : (unsigned long long)minor;
    unsigned long long div = 1;
    for (int k = 0; k < exp; k++)
        div *= 10;
    char whole[40], number[48];
    si_format_thousands(v / div, whole, sizeof whole);
    if (exp == 0)
        snprintf(number, sizeof number, "%s", whole);
    else
        snprintf(number, sizeof number, "%s.%0*llu", whole, exp, v % div);
    const char *sign = minor < 0 ? "-" : "";
    for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++)
        if (strcmp(code, symbols[i].code) == 0) {
            snprintf(out, n, "%s%s%s", sign, symbols[i].symbol, number);
            return;
        }
    snprintf(out, n, "%s%s %s", sign, number, code[0] ? code : "XXX");
}
