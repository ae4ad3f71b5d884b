/* check_csv.c: the CSV engine: tokenizer, amounts, dates, header vocabulary,
 * every fixture in tests/fixtures/csv against its .expected sidecar, the
 * user's mapping override, limits and errors, and a million-row file in
 * bounded memory.
 *
 * A sidecar holds, one per line: "row LINE|DATE|AMOUNT|CURRENCY|DESCRIPTION|BANK_ID"
 * (all rows, exactly, in order), "warn LINE TEXT" (all warnings, in order;
 * TEXT must occur in the message), "count N", "total N" (sum of amounts),
 * "map KEY JSON" (a key of the mapping reported), "error LINE TEXT" (the parse
 * must fail so), "option currency CODE", "option override JSON"; '#' starts
 * a comment. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <openssl/evp.h>

#include "csv.h"
#include "si_money.h"
#include "stmt_util.h"

#ifndef CSV_FIXTURES
#define CSV_FIXTURES "tests/fixtures/csv"
#endif

/* ---- A sink that records what it gets ---------------------------------------- */

struct collect {
    char **rows;
    size_t nrows;
    char **warns;       /* "LINE message" */
    size_t nwarns;
    long long total;
    long stop_after;    /* > 0: ask the parser to stop after this many rows */
};

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    char *s = NULL;
    ck_assert_int_ge(vasprintf(&s, f, ap), 0);
    va_end(ap);
    return s;
}

static void push(char ***list, size_t *n, char *s)
{
    char **nl = realloc(*list, (*n + 1) * sizeof *nl);
    ck_assert_ptr_nonnull(nl);
    nl[(*n)++] = s;
    *list = nl;
}

static int collect_txn(void *ctx, const struct stmt_txn *t)
{
    struct collect *c = ctx;
    ck_assert_int_eq(t->exponent, si_currency_exponent(t->currency[0] ? t->currency : NULL));
    ck_assert_ptr_nonnull(t->description);
    push(&c->rows, &c->nrows,
         fmt("%ld|%s|%lld|%s|%s|%s", t->line, t->date, t->amount_minor, t->currency, t->description,
             t->bank_id ? t->bank_id : ""));
    c->total += t->amount_minor;
    return c->stop_after > 0 && (long)c->nrows >= c->stop_after;
}

static void collect_warning(void *ctx, long line, const char *message)
{
    struct collect *c = ctx;
    push(&c->warns, &c->nwarns, fmt("%ld %s", line, message));
}

static void collect_free(struct collect *c)
{
    for (size_t i = 0; i < c->nrows; i++)
        free(c->rows[i]);
    for (size_t i = 0; i < c->nwarns; i++)
        free(c->warns[i]);
    free(c->rows);
    free(c->warns);
    memset(c, 0, sizeof *c);
}

/* Parses text (with an optional override in JSON and a default currency). */
static int parse_text(const char *text, const char *override, const char *currency,
                      struct collect *c, json_t **cols, struct stmt_error *err)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    if (strlen(text) == 0)
        f = fopen("/dev/null", "r");
    ck_assert_ptr_nonnull(f);
    json_t *ov = NULL;
    if (override != NULL) {
        json_error_t je;
        ov = json_loads(override, 0, &je);
        ck_assert_msg(ov != NULL, "bad test override: %s", je.text);
    }
    struct stmt_sink sink = { collect_txn, collect_warning, c };
    int rc = csv_parse(f, ov, currency, cols, &sink, err);
    json_decref(ov);
    fclose(f);
    return rc;
}

/* ---- Tokenizer ------------------------------------------------------------------ */

static const struct {
    const char *in;
    char delim;
    const char *out;   /* records as "LINE:field|field", joined by '\n' */
} tokens[] = {
    { "a,b,c\n1,2,3\n", ',', "1:a|b|c\n2:1|2|3" },
    { "a,b\r\n1,2\r\n", ',', "1:a|b\n2:1|2" },
    { "a,b\r1,2\r", ',', "1:a|b\n2:1|2" },
    { "a,b", ',', "1:a|b" },
    { "\"x,y\",\"he said \"\"hi\"\"\"\n", ',', "1:x,y|he said \"hi\"" },
    { "\"multi\nline\",2\nnext,3\n", ',', "1:multi\nline|2\n3:next|3" },
    { "\"multi\r\nline\",2\r\nnext,3\r\n", ',', "1:multi\nline|2\n3:next|3" },
    { "a,,c,\n", ',', "1:a||c|" },
    { "\n\na\n", ',', "1:\n2:\n3:a" },
    { "a;b;\"c;d\"\n", ';', "1:a|b|c;d" },
    { "a\tb\t\"c\td\"\n", '\t', "1:a|b|c\td" },
    { "a|b|c\n", '|', "1:a|b|c" },
    { "ab\"cd\",e\n", ',', "1:ab\"cd\"|e" },                 /* quote inside a plain field */
    { "\"ab\"cd,e\n", ',', "1:abcd|e" },                     /* text after a closing quote */
    { "  \"ab\",e\n", ',', "1:ab|e" },                       /* spaces before the quote */
    { "\"open,end\n", ',', "1:open,end\n" },                 /* quote never closed */
};

static void dump_records(const char *in, char delim, char *out, size_t outsz)
{
    FILE *f = fmemopen((void *)in, strlen(in), "r");
    ck_assert_ptr_nonnull(f);
    struct csv_reader *r = malloc(sizeof *r);
    ck_assert_ptr_nonnull(r);
    struct stmt_error err;
    ck_assert_int_eq(csv_reader_open(r, f, delim, &err), 0);
    size_t w = 0;
    out[0] = '\0';
    int rc;
    while ((rc = csv_reader_next(r, &err)) == 1) {
        w += (size_t)snprintf(out + w, outsz - w, "%s%ld:", w ? "\n" : "", r->rec_line);
        for (size_t i = 0; i < r->nfields; i++)
            w += (size_t)snprintf(out + w, outsz - w, "%s%s", i ? "|" : "", csv_field(r, i));
        ck_assert_uint_lt(w, outsz);
    }
    ck_assert_int_eq(rc, 0);
    csv_reader_close(r);
    free(r);
    fclose(f);
}

START_TEST(the_tokenizer_handles_quotes_newlines_and_every_line_ending)
{
    char out[512];
    dump_records(tokens[_i].in, tokens[_i].delim, out, sizeof out);
    ck_assert_msg(strcmp(out, tokens[_i].out) == 0, "case %d: got [%s]", _i, out);
}
END_TEST

START_TEST(the_tokenizer_reads_the_same_records_after_a_rewind)
{
    const char *in = "a;b\n\"x\ny\";2\n";
    FILE *f = fmemopen((void *)in, strlen(in), "r");
    struct csv_reader *r = malloc(sizeof *r);
    struct stmt_error err;
    ck_assert_int_eq(csv_reader_open(r, f, ',', &err), 0);
    ck_assert_int_eq(csv_reader_next(r, &err), 1);
    ck_assert_uint_eq(r->nfields, 1);
    ck_assert_int_eq(csv_reader_rewind(r, ';', &err), 0);
    ck_assert_int_eq(csv_reader_next(r, &err), 1);
    ck_assert_uint_eq(r->nfields, 2);
    ck_assert_int_eq(csv_reader_next(r, &err), 1);
    ck_assert_str_eq(csv_field(r, 0), "x\ny");
    ck_assert_int_eq(r->ordinal, 1);
    ck_assert_int_eq(csv_reader_next(r, &err), 0);
    ck_assert_int_eq(r->line, 4);
    csv_reader_close(r);
    free(r);
    fclose(f);
}
END_TEST

/* Text of n copies of unit, then tail. */
static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(hl + ul * n + tl + 1);
    ck_assert_ptr_nonnull(s);
    memcpy(s, head, hl);
    for (size_t i = 0; i < n; i++)
        memcpy(s + hl + i * ul, unit, ul);
    memcpy(s + hl + n * ul, tail, tl + 1);
    return s;
}

