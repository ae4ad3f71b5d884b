/* categorize.c: keyword categorisation (see categorize.h). */
#include "categorize.h"

#include <stdlib.h>
#include <string.h>

#define BUCKETS 65536
#define MAX_DESC 1024

struct rule {
    char *keyword;
    size_t len;
    char *category;
    int user;          /* 1 = the user's own rule */
};

struct categorizer {
    struct rule *rules;
    size_t n;
    int *next;         /* chain of rules sharing a bucket */
    int *bucket;       /* first rule per two-byte prefix, -1 when none */
};

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

struct categorizer *categorizer_new(const char *const *keywords, const char *const *categories,
                                    const int *user, size_t n)
{
    struct categorizer *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->rules = calloc(n ? n : 1, sizeof *c->rules);
    c->next = malloc((n ? n : 1) * sizeof *c->next);
    c->bucket = malloc(BUCKETS * sizeof *c->bucket);
    if (c->rules == NULL || c->next == NULL || c->bucket == NULL)
        goto fail;
    for (size_t i = 0; i < BUCKETS; i++)
        c->bucket[i] = -1;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(keywords[i]);
        if (len < 2)
            continue;   /* the schema forbids it; skip rather than match everything */
        struct rule *r = &c->rules[c->n];
        r->keyword = strdup(keywords[i]);
        r->category = strdup(categories[i]);
        if (r->keyword == NULL || r->category == NULL) {
            free(r->keyword);
            free(r->category);
            goto fail;
        }
        for (char *k = r->keyword; *k; k++)
            *k = (char)lower((unsigned char)*k);
        r->len = len;
        r->user = user[i];
        unsigned b = (unsigned)(unsigned char)r->keyword[0] << 8 | (unsigned char)r->keyword[1];
        c->next[c->n] = c->bucket[b];
        c->bucket[b] = (int)c->n;
        c->n++;
    }
    return c;
fail:
    categorizer_free(c);
    return NULL;
}

const char *categorizer_match(const struct categorizer *c, const char *description)
{
    unsigned char d[MAX_DESC];
    size_t n = 0;
    for (; description[n] && n < sizeof d - 1; n++)
        d[n] = lower((unsigned char)description[n]);
    d[n] = '\0';
    const struct rule *best = NULL;
    for (size_t i = 0; i + 1 < n; i++) {
        for (int k = c->bucket[d[i] << 8 | d[i + 1]]; k >= 0; k = c->next[k]) {
            const struct rule *r = &c->rules[k];
            if (r->len > n - i || memcmp(d + i, r->keyword, r->len) != 0)
                continue;
            if (best == NULL || r->user > best->user || (r->user == best->user && r->len > best->len))
                best = r;
        }
    }
    return best ? best->category : "Other";
}

void categorizer_free(struct categorizer *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->rules[i].keyword);
        free(c->rules[i].category);
    }
    free(c->rules);
    free(c->next);
    free(c->bucket);
    free(c);
}

struct categorizer *categorizer_load(struct si_db *db, const char *user_id, struct si_error *err)
{
    const char *params[] = { user_id };
    PGresult *res = si_db_exec(db,
        "SELECT keyword, category, 1 FROM category_rules WHERE user_id = $1 "
        "UNION ALL SELECT keyword, category, 0 FROM category_rules_builtin", 1, params, err);
    if (res == NULL)
        return NULL;
    int n = PQntuples(res);
    const char **kw = calloc((size_t)n + 1, sizeof *kw);
    const char **cat = calloc((size_t)n + 1, sizeof *cat);
    int *user = calloc((size_t)n + 1, sizeof *user);
    struct categorizer *c = NULL;
    if (kw && cat && user) {
        for (int i = 0; i < n; i++) {
            kw[i] = PQgetvalue(res, i, 0);
            cat[i] = PQgetvalue(res, i, 1);
            user[i] = PQgetvalue(res, i, 2)[0] == '1';
        }
        c = categorizer_new(kw, cat, user, (size_t)n);
    }
    if (c == NULL)
        si_error_set(err, 500, "internal", "out of memory loading category rules");
    free(kw);
    free(cat);
    free(user);
    PQclear(res);
    return c;
}
