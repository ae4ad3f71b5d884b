/* bulk_csv.c: reading a purchase file: CSV records (RFC 4180 quoting, any of , ; TAB | as the
 * delimiter, CRLF or LF, a UTF-8 byte-order mark skipped), the header -> column mapping with
 * aliases, and the cell readers: amounts into exact minor units (no floating point: the
 * digits are scaled as integers), ISO 8601 dates and times into UTC microseconds, ISO 4217
 * codes.  Pure functions over bytes, unit-tested by tests/unit/check_bulk.c. */
#include "bulk.h"
#include "si_clock.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const bulk_col_names[BULK_COL_N] = {
    "transaction_number", "customer_id", "purchased_at", "currency", "sku_id",
    "quantity", "unit_price", "discount", "store", "note",
};

/* ---- records ---------------------------------------------------------------------------- */

void bulk_csv_init(struct bulk_csv *c, FILE *f)
{
    memset(c, 0, sizeof *c);
    c->f = f;
    c->delim = ',';
    c->next_line = 1;
}

void bulk_csv_cleanup(struct bulk_csv *c)
{
    free(c->rec);
    c->rec = NULL;
    c->rec_cap = c->rec_len = 0;
}

/* Next byte, or -1 at the end, -2 on a read error. */
static int next_byte(struct bulk_csv *c)
{
    if (c->pos == c->end) {
        c->pos = 0;
        c->end = fread(c->buf, 1, sizeof c->buf, c->f);
        if (c->end == 0)
            return ferror(c->f) ? -2 : -1;
    }
    return (unsigned char)c->buf[c->pos++];
}

static int peek_byte(struct bulk_csv *c)
{
    int ch = next_byte(c);
    if (ch >= 0)
        c->pos--;
    return ch;
}

/* The delimiter: the most frequent candidate outside quotes on the first line in the buffer. */
static void sniff_delimiter(struct bulk_csv *c)
{
    static const char cand[] = { ',', ';', '\t', '|' };
    size_t count[4] = { 0 };
    bool quoted = false;
    for (size_t i = c->pos; i < c->end; i++) {
        char ch = c->buf[i];
        if (ch == '"')
            quoted = !quoted;
        else if (!quoted && (ch == '\n' || ch == '\r'))
            break;
        else if (!quoted)
            for (int k = 0; k < 4; k++)
                if (ch == cand[k])
                    count[k]++;
    }
    int best = 0;
    for (int k = 1; k < 4; k++)
        if (count[k] > count[best])
            best = k;
    c->delim = cand[best];
}

static int rec_put(struct bulk_csv *c, char ch, struct si_error *err)
{
    if (c->rec_len + 1 >= c->rec_cap) {
        if (c->rec_cap >= BULK_MAX_RECORD)
            return si_error_set(err, 422, "bad_csv", "line %ld: a record is longer than %d bytes", c->line,
                                BULK_MAX_RECORD);
        size_t cap = c->rec_cap ? c->rec_cap * 2 : 1024;
        if (cap > BULK_MAX_RECORD)
            cap = BULK_MAX_RECORD;
        char *p = realloc(c->rec, cap);
        if (p == NULL)
            return si_error_set(err, 500, "internal", "out of memory");
        c->rec = p;
        c->rec_cap = cap;
    }
    c->rec[c->rec_len++] = ch;
    return 0;
}

static int cell_end(struct bulk_csv *c, struct si_error *err)
{
    if (rec_put(c, '\0', err) != 0)
        return -1;
    if (c->ncells < BULK_MAX_FIELDS) {
        size_t start = c->ncells == 0 ? 0 : c->cell_off[c->ncells - 1] + c->cell_len[c->ncells - 1] + 1;
        c->cell_off[c->ncells] = start;
        c->cell_len[c->ncells] = c->rec_len - 1 - start;
        c->ncells++;
    } else {
        c->too_many = true;
        size_t start = c->cell_off[c->ncells - 1] + c->cell_len[c->ncells - 1] + 1;
        c->rec_len = start;   /* the extra cell is dropped */
    }
    return 0;
}