START_TEST(fields_and_records_over_the_limits_are_errors_with_the_line)
{
    /* fields well under the field limit, but together over the record limit */
    char wide[CSV_MAX_RECORD_BYTES / (CSV_MAX_FIELDS - 10) + 2];
    memset(wide, 'x', sizeof wide - 1);
    wide[0] = ',';
    wide[sizeof wide - 1] = '\0';
    struct {
        char *text;
        const char *msg;
    } cases[] = {
        { repeat("Date,Description,Amount\n2024-01-01,", "x", CSV_MAX_FIELD_BYTES + 1, ",1.00\n"),
          "a field is longer than 16384 bytes" },
        { repeat("Date,Description,Amount\n2024-01-01,1.00,", "a,", CSV_MAX_FIELDS, "\n"),
          "a record has more than 256 fields" },
        { repeat("Date,Description,Amount\n2024-01-01,1.00", wide, CSV_MAX_FIELDS - 3, "\n"),
          "a record is longer than 131072 bytes" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct collect c = { 0 };
        struct stmt_error err;
        ck_assert_int_eq(parse_text(cases[i].text, NULL, "", &c, NULL, &err), -1);
        /* exactly: the line is in err.line, and the caller puts it in front once */
        ck_assert_str_eq(err.message, cases[i].msg);
        ck_assert_int_eq(err.line, 2);
        ck_assert_uint_eq(c.nrows, 0);
        collect_free(&c);
        free(cases[i].text);
    }
}
END_TEST

/* ---- Amounts ----------------------------------------------------------------------- */

/* The parser reads amounts of any size without overflowing: at the bound
 * exactly, beyond it saturated (the stage then refuses the row with its
 * line); a big cell is never skipped as "not a number". */
static const struct {
    const char *what, *text, *first_row;
} big_amounts[] = {
    { "the bound itself", "Date,Description,Amount\n2024-01-01,Big,-100000000000.00\n2024-01-02,Small,1.00\n",
      "2|2024-01-01|-10000000000000|USD|Big|" },
    { "a 30-digit amount", "Date,Description,Amount\n2024-01-01,Big,-123456789012345678901234567890.00\n"
      "2024-01-02,Small,1.00\n", "2|2024-01-01|-100000000000000000|USD|Big|" },
    { "a 40-digit amount with thousands separators",
      "Date,Description,Amount\n2024-01-01,Big,\"-1,234,567,890,123,456,789,012,345,678,901,234.00\"\n"
      "2024-01-02,Small,1.00\n", "2|2024-01-01|-100000000000000000|USD|Big|" },
    { "a 30-digit debit", "Date,Description,Debit,Credit\n2024-01-01,Big,123456789012345678901234567890.00,\n"
      "2024-01-02,Small,,1.00\n", "2|2024-01-01|-100000000000000000|USD|Big|" },
    { "a 30-digit credit next to a 30-digit debit",
      "Date,Description,Debit,Credit\n2024-01-01,Big,123456789012345678901234567890.00,"
      "123456789012345678901234567890.00\n2024-01-02,Small,,1.00\n", "2|2024-01-01|0|USD|Big|" },
};

START_TEST(amounts_of_any_size_are_read_without_overflow)
{
    struct collect c = { 0 };
    struct stmt_error err;
    int rc = parse_text(big_amounts[_i].text, NULL, "USD", &c, NULL, &err);
    ck_assert_msg(rc == 0, "%s: line %ld: %s", big_amounts[_i].what, err.line, err.message);
    ck_assert_msg(c.nwarns == 0, "%s: %s", big_amounts[_i].what, c.warns[0]);
    ck_assert_uint_eq(c.nrows, 2);
    ck_assert_str_eq(c.rows[0], big_amounts[_i].first_row);
    collect_free(&c);
}
END_TEST


static const struct {
    const char *cell;
    char decimal, thousands;
    int exponent;
    long long value;
    const char *code;
} amounts[] = {
    { "1,234.56", '.', ',', 2, 123456, "" },
    { "1.234,56", ',', '.', 2, 123456, "" },
    { "11'373.94", '.', '\'', 2, 1137394, "" },
    { "11\xE2\x80\x99" "373.94", '.', '\'', 2, 1137394, "" },
    { "1 234,56", ',', ' ', 2, 123456, "" },
    { "1\xC2\xA0" "234,56", ',', ' ', 2, 123456, "" },
    { "1\xE2\x80\xAF" "234,56", ',', ' ', 2, 123456, "" },
    { "3.000", ',', '.', 2, 300000, "" },
    { "3.000", '.', ',', 2, 300, "" },
    { "(12.34)", '.', 0, 2, -1234, "" },
    { "12.34-", '.', 0, 2, -1234, "" },
    { "-12.34", '.', 0, 2, -1234, "" },
    { "+12.34", '.', 0, 2, 1234, "" },
    { "\xE2\x88\x92" "12.34", '.', 0, 2, -1234, "" },
    { "-$3.50", '.', 0, 2, -350, "" },
    { "$-3.50", '.', 0, 2, -350, "" },
    { "($3.50)", '.', 0, 2, -350, "" },
    { "\xE2\x82\xAC" "12,00", ',', 0, 2, 1200, "EUR" },
    { "12,00 \xE2\x82\xAC", ',', 0, 2, 1200, "EUR" },
    { "-12,00\xE2\x82\xAC", ',', 0, 2, -1200, "EUR" },
    { "\xC2\xA3" "5", '.', 0, 2, 500, "GBP" },
    { "\xC2\xA5" "1,500", '.', ',', 0, 1500, "JPY" },
    { "EUR 12,00", ',', 0, 2, 1200, "EUR" },
    { "12.00 USD", '.', 0, 2, 1200, "USD" },
    { "USD-12.00", '.', 0, 2, -1200, "USD" },
    { "US$ 7", '.', 0, 2, 700, "USD" },
    { "12.34 DR", '.', 0, 2, -1234, "" },
    { "12.34 CR", '.', 0, 2, 1234, "" },
    { ".5", '.', 0, 2, 50, "" },
    { "0,125", ',', 0, 3, 125, "" },
    { "1,234,567.8", '.', ',', 2, 123456780, "" },
};

START_TEST(amount_cells_give_exact_minor_units_and_their_currency)
{
    struct csv_amount a;
    long long v = 0;
    ck_assert_msg(csv_amount_scan(amounts[_i].cell, strlen(amounts[_i].cell), &a) == 0, "scan %s",
                  amounts[_i].cell);
    ck_assert_msg(csv_amount_value(&a, amounts[_i].decimal, amounts[_i].thousands, amounts[_i].exponent,
                                   &v) == 0, "value %s", amounts[_i].cell);
    ck_assert_msg(v == amounts[_i].value, "%s: %lld", amounts[_i].cell, v);
    ck_assert_str_eq(a.code, amounts[_i].code);
}
END_TEST

static const char *const not_amounts[] = {
    "", "abc", "12a", "1-2", "--12", "(12", "12)", "-(12)", "\xE2\x82\xAC", "EUR", "12 34 56 USD EUR",
    "\xE2\x82\xAC" "12 USD", "DR", "ATM 1234", "1.2.3.4,5,6", "12.34 DR-", "2024-01-15",
};

START_TEST(text_and_malformed_cells_are_not_amounts)
{
    struct csv_amount a;
    long long v;
    const char *s = not_amounts[_i];
    bool scanned = csv_amount_scan(s, strlen(s), &a) == 0;
    bool valued = scanned && (csv_amount_value(&a, '.', ',', 2, &v) == 0 ||
                              csv_amount_value(&a, ',', '.', 2, &v) == 0);
    ck_assert_msg(!valued, "[%s] was read as an amount", s);
}
END_TEST

START_TEST(amounts_with_more_decimals_than_the_currency_has_are_refused)
{
    struct csv_amount a;
    long long v;
    ck_assert_int_eq(csv_amount_scan("12.345", 6, &a), 0);
    ck_assert_int_eq(csv_amount_value(&a, '.', 0, 2, &v), -1);
    ck_assert_int_eq(csv_amount_value(&a, '.', 0, 3, &v), 0);
    ck_assert_int_eq(v, 12345);
    ck_assert_int_eq(csv_amount_scan("1500.50", 7, &a), 0);
    ck_assert_int_eq(csv_amount_value(&a, '.', 0, 0, &v), -1);
    /* the helper never overflows, whatever the exponent: it saturates */
    ck_assert_int_eq(stmt_decimal_to_minor("922337203685479", 15, '.', 0, 4, &v), 0);
    ck_assert_int_eq(v, STMT_AMOUNT_SATURATED);
    ck_assert_int_eq(stmt_decimal_to_minor("9999999999999", 13, '.', 0, 4, &v), 0);
    ck_assert_int_eq(v, 99999999999990000LL);
}
END_TEST

static const struct {
    const char *core;
    enum csv_evidence evidence;
} evidence[] = {
    { "1.234,56", CSV_EVIDENCE_COMMA }, { "1,234.56", CSV_EVIDENCE_DOT },
    { "12,5", CSV_EVIDENCE_COMMA },     { "12.50", CSV_EVIDENCE_DOT },
    { "3.000", CSV_EVIDENCE_NONE },     { "1,234", CSV_EVIDENCE_NONE },
    { "1,234,567", CSV_EVIDENCE_DOT },  { "1.234.567", CSV_EVIDENCE_COMMA },
    { "11'373.94", CSV_EVIDENCE_DOT },  { "1 234,56", CSV_EVIDENCE_COMMA },
    { "42", CSV_EVIDENCE_NONE },        { "0.1234", CSV_EVIDENCE_DOT },
};

START_TEST(what_a_number_proves_about_the_decimal_separator)
{
    struct csv_amount a;
    struct csv_number_info ni;
    ck_assert_int_eq(csv_amount_scan(evidence[_i].core, strlen(evidence[_i].core), &a), 0);
    csv_amount_classify(&a, &ni);
    ck_assert_msg(ni.evidence == evidence[_i].evidence, "%s: %d", evidence[_i].core, ni.evidence);
}
END_TEST

START_TEST(debit_credit_markers_are_recognised_in_several_languages)
{
    const char *debit[] = { "DR", "dr", "D", "Af", "S", "Debet", "Debit", "D\xC3\xA9" "bit", "-" };
    const char *credit[] = { "CR", "C", "Bij", "H", "Credit", "Cr\xC3\xA9" "dit", "Haben", "+" };
    const char *neither[] = { "", "X", "EUR", "Betaalautomaat", "DRCR" };
    for (size_t i = 0; i < sizeof debit / sizeof debit[0]; i++)
        ck_assert_msg(csv_indicator_sign(debit[i], strlen(debit[i])) == -1, "%s", debit[i]);
    for (size_t i = 0; i < sizeof credit / sizeof credit[0]; i++)
        ck_assert_msg(csv_indicator_sign(credit[i], strlen(credit[i])) == 1, "%s", credit[i]);
    for (size_t i = 0; i < sizeof neither / sizeof neither[0]; i++)
        ck_assert_msg(csv_indicator_sign(neither[i], strlen(neither[i])) == 0, "%s", neither[i]);
}
END_TEST

/* ---- Dates ---------------------------------------------------------------------------- */

static const struct {
    const char *cell;
    const char *format;
    const char *iso;
} dates[] = {
    { "2024-01-15", "YYYY-MM-DD", "2024-01-15" },
    { "2024-01-15 10:30:00", "YYYY-MM-DD", "2024-01-15" },
    { "2024-01-15T10:30:00Z", "YYYY-MM-DD", "2024-01-15" },
    { "15/01/2024", "DD/MM/YYYY", "2024-01-15" },
    { "1/2/2024", "DD/MM/YYYY", "2024-02-01" },
    { "01/15/2024", "MM/DD/YYYY", "2024-01-15" },
    { "15.01.2024", "DD.MM.YYYY", "2024-01-15" },
    { "15-01-2024", "DD-MM-YYYY", "2024-01-15" },
    { "01-15-2024", "MM-DD-YYYY", "2024-01-15" },
    { "2024/01/15", "YYYY/MM/DD", "2024-01-15" },
    { "15 Jan 2024", "DD MMM YYYY", "2024-01-15" },
    { "15-Jan-2024", "DD MMM YYYY", "2024-01-15" },
    { "15. M\xC3\xA4rz 2024", "DD MMM YYYY", "2024-03-15" },
    { "3 janv. 2024", "DD MMM YYYY", "2024-01-03" },
    { "3 f\xC3\xA9vr. 2024", "DD MMM YYYY", "2024-02-03" },
    { "12 ene 2024", "DD MMM YYYY", "2024-01-12" },
    { "12 okt 2024", "DD MMM YYYY", "2024-10-12" },
    { "12 mrt 2024", "DD MMM YYYY", "2024-03-12" },
    { "1 Dezember 2024", "DD MMM YYYY", "2024-12-01" },
    { "Jan 15, 2024", "MMM DD, YYYY", "2024-01-15" },
    { "September 9 2024", "MMM DD, YYYY", "2024-09-09" },
    { "20240115", "YYYYMMDD", "2024-01-15" },
    { "15/01/24", "DD/MM/YY", "2024-01-15" },
    { "01/15/99", "MM/DD/YY", "1999-01-15" },
    { "15.01.24", "DD.MM.YY", "2024-01-15" },
    { "15-01-24", "DD-MM-YY", "2024-01-15" },
    { "01-15-24", "MM-DD-YY", "2024-01-15" },
    { "15 Jan 24", "DD MMM YY", "2024-01-15" },
    { "Jan 15, 24", "MMM DD, YY", "2024-01-15" },
    { "29/02/2024", "DD/MM/YYYY", "2024-02-29" },
};

START_TEST(date_cells_parse_in_every_supported_format)
{
    char out[11];
    int f = csv_date_format_from_name(dates[_i].format);
    ck_assert_int_ge(f, 0);
    ck_assert_str_eq(csv_date_format_name(f), dates[_i].format);
    ck_assert_msg(csv_date_parse(dates[_i].cell, strlen(dates[_i].cell), f, out) == 0, "%s",
                  dates[_i].cell);
    ck_assert_str_eq(out, dates[_i].iso);
    ck_assert(csv_date_formats(dates[_i].cell, strlen(dates[_i].cell)) & (1u << f));
}
END_TEST

static const struct {
    const char *cell;
    const char *format;
} not_dates[] = {
    { "29/02/2023", "DD/MM/YYYY" }, { "31/04/2024", "DD/MM/YYYY" }, { "15/01/2024", "MM/DD/YYYY" },
    { "2024-13-01", "YYYY-MM-DD" }, { "15/01/2024", "DD/MM/YY" },   { "15/01/24", "DD/MM/YYYY" },
    { "15.01.2024", "DD/MM/YYYY" }, { "15 Foo 2024", "DD MMM YYYY" }, { "15 Ju 2024", "DD MMM YYYY" },
    { "2024-01-15x", "YYYY-MM-DD" }, { "12.50", "DD.MM.YY" },        { "20241315", "YYYYMMDD" },
    { "", "YYYY-MM-DD" },            { "Jan, 15 2024", "MMM DD, YYYY" },
};

START_TEST(impossible_or_mismatched_dates_are_refused)
{
    char out[11];
    int f = csv_date_format_from_name(not_dates[_i].format);
    ck_assert_int_ge(f, 0);
    ck_assert_msg(csv_date_parse(not_dates[_i].cell, strlen(not_dates[_i].cell), f, out) != 0, "%s as %s",
                  not_dates[_i].cell, not_dates[_i].format);
}
END_TEST

/* ---- Header vocabulary --------------------------------------------------------------------- */

static const struct {
    const char *name;
    enum csv_role role;
} headers[] = {
    { "Date", CSV_ROLE_DATE },              { "Datum", CSV_ROLE_DATE },
    { "Buchungstag", CSV_ROLE_DATE },       { "Valuta", CSV_ROLE_DATE },
    { "Fecha", CSV_ROLE_DATE },             { "Date d'op\xC3\xA9ration", CSV_ROLE_DATE },
    { "Transactiedatum", CSV_ROLE_DATE },   { "Boekdatum", CSV_ROLE_DATE },
    { "Transaction Date", CSV_ROLE_DATE },  { "Amount", CSV_ROLE_AMOUNT },
    { "Betrag", CSV_ROLE_AMOUNT },          { "Umsatz", CSV_ROLE_AMOUNT },
    { "Montant", CSV_ROLE_AMOUNT },         { "Importe", CSV_ROLE_AMOUNT },
    { "Bedrag (EUR)", CSV_ROLE_AMOUNT },    { "Debit", CSV_ROLE_DEBIT },
    { "Soll", CSV_ROLE_DEBIT },             { "D\xC3\xA9" "bit", CSV_ROLE_DEBIT },
    { "Cargo", CSV_ROLE_DEBIT },            { "Af", CSV_ROLE_DEBIT },
    { "Debit Amount", CSV_ROLE_DEBIT },     { "Montant d\xC3\xA9" "bit", CSV_ROLE_DEBIT },
    { "Paid out", CSV_ROLE_DEBIT },         { "Credit", CSV_ROLE_CREDIT },
    { "Haben", CSV_ROLE_CREDIT },           { "Cr\xC3\xA9" "dit", CSV_ROLE_CREDIT },
    { "Abono", CSV_ROLE_CREDIT },           { "Bij", CSV_ROLE_CREDIT },
    { "Paid in", CSV_ROLE_CREDIT },         { "Description", CSV_ROLE_DESCRIPTION },
    { "Verwendungszweck", CSV_ROLE_DESCRIPTION }, { "Buchungstext", CSV_ROLE_DESCRIPTION },
    { "Beschreibung", CSV_ROLE_DESCRIPTION }, { "Libell\xC3\xA9", CSV_ROLE_DESCRIPTION },
    { "Concepto", CSV_ROLE_DESCRIPTION },   { "Omschrijving", CSV_ROLE_DESCRIPTION },
    { "Mutatiesoort", CSV_ROLE_DESCRIPTION },
    { "Memo", CSV_ROLE_DESCRIPTION },       { "Details", CSV_ROLE_DESCRIPTION },
    { "Narrative", CSV_ROLE_DESCRIPTION },  { "Balance", CSV_ROLE_BALANCE },
    { "Saldo", CSV_ROLE_BALANCE },          { "Solde", CSV_ROLE_BALANCE },
    { "Kontostand", CSV_ROLE_BALANCE },     { "Currency", CSV_ROLE_CURRENCY },
    { "W\xC3\xA4hrung", CSV_ROLE_CURRENCY }, { "Devise", CSV_ROLE_CURRENCY },
    { "Moneda", CSV_ROLE_CURRENCY },        { "Munt", CSV_ROLE_CURRENCY },
    { "Reference", CSV_ROLE_REFERENCE },    { "Referenz", CSV_ROLE_REFERENCE },
    { "R\xC3\xA9" "f\xC3\xA9rence", CSV_ROLE_REFERENCE }, { "Af Bij", CSV_ROLE_INDICATOR },
    { "Af/Bij", CSV_ROLE_INDICATOR },       { "Debit/Credit", CSV_ROLE_INDICATOR },
    { "Dr/Cr", CSV_ROLE_INDICATOR },        { "S/H", CSV_ROLE_INDICATOR },
    { "Soll/Haben", CSV_ROLE_INDICATOR },   { "DATE", CSV_ROLE_DATE },
    { "  amount  ", CSV_ROLE_AMOUNT },      { "Mandatsreferenz", CSV_ROLE_NONE },
};

/* The other party's name and account, in their own columns (issue 15). */
static const struct {
    const char *name;
    enum csv_role role;
} party_headers[] = {
    { "Partnername", CSV_ROLE_COUNTERPARTY },
    { "Beguenstigter/Zahlungspflichtiger", CSV_ROLE_COUNTERPARTY },
    { "Beg\xC3\xBCnstigter", CSV_ROLE_COUNTERPARTY },
    { "Auftraggeber/Empf\xC3\xA4nger", CSV_ROLE_COUNTERPARTY },
    { "Empf\xC3\xA4nger", CSV_ROLE_COUNTERPARTY },
    { "Name Zahlungsbeteiligter", CSV_ROLE_COUNTERPARTY },
    { "Payee", CSV_ROLE_COUNTERPARTY },
    { "Name", CSV_ROLE_COUNTERPARTY },
    { "Merchant Name", CSV_ROLE_COUNTERPARTY },
    { "Counterparty", CSV_ROLE_COUNTERPARTY },
    { "Counter party", CSV_ROLE_COUNTERPARTY },
    { "Naam", CSV_ROLE_COUNTERPARTY },
    { "Naam / Omschrijving", CSV_ROLE_COUNTERPARTY },
    { "Naam tegenpartij", CSV_ROLE_COUNTERPARTY },
    { "Tegenrekening naam", CSV_ROLE_COUNTERPARTY },
    { "B\xC3\xA9n\xC3\xA9" "ficiaire", CSV_ROLE_COUNTERPARTY },
    { "Beneficiario", CSV_ROLE_COUNTERPARTY },
    { "Ordenante", CSV_ROLE_COUNTERPARTY },
    { "Partner neve", CSV_ROLE_COUNTERPARTY },
    { "\xEA\xB1\xB0\xEB\x9E\x98\xEC\xB2\x98", CSV_ROLE_COUNTERPARTY },                    /* 거래처 */
    { "\xEB\xB3\xB4\xEB\x82\xB8\xEB\xB6\x84/\xEB\xB0\x9B\xEB\x8A\x94\xEB\xB6\x84", CSV_ROLE_COUNTERPARTY }, /* 보낸분/받는분 */
    { "IBAN", CSV_ROLE_COUNTERPARTY_ACCOUNT },
    { "Tegenrekening", CSV_ROLE_COUNTERPARTY_ACCOUNT },
    { "Tegenrekening IBAN/BBAN", CSV_ROLE_COUNTERPARTY_ACCOUNT },
    { "Kontonummer/IBAN", CSV_ROLE_COUNTERPARTY_ACCOUNT },
    { "Kontonummer/IBAN des Partners", CSV_ROLE_COUNTERPARTY_ACCOUNT },
    { "IBAN Auftraggeber", CSV_ROLE_COUNTERPARTY_ACCOUNT },
    { "IBAN Zahlungsbeteiligter", CSV_ROLE_COUNTERPARTY_ACCOUNT },
    { "Counterparty account", CSV_ROLE_COUNTERPARTY_ACCOUNT },
    { "Payee account number", CSV_ROLE_COUNTERPARTY_ACCOUNT },
    { "Gegenkonto", CSV_ROLE_COUNTERPARTY_ACCOUNT },
    { "\xEC\x83\x81\xEB\x8C\x80\xEA\xB3\x84\xEC\xA2\x8C\xEB\xB2\x88\xED\x98\xB8", CSV_ROLE_COUNTERPARTY_ACCOUNT }, /* 상대계좌번호 */
    /* the holder's own account is neither */
    { "Account", CSV_ROLE_NONE },
    { "Account name", CSV_ROLE_NONE },
    { "IBAN/BBAN", CSV_ROLE_NONE },
    { "Rekening", CSV_ROLE_NONE },
    { "Auftragskonto", CSV_ROLE_NONE },
    /* Korean columns */
    { "\xEA\xB1\xB0\xEB\x9E\x98\xEC\x9D\xBC\xEC\x9E\x90", CSV_ROLE_DATE },            /* 거래일자 */
    { "\xEA\xB1\xB0\xEB\x9E\x98\xEC\x9D\xBC\xEC\x8B\x9C", CSV_ROLE_DATE },            /* 거래일시 */
    { "\xEC\xA0\x81\xEC\x9A\x94", CSV_ROLE_DESCRIPTION },                              /* 적요 */
    { "\xEB\x82\xB4\xEC\x9A\xA9", CSV_ROLE_DESCRIPTION },                              /* 내용 */
    { "\xEC\xB6\x9C\xEA\xB8\x88\xEC\x95\xA1(\xEC\x9B\x90)", CSV_ROLE_DEBIT },          /* 출금액(원) */
    { "\xEC\x9E\x85\xEA\xB8\x88\xEC\x95\xA1", CSV_ROLE_CREDIT },                      /* 입금액 */
    { "\xEA\xB1\xB0\xEB\x9E\x98\xEA\xB8\x88\xEC\x95\xA1", CSV_ROLE_AMOUNT },           /* 거래금액 */
};

START_TEST(header_names_of_the_other_party_are_its_columns)
{
    int w;
    enum csv_lang lang;
    enum csv_role role = csv_header_role(party_headers[_i].name, strlen(party_headers[_i].name), &w, &lang);
    ck_assert_msg(role == party_headers[_i].role, "%s: %s", party_headers[_i].name, csv_role_key(role));
}
END_TEST

/* ---- The other party's columns -------------------------------------------------------------- */

static int party_txn(void *ctx, const struct stmt_txn *t)
{
    struct collect *c = ctx;
    push(&c->rows, &c->nrows, fmt("%s|%s|%s", t->description, t->counterparty ? t->counterparty : "",
                                  t->counterparty_account ? t->counterparty_account : ""));
    return 0;
}

static const struct {
    const char *what;
    const char *text;
    const char *override;
    const char *rows;          /* "DESCRIPTION|COUNTERPARTY|ACCOUNT" per row, joined by '\n' */
    const char *mapping;       /* "counterparty" and "counterpartyAccount" of the mapping, as JSON */
} parties[] = {
    { "a payee column alone is the counterparty and describes the row",
      "Date,Payee,Amount\n2024-01-02,ACME Ltd,-5.00\n", NULL, "ACME Ltd|ACME Ltd|", "1 null" },
    { "a payee beside a description stays apart from it",
      "Date,Description,Payee,Amount\n2024-01-02,Card payment,ACME Ltd,-5.00\n", NULL,
      "Card payment|ACME Ltd|", "2 null" },
    { "a mapping without a counterparty puts the column back into the description",
      "Date,Description,Payee,Amount\n2024-01-02,Card payment,ACME Ltd,-5.00\n", "{\"counterparty\":null}",
      "Card payment ACME Ltd||", "null null" },
    { "a mapping can name the counterparty and its account",
      "Date,Text,Who,Where,Amount\n2024-01-02,Transfer,J Smith,GB29NWBK60161331926819,-5.00\n",
      "{\"counterparty\":2,\"counterpartyAccount\":3}", "Transfer|J Smith|GB29NWBK60161331926819", "2 3" },
    { "the counterparty's account is given as the file writes it",
      "Date,Name,Counterparty account,Amount\n2024-01-02,J Smith,GB29 NWBK 6016 1331 9268 19,-5.00\n"
      "2024-01-03,,,-1.00\n", NULL, "J Smith|J Smith|GB29 NWBK 6016 1331 9268 19\n||", "1 2" },
    { "a second column naming a party joins the description",
      "Datum;Auftraggeber/Empf\xC3\xA4nger;Name;Betrag\n01.03.2024;REWE Markt GmbH;Filiale 4711;-5,00\n", NULL,
      "Filiale 4711|REWE Markt GmbH|", "1 null" },
};

START_TEST(the_other_partys_columns_become_counterparty_and_account)
{
    struct collect c = { 0 };
    struct stmt_error err;
    json_t *cols = NULL;
    json_t *ov = NULL;
    if (parties[_i].override != NULL)
        ck_assert_ptr_nonnull(ov = json_loads(parties[_i].override, 0, NULL));
    FILE *f = fmemopen((void *)parties[_i].text, strlen(parties[_i].text), "r");
    ck_assert_ptr_nonnull(f);
    struct stmt_sink sink = { party_txn, collect_warning, &c };
    int rc = csv_parse(f, ov, "EUR", &cols, &sink, &err);
    fclose(f);
    json_decref(ov);
    ck_assert_msg(rc == 0, "%s: %s", parties[_i].what, err.message);
    size_t len = 0;
    for (size_t i = 0; i < c.nrows; i++)
        len += strlen(c.rows[i]) + 1;
    char *all = calloc(1, len + 1);
    ck_assert_ptr_nonnull(all);
    for (size_t i = 0; i < c.nrows; i++) {
        if (i > 0)
            strcat(all, "\n");
        strcat(all, c.rows[i]);
    }
    ck_assert_msg(strcmp(all, parties[_i].rows) == 0, "%s: got\n%s", parties[_i].what, all);
    char *m = json_dumps(json_object_get(cols, "counterparty"), JSON_ENCODE_ANY);
    char *ma = json_dumps(json_object_get(cols, "counterpartyAccount"), JSON_ENCODE_ANY);
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(ma);
    char *both = fmt("%s %s", m, ma);
    ck_assert_msg(strcmp(both, parties[_i].mapping) == 0, "%s: mapping %s", parties[_i].what, both);
    free(both);
    free(m);
    free(ma);
    free(all);
    json_decref(cols);
    collect_free(&c);
}
END_TEST

START_TEST(a_mapping_may_not_give_the_counterparty_a_column_already_used)
{
    struct csv_override ov;
    struct stmt_error err;
    json_t *o = json_loads("{\"counterparty\":1,\"description\":[1]}", 0, NULL);
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(csv_override_parse(o, &ov, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.message, "counterparty"));
    json_decref(o);
    o = json_loads("{\"counterpartyAccount\":\"IBAN\"}", 0, NULL);
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(csv_override_parse(o, &ov, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.message, "counterpartyAccount"));
    json_decref(o);
}
END_TEST

START_TEST(header_names_are_understood_in_five_languages)
{
    int w;
    enum csv_lang lang;
    enum csv_role role = csv_header_role(headers[_i].name, strlen(headers[_i].name), &w, &lang);
    ck_assert_msg(role == headers[_i].role, "%s: %s", headers[_i].name, csv_role_key(role));
}
END_TEST

START_TEST(booking_dates_outweigh_value_dates)
{
    int wb, wv, wd, wvd;
    enum csv_lang lang;
    csv_header_role("Buchungstag", 11, &wb, &lang);
    csv_header_role("Valuta", 6, &wv, &lang);
    csv_header_role("Date", 4, &wd, &lang);
    csv_header_role("Value Date", 10, &wvd, &lang);
    ck_assert_int_gt(wb, wv);
    ck_assert_int_gt(wd, wvd);
}
END_TEST

START_TEST(balance_and_total_cells_are_recognised)
{
    const char *balance[] = { "Opening balance", "CLOSING BALANCE", "Anfangssaldo", "Endsaldo",
                              "Solde initial", "Saldo inicial", "Beginsaldo", "Kontostand am 31.01.2024",
                              "Balance brought forward" };
    const char *total[] = { "Total", "Summe", "TOTAL:", "Totaal" };
    const char *neither[] = { "TOTAL ACCESS 1234", "Saldo transfer fee", "Opening hours shop", "" };
    for (size_t i = 0; i < sizeof balance / sizeof balance[0]; i++)
        ck_assert_msg(csv_summary_kind(balance[i], strlen(balance[i])) == CSV_SUMMARY_BALANCE, "%s", balance[i]);
    for (size_t i = 0; i < sizeof total / sizeof total[0]; i++)
        ck_assert_msg(csv_summary_kind(total[i], strlen(total[i])) == CSV_SUMMARY_TOTAL, "%s", total[i]);
    for (size_t i = 0; i < sizeof neither / sizeof neither[0]; i++)
        ck_assert_msg(csv_summary_kind(neither[i], strlen(neither[i])) == CSV_SUMMARY_NONE, "%s", neither[i]);
}
END_TEST

/* ---- Fixtures ---------------------------------------------------------------------------------- */

static const char *const fixtures[] = {
    "uk_comma_balance",        "de_semicolon_preamble",   "nl_ing_afbij",
    "fr_tab_debit_credit",     "es_semicolon_signs",      "us_pipe_mdy",
    "noheader_running_balance", "crlf_multiline_footer",  "indicator_drcr",
    "de_soll_haben_yy",        "currency_cells",          "currency_column_wins",
    "ambiguous_dates_english", "ambiguous_dates_comma",   "month_first_names",
    "de_month_names",          "swiss_apostrophe",        "card_negate",
    "empty",                   "header_only",             "no_date",
    "no_amount",               "mostly_bad",
};

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(m);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ck_assert_uint_eq(fwrite(chunk, 1, n, m), n);
    fclose(f);
    fclose(m);
    return buf;
}

