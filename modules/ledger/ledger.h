/* ledger.h: the ledger API (modules/ledger): the transactions and category-rules
 * responders and what they share (limits, the caller, dates, cursors, the user's rules).
 *
 * Every statement filters by the caller's user_id; a row of another user is the 404
 * of an unknown one.  Contracts: the header comments of transactions.c and
 * category_rules.c. */
#ifndef LEDGER_H
#define LEDGER_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "si_db.h"
#include "si_error.h"
#include "si_function.h"
#include "si_uuid.h"

#define LEDGER_LIMIT_DEFAULT 50
#define LEDGER_LIMIT_MAX     200
#define LEDGER_Q_MAX         200    /* characters of q */
#define LEDGER_TEXT_MAX      200    /* bytes of category / account filter values */
#define LEDGER_MATCH_MIN     2      /* characters of a rule's match (category_rules' check) */
#define LEDGER_MATCH_MAX     200    /* characters of a rule's match */
#define LEDGER_RULES_MAX     1000   /* rules per user; GET lists them all */
#define LEDGER_CURSOR_MAX    64     /* bytes of a cursor's text */

/* The session settings of the transactions responder's connections (si_db's options),
 * set by its handler before the worker's first statement.  A page statement is
 * prepared per shape (ledger_sql.h) and must run its generic plan: PostgreSQL's own
 * choice keeps planning each execution, since a generic plan's `LIMIT $2` is costed as
 * a tenth of the rows against the custom plan's 51.  Every filter of a shape has one
 * good plan whatever its value (an index range or the keyset walk), and the PATCH
 * statements are lookups by key. */
#define LEDGER_DB_OPTIONS "-c plan_cache_mode=force_generic_plan"

int transactions_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);
int category_rules_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);

/* The caller (body: the parsed JSON body, or NULL for the query): 0 or -1 with err. */
int ledger_identify(struct si_ctx *ctx, const struct si_request *req, const json_t *body,
                    char user[SI_UUID_LEN + 1], struct si_error *err);

/* Whether s is a calendar date written YYYY-MM-DD (years 1..9999). */
bool ledger_date_valid(const char *s);

/* A page's cursor: base64url of "YYYY-MM-DD:<id>" (opaque to clients).  encode: the
 * text into out (cap >= LEDGER_CURSOR_MAX), 0 or -1.  decode: 0 with date (11 bytes)
 * and *id, or -1 for anything that is not a cursor we made. */
int ledger_cursor_encode(const char *date, long long id, char *out, size_t cap);
int ledger_cursor_decode(const char *text, char date[11], long long *id);


/* A rule's match as stored (category_rules.keyword is lower case; lower() is done by
 * the database): surrounding white space dropped and inner runs made one space, into
 * out (cap bytes).  0, or -1 with a 400 err when it is empty, shorter than
 * LEDGER_MATCH_MIN or longer than LEDGER_MATCH_MAX characters, or not UTF-8 text. */
int ledger_match_normalize(const char *in, char *out, size_t cap, struct si_error *err);

/* 1 when category is one the categoriser can answer (a built-in rule's category or
 * "Other"), 0 when not, -1 with err. */
int ledger_category_known(struct si_db *db, const char *category, struct si_error *err);

/* Writes the user's rule match -> category (the match already normalised), replacing the
 * category of an existing rule with that match.  0 with *out_rule ({id, match, category,
 * created_at}, the caller's) and *created, or -1 with err (409 too_many_rules past
 * LEDGER_RULES_MAX). */
int ledger_rule_upsert(struct si_db *db, const char *user, const char *match, const char *category,
                       json_t **out_rule, bool *created, struct si_error *err);

#endif
