/* check_stmt_quality.c: what real bank exports need from the parsers (issue
 * 15): every fixture in tests/fixtures/stmt goes through the same path as an
 * upload (encoding_to_utf8_repairs, stmt_detect, the format's parser) and
 * must give exactly its .expected sidecar; plus inline cases for dates,
 * right-to-left amounts, UTF-16 without a BOM and MT942 detection.
 *
 * A sidecar holds, one per line ('#' starts a comment):
 *   "encoding NAME"   the source encoding encoding.c reports
 *   "format NAME"     what stmt_detect says (stmt_format_name)
 *   "row LINE|DATE|AMOUNT|CURRENCY|DESCRIPTION|COUNTERPARTY|MEMO|REFERENCE|COUNTERPARTY_ACCOUNT"
 *                     every row, exactly, in order (NULL fields as "")
 *   "warn LINE TEXT"  every warning, in order (TEXT must occur in the
 *                     message); the lines where bad UTF-8 became U+FFFD come
 *                     first as "warn LINE U+FFFD"
 *   "error LINE TEXT" the parse must fail so
 *   "currency CODE"   the CSV default currency (else none) */
#include <check.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "encoding.h"
#include "stmt.h"
#include "stmt_util.h"

#ifndef STMT_FIXTURES
#define STMT_FIXTURES "tests/fixtures/stmt"
#endif

/* ---- a sink that records lines of text ---- */

struct got {
    char **lines;        /* "row ..." and "warn ..." in the order they came */
    size_t n;
};

static void add(struct got *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct got *g, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    ck_assert_int_ge(vasprintf(&s, fmt, ap), 0);
    va_end(ap);
    char **nl = realloc(g->lines, (g->n + 1) * sizeof *nl);
    ck_assert_ptr_nonnull(nl);
    nl[g->n++] = s;
    g->lines = nl;
}

static const char *z(const char *s)
{
    return s != NULL ? s : "";
}

static int got_txn(void *ctx, const struct stmt_txn *t)
{
    ck_assert_ptr_nonnull(t->description);
    /* the description never carries raw structure codes */
    ck_assert_ptr_null(strstr(t->description, "?2"));
    ck_assert_ptr_null(strstr(t->description, "EREF+"));
    ck_assert_ptr_null(strstr(t->description, "/NAME/"));
    ck_assert_ptr_null(strstr(t->description, "/REMI/"));
    ck_assert_ptr_null(strstr(t->description, "&lt;"));
    add(ctx, "row %ld|%s|%lld|%s|%s|%s|%s|%s|%s", t->line, t->date, t->amount_minor, t->currency,
        t->description, z(t->counterparty), z(t->memo), z(t->reference), z(t->counterparty_account));
    return 0;
}

static void got_warning(void *ctx, long line, const char *message)
{
    add(ctx, "warn %ld %s", line, message);
}

static void got_free(struct got *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->lines[i]);
    free(g->lines);
}

static const char *const fixtures[] = {
    "hu_dotted_dates.csv", "kr_spaced_dates.csv", "utf16le_nobom_pl.csv", "utf16be_nobom_ru.csv",
    "utf16le_nobom_el.csv", "utf16be_nobom_hu.csv", "utf8_one_bad_byte.csv", "mt940_structured.sta",
    "mt942_interim.sta", "camt052_v02.xml", "camt052_v08.xml", "camt054_v02.xml", "camt054_v08.xml",
    "ar_indic_amounts.csv", "ofx_entities.ofx", "all_rows_unreadable.qif", "de_partnername_iban.csv",
    "nl_rabobank_tegenpartij.csv", "kr_counterparty.csv",
};

/* Runs one fixture through the upload's path; fills g, *format_name,
 * *encoding and the parse error (err->message "" when it parsed). */
