/* check_stmt_util.c: the helpers every statement parser shares: decimal
 * text to minor units, text clean-up, calendar dates, currency codes. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stmt_util.h"

static const struct {
    const char *text;
    char decimal, thousands;
    int exponent;
    int rc;
    long long want;
} decimals[] = {
    { "12.34", '.', 0, 2, 0, 1234 },
    { "-12.34", '.', 0, 2, 0, -1234 },
    { "+12.3", '.', 0, 2, 0, 1230 },
    { "12", '.', 0, 2, 0, 1200 },
    { "12.", '.', 0, 2, 0, 1200 },
    { ".5", '.', 0, 2, 0, 50 },
    { "-0.01", '.', 0, 2, 0, -1 },
    { "1,234.56", '.', ',', 2, 0, 123456 },
    { "-1.234.567,89", ',', '.', 2, 0, -123456789 },
    { "1 234,50", ',', ' ', 2, 0, 123450 },
    { "12,345,678", '.', ',', 2, 0, 1234567800 },
    { "1,23.00", '.', ',', 2, -1, 0 },          /* a group of two */
    { "1234,567.00", '.', ',', 2, -1, 0 },      /* four digits before the first separator */
    { ",123", '.', ',', 2, -1, 0 },
    { "1,234,", '.', ',', 2, -1, 0 },
    { "1,234", '.', 0, 2, -1, 0 },              /* no thousands separator allowed */
    { "12.340", '.', 0, 2, 0, 1234 },           /* extra zeros are fine */
    { "12.345", '.', 0, 2, -1, 0 },             /* would need rounding */
    { "12.345", '.', 0, 3, 0, 12345 },
    { "1500", '.', 0, 0, 0, 1500 },
    { "1500.00", '.', 0, 0, 0, 1500 },
    { "1500.5", '.', 0, 0, -1, 0 },
    { "1,5", ',', 0, 4, 0, 15000 },
    { "1", '.', 0, 5, -1, 0 },                  /* exponent out of range */
    { "", '.', 0, 2, -1, 0 },
    { "-", '.', 0, 2, -1, 0 },
    { ".", '.', 0, 2, -1, 0 },
    { "+-1", '.', 0, 2, -1, 0 },
    { "1e3", '.', 0, 2, -1, 0 },
    { "12.3.4", '.', 0, 2, -1, 0 },
    { " 12", '.', 0, 2, -1, 0 },
    { "92233720368547.75", '.', 0, 2, 0, 9223372036854775LL },
    { "100000000000.00", '.', 0, 2, 0, STMT_AMOUNT_MAX },
    { "99999999999999999999", '.', 0, 2, 0, STMT_AMOUNT_SATURATED },   /* saturates, never overflows */
    { "-1234567890123456789012345678901234567890.00", '.', 0, 2, 0, -STMT_AMOUNT_SATURATED },
    { "1,000,000,000,000,000,000,000,000,000,000.00", '.', ',', 2, 0, STMT_AMOUNT_SATURATED },
    { "999999999999999.99", '.', 0, 2, 0, 99999999999999999LL },       /* just under saturation: exact */
    { "1000000000000000.00", '.', 0, 2, 0, STMT_AMOUNT_SATURATED },
    { "10000000000000.0001", '.', 0, 4, 0, STMT_AMOUNT_SATURATED },
    { "99999999999999999999x", '.', 0, 2, -1, 0 },  /* still refused when it is not a number */
};

START_TEST(decimals_become_exact_minor_units_or_are_refused)
{
    long long got = 42;
    const char *t = decimals[_i].text;
    int rc = stmt_decimal_to_minor(t, strlen(t), decimals[_i].decimal, decimals[_i].thousands,
                                   decimals[_i].exponent, &got);
    ck_assert_msg(rc == decimals[_i].rc, "[%s] exp %d: rc %d", t, decimals[_i].exponent, rc);
    if (rc == 0)
        ck_assert_msg(got == decimals[_i].want, "[%s]: %lld", t, got);
}
END_TEST

START_TEST(only_the_given_length_is_read)
{
    long long got = 0;
    ck_assert_int_eq(stmt_decimal_to_minor("12.34xyz", 5, '.', 0, 2, &got), 0);
    ck_assert_int_eq(got, 1234);
}
END_TEST