START_TEST(each_fixture_gives_exactly_its_expected_rows_warnings_and_mapping)
{
    const char *name = fixtures[_i];
    char *csv_path = fmt("%s/%s.csv", CSV_FIXTURES, name);
    char *exp_path = fmt("%s/%s.expected", CSV_FIXTURES, name);
    char *text = slurp(csv_path);
    char *exp = slurp(exp_path);
    char *override = NULL, *currency = NULL, *error = NULL;
    long error_line = -1;
    /* first the options */
    for (char *line = exp; *line;) {
        char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (strncmp(line, "option override ", 16) == 0)
            override = strndup(line + 16, len - 16);
        else if (strncmp(line, "option currency ", 16) == 0)
            currency = strndup(line + 16, len - 16);
        else if (strncmp(line, "error ", 6) == 0) {
            char *sp;
            error_line = strtol(line + 6, &sp, 10);
            error = strndup(sp + 1, len - (size_t)(sp + 1 - line));
        }
        line = end ? end + 1 : line + len;
    }
    struct collect c = { 0 };
    struct stmt_error err;
    json_t *cols = NULL;
    int rc = parse_text(text, override, currency ? currency : "", &c, &cols, &err);
    if (error != NULL) {
        ck_assert_msg(rc == -1, "%s: parsed, expected an error", name);
        ck_assert_msg(strstr(err.message, error) != NULL, "%s: error [%s]", name, err.message);
        ck_assert_int_eq(err.line, error_line);
        /* rows the sink received before a late refusal are the caller's to discard */
    } else {
        ck_assert_msg(rc == 0, "%s: line %ld: %s", name, err.line, err.message);
    }
    size_t nrow = 0, nwarn = 0;
    for (char *line = exp; *line;) {
        char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char *l = strndup(line, len);
        if (strncmp(l, "row ", 4) == 0) {
            ck_assert_msg(nrow < c.nrows, "%s: missing row %s", name, l + 4);
            ck_assert_msg(strcmp(c.rows[nrow], l + 4) == 0, "%s: row %zu is [%s], expected [%s]", name,
                          nrow, c.rows[nrow], l + 4);
            nrow++;
        } else if (strncmp(l, "warn ", 5) == 0) {
            char *sp;
            long wl = strtol(l + 5, &sp, 10);
            ck_assert_msg(nwarn < c.nwarns, "%s: missing warning %s", name, l + 5);
            ck_assert_msg(strtol(c.warns[nwarn], NULL, 10) == wl && strstr(c.warns[nwarn], sp + 1) != NULL,
                          "%s: warning %zu is [%s], expected [%s]", name, nwarn, c.warns[nwarn], l + 5);
            nwarn++;
        } else if (strncmp(l, "count ", 6) == 0) {
            ck_assert_uint_eq(c.nrows, strtoul(l + 6, NULL, 10));
        } else if (strncmp(l, "total ", 6) == 0) {
            ck_assert_msg(c.total == strtoll(l + 6, NULL, 10), "%s: total %lld", name, c.total);
        } else if (strncmp(l, "map ", 4) == 0) {
            char *key = l + 4, *val = strchr(key, ' ');
            ck_assert_ptr_nonnull(val);
            *val++ = '\0';
            json_error_t je;
            json_t *want = json_loads(val, JSON_DECODE_ANY, &je);
            ck_assert_msg(want != NULL, "%s: bad expectation %s", name, val);
            ck_assert_msg(cols != NULL, "%s: no mapping reported", name);
            json_t *got = json_object_get(cols, key);
            char *gs = got ? json_dumps(got, JSON_ENCODE_ANY) : strdup("(missing)");
            ck_assert_msg(got != NULL && json_equal(got, want), "%s: mapping %s is %s, expected %s", name,
                          key, gs, val);
            free(gs);
            json_decref(want);
        }
        free(l);
        line = end ? end + 1 : line + len;
    }
    ck_assert_msg(error != NULL || nrow == c.nrows, "%s: %zu rows, expected %zu (extra: %s)", name, c.nrows, nrow,
                  c.nrows > nrow ? c.rows[nrow] : "");
    ck_assert_msg(error != NULL || nwarn == c.nwarns, "%s: %zu warnings, expected %zu (extra: %s)", name, c.nwarns, nwarn,
                  c.nwarns > nwarn ? c.warns[nwarn] : "");
    if (cols != NULL) {
        const char *fp = json_string_value(json_object_get(cols, "fingerprint"));
        ck_assert_ptr_nonnull(fp);
        ck_assert_uint_eq(strlen(fp), 64);
    }
    json_decref(cols);
    collect_free(&c);
    free(override);
    free(currency);
    free(error);
    free(text);
    free(exp);
    free(csv_path);
    free(exp_path);
}
END_TEST

