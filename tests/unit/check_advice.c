/* check_advice.c: Crystal's pure parts, table-driven: the digit masker,
 * percent formatting, the derived analytics, the rules template, the prompt
 * (masked, JSON mode) and the validation of the model's reply.  Money
 * formatting is the runtime's: tests/unit/check_money.c. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "advice.h"

/* ---- the masker ----------------------------------------------------------------- */

static const struct { const char *in, *out; } mask_cases[] = {
    { "TRANSFER TO 12345678", "TRANSFER TO ****5678" },
    { "TESCO STORES 3297", "TESCO STORES 3297" },
    { "123456", "**3456" },
    { "12345", "12345" },
    { "Card 1234 5678 9012 3456", "Card **** **** **** 3456" },
    { "IBAN DE89-3704-0044-0532-0130-00", "IBAN DE**-****-****-****-**30-00" },
    { "12 34 56", "** 34 56" },
    { "Order 2024 - 11", "Order 2024 - 11" },
    { "a1b2c3d4e5f6g7", "a1b2c3d4e5f6g7" },
    { "ref 1234567 and 9876543210", "ref ***4567 and ******3210" },
    { "Caf\xC3\xA9 1234567 \xE2\x82\xAC", "Caf\xC3\xA9 ***4567 \xE2\x82\xAC" },
    { "phone 555-123-4567", "phone ***-***-4567" },
    { "1234--5678", "1234--5678" },
    { "", "" },
};

START_TEST(the_masker_hides_all_but_the_last_four_digits_of_long_runs)
{
    char out[128];
    si_mask_digits(mask_cases[_i].in, out, sizeof out);
    ck_assert_str_eq(out, mask_cases[_i].out);
    ck_assert(!si_has_digit_run(out));
    /* masking is idempotent and works in place */
    char again[128];
    snprintf(again, sizeof again, "%s", out);
    si_mask_digits(again, again, sizeof again);
    ck_assert_str_eq(again, out);
}
END_TEST

START_TEST(the_masker_never_leaks_digits_when_truncating_and_keeps_utf8_whole)
{
    char out[6];
    si_mask_digits("12345678", out, sizeof out);
    ck_assert_str_eq(out, "****5");   /* only what the whole mask shows */
    char small[5];
    si_mask_digits("ab\xE2\x82\xAC", small, sizeof small);   /* the euro sign does not fit */
    ck_assert_str_eq(small, "ab");
    ck_assert(si_has_digit_run("acct 12345678"));
    ck_assert(si_has_digit_run("1234 5678"));
    ck_assert(!si_has_digit_run("12345 x 6"));
}
END_TEST

/* ---- money and percentages ------------------------------------------------------ */

static const struct { long long num, den, tenths; const char *text, *signed_text; } pct_cases[] = {
    { 1, 3, 333, "33.3%", "+33.3%" },
    { 2, 3, 667, "66.7%", "+66.7%" },
    { -1, 8, -125, "-12.5%", "-12.5%" },
    { 1, 2000, 1, "0.1%", "+0.1%" },
    { 1, 2001, 0, "0.0%", "0.0%" },
    { 45050, 30000, 1502, "150.2%", "+150.2%" },
    { 0, 5, 0, "0.0%", "0.0%" },
};

START_TEST(percentages_are_rounded_tenths)
{
    long long t;
    char text[24];
    ck_assert(advice_pct_tenths(pct_cases[_i].num, pct_cases[_i].den, &t));
    ck_assert_int_eq(t, pct_cases[_i].tenths);
    advice_format_pct(t, false, text, sizeof text);
    ck_assert_str_eq(text, pct_cases[_i].text);
    advice_format_pct(t, true, text, sizeof text);
    ck_assert_str_eq(text, pct_cases[_i].signed_text);
}
END_TEST

START_TEST(division_rounds_half_away_from_zero)
{
    ck_assert_int_eq(advice_div_round(5, 2), 3);
    ck_assert_int_eq(advice_div_round(-5, 2), -3);
    ck_assert_int_eq(advice_div_round(4, 3), 1);
    ck_assert_int_eq(advice_div_round(-4, 3), -1);
    ck_assert_int_eq(advice_div_round(7, 0), 0);
    long long t;
    ck_assert(!advice_pct_tenths(1, 0, &t));
}
END_TEST

