/* llm_categorize.h: one batched model request per import for the merchants
 * the keyword rules left "Other".
 *
 * After staging (ingest_statement.c, once the staging is committed), the
 * import's rows still "Other" that have a counterparty are grouped by their
 * merchant key: the counterparty through the merchant normaliser
 * (merchant.h), digit runs masked (si_text.h), lower case, at most
 * LLMCAT_MERCHANT_MAX bytes.  The user's cache (merchant_category_cache,
 * sql/0021) is read first; the merchants it does not hold, at most
 * LLMCAT_MAX_MERCHANTS (the most frequent first), go to the configured model
 * in ONE chat-completions request (si_llm.h) listing the allowed categories,
 * bounded by SMARTIMPORT_LLMCAT_TIMEOUT_MS.  The answer is validated: an entry
 * counts only when its merchant was asked and its category is one of the
 * categories; anything else is ignored.  Then, in one transaction: the answers
 * go into the cache and the import's "Other" rows of those merchants get
 * their category (only while the import is still parsed: its row is locked
 * FOR UPDATE first, as commit-import does).
 *
 * What it never does: fail the import.  No model configured: nothing is read
 * or sent.  The model down, slow or talking nonsense: the deterministic
 * categories stay, the answer and the import carry a warning (line 0), the
 * log a reason code.  Nothing with a run of 6+ digits leaves in the prompt;
 * the log holds counts and codes, never a merchant.
 *
 * Why the cache is per user (the brief proposed one shared table): a
 * counterparty is often a private person (a transfer's payee), whose name is
 * personal data that should stay with the user's own rows; and the merchants
 * are written by whoever uploads the file, so a shared cache would let one
 * user's crafted file (a prompt injection in a merchant's name) choose the
 * categories other users get.  The price is one request on each user's first
 * import of a merchant, which is the unit of work here anyway.
 *
 * The prompt builder, the key and the answer's validation are pure
 * (tests/unit/check_llmcat.c). */
#ifndef LLM_CATEGORIZE_H
#define LLM_CATEGORIZE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "si_db.h"
#include "si_http.h"
#include "si_llm.h"

#define LLMCAT_MAX_MERCHANTS      200          /* merchants asked in one request (one import) */
#define LLMCAT_MAX_NAMES          5000         /* distinct counterparties of "Other" rows looked at per import */
#define LLMCAT_MERCHANT_MAX       64           /* bytes of a merchant key, without the NUL */
#define LLMCAT_MAX_CATEGORIES     64           /* categories the prompt lists */
#define LLMCAT_DEFAULT_TIMEOUT_MS 5000         /* SMARTIMPORT_LLMCAT_TIMEOUT_MS unset */
#define LLMCAT_MAX_TIMEOUT_MS     30000        /* its largest value */
#define LLMCAT_MAX_REPLY_BYTES    (256 * 1024) /* the model's HTTP response body */
#define LLMCAT_MAX_TOKENS         8000         /* the answer: 200 merchants of up to 64 bytes and a category */

/* Reads the model's settings (OPENAI_BASE_URL, OPENAI_API_KEY, OPENAI_MODEL:
 * the ones Crystal uses) and SMARTIMPORT_LLMCAT_TIMEOUT_MS into cfg.  0, or
 * -1 with err naming the variable. */
int llmcat_config_load(struct si_llm_config *cfg, char *const *envp, struct si_error *err);

/* The merchant key of a counterparty into out (out_size bytes, at least
 * LLMCAT_MERCHANT_MAX + 1 used): merchant_normalize, digit runs masked,
 * ASCII upper case lowered, white space collapsed, cut at a character
 * boundary.  Returns its length; 0 ("") when nothing with two letters is left. */
size_t llmcat_merchant_key(const char *counterparty, char *out, size_t out_size);

/* The chat-completions request body (JSON text, to free()) asking model for
 * the category of each of the n merchants, the ncat categories listed.  The
 * user message is the JSON {"categories":[...],"merchants":[...]}; it is
 * masked once more and checked to hold no run of 6+ digits.  NULL when out of
 * memory or when a digit run would still leave. */
char *llmcat_prompt(const char *const *merchants, size_t n, const char *const *categories, size_t ncat,
                    const char *model);

/* Validates the model's message content: a JSON object with an object
 * "answers" mapping a merchant to a category.  out[i] (n entries) becomes
 * the category of merchants[i] (a pointer into categories, the canonical
 * spelling) or NULL when the answer has none usable.  An entry whose merchant
 * was not asked, whose category is not one of the categories (ASCII case
 * aside), or that answers a merchant a second time is ignored and counted in
 * *ignored.  0, or -1 with *reason ("empty_reply", "too_long", "bad_json",
 * "no_answers") when nothing can be used. */
int llmcat_parse_answer(const char *content, size_t len, const char *const *merchants, size_t n,
                        const char *const *categories, size_t ncat, const char **out, size_t *ignored,
                        const char **reason);

/* The whole step for one staged import of user_id (see the top): on the
 * worker's db (no transaction open) and HTTP client.  A warning for the user
 * is appended to warnings (the answer's list) and to the import's stored
 * ones when the model was needed and did not answer.  Never fails. */
void llmcat_apply(struct si_db *db, struct si_http_client *http, const struct si_llm_config *cfg,
                  const char *user_id, const char *import_id, json_t *warnings);

#endif
