/* csv_amount.c: amount cells of the CSV engine.
 *
 * A cell is split into its sign (-12.34, +12.34, 12.34-, (12.34), "12.34 DR"),
 * a currency symbol or ISO code before or after (€ £ ¥ ₹ $ US$, "EUR 12,00",
 * "12.00 USD") and the digits with their separators.  The digits are turned
 * into minor units by stmt_decimal_to_minor once the file's decimal and
 * thousands separators are known; csv_amount_classify reports what a cell
 * says about them (1.234,56 proves a decimal comma, 1,234.56 a decimal point,
 * 3.000 proves nothing) so they can be decided over the whole file.  Also
 * the DR/CR-style indicator words.
 *
 * Cells written right to left are read too: bidirectional marks (LRM, RLM,
 * ALM, embeddings and isolates) are dropped, Arabic-Indic and Persian digits
 * become ASCII digits, the Arabic decimal and thousands separators (U+066B,
 * U+066C) become '.' and ',', and the Arabic-script currency signs (ر.س, د.إ,
 * ج.م, د.ك...) and ₪ stand before or after the number like any symbol. */
#include "csv.h"

#include <string.h>

#include "stmt_util.h"

static const char *const common_currencies[] = {
    "AED", "ARS", "AUD", "BGN", "BHD", "BRL", "CAD", "CHF", "CLP", "CNY", "COP", "CZK", "DKK",
    "EGP", "EUR", "GBP", "HKD", "HRK", "HUF", "IDR", "ILS", "INR", "ISK", "JOD", "JPY", "KES",
    "KRW", "KWD", "MAD", "MXN", "MYR", "NGN", "NOK", "NZD", "OMR", "PEN", "PHP", "PKR", "PLN",
    "QAR", "RON", "RSD", "RUB", "SAR", "SEK", "SGD", "THB", "TND", "TRY", "TWD", "UAH", "USD",
    "VND", "ZAR",
};

bool csv_is_common_currency(const char *s, size_t n)
{
    if (n != 3)
        return false;
    for (size_t i = 0; i < sizeof common_currencies / sizeof common_currencies[0]; i++)
        if (memcmp(s, common_currencies[i], 3) == 0)
            return true;
    return false;
}

static const struct {
    const char *sym;
    size_t len;
    const char *code;   /* "" = says nothing (bare $) */
} symbols[] = {
    { "US$", 3, "USD" }, { "A$", 2, "AUD" }, { "C$", 2, "CAD" }, { "NZ$", 3, "NZD" },
    { "R$", 2, "BRL" }, { "\xE2\x82\xAC", 3, "EUR" }, { "\xC2\xA3", 2, "GBP" },
    { "\xC2\xA5", 2, "JPY" }, { "\xE2\x82\xB9", 3, "INR" }, { "$", 1, "" },
    /* written right to left (Arabic letters around a full stop) */
    { "\xD8\xB1.\xD8\xB3", 5, "SAR" },                 /* ر.س */
    { "\xD8\xAF.\xD8\xA5", 5, "AED" },                 /* د.إ */
    { "\xD8\xAC.\xD9\x85", 5, "EGP" },                 /* ج.م */
    { "\xD8\xAF.\xD9\x83", 5, "KWD" },                 /* د.ك */
    { "\xD8\xB1.\xD9\x82", 5, "QAR" },                 /* ر.ق */
    { "\xD8\xB1.\xD8\xB9.", 6, "OMR" },                /* ر.ع. */
    { "\xD8\xB1.\xD8\xB9", 5, "OMR" },                 /* ر.ع */
    { "\xD8\xAF.\xD8\xA8", 5, "BHD" },                 /* د.ب */
    { "\xD8\xAF.\xD8\xA3", 5, "JOD" },                 /* د.أ */
    { "\xD8\xAF.\xD9\x85.", 6, "MAD" },                /* د.م. */
    { "\xD8\xAF.\xD9\x85", 5, "MAD" },                 /* د.م */
    { "\xD8\xAF.\xD8\xAA", 5, "TND" },                 /* د.ت */
    { "\xE2\x82\xAA", 3, "ILS" },                      /* ₪ */
    { "\xEF\xB7\xBC", 3, "" },                         /* ﷼ rial: several currencies */
    { "\xE2\x82\xBA", 3, "TRY" }, { "\xE2\x82\xBD", 3, "RUB" }, { "\xE2\x82\xB4", 3, "UAH" },
    { "\xE2\x82\xA9", 3, "KRW" }, { "z\xC5\x82", 3, "PLN" },
};