/* ---- analytics fixtures ------------------------------------------------------------ */

/* March 2024, USD, one earlier month. */
static void march(struct advice_analytics *a, int history_months)
{
    memset(a, 0, sizeof *a);
    snprintf(a->currency, sizeof a->currency, "USD");
    a->from_y = a->to_y = 2024;
    a->from_m = a->to_m = 3;
    a->from_d = 1;
    a->to_d = 31;
    a->period_days = 31;
    a->month_days = 31;
    a->next_month_days = 30;
    a->history_months = history_months;
}

START_TEST(categories_past_the_limit_are_folded_into_other_and_names_are_masked)
{
    struct advice_analytics a;
    march(&a, 0);
    char name[32];
    for (int i = 0; i < 15; i++) {
        snprintf(name, sizeof name, "Cat %02d", i);
        advice_add_category(&a, name, 1000 - i, 1, 0, -1);
    }
    advice_add_category(&a, "Savings 12345678", 5, 1, 0, -1);
    ck_assert_uint_eq(a.n_categories, ADVICE_MAX_CATEGORIES);
    ck_assert_str_eq(a.categories[ADVICE_MAX_CATEGORIES - 1].name, "Other");
    ck_assert_int_eq(a.categories[ADVICE_MAX_CATEGORIES - 1].spend, 989 + 988 + 987 + 986 + 5);

    struct advice_analytics b;
    march(&b, 0);
    advice_add_category(&b, "Savings 12345678", 5, 1, 0, -1);
    ck_assert_str_eq(b.categories[0].name, "Savings ****5678");
}
END_TEST

static void groceries_month(struct advice_analytics *a)
{
    march(a, 1);
    advice_add_category(a, "Dining", 20000, 4, 25000, -1);
    advice_add_category(a, "Groceries", 45050, 3, 30000, -1);
    advice_add_category(a, "Transport", 12000, 2, 12000, -1);
    a->income = 250000;
    a->tx_count = 10;
    a->n_merchants = 1;
    si_mask_digits("TESCO STORES 3297", a->merchants[0].name, sizeof a->merchants[0].name);
    a->merchants[0].spend = 30000;
    a->merchants[0].count = 2;
    advice_derive(a);
}

START_TEST(derived_figures_run_rates_month_over_month_drivers_and_projection)
{
    struct advice_analytics a;
    groceries_month(&a);
    ck_assert_str_eq(a.categories[0].name, "Groceries");   /* sorted by spend */
    ck_assert_int_eq(a.spend, 77050);
    ck_assert_int_eq(a.monthly, 77050);                   /* a full month is its own run-rate */
    ck_assert_int_eq(a.baseline, 67000);
    ck_assert_int_eq(a.projection, 74565);                /* 77050 / 31 x 30, rounded */
    ck_assert_int_eq(a.categories[0].share_tenths, 585);
    ck_assert(a.categories[0].has_mom);
    ck_assert_int_eq(a.categories[0].mom_tenths, 502);
    ck_assert_int_eq(a.categories[1].mom_tenths, -200);
    ck_assert_uint_eq(a.n_drivers, 2);                    /* Transport did not change */
    ck_assert_str_eq(a.categories[a.drivers[0]].name, "Groceries");
    ck_assert_str_eq(a.categories[a.drivers[1]].name, "Dining");
}
END_TEST

/* A ledger of any size: figures saturate at ADVICE_MONEY_MAX instead of
 * overflowing (UBSan would report the overflow), and the text still renders. */
START_TEST(figures_from_a_huge_ledger_saturate_instead_of_overflowing)
{
    struct advice_analytics a;
    march(&a, 3);
    for (int i = 0; i < 40; i++) {   /* more categories than slots: folded into Other */
        char name[32];
        snprintf(name, sizeof name, "Category %c%c", 'A' + i / 26, 'A' + i % 26);
        advice_add_category(&a, name, ADVICE_MONEY_MAX, 1, ADVICE_MONEY_MAX, ADVICE_MONEY_MAX);
    }
    a.income = ADVICE_MONEY_MAX;
    advice_derive(&a);
    ck_assert_int_eq(a.spend, ADVICE_MONEY_MAX);
    ck_assert_int_eq(a.categories[a.n_categories - 1].spend, ADVICE_MONEY_MAX);   /* Other, saturated */
    ck_assert_int_eq(a.monthly, ADVICE_MONEY_MAX);                                  /* a full month */
    ck_assert(a.projection > 0 && a.projection <= ADVICE_MONEY_MAX);
    ck_assert_int_eq(advice_money_add(LLONG_MAX, LLONG_MAX), ADVICE_MONEY_MAX);
    ck_assert_int_eq(advice_money_add(LLONG_MIN, -1), -ADVICE_MONEY_MAX);
    ck_assert_int_eq(advice_money_add(ADVICE_MONEY_MAX, -1), ADVICE_MONEY_MAX - 1);
    struct advice_text text;
    advice_template(&a, &text);
    ck_assert(strlen(text.summary) > 0);
}
END_TEST

