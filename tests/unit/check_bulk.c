/* check_bulk.c: the purchase file reader of modules/bulk (bulk.h): CSV records (quotes,
 * delimiters, line numbers, BOM, binary input), the header -> column mapping with aliases and
 * an explicit mapping, amounts into exact minor units, ISO 8601 dates into UTC, ISO 4217
 * codes, and one row read into its typed values and problems. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "bulk.h"

static FILE *mem(const char *text)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    ck_assert_ptr_nonnull(f);
    return f;
}

static const struct { const char *text; int exp; long long minor; } amount_ok[] = {
    { "12.50", 2, 1250 }, { "12.5", 2, 1250 }, { "12", 2, 1200 }, { "0.01", 2, 1 }, { " 7.10 ", 2, 710 },
    { "0.29", 2, 29 }, { "1234567.89", 2, 123456789 }, { "-3.20", 2, -320 }, { "+4", 2, 400 },
    { "12.300", 2, 1230 }, { "1500", 0, 1500 }, { "1500.00", 0, 1500 }, { "1.234", 3, 1234 }, { "0.5", 3, 500 },
    { "100000000000.00", 2, 10000000000000LL }, { ".5", 2, 50 },
};

START_TEST(an_amount_becomes_exact_minor_units)
{
    long long v = -99;
    const char *why = bulk_amount_minor(amount_ok[_i].text, amount_ok[_i].exp, &v);
    ck_assert_msg(why == NULL, "%s: %s", amount_ok[_i].text, why ? why : "");
    ck_assert_int_eq(v, amount_ok[_i].minor);
}
END_TEST

static const struct { const char *text; int exp; } amount_bad[] = {
    { "", 2 }, { "abc", 2 }, { "1,50", 2 }, { "12.345", 2 }, { "1.5", 0 }, { "1e3", 2 }, { "1.2.3", 2 },
    { "100000000000.01", 2 }, { "99999999999999999999", 2 }, { "-", 2 }, { "12 EUR", 2 },
};

START_TEST(a_bad_amount_is_refused_with_its_reason)
{
    long long v = -99;
    ck_assert_msg(bulk_amount_minor(amount_bad[_i].text, amount_bad[_i].exp, &v) != NULL, "%s", amount_bad[_i].text);
    ck_assert_int_eq(v, -99);
}
END_TEST

static const struct { const char *text; const char *utc; } date_ok[] = {
    { "2024-01-15", "2024-01-15 00:00:00.000000+00" },
    { "2024-01-15T10:30", "2024-01-15 10:30:00.000000+00" },
    { "2024-01-15T10:30:45Z", "2024-01-15 10:30:45.000000+00" },
    { "2024-01-15 10:30:45.25", "2024-01-15 10:30:45.250000+00" },
    { "2024-01-15T10:30:00+02:00", "2024-01-15 08:30:00.000000+00" },
    { "2024-01-15T01:00:00-0500", "2024-01-15 06:00:00.000000+00" },
    { "2024-03-01T00:30:00+01", "2024-02-29 23:30:00.000000+00" },
    { "1969-12-31T23:59:59.5Z", "1969-12-31 23:59:59.500000+00" },
};

START_TEST(an_iso_date_becomes_utc)
{
    long long us = 0;
    const char *why = bulk_datetime_us(date_ok[_i].text, &us);
    ck_assert_msg(why == NULL, "%s: %s", date_ok[_i].text, why ? why : "");
    char out[40];
    bulk_format_utc(us, out, sizeof out);
    ck_assert_str_eq(out, date_ok[_i].utc);
}
END_TEST

static const char *const date_bad[] = {
    "", "15/01/2024", "2024-02-30", "2023-02-29", "2024-13-01", "2024-01-15T24:00", "2024-01-15T10:60",
    "2024-01-15T10:30:00+15:00", "2024-01-15X", "1800-01-01", "2024-1-5", "2024-01-15T10",
};

START_TEST(a_bad_date_is_refused)
{
    long long us = 0;
    ck_assert_msg(bulk_datetime_us(date_bad[_i], &us) != NULL, "%s", date_bad[_i]);
}
END_TEST

START_TEST(currencies_are_iso_4217_with_their_exponent)
{
    int exp = -1;
    ck_assert(bulk_currency("EUR", &exp) && exp == 2);
    ck_assert(bulk_currency("JPY", &exp) && exp == 0);
    ck_assert(bulk_currency("KWD", &exp) && exp == 3);
    ck_assert(bulk_currency("USD", NULL));
    ck_assert(!bulk_currency("ABC", &exp));
    ck_assert(!bulk_currency("usd", &exp));
    ck_assert(!bulk_currency("EURO", &exp));
    ck_assert(!bulk_currency("", &exp));
}
END_TEST

START_TEST(records_follow_rfc_4180_quoting_and_count_physical_lines)
{
    FILE *f = mem("\xEF\xBB\xBF" "a,b,c\r\n1,\"x, \"\"y\"\"\",3\r\n\r\n2,\"multi\nline\",4\n5,,\n");
    struct bulk_csv c;
    struct si_error err;
    si_error_clear(&err);
    bulk_csv_init(&c, f);
    ck_assert_int_eq(bulk_csv_next(&c, &err), 1);
    ck_assert_int_eq(c.ncells, 3);
    ck_assert_str_eq(bulk_csv_cell(&c, 0), "a");
    ck_assert_int_eq(bulk_csv_next(&c, &err), 1);
    ck_assert_int_eq(c.line, 2);
    ck_assert_str_eq(bulk_csv_cell(&c, 1), "x, \"y\"");
    ck_assert_int_eq(bulk_csv_next(&c, &err), 1);
    ck_assert_int_eq(c.line, 4);   /* the blank line 3 is skipped */
    ck_assert_str_eq(bulk_csv_cell(&c, 1), "multi\nline");
    ck_assert_int_eq(bulk_csv_next(&c, &err), 1);
    ck_assert_int_eq(c.line, 6);
    ck_assert_int_eq(c.ncells, 3);
    ck_assert_str_eq(bulk_csv_cell(&c, 2), "");
    ck_assert_int_eq(bulk_csv_next(&c, &err), 0);
    bulk_csv_cleanup(&c);
    fclose(f);
}
END_TEST

