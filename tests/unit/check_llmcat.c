/* check_llmcat.c: the merchant categories asked of the model (llm_categorize.h): the
 * merchant key a counterparty becomes, the prompt (categories listed, digits masked, JSON
 * mode), the validation of the answer (only merchants asked, only known categories) and
 * the settings; with no model configured nothing is read or sent. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "llm_categorize.h"
#include "si_text.h"

/* ---- the merchant key ---- */

static const struct {
    const char *counterparty, *key;
} keys[] = {
    { "ZORBLAX BAKERY 4711 BERLIN", "zorblax bakery" },
    { "PAYPAL *NETFLIX", "netflix" },
    { "DEBIT CRD PURCHASE 12/05 T-MOBILE AUTOPAY 800-937-8997 WA", "t-mobile" },
    { "Café Müller und Söhne", "café müller und söhne" },
    { "  Quuxley    Pet\tSpa  ", "quuxley pet spa" },
    { "12/03 14:22 4711", "" },
    { "POS PURCHASE", "" },
    { "X", "" },
    { "", "" },
};

START_TEST(a_counterparty_becomes_its_normalised_lower_case_merchant)
{
    char out[LLMCAT_MERCHANT_MAX + 1];
    size_t n = llmcat_merchant_key(keys[_i].counterparty, out, sizeof out);
    ck_assert_str_eq(out, keys[_i].key);
    ck_assert_uint_eq(n, strlen(keys[_i].key));
}
END_TEST

START_TEST(a_long_merchant_is_cut_at_a_character_boundary_without_a_trailing_space)
{
    char in[256], out[LLMCAT_MERCHANT_MAX + 1];
    /* 31 x "ab " then "é": the cut falls at byte 64, inside nothing and after no space */
    size_t o = 0;
    for (int i = 0; i < 21; i++)
        o += (size_t)snprintf(in + o, sizeof in - o, "ab%c ", 'a' + i % 26);
    snprintf(in + o, sizeof in - o, "ééééé");
    size_t n = llmcat_merchant_key(in, out, sizeof out);
    ck_assert_uint_le(n, LLMCAT_MERCHANT_MAX);
    ck_assert_uint_eq(n, strlen(out));
    ck_assert(out[n - 1] != ' ');
    ck_assert_uint_eq(si_utf8_cut(out, n), n);
    char small[8];
    n = llmcat_merchant_key("Zorblax Bakery", small, sizeof small);
    ck_assert_str_eq(small, "zorblax");
    ck_assert_uint_eq(n, 7);
}
END_TEST

START_TEST(no_key_keeps_a_run_of_six_digits)
{
    static const char *const inputs[] = {
        "Ueberweisung an John Busby IBAN DE12500105170648489890",
        "ACME 1234 5678 9012 HOLDINGS",
        "TRANSFER TO 12345678",
        "Telekom Deutschland GmbH Kundennr 12345678 EREF+ABC",
    };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        char out[LLMCAT_MERCHANT_MAX + 1];
        llmcat_merchant_key(inputs[i], out, sizeof out);
        ck_assert_msg(!si_has_digit_run(out), "%s -> %s", inputs[i], out);
    }
}
END_TEST

/* ---- the prompt ---- */

static const char *const categories[] = { "Dining", "Groceries", "Shopping", "Other" };
#define N_CATEGORIES (sizeof categories / sizeof categories[0])

START_TEST(the_prompt_lists_the_categories_and_merchants_in_json_mode)
{
    const char *merchants[] = { "zorblax bakery", "quuxley pet spa" };
    char *text = llmcat_prompt(merchants, 2, categories, N_CATEGORIES, "test-model");
    ck_assert_ptr_nonnull(text);
    json_t *body = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(body);
    ck_assert_str_eq(json_string_value(json_object_get(body, "model")), "test-model");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(body, "response_format"), "type")),
                     "json_object");
    ck_assert(json_number_value(json_object_get(body, "temperature")) == 0.0);
    json_t *messages = json_object_get(body, "messages");
    ck_assert_uint_eq(json_array_size(messages), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(messages, 0), "role")), "system");
    const char *system = json_string_value(json_object_get(json_array_get(messages, 0), "content"));
    ck_assert_ptr_nonnull(strstr(system, "\"answers\""));
    ck_assert_ptr_nonnull(strstr(system, "Other"));
    json_t *user = json_loads(json_string_value(json_object_get(json_array_get(messages, 1), "content")), 0, NULL);
    ck_assert_ptr_nonnull(user);
    json_t *c = json_object_get(user, "categories"), *m = json_object_get(user, "merchants");
    ck_assert_uint_eq(json_array_size(c), N_CATEGORIES);
    ck_assert_str_eq(json_string_value(json_array_get(c, 3)), "Other");
    ck_assert_uint_eq(json_array_size(m), 2);
    ck_assert_str_eq(json_string_value(json_array_get(m, 1)), "quuxley pet spa");
    json_decref(user);
    json_decref(body);
    free(text);
}
END_TEST