/* ---- the rules template ---------------------------------------------------------------- */

START_TEST(the_template_compares_with_earlier_months)
{
    struct advice_analytics a;
    struct advice_text t;
    groceries_month(&a);
    advice_template(&a, &t);
    ck_assert_str_eq(t.summary,
        "You spent $770.50 across 9 transactions between Mar 1 and Mar 31, 2024. Groceries was the largest "
        "category at $450.50 (58.5% of spending), followed by Dining ($200.00) and Transport ($120.00). "
        "The largest payee was TESCO STORES 3297 at $300.00. Money in over the same period came to $2,500.00.");
    ck_assert_str_eq(t.budget_impact,
        "Spending is running at $770.50 a month, 15.0% above the previous month ($670.00). "
        "The biggest changes are Groceries (+$150.50, +50.2%) and Dining (-$50.00, -20.0%).");
    ck_assert_str_eq(t.forecast_delta,
        "At this pace next month's spending would be about $745.65 ($24.85 a day over 30 days), 11.3% more "
        "than your recent monthly average of $670.00.");
}
END_TEST

START_TEST(the_template_reports_budgets_when_there_are_any)
{
    struct advice_analytics a;
    struct advice_text t;
    march(&a, 0);
    advice_add_category(&a, "Groceries", 45050, 3, 0, 40000);
    advice_add_category(&a, "Dining", 10000, 2, 0, 20000);
    advice_add_category(&a, "Travel", 0, 0, 0, 50000);
    advice_derive(&a);
    advice_template(&a, &t);
    ck_assert_str_eq(t.budget_impact,
        "At this pace Groceries would reach $450.50 a month against its $400.00 budget ($50.50 over). "
        "The other 2 budgeted categories are on track.");
    ck_assert_str_eq(t.forecast_delta,
        "At this pace next month's spending would be about $532.74 ($17.76 a day over 30 days); there is no "
        "earlier month to compare it with yet.");

    march(&a, 0);
    advice_add_category(&a, "Dining", 10000, 2, 0, 20000);
    advice_derive(&a);
    advice_template(&a, &t);
    ck_assert_str_eq(t.budget_impact,
        "Your budgeted category is on track; the closest to its limit is Dining at 50.0% of its $200.00 "
        "monthly budget.");
}
END_TEST

START_TEST(the_template_handles_a_first_import_and_a_period_without_spending)
{
    struct advice_analytics a;
    struct advice_text t;
    march(&a, 0);
    a.from_d = 10;
    a.to_d = 19;
    a.period_days = 10;
    advice_add_category(&a, "Groceries", 10000, 1, 0, -1);
    a.other_currency_count = 2;
    advice_derive(&a);
    advice_template(&a, &t);
    ck_assert_str_eq(t.summary,
        "You spent $100.00 across 1 transaction between Mar 10 and Mar 19, 2024. Groceries was the largest "
        "category at $100.00 (100.0% of spending). 2 transactions in other currencies are not included.");
    ck_assert_str_eq(t.budget_impact,
        "There are no budgets or earlier months to compare against yet, so this period's $310.00 a month "
        "becomes your baseline.");

    march(&a, 2);
    a.income = 5000;
    advice_derive(&a);
    advice_template(&a, &t);
    ck_assert_str_eq(t.summary, "No spending was recorded between Mar 1 and Mar 31, 2024; money in came to $50.00.");
    ck_assert_str_eq(t.forecast_delta, "With no spending in this period there is nothing to project yet.");
    ck_assert(!si_has_digit_run(t.summary));
}
END_TEST