/* The currency symbol at the start (at_end false) or at the end of s[0..n): its
 * index in symbols, or -1. */
static int symbol_at(const char *s, size_t n, bool at_end)
{
    for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
        size_t len = symbols[i].len;
        if (n >= len && memcmp(at_end ? s + n - len : s, symbols[i].sym, len) == 0)
            return (int)i;
    }
    return -1;
}

/* Length of a space (ASCII, NBSP, narrow/thin NBSP) at p, or 0. */
static size_t sp_len(const char *p, const char *e)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t n = (size_t)(e - p);
    if (n >= 1 && (u[0] == ' ' || u[0] == '\t'))
        return 1;
    if (n >= 2 && u[0] == 0xC2 && u[1] == 0xA0)
        return 2;
    if (n >= 3 && u[0] == 0xE2 && u[1] == 0x80 && (u[2] == 0xAF || u[2] == 0x89))
        return 3;
    return 0;
}

static size_t sp_len_back(const char *b, const char *e)
{
    const unsigned char *u = (const unsigned char *)e;
    size_t n = (size_t)(e - b);
    if (n >= 1 && (u[-1] == ' ' || u[-1] == '\t'))
        return 1;
    if (n >= 2 && u[-2] == 0xC2 && u[-1] == 0xA0)
        return 2;
    if (n >= 3 && u[-3] == 0xE2 && u[-2] == 0x80 && (u[-1] == 0xAF || u[-1] == 0x89))
        return 3;
    return 0;
}

static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Sets the cell's currency; false when it contradicts one already seen. */
static bool set_code(struct csv_amount *a, const char *code)
{
    if (code[0] == '\0')
        return true;
    if (a->code[0] != '\0')
        return strcmp(a->code, code) == 0;
    memcpy(a->code, code, 4);
    return true;
}

enum { SIGN_NONE, SIGN_MINUS, SIGN_PLUS };

/* Copies s[0..n) to out (at least n + 1 bytes) without bidirectional
 * marks, with Arabic-Indic / Persian digits and the Arabic separators as
 * ASCII; returns the new length. */
static size_t unbidi(const char *s, size_t n, char *out)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (i + 1 < n && u[i] == 0xD9 && u[i + 1] >= 0xA0 && u[i + 1] <= 0xA9) {
            out[o++] = (char)('0' + (u[i + 1] - 0xA0));          /* U+0660..0669 */
            i += 2;
        } else if (i + 1 < n && u[i] == 0xDB && u[i + 1] >= 0xB0 && u[i + 1] <= 0xB9) {
            out[o++] = (char)('0' + (u[i + 1] - 0xB0));          /* U+06F0..06F9 */
            i += 2;
        } else if (i + 1 < n && u[i] == 0xD9 && (u[i + 1] == 0xAB || u[i + 1] == 0xAC)) {
            out[o++] = u[i + 1] == 0xAB ? '.' : ',';             /* U+066B, U+066C */
            i += 2;
        } else if (i + 1 < n && u[i] == 0xD8 && u[i + 1] == 0x9C) {
            i += 2;                                              /* U+061C ALM */
        } else if (i + 2 < n && u[i] == 0xE2 && u[i + 1] == 0x80 &&
                   (u[i + 2] == 0x8E || u[i + 2] == 0x8F || (u[i + 2] >= 0xAA && u[i + 2] <= 0xAE))) {
            i += 3;                                              /* LRM, RLM, U+202A..202E */
        } else if (i + 2 < n && u[i] == 0xE2 && u[i + 1] == 0x81 && u[i + 2] >= 0xA6 && u[i + 2] <= 0xA9) {
            i += 3;                                              /* U+2066..2069 isolates */
        } else {
            out[o++] = s[i++];
        }
    }
    out[o] = '\0';
    return o;
}

