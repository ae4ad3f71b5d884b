/* reply.c: what Crystal accepts from the model: a chat.completion whose
 * message content is a JSON object with exactly summary, budgetImpact and
 * forecastDelta, non-empty strings of at most ADVICE_TEXT_MAX bytes
 * (whitespace and control characters collapsed).  Anything else is refused
 * with a reason code the caller logs and stores (bad_envelope, refused,
 * wrong_keys, ...), and Crystal answers from its rules.  Pure;
 * tests/unit/check_advice.c. */
#include "advice.h"

#include <stdbool.h>
#include <string.h>

/* Copies a model string: control characters and runs of whitespace become
 * one space, ends trimmed.  -1 (and *reason) when empty or too long. */
static int copy_field(const char *s, char *out, const char **reason)
{
    size_t o = 0;
    bool space = false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == ' ' || *p == 0x7F) {
            space = o > 0;
            continue;
        }
        if (o + (space ? 2 : 1) > ADVICE_TEXT_MAX) {
            *reason = "too_long";
            return -1;
        }
        if (space)
            out[o++] = ' ';
        space = false;
        out[o++] = (char)*p;
    }
    out[o] = '\0';
    if (o == 0) {
        *reason = "empty_value";
        return -1;
    }
    return 0;
}

int advice_parse_reply(const char *content, size_t len, struct advice_text *out, const char **reason)
{
    static const char *keys[] = { "summary", "budgetImpact", "forecastDelta" };
    char *fields[] = { out->summary, out->budget_impact, out->forecast_delta };
    json_error_t jerr;
    int rc = -1;
    if (len == 0 || len > 4 * ADVICE_TEXT_MAX + 1024) {
        *reason = len == 0 ? "empty_reply" : "too_long";
        return -1;
    }
    json_t *o = json_loadb(content, len, JSON_REJECT_DUPLICATES, &jerr);
    if (o == NULL || !json_is_object(o)) {
        *reason = "bad_json";
        goto out;
    }
    if (json_object_size(o) != 3) {
        *reason = "wrong_keys";
        goto out;
    }
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(o, keys[i]);
        if (v == NULL) {
            *reason = "wrong_keys";
            goto out;
        }
        if (!json_is_string(v)) {
            *reason = "not_string";
            goto out;
        }
        if (copy_field(json_string_value(v), fields[i], reason) != 0)
            goto out;
    }
    rc = 0;
out:
    json_decref(o);
    return rc;
}

int advice_parse_completion_json(const json_t *o, struct advice_text *out, const char **reason)
{
    const json_t *content = NULL;
    if (si_llm_completion_content(o, &content, reason) != 0)
        return -1;
    return advice_parse_reply(json_string_value(content), json_string_length(content), out, reason);
}

int advice_parse_completion(const char *body, size_t len, struct advice_text *out, const char **reason)
{
    json_error_t jerr;
    json_t *o = json_loadb(body, len, 0, &jerr);
    int rc = advice_parse_completion_json(o, out, reason);
    json_decref(o);
    return rc;
}