/* ---- the prompt -------------------------------------------------------------------------- */

START_TEST(the_chat_request_masks_what_the_user_wrote_and_keeps_the_turns_in_order)
{
    struct chat_facts facts = { "Groceries took most of it.", "Above your usual month.", "A little more next month.",
                                "[\"Groceries: $300.25\"]" };
    struct chat_turn turns[] = { { "user", "Is my IBAN DE89 3704 0044 0532 0130 00 safe?" },
                                 { "assistant", "I never see account numbers." } };
    char *text = advice_chat_prompt("gpt-4o-mini", &facts, turns, 2, "Card 4111 1111 1111 1111: why?");
    ck_assert_ptr_nonnull(text);
    json_error_t jerr;
    json_t *p = json_loads(text, 0, &jerr);
    ck_assert_ptr_nonnull(p);
    ck_assert(!si_has_digit_run(text));
    json_t *m = json_object_get(p, "messages");
    ck_assert_uint_eq(json_array_size(m), 4);
    const char *sys = json_string_value(json_object_get(json_array_get(m, 0), "content"));
    ck_assert(strncmp(sys, "You are Crystal, chatting", 25) == 0);
    ck_assert_ptr_nonnull(strstr(sys, "Groceries: $300.25"));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 1), "role")), "user");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 2), "role")), "assistant");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 3), "content")), "Card **** **** **** 1111: why?");
    free(text);
    json_decref(p);

    char reply[CHAT_REPLY_MAX + 1];
    advice_chat_rules_reply(&facts, reply, sizeof reply);
    ck_assert_ptr_nonnull(strstr(reply, "no language model"));
    ck_assert_ptr_nonnull(strstr(reply, "Groceries took most of it."));
}
END_TEST

START_TEST(the_prompt_is_json_mode_carries_merchants_and_no_digit_runs)
{
    struct advice_analytics a;
    groceries_month(&a);
    a.n_merchants = 2;
    si_mask_digits("TRANSFER TO 12345678", a.merchants[1].name, sizeof a.merchants[1].name);
    a.merchants[1].spend = 100000;
    a.merchants[1].count = 1234567;   /* counts are grouped, never a digit run */
    char *text = advice_prompt(&a, "gpt-4o-mini");
    ck_assert_ptr_nonnull(text);
    json_error_t jerr;
    json_t *p = json_loads(text, 0, &jerr);
    ck_assert_ptr_nonnull(p);
    ck_assert(!si_has_digit_run(text));
    ck_assert_ptr_nonnull(strstr(text, "TESCO STORES 3297"));
    ck_assert_ptr_nonnull(strstr(text, "TRANSFER TO ****5678"));
    ck_assert_ptr_nonnull(strstr(text, "1,234,567"));
    ck_assert_str_eq(json_string_value(json_object_get(p, "model")), "gpt-4o-mini");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(p, "response_format"), "type")),
                     "json_object");
    ck_assert_uint_eq(json_array_size(json_object_get(p, "messages")), 2);
    free(text);
    json_decref(p);

    /* a dated model name is configuration, not user data: it is sent as is */
    text = advice_prompt(&a, "gpt-4o-mini-2024-07-18");
    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_nonnull(strstr(text, "\"model\":\"gpt-4o-mini-2024-07-18\""));
    p = json_loads(text, 0, &jerr);
    ck_assert_ptr_nonnull(p);
    const char *user = json_string_value(json_object_get(json_array_get(json_object_get(p, "messages"), 1), "content"));
    ck_assert_ptr_nonnull(user);
    ck_assert(!si_has_digit_run(user));
    free(text);
    json_decref(p);
}
END_TEST

/* ---- the model's reply -------------------------------------------------------------------- */

