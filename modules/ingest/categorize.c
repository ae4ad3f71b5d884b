/* categorize.c: keyword categorisation on folded, whole-word text (see categorize.h). */
#include "categorize.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 65536
#define MAX_TEXT 1024        /* folded bytes of one field looked at */

struct rule {
    char *pattern;           /* folded keyword, without spaces around it */
    size_t len;              /* bytes of pattern */
    size_t weight;           /* words, then bytes: the most specific wins */
    bool prefix;             /* may end inside a word */
    char *category;
    int cls;                 /* CLS_USER, CLS_STRONG, CLS_WEAK */
};

enum { CLS_USER = 0, CLS_STRONG, CLS_WEAK, CLS_N };

struct categorizer {
    struct rule *rules;
    size_t n;
    int *next;               /* chain of rules sharing a bucket */
    int *bucket;             /* first rule per two-byte prefix, -1 when none */
};

/* Latin-1 supplement letters (U+00C0..U+00FF, UTF-8 C3 80..BF) without their accents;
 * the German umlauts as German exports spell them in ASCII (ä = ae: "Ueberweisung" and
 * "Überweisung" fold alike); "" = a separator (multiplication and division signs). */
static const char *const latin1[64] = {
    "a", "a", "a", "a", "ae", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    "d", "n", "o", "o", "o", "o", "oe", "", "o", "u", "u", "u", "ue", "y", "th", "ss",
    "a", "a", "a", "a", "ae", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    "d", "n", "o", "o", "o", "o", "oe", "", "o", "u", "u", "u", "ue", "y", "th", "y",
};

enum { SEP = 0, LETTER, DIGIT };

size_t categorize_fold(const char *text, char *out, size_t out_size)
{
    if (out_size < 4) {
        if (out_size > 0)
            out[0] = '\0';
        return 0;
    }
    const unsigned char *p = (const unsigned char *)(text ? text : "");
    size_t w = 0, word_start = 0;
    int prev = SEP;
    out[w++] = ' ';
    while (*p) {
        char piece[4];
        size_t plen = 0, adv = 1;
        int cls;
        unsigned char c = *p;
        if (c >= 'A' && c <= 'Z') {
            piece[plen++] = (char)(c + 32);
            cls = LETTER;
        } else if ((c >= 'a' && c <= 'z')) {
            piece[plen++] = (char)c;
            cls = LETTER;
        } else if (c >= '0' && c <= '9') {
            piece[plen++] = (char)c;
            cls = DIGIT;
        } else if (c == '\'') {
            p++;
            continue;                          /* "McDonald's" = "mcdonalds" */
        } else if (c == 0xE2 && p[1] == 0x80 && p[2] == 0x99) {
            p += 3;                            /* U+2019, the typographic apostrophe */
            continue;
        } else if (c == 0xC3 && p[1] >= 0x80 && p[1] <= 0xBF) {
            const char *f = latin1[p[1] - 0x80];
            plen = strlen(f);
            memcpy(piece, f, plen);
            cls = plen ? LETTER : SEP;
            adv = 2;
        } else if (c == 0xC5 && (p[1] == 0x92 || p[1] == 0x93)) {
            memcpy(piece, "oe", 2);            /* œ */
            plen = 2;
            cls = LETTER;
            adv = 2;
        } else if (c == 0xC2 && p[1] >= 0x80 && p[1] <= 0xBF) {
            cls = SEP;                         /* NBSP, °, «, » ... */
            adv = 2;
        } else if (c >= 0x80) {
            /* other letters (Greek, Cyrillic ...): their bytes as they are */
            size_t k = 1;
            while (k < 4 && (p[k] & 0xC0) == 0x80)
                k++;
            memcpy(piece, p, k);
            plen = k;
            cls = LETTER;
            adv = k;
        } else {
            cls = SEP;
        }
        for (size_t k = 1; k < adv; k++)
            if (p[k] == '\0') {                /* a sequence cut short by the end */
                adv = k;
                break;
            }
        p += adv;
        if (cls == SEP) {
            prev = SEP;
            continue;
        }
        if (prev != SEP && prev != cls)        /* "aldi123" = "aldi 123" */
            prev = SEP;
        if (prev == SEP && out[w - 1] != ' ') {
            if (w + 1 >= out_size - 1)
                break;
            out[w++] = ' ';
        }
        if (prev == SEP)
            word_start = w;
        if (w + plen >= out_size - 1) {        /* no room: drop the word begun */
            w = word_start;
            break;
        }
        memcpy(out + w, piece, plen);
        w += plen;
        prev = cls;
    }
    if (w > 0 && out[w - 1] != ' ')
        out[w++] = ' ';
    if (w <= 1)
        w = 0;
    out[w] = '\0';
    return w;
}