START_TEST(the_prompt_masks_a_digit_run_that_reached_it)
{
    const char *merchants[] = { "acct 12345678", "card 4929 1234 5678 9012" };
    char *text = llmcat_prompt(merchants, 2, categories, N_CATEGORIES, "m");
    ck_assert_ptr_nonnull(text);
    ck_assert(!si_has_digit_run(text));
    ck_assert_ptr_nonnull(strstr(text, "acct ****5678"));
    ck_assert_ptr_null(strstr(text, "1234567"));
    free(text);
}
END_TEST

/* ---- the answer ---- */

static const char *const asked[] = { "zorblax bakery", "quuxley pet spa", "fnord yachts" };
#define N_ASKED (sizeof asked / sizeof asked[0])

static const struct {
    const char *content;
    int rc;
    const char *reason;                 /* when rc == -1 */
    const char *out[N_ASKED];           /* when rc == 0 */
    size_t ignored;
} answers[] = {
    { "{\"answers\":{\"zorblax bakery\":\"Dining\",\"quuxley pet spa\":\"Shopping\",\"fnord yachts\":\"Other\"}}",
      0, NULL, { "Dining", "Shopping", "Other" }, 0 },
    /* a category that is not one: ignored, the merchant keeps no answer */
    { "{\"answers\":{\"zorblax bakery\":\"Dining\",\"fnord yachts\":\"Yacht Parties\"}}",
      0, NULL, { "Dining", NULL, NULL }, 1 },
    /* a merchant nobody asked for: ignored */
    { "{\"answers\":{\"tesco\":\"Groceries\",\"quuxley pet spa\":\"Shopping\"}}",
      0, NULL, { NULL, "Shopping", NULL }, 1 },
    /* ASCII case aside, and the category's canonical spelling */
    { "{\"answers\":{\"ZORBLAX BAKERY\":\"dining\"}}", 0, NULL, { "Dining", NULL, NULL }, 0 },
    /* the same merchant twice (case variants): the first counts */
    { "{\"answers\":{\"zorblax bakery\":\"Dining\",\"Zorblax Bakery\":\"Shopping\"}}",
      0, NULL, { "Dining", NULL, NULL }, 1 },
    /* values that are not strings */
    { "{\"answers\":{\"zorblax bakery\":3,\"quuxley pet spa\":null,\"fnord yachts\":[\"Other\"]}}",
      0, NULL, { NULL, NULL, NULL }, 3 },
    /* extra keys beside answers are no harm */
    { "{\"answers\":{},\"note\":\"x\"}", 0, NULL, { NULL, NULL, NULL }, 0 },
    { "", -1, "empty_reply", { NULL }, 0 },
    { "not json", -1, "bad_json", { NULL }, 0 },
    { "[\"Dining\"]", -1, "bad_json", { NULL }, 0 },
    { "{\"summary\":\"x\"}", -1, "no_answers", { NULL }, 0 },
    { "{\"answers\":[\"Dining\"]}", -1, "no_answers", { NULL }, 0 },
};

START_TEST(only_merchants_asked_and_known_categories_are_taken_from_the_answer)
{
    const char *out[N_ASKED];
    size_t ignored = 99;
    const char *reason = NULL;
    const char *content = answers[_i].content;
    int rc = llmcat_parse_answer(content, strlen(content), asked, N_ASKED, categories, N_CATEGORIES, out, &ignored,
                                 &reason);
    ck_assert_int_eq(rc, answers[_i].rc);
    if (rc != 0) {
        ck_assert_str_eq(reason, answers[_i].reason);
        return;
    }
    ck_assert_uint_eq(ignored, answers[_i].ignored);
    for (size_t k = 0; k < N_ASKED; k++) {
        if (answers[_i].out[k] == NULL) {
            ck_assert_ptr_null(out[k]);
            continue;
        }
        ck_assert_ptr_nonnull(out[k]);
        ck_assert_str_eq(out[k], answers[_i].out[k]);
        /* a pointer into the category list, never into the parsed answer */
        bool listed = false;
        for (size_t c = 0; c < N_CATEGORIES; c++)
            listed |= out[k] == categories[c];
        ck_assert(listed);
    }
}
END_TEST