int csv_amount_scan(const char *s, size_t n, struct csv_amount *a)
{
    char plain[129];
    memset(a, 0, sizeof *a);
    csv_trim(&s, &n);
    if (n > 128)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] >= 0xD8) {
            n = unbidi(s, n, plain);
            s = plain;
            csv_trim(&s, &n);
            break;
        }
        if ((unsigned char)s[i] == 0xE2 && i + 1 < n && (unsigned char)s[i + 1] <= 0x81) {
            n = unbidi(s, n, plain);
            s = plain;
            csv_trim(&s, &n);
            break;
        }
    }
    if (n == 0 || n > 64)
        return -1;
    const char *p = s, *e = s + n;
    int sign = SIGN_NONE, crdr = 0;
    bool open = false, close = false, sym = false, code = false;
    for (size_t k; p < e;) {
        if ((k = sp_len(p, e)) > 0) {
            p += k;
        } else if (*p == '(' && !open) {
            open = true;
            p++;
        } else if ((*p == '-' || *p == '+') && sign == SIGN_NONE) {
            sign = *p == '-' ? SIGN_MINUS : SIGN_PLUS;
            p++;
        } else if (e - p >= 3 && memcmp(p, "\xE2\x88\x92", 3) == 0 && sign == SIGN_NONE) {
            sign = SIGN_MINUS;   /* U+2212 minus sign */
            p += 3;
        } else if (is_digit(*p) || *p == '.' || *p == ',') {
            break;   /* the number starts */
        } else if (!code && e - p >= 3 && is_upper(p[0]) && csv_is_common_currency(p, 3) &&
                   (e - p == 3 || !is_upper(p[3]))) {
            if (!set_code(a, (char[4]){ p[0], p[1], p[2], 0 }))
                return -1;
            code = true;
            p += 3;
        } else {
            int i = sym ? -1 : symbol_at(p, (size_t)(e - p), false);
            if (i < 0)
                break;
            if (!set_code(a, symbols[i].code))
                return -1;
            sym = true;
            p += symbols[i].len;
        }
    }
    for (size_t k; e > p;) {
        if ((k = sp_len_back(p, e)) > 0) {
            e -= k;
        } else if (e[-1] == ')' && open && !close) {
            close = true;
            e--;
        } else if ((e[-1] == '-' || e[-1] == '+') && sign == SIGN_NONE) {
            sign = e[-1] == '-' ? SIGN_MINUS : SIGN_PLUS;
            e--;
        } else if (is_digit(e[-1])) {
            break;   /* the number ends */
        } else if (!code && e - p >= 4 && is_upper(e[-1]) && csv_is_common_currency(e - 3, 3) &&
                   !is_upper(e[-4])) {
            if (!set_code(a, (char[4]){ e[-3], e[-2], e[-1], 0 }))
                return -1;
            code = true;
            e -= 3;
        } else if (crdr == 0 && e - p >= 3 && !is_upper(e[-3]) &&
                   ((e[-2] == 'C' || e[-2] == 'c' || e[-2] == 'D' || e[-2] == 'd') &&
                    (e[-1] == 'R' || e[-1] == 'r'))) {
            crdr = (e[-2] == 'D' || e[-2] == 'd') ? -1 : 1;
            e -= 2;
        } else {
            int i = sym ? -1 : symbol_at(p, (size_t)(e - p), true);
            if (i < 0)
                break;
            if (!set_code(a, symbols[i].code))
                return -1;
            sym = true;
            e -= symbols[i].len;
        }
    }
    if (open != close || (open && sign != SIGN_NONE) || (crdr != 0 && sign != SIGN_NONE))
        return -1;
    /* the number itself: digits, '.', ',', apostrophes and spaces between digits */
    bool digit = false;
    if (p == e || !(is_digit(*p) || *p == '.' || *p == ','))
        return -1;
    while (p < e) {
        char c = *p;
        size_t k;
        if (a->n + 1 >= sizeof a->core)
            return -1;
        if (is_digit(c) || c == '.' || c == ',' || c == '\'') {
            digit |= is_digit(c);
            a->core[a->n++] = c;
            p++;
        } else if ((k = sp_len(p, e)) > 0) {
            a->core[a->n++] = ' ';
            p += k;
        } else if (e - p >= 3 && memcmp(p, "\xE2\x80\x99", 3) == 0) {   /* ’ */
            a->core[a->n++] = '\'';
            p += 3;
        } else {
            return -1;
        }
    }
    if (!digit || a->core[a->n - 1] == ' ' || a->core[a->n - 1] == '\'')
        return -1;
    a->core[a->n] = '\0';
    a->negative = sign == SIGN_MINUS || open || crdr < 0;
    return 0;
}

int csv_amount_value(const struct csv_amount *a, char decimal, char thousands, int exponent,
                     long long *out)
{
    long long v;
    if (a->n == 0 || decimal == thousands)
        return -1;
    if (stmt_decimal_to_minor(a->core, a->n, decimal, thousands, exponent, &v) != 0)
        return -1;
    *out = a->negative ? -v : v;
    return 0;
}