static void run(const char *name, const char *currency, struct got *g, const char **format_name,
                const char **encoding, struct stmt_error *perr)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", STMT_FIXTURES, name);
    FILE *raw = fopen(path, "rb");
    ck_assert_msg(raw != NULL, "cannot open %s", path);
    FILE *text = NULL;
    struct encoding_repairs rep;
    struct si_error err;
    ck_assert_msg(encoding_to_utf8_repairs("/tmp", raw, &text, encoding, &rep, &err) == 0, "%s: %s", name,
                  err.message);
    for (int i = 0; i < rep.n; i++)
        add(g, "warn %ld U+FFFD", rep.lines[i]);
    char head[4096];
    size_t n = fread(head, 1, sizeof head, text);
    rewind(text);
    enum stmt_format f = stmt_detect(head, n);
    *format_name = stmt_format_name(f);
    struct stmt_sink sink = { got_txn, got_warning, g };
    perr->line = 0;
    perr->message[0] = '\0';
    int rc = 0;
    json_t *columns = NULL;
    switch (f) {
    case STMT_FORMAT_CSV:
        rc = csv_parse(text, NULL, currency, &columns, &sink, perr);
        break;
    case STMT_FORMAT_OFX:
        rc = stmt_parse_ofx(text, &sink, perr);
        break;
    case STMT_FORMAT_QIF:
        rc = stmt_parse_qif(text, &sink, perr);
        break;
    case STMT_FORMAT_CAMT053:
        rc = stmt_parse_camt053(text, &sink, perr);
        break;
    case STMT_FORMAT_MT940:
    case STMT_FORMAT_MT942:     /* the MT940 parser must refuse it too */
        rc = stmt_parse_mt940(text, &sink, perr);
        break;
    default:
        snprintf(perr->message, sizeof perr->message, "not detected");
        rc = -1;
    }
    if (rc == 0)
        perr->message[0] = '\0';
    json_decref(columns);
    if (text != raw)
        fclose(text);
    fclose(raw);
}

START_TEST(each_fixture_gives_exactly_its_expected_rows)
{
    const char *name = fixtures[_i];
    char path[512];
    snprintf(path, sizeof path, "%s/%s.expected", STMT_FIXTURES, name);
    FILE *ex = fopen(path, "r");
    ck_assert_msg(ex != NULL, "cannot open %s", path);
    char want_enc[32] = "", want_fmt[32] = "", want_err[256] = "", currency[4] = "";
    long want_err_line = -1;
    struct got want = { NULL, 0 };
    char line[1024];
    while (fgets(line, sizeof line, ex) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        if (strncmp(line, "encoding ", 9) == 0)
            snprintf(want_enc, sizeof want_enc, "%.31s", line + 9);
        else if (strncmp(line, "format ", 7) == 0)
            snprintf(want_fmt, sizeof want_fmt, "%.31s", line + 7);
        else if (strncmp(line, "currency ", 9) == 0)
            snprintf(currency, sizeof currency, "%.3s", line + 9);
        else if (strncmp(line, "error ", 6) == 0) {
            char *sp = NULL;
            want_err_line = strtol(line + 6, &sp, 10);
            snprintf(want_err, sizeof want_err, "%.255s", sp + 1);
        } else if (strncmp(line, "row ", 4) == 0 || strncmp(line, "warn ", 5) == 0)
            add(&want, "%s", line);
        else
            ck_abort_msg("%s: bad sidecar line: %s", name, line);
    }
    fclose(ex);

    struct got g = { NULL, 0 };
    const char *fmt_name = NULL, *enc = NULL;
    struct stmt_error perr;
    run(name, currency[0] ? currency : NULL, &g, &fmt_name, &enc, &perr);
    if (getenv("STMT_QUALITY_PRINT") != NULL) {     /* to write a new sidecar */
        fprintf(stderr, "== %s\nencoding %s\nformat %s\n", name, enc, fmt_name);
        if (perr.message[0])
            fprintf(stderr, "error %ld %s\n", perr.line, perr.message);
        for (size_t i = 0; i < g.n; i++)
            fprintf(stderr, "%s\n", g.lines[i]);
    }
    if (want_enc[0])
        ck_assert_msg(strcmp(enc, want_enc) == 0, "%s: encoding %s, expected %s", name, enc, want_enc);
    if (want_fmt[0])
        ck_assert_msg(strcmp(fmt_name, want_fmt) == 0, "%s: format %s, expected %s", name, fmt_name, want_fmt);
    if (want_err[0]) {
        ck_assert_msg(perr.message[0] != '\0', "%s: parsed, expected the error %s", name, want_err);
        ck_assert_msg(strstr(perr.message, want_err) != NULL && perr.line == want_err_line,
                      "%s: error line %ld \"%s\", expected line %ld \"%s\"", name, perr.line, perr.message,
                      want_err_line, want_err);
    } else {
        ck_assert_msg(perr.message[0] == '\0', "%s: parse failed: line %ld: %s", name, perr.line, perr.message);
    }
    for (size_t i = 0; i < g.n || i < want.n; i++) {
        const char *a = i < g.n ? g.lines[i] : "(nothing)";
        const char *w = i < want.n ? want.lines[i] : "(nothing)";
        bool ok;
        if (strncmp(w, "warn ", 5) == 0) {
            /* "warn LINE TEXT": the same line, TEXT within the message */
            const char *wt = strchr(w + 5, ' ');
            size_t prefix = wt != NULL ? (size_t)(wt - w) : strlen(w);
            ok = strncmp(a, w, prefix) == 0 && a[prefix] == ' ' && wt != NULL && strstr(a + prefix, wt + 1) != NULL;
        } else {
            ok = strcmp(a, w) == 0;
        }
        ck_assert_msg(ok, "%s: item %zu is\n  %s\nexpected\n  %s", name, i + 1, a, w);
    }
    got_free(&g);
    got_free(&want);
}
END_TEST

