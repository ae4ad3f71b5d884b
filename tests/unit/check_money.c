/* check_money.c: the runtime's currencies and money text (si_money.h), which
 * the parsers read amounts with and the advice writes them with. */
#include <check.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "si_money.h"

START_TEST(currencies_have_their_iso_exponents)
{
    ck_assert_int_eq(si_currency_exponent("EUR"), 2);
    ck_assert_int_eq(si_currency_exponent("USD"), 2);
    ck_assert_int_eq(si_currency_exponent("JPY"), 0);
    ck_assert_int_eq(si_currency_exponent("KRW"), 0);
    ck_assert_int_eq(si_currency_exponent("ISK"), 0);
    ck_assert_int_eq(si_currency_exponent("KWD"), 3);
    ck_assert_int_eq(si_currency_exponent("BHD"), 3);
    ck_assert_int_eq(si_currency_exponent("TND"), 3);
    ck_assert_int_eq(si_currency_exponent(NULL), 2);
    ck_assert_int_eq(si_currency_exponent(""), 2);
    ck_assert(si_currency_code_valid("EUR"));
    ck_assert(!si_currency_code_valid("eur"));
    ck_assert(!si_currency_code_valid("EURO"));
    ck_assert(!si_currency_code_valid("EU"));
    ck_assert(!si_currency_code_valid("E1R"));
    ck_assert(!si_currency_code_valid(""));
    ck_assert(!si_currency_code_valid(NULL));
}
END_TEST

static const struct { long long minor; const char *currency, *out; } money_cases[] = {
    { 45050, "USD", "$450.50" },
    { 0, "USD", "$0.00" },
    { 5, "GBP", "\xC2\xA3" "0.05" },
    { 123456789, "EUR", "\xE2\x82\xAC" "1,234,567.89" },
    { 1235, "JPY", "\xC2\xA5" "1,235" },
    { 100000, "JPY", "\xC2\xA5" "100,000" },
    { 123456, "CHF", "1,234.56 CHF" },
    { 99, "SEK", "0.99 SEK" },
    { -350, "USD", "-$3.50" },
    { -123456, "CHF", "-1,234.56 CHF" },
    { 1234567, "KWD", "1,234.567 KWD" },
    { 500, "KRW", "500 KRW" },
    { 100000000, "USD", "$1,000,000.00" },
    { LLONG_MAX, "USD", "$92,233,720,368,547,758.07" },
    { LLONG_MIN, "USD", "-$92,233,720,368,547,758.08" },
};

START_TEST(money_is_formatted_for_its_currency_with_integer_arithmetic)
{
    char out[64];
    si_money_format(money_cases[_i].minor, money_cases[_i].currency, out, sizeof out);
    ck_assert_str_eq(out, money_cases[_i].out);
}
END_TEST

START_TEST(an_unknown_or_missing_currency_is_named_xxx_with_two_decimals)
{
    char out[64];
    si_money_format(1234, NULL, out, sizeof out);
    ck_assert_str_eq(out, "12.34 XXX");
    si_money_format(1234, "", out, sizeof out);
    ck_assert_str_eq(out, "12.34 XXX");
    si_money_format(-5, "EURO", out, sizeof out);
    ck_assert_str_eq(out, "-0.05 EURO");
}
END_TEST

START_TEST(digits_are_grouped_in_threes_and_cut_to_fit)
{
    char out[32], small[4];
    si_format_thousands(0, out, sizeof out);
    ck_assert_str_eq(out, "0");
    si_format_thousands(999, out, sizeof out);
    ck_assert_str_eq(out, "999");
    si_format_thousands(1000, out, sizeof out);
    ck_assert_str_eq(out, "1,000");
    si_format_thousands(ULLONG_MAX, out, sizeof out);
    ck_assert_str_eq(out, "18,446,744,073,709,551,615");
    si_format_thousands(123456, small, sizeof small);
    ck_assert_str_eq(small, "123");
}
END_TEST

static Suite *money_suite(void)
{
    Suite *s = suite_create("money");
    TCase *t = tcase_create("core");
    tcase_add_test(t, currencies_have_their_iso_exponents);
    tcase_add_loop_test(t, money_is_formatted_for_its_currency_with_integer_arithmetic, 0,
                        (int)(sizeof money_cases / sizeof money_cases[0]));
    tcase_add_test(t, an_unknown_or_missing_currency_is_named_xxx_with_two_decimals);
    tcase_add_test(t, digits_are_grouped_in_threes_and_cut_to_fit);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(money_suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