/* True when s[0..n) is well-formed UTF-8 (no overlongs, no surrogates). */
static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char b = s[i];
        if (b < 0x80) {
            i++;
            continue;
        }
        int len = (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 0;
        if (len == 0 || i + (size_t)len > n || (len == 2 && b < 0xC2) || b > 0xF4)
            return false;
        for (int k = 1; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
        if (len == 3 && ((b == 0xE0 && s[i + 1] < 0xA0) || (b == 0xED && s[i + 1] >= 0xA0)))
            return false;
        if (len == 4 && ((b == 0xF0 && s[i + 1] < 0x90) || (b == 0xF4 && s[i + 1] >= 0x90)))
            return false;
        i += (size_t)len;
    }
    return true;
}

int bulk_csv_next(struct bulk_csv *c, struct si_error *err)
{
    if (!c->started) {
        c->started = true;
        int b0 = peek_byte(c);
        if (b0 == -2)
            return si_error_set(err, 500, "internal", "cannot read the uploaded file");
        if (c->end >= 2 && (((unsigned char)c->buf[0] == 0xFF && (unsigned char)c->buf[1] == 0xFE) ||
                            ((unsigned char)c->buf[0] == 0xFE && (unsigned char)c->buf[1] == 0xFF)))
            return si_error_set(err, 415, "not_text", "the file is UTF-16: save it as UTF-8 CSV");
        if (c->end >= 3 && memcmp(c->buf, "\xEF\xBB\xBF", 3) == 0)
            c->pos = 3;
        sniff_delimiter(c);
    }
    for (;;) {
        c->rec_len = 0;
        c->ncells = 0;
        c->too_many = false;
        c->line = c->next_line;
        bool quoted = false, any = false;
        int ch;
        for (;;) {
            ch = next_byte(c);
            if (ch == -2)
                return si_error_set(err, 500, "internal", "cannot read the uploaded file");
            if (ch == 0)
                return si_error_set(err, 415, "not_text", "line %ld: the file holds a NUL byte: it is not a CSV text "
                                    "file", c->next_line);
            if (ch == -1) {
                if (quoted)
                    return si_error_set(err, 422, "bad_csv", "line %ld: a quoted cell is never closed", c->line);
                break;
            }
            any = true;
            if (quoted) {
                if (ch == '"') {
                    if (peek_byte(c) == '"') {
                        next_byte(c);
                        if (rec_put(c, '"', err) != 0)
                            return -1;
                    } else {
                        quoted = false;
                    }
                    continue;
                }
                if (ch == '\n')
                    c->next_line++;
                if (rec_put(c, (char)ch, err) != 0)
                    return -1;
                continue;
            }
            if (ch == '"') {
                quoted = true;
                continue;
            }
            if (ch == c->delim) {
                if (cell_end(c, err) != 0)
                    return -1;
                continue;
            }
            if (ch == '\r' || ch == '\n') {
                if (ch == '\r' && peek_byte(c) == '\n')
                    next_byte(c);
                c->next_line++;
                break;
            }
            if (rec_put(c, (char)ch, err) != 0)
                return -1;
        }
        if (!any)
            return 0;
        if (cell_end(c, err) != 0)
            return -1;
        if (!utf8_valid((const unsigned char *)c->rec, c->rec_len))
            return si_error_set(err, 415, "not_text", "line %ld: the file is not UTF-8 text", c->line);
        if (c->ncells == 1 && c->cell_len[0] == 0) {
            if (ch == -1)
                return 0;
            continue;   /* a blank line */
        }
        return 1;
    }
}

/* ---- header mapping ---------------------------------------------------------------------- */

