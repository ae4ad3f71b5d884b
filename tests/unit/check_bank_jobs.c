/* check_bank_jobs.c: the pure rules of the bank import jobs (modules/bank/bank_jobs.h):
 * JSON number text to exact minor units, the plan's dates and ranges, the sync's
 * windows, and the estimates. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "bank_jobs.h"

static const struct { const char *text; int exponent; long long minor; } amount_cases[] = {
    { "0.1", 2, 10 },
    { "0.29", 2, 29 },            /* 0.28999999999999998 as a double */
    { "1234567.89", 2, 123456789 },
    { "-1234567.89", 2, -123456789 },
    { "-12.5", 2, -1250 },
    { "7", 2, 700 },
    { "0", 2, 0 },
    { "-0", 2, 0 },
    { "0.10", 2, 10 },
    { "12.300", 2, 1230 },        /* trailing zeros beyond the currency's decimals are exact */
    { "1.234", 3, 1234 },         /* BHD, KWD: three decimals */
    { "-0.005", 3, -5 },
    { "0.1", 3, 100 },
    { "1235", 0, 1235 },          /* JPY */
    { "1.5e2", 2, 15000 },
    { "125E-2", 2, 125 },
    { "1e-2", 2, 1 },
    { "100000000000.00", 2, 10000000000000LL },   /* the limit itself */
};

START_TEST(a_json_number_becomes_exact_minor_units)
{
    long long v = -99;
    const char *why = NULL;
    ck_assert_msg(bank_amount_minor(amount_cases[_i].text, amount_cases[_i].exponent, &v, &why) == 0, "%s: %s",
                  amount_cases[_i].text, why ? why : "");
    ck_assert_int_eq(v, amount_cases[_i].minor);
}
END_TEST

static const struct { const char *text; int exponent; const char *reason; } bad_amounts[] = {
    { "0.291", 2, "not_exact" },
    { "0.0001", 3, "not_exact" },
    { "1.5", 0, "not_exact" },
    { "1e-3", 2, "not_exact" },
    { "100000000000.01", 2, "out_of_range" },
    { "1e20", 2, "out_of_range" },
    { "99999999999999999999999999999999999999999", 2, "out_of_range" },
    { "", 2, "invalid" },
    { "-", 2, "invalid" },
    { "01", 2, "invalid" },
    { "1.", 2, "invalid" },
    { ".5", 2, "invalid" },
    { "+1", 2, "invalid" },
    { "1e", 2, "invalid" },
    { "1,5", 2, "invalid" },
    { " 1", 2, "invalid" },
    { "NaN", 2, "invalid" },
};

START_TEST(an_amount_that_is_not_exact_or_not_a_number_is_refused_with_its_reason)
{
    long long v = 0;
    const char *why = NULL;
    ck_assert_int_eq(bank_amount_minor(bad_amounts[_i].text, bad_amounts[_i].exponent, &v, &why), -1);
    ck_assert_str_eq(why, bad_amounts[_i].reason);
}
END_TEST

