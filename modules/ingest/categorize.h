/* categorize.h: keyword rules -> a category for each row.
 *
 * Rules are loaded once per import: the user's own (category_rules), then the
 * built-in knowledge (category_rules_builtin, from the data/categories TSV files by
 * sql/0018_category_knowledge.sql).  Text and keywords are folded the same way
 * (categorize_fold: lower case, Latin accents dropped, German umlauts as ae/oe/ue,
 * apostrophes removed, every other non-letter/digit and each letter/digit change a
 * single space) and a keyword matches whole words only, so "bus" is not found in
 * "John Busby"; a whole word may carry a plural "s" ("cinemas"); a built-in keyword
 * of kind 'prefix' matches the start of a word ("apothek" in "Apotheke").  Order:
 * the user's rules on the counterparty, then on the description; the built-in ones
 * the same way; last the built-in 'weak' ones (PayPal, "transfer", "subscription":
 * words that a merchant or a purpose next to them decides better), else "Other".
 * Within one step the most specific keyword wins: the most words, then the longest.
 * Matching indexes keywords by their first two bytes and probes once per word: a
 * million rows stay cheap.
 */
#ifndef CATEGORIZE_H
#define CATEGORIZE_H

#include <stddef.h>

#include "si_db.h"

/* How a rule's keyword matches. */
enum categorize_kind {
    CATEGORIZE_WORD = 0,     /* whole words */
    CATEGORIZE_PREFIX,       /* starts at a word start, may end inside a word */
    CATEGORIZE_WEAK,         /* whole words, only when no other rule matched */
};

struct categorize_rule {
    const char *keyword;     /* any case; folded when loaded */
    const char *category;
    int user;                /* 1 = the user's own rule */
    enum categorize_kind kind;
};

struct categorizer;

/* Loads the rules for user_id; NULL with err on failure. */
struct categorizer *categorizer_load(struct si_db *db, const char *user_id, struct si_error *err);
/* Builds one from rules (copied); NULL when out of memory.  Rules whose folded
 * keyword is shorter than 2 bytes are skipped. */
struct categorizer *categorizer_new_rules(const struct categorize_rule *rules, size_t n);
/* Builds one from arrays of whole-word rules (tests); user[i] says whether rule i is the user's. */
struct categorizer *categorizer_new(const char *const *keywords, const char *const *categories,
                                    const int *user, size_t n);
/* The category of a row: counterparty (may be NULL or "") first, then description.
 * Never NULL; a pointer into the categorizer or the literal "Other". */
const char *categorizer_match_row(const struct categorizer *c, const char *counterparty,
                                  const char *description);
/* The same with no counterparty. */
const char *categorizer_match(const struct categorizer *c, const char *description);
void categorizer_free(struct categorizer *c);

/* Folds text for matching into out (out_size bytes): " word word ... " with one
 * leading and one trailing space, or "" for text without letters or digits.
 * Returns the length written; text beyond what fits is dropped at a word end. */
size_t categorize_fold(const char *text, char *out, size_t out_size);

#endif
