/* check_bank_client.c: the TrueLayer client's pure parts (modules/bank/tl_client.h):
 * its settings, exact minor units from JSON amounts, sealed tokens bound to their row.
 * The calls to the bank and the stored connection run against the stand-in server in
 * tests/integration/t0070-bank-connect.sh. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tl_client.h"

#define KEY "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

START_TEST(settings_default_to_truelayer_and_need_a_key_in_jwt_mode)
{
    struct tl_settings s;
    struct si_error err;
    char *none[] = { NULL };
    ck_assert_int_eq(tl_settings_load(&s, none, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.message, "SMARTIMPORT_TOKEN_KEY"));
    char *jwt[] = { "SMARTIMPORT_AUTH=jwt", "TRUELAYER_CLIENT_ID=c", "TRUELAYER_CLIENT_SECRET=s", NULL };
    ck_assert_int_eq(tl_settings_load(&s, jwt, &err), -1);
    char *dev[] = { "SMARTIMPORT_AUTH=trust-body", NULL };
    ck_assert_int_eq(tl_settings_load(&s, dev, &err), 0);
    ck_assert_str_eq(s.auth_url, TL_AUTH_URL_DEFAULT);
    ck_assert_str_eq(s.api_url, TL_API_URL_DEFAULT);
    ck_assert_str_eq(s.providers, "uk-ob-all uk-oauth-all");
    ck_assert_int_eq(tl_settings_ready(&s, &err), -1);
    ck_assert_int_eq(err.status, 503);
    ck_assert_str_eq(err.code, "bank_not_configured");
    tl_settings_cleanup(&s);
}
END_TEST

START_TEST(settings_take_the_environment_and_strip_trailing_slashes)
{
    struct tl_settings s;
    struct si_error err;
    char *env[] = { "TRUELAYER_AUTH_URL=http://127.0.0.1:9/", "TRUELAYER_API_URL=https://api.example//",
                    "TRUELAYER_CLIENT_ID=cid", "TRUELAYER_CLIENT_SECRET=secret", "SMARTIMPORT_TOKEN_KEY=" KEY,
                    "TRUELAYER_TIMEOUT_MS=500", "TRUELAYER_ATTEMPTS=2", "TRUELAYER_PROVIDERS=uk-cs-mock", NULL };
    ck_assert_int_eq(tl_settings_load(&s, env, &err), 0);
    ck_assert_str_eq(s.auth_url, "http://127.0.0.1:9");
    ck_assert_str_eq(s.api_url, "https://api.example");
    ck_assert_str_eq(s.client_id, "cid");
    ck_assert_int_eq(s.timeout_ms, 500);
    ck_assert_int_eq(s.attempts, 2);
    ck_assert_str_eq(s.providers, "uk-cs-mock");
    ck_assert(s.key.set);
    ck_assert_int_eq(tl_settings_ready(&s, &err), 0);
    tl_settings_cleanup(&s);
    ck_assert(!s.key.set);
}
END_TEST

static const char *const bad_settings[] = {
    "SMARTIMPORT_TOKEN_KEY=00112233",
    "SMARTIMPORT_TOKEN_KEY=" KEY "00",
    "TRUELAYER_AUTH_URL=ftp://auth.example",
    "TRUELAYER_API_URL=api.example",
    "TRUELAYER_API_URL=https://api.example/?x=1",
    "TRUELAYER_TIMEOUT_MS=fast",
    "TRUELAYER_ATTEMPTS=0",
    "TRUELAYER_MAX_RESPONSE_BYTES=10",
    "TRUELAYER_PROVIDERS=uk-ob-all&x=1",
    "TRUELAYER_PROVIDERS=uk-ob-all  uk-oauth-all",
    "TRUELAYER_PROVIDERS= uk-ob-all",
    "TRUELAYER_PROVIDERS=UK-OB-ALL",
};

START_TEST(a_bad_setting_stops_the_start_without_quoting_a_secret)
{
    struct tl_settings s;
    struct si_error err;
    char *env[] = { "SMARTIMPORT_AUTH=trust-body", (char *)bad_settings[_i], NULL };
    ck_assert_int_eq(tl_settings_load(&s, env, &err), -1);
    ck_assert_int_eq(err.status, 500);
    ck_assert_ptr_null(strstr(err.message, "00112233"));
    ck_assert_ptr_null(strstr(err.message, KEY));
}
END_TEST

static const struct { const char *json; int exp; long long minor; } amounts[] = {
    { "0.1", 2, 10 },
    { "-0.1", 2, -10 },
    { "0.29", 2, 29 },
    { "-0.29", 2, -29 },
    { "1234567.89", 2, 123456789 },
    { "-1234567.89", 2, -123456789 },
    { "19.99", 2, 1999 },
    { "0.07", 2, 7 },
    { "2500", 2, 250000 },
    { "2500.0", 2, 250000 },
    { "-12.345", 3, -12345 },
    { "0.001", 3, 1 },
    { "1234567.89", 3, 1234567890 },
    { "1235", 0, 1235 },
    { "99999999999.99", 2, 9999999999999LL },
    { "100000000000.00", 2, BANK_AMOUNT_MAX },   /* the largest the ledger takes */
};