static const struct { const char *alias; enum bulk_col col; } ALIASES[] = {
    { "transaction_number", BULK_COL_TXN }, { "transaction_no", BULK_COL_TXN }, { "transaction_id", BULK_COL_TXN },
    { "transaction", BULK_COL_TXN }, { "txn", BULK_COL_TXN }, { "txn_id", BULK_COL_TXN },
    { "order_number", BULK_COL_TXN }, { "order_id", BULK_COL_TXN }, { "order", BULK_COL_TXN },
    { "receipt_number", BULK_COL_TXN }, { "receipt", BULK_COL_TXN }, { "invoice_number", BULK_COL_TXN },
    { "customer_id", BULK_COL_CUSTOMER }, { "customer", BULK_COL_CUSTOMER }, { "customer_number", BULK_COL_CUSTOMER },
    { "user_id", BULK_COL_CUSTOMER }, { "member_id", BULK_COL_CUSTOMER }, { "client_id", BULK_COL_CUSTOMER },
    { "purchased_at", BULK_COL_PURCHASED_AT }, { "purchase_date", BULK_COL_PURCHASED_AT },
    { "purchased_on", BULK_COL_PURCHASED_AT }, { "transaction_date", BULK_COL_PURCHASED_AT },
    { "date", BULK_COL_PURCHASED_AT }, { "datetime", BULK_COL_PURCHASED_AT }, { "timestamp", BULK_COL_PURCHASED_AT },
    { "order_date", BULK_COL_PURCHASED_AT },
    { "currency", BULK_COL_CURRENCY }, { "currency_code", BULK_COL_CURRENCY }, { "ccy", BULK_COL_CURRENCY },
    { "sku_id", BULK_COL_SKU }, { "sku", BULK_COL_SKU }, { "product_id", BULK_COL_SKU },
    { "item_id", BULK_COL_SKU }, { "product_sku", BULK_COL_SKU }, { "sku_code", BULK_COL_SKU },
    { "quantity", BULK_COL_QUANTITY }, { "qty", BULK_COL_QUANTITY }, { "units", BULK_COL_QUANTITY },
    { "unit_price", BULK_COL_UNIT_PRICE }, { "price", BULK_COL_UNIT_PRICE }, { "unit_cost", BULK_COL_UNIT_PRICE },
    { "item_price", BULK_COL_UNIT_PRICE }, { "price_each", BULK_COL_UNIT_PRICE },
    { "discount", BULK_COL_DISCOUNT }, { "discount_amount", BULK_COL_DISCOUNT },
    { "store", BULK_COL_STORE }, { "store_id", BULK_COL_STORE }, { "shop", BULK_COL_STORE },
    { "location", BULK_COL_STORE }, { "branch", BULK_COL_STORE },
    { "note", BULK_COL_NOTE }, { "notes", BULK_COL_NOTE }, { "comment", BULK_COL_NOTE }, { "memo", BULK_COL_NOTE },
};

/* A header name in its comparable form: trimmed, lower case, ' ', '-', '.' as '_'. */
static void header_key(const char *s, char *out, size_t n)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t k = 0;
    for (; *s != '\0' && k + 1 < n; s++) {
        char ch = *s;
        out[k++] = ch == ' ' || ch == '-' || ch == '.' ? '_' : (char)tolower((unsigned char)ch);
    }
    while (k > 0 && out[k - 1] == '_')
        k--;
    out[k] = '\0';
}

static int col_by_name(const char *name)
{
    for (int i = 0; i < BULK_COL_N; i++)
        if (strcmp(name, bulk_col_names[i]) == 0)
            return i;
    return -1;
}

