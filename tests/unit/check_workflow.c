/* check_workflow.c: the workflow's pure rules: phase numbers, the 20% fee and
 * its rounding, claim routing, backoff, canonical JSON + sha256 and the
 * validation of phase fields; the settings, which refuse to start rather than
 * fall back to a default. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "workflow.h"

START_TEST(only_1_to_7_are_phases)
{
    ck_assert_int_eq(wf_parse_phase("1"), 1);
    ck_assert_int_eq(wf_parse_phase("7"), 7);
    const char *bad[] = { "0", "8", "", "01", "1.0", "-1", "+1", "12", "a", "1 ", "1/", "7x" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(wf_parse_phase(bad[i]) == -1, "%s", bad[i]);
    ck_assert_int_eq(wf_parse_phase(NULL), -1);
}
END_TEST

START_TEST(the_fee_is_20_percent_rounded_half_up)
{
    long long fee, net;
    struct { long long amount, fee; } cases[] = {
        { 0, 0 }, { 1, 0 }, { 2, 0 }, { 3, 1 }, { 4, 1 }, { 5, 1 }, { 7, 1 }, { 8, 2 },
        { 10000, 2000 }, { 12345, 2469 }, { 12347, 2469 }, { 12348, 2470 }, { 999999999, 200000000 },
        { 1000000000000000LL, 200000000000000LL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ck_assert_int_eq(wf_fee(cases[i].amount, &fee, &net), 0);
        ck_assert_msg(fee == cases[i].fee, "amount %lld: fee %lld", cases[i].amount, fee);
        ck_assert_int_eq(fee + net, cases[i].amount);
    }
    ck_assert_int_eq(wf_fee(-1, &fee, &net), -1);
    ck_assert_int_eq(wf_fee(1000000000000001LL, &fee, &net), -1);
}
END_TEST

START_TEST(fractions_of_a_minor_unit_round_to_nearest)
{
    long long fee, net;
    /* 20% of an integer has one decimal in {0,2,4,6,8}, so an exact .5 never occurs:
     * the rule shows at .4 (down) and .6 (up); (amount * 2000 + 5000) / 10000 is half up. */
    ck_assert_int_eq(wf_fee(2, &fee, &net), 0);
    ck_assert_int_eq(fee, 0);
    ck_assert_int_eq(wf_fee(3, &fee, &net), 0);
    ck_assert_int_eq(fee, 1);
    ck_assert_int_eq(net, 2);
}
END_TEST

START_TEST(claims_route_by_confidence)
{
    ck_assert_str_eq(wf_route(1.0), "auto_submit");
    ck_assert_str_eq(wf_route(0.85), "auto_submit");
    ck_assert_str_eq(wf_route(0.8499), "smart_prompt");
    ck_assert_str_eq(wf_route(0.5), "smart_prompt");
    ck_assert_str_eq(wf_route(0.4999), "hold");
    ck_assert_str_eq(wf_route(0.0), "hold");
}
END_TEST

START_TEST(backoff_doubles_and_is_capped)
{
    ck_assert_int_eq(wf_backoff_ms(1, 1000, 300000), 1000);
    ck_assert_int_eq(wf_backoff_ms(2, 1000, 300000), 2000);
    ck_assert_int_eq(wf_backoff_ms(3, 1000, 300000), 4000);
    ck_assert_int_eq(wf_backoff_ms(9, 1000, 300000), 256000);
    ck_assert_int_eq(wf_backoff_ms(10, 1000, 300000), 300000);
    ck_assert_int_eq(wf_backoff_ms(1000, 1000, 300000), 300000);
    ck_assert_int_eq(wf_backoff_ms(0, 50, 300000), 50);
    ck_assert_int_eq(wf_backoff_ms(5, 0, 300000), 0);
}
END_TEST