START_TEST(json_amounts_become_exact_minor_units)
{
    json_error_t jerr;
    char doc[64];
    snprintf(doc, sizeof doc, "[%s]", amounts[_i].json);
    json_t *a = json_loads(doc, 0, &jerr);
    ck_assert_ptr_nonnull(a);
    long long minor = 0;
    ck_assert_int_eq(tl_amount_minor(json_array_get(a, 0), amounts[_i].exp, &minor), 0);
    ck_assert_int_eq(minor, amounts[_i].minor);
    json_decref(a);
}
END_TEST

static const struct { const char *json; int exp; } bad_amounts[] = {
    { "0.001", 2 }, { "1.5", 0 }, { "\"1.00\"", 2 }, { "null", 2 }, { "1e300", 2 }, { "10000000000000.00", 2 }, { "100000000000.01", 2 }, { "9999999999999.99", 2 },
    { "-10000000000000", 2 }, { "true", 2 },
};

START_TEST(amounts_that_are_not_exact_in_the_currency_are_refused)
{
    json_error_t jerr;
    char doc[64];
    snprintf(doc, sizeof doc, "[%s]", bad_amounts[_i].json);
    json_t *a = json_loads(doc, 0, &jerr);
    ck_assert_ptr_nonnull(a);
    long long minor = 42;
    ck_assert_int_eq(tl_amount_minor(json_array_get(a, 0), bad_amounts[_i].exp, &minor), -1);
    ck_assert_int_eq(minor, 42);
    json_decref(a);
}
END_TEST

START_TEST(a_sealed_token_opens_only_for_its_row_and_column)
{
    struct tl_settings s;
    struct si_error err;
    char *env[] = { "SMARTIMPORT_TOKEN_KEY=" KEY, NULL };
    ck_assert_int_eq(tl_settings_load(&s, env, &err), 0);
    const char *conn = "11111111-1111-4111-8111-111111111111", *user = "22222222-2222-4222-8222-222222222222",
               *other = "33333333-3333-4333-8333-333333333333";
    char *hex = NULL, *token = NULL;
    ck_assert_int_eq(tl_seal_token_hex(&s, conn, user, "access", "tlat_secret", &hex, &err), 0);
    ck_assert_ptr_null(strstr(hex, "tlat"));
    ck_assert_int_eq(tl_open_token_hex(&s, conn, user, "access", hex, &token, &err), 0);
    ck_assert_str_eq(token, "tlat_secret");
    si_crypt_free_secret(token);
    ck_assert_int_eq(tl_open_token_hex(&s, conn, other, "access", hex, &token, &err), -1);
    ck_assert_int_eq(tl_open_token_hex(&s, other, user, "access", hex, &token, &err), -1);
    ck_assert_int_eq(tl_open_token_hex(&s, conn, user, "refresh", hex, &token, &err), -1);
    ck_assert_str_eq(err.code, "sealed_value_unreadable");
    ck_assert_int_eq(tl_open_token_hex(&s, conn, user, "access", "abc", &token, &err), -1);
    free(hex);
    tl_settings_cleanup(&s);
}
END_TEST

static Suite *bank_client_suite(void)
{
    Suite *s = suite_create("bank_client");
    TCase *t = tcase_create("settings");
    tcase_add_test(t, settings_default_to_truelayer_and_need_a_key_in_jwt_mode);
    tcase_add_test(t, settings_take_the_environment_and_strip_trailing_slashes);
    tcase_add_loop_test(t, a_bad_setting_stops_the_start_without_quoting_a_secret, 0,
                        (int)(sizeof bad_settings / sizeof bad_settings[0]));
    suite_add_tcase(s, t);
    TCase *a = tcase_create("amounts");
    tcase_add_loop_test(a, json_amounts_become_exact_minor_units, 0, (int)(sizeof amounts / sizeof amounts[0]));
    tcase_add_loop_test(a, amounts_that_are_not_exact_in_the_currency_are_refused, 0,
                        (int)(sizeof bad_amounts / sizeof bad_amounts[0]));
    suite_add_tcase(s, a);
    TCase *k = tcase_create("tokens");
    tcase_add_test(k, a_sealed_token_opens_only_for_its_row_and_column);
    suite_add_tcase(s, k);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(bank_client_suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
