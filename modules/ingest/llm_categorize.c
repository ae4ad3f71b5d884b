/* llm_categorize.c: the batched model request for merchants the keyword rules
 * left "Other" (see llm_categorize.h): the pure parts first (key, prompt,
 * answer), then the one step ingest-statement runs after staging. */
#include "llm_categorize.h"
#include "merchant.h"
#include "si_clock.h"
#include "si_config.h"
#include "si_import.h"
#include "si_log.h"
#include "si_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char system_prompt[] =
    "You assign a spending category to each merchant of a bank statement. The merchants are names taken "
    "from statement lines, lower-cased; digits shown as * were masked on purpose. Use only the categories "
    "listed. Answer \"Other\" for a merchant you do not know, for a private person, or when no category "
    "fits. Answer with a JSON object and nothing else: {\"answers\": {\"<merchant>\": \"<category>\"}}, with "
    "one entry per merchant, each merchant written exactly as given.";

int llmcat_config_load(struct si_llm_config *cfg, char *const *envp, struct si_error *err)
{
    return si_llm_config_load(cfg, envp, "SMARTIMPORT_LLMCAT_TIMEOUT_MS", LLMCAT_DEFAULT_TIMEOUT_MS,
                              LLMCAT_MAX_TIMEOUT_MS, err);
}

/* ---- the pure parts ------------------------------------------------------------------ */

size_t llmcat_merchant_key(const char *counterparty, char *out, size_t out_size)
{
    char merchant[MERCHANT_MAX], masked[MERCHANT_MAX];
    if (out_size == 0)
        return 0;
    out[0] = '\0';
    if (counterparty == NULL || merchant_normalize(counterparty, merchant, sizeof merchant) == 0)
        return 0;
    si_mask_digits(merchant, masked, sizeof masked);
    size_t cap = out_size - 1 < LLMCAT_MERCHANT_MAX ? out_size - 1 : LLMCAT_MERCHANT_MAX;
    size_t o = 0;
    bool space = false;
    for (const unsigned char *p = (const unsigned char *)masked; *p != '\0' && o < cap; p++) {
        unsigned char c = *p;
        if (c <= ' ' || c == 0x7F) {       /* control characters and white space: one space */
            space = o > 0;
            continue;
        }
        if (space) {
            if (o + 1 >= cap)
                break;
            out[o++] = ' ';
            space = false;
        }
        out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
    o = si_utf8_cut(out, o);
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
    size_t letters = 0;
    for (size_t i = 0; i < o; i++) {
        unsigned char c = (unsigned char)out[i];
        letters += (c >= 'a' && c <= 'z') || c >= 0xC0;   /* an ASCII letter or a multi-byte character */
    }
    if (letters < 2) {
        out[0] = '\0';
        return 0;
    }
    return o;
}

char *llmcat_prompt(const char *const *merchants, size_t n, const char *const *categories, size_t ncat,
                    const char *model)
{
    json_t *facts = json_object(), *m = json_array(), *c = json_array(), *body = NULL;
    char *user = NULL, *text = NULL;
    if (facts == NULL || m == NULL || c == NULL)
        goto out;
    for (size_t i = 0; i < ncat; i++)
        if (json_array_append_new(c, json_string(categories[i])) != 0)
            goto out;
    for (size_t i = 0; i < n; i++)
        if (json_array_append_new(m, json_string(merchants[i])) != 0)
            goto out;
    if (json_object_set(facts, "categories", c) != 0 || json_object_set(facts, "merchants", m) != 0)
        goto out;
    user = json_dumps(facts, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (user == NULL)
        goto out;
    /* The merchants were masked when their keys were made; this pass is the
     * last line: nothing with a run of 6+ digits leaves the system. */
    si_mask_digits(user, user, strlen(user) + 1);
    if (si_has_digit_run(user))   /* cannot happen after the pass above; never send it if it does */
        goto out;
    body = json_pack("{s:s, s:f, s:i, s:{s:s}, s:[{s:s, s:s}, {s:s, s:s}]}", "model", model, "temperature", 0.0,
                     "max_tokens", LLMCAT_MAX_TOKENS, "response_format", "type", "json_object", "messages",
                     "role", "system", "content", system_prompt, "role", "user", "content", user);
    if (body != NULL)
        text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
    free(user);
    json_decref(body);
    json_decref(m);
    json_decref(c);
    json_decref(facts);
    return text;
}

/* ASCII case-insensitive equality (the locale plays no part). */
static bool ascii_case_equal(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
        if (x >= 'A' && x <= 'Z')
            x += 'a' - 'A';
        if (y >= 'A' && y <= 'Z')
            y += 'a' - 'A';
        if (x != y)
            return false;
    }
    return *a == *b;
}

/* The index of name in list (exactly, else ASCII case aside), -1 when absent. */
static long find(const char *const *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0)
            return (long)i;
    for (size_t i = 0; i < n; i++)
        if (ascii_case_equal(list[i], name))
            return (long)i;
    return -1;
}