START_TEST(canonical_json_sorts_keys_without_whitespace_and_hashes_stably)
{
    json_t *a = json_pack("{s:i, s:s, s:{s:i, s:i}}", "b", 2, "a", "x", "c", "z", 1, "y", 2);
    json_t *b = json_pack("{s:{s:i, s:i}, s:s, s:i}", "c", "y", 2, "z", 1, "a", "x", "b", 2);
    char *ca = wf_canonical_json(a), *cb = wf_canonical_json(b);
    ck_assert_str_eq(ca, "{\"a\":\"x\",\"b\":2,\"c\":{\"y\":2,\"z\":1}}");
    ck_assert_str_eq(ca, cb);
    char h1[65], h2[65];
    ck_assert_int_eq(wf_sha256_hex(ca, strlen(ca), h1), 0);
    ck_assert_int_eq(wf_sha256_hex(cb, strlen(cb), h2), 0);
    ck_assert_str_eq(h1, h2);
    ck_assert_int_eq(wf_sha256_hex("abc", 3, h1), 0);
    ck_assert_str_eq(h1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    free(ca);
    free(cb);
    json_decref(a);
    json_decref(b);
}
END_TEST

static int validate(int phase, const char *text, const char **code)
{
    struct si_error err;
    si_error_clear(&err);
    json_error_t jerr;
    json_t *body = json_loads(text, 0, &jerr);
    ck_assert_ptr_nonnull(body);
    int rc = wf_validate_phase_fields(phase, body, &err);
    *code = err.code;
    json_decref(body);
    return rc;
}

START_TEST(phase_fields_are_validated)
{
    const char *code;
    ck_assert_int_eq(validate(1, "{}", &code), 0);
    ck_assert_int_eq(validate(1, "{\"seller_id\":5}", &code), -1);
    ck_assert_int_eq(validate(2, "{\"anything\":[1,2]}", &code), 0);
    ck_assert_int_eq(validate(4, "{\"matches\":[]}", &code), 0);
    ck_assert_int_eq(validate(4, "{\"matches\":[{\"claim_id\":\"c1\",\"confidence\":0.9},"
                                 "{\"claim_id\":\"c2\",\"confidence\":1}]}", &code), 0);
    ck_assert_int_eq(validate(4, "{}", &code), -1);
    ck_assert_str_eq(code, "missing_field");
    ck_assert_int_eq(validate(4, "{\"matches\":{}}", &code), -1);
    ck_assert_int_eq(validate(4, "{\"matches\":[{\"claim_id\":\"c1\",\"confidence\":1.5}]}", &code), -1);
    ck_assert_int_eq(validate(4, "{\"matches\":[{\"claim_id\":\"c1\",\"confidence\":\"0.9\"}]}", &code), -1);
    ck_assert_int_eq(validate(4, "{\"matches\":[{\"confidence\":0.9}]}", &code), -1);
    ck_assert_int_eq(validate(4, "{\"matches\":[{\"claim_id\":\"c1\",\"confidence\":0.9},"
                                 "{\"claim_id\":\"c1\",\"confidence\":0.2}]}", &code), -1);
    ck_assert_str_eq(code, "duplicate_claim_id");
    ck_assert_int_eq(validate(5, "{\"claim_id\":\"c1\"}", &code), 0);
    ck_assert_int_eq(validate(5, "{}", &code), -1);
    ck_assert_int_eq(validate(6, "{\"claim_id\":\"c1\",\"reason\":\"missing_docs\"}", &code), 0);
    ck_assert_int_eq(validate(7, "{\"claim_id\":\"c1\",\"amount_minor\":12345,\"currency\":\"USD\"}", &code), 0);
    ck_assert_int_eq(validate(7, "{\"claim_id\":\"c1\",\"amount_minor\":123.45,\"currency\":\"USD\"}", &code), -1);
    ck_assert_int_eq(validate(7, "{\"claim_id\":\"c1\",\"amount_minor\":0,\"currency\":\"USD\"}", &code), -1);
    ck_assert_int_eq(validate(7, "{\"claim_id\":\"c1\",\"amount_minor\":-5,\"currency\":\"USD\"}", &code), -1);
    ck_assert_int_eq(validate(7, "{\"claim_id\":\"c1\",\"amount_minor\":5,\"currency\":\"usd\"}", &code), -1);
    ck_assert_int_eq(validate(7, "{\"claim_id\":\"c1\",\"amount_minor\":5}", &code), -1);
    ck_assert_int_eq(validate(7, "{\"amount_minor\":5,\"currency\":\"EUR\"}", &code), -1);
}
END_TEST

START_TEST(a_malformed_setting_refuses_the_start_instead_of_falling_back)
{
    struct si_config cfg;
    struct si_error err;
    struct wf_settings set;
    void *fc = NULL;
    char *good[] = { "WORKFLOW_MAX_ATTEMPTS=7", "WORKFLOW_BACKOFF_MS=2000", NULL };
    ck_assert_int_eq(si_config_load(&cfg, good, &err), 0);
    ck_assert_int_eq(workflow_init(&cfg, &fc, &err), 0);
    ck_assert_int_eq(((struct wf_api_config *)fc)->max_attempts, 7);
    workflow_cleanup(fc);
    ck_assert_int_eq(wf_settings_load(&set, good, &err), 0);
    ck_assert_int_eq(set.max_attempts, 7);
    ck_assert_int_eq(set.backoff_ms, 2000);
    ck_assert_int_eq(set.backoff_max_ms, 300000);   /* unset: the default */

    const char *bad[] = { "WORKFLOW_MAX_ATTEMPTS=five", "WORKFLOW_MAX_ATTEMPTS=0", "WORKFLOW_MAX_ATTEMPTS=101",
                          "WORKFLOW_MAX_ATTEMPTS= 5" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *env[] = { (char *)bad[i], NULL };
        ck_assert_int_eq(si_config_load(&cfg, env, &err), 0);
        fc = NULL;
        ck_assert_msg(workflow_init(&cfg, &fc, &err) == -1, "the API took %s", bad[i]);
        ck_assert_ptr_null(fc);
        ck_assert_ptr_nonnull(strstr(err.message, "WORKFLOW_MAX_ATTEMPTS"));
        ck_assert_msg(wf_settings_load(&set, env, &err) == -1, "the worker took %s", bad[i]);
    }
    char *overflow[] = { "WORKFLOW_BACKOFF_MAX_MS=99999999999999999999", NULL };
    ck_assert_int_eq(wf_settings_load(&set, overflow, &err), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("workflow");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, only_1_to_7_are_phases);
    tcase_add_test(tc, the_fee_is_20_percent_rounded_half_up);
    tcase_add_test(tc, fractions_of_a_minor_unit_round_to_nearest);
    tcase_add_test(tc, claims_route_by_confidence);
    tcase_add_test(tc, backoff_doubles_and_is_capped);
    tcase_add_test(tc, canonical_json_sorts_keys_without_whitespace_and_hashes_stably);
    tcase_add_test(tc, phase_fields_are_validated);
    suite_add_tcase(s, tc);
    tc = tcase_create("settings");
    tcase_add_test(tc, a_malformed_setting_refuses_the_start_instead_of_falling_back);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