/* ---- inline cases ---- */

START_TEST(year_first_dotted_dates_are_dates)
{
    static const struct {
        const char *cell, *iso;
    } ok[] = {
        { "2024.01.15", "2024-01-15" }, { "2024.1.5", "2024-01-05" }, { "2024. 01. 15.", "2024-01-15" },
        { "2024.01.15.", "2024-01-15" }, { "2024. 3. 2.", "2024-03-02" }, { "2024.02.29 10:15", "2024-02-29" },
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char out[11];
        ck_assert_msg(csv_date_formats(ok[i].cell, strlen(ok[i].cell)) & (1u << CSV_DATE_YMD_DOT), "%s", ok[i].cell);
        ck_assert_int_eq(csv_date_parse(ok[i].cell, strlen(ok[i].cell), CSV_DATE_YMD_DOT, out), 0);
        ck_assert_str_eq(out, ok[i].iso);
    }
    static const char *const bad[] = { "2023.02.29", "2024.13.01", "2024..01.15", "15.01.2024", "2024.01.15..",
                                       "2024-01-15" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char out[11];
        ck_assert_msg(csv_date_parse(bad[i], strlen(bad[i]), CSV_DATE_YMD_DOT, out) != 0, "%s", bad[i]);
    }
    ck_assert_str_eq(csv_date_format_name(CSV_DATE_YMD_DOT), "YYYY.MM.DD");
    ck_assert_int_eq(csv_date_format_from_name("YYYY.MM.DD"), CSV_DATE_YMD_DOT);
}
END_TEST

START_TEST(right_to_left_amounts_and_arabic_indic_digits_are_amounts)
{
    static const struct {
        const char *cell;
        const char *core;
        bool negative;
        const char *code;
    } cells[] = {
        { "\xD9\xA1\xD9\xA2\xD9\xA3\xD9\xAB\xD9\xA4\xD9\xA5", "123.45", false, "" },          /* ١٢٣٫٤٥ */
        { "\xE2\x80\x8F-\xD9\xA3\xD9\xA4\xD9\xA5\xD9\xAB\xD9\xA7\xD9\xA5 \xD8\xB1.\xD8\xB3", "345.75", true, "SAR" },
        { "\xD8\xB1.\xD8\xB3 \xD9\xA2\xD9\xA1\xD9\xA0\xD9\xAB\xD9\xA0\xD9\xA0-", "210.00", true, "SAR" },
        { "\xD9\xA1\xD9\xAC\xD9\xA2\xD9\xA5\xD9\xA0 \xD8\xAF.\xD8\xA5", "1,250", false, "AED" },
        { "\xDB\xB1\xDB\xB2\xDB\xB3", "123", false, "" },                                    /* Persian ۱۲۳ */
        { "\xE2\x82\xAA 99.90", "99.90", false, "ILS" },
        { "\xE2\x80\xAB-42.50 \xD8\xAC.\xD9\x85\xE2\x80\xAC", "42.50", true, "EGP" },
    };
    for (size_t i = 0; i < sizeof cells / sizeof cells[0]; i++) {
        struct csv_amount a;
        ck_assert_msg(csv_amount_scan(cells[i].cell, strlen(cells[i].cell), &a) == 0, "cell %zu", i);
        ck_assert_str_eq(a.core, cells[i].core);
        ck_assert_int_eq(a.negative, cells[i].negative);
        ck_assert_str_eq(a.code, cells[i].code);
    }
    struct csv_amount a;
    ck_assert_int_eq(csv_amount_scan("\xD8\xB1.\xD8\xB3", 5, &a), -1);     /* a sign alone */
}
END_TEST

