/* prompt.c: the chat-completions request Crystal sends the model: a fixed
 * system prompt and the analytics as compact JSON facts (money, percentages
 * and counts already as text).  Everything user-derived was masked when it
 * was loaded; the user message is masked once more and checked to hold no
 * run of 6+ digits before it may leave.  Pure; tests/unit/check_advice.c. */
#include "advice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char system_prompt[] =
    "You are Crystal, a careful personal-finance analyst. You receive figures that were already computed "
    "from the user's bank transactions for one imported statement. Use only these figures; never invent "
    "numbers, merchants or accounts. Write plainly to the user (\"you\"), in English, without markdown. "
    "Answer with a JSON object with exactly these three string keys and nothing else: "
    "\"summary\" (two or three sentences on where the money went), "
    "\"budgetImpact\" (one or two sentences on budgets, or on the change against earlier months when there "
    "are no budgets), \"forecastDelta\" (one sentence on next month's projection and how it compares). "
    "Each value at most 400 characters.";

static json_t *money_json(const struct advice_analytics *a, long long v)
{
    char m[48];
    advice_format_amount(a, v, m, sizeof m);
    return json_string(m);
}

static json_t *pct_json(long long tenths, bool with_sign)
{
    char p[24];
    advice_format_pct(tenths, with_sign, p, sizeof p);
    return json_string(p);
}

/* Counts as text with thousands separators, so that no number in the prompt
 * is a run of 6+ digits. */
static json_t *count_json(long long v)
{
    char c[32];
    advice_format_count(v, c, sizeof c);
    return json_string(c);
}

static json_t *prompt_facts(const struct advice_analytics *a)
{
    char period[96];
    advice_format_period(a, period, sizeof period);
    json_t *cats = json_array(), *drivers = json_array(), *merchants = json_array();
    json_t *facts = json_object();
    if (cats == NULL || drivers == NULL || merchants == NULL || facts == NULL)
        goto fail;
    for (size_t i = 0; i < a->n_categories; i++) {
        const struct advice_category *c = &a->categories[i];
        json_t *o = json_object();
        if (o == NULL || json_array_append_new(cats, o) != 0)
            goto fail;
        json_object_set_new(o, "name", json_string(c->name));
        json_object_set_new(o, "spend", money_json(a, c->spend));
        json_object_set_new(o, "share", pct_json(c->share_tenths, false));
        if (a->history_months > 0)
            json_object_set_new(o, "vsEarlierMonths", c->has_mom ? pct_json(c->mom_tenths, true) : json_string("new"));
        if (c->budget > 0) {
            json_object_set_new(o, "monthlyBudget", money_json(a, c->budget));
            json_object_set_new(o, "monthlyRunRate", money_json(a, c->monthly));
        }
    }
    for (size_t k = 0; k < a->n_drivers; k++) {
        const struct advice_category *c = &a->categories[a->drivers[k]];
        json_t *o = json_object();
        if (o == NULL || json_array_append_new(drivers, o) != 0)
            goto fail;
        json_object_set_new(o, "name", json_string(c->name));
        char change[48], signed_change[56];
        advice_format_amount(a, c->monthly - c->baseline, change, sizeof change);
        snprintf(signed_change, sizeof signed_change, "%s%s", c->monthly > c->baseline ? "+" : "", change);
        json_object_set_new(o, "monthlyChange", json_string(signed_change));
        json_object_set_new(o, "change", c->has_mom ? pct_json(c->mom_tenths, true) : json_string("new"));
    }
    for (size_t k = 0; k < a->n_merchants; k++) {
        json_t *o = json_object();
        if (o == NULL || json_array_append_new(merchants, o) != 0)
            goto fail;
        json_object_set_new(o, "name", json_string(a->merchants[k].name));
        json_object_set_new(o, "spend", money_json(a, a->merchants[k].spend));
        json_object_set_new(o, "transactions", count_json(a->merchants[k].count));
    }
    json_object_set_new(facts, "period", json_string(period));
    json_object_set_new(facts, "periodDays", count_json(a->period_days));
    json_object_set_new(facts, "currency", json_string(a->currency));
    json_object_set_new(facts, "spendingTransactions", count_json(advice_spend_count(a)));
    json_object_set_new(facts, "totalSpend", money_json(a, a->spend));
    json_object_set_new(facts, "moneyIn", money_json(a, a->income));
    json_object_set_new(facts, "monthlyRunRate", money_json(a, a->monthly));
    json_object_set_new(facts, "earlierMonthsCompared", count_json(a->history_months));
    if (a->baseline >= 0)
        json_object_set_new(facts, "earlierMonthlyAverage", money_json(a, a->baseline));
    json_object_set_new(facts, "hasBudgets", json_boolean(a->has_budgets));
    json_object_set_new(facts, "categories", cats);
    json_object_set_new(facts, "topDrivers", drivers);
    json_object_set_new(facts, "topMerchants", merchants);
    json_object_set_new(facts, "nextMonthProjection", money_json(a, a->projection));
    json_object_set_new(facts, "projectionMethod", json_string("average daily spend in the period times the days "
                                                               "of next month"));
    return facts;
fail:
    json_decref(cats);
    json_decref(drivers);
    json_decref(merchants);
    json_decref(facts);
    return NULL;
}

char *advice_prompt(const struct advice_analytics *a, const char *model)
{
    json_t *facts = prompt_facts(a), *body = NULL;
    char *facts_text = NULL, *user = NULL, *text = NULL;
    if (facts == NULL)
        return NULL;
    facts_text = json_dumps(facts, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (facts_text == NULL)
        goto out;
    static const char intro[] = "Figures for the statement the user just imported:\n";
    size_t n = sizeof intro + strlen(facts_text);
    user = malloc(n);
    if (user == NULL)
        goto out;
    snprintf(user, n, "%s%s", intro, facts_text);
    /* Everything user-derived was masked when loaded; this pass is the last
     * line: nothing with a run of 6+ digits leaves the system. */
    si_mask_digits(user, user, n);
    if (si_has_digit_run(user))   /* cannot happen after the pass above; never send it if it does */
        goto out;
    body = json_pack("{s:s, s:f, s:i, s:{s:s}, s:[{s:s, s:s}, {s:s, s:s}]}", "model", model, "temperature", 0.2,
                     "max_tokens", 700, "response_format", "type", "json_object", "messages", "role", "system",
                     "content", system_prompt, "role", "user", "content", user);
    if (body != NULL)
        text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
out:
    free(user);
    free(facts_text);
    json_decref(body);
    json_decref(facts);
    return text;
}