/* ---- Inference on small tables ----------------------------------------------------------------- */

static const struct {
    const char *what;
    const char *text;
    const char *rows;   /* expected rows joined by '\n' */
} small[] = {
    { "a header in an unknown language is still skipped",
      "Data;Opis;Kwota\n2024-01-02;Sklep;-12,50\n2024-01-03;Wyplata;1000,00\n",
      "2|2024-01-02|-1250||Sklep|\n3|2024-01-03|100000||Wyplata|" },
    { "no header and separate debit and credit columns",
      "2024-01-02,Shop,12.50,\n2024-01-03,Salary,,1000.00\n2024-01-04,Cafe,3.20,\n",
      "1|2024-01-02|-1250||Shop|\n2|2024-01-03|100000||Salary|\n3|2024-01-04|-320||Cafe|" },
    { "newest-first running balance is still a balance",
      "05/03/2024;Rent;900,00;-300,00\n03/03/2024;Shop;1200,00;-7,99\n02/03/2024;Salary;1207,99;100,50\n",
      "1|2024-03-05|-30000||Rent|\n2|2024-03-03|-799||Shop|\n3|2024-03-02|10050||Salary|" },
    { "a merchant called TOTAL is a transaction when it has a date",
      "Date,Description,Amount\n2024-01-02,TOTAL,-40.00\n,Total,-40.00\n",
      "2|2024-01-02|-4000||TOTAL|" },
    { "a repeated header row is skipped",
      "Date,Description,Amount\n2024-01-02,A,1.00\nDate,Description,Amount\n2024-01-03,B,2.00\n",
      "2|2024-01-02|100||A|\n4|2024-01-03|200||B|" },
    { "a Dutch Valuta column holding currency codes is the currency",
      "Boekdatum;Omschrijving;Valuta;Bedrag\n02-01-2024;Winkel;EUR;-5,00\n13-01-2024;Loon;EUR;10,00\n",
      "2|2024-01-02|-500|EUR|Winkel|\n3|2024-01-13|1000|EUR|Loon|" },
    { "a Money out / Money in pair and Balance",
      "Date,Type,Description,Money Out,Money In,Balance\n"
      "01 Mar 2024,DD,GYM,30.00,,970.00\n02 Mar 2024,BGC,PAY,,1500.00,2470.00\n",
      "2|2024-03-01|-3000||GYM|\n3|2024-03-02|150000||PAY|" },
    { "an unsigned amount takes its sign from a type column of DEBIT/CREDIT",
      "Date,Description,Amount,Transaction Type\n2024-01-02,Shop,12.50,DEBIT\n2024-01-03,Pay,100.00,CREDIT\n",
      "2|2024-01-02|-1250||Shop|\n3|2024-01-03|10000||Pay|" },
    { "numbers that only ever show a 3-digit group read as thousands (comma)",
      "Date;Payee;Amount\n2024-01-02;Shop;1,234\n2024-01-03;Rent;-2,500\n",
      "2|2024-01-02|123400||Shop|\n3|2024-01-03|-250000||Rent|" },
    { "numbers that only ever show a 3-digit group read as thousands (point)",
      "Datum;Text;Betrag\n02.01.2024;Laden;3.000\n03.01.2024;Miete;-1.250\n",
      "2|2024-01-02|300000||Laden|\n3|2024-01-03|-125000||Miete|" },
    { "a column of C's beside signed amounts is not a DR/CR marker",
      "Date,Description,Amount,Cleared\n2024-01-02,Shop,-12.50,C\n2024-01-03,Pay,100.00,C\n",
      "2|2024-01-02|-1250||Shop|\n3|2024-01-03|10000||Pay|" },
    { "descriptions are trimmed and their whitespace collapsed",
      "Date,Description,Amount\n2024-01-02,\"  Caf\xC3\xA9\t  de\n la  Gare \",-3.00\n",
      "2|2024-01-02|-300||Caf\xC3\xA9 de la Gare|" },
};