START_TEST(iso_dates_are_strict_calendar_days)
{
    long d = 0;
    char out[11];
    ck_assert_int_eq(bank_date_parse("1970-01-01", &d), 0);
    ck_assert_int_eq(d, 0);
    ck_assert_int_eq(bank_date_parse("2024-02-29", &d), 0);
    bank_date_format(d, out);
    ck_assert_str_eq(out, "2024-02-29");
    ck_assert_int_eq(bank_date_parse("2024-03-01", &d), 0);
    bank_date_format(d - 1, out);
    ck_assert_str_eq(out, "2024-02-29");
    const char *bad[] = { "2023-02-29", "2024-13-01", "2024-00-10", "2024-01-32", "2024-1-05", "24-01-05",
                          "2024/01/05", "2024-01-05T00:00:00Z", "05.01.2024", "", "yesterday", "1899-12-31" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(bank_date_parse(bad[i], &d) == -1, "%s", bad[i]);
}
END_TEST

static const struct { const char *from, *to; int status; const char *code; } ranges[] = {
    { "2024-01-01", "2024-12-31", 0, NULL },
    { "2024-01-01", "2024-01-01", 0, NULL },
    { "2023-01-01", "2025-01-01", 0, NULL },                        /* exactly two years */
    { "2023-01-01", "2025-01-02", 400, "date_range_too_long" },
    { "2024-02-29", "2026-02-28", 0, NULL },
    { "2024-02-29", "2026-03-01", 400, "date_range_too_long" },
    { "2024-12-31", "2024-01-01", 400, "invalid_date_range" },
    { "2024-01-01", "31/12/2024", 400, "invalid_date" },
    { "2024-1-1", "2024-12-31", 400, "invalid_date" },
};

START_TEST(a_plan_range_is_ordered_and_at_most_two_years)
{
    long f = 0, t = 0;
    struct si_error err;
    si_error_clear(&err);
    int rc = bank_range_check(ranges[_i].from, ranges[_i].to, &f, &t, &err);
    if (ranges[_i].status == 0) {
        ck_assert_int_eq(rc, 0);
        ck_assert_int_ge(t, f);
    } else {
        ck_assert_int_eq(rc, -1);
        ck_assert_int_eq(err.status, ranges[_i].status);
        ck_assert_str_eq(err.code, ranges[_i].code);
    }
}
END_TEST

START_TEST(windows_cover_the_range_without_overlap)
{
    long f = 0, t = 0;
    ck_assert_int_eq(bank_date_parse("2024-01-01", &f), 0);
    ck_assert_int_eq(bank_date_parse("2024-12-31", &t), 0);
    int n = bank_window_count(f, t, 90);
    ck_assert_int_eq(n, 5);            /* 366 days: 90+90+90+90+6 */
    long next = f;
    for (int i = 0; i < n; i++) {
        long a, b;
        bank_window(f, t, 90, i, &a, &b);
        ck_assert_int_eq(a, next);
        ck_assert_int_le(b, t);
        next = b + 1;
    }
    ck_assert_int_eq(next, t + 1);
    ck_assert_int_eq(bank_window_count(f, f, 90), 1);
    ck_assert_int_eq(bank_window_count(f, f + 89, 90), 1);
    ck_assert_int_eq(bank_window_count(f, f + 90, 90), 2);
}
END_TEST

START_TEST(estimates_come_from_rates_calls_parallelism_and_price)
{
    const double rates[] = { 250.0 / 365, 1.0, 0 };
    const struct bank_estimate_in in = {
        .accounts = 3, .tx_per_day = rates, .days = 365, .window_days = 90, .parallel = 2,
        .ms_per_call = 300, .price_micros_per_call = 250,
    };
    struct bank_estimate e;
    bank_estimate_plan(&in, &e);
    ck_assert_int_eq(e.transactions, 250 + 365 + 0);
    ck_assert_int_eq(e.calls_per_account, 5 + 1);            /* 5 windows + pending */
    ck_assert_int_eq(e.api_calls, 18);
    ck_assert_int_eq(e.duration_seconds, 4);                 /* 2 rounds x 6 calls x 0.3 s = 3.6 s */
    ck_assert_int_eq(e.cost_micros, 18 * 250);
    struct bank_estimate_in seq = in;
    seq.parallel = 1;
    bank_estimate_plan(&seq, &e);
    ck_assert_int_eq(e.duration_seconds, 6);                 /* 3 rounds: 5.4 s */
    ck_assert_int_eq(bank_estimate_account_tx(0.5, 3), 2);   /* 1.5 rounds half up */
    ck_assert_int_eq(bank_estimate_account_tx(-1, 30), 0);
    struct bank_estimate_in none = in;
    none.accounts = 0;
    bank_estimate_plan(&none, &e);
    ck_assert_int_eq(e.api_calls, 0);
}
END_TEST

static Suite *bank_jobs_suite(void)
{
    Suite *s = suite_create("bank_jobs");
    TCase *tc = tcase_create("amounts");
    tcase_add_loop_test(tc, a_json_number_becomes_exact_minor_units, 0, sizeof amount_cases / sizeof *amount_cases);
    tcase_add_loop_test(tc, an_amount_that_is_not_exact_or_not_a_number_is_refused_with_its_reason, 0,
                        sizeof bad_amounts / sizeof *bad_amounts);
    suite_add_tcase(s, tc);
    tc = tcase_create("dates");
    tcase_add_test(tc, iso_dates_are_strict_calendar_days);
    tcase_add_loop_test(tc, a_plan_range_is_ordered_and_at_most_two_years, 0, sizeof ranges / sizeof *ranges);
    tcase_add_test(tc, windows_cover_the_range_without_overlap);
    suite_add_tcase(s, tc);
    tc = tcase_create("estimates");
    tcase_add_test(tc, estimates_come_from_rates_calls_parallelism_and_price);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bank_jobs_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