START_TEST(the_delimiter_is_taken_from_the_header)
{
    FILE *f = mem("a;b;c\n1;2,5;3\n");
    struct bulk_csv c;
    struct si_error err;
    si_error_clear(&err);
    bulk_csv_init(&c, f);
    ck_assert_int_eq(bulk_csv_next(&c, &err), 1);
    ck_assert_int_eq(c.delim, ';');
    ck_assert_int_eq(bulk_csv_next(&c, &err), 1);
    ck_assert_str_eq(bulk_csv_cell(&c, 1), "2,5");
    bulk_csv_cleanup(&c);
    fclose(f);
}
END_TEST

static const struct { const char *text; size_t len; int status; const char *code; } csv_bad[] = {
    { "a,b\n1,\"open\n", 0, 422, "bad_csv" },
    { "a,b\n1,\0\n", 9, 415, "not_text" },
    { "a,b\n1,\xff\xfe\n", 0, 415, "not_text" },
    { "\xff\xfe" "a\0,\0", 6, 415, "not_text" },
    { "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, 415, "not_text" },
};

START_TEST(unreadable_input_is_a_client_error)
{
    size_t len = csv_bad[_i].len ? csv_bad[_i].len : strlen(csv_bad[_i].text);
    FILE *f = fmemopen((void *)csv_bad[_i].text, len, "r");
    struct bulk_csv c;
    struct si_error err;
    si_error_clear(&err);
    bulk_csv_init(&c, f);
    int rc;
    while ((rc = bulk_csv_next(&c, &err)) == 1)
        ;
    ck_assert_int_eq(rc, -1);
    ck_assert_int_eq(err.status, csv_bad[_i].status);
    ck_assert_str_eq(err.code, csv_bad[_i].code);
    bulk_csv_cleanup(&c);
    fclose(f);
}
END_TEST

static void header(const char *text, struct bulk_csv *c, FILE **f)
{
    struct si_error err;
    si_error_clear(&err);
    *f = mem(text);
    bulk_csv_init(c, *f);
    ck_assert_int_eq(bulk_csv_next(c, &err), 1);
}

START_TEST(headers_match_by_alias_and_case)
{
    struct bulk_csv c;
    FILE *f;
    struct si_error err;
    si_error_clear(&err);
    header("Order ID,Customer,Date,SKU,Qty,Price,Currency Code,Notes\n", &c, &f);
    int idx[BULK_COL_N];
    json_t *cols = NULL;
    ck_assert_int_eq(bulk_columns_map(&c, NULL, idx, &cols, &err), 0);
    ck_assert_int_eq(idx[BULK_COL_TXN], 0);
    ck_assert_int_eq(idx[BULK_COL_CUSTOMER], 1);
    ck_assert_int_eq(idx[BULK_COL_PURCHASED_AT], 2);
    ck_assert_int_eq(idx[BULK_COL_SKU], 3);
    ck_assert_int_eq(idx[BULK_COL_QUANTITY], 4);
    ck_assert_int_eq(idx[BULK_COL_UNIT_PRICE], 5);
    ck_assert_int_eq(idx[BULK_COL_CURRENCY], 6);
    ck_assert_int_eq(idx[BULK_COL_NOTE], 7);
    ck_assert_int_eq(idx[BULK_COL_DISCOUNT], -1);
    ck_assert_str_eq(json_string_value(json_object_get(cols, "transaction_number")), "Order ID");
    json_decref(cols);
    bulk_csv_cleanup(&c);
    fclose(f);
}
END_TEST

START_TEST(a_mapping_overrides_the_header_and_missing_columns_are_named)
{
    struct bulk_csv c;
    FILE *f;
    struct si_error err;
    si_error_clear(&err);
    header("Beleg,Kunde,Zeit,Artikel,Menge,Preis\n", &c, &f);
    int idx[BULK_COL_N];
    ck_assert_int_eq(bulk_columns_map(&c, NULL, idx, NULL, &err), -1);
    ck_assert_int_eq(err.status, 422);
    ck_assert_str_eq(err.code, "missing_columns");
    ck_assert_ptr_nonnull(strstr(err.message, "transaction_number"));
    ck_assert_ptr_nonnull(strstr(err.message, "unit_price"));
    json_t *m = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "transaction_number", "beleg", "customer_id", "Kunde",
                          "purchased_at", "Zeit", "sku_id", "Artikel", "quantity", "Menge", "unit_price", 5);
    si_error_clear(&err);
    ck_assert_int_eq(bulk_columns_map(&c, m, idx, NULL, &err), 0);
    ck_assert_int_eq(idx[BULK_COL_TXN], 0);
    ck_assert_int_eq(idx[BULK_COL_UNIT_PRICE], 5);
    json_decref(m);
    m = json_pack("{s:s}", "quantity", "Nope");
    ck_assert_int_eq(bulk_columns_map(&c, m, idx, NULL, &err), -1);
    ck_assert_str_eq(err.code, "bad_mapping");
    json_decref(m);
    m = json_pack("{s:s}", "colour", "Zeit");
    ck_assert_int_eq(bulk_columns_map(&c, m, idx, NULL, &err), -1);
    ck_assert_str_eq(err.code, "bad_mapping");
    json_decref(m);
    bulk_csv_cleanup(&c);
    fclose(f);
}
END_TEST