int bulk_columns_map(const struct bulk_csv *header, const json_t *mapping, int idx[BULK_COL_N],
                     json_t **out_columns, struct si_error *err)
{
    char key[128], want[128];
    for (int i = 0; i < BULK_COL_N; i++)
        idx[i] = -1;
    if (out_columns != NULL)
        *out_columns = NULL;
    if (mapping != NULL && !json_is_object(mapping))
        return si_error_set(err, 400, "bad_mapping", "mapping must be a JSON object");
    const char *name;
    const json_t *v;
    json_object_foreach((json_t *)mapping, name, v) {
        int col = col_by_name(name);
        if (col < 0)
            return si_error_set(err, 400, "bad_mapping", "mapping: '%.64s' is not a column (transaction_number, "
                                "customer_id, purchased_at, currency, sku_id, quantity, unit_price, discount, store, "
                                "note)", name);
        if (json_is_integer(v)) {
            json_int_t k = json_integer_value(v);
            if (k < 0 || k >= header->ncells)
                return si_error_set(err, 400, "bad_mapping", "mapping: %s is column %lld, the header has %d",
                                    name, (long long)k, header->ncells);
            idx[col] = (int)k;
            continue;
        }
        if (!json_is_string(v))
            return si_error_set(err, 400, "bad_mapping", "mapping: %s must name a header or a column index", name);
        header_key(json_string_value(v), want, sizeof want);
        for (int k = 0; k < header->ncells && idx[col] < 0; k++) {
            header_key(bulk_csv_cell(header, k), key, sizeof key);
            if (strcmp(key, want) == 0)
                idx[col] = k;
        }
        if (idx[col] < 0)
            return si_error_set(err, 400, "bad_mapping", "mapping: %s names '%.64s', which is not in the header",
                                name, json_string_value(v));
    }
    for (int k = 0; k < header->ncells; k++) {
        header_key(bulk_csv_cell(header, k), key, sizeof key);
        for (size_t a = 0; a < sizeof ALIASES / sizeof *ALIASES; a++) {
            if (strcmp(key, ALIASES[a].alias) != 0 || idx[ALIASES[a].col] >= 0)
                continue;
            bool taken = false;   /* a cell the mapping gave to another column */
            for (int i = 0; i < BULK_COL_N; i++)
                taken = taken || idx[i] == k;
            if (!taken)
                idx[ALIASES[a].col] = k;
            break;
        }
    }
    char missing[256] = "";
    size_t used = 0;
    static const enum bulk_col required[] = { BULK_COL_TXN, BULK_COL_CUSTOMER, BULK_COL_PURCHASED_AT, BULK_COL_SKU,
                                              BULK_COL_QUANTITY, BULK_COL_UNIT_PRICE };
    for (size_t r = 0; r < sizeof required / sizeof *required; r++)
        if (idx[required[r]] < 0) {
            int w = snprintf(missing + used, sizeof missing - used, "%s%s", used ? ", " : "", bulk_col_names[required[r]]);
            if (w > 0 && (size_t)w < sizeof missing - used)
                used += (size_t)w;
        }
    if (used > 0)
        return si_error_set(err, 422, "missing_columns", "line 1: the header has no column for %s (header names "
                            "and aliases are in the README; send `mapping` to name them)", missing);
    if (out_columns != NULL) {
        json_t *cols = json_object();
        if (cols == NULL)
            return si_error_set(err, 500, "internal", "out of memory");
        for (int i = 0; i < BULK_COL_N; i++)
            if (idx[i] >= 0 && json_object_set_new(cols, bulk_col_names[i], json_string(bulk_csv_cell(header, idx[i]))) != 0) {
                json_decref(cols);
                return si_error_set(err, 500, "internal", "out of memory");
            }
        *out_columns = cols;
    }
    return 0;
}

/* ---- currencies ------------------------------------------------------------------------- */

/* The active ISO 4217 codes (list one, 2024), exponent 2 unless listed below. */
static const char ISO4217[] =
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD "
    "CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP "
    "GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW "
    "KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN "
    "NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL "
    "SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES "
    "VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWL ";
static const char EXP0[] = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF ";
static const char EXP3[] = "BHD IQD JOD KWD LYD OMR TND ";
static const char EXP4[] = "CLF UYW ";

static bool in_list(const char *list, const char *code)
{
    for (const char *p = list; *p != '\0'; p += 4)
        if (memcmp(p, code, 3) == 0)
            return true;
    return false;
}

bool bulk_currency(const char *code, int *out_exp)
{
    if (code == NULL || strlen(code) != 3)
        return false;
    for (int i = 0; i < 3; i++)
        if (code[i] < 'A' || code[i] > 'Z')
            return false;
    if (!in_list(ISO4217, code))
        return false;
    if (out_exp != NULL)
        *out_exp = in_list(EXP0, code) ? 0 : in_list(EXP3, code) ? 3 : in_list(EXP4, code) ? 4 : 2;
    return true;
}

