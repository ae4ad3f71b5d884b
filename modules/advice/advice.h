/* advice.h: Prime's handoff, Crystal's analysis and the approve orchestration.
 *
 *   prime_handoff.c          POST prime-handoff            {"userId","importId"}
 *   crystal_analyze_import.c POST crystal-analyze-import   {"userId","handoffId","force"?}
 *   approve_import.c         POST approve-import           {"userId","importId"}: commit -> prime -> crystal
 *   crystal_chat.c           GET|POST crystal-chat          the conversation about a handoff; a question
 *   chat_prompt.c            the chat's request for the model and its answer without one
 *   analytics.c  the spending analytics (SQL over the user's transactions)
 *   derive.c     the derived figures: run-rates, shares, month-over-month, drivers, projection
 *   words.c      figures as words: money (si_money.h), percentages, counts, the period
 *   rules.c      the rules template: Crystal's answer without a model
 *   prompt.c     the chat-completions request for the model
 *   reply.c      validation of the model's reply
 *   llm.c        Crystal's exchange with the model (the runtime's si_llm)
 *   startup.c    the model's configuration, read once at start
 * (derive, words, rules, prompt and reply are pure: tests/unit/check_advice.c; the digit
 * masker they use is the runtime's si_text.h)
 *
 * The *_run functions do the work for one caller on the worker's connection
 * and are what approve-import calls directly (no HTTP between the steps). */
#ifndef ADVICE_H
#define ADVICE_H

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

#include "si_function.h"
#include "si_http.h"
#include "si_llm.h"
#include "si_text.h"
#include "si_uuid.h"

/* ---- configuration (read once from the environment, then read-only) ------ */

#define ADVICE_DEFAULT_TIMEOUT_MS 8000           /* OPENAI_TIMEOUT_MS unset */
#define ADVICE_MAX_REPLY_BYTES    (256 * 1024)   /* the model's HTTP response body */

/* The model's settings are the runtime's (si_llm.h: OPENAI_BASE_URL, OPENAI_API_KEY,
 * OPENAI_MODEL), with OPENAI_TIMEOUT_MS (default ADVICE_DEFAULT_TIMEOUT_MS) the
 * whole exchange of one analysis. */

/* Each advice responder's init hook (struct si_function .init): loads the
 * configuration into the module's read-only copy and initialises libcurl
 * (si_http_global_init, before any worker thread exists); -1 with err naming
 * the variable.  fn_config stays NULL. */
int advice_init(const struct si_config *cfg, void **fn_config, struct si_error *err);

/* The configuration loaded by advice_init (read-only; workers share it). */
const struct si_llm_config *advice_config(void);

/* ---- the analytics ------------------------------------------------------- */

#define ADVICE_NAME_MAX        64    /* bytes of a category or merchant name we keep */
#define ADVICE_MAX_CATEGORIES  12    /* the rest is folded into "Other" */
#define ADVICE_MAX_MERCHANTS   8
#define ADVICE_MAX_DRIVERS     3
#define ADVICE_TOP_CATEGORIES  5
#define ADVICE_HISTORY_MONTHS  3

/* The largest money figure Crystal works with, in minor units (10^15: ten
 * trillion in a currency with cents).  The ledger may hold more (amounts
 * are bounded per row, not per user): sums are taken in numeric in SQL and
 * capped at this before they become bigint, and every sum in C saturates at
 * it, so no figure overflows however large the ledger is; a figure at the
 * cap means "at least this much".  Run-rates (x 31 days) and percentages
 * (x 1000) of capped figures stay far inside int64. */
#define ADVICE_MONEY_MAX 1000000000000000

struct advice_category {
    char name[ADVICE_NAME_MAX];
    long long spend;        /* spend in the period (minor units, positive) */
    long long count;        /* spending transactions in the period */
    long long history;      /* spend in the earlier months (sum) */
    long long budget;       /* monthly budget, -1 when none */
    /* derived by advice_derive(): */
    long long monthly;      /* the period's spend as a monthly run-rate */
    long long baseline;     /* average monthly spend in the earlier months, -1 when no history */
    long long share_tenths; /* tenths of a percent of the period's spend */
    bool has_mom;
    long long mom_tenths;   /* tenths of a percent, monthly vs baseline */
};

struct advice_merchant {
    char name[ADVICE_NAME_MAX];   /* already masked */
    long long spend;
    long long count;
};