/* Reads the second record of text as a row; returns the problems as "column:reason;..." */
static void read_row(const char *text, struct bulk_row *row, char *problems, size_t n)
{
    struct bulk_csv c;
    struct si_error err;
    si_error_clear(&err);
    FILE *f = mem(text);
    bulk_csv_init(&c, f);
    ck_assert_int_eq(bulk_csv_next(&c, &err), 1);
    int idx[BULK_COL_N], cells = c.ncells;
    ck_assert_int_eq(bulk_columns_map(&c, NULL, idx, NULL, &err), 0);
    ck_assert_int_eq(bulk_csv_next(&c, &err), 1);
    ck_assert_int_eq(bulk_row_read(&c, idx, cells, "EUR", row), 0);
    problems[0] = '\0';
    size_t i;
    json_t *p;
    json_array_foreach(row->problems, i, p) {
        size_t used = strlen(problems);
        snprintf(problems + used, n - used, "%s;", json_string_value(json_object_get(p, "column")));
    }
    row->txn = row->customer = row->sku = row->store = row->note = NULL;   /* they pointed into c */
    bulk_csv_cleanup(&c);
    fclose(f);
}

#define HEAD "transaction_number,customer_id,purchased_at,currency,sku_id,quantity,unit_price,discount\n"

START_TEST(a_good_row_is_read_into_its_values)
{
    struct bulk_row r;
    char probs[256];
    read_row(HEAD "T1,C1,2024-01-15T10:00:00+01:00,JPY,S1,3,1500,100\n", &r, probs, sizeof probs);
    ck_assert_str_eq(probs, "");
    ck_assert(r.has_qty && r.quantity == 3);
    ck_assert(r.has_price && r.unit_price == 1500);
    ck_assert(r.has_discount && r.discount == 100);
    ck_assert(r.has_total && r.line_total == 4400);
    ck_assert_str_eq(r.currency_buf, "JPY");
    char ts[40];
    bulk_format_utc(r.purchased_us, ts, sizeof ts);
    ck_assert_str_eq(ts, "2024-01-15 09:00:00.000000+00");
    bulk_row_clear(&r);
}
END_TEST