START_TEST(an_answer_beyond_the_reply_limit_is_refused)
{
    size_t n = LLMCAT_MAX_REPLY_BYTES + 1;
    char *big = malloc(n + 1);
    ck_assert_ptr_nonnull(big);
    memset(big, ' ', n);
    big[n] = '\0';
    const char *out[N_ASKED], *reason = NULL;
    size_t ignored;
    ck_assert_int_eq(llmcat_parse_answer(big, n, asked, N_ASKED, categories, N_CATEGORIES, out, &ignored, &reason),
                     -1);
    ck_assert_str_eq(reason, "too_long");
    free(big);
}
END_TEST

/* ---- settings, and no model ---- */

START_TEST(the_settings_are_the_models_with_a_timeout_of_their_own)
{
    struct si_llm_config c;
    struct si_error err;
    char *none[] = { NULL };
    ck_assert_int_eq(llmcat_config_load(&c, none, &err), 0);
    ck_assert_int_eq(c.timeout_ms, LLMCAT_DEFAULT_TIMEOUT_MS);
    ck_assert(!si_llm_configured(&c));

    char *set[] = { "OPENAI_BASE_URL=http://127.0.0.1:9/v1", "OPENAI_API_KEY=k", "OPENAI_TIMEOUT_MS=1500",
                    "SMARTIMPORT_LLMCAT_TIMEOUT_MS=2500", NULL };
    ck_assert_int_eq(llmcat_config_load(&c, set, &err), 0);
    ck_assert(si_llm_configured(&c));
    ck_assert_int_eq(c.timeout_ms, 2500);
    ck_assert_str_eq(c.base_url, "http://127.0.0.1:9/v1");

    char *too_long[] = { "SMARTIMPORT_LLMCAT_TIMEOUT_MS=30001", NULL };
    char *not_a_number[] = { "SMARTIMPORT_LLMCAT_TIMEOUT_MS=5s", NULL };
    ck_assert_int_eq(llmcat_config_load(&c, too_long, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.message, "SMARTIMPORT_LLMCAT_TIMEOUT_MS"));
    ck_assert_int_eq(llmcat_config_load(&c, not_a_number, &err), -1);
}
END_TEST

START_TEST(without_a_model_nothing_is_read_or_sent)
{
    struct si_llm_config c;
    struct si_error err;
    char *none[] = { NULL };
    ck_assert_int_eq(llmcat_config_load(&c, none, &err), 0);
    json_t *warnings = json_array();
    /* no database and no HTTP client: touching either would crash */
    llmcat_apply(NULL, NULL, &c, "00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002",
                 warnings);
    ck_assert_uint_eq(json_array_size(warnings), 0);
    json_decref(warnings);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *llmcat_suite(void)
{
    Suite *s = suite_create("llmcat");
    TCase *t = tcase_create("core");
    tcase_add_loop_test(t, a_counterparty_becomes_its_normalised_lower_case_merchant, 0, N(keys));
    tcase_add_test(t, a_long_merchant_is_cut_at_a_character_boundary_without_a_trailing_space);
    tcase_add_test(t, no_key_keeps_a_run_of_six_digits);
    tcase_add_test(t, the_prompt_lists_the_categories_and_merchants_in_json_mode);
    tcase_add_test(t, the_prompt_masks_a_digit_run_that_reached_it);
    tcase_add_loop_test(t, only_merchants_asked_and_known_categories_are_taken_from_the_answer, 0, N(answers));
    tcase_add_test(t, an_answer_beyond_the_reply_limit_is_refused);
    tcase_add_test(t, the_settings_are_the_models_with_a_timeout_of_their_own);
    tcase_add_test(t, without_a_model_nothing_is_read_or_sent);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(llmcat_suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