struct advice_analytics {
    char currency[4];
    int from_y, from_m, from_d, to_y, to_m, to_d;   /* the import's period */
    int period_days;
    int month_days;        /* days in the month of the period's end (run-rate) */
    int next_month_days;   /* days in the month after the period's end (projection) */
    int history_months;    /* earlier months (up to 3) in which the user has transactions */
    long long tx_count;    /* transactions in the period, this currency */
    long long other_currency_count;   /* left out: in the period but in another currency */
    long long income;      /* positive amounts in the period */
    size_t n_categories;
    struct advice_category categories[ADVICE_MAX_CATEGORIES];
    size_t n_merchants;
    struct advice_merchant merchants[ADVICE_MAX_MERCHANTS];
    /* derived by advice_derive(): */
    long long spend;           /* total spend in the period */
    long long monthly;         /* total as a monthly run-rate */
    long long baseline;        /* average monthly total in the earlier months, -1 when none */
    long long projection;      /* next month: average daily spend x next_month_days */
    bool has_budgets;
    size_t n_drivers;
    size_t drivers[ADVICE_MAX_DRIVERS];   /* indexes into categories, largest change first */
};

/* Runs the analytics queries for user over [date_from, date_to] (YYYY-MM-DD)
 * in currency.  0, or -1 with err. */
int advice_analytics_load(struct si_db *db, const char *user_id, const char *date_from, const char *date_to,
                          const char *currency, struct advice_analytics *a, struct si_error *err);

/* Adds a category row (folding rows past ADVICE_MAX_CATEGORIES into
 * "Other"); used by the loader and the tests. */
void advice_add_category(struct advice_analytics *a, const char *name, long long spend, long long count,
                         long long history, long long budget);
/* a + b for money figures, saturated at +-ADVICE_MONEY_MAX. */
long long advice_money_add(long long a, long long b);
/* v limited to +-ADVICE_MONEY_MAX. */
long long advice_money_clamp(long long v);
/* Computes the derived fields (run-rates, shares, month-over-month, drivers,
 * projection) from the loaded ones. */
void advice_derive(struct advice_analytics *a);

/* ---- the words: pure functions (tests/unit/check_advice.c) ---------------- */

#define ADVICE_TEXT_MAX 1000   /* bytes of one advice field */

struct advice_text {
    char summary[ADVICE_TEXT_MAX + 1];
    char budget_impact[ADVICE_TEXT_MAX + 1];
    char forecast_delta[ADVICE_TEXT_MAX + 1];
};

/* derive.c.  Rounded num/den (half away from zero); den > 0. */
long long advice_div_round(long long num, long long den);
/* Tenths of a percent of num/den, rounded; false when den <= 0. */
bool advice_pct_tenths(long long num, long long den, long long *out);

/* words.c.  "12.5%", or with sign "+12.5%" / "-3.0%". */
void advice_format_pct(long long tenths, bool with_sign, char *out, size_t n);
/* v minor units in a's currency: "$1,234.56" (si_money_format). */
void advice_format_amount(const struct advice_analytics *a, long long v, char *out, size_t n);
/* A count with thousands separators ("1,234"; negative counts as 0). */
void advice_format_count(long long v, char *out, size_t n);
/* The spending transactions of the period (all categories). */
long long advice_spend_count(const struct advice_analytics *a);
/* "between Mar 1 and Mar 31, 2024", "on Mar 1, 2024", "between Dec 15, 2023
 * and Jan 14, 2024".  No digit runs: dates in this form pass the masker
 * untouched. */
void advice_format_period(const struct advice_analytics *a, char *out, size_t n);

/* rules.c.  The rules answer: deterministic text over the analytics. */
void advice_template(const struct advice_analytics *a, struct advice_text *out);

/* prompt.c.  The chat-completions request body as JSON text (model,
 * messages, response_format), to free().  Everything user-derived in it has
 * been masked, and the user message is checked to hold no digit run (the
 * model name is configuration and may hold a date).  NULL on failure. */
char *advice_prompt(const struct advice_analytics *a, const char *model);

/* reply.c.  Validates the model's content: a JSON object with exactly
 * summary, budgetImpact and forecastDelta, non-empty strings of at most
 * ADVICE_TEXT_MAX bytes.  0, or -1 with *reason a code. */