START_TEST(small_tables_are_read_as_a_person_would)
{
    struct collect c = { 0 };
    struct stmt_error err;
    int rc = parse_text(small[_i].text, NULL, "", &c, NULL, &err);
    ck_assert_msg(rc == 0, "%s: line %ld: %s", small[_i].what, err.line, err.message);
    char got[2048] = "";
    size_t w = 0;
    for (size_t i = 0; i < c.nrows; i++)
        w += (size_t)snprintf(got + w, sizeof got - w, "%s%s", i ? "\n" : "", c.rows[i]);
    ck_assert_msg(strcmp(got, small[_i].rows) == 0, "%s:\n%s", small[_i].what, got);
    collect_free(&c);
}
END_TEST

/* ---- The override ---------------------------------------------------------------------------------- */

static const char *const noheader = "2024-01-02,Shop,12.50,987.50,R1\n2024-01-03,Cafe,3.20,984.30,R2\n";

static const struct {
    const char *what;
    const char *override;
    const char *error;      /* NULL = must parse */
    const char *rows;
} overrides[] = {
    { "given columns win", "{\"date\":0,\"description\":[1,4],\"amount\":2,\"balance\":3,\"negate\":true}", NULL,
      "1|2024-01-02|-1250||Shop R1|\n2|2024-01-03|-320||Cafe R2|" },
    { "the reported mapping can be sent back as is",
      "{\"delimiter\":\",\",\"headerLine\":0,\"columns\":[\"a\"],\"fingerprint\":\"x\",\"date\":0,"
      "\"description\":[1],\"amount\":2,\"debit\":null,\"credit\":null,\"indicator\":null,\"currency\":null,"
      "\"balance\":3,\"reference\":4,\"dateFormat\":\"YYYY-MM-DD\",\"decimal\":\".\",\"thousands\":\"\","
      "\"negate\":false}", NULL,
      "1|2024-01-02|1250||Shop|R1\n2|2024-01-03|320||Cafe|R2" },
    { "a debit column given alone", "{\"debit\":2}", NULL,
      "1|2024-01-02|-1250||Shop|\n2|2024-01-03|-320||Cafe|" },
    { "a header line given", "{\"headerLine\":1}", NULL, "2|2024-01-03|320||Cafe|" },
    { "the amount out of range", "{\"amount\":9}", "'amount' is column 9 but the file has 5 columns", NULL },
    { "a negative index", "{\"date\":-1}", "'date' must be a column index", NULL },
    { "a string index", "{\"date\":\"0\"}", "'date' must be a column index", NULL },
    { "an unknown date format", "{\"dateFormat\":\"DD/MM/YYYYY\"}", "'dateFormat' is not a known", NULL },
    { "a bad decimal", "{\"decimal\":\";\"}", "'decimal' must be one of", NULL },
    { "decimal equals thousands", "{\"decimal\":\",\",\"thousands\":\",\"}", "must differ", NULL },
    { "a bad delimiter", "{\"delimiter\":\"ab\"}", "'delimiter' must be one of", NULL },
    { "amount and debit together", "{\"amount\":2,\"debit\":3}", "either 'amount' or 'debit'", NULL },
    { "two roles on one column", "{\"date\":0,\"amount\":0}", "'date' and 'amount' use the same column", NULL },
    { "an unknown key", "{\"colour\":1}", "unknown key 'colour'", NULL },
    { "not an object", "[1]", "must be a JSON object", NULL },
    { "negate not a boolean", "{\"negate\":1}", "'negate' must be true or false", NULL },
    { "a header line past the end", "{\"headerLine\":7}", "'headerLine' 7 is not the first line", NULL },
    { "description repeats a column", "{\"description\":[1,1]}", "lists column 1 twice", NULL },
    { "indicator without amount", "{\"amount\":null,\"indicator\":1}", "'indicator' needs an 'amount'", NULL },
};