static const struct { const char *content; int rc; const char *reason; } reply_cases[] = {
    { "{\"summary\":\"S\",\"budgetImpact\":\"B\",\"forecastDelta\":\"F\"}", 0, NULL },
    { "  {\"forecastDelta\":\"F\",\"summary\":\" S \\n\\n two \",\"budgetImpact\":\"B\"}\n", 0, NULL },
    { "{\"summary\":\"S\",\"budgetImpact\":\"B\",\"forecastDelta\":\"F\",\"extra\":\"x\"}", -1, "wrong_keys" },
    { "{\"summary\":\"S\",\"budgetImpact\":\"B\"}", -1, "wrong_keys" },
    { "{\"summary\":\"S\",\"budget\":\"B\",\"forecastDelta\":\"F\"}", -1, "wrong_keys" },
    { "{\"summary\":\"S\",\"budgetImpact\":3,\"forecastDelta\":\"F\"}", -1, "not_string" },
    { "{\"summary\":\"S\",\"budgetImpact\":null,\"forecastDelta\":\"F\"}", -1, "not_string" },
    { "{\"summary\":\"  \\n \",\"budgetImpact\":\"B\",\"forecastDelta\":\"F\"}", -1, "empty_value" },
    { "{\"summary\":\"S\",\"summary\":\"T\",\"forecastDelta\":\"F\"}", -1, "bad_json" },
    { "[\"summary\",\"budgetImpact\",\"forecastDelta\"]", -1, "bad_json" },
    { "Sure! Here is your analysis: ...", -1, "bad_json" },
    { "```json\n{\"summary\":\"S\"}\n```", -1, "bad_json" },
    { "", -1, "empty_reply" },
};

START_TEST(the_reply_must_be_exactly_the_three_non_empty_strings)
{
    struct advice_text t;
    const char *reason = NULL;
    const char *c = reply_cases[_i].content;
    int rc = advice_parse_reply(c, strlen(c), &t, &reason);
    ck_assert_int_eq(rc, reply_cases[_i].rc);
    if (rc == 0) {
        ck_assert(t.summary[0] == 'S');
        ck_assert_str_eq(t.budget_impact, "B");
        ck_assert_str_eq(t.forecast_delta, "F");
    } else {
        ck_assert_str_eq(reason, reply_cases[_i].reason);
    }
}
END_TEST

START_TEST(whitespace_in_the_reply_is_collapsed_and_length_is_bounded)
{
    struct advice_text t;
    const char *reason = NULL;
    const char *c = reply_cases[1].content;
    ck_assert_int_eq(advice_parse_reply(c, strlen(c), &t, &reason), 0);
    ck_assert_str_eq(t.summary, "S two");

    size_t n = ADVICE_TEXT_MAX + 1;
    char *big = malloc(n + 100);
    ck_assert_ptr_nonnull(big);
    int w = snprintf(big, n + 100, "{\"summary\":\"%0*d\",\"budgetImpact\":\"B\",\"forecastDelta\":\"F\"}", (int)n, 0);
    ck_assert_int_gt(w, 0);
    for (char *p = big + 12; *p == '0'; p++)
        *p = 'x';
    ck_assert_int_eq(advice_parse_reply(big, strlen(big), &t, &reason), -1);
    ck_assert_str_eq(reason, "too_long");
    big[12 + n - 1] = '"';   /* exactly ADVICE_TEXT_MAX characters is fine */
    memmove(big + 12 + n, big + 12 + n + 1, strlen(big + 12 + n + 1) + 1);
    ck_assert_int_eq(advice_parse_reply(big, strlen(big), &t, &reason), 0);
    ck_assert_uint_eq(strlen(t.summary), ADVICE_TEXT_MAX);
    free(big);
}
END_TEST

static const struct { const char *body; int rc; const char *reason; } completion_cases[] = {
    { "{\"id\":\"x\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
      "\"content\":\"{\\\"summary\\\":\\\"S\\\",\\\"budgetImpact\\\":\\\"B\\\",\\\"forecastDelta\\\":\\\"F\\\"}\"},"
      "\"finish_reason\":\"stop\"}]}", 0, NULL },
    { "{\"choices\":[]}", -1, "bad_envelope" },
    { "{\"error\":{\"message\":\"nope\"}}", -1, "bad_envelope" },
    { "{\"choices\":[{\"message\":{\"content\":null,\"refusal\":\"I can't\"}}]}", -1, "refused" },
    { "{\"choices\":[{\"message\":{\"content\":\"{\\\"summary\\\":\\\"S\\\"}\"}}]}", -1, "wrong_keys" },
    { "<html>502 Bad Gateway</html>", -1, "bad_envelope" },
};

START_TEST(the_completion_envelope_is_checked_before_its_content)
{
    struct advice_text t;
    const char *reason = NULL;
    const char *b = completion_cases[_i].body;
    int rc = advice_parse_completion(b, strlen(b), &t, &reason);
    ck_assert_int_eq(rc, completion_cases[_i].rc);
    if (rc != 0)
        ck_assert_str_eq(reason, completion_cases[_i].reason);
}
END_TEST