/* UTF-16 text without a BOM in any script, both byte orders. */
static char *utf16(const char *utf8, bool big_endian, size_t *n)
{
    char *out = malloc(strlen(utf8) * 2 + 2);
    ck_assert_ptr_nonnull(out);
    size_t o = 0;
    const unsigned char *u = (const unsigned char *)utf8;
    while (*u) {
        unsigned cp;
        if (*u < 0x80)
            cp = *u++;
        else if ((*u & 0xE0) == 0xC0)
            cp = (unsigned)(*u & 0x1F) << 6 | (u[1] & 0x3F), u += 2;
        else
            cp = (unsigned)(*u & 0x0F) << 12 | (unsigned)(u[1] & 0x3F) << 6 | (u[2] & 0x3F), u += 3;
        out[o++] = (char)(big_endian ? cp >> 8 : cp & 0xFF);
        out[o++] = (char)(big_endian ? cp & 0xFF : cp >> 8);
    }
    *n = o;
    return out;
}

START_TEST(utf16_without_a_bom_is_found_by_its_zero_bytes_and_line_breaks)
{
    static const char *const texts[] = {
        "Dátum;Összeg\n2024.05.02;-2 450\n2024.05.03;612 000\n",                                 /* Hungarian */
        "Data;Kwota\n2024-02-03;-23,45 zł\n2024-02-07;Łódź Żabka\n",                              /* Polish */
        "Ημερομηνία;Περιγραφή\n10/04/2024;Αθήνα\n12/04/2024;Μισθοδοσία\n",                      /* Greek */
        "Дата;Описание\n05.03.2024;Пятёрочка\n06.03.2024;Перевод\n",                            /* Cyrillic */
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        for (int be = 0; be < 2; be++) {
            size_t n;
            char *bytes = utf16(texts[i], be, &n);
            FILE *in = tmpfile();
            ck_assert_ptr_nonnull(in);
            ck_assert_uint_eq(fwrite(bytes, 1, n, in), n);
            rewind(in);
            FILE *out = NULL;
            const char *name = NULL;
            struct si_error err;
            ck_assert_msg(encoding_to_utf8("/tmp", in, &out, &name, &err) == 0, "text %zu be %d: %s", i, be,
                          err.message);
            ck_assert_str_eq(name, be ? "utf-16be" : "utf-16le");
            char buf[512] = "";
            size_t got = fread(buf, 1, sizeof buf - 1, out);
            buf[got] = '\0';
            ck_assert_str_eq(buf, texts[i]);
            fclose(out);
            fclose(in);
            free(bytes);
        }
    }
}
END_TEST

START_TEST(one_bad_byte_keeps_utf8_and_windows_1252_stays_1252)
{
    /* an otherwise UTF-8 file: only the bad byte changes, its line is named */
    const char text[] = "Datum;Text\n1.1.2024;M\xc3\xbcller\n2.1.2024;Caf\xe9 K\xc3\xb6ln\n3.1.2024;Stra\xc3\x9f" "e\n";
    FILE *in = tmpfile();
    ck_assert_ptr_nonnull(in);
    ck_assert_uint_eq(fwrite(text, 1, sizeof text - 1, in), sizeof text - 1);
    rewind(in);
    FILE *out = NULL;
    const char *name = NULL;
    struct encoding_repairs rep;
    struct si_error err;
    ck_assert_int_eq(encoding_to_utf8_repairs("/tmp", in, &out, &name, &rep, &err), 0);
    ck_assert_str_eq(name, "utf-8-repaired");
    ck_assert_int_eq(rep.n, 1);
    ck_assert_int_eq(rep.total, 1);
    ck_assert_int_eq(rep.lines[0], 3);
    char buf[256] = "";
    size_t got = fread(buf, 1, sizeof buf - 1, out);
    buf[got] = '\0';
    ck_assert_str_eq(buf, "Datum;Text\n1.1.2024;M\xc3\xbcller\n2.1.2024;Caf\xef\xbf\xbd K\xc3\xb6ln\n3.1.2024;Stra\xc3\x9f" "e\n");
    fclose(out);
    fclose(in);

    /* no valid multi-byte character at all: Windows-1252 */
    const char latin[] = "Datum;Text\n1.1.2024;M\xfcller\n2.1.2024;Caf\xe9\n";
    in = tmpfile();
    ck_assert_ptr_nonnull(in);
    ck_assert_uint_eq(fwrite(latin, 1, sizeof latin - 1, in), sizeof latin - 1);
    rewind(in);
    ck_assert_int_eq(encoding_to_utf8_repairs("/tmp", in, &out, &name, &rep, &err), 0);
    ck_assert_str_eq(name, "windows-1252");
    ck_assert_int_eq(rep.n, 0);
    got = fread(buf, 1, sizeof buf - 1, out);
    buf[got] = '\0';
    ck_assert_str_eq(buf, "Datum;Text\n1.1.2024;M\xc3\xbcller\n2.1.2024;Caf\xc3\xa9\n");
    fclose(out);
    fclose(in);
}
END_TEST