/* The single kind of separator other than `decimal` in the core (the
 * thousands separator it would use): 0 when there is none, -1 when there are
 * several kinds. */
static int other_sep(const struct csv_amount *a, char decimal)
{
    char found = 0;
    for (size_t i = 0; i < a->n; i++) {
        char c = a->core[i];
        if (is_digit(c) || c == decimal)
            continue;
        if (found != 0 && found != c)
            return -1;
        found = c;
    }
    return found;
}

void csv_amount_classify(const struct csv_amount *a, struct csv_number_info *ni)
{
    long long v;
    memset(ni, 0, sizeof *ni);
    int td = other_sep(a, '.'), tc = other_sep(a, ',');
    if (td >= 0 && stmt_decimal_to_minor(a->core, a->n, '.', (char)td, 4, &v) == 0) {
        ni->ok_dot = true;
        ni->th_dot = (char)td;
    }
    if (tc >= 0 && stmt_decimal_to_minor(a->core, a->n, ',', (char)tc, 4, &v) == 0) {
        ni->ok_comma = true;
        ni->th_comma = (char)tc;
    }
    size_t ndot = 0, ncomma = 0, last = 0, digits = 0;
    for (size_t i = 0; i < a->n; i++) {
        if (a->core[i] == '.' || a->core[i] == ',') {
            ndot += a->core[i] == '.';
            ncomma += a->core[i] == ',';
            last = i;
        }
        digits += is_digit(a->core[i]);
    }
    size_t after = a->n - last - 1;   /* characters after the last '.' or ',' */
    if (ndot > 0 && ncomma > 0) {
        if (a->core[last] == ',' && ni->ok_comma)
            ni->evidence = CSV_EVIDENCE_COMMA;
        else if (a->core[last] == '.' && ni->ok_dot)
            ni->evidence = CSV_EVIDENCE_DOT;
    } else if (ncomma == 1 || ndot == 1) {
        bool comma = ncomma == 1;
        if (after != 3 && (comma ? ni->ok_comma : ni->ok_dot))
            ni->evidence = comma ? CSV_EVIDENCE_COMMA : CSV_EVIDENCE_DOT;
        else if (after == 3 && (comma ? ni->ok_dot : ni->ok_comma))
            /* 1,234 or 3.000: a thousands group reads as whole money, the
             * other reading would need a third decimal */
            ni->hint = comma ? CSV_EVIDENCE_DOT : CSV_EVIDENCE_COMMA;
    } else if (ncomma > 1 && ni->ok_dot) {
        ni->evidence = CSV_EVIDENCE_DOT;    /* 1,234,567: commas group thousands */
    } else if (ndot > 1 && ni->ok_comma) {
        ni->evidence = CSV_EVIDENCE_COMMA;
    }
    ni->frac = (ni->evidence == CSV_EVIDENCE_DOT && ndot > 0) ||
               (ni->evidence == CSV_EVIDENCE_COMMA && ncomma > 0);
    ni->id_like = digits == a->n && digits >= 6 && !a->negative && a->code[0] == '\0';
}

int csv_indicator_sign(const char *s, size_t n)
{
    static const char *const debit[] = { "dr", "d", "af", "s", "debet", "debit", "db", "soll",
                                         "cargo", "deb" };
    static const char *const credit[] = { "cr", "c", "bij", "h", "credit", "haben", "abono",
                                          "cred", "crd" };
    csv_trim(&s, &n);
    if (n == 1 && s[0] == '-')
        return -1;
    if (n == 1 && s[0] == '+')
        return 1;
    char key[16];
    if (n == 0 || n > 12)
        return 0;
    /* every marker starts with a letter: refuse a key that would start with
     * a digit, or be empty, without building it */
    size_t i = 0;
    while (i < n && !((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                      (s[i] >= '0' && s[i] <= '9') || (unsigned char)s[i] == 0xC3))
        i++;
    if (i == n || (s[i] >= '0' && s[i] <= '9'))
        return 0;
    if (csv_norm_key(s, n, key, sizeof key) == 0)
        return 0;
    for (size_t k = 0; k < sizeof debit / sizeof debit[0]; k++)
        if (key[0] == debit[k][0] && strcmp(key, debit[k]) == 0)
            return -1;
    for (size_t k = 0; k < sizeof credit / sizeof credit[0]; k++)
        if (key[0] == credit[k][0] && strcmp(key, credit[k]) == 0)
            return 1;
    return 0;
}