/* ---- amounts ---------------------------------------------------------------------------- */

const char *bulk_amount_minor(const char *s, int exp, long long *out)
{
    while (*s == ' ' || *s == '\t')
        s++;
    bool neg = false;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    long long v = 0;
    int digits = 0, frac = 0;
    bool dot = false;
    for (; *s != '\0' && *s != ' ' && *s != '\t'; s++) {
        if (*s == '.' && !dot) {
            dot = true;
            continue;
        }
        if (*s < '0' || *s > '9')
            return "is not an amount (digits with an optional '.' and decimals)";
        int d = *s - '0';
        digits++;
        if (dot && ++frac > exp) {
            if (d != 0)
                return exp == 0 ? "has decimals, which its currency does not have" : "has more decimals than its currency has";
            continue;
        }
        if (v > (BULK_AMOUNT_MAX * 10 - d) / 10)
            return "is beyond the limit of 10000000000000 minor units";
        v = v * 10 + d;
    }
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s != '\0' || digits == 0)
        return "is not an amount (digits with an optional '.' and decimals)";
    for (int k = frac < exp ? frac : exp; k < exp; k++) {
        if (v > BULK_AMOUNT_MAX / 10)
            return "is beyond the limit of 10000000000000 minor units";
        v *= 10;
    }
    if (v > BULK_AMOUNT_MAX)
        return "is beyond the limit of 10000000000000 minor units";
    *out = neg ? -v : v;
    return NULL;
}

/* ---- dates ------------------------------------------------------------------------------ */

/* n digits at *p into *out; advances *p.  false when they are not digits. */
static bool take_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char ch = (*p)[i];
        if (ch < '0' || ch > '9')
            return false;
        v = v * 10 + (ch - '0');
    }
    *p += n;
    *out = v;
    return true;
}

const char *bulk_datetime_us(const char *s, long long *out_us)
{
    static const char *bad = "is not an ISO 8601 date (YYYY-MM-DD, optionally THH:MM[:SS[.fff]] and Z or +HH:MM)";
    while (*s == ' ' || *s == '\t')
        s++;
    int y, mo, d, h = 0, mi = 0, sec = 0;
    long long micros = 0;
    if (!take_digits(&s, 4, &y) || *s++ != '-' || !take_digits(&s, 2, &mo) || *s++ != '-' || !take_digits(&s, 2, &d))
        return bad;
    if (y < 1900 || y > 2999)
        return "has a year outside 1900..2999";
    if (mo < 1 || mo > 12 || d < 1 || d > si_days_in_month(y, mo))
        return "is not a calendar date";
    int offset_min = 0;
    if (*s == 'T' || *s == 't' || (*s == ' ' && s[1] >= '0' && s[1] <= '9')) {
        s++;
        if (!take_digits(&s, 2, &h) || *s++ != ':' || !take_digits(&s, 2, &mi))
            return bad;
        if (*s == ':') {
            s++;
            if (!take_digits(&s, 2, &sec))
                return bad;
            if (*s == '.' || *s == ',') {
                s++;
                int n = 0;
                while (*s >= '0' && *s <= '9') {
                    if (n < 6)
                        micros = micros * 10 + (*s - '0');
                    n++;
                    s++;
                }
                if (n == 0)
                    return bad;
                for (; n < 6; n++)
                    micros *= 10;
            }
        }
        if (h > 23 || mi > 59 || sec > 59)
            return "is not a time of day";
        if (*s == 'Z' || *s == 'z') {
            s++;
        } else if (*s == '+' || *s == '-') {
            int sign = *s++ == '-' ? -1 : 1, oh, om = 0;
            if (!take_digits(&s, 2, &oh))
                return bad;
            if (*s == ':')
                s++;
            if (*s >= '0' && *s <= '9' && !take_digits(&s, 2, &om))
                return bad;
            if (oh > 14 || om > 59)
                return "has a time zone offset beyond 14 hours";
            offset_min = sign * (oh * 60 + om);
        }
    }
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s != '\0')
        return bad;
    long long days = si_days_from_civil(y, mo, d);
    long long secs = days * 86400LL + h * 3600LL + mi * 60LL + sec - offset_min * 60LL;
    *out_us = secs * 1000000LL + micros;
    return NULL;
}

