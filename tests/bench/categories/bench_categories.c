/* bench_categories.c: the categories benchmark's driver (scripts/bench-categories).
 *
 * Loads the built-in knowledge from the data/categories TSV files (the files
 * sql/0018_category_knowledge.sql is generated from; the first of a repeated match
 * wins, as in the generator), then categorises each row of a labelled set the way
 * ingest does (modules/ingest/stage.c: the file's counterparty, else the normalised
 * merchant, then the description) and prints the share answered "Other" and the share
 * wrong, overall and per country.  -v lists every row that is not right.
 * Labelled set: tab-separated country, category, description[, counterparty]; '#' comments. */
#include "categorize.h"
#include "merchant.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RULES 20000
#define MAX_LINE 2048
#define MAX_COUNTRIES 16

struct country {
    char name[8];
    int total, other, wrong;
};

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Splits line at tabs into at most max fields (in place); returns the count. */
static int split_tabs(char *line, char **f, int max)
{
    int n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    while (n < max) {
        f[n++] = line;
        char *t = strchr(line, '\t');
        if (t == NULL)
            break;
        *t = '\0';
        line = t + 1;
    }
    return n;
}

static int load_rules(const char *dir, struct categorize_rule *rules, size_t *n)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        perror(dir);
        return -1;
    }
    char *names[64];
    size_t nn = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && nn < 64) {
        size_t l = strlen(e->d_name);
        if (l > 4 && strcmp(e->d_name + l - 4, ".tsv") == 0 && (names[nn] = strdup(e->d_name)) != NULL)
            nn++;
    }
    closedir(d);
    qsort(names, nn, sizeof names[0], by_name);
    int rc = 0;
    for (size_t i = 0; i < nn; i++) {
        char path[4096], line[MAX_LINE];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *fp = fopen(path, "r");
        if (fp == NULL) {
            perror(path);
            rc = -1;
            continue;
        }
        while (fgets(line, sizeof line, fp) != NULL && *n < MAX_RULES) {
            char *f[5];
            if (line[0] == '#' || line[0] == '\n' || split_tabs(line, f, 5) != 5)
                continue;
            int dup = 0;
            for (size_t k = 0; k < *n && !dup; k++)
                dup = strcmp(rules[k].keyword, f[0]) == 0;
            if (dup)
                continue;
            rules[*n].keyword = strdup(f[0]);
            rules[*n].category = strdup(f[1]);
            rules[*n].user = 0;
            rules[*n].kind = strcmp(f[4], "prefix") == 0 ? CATEGORIZE_PREFIX
                           : strcmp(f[4], "weak") == 0   ? CATEGORIZE_WEAK
                                                         : CATEGORIZE_WORD;
            if (rules[*n].keyword == NULL || rules[*n].category == NULL) {
                rc = -1;
                break;
            }
            (*n)++;
        }
        fclose(fp);
    }
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    return rc;
}

int main(int argc, char **argv)
{
    int verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
    if (argc - verbose != 3) {
        fprintf(stderr, "usage: bench_categories [-v] DATA_DIR LABELLED_TSV\n");
        return 2;
    }
    static struct categorize_rule rules[MAX_RULES];
    size_t n = 0;
    if (load_rules(argv[1 + verbose], rules, &n) != 0)
        return 1;
    struct categorizer *c = categorizer_new_rules(rules, n);
    if (c == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    FILE *fp = fopen(argv[2 + verbose], "r");
    if (fp == NULL) {
        perror(argv[2 + verbose]);
        return 1;
    }
    struct country cs[MAX_COUNTRIES] = { 0 }, all = { "all", 0, 0, 0 };
    size_t ncs = 0;
    char line[MAX_LINE];
    while (fgets(line, sizeof line, fp) != NULL) {
        char *f[4];
        if (line[0] == '#' || line[0] == '\n')
            continue;
        int nf = split_tabs(line, f, 4);
        if (nf < 3)
            continue;
        char merchant[MERCHANT_MAX];
        const char *cp = nf == 4 && f[3][0] ? f[3]
                       : merchant_normalize(f[2], merchant, sizeof merchant) ? merchant : NULL;
        const char *got = categorizer_match_row(c, cp, f[2]);
        struct country *k = NULL;
        for (size_t i = 0; i < ncs && k == NULL; i++)
            if (strcmp(cs[i].name, f[0]) == 0)
                k = &cs[i];
        if (k == NULL && ncs < MAX_COUNTRIES) {
            k = &cs[ncs++];
            snprintf(k->name, sizeof k->name, "%s", f[0]);
        }
        int other = strcmp(got, "Other") == 0, wrong = !other && strcmp(got, f[1]) != 0;
        int missed = other && strcmp(f[1], "Other") != 0;
        all.total++, all.other += other, all.wrong += wrong;
        if (k)
            k->total++, k->other += other, k->wrong += wrong;
        if (verbose && (wrong || missed))
            printf("%-6s %-5s want %-13s got %-13s | %s | %s\n", wrong ? "WRONG" : "OTHER", f[0], f[1], got,
                   f[2], cp ? cp : "");
    }
    fclose(fp);
    printf("%-6s %6s %9s %9s\n", "set", "rows", "Other", "wrong");
    for (size_t i = 0; i <= ncs; i++) {
        const struct country *k = i < ncs ? &cs[i] : &all;
        if (k->total > 0)
            printf("%-6s %6d %8.1f%% %8.1f%%\n", k->name, k->total, 100.0 * k->other / k->total,
                   100.0 * k->wrong / k->total);
    }
    printf("goal: Other <= 10%%, wrong <= 3%% (no model); %zu built-in rules\n", n);
    int ok = all.total > 0 && all.other * 10 <= all.total && all.wrong * 100 <= 3 * all.total;
    categorizer_free(c);
    for (size_t i = 0; i < n; i++) {
        free((char *)rules[i].keyword);
        free((char *)rules[i].category);
    }
    return ok ? 0 : 3;
}