START_TEST(mt942_is_told_apart_from_mt940)
{
    static const char *const mt942[] = {
        ":20:X\n:25:123\n:28C:1\n:34F:EUR0,\n:13D:2403111420+0100\n:61:2403110311D1,00NTRFNONREF\n",
        "{1:F01AAAAAAAAAXXX0000000000}{2:I942AAAAAAAAXXXXN}{4:\n:20:X\n:25:1\n:61:2403110311D1,00NTRFNONREF\n",
        "ABNANL2A\n942\n:20:X\n:25:1\n:61:2403110311D1,00NTRFNONREF\n",
    };
    for (size_t i = 0; i < sizeof mt942 / sizeof mt942[0]; i++)
        ck_assert_msg(stmt_detect(mt942[i], strlen(mt942[i])) == STMT_FORMAT_MT942, "case %zu", i);
    const char *mt940 = ":20:X\n:25:123\n:28C:1\n:60F:C240311EUR0,\n:61:2403110311D1,00NTRFNONREF\n:62F:C240311EUR0,\n";
    ck_assert_int_eq(stmt_detect(mt940, strlen(mt940)), STMT_FORMAT_MT940);
    ck_assert_str_eq(stmt_format_name(STMT_FORMAT_MT942), "mt942");
}
END_TEST

static int count_assumed(void *ctx, const struct stmt_txn *t)
{
    int *n = ctx;
    n[0]++;
    n[1] += t->currency_assumed;
    return 0;
}

START_TEST(a_csv_row_says_when_its_currency_was_the_callers_default)
{
    static const struct {
        const char *text;
        int assumed;
    } cases[] = {
        { "Date,Description,Amount\n2024-01-02,Shop,-1.00\n2024-01-03,Shop,-2.00\n", 2 },
        { "Date,Description,Amount,Currency\n2024-01-02,Shop,-1.00,GBP\n2024-01-03,Shop,-2.00,GBP\n", 0 },
        { "Date,Description,Amount\n2024-01-02,Shop,\xE2\x82\xAC-1.00\n2024-01-03,Shop,-2.00\n", 1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *f = fmemopen((void *)cases[i].text, strlen(cases[i].text), "r");
        ck_assert_ptr_nonnull(f);
        int n[2] = { 0, 0 };
        struct stmt_sink sink = { count_assumed, NULL, n };
        struct stmt_error err;
        ck_assert_int_eq(csv_parse(f, NULL, "EUR", NULL, &sink, &err), 0);
        ck_assert_int_eq(n[0], 2);
        ck_assert_msg(n[1] == cases[i].assumed, "case %zu: %d rows assumed", i, n[1]);
        fclose(f);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("stmt_quality");
    TCase *tc = tcase_create("fixtures");
    tcase_add_loop_test(tc, each_fixture_gives_exactly_its_expected_rows, 0, sizeof fixtures / sizeof fixtures[0]);
    suite_add_tcase(s, tc);
    tc = tcase_create("inline");
    tcase_add_test(tc, year_first_dotted_dates_are_dates);
    tcase_add_test(tc, right_to_left_amounts_and_arabic_indic_digits_are_amounts);
    tcase_add_test(tc, utf16_without_a_bom_is_found_by_its_zero_bytes_and_line_breaks);
    tcase_add_test(tc, one_bad_byte_keeps_utf8_and_windows_1252_stays_1252);
    tcase_add_test(tc, mt942_is_told_apart_from_mt940);
    tcase_add_test(tc, a_csv_row_says_when_its_currency_was_the_callers_default);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