void bulk_format_utc(long long us, char *out, size_t n)
{
    long long secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    long long frac = us - secs * 1000000;
    long long days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    long long rem = secs - days * 86400;
    long y;
    int m, d;
    si_civil_from_days((long)days, &y, &m, &d);
    snprintf(out, n, "%04ld-%02d-%02d %02lld:%02lld:%02lld.%06lld+00", y, m, d, rem / 3600, rem / 60 % 60, rem % 60,
             frac);
}

/* ---- one row ---------------------------------------------------------------------------- */

void bulk_row_clear(struct bulk_row *row)
{
    json_decref(row->problems);
    memset(row, 0, sizeof *row);
}

static int problem(struct bulk_row *row, enum bulk_col col, const char *reason)
{
    if (row->problems == NULL && (row->problems = json_array()) == NULL)
        return -1;
    return json_array_append_new(row->problems, json_pack("{s:s, s:s}", "column",
                                 col == BULK_COL_N ? "" : bulk_col_names[col], "reason", reason));
}

/* The cell of a column, trimmed in place of a copy (NULL when absent or empty). */
static const char *cell(const struct bulk_csv *c, const int idx[BULK_COL_N], enum bulk_col col, char *tmp, size_t n)
{
    if (idx[col] < 0 || idx[col] >= c->ncells)
        return NULL;
    const char *s = bulk_csv_cell(c, idx[col]);
    while (*s == ' ' || *s == '\t')
        s++;
    size_t len = strlen(s);
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len == 0)
        return NULL;
    if (len >= n)
        len = n - 1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    return tmp;
}

/* An identifier cell: required, at most BULK_ID_MAX bytes; kept pointing into the record. */
static int id_cell(const struct bulk_csv *c, const int idx[BULK_COL_N], enum bulk_col col, struct bulk_row *row,
                   const char **out)
{
    *out = NULL;
    if (idx[col] < 0 || idx[col] >= c->ncells)
        return problem(row, col, "is empty");
    char *s = c->rec + c->cell_off[idx[col]];   /* trimmed in place: the record is ours to edit */
    while (*s == ' ' || *s == '\t')
        s++;
    size_t len = strlen(s);
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        s[--len] = '\0';
    if (len == 0)
        return problem(row, col, "is empty");
    if (len > BULK_ID_MAX)
        return problem(row, col, "is longer than 100 bytes");
    *out = s;
    return 0;
}

static int text_cell(const struct bulk_csv *c, const int idx[BULK_COL_N], enum bulk_col col, struct bulk_row *row,
                     const char **out)
{
    *out = NULL;
    if (idx[col] < 0 || idx[col] >= c->ncells)
        return 0;
    char *s = c->rec + c->cell_off[idx[col]];
    while (*s == ' ' || *s == '\t')
        s++;
    size_t len = strlen(s);
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        s[--len] = '\0';
    if (len > BULK_TEXT_MAX)
        return problem(row, col, "is longer than 1000 bytes");
    *out = len > 0 ? s : NULL;
    return 0;
}