START_TEST(the_users_mapping_overrides_inference_and_is_validated)
{
    struct collect c = { 0 };
    struct stmt_error err;
    json_t *cols = NULL;
    int rc = parse_text(noheader, overrides[_i].override, "", &c, &cols, &err);
    if (overrides[_i].error != NULL) {
        ck_assert_msg(rc == -1, "%s: accepted", overrides[_i].what);
        ck_assert_msg(strstr(err.message, overrides[_i].error) != NULL, "%s: [%s]", overrides[_i].what,
                      err.message);
        ck_assert_msg(strncmp(err.message, "mapping: ", 9) == 0, "%s", err.message);
    } else {
        ck_assert_msg(rc == 0, "%s: %s", overrides[_i].what, err.message);
        char got[1024] = "";
        size_t w = 0;
        for (size_t i = 0; i < c.nrows; i++)
            w += (size_t)snprintf(got + w, sizeof got - w, "%s%s", i ? "\n" : "", c.rows[i]);
        ck_assert_msg(strcmp(got, overrides[_i].rows) == 0, "%s:\n%s", overrides[_i].what, got);
        /* the reported mapping, sent back, gives the same rows */
        char *again = json_dumps(cols, JSON_COMPACT);
        struct collect c2 = { 0 };
        json_t *cols2 = NULL;
        ck_assert_int_eq(parse_text(noheader, again, "", &c2, &cols2, &err), 0);
        ck_assert_uint_eq(c2.nrows, c.nrows);
        for (size_t i = 0; i < c.nrows; i++)
            ck_assert_str_eq(c2.rows[i], c.rows[i]);
        ck_assert(json_equal(cols, cols2));
        json_decref(cols2);
        free(again);
        collect_free(&c2);
    }
    json_decref(cols);
    collect_free(&c);
}
END_TEST

START_TEST(the_mapping_is_reported_when_the_amount_column_is_missing)
{
    struct collect c = { 0 };
    struct stmt_error err;
    json_t *cols = NULL;
    ck_assert_int_eq(parse_text("Datum;Text\n01.02.2024;a\n02.02.2024;b\n", NULL, "", &c, &cols, &err), -1);
    ck_assert_str_eq(err.message, "no column with amounts was found");
    ck_assert_ptr_nonnull(cols);
    ck_assert_int_eq(json_integer_value(json_object_get(cols, "date")), 0);
    ck_assert(json_is_null(json_object_get(cols, "amount")));
    ck_assert_str_eq(json_string_value(json_object_get(cols, "delimiter")), ";");
    json_decref(cols);
    collect_free(&c);
}
END_TEST

/* ---- Fingerprint ------------------------------------------------------------------------------------- */