int llmcat_parse_answer(const char *content, size_t len, const char *const *merchants, size_t n,
                        const char *const *categories, size_t ncat, const char **out, size_t *ignored,
                        const char **reason)
{
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    *ignored = 0;
    if (len == 0) {
        *reason = "empty_reply";
        return -1;
    }
    if (len > LLMCAT_MAX_REPLY_BYTES) {
        *reason = "too_long";
        return -1;
    }
    json_error_t jerr;
    json_t *o = json_loadb(content, len, 0, &jerr);
    json_t *answers = json_is_object(o) ? json_object_get(o, "answers") : NULL;
    int rc = -1;
    if (!json_is_object(o)) {
        *reason = "bad_json";
        goto out;
    }
    if (!json_is_object(answers)) {
        *reason = "no_answers";
        goto out;
    }
    const char *key;
    json_t *value;
    json_object_foreach(answers, key, value) {
        long m = find(merchants, n, key);
        long c = json_is_string(value) && strlen(json_string_value(value)) == json_string_length(value)
                     ? find(categories, ncat, json_string_value(value))
                     : -1;
        if (m < 0 || c < 0 || out[m] != NULL) {
            (*ignored)++;
            continue;
        }
        out[m] = categories[c];
    }
    rc = 0;
out:
    json_decref(o);
    return rc;
}

/* ---- the step ---------------------------------------------------------------------- */

/* One merchant of the import. */
struct merchant {
    char key[LLMCAT_MERCHANT_MAX + 1];
    const char *category;    /* NULL: unknown yet; points into a PGresult or the category list */
    bool fresh;              /* answered by the model in this request: goes into the cache */
};

struct step {
    struct si_db *db;
    const char *user_id, *import_id;
    PGresult *names;         /* counterparty, rows */
    PGresult *cached;        /* merchant, category */
    PGresult *cats;          /* category */
    struct merchant *m;
    size_t n_m;
    long *slot;              /* per name: its merchant, -1 when it has none */
    json_t *index;           /* key -> merchant */
    const char *categories[LLMCAT_MAX_CATEGORIES];
    size_t n_categories;
    /* the outcome */
    size_t from_cache, asked, answered, ignored;
    long long rows;
    const char *reason;      /* the model was needed and not used: why */
    struct si_llm_result lr;
};

/* The import's "Other" rows grouped by counterparty, the most rows first. */
static int load_names(struct step *s, struct si_error *err)
{
    char limit[24];
    snprintf(limit, sizeof limit, "%d", LLMCAT_MAX_NAMES);
    const char *p[] = { s->import_id, s->user_id, limit };
    s->names = si_db_exec_bulk(s->db,
        "SELECT counterparty, count(*) FROM transactions_staging "
        "WHERE import_id = $1 AND user_id = $2 AND category = 'Other' AND counterparty IS NOT NULL "
        "GROUP BY counterparty ORDER BY count(*) DESC, counterparty LIMIT $3::int", 3, p, err);
    return s->names == NULL ? -1 : 0;
}