int bulk_row_read(const struct bulk_csv *c, const int idx[BULK_COL_N], int header_cells,
                  const char *fallback_currency, struct bulk_row *row)
{
    char tmp[128];
    memset(row, 0, sizeof *row);
    row->line = c->line;
    if (c->too_many || c->ncells > header_cells) {
        snprintf(tmp, sizeof tmp, "has more cells than the header's %d", header_cells);
        if (problem(row, BULK_COL_N, tmp) != 0)
            return -1;
    }
    if (id_cell(c, idx, BULK_COL_TXN, row, &row->txn) != 0 || id_cell(c, idx, BULK_COL_CUSTOMER, row, &row->customer) != 0)
        return -1;
    /* purchased_at */
    const char *v = cell(c, idx, BULK_COL_PURCHASED_AT, tmp, sizeof tmp);
    const char *why = v == NULL ? "is empty" : bulk_datetime_us(v, &row->purchased_us);
    if (why != NULL) {
        if (problem(row, BULK_COL_PURCHASED_AT, why) != 0)
            return -1;
    } else {
        row->has_time = true;
    }
    /* currency */
    int exp = -1;
    v = cell(c, idx, BULK_COL_CURRENCY, tmp, sizeof tmp);
    if (v == NULL)
        v = fallback_currency;
    if (v == NULL) {
        if (problem(row, BULK_COL_CURRENCY, "is empty") != 0)
            return -1;
    } else if (!bulk_currency(v, &exp)) {
        if (problem(row, BULK_COL_CURRENCY, "is not an ISO 4217 currency code") != 0)
            return -1;
        exp = -1;
    } else {
        memcpy(row->currency_buf, v, 4);
        row->currency = row->currency_buf;
    }
    if (id_cell(c, idx, BULK_COL_SKU, row, &row->sku) != 0)
        return -1;
    /* quantity: a positive whole number */
    v = cell(c, idx, BULK_COL_QUANTITY, tmp, sizeof tmp);
    if (v == NULL) {
        if (problem(row, BULK_COL_QUANTITY, "is empty") != 0)
            return -1;
    } else {
        const char *p = v[0] == '+' ? v + 1 : v;
        long q = 0;
        bool ok = *p != '\0';
        for (; *p != '\0' && ok; p++) {
            ok = *p >= '0' && *p <= '9' && q <= BULK_QUANTITY_MAX;
            q = q * 10 + (*p - '0');
        }
        if (!ok || q <= 0 || q > BULK_QUANTITY_MAX) {
            if (problem(row, BULK_COL_QUANTITY, "must be a whole number from 1 to 1000000") != 0)
                return -1;
        } else {
            row->has_qty = true;
            row->quantity = (int)q;
        }
    }
    /* unit_price, discount: amounts in the row's currency */
    v = cell(c, idx, BULK_COL_UNIT_PRICE, tmp, sizeof tmp);
    why = v == NULL ? "is empty" : exp < 0 ? NULL : bulk_amount_minor(v, exp, &row->unit_price);
    if (why == NULL && exp >= 0 && row->unit_price < 0)
        why = "must not be negative";
    if (why != NULL) {
        if (problem(row, BULK_COL_UNIT_PRICE, why) != 0)
            return -1;
    } else if (exp >= 0) {
        row->has_price = true;
    }
    v = cell(c, idx, BULK_COL_DISCOUNT, tmp, sizeof tmp);
    row->discount = 0;
    why = v == NULL || exp < 0 ? NULL : bulk_amount_minor(v, exp, &row->discount);
    if (why == NULL && row->discount < 0)
        why = "must not be negative";
    if (why != NULL) {
        if (problem(row, BULK_COL_DISCOUNT, why) != 0)
            return -1;
    } else if (exp >= 0) {
        row->has_discount = true;
    }
    if (row->has_qty && row->has_price && row->has_discount) {
        long long gross;
        if (__builtin_mul_overflow(row->unit_price, (long long)row->quantity, &gross) || gross > BULK_AMOUNT_MAX) {
            if (problem(row, BULK_COL_UNIT_PRICE, "quantity times unit_price is beyond the limit of 10000000000000 "
                        "minor units") != 0)
                return -1;
        } else if (row->discount > gross) {
            if (problem(row, BULK_COL_DISCOUNT, "is more than quantity times unit_price") != 0)
                return -1;
        } else {
            row->has_total = true;
            row->line_total = gross - row->discount;
        }
    }
    if (text_cell(c, idx, BULK_COL_STORE, row, &row->store) != 0 || text_cell(c, idx, BULK_COL_NOTE, row, &row->note) != 0)
        return -1;
    return 0;
}