static void sha256_hex(const char *s, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int len = 0;
    ck_assert_int_eq(EVP_Digest(s, n, md, &len, EVP_sha256(), NULL), 1);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

START_TEST(the_fingerprint_is_the_hash_of_the_normalised_header)
{
    char want[65], got[65];
    const char *names[] = { " Date ", "DESCRIPTION", "Amount  (EUR)" };
    const char *joined = "date\x1f" "description\x1f" "amount (eur)";
    sha256_hex(joined, strlen(joined), want);
    ck_assert_int_eq(csv_fingerprint(names, 3, 3, ',', got), 0);
    ck_assert_str_eq(got, want);
    sha256_hex("4\x1f;", 3, want);
    ck_assert_int_eq(csv_fingerprint(NULL, 0, 4, ';', got), 0);
    ck_assert_str_eq(got, want);

    /* the same header in another file: the same fingerprint */
    struct collect c = { 0 };
    struct stmt_error err;
    json_t *a = NULL, *b = NULL;
    ck_assert_int_eq(parse_text("Date,Description,Amount\n2024-01-01,x,1\n", NULL, "", &c, &a, &err), 0);
    ck_assert_int_eq(parse_text("Preamble\n\ndate , description,AMOUNT\n2024-02-01,y,2\n", NULL, "", &c, &b, &err), 0);
    ck_assert_str_eq(json_string_value(json_object_get(a, "fingerprint")),
                     json_string_value(json_object_get(b, "fingerprint")));
    json_decref(a);
    json_decref(b);
    collect_free(&c);
}
END_TEST

START_TEST(the_layout_fingerprint_is_cheap_and_equals_what_the_parse_reports)
{
    const char *files[] = { "uk_comma_balance", "de_semicolon_preamble", "noheader_running_balance",
                            "fr_tab_debit_credit" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char *path = fmt("%s/%s.csv", CSV_FIXTURES, files[i]);
        char *text = slurp(path);
        FILE *f = fmemopen(text, strlen(text), "r");
        ck_assert_ptr_nonnull(f);
        char fp[65];
        struct stmt_error err;
        ck_assert_int_eq(csv_layout_fingerprint(f, fp, &err), 0);
        ck_assert_int_eq(ftell(f), 0);
        struct collect c = { 0 };
        json_t *cols = NULL;
        ck_assert_int_eq(parse_text(text, NULL, "", &c, &cols, &err), 0);
        ck_assert_str_eq(fp, json_string_value(json_object_get(cols, "fingerprint")));
        json_decref(cols);
        collect_free(&c);
        fclose(f);
        free(text);
        free(path);
    }
    /* an override that moves the header keeps the file's own fingerprint */
    const char *text = "Account;1\nDate;Text;Amount\n2024-01-02;a;1,00\n2024-01-03;b;2,00\n";
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    char fp[65];
    struct stmt_error err;
    ck_assert_int_eq(csv_layout_fingerprint(f, fp, &err), 0);
    fclose(f);
    struct collect c = { 0 };
    json_t *cols = NULL;
    ck_assert_int_eq(parse_text(text, "{\"headerLine\":0,\"delimiter\":\";\",\"date\":0,\"amount\":2}", "",
                                &c, &cols, &err), 0);
    ck_assert_uint_eq(c.nrows, 2);
    ck_assert_str_eq(fp, json_string_value(json_object_get(cols, "fingerprint")));
    json_decref(cols);
    collect_free(&c);
    ck_assert_int_eq(csv_layout_fingerprint(NULL, fp, &err), -1);
}
END_TEST

/* ---- Errors and the sink ---------------------------------------------------------------------------------- */

START_TEST(a_sink_that_stops_ends_the_parse_with_an_error)
{
    struct collect c = { .stop_after = 1 };
    struct stmt_error err;
    ck_assert_int_eq(parse_text("Date,Description,Amount\n2024-01-01,a,1\n2024-01-02,b,2\n", NULL, "", &c, NULL, &err), -1);
    ck_assert_str_eq(err.message, "stopped");
    ck_assert_int_eq(err.line, 2);
    ck_assert_uint_eq(c.nrows, 1);
    collect_free(&c);
}
END_TEST

START_TEST(the_default_currency_applies_only_where_the_file_names_none)
{
    struct collect c = { 0 };
    struct stmt_error err;
    ck_assert_int_eq(parse_text("Date,Description,Amount\n2024-01-01,a,1.00\n2024-01-02,b,\xC2\xA3" "2.00\n",
                                NULL, "EUR", &c, NULL, &err), 0);
    ck_assert_uint_eq(c.nrows, 2);
    ck_assert_str_eq(c.rows[0], "2|2024-01-01|100|EUR|a|");
    ck_assert_str_eq(c.rows[1], "3|2024-01-02|200|GBP|b|");
    collect_free(&c);
    ck_assert_int_eq(parse_text("Date,Description,Amount\n2024-01-01,a,1.00\n", NULL, "euro", &c, NULL, &err), -1);
    ck_assert_str_eq(err.message, "the default currency is not an ISO 4217 code");
    ck_assert_int_eq(parse_text("Date,Description,Amount\n2024-01-01,a,1500\n", NULL, "JPY", &c, NULL, &err), 0);
    ck_assert_str_eq(c.rows[0], "2|2024-01-01|1500|JPY|a|");
    collect_free(&c);
}
END_TEST

START_TEST(warnings_and_errors_never_quote_row_contents)
{
    const char *text = "Date,Description,Amount\n"
                       "2024-01-01,SECRET-A,1.00\n2024-01-02,SECRET-B,SECRET-C\n2024-99-02,SECRET-D,1.00\n"
                       "2024-01-03,SECRET-E,2.00\n2024-01-04,SECRET-F,3.00\nSECRET-G\n,Opening balance SECRET-H,,\n";
    struct collect c = { 0 };
    struct stmt_error err;
    ck_assert_int_eq(parse_text(text, NULL, "", &c, NULL, &err), 0);
    ck_assert_uint_eq(c.nrows, 3);
    ck_assert_uint_eq(c.nwarns, 4);
    for (size_t i = 0; i < c.nwarns; i++)
        ck_assert_msg(strstr(c.warns[i], "SECRET") == NULL, "%s", c.warns[i]);
    ck_assert_str_eq(c.warns[0], "3 line 3: the amount is not a number; row skipped");
    ck_assert_str_eq(c.warns[1], "4 line 4: the date is not in the format YYYY-MM-DD; row skipped");
    collect_free(&c);
    ck_assert_int_eq(parse_text("Date,Description,Amount\n2024-01-01,SECRET,x\n2024-01-02,SECRET,y\n2024-01-03,SECRET,1\n", "{\"amount\":2}", "", &c, NULL, &err), -1);
    ck_assert_ptr_null(strstr(err.message, "SECRET"));
    collect_free(&c);
}
END_TEST

START_TEST(warnings_stop_at_a_limit)
{
    char *text = repeat("Date,Description,Amount\n2024-01-01,a,1\n2024-01-01,a,1\n2024-01-01,a,1\n",
                        "note only\n", CSV_MAX_WARNINGS + 50, "");
    struct collect c = { 0 };
    struct stmt_error err;
    ck_assert_int_eq(parse_text(text, NULL, "", &c, NULL, &err), 0);
    ck_assert_uint_eq(c.nrows, 3);
    ck_assert_uint_eq(c.nwarns, CSV_MAX_WARNINGS + 1);
    ck_assert_ptr_nonnull(strstr(c.warns[CSV_MAX_WARNINGS], "not listed"));
    collect_free(&c);
    free(text);
}
END_TEST

START_TEST(only_preamble_lines_is_not_a_table)
{
    struct collect c = { 0 };
    struct stmt_error err;
    ck_assert_int_eq(parse_text("Account 12345678\nStatement for January\n", NULL, "", &c, NULL, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.message, "not a delimited table"));
    ck_assert_int_eq(parse_text("\n\n\r\n", NULL, "", &c, NULL, &err), -1);
    ck_assert_str_eq(err.message, "the file is empty");
    collect_free(&c);
}
END_TEST

/* ---- Size ----------------------------------------------------------------------------------------------------- */

struct counter {
    long rows;
    long long total;
};

static int count_txn(void *ctx, const struct stmt_txn *t)
{
    struct counter *c = ctx;
    c->rows++;
    c->total += t->amount_minor;
    return 0;
}

START_TEST(a_million_rows_parse_in_bounded_memory)
{
    const long n = 1000000;
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    fputs("Statement\n\nDatum;Omschrijving;Bedrag;Saldo\n", f);
    long long expect = 0, bal = 0;
    for (long i = 0; i < n; i++) {
        long cents = (i % 7 == 0 ? 1 : -1) * (i % 100000 + 1);
        expect += cents;
        bal += cents;
        long mag = cents < 0 ? -cents : cents;
        long long bmag = bal < 0 ? -bal : bal;
        fprintf(f, "%02ld-%02ld-2024;Row %ld;%s%ld,%02ld;%s%lld,%02lld\n", i % 28 + 1, i % 12 + 1, i,
                cents < 0 ? "-" : "", mag / 100, mag % 100, bal < 0 ? "-" : "", bmag / 100, bmag % 100);
    }
    ck_assert_int_eq(fflush(f), 0);
    rewind(f);
    struct rusage before, after;
    ck_assert_int_eq(getrusage(RUSAGE_SELF, &before), 0);
    struct counter c = { 0, 0 };
    struct stmt_sink sink = { count_txn, NULL, &c };
    struct stmt_error err;
    json_t *cols = NULL;
    int rc = csv_parse(f, NULL, "EUR", &cols, &sink, &err);
    ck_assert_msg(rc == 0, "line %ld: %s", err.line, err.message);
    ck_assert_int_eq(getrusage(RUSAGE_SELF, &after), 0);
    ck_assert_int_eq(c.rows, n);
    ck_assert_int_eq(c.total, expect);
    ck_assert_int_eq(json_integer_value(json_object_get(cols, "amount")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(cols, "balance")), 3);
    /* the file is ~40 MB; the parser holds a record and counters */
    ck_assert_msg(after.ru_maxrss - before.ru_maxrss < 16 * 1024, "grew by %ld kB",
                  after.ru_maxrss - before.ru_maxrss);
    json_decref(cols);
    fclose(f);
}
END_TEST

/* A ~10 MB statement whose day/month order only its second half settles (a
 * day > 12 first appears there), with a running balance; `multiline` puts
 * newlines inside quoted descriptions, so the middle of the file may fall
 * inside a field.  Returns the file (rewound). */
static FILE *halves_file(bool multiline, long n)
{
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    fprintf(f, "Date,Description,Amount,Balance\n");
    long long bal = 100000;
    for (long i = 0; i < n; i++) {
        long cents = (i % 5 == 0 ? 1 : -1) * (i % 9000 + 1);
        bal += cents;
        int day = i < n * 3 / 4 ? (int)(i % 12) + 1 : (int)(i % 28) + 1;
        long mag = cents < 0 ? -cents : cents;
        long long bmag = bal < 0 ? -bal : bal;
        if (multiline)
            fprintf(f, "%02d/%02ld/2024,\"SHOP %ld\nBRANCH\n%ld\",%s%ld.%02ld,%s%lld.%02lld\n", day, i % 12 + 1, i, i % 97,
                    cents < 0 ? "-" : "", mag / 100, mag % 100, bal < 0 ? "-" : "", bmag / 100, bmag % 100);
        else
            fprintf(f, "%02d/%02ld/2024,SHOP %ld,%s%ld.%02ld,%s%lld.%02lld\n", day, i % 12 + 1, i,
                    cents < 0 ? "-" : "", mag / 100, mag % 100, bal < 0 ? "-" : "", bmag / 100, bmag % 100);
    }
    ck_assert_int_eq(fflush(f), 0);
    rewind(f);
    return f;
}

static json_t *parse_file(FILE *f, struct counter *c)
{
    struct stmt_sink sink = { count_txn, NULL, c };
    struct stmt_error err;
    json_t *cols = NULL;
    rewind(f);
    int rc = csv_parse(f, NULL, "EUR", &cols, &sink, &err);
    ck_assert_msg(rc == 0, "line %ld: %s", err.line, err.message);
    return cols;
}

/* Where the second thread starts (after the first newline past the middle)
 * and whether a record starts there (an even number of quotes before it: the
 * generated files have no doubled quotes). */
static bool seam_is_a_record_start(FILE *f)
{
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f), quotes = 0, pos = 0;
    rewind(f);
    int c;
    while ((c = getc(f)) != EOF && pos < size / 2) {
        quotes += c == '"';
        pos++;
    }
    while (c != EOF && c != '\n') {   /* up to and including the newline after the middle */
        quotes += c == '"';
        c = getc(f);
    }
    rewind(f);
    return quotes % 2 == 0;
}