static const struct {
    const char *in, *out;
} texts[] = {
    { "  hello   world  ", "hello world" },
    { "tab\tand\nnewline\r\n", "tab and newline" },
    { "\xC2\xA0no-break\xC2\xA0\xC2\xA0space\xC2\xA0", "no-break space" },
    { "ctrl\x01\x02" "chars\x7f", "ctrlchars" },
    { "", "" },
    { "   ", "" },
    { "Zürich € ok", "Zürich € ok" },
    { "a \x01 b", "a b" },
};

START_TEST(text_is_trimmed_and_its_whitespace_collapsed)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", texts[_i].in);
    ck_assert_ptr_eq(stmt_normalize_text(buf), buf);
    ck_assert_str_eq(buf, texts[_i].out);
}
END_TEST

static const struct {
    int y, m, d;
    const char *want;   /* NULL: refused */
} dates[] = {
    { 2024, 2, 29, "2024-02-29" },
    { 2023, 2, 29, NULL },
    { 2000, 2, 29, "2000-02-29" },
    { 1900, 2, 29, NULL },
    { 2100, 2, 29, NULL },
    { 24, 1, 15, "2024-01-15" },
    { 69, 12, 31, "2069-12-31" },
    { 70, 1, 1, "1970-01-01" },
    { 99, 6, 30, "1999-06-30" },
    { 2024, 4, 31, NULL },
    { 2024, 13, 1, NULL },
    { 2024, 0, 1, NULL },
    { 2024, 1, 0, NULL },
    { 1899, 12, 31, NULL },
    { 2200, 1, 1, NULL },
    { -5, 1, 1, NULL },
    { 2024, 12, 31, "2024-12-31" },
};

START_TEST(dates_are_checked_against_the_calendar)
{
    char out[11] = "";
    int rc = stmt_make_date(dates[_i].y, dates[_i].m, dates[_i].d, out);
    if (dates[_i].want == NULL) {
        ck_assert_msg(rc == -1, "%d-%d-%d accepted as %s", dates[_i].y, dates[_i].m, dates[_i].d, out);
    } else {
        ck_assert_int_eq(rc, 0);
        ck_assert_str_eq(out, dates[_i].want);
    }
    /* without an output buffer it only checks, with the same verdict */
    ck_assert_int_eq(stmt_make_date(dates[_i].y, dates[_i].m, dates[_i].d, NULL), rc);
}
END_TEST

static const struct {
    const char *s;
    size_t len, want;
} cuts[] = {
    { "abc", 3, 3 },                       /* nothing cut */
    { "", 0, 0 },
    { "caf\xc3\xa9", 5, 5 },               /* whole 2-byte sequence */
    { "caf\xc3\xa9", 4, 3 },               /* lead byte alone */
    { "\xe2\x82\xac", 3, 3 },              /* whole euro sign */
    { "x\xe2\x82\xac", 3, 1 },             /* euro sign cut after two bytes */
    { "x\xe2\x82\xac", 2, 1 },             /* cut after one byte */
    { "\xf0\x9f\x92\xb6", 3, 0 },          /* 4-byte sequence cut */
    { "\x80\x80", 2, 2 },                   /* stray continuation bytes: left alone */
};

START_TEST(a_utf8_sequence_cut_at_the_end_is_dropped)
{
    ck_assert_uint_eq(stmt_utf8_trim_partial(cuts[_i].s, cuts[_i].len), cuts[_i].want);
}
END_TEST

static Suite *stmt_util_suite(void)
{
    Suite *s = suite_create("stmt_util");
    TCase *tc = tcase_create("amounts");
    tcase_add_loop_test(tc, decimals_become_exact_minor_units_or_are_refused, 0, sizeof decimals / sizeof decimals[0]);
    tcase_add_test(tc, only_the_given_length_is_read);
    suite_add_tcase(s, tc);
    tc = tcase_create("text");
    tcase_add_loop_test(tc, text_is_trimmed_and_its_whitespace_collapsed, 0, sizeof texts / sizeof texts[0]);
    tcase_add_loop_test(tc, a_utf8_sequence_cut_at_the_end_is_dropped, 0, sizeof cuts / sizeof cuts[0]);
    suite_add_tcase(s, tc);
    tc = tcase_create("dates");
    tcase_add_loop_test(tc, dates_are_checked_against_the_calendar, 0, sizeof dates / sizeof dates[0]);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(stmt_util_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
