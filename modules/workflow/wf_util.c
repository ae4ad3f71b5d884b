/* wf_util.c: the workflow's pure helpers (no database, no network). */
#include "workflow.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

int wf_parse_phase(const char *s)
{
    if (s == NULL || s[0] < '0' + WF_PHASE_MIN || s[0] > '0' + WF_PHASE_MAX || s[1] != '\0')
        return -1;
    return s[0] - '0';
}

int wf_fee(long long amount_minor, long long *fee_minor, long long *net_minor)
{
    if (amount_minor < 0 || amount_minor > WF_MAX_AMOUNT_MINOR)
        return -1;
    /* Half up: x.5 minor units and above round up.  amount <= 10^15, so the
     * product stays far below 2^63. */
    long long fee = (amount_minor * WF_FEE_BPS + 5000) / 10000;
    *fee_minor = fee;
    *net_minor = amount_minor - fee;
    return 0;
}

const char *wf_route(double confidence)
{
    if (confidence >= WF_AUTO_SUBMIT_MIN)
        return "auto_submit";
    if (confidence >= WF_SMART_PROMPT_MIN)
        return "smart_prompt";
    return "hold";
}

long long wf_backoff_ms(int attempt, long long base_ms, long long cap_ms)
{
    const struct jobs_retry_policy p = { .base_ms = base_ms, .cap_ms = cap_ms, .jitter_pct = 0 };
    return jobs_backoff_ms(&p, attempt, 0);
}

static const char *const TASKS[WF_PHASE_MAX + 1] = {
    NULL, "workflow.phase1", "workflow.phase2", "workflow.phase3", "workflow.phase4",
    "workflow.phase5", "workflow.phase6", "workflow.phase7",
};

const char *wf_task_name(int phase)
{
    return phase >= WF_PHASE_MIN && phase <= WF_PHASE_MAX ? TASKS[phase] : NULL;
}

int wf_task_phase(const char *task)
{
    if (task == NULL || strncmp(task, "workflow.phase", 14) != 0)
        return -1;
    return wf_parse_phase(task + 14);
}

char *wf_canonical_json(const json_t *doc)
{
    return json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

int wf_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) != 1 || md_len != 32)
        return -1;
    static const char hex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < md_len; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return 0;
}

/* A required (or optional) string member of 1..max bytes. */
static int string_field(const json_t *obj, const char *key, size_t max, bool required, struct si_error *err)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        if (required)
            return si_error_set(err, 400, "missing_field", "%s is required", key);
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max ||
        strlen(json_string_value(v)) != json_string_length(v))
        return si_error_set(err, 400, "invalid_field", "%s must be a string of 1..%zu bytes", key, max);
    return 0;
}

static int validate_matches(const json_t *body, struct si_error *err)
{
    const json_t *matches = json_object_get(body, "matches");
    if (matches == NULL)
        return si_error_set(err, 400, "missing_field", "matches is required for phase 4");
    if (!json_is_array(matches) || json_array_size(matches) > WF_MAX_MATCHES)
        return si_error_set(err, 400, "invalid_field", "matches must be an array of at most %d objects",
                            WF_MAX_MATCHES);
    json_t *seen = json_object();
    if (seen == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    int rc = -1;
    size_t i;
    const json_t *m;
    json_array_foreach(matches, i, m) {
        if (!json_is_object(m)) {
            si_error_set(err, 400, "invalid_field", "matches[%zu] must be an object", i);
            goto out;
        }
        if (string_field(m, "claim_id", WF_CLAIM_ID_MAX, true, err) != 0) {
            si_error_set(err, 400, err->code, "matches[%zu].claim_id must be a string of 1..%d bytes", i,
                         WF_CLAIM_ID_MAX);
            goto out;
        }
        const json_t *c = json_object_get(m, "confidence");
        double conf = json_is_number(c) ? json_number_value(c) : -1.0;
        if (!json_is_number(c) || !(conf >= 0.0 && conf <= 1.0)) {
            si_error_set(err, 400, "invalid_field", "matches[%zu].confidence must be a number from 0 to 1", i);
            goto out;
        }
        const char *id = json_string_value(json_object_get(m, "claim_id"));
        if (json_object_get(seen, id) != NULL) {
            si_error_set(err, 400, "duplicate_claim_id", "matches[%zu].claim_id appears twice", i);
            goto out;
        }
        if (json_object_set_new(seen, id, json_true()) != 0) {
            si_error_set(err, 500, "internal", "out of memory");
            goto out;
        }
    }
    rc = 0;
out:
    json_decref(seen);
    return rc;
}

static bool upper(char c) { return c >= 'A' && c <= 'Z'; }

static int validate_payout(const json_t *body, struct si_error *err)
{
    if (string_field(body, "claim_id", WF_CLAIM_ID_MAX, true, err) != 0)
        return -1;
    const json_t *a = json_object_get(body, "amount_minor");
    if (a == NULL)
        return si_error_set(err, 400, "missing_field", "amount_minor is required for phase 7");
    if (!json_is_integer(a) || json_integer_value(a) < 1 || json_integer_value(a) > WF_MAX_AMOUNT_MINOR)
        return si_error_set(err, 400, "invalid_field", "amount_minor must be an integer from 1 to %lld",
                            WF_MAX_AMOUNT_MINOR);
    const json_t *c = json_object_get(body, "currency");
    if (c == NULL)
        return si_error_set(err, 400, "missing_field", "currency is required for phase 7");
    const char *cur = json_string_value(c);
    if (cur == NULL || strlen(cur) != 3 || !upper(cur[0]) || !upper(cur[1]) || !upper(cur[2]))
        return si_error_set(err, 400, "invalid_field", "currency must be three upper-case letters (ISO 4217)");
    return 0;
}

int wf_validate_phase_fields(int phase, const json_t *body, struct si_error *err)
{
    if (string_field(body, "seller_id", WF_SYNC_ID_MAX, false, err) != 0)
        return -1;
    switch (phase) {
    case 4:
        return validate_matches(body, err);
    case 5:
        return string_field(body, "claim_id", WF_CLAIM_ID_MAX, true, err);
    case 6:
        if (string_field(body, "claim_id", WF_CLAIM_ID_MAX, true, err) != 0)
            return -1;
        return string_field(body, "reason", WF_SYNC_ID_MAX, false, err);
    case 7:
        return validate_payout(body, err);
    default:
        return 0;
    }
}