START_TEST(a_large_file_counted_in_two_halves_infers_what_one_pass_infers)
{
    /* plain rows (the seam is always a record start), then rows with newlines
     * inside quotes: one file whose seam falls inside a field and one whose
     * seam does not */
    bool seen[2] = { false, false };
    for (long n = 260000, tries = 0; tries < 3 || !(seen[0] && seen[1]); n++, tries++) {
        ck_assert_msg(tries < 40, "no multi-line file with both kinds of seam");
        bool multiline = tries > 0;
        FILE *f = halves_file(multiline, n);
        bool boundary = seam_is_a_record_start(f);
        if (multiline && seen[boundary]) {
            fclose(f);
            continue;
        }
        if (multiline)
            seen[boundary] = true;
        else
            ck_assert(boundary);
        long joined = csv_stats_halves_joined();
        struct counter two = { 0, 0 }, one = { 0, 0 };
        json_t *cols2 = parse_file(f, &two);
        /* the halves are joined exactly when the seam is a record start */
        ck_assert_int_eq(csv_stats_halves_joined(), joined + (boundary ? 1 : 0));
        ck_assert_int_eq(setenv("SMARTIMPORT_CSV_SERIAL_STATS", "1", 1), 0);
        joined = csv_stats_halves_joined();
        json_t *cols1 = parse_file(f, &one);
        ck_assert_int_eq(unsetenv("SMARTIMPORT_CSV_SERIAL_STATS"), 0);
        ck_assert_int_eq(csv_stats_halves_joined(), joined);            /* one pass, one thread */
        char *a = json_dumps(cols2, JSON_SORT_KEYS), *b = json_dumps(cols1, JSON_SORT_KEYS);
        ck_assert_msg(json_equal(cols2, cols1), "two halves: %s\none pass:  %s", a, b);
        free(a);
        free(b);
        /* the day/month order was settled by the second half */
        ck_assert_str_eq(json_string_value(json_object_get(cols2, "dateFormat")), "DD/MM/YYYY");
        ck_assert_int_eq(json_integer_value(json_object_get(cols2, "balance")), 3);
        ck_assert_int_eq(two.rows, n);
        ck_assert_int_eq(two.rows, one.rows);
        ck_assert_int_eq(two.total, one.total);
        json_decref(cols1);
        json_decref(cols2);
        fclose(f);
    }
}
END_TEST

/* An error in the second half (a field over the limit) is reported with its
 * true line number: the second thread's result is dropped and the first
 * thread reads on to it, as one pass would. */
START_TEST(an_error_in_the_second_half_is_reported_at_its_line)
{
    const long n = 330000, bad = 290000;   /* ~10 MB; data row `bad` is line bad + 2 */
    for (int serial = 0; serial < 2; serial++) {
        FILE *f = tmpfile();
        ck_assert_ptr_nonnull(f);
        fprintf(f, "Date,Description,Amount\n");
        for (long i = 0; i < n; i++) {
            if (i == bad) {
                fprintf(f, "01/02/2024,");
                for (int k = 0; k < CSV_MAX_FIELD_BYTES + 10; k++)
                    fputc('x', f);
                fprintf(f, ",-1.00\n");
            } else {
                fprintf(f, "%02ld/%02ld/2024,SHOP %ld,-%ld.%02ld\n", i % 12 + 1, i % 28 + 1, i, i % 500, i % 100);
            }
        }
        ck_assert_int_eq(fflush(f), 0);
        rewind(f);
        if (serial)
            ck_assert_int_eq(setenv("SMARTIMPORT_CSV_SERIAL_STATS", "1", 1), 0);
        struct counter c = { 0, 0 };
        struct stmt_sink sink = { count_txn, NULL, &c };
        struct stmt_error err;
        ck_assert_int_eq(csv_parse(f, NULL, "EUR", NULL, &sink, &err), -1);
        ck_assert_msg(strstr(err.message, "longer than") != NULL, "%s", err.message);
        ck_assert_int_eq(err.line, bad + 2);
        ck_assert_int_eq(c.rows, 0);   /* the statistics pass found it: nothing was emitted */
        if (serial)
            ck_assert_int_eq(unsetenv("SMARTIMPORT_CSV_SERIAL_STATS"), 0);
        fclose(f);
    }
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *csv_suite(void)
{
    Suite *s = suite_create("csv");
    TCase *tc = tcase_create("tokenizer");
    tcase_add_loop_test(tc, the_tokenizer_handles_quotes_newlines_and_every_line_ending, 0, N(tokens));
    tcase_add_test(tc, the_tokenizer_reads_the_same_records_after_a_rewind);
    tcase_add_test(tc, fields_and_records_over_the_limits_are_errors_with_the_line);
    suite_add_tcase(s, tc);

    tc = tcase_create("amounts");
    tcase_add_loop_test(tc, amounts_of_any_size_are_read_without_overflow, 0, sizeof big_amounts / sizeof big_amounts[0]);
    tcase_add_loop_test(tc, amount_cells_give_exact_minor_units_and_their_currency, 0, N(amounts));
    tcase_add_loop_test(tc, text_and_malformed_cells_are_not_amounts, 0, N(not_amounts));
    tcase_add_test(tc, amounts_with_more_decimals_than_the_currency_has_are_refused);
    tcase_add_loop_test(tc, what_a_number_proves_about_the_decimal_separator, 0, N(evidence));
    tcase_add_test(tc, debit_credit_markers_are_recognised_in_several_languages);
    suite_add_tcase(s, tc);

    tc = tcase_create("dates");
    tcase_add_loop_test(tc, date_cells_parse_in_every_supported_format, 0, N(dates));
    tcase_add_loop_test(tc, impossible_or_mismatched_dates_are_refused, 0, N(not_dates));
    suite_add_tcase(s, tc);

    tc = tcase_create("vocabulary");
    tcase_add_loop_test(tc, header_names_are_understood_in_five_languages, 0, N(headers));
    tcase_add_loop_test(tc, header_names_of_the_other_party_are_its_columns, 0, N(party_headers));
    tcase_add_test(tc, booking_dates_outweigh_value_dates);
    tcase_add_test(tc, balance_and_total_cells_are_recognised);
    suite_add_tcase(s, tc);

    tc = tcase_create("fixtures");
    tcase_add_loop_test(tc, each_fixture_gives_exactly_its_expected_rows_warnings_and_mapping, 0, N(fixtures));
    tcase_add_loop_test(tc, small_tables_are_read_as_a_person_would, 0, N(small));
    tcase_add_loop_test(tc, the_other_partys_columns_become_counterparty_and_account, 0, N(parties));
    tcase_add_test(tc, a_mapping_may_not_give_the_counterparty_a_column_already_used);
    suite_add_tcase(s, tc);

    tc = tcase_create("mapping");
    tcase_add_loop_test(tc, the_users_mapping_overrides_inference_and_is_validated, 0, N(overrides));
    tcase_add_test(tc, the_mapping_is_reported_when_the_amount_column_is_missing);
    tcase_add_test(tc, the_fingerprint_is_the_hash_of_the_normalised_header);
    tcase_add_test(tc, the_layout_fingerprint_is_cheap_and_equals_what_the_parse_reports);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, a_sink_that_stops_ends_the_parse_with_an_error);
    tcase_add_test(tc, the_default_currency_applies_only_where_the_file_names_none);
    tcase_add_test(tc, warnings_and_errors_never_quote_row_contents);
    tcase_add_test(tc, warnings_stop_at_a_limit);
    tcase_add_test(tc, only_preamble_lines_is_not_a_table);
    suite_add_tcase(s, tc);

    tc = tcase_create("size");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, a_million_rows_parse_in_bounded_memory);
    tcase_add_test(tc, a_large_file_counted_in_two_halves_infers_what_one_pass_infers);
    tcase_add_test(tc, an_error_in_the_second_half_is_reported_at_its_line);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(csv_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