static const struct { const char *row; const char *problems; } row_bad[] = {
    { ",C1,2024-01-15,EUR,S1,1,1.00,\n", "transaction_number;" },
    { "T1,C1,2024-01-15,EUR,S1,0,1.00,\n", "quantity;" },
    { "T1,C1,2024-01-15,EUR,S1,-2,1.00,\n", "quantity;" },
    { "T1,C1,2024-01-15,EUR,S1,1.5,1.00,\n", "quantity;" },
    { "T1,C1,2024-01-15,EUR,S1,1,-1.00,\n", "unit_price;" },
    { "T1,C1,2024-01-15,EUR,S1,1,1.001,\n", "unit_price;" },
    { "T1,C1,2024-01-15,XYZ,S1,1,1.00,\n", "currency;" },
    { "T1,C1,15.01.2024,EUR,S1,1,1.00,\n", "purchased_at;" },
    { "T1,C1,2024-01-15,EUR,S1,2,1.00,2.50\n", "discount;" },
    { "T1,,2024-01-15,EUR,,1,abc,\n", "customer_id;sku_id;unit_price;" },
    { "T1,C1,2024-01-15,EUR,S1,1,1.00,,extra\n", ";" },
};

START_TEST(each_bad_cell_is_a_problem_of_its_column)
{
    struct bulk_row r;
    char probs[256], text[512];
    snprintf(text, sizeof text, "%s%s", HEAD, row_bad[_i].row);
    read_row(text, &r, probs, sizeof probs);
    ck_assert_str_eq(probs, row_bad[_i].problems);
    bulk_row_clear(&r);
}
END_TEST

START_TEST(an_empty_currency_cell_takes_the_merchants)
{
    struct bulk_row r;
    char probs[256];
    read_row(HEAD "T1,C1,2024-01-15,,S1,1,1.5,\n", &r, probs, sizeof probs);
    ck_assert_str_eq(probs, "");
    ck_assert_str_eq(r.currency_buf, "EUR");
    ck_assert_int_eq(r.unit_price, 150);
    bulk_row_clear(&r);
}
END_TEST

static Suite *bulk_suite(void)
{
    Suite *s = suite_create("bulk");
    TCase *tc = tcase_create("reader");
    tcase_set_timeout(tc, 120);   /* forked cases under a loaded machine with sanitizers */
    tcase_add_loop_test(tc, an_amount_becomes_exact_minor_units, 0, sizeof amount_ok / sizeof *amount_ok);
    tcase_add_loop_test(tc, a_bad_amount_is_refused_with_its_reason, 0, sizeof amount_bad / sizeof *amount_bad);
    tcase_add_loop_test(tc, an_iso_date_becomes_utc, 0, sizeof date_ok / sizeof *date_ok);
    tcase_add_loop_test(tc, a_bad_date_is_refused, 0, sizeof date_bad / sizeof *date_bad);
    tcase_add_test(tc, currencies_are_iso_4217_with_their_exponent);
    tcase_add_test(tc, records_follow_rfc_4180_quoting_and_count_physical_lines);
    tcase_add_test(tc, the_delimiter_is_taken_from_the_header);
    tcase_add_loop_test(tc, unreadable_input_is_a_client_error, 0, sizeof csv_bad / sizeof *csv_bad);
    tcase_add_test(tc, headers_match_by_alias_and_case);
    tcase_add_test(tc, a_mapping_overrides_the_header_and_missing_columns_are_named);
    tcase_add_test(tc, a_good_row_is_read_into_its_values);
    tcase_add_loop_test(tc, each_bad_cell_is_a_problem_of_its_column, 0, sizeof row_bad / sizeof *row_bad);
    tcase_add_test(tc, an_empty_currency_cell_takes_the_merchants);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bulk_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