int advice_parse_reply(const char *content, size_t len, struct advice_text *out, const char **reason);
/* Validates a chat.completion response (parsed, or its body text) and then
 * its content. */
int advice_parse_completion_json(const json_t *completion, struct advice_text *out, const char **reason);
int advice_parse_completion(const char *body, size_t len, struct advice_text *out, const char **reason);

/* ---- the model ------------------------------------------------------------- */

/* Sends request_body to cfg's chat-completions endpoint (si_llm_chat: one
 * retry on 429 and 5xx, everything within cfg->timeout_ms, response capped at
 * ADVICE_MAX_REPLY_BYTES) and validates the reply.  0 with out filled, or -1
 * with *reason a code ("no_key", "timeout", "http_500", "bad_json",
 * "wrong_keys", ...). */
int llm_advise(struct si_http_client *http, const struct si_llm_config *cfg, const char *request_body,
               struct advice_text *out, struct si_llm_result *res, const char **reason);

/* ---- the steps --------------------------------------------------------------- */

/* What Prime's handoff is: approve-import reads these fields; prime-handoff
 * answers them as JSON (prime_outcome_json). */
struct prime_outcome {
    char handoff_id[SI_UUID_LEN + 1];
    char import_id[SI_UUID_LEN + 1];
    char *message;              /* Prime's message (malloc'd; prime_outcome_cleanup) */
    long long transaction_count;
    char imported_at[40];       /* "2024-03-31T12:00:00Z" */
    char status[16];            /* the handoff's: pending, analyzing, completed, failed */
};

/* prime-handoff for user's import: 0 with *out filled (the caller cleans it
 * up), or -1 with err (404/409/5xx). */
int prime_run(struct si_db *db, const char *user_id, const char *import_id, struct prime_outcome *out,
              struct si_error *err);
/* The prime-handoff 200 body for an outcome (NULL when out of memory). */
json_t *prime_outcome_json(const struct prime_outcome *o);
void prime_outcome_cleanup(struct prime_outcome *o);   /* safe to call twice */
/* crystal-analyze-import for user's handoff: *out is the 200 body.  http is
 * the worker's client for the model (NULL: one per call). */
int crystal_run(struct si_db *db, struct si_http_client *http, const char *user_id, const char *handoff_id,
                bool force, json_t **out, struct si_error *err);

/* ---- Chat with Crystal (crystal_chat.c, chat_prompt.c) ------------------------ */

#define CHAT_MESSAGE_MAX 2000   /* bytes of one question */
#define CHAT_REPLY_MAX   2000   /* bytes of one answer kept (cut at a UTF-8 boundary) */
#define CHAT_HISTORY     10     /* earlier messages of the conversation sent with a question */
#define CHAT_TURNS_MAX   50     /* questions per handoff (then 409 conversation_full) */
#define CHAT_PAGE_MAX    200    /* messages a GET answers (the newest) */

/* What Crystal knows when she chats: the import's stored advice. */
struct chat_facts {
    const char *summary, *budget_impact, *forecast_delta;
    const char *top_categories;   /* the stored JSON array text */
};
struct chat_turn {
    const char *role;             /* "user" or "assistant" */
    const char *content;
};
/* chat_prompt.c.  The chat-completions request (JSON text, to free) for a
 * question: a system message that begins "You are Crystal, chatting", the
 * facts, the earlier turns (oldest first) and the question, every user text
 * masked (si_text.h); NULL on failure or when a masked text still holds a
 * digit run.  Pure; tests/unit/check_advice.c. */
char *advice_chat_prompt(const char *model, const struct chat_facts *facts, const struct chat_turn *turns,
                         size_t n_turns, const char *question);
/* The answer without a model: the stored advice, said as a chat reply. */
void advice_chat_rules_reply(const struct chat_facts *facts, char *out, size_t n);

/* A handoff id as the caller sent it (NULL: absent) into out: 400
 * missing_handoff_id / invalid_handoff_id (crystal_analyze_import.c). */
int advice_handoff_id(const char *id, char out[SI_UUID_LEN + 1], struct si_error *err);

int chat_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);
int prime_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);
int crystal_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);
int approve_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);

/* si_response_json with reals written to 12 significant digits (12.3, not
 * 12.300000000000001).  0, or -1 with a 500 error in resp. */
int advice_respond(struct si_response *resp, int status, const json_t *obj);


#endif
