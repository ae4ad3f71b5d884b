/* chat_prompt.c: what Crystal sends the model when the user asks a question
 * about an analysed import (crystal-chat), and what she answers without a
 * model.  The facts are the stored advice (made from masked figures); every
 * text the user wrote is masked here and must then hold no digit run.
 * Pure; tests/unit/check_advice.c. */
#include "advice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char chat_system[] =
    "You are Crystal, chatting with the user about the bank statement they just imported. You already "
    "analysed it; your analysis is below. Answer the user's question in at most four plain sentences, in "
    "English, without markdown, using only these facts and what the user said; if the facts do not answer "
    "it, say so. Never invent numbers, merchants or accounts.";

/* A user text masked into a new JSON string, or NULL (out of memory, or a
 * digit run survived the masker). */
static json_t *masked(const char *text)
{
    size_t n = strlen(text) + 1;
    char *buf = malloc(n);
    if (buf == NULL)
        return NULL;
    si_mask_digits(text, buf, n);
    json_t *s = si_has_digit_run(buf) ? NULL : json_string(buf);
    free(buf);
    return s;
}

static int add_message(json_t *messages, const char *role, json_t *content)
{
    if (content == NULL)
        return -1;
    return json_array_append_new(messages, json_pack("{s:s, s:o}", "role", role, "content", content));
}

char *advice_chat_prompt(const char *model, const struct chat_facts *facts, const struct chat_turn *turns,
                         size_t n_turns, const char *question)
{
    json_t *root = NULL, *messages = json_array(), *known = NULL;
    char *facts_text = NULL, *text = NULL;
    if (messages == NULL)
        goto out;
    known = json_pack("{s:s, s:s, s:s}", "summary", facts->summary, "budgetImpact", facts->budget_impact,
                      "forecastDelta", facts->forecast_delta);
    json_t *top = facts->top_categories ? json_loads(facts->top_categories, 0, NULL) : NULL;
    if (known == NULL || json_object_set_new(known, "topCategories", top ? top : json_array()) != 0)
        goto out;
    facts_text = json_dumps(known, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (facts_text == NULL)
        goto out;
    size_t n = sizeof chat_system + strlen(facts_text) + 32;
    char *system = malloc(n);
    if (system == NULL)
        goto out;
    snprintf(system, n, "%s\nYour analysis: %s", chat_system, facts_text);
    int rc = add_message(messages, "system", masked(system));
    free(system);
    if (rc != 0)
        goto out;
    for (size_t i = 0; i < n_turns; i++)
        if (add_message(messages, strcmp(turns[i].role, "user") == 0 ? "user" : "assistant",
                        masked(turns[i].content)) != 0)
            goto out;
    if (add_message(messages, "user", masked(question)) != 0)
        goto out;
    root = json_pack("{s:s, s:O, s:f, s:i}", "model", model, "messages", messages, "temperature", 0.2,
                     "max_tokens", 300);
    if (root != NULL)
        text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(3));   /* 0.2, not 0.20000000000000001 */
out:
    json_decref(root);
    json_decref(messages);
    json_decref(known);
    free(facts_text);
    return text;
}

void advice_chat_rules_reply(const struct chat_facts *facts, char *out, size_t n)
{
    snprintf(out, n,
             "This server has no language model configured, so I can only repeat my analysis: %s %s %s",
             facts->summary, facts->budget_impact, facts->forecast_delta);
}
