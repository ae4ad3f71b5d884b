/* categorize.h: keyword rules -> a category for each description.
 *
 * Rules are loaded once per import (the user's own, then the built-in ones)
 * and matched as lower-case substrings; the user's longest matching keyword
 * wins, else the longest built-in one, else "Other".  Matching indexes
 * keywords by their first two bytes, so a description costs one table probe
 * per byte instead of one search per rule: a million rows stay cheap. */
#ifndef CATEGORIZE_H
#define CATEGORIZE_H

#include <stddef.h>

#include "si_db.h"

struct categorizer;

/* Loads the rules for user_id; NULL with err on failure. */
struct categorizer *categorizer_load(struct si_db *db, const char *user_id, struct si_error *err);
/* Builds one from arrays (tests); user[i] says whether rule i is the user's. */
struct categorizer *categorizer_new(const char *const *keywords, const char *const *categories,
                                    const int *user, size_t n);
/* The category of description (never NULL; a pointer into the categorizer). */
const char *categorizer_match(const struct categorizer *c, const char *description);
void categorizer_free(struct categorizer *c);

#endif