struct categorizer *categorizer_new_rules(const struct categorize_rule *rules, size_t n)
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
        char folded[256];
        size_t len = categorize_fold(rules[i].keyword, folded, sizeof folded);
        if (len < 4)
            continue;       /* " x ": fewer than 2 bytes would match nearly everything */
        size_t plen = len - 2, words = 1;             /* without the spaces around it */
        for (size_t k = 1; k < plen; k++)
            words += folded[1 + k] == ' ';
        struct rule *r = &c->rules[c->n];
        r->pattern = malloc(plen + 1);
        r->category = strdup(rules[i].category);
        if (r->pattern == NULL || r->category == NULL) {
            free(r->pattern);
            free(r->category);
            goto fail;
        }
        memcpy(r->pattern, folded + 1, plen);
        r->pattern[plen] = '\0';
        r->len = plen;
        r->weight = words << 16 | plen;
        r->prefix = rules[i].kind == CATEGORIZE_PREFIX && !rules[i].user;
        r->cls = rules[i].user ? CLS_USER : rules[i].kind == CATEGORIZE_WEAK ? CLS_WEAK : CLS_STRONG;
        unsigned b = (unsigned)(unsigned char)r->pattern[0] << 8 | (unsigned char)r->pattern[1];
        c->next[c->n] = c->bucket[b];
        c->bucket[b] = (int)c->n;
        c->n++;
    }
    return c;
fail:
    categorizer_free(c);
    return NULL;
}

struct categorizer *categorizer_new(const char *const *keywords, const char *const *categories,
                                    const int *user, size_t n)
{
    struct categorize_rule *r = calloc(n ? n : 1, sizeof *r);
    if (r == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        r[i] = (struct categorize_rule){ keywords[i], categories[i], user[i], CATEGORIZE_WORD };
    struct categorizer *c = categorizer_new_rules(r, n);
    free(r);
    return c;
}

/* The most specific rule of each class found in folded text t (length n, ending with a space). */
static void scan(const struct categorizer *c, const char *t, size_t n, const struct rule *best[CLS_N])
{
    for (size_t i = 0; i + 2 < n; i++) {
        if (t[i] != ' ')
            continue;
        const unsigned char *d = (const unsigned char *)t + i + 1;
        for (int k = c->bucket[d[0] << 8 | d[1]]; k >= 0; k = c->next[k]) {
            const struct rule *r = &c->rules[k];
            if (r->len + 1 > n - i - 1 || memcmp(d, r->pattern, r->len) != 0)
                continue;
            /* a word ends with a space, or an "s" then a space (plurals, "McDonalds") */
            if (!r->prefix && d[r->len] != ' ' && !(d[r->len] == 's' && d[r->len + 1] == ' '))
                continue;
            if (best[r->cls] == NULL || r->weight > best[r->cls]->weight)
                best[r->cls] = r;
        }
    }
}

const char *categorizer_match_row(const struct categorizer *c, const char *counterparty,
                                  const char *description)
{
    char a[MAX_TEXT], b[MAX_TEXT];
    const struct rule *ba[CLS_N] = { NULL }, *bb[CLS_N] = { NULL };
    size_t na = counterparty ? categorize_fold(counterparty, a, sizeof a) : 0;
    size_t nb = description ? categorize_fold(description, b, sizeof b) : 0;
    scan(c, a, na, ba);
    scan(c, b, nb, bb);
    for (int cls = CLS_USER; cls < CLS_WEAK; cls++) {
        if (ba[cls])
            return ba[cls]->category;
        if (bb[cls])
            return bb[cls]->category;
    }
    if (ba[CLS_WEAK] && (bb[CLS_WEAK] == NULL || ba[CLS_WEAK]->weight >= bb[CLS_WEAK]->weight))
        return ba[CLS_WEAK]->category;
    return bb[CLS_WEAK] ? bb[CLS_WEAK]->category : "Other";
}

const char *categorizer_match(const struct categorizer *c, const char *description)
{
    return categorizer_match_row(c, NULL, description);
}

void categorizer_free(struct categorizer *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->rules[i].pattern);
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
        "SELECT keyword, category, 1, 'word' FROM category_rules WHERE user_id = $1 "
        "UNION ALL SELECT keyword, category, 0, kind FROM category_rules_builtin", 1, params, err);
    if (res == NULL)
        return NULL;
    int n = PQntuples(res);
    struct categorize_rule *r = calloc((size_t)n + 1, sizeof *r);
    struct categorizer *c = NULL;
    if (r != NULL) {
        for (int i = 0; i < n; i++) {
            const char *kind = PQgetvalue(res, i, 3);
            r[i].keyword = PQgetvalue(res, i, 0);
            r[i].category = PQgetvalue(res, i, 1);
            r[i].user = PQgetvalue(res, i, 2)[0] == '1';
            r[i].kind = strcmp(kind, "prefix") == 0 ? CATEGORIZE_PREFIX
                      : strcmp(kind, "weak") == 0   ? CATEGORIZE_WEAK
                                                    : CATEGORIZE_WORD;
        }
        c = categorizer_new_rules(r, (size_t)n);
    }
    if (c == NULL)
        si_error_set(err, 500, "internal", "out of memory loading category rules");
    free(r);
    PQclear(res);
    return c;
}