/* ---- configuration ------------------------------------------------------------------------- */

/* Crystal's settings: the runtime's model settings with OPENAI_TIMEOUT_MS. */
static int load_config(struct si_llm_config *c, char **envp, struct si_error *err)
{
    return si_llm_config_load(c, envp, "OPENAI_TIMEOUT_MS", ADVICE_DEFAULT_TIMEOUT_MS, SI_LLM_MAX_TIMEOUT_MS, err);
}

START_TEST(the_model_configuration_has_defaults_and_refuses_bad_values)
{
    struct si_llm_config c;
    struct si_error err;
    char *none[] = { NULL };
    ck_assert_int_eq(load_config(&c, none, &err), 0);
    ck_assert_str_eq(c.base_url, "https://api.openai.com/v1");
    ck_assert_str_eq(c.model, "gpt-4o-mini");
    ck_assert_str_eq(c.api_key, "");
    ck_assert_int_eq(c.timeout_ms, 8000);

    char *set[] = { "OPENAI_BASE_URL=http://127.0.0.1:9/v1/", "OPENAI_API_KEY=k", "OPENAI_MODEL=m",
                    "OPENAI_TIMEOUT_MS=1500", NULL };
    ck_assert_int_eq(load_config(&c, set, &err), 0);
    ck_assert_str_eq(c.base_url, "http://127.0.0.1:9/v1");
    ck_assert_int_eq(c.timeout_ms, 1500);

    char *bad_url[] = { "OPENAI_BASE_URL=file:///etc/passwd", NULL };
    char *bad_timeout[] = { "OPENAI_TIMEOUT_MS=soon", NULL };
    char *bad_key[] = { "OPENAI_API_KEY=a\nb", NULL };
    ck_assert_int_eq(load_config(&c, bad_url, &err), -1);
    ck_assert_int_eq(load_config(&c, bad_timeout, &err), -1);
    ck_assert_int_eq(load_config(&c, bad_key, &err), -1);

    struct si_llm_result r;
    struct advice_text t;
    const char *reason = NULL;
    ck_assert_int_eq(load_config(&c, none, &err), 0);
    ck_assert_int_eq(llm_advise(NULL, &c, "{}", &t, &r, &reason), -1);   /* no key: never sent */
    ck_assert_str_eq(reason, "no_key");
    ck_assert_int_eq(r.attempts, 0);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *advice_suite(void)
{
    Suite *s = suite_create("advice");
    TCase *t = tcase_create("core");
    tcase_add_loop_test(t, the_masker_hides_all_but_the_last_four_digits_of_long_runs, 0, N(mask_cases));
    tcase_add_test(t, the_masker_never_leaks_digits_when_truncating_and_keeps_utf8_whole);
    tcase_add_loop_test(t, percentages_are_rounded_tenths, 0, N(pct_cases));
    tcase_add_test(t, division_rounds_half_away_from_zero);
    tcase_add_test(t, categories_past_the_limit_are_folded_into_other_and_names_are_masked);
    tcase_add_test(t, derived_figures_run_rates_month_over_month_drivers_and_projection);
    tcase_add_test(t, figures_from_a_huge_ledger_saturate_instead_of_overflowing);
    tcase_add_test(t, the_template_compares_with_earlier_months);
    tcase_add_test(t, the_template_reports_budgets_when_there_are_any);
    tcase_add_test(t, the_template_handles_a_first_import_and_a_period_without_spending);
    tcase_add_test(t, the_prompt_is_json_mode_carries_merchants_and_no_digit_runs);
    tcase_add_test(t, the_chat_request_masks_what_the_user_wrote_and_keeps_the_turns_in_order);
    tcase_add_loop_test(t, the_reply_must_be_exactly_the_three_non_empty_strings, 0, N(reply_cases));
    tcase_add_test(t, whitespace_in_the_reply_is_collapsed_and_length_is_bounded);
    tcase_add_loop_test(t, the_completion_envelope_is_checked_before_its_content, 0, N(completion_cases));
    tcase_add_test(t, the_model_configuration_has_defaults_and_refuses_bad_values);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(advice_suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