/* Each name's merchant key; the distinct keys become s->m (in the order of
 * the names, so the merchants with the most rows come first). */
static int group_merchants(struct step *s, struct si_error *err)
{
    int n = PQntuples(s->names);
    s->m = calloc((size_t)n + 1, sizeof *s->m);
    s->slot = calloc((size_t)n + 1, sizeof *s->slot);
    s->index = json_object();
    if (s->m == NULL || s->slot == NULL || s->index == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    for (int i = 0; i < n; i++) {
        char key[LLMCAT_MERCHANT_MAX + 1];
        s->slot[i] = -1;
        if (llmcat_merchant_key(PQgetvalue(s->names, i, 0), key, sizeof key) == 0)
            continue;
        json_t *known = json_object_get(s->index, key);
        if (known != NULL) {
            s->slot[i] = (long)json_integer_value(known);
            continue;
        }
        if (json_object_set_new(s->index, key, json_integer((json_int_t)s->n_m)) != 0)
            continue;   /* not UTF-8 (staging holds UTF-8 only) or out of memory: this name stays as it is */
        memcpy(s->m[s->n_m].key, key, sizeof key);
        s->slot[i] = (long)s->n_m++;
    }
    return 0;
}

/* The user's cached answers for these merchants. */
static int read_cache(struct step *s, struct si_error *err)
{
    json_t *keys = json_array();
    char *text = NULL;
    for (size_t i = 0; keys != NULL && i < s->n_m; i++)
        if (json_array_append_new(keys, json_string(s->m[i].key)) != 0)
            break;
    if (keys != NULL && json_array_size(keys) == s->n_m)
        text = json_dumps(keys, JSON_COMPACT);
    json_decref(keys);
    if (text == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    const char *p[] = { s->user_id, text };
    s->cached = si_db_exec(s->db,
        "SELECT merchant, category FROM merchant_category_cache "
        "WHERE user_id = $1 AND merchant = ANY (ARRAY(SELECT jsonb_array_elements_text($2::jsonb)))", 2, p, err);
    free(text);
    if (s->cached == NULL)
        return -1;
    for (int i = 0; i < PQntuples(s->cached); i++) {
        json_t *at = json_object_get(s->index, PQgetvalue(s->cached, i, 0));
        if (at == NULL)
            continue;
        s->m[json_integer_value(at)].category = PQgetvalue(s->cached, i, 1);
        s->from_cache++;
    }
    return 0;
}

/* The categories the model may answer: the built-in knowledge's, and Other. */
static int load_categories(struct step *s, struct si_error *err)
{
    char limit[24];
    snprintf(limit, sizeof limit, "%d", LLMCAT_MAX_CATEGORIES - 1);
    const char *p[] = { limit };
    s->cats = si_db_exec(s->db,
        "SELECT DISTINCT category FROM category_rules_builtin WHERE category <> 'Other' ORDER BY 1 LIMIT $1::int",
        1, p, err);
    if (s->cats == NULL)
        return -1;
    for (int i = 0; i < PQntuples(s->cats); i++)
        s->categories[s->n_categories++] = PQgetvalue(s->cats, i, 0);
    s->categories[s->n_categories++] = "Other";
    return 0;
}

/* One request for the merchants nobody answered yet (the first
 * LLMCAT_MAX_MERCHANTS: the names came most rows first).  A model that is
 * not used leaves s->reason; only a database error is an error. */
static int ask_model(struct step *s, struct si_http_client *http, const struct si_llm_config *cfg,
                     struct si_error *err)
{
    const char *asked[LLMCAT_MAX_MERCHANTS], *answers[LLMCAT_MAX_MERCHANTS];
    size_t at[LLMCAT_MAX_MERCHANTS];
    for (size_t i = 0; i < s->n_m && s->asked < LLMCAT_MAX_MERCHANTS; i++)
        if (s->m[i].category == NULL) {
            at[s->asked] = i;
            asked[s->asked++] = s->m[i].key;
        }
    if (s->asked == 0)
        return 0;
    if (load_categories(s, err) != 0)
        return -1;
    char *body = llmcat_prompt(asked, s->asked, s->categories, s->n_categories, cfg->model);
    char *content = NULL;
    size_t len = 0;
    if (body == NULL)
        s->reason = "prompt";
    else if (si_llm_chat(http, cfg, body, LLMCAT_MAX_REPLY_BYTES, &content, &len, &s->lr, &s->reason) == 0 &&
             llmcat_parse_answer(content, len, asked, s->asked, s->categories, s->n_categories, answers, &s->ignored,
                                 &s->reason) == 0) {
        s->reason = NULL;
        for (size_t k = 0; k < s->asked; k++)
            if (answers[k] != NULL) {
                s->m[at[k]].category = answers[k];
                s->m[at[k]].fresh = true;
                s->answered++;
            }
    }
    free(content);
    free(body);
    return 0;
}

/* The answers into the cache, the categories onto the import's rows and the
 * warning onto the import, in one transaction after the import's row is
 * locked (commit-import locks it first too).  Rows change only while the
 * import is still parsed. */
static int write_back(struct step *s, const struct si_llm_config *cfg, const json_t *warning, struct si_error *err)
{
    json_t *cache = json_object(), *rows = json_object();
    char *cache_text = NULL, *rows_text = NULL, *warning_text = NULL;
    PGresult *res = NULL;
    int rc = -1;
    if (cache == NULL || rows == NULL) {
        si_error_set(err, 500, "internal", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < s->n_m; i++)
        if (s->m[i].fresh && json_object_set_new(cache, s->m[i].key, json_string(s->m[i].category)) != 0)
            goto oom;
    for (int i = 0; i < PQntuples(s->names); i++) {
        const char *c = s->slot[i] >= 0 ? s->m[s->slot[i]].category : NULL;
        if (c != NULL && strcmp(c, "Other") != 0)
            json_object_set_new(rows, PQgetvalue(s->names, i, 0), json_string(c));   /* a failure: the row stays */
    }
    if (json_object_size(cache) == 0 && json_object_size(rows) == 0 && warning == NULL) {
        rc = 0;
        goto out;
    }
    cache_text = json_dumps(cache, JSON_COMPACT);
    rows_text = json_dumps(rows, JSON_COMPACT);
    warning_text = warning != NULL ? json_dumps(warning, JSON_COMPACT) : NULL;
    if (cache_text == NULL || rows_text == NULL || (warning != NULL && warning_text == NULL))
        goto oom;

    const char *imp[] = { s->import_id, s->user_id };
    if (si_db_begin(s->db, err) != 0)
        goto out;
    res = si_db_exec(s->db, "SELECT status FROM imports WHERE id = $1 AND user_id = $2 FOR UPDATE", 2, imp, err);
    if (res == NULL)
        goto out;
    bool parsed = PQntuples(res) == 1 &&
                  strcmp(PQgetvalue(res, 0, 0), si_import_status_name(SI_IMPORT_PARSED)) == 0;
    PQclear(res);
    res = NULL;
    if (json_object_size(cache) > 0) {
        const char *p[] = { s->user_id, cache_text, cfg->model };
        if (si_db_command(s->db,
                "INSERT INTO merchant_category_cache (user_id, merchant, category, source, model) "
                "SELECT $1, a.key, a.value, 'model', $3 FROM jsonb_each_text($2::jsonb) AS a "
                "ON CONFLICT (user_id, merchant) DO NOTHING", 3, p, err) != 0)
            goto out;
    }
    if (parsed && json_object_size(rows) > 0) {
        const char *p[] = { s->import_id, s->user_id, rows_text };
        res = si_db_exec_bulk(s->db,
            "UPDATE transactions_staging AS t SET category = a.value FROM jsonb_each_text($3::jsonb) AS a "
            "WHERE t.import_id = $1 AND t.user_id = $2 AND t.category = 'Other' AND t.counterparty = a.key",
            3, p, err);
        if (res == NULL)
            goto out;
        s->rows = si_db_rows_affected(res);
        PQclear(res);
        res = NULL;
    }
    if (parsed && warning_text != NULL) {
        const char *p[] = { s->import_id, s->user_id, warning_text };
        if (si_db_command(s->db,
                "UPDATE imports SET warnings = warnings || jsonb_build_array($3::jsonb) "
                "WHERE id = $1 AND user_id = $2", 3, p, err) != 0)
            goto out;
    }
    rc = si_db_commit(s->db, err);
    goto out;
oom:
    si_error_set(err, 500, "internal", "out of memory");
out:
    if (rc != 0)
        si_db_rollback(s->db);
    PQclear(res);
    free(cache_text);
    free(rows_text);
    free(warning_text);
    json_decref(cache);
    json_decref(rows);
    return rc;
}

/* The warning for the user when the model was needed and not used (NULL
 * when it was not needed, or answered). */
static json_t *model_warning(const struct step *s)
{
    if (s->reason == NULL)
        return NULL;
    char message[256];
    snprintf(message, sizeof message,
             "categories: the category model did not answer (%s), so %zu merchant%s the keyword rules did not "
             "know kept the category Other",
             s->reason, s->asked, s->asked == 1 ? "" : "s");
    return json_pack("{s:I, s:s}", "line", (json_int_t)0, "message", message);
}

void llmcat_apply(struct si_db *db, struct si_http_client *http, const struct si_llm_config *cfg,
                  const char *user_id, const char *import_id, json_t *warnings)
{
    if (!si_llm_configured(cfg))
        return;
    double t0 = si_clock_ms();
    struct step s;
    struct si_error err;
    json_t *warning = NULL;
    memset(&s, 0, sizeof s);
    si_error_clear(&err);
    s.db = db;
    s.user_id = user_id;
    s.import_id = import_id;
    if (load_names(&s, &err) != 0 || group_merchants(&s, &err) != 0)
        goto failed;
    if (s.n_m == 0)
        goto out;
    if (read_cache(&s, &err) != 0 || ask_model(&s, http, cfg, &err) != 0)
        goto failed;
    warning = model_warning(&s);
    if (write_back(&s, cfg, warning, &err) != 0)
        goto failed;
    if (warning != NULL) {
        json_array_append(warnings, warning);
        si_log(SI_LOG_WARN, "merchant categories: the model was not used",
               json_pack("{s:s, s:s, s:i, s:i, s:f}", "importId", import_id, "reason", s.reason,
                         "attempts", s.lr.attempts, "http_status", (int)s.lr.http_status, "llm_ms", s.lr.ms));
    }
    si_log(SI_LOG_INFO, "merchant categories",
           json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f}", "importId", import_id,
                     "merchants", (json_int_t)s.n_m, "fromCache", (json_int_t)s.from_cache,
                     "asked", (json_int_t)s.asked, "answered", (json_int_t)s.answered,
                     "ignored", (json_int_t)s.ignored, "left", (json_int_t)(s.n_m - s.from_cache - s.answered),
                     "rows", (json_int_t)s.rows, "llm_ms", s.lr.ms, "ms", si_ms_since(t0)));
    goto out;
failed:
    /* a database failure here changes nothing the import already has */
    si_db_rollback(db);
    si_log(SI_LOG_WARN, "merchant categories: skipped",
           json_pack("{s:s, s:s, s:i}", "importId", import_id, "code", err.code ? err.code : "internal",
                     "status", err.status));
out:
    json_decref(warning);
    json_decref(s.index);
    free(s.m);
    free(s.slot);
    PQclear(s.names);
    PQclear(s.cached);
    PQclear(s.cats);
}
