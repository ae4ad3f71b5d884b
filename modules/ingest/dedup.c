/* dedup.c: transaction hashes and in-file occurrence counting (see dedup.h). */
#include "dedup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

void dedup_occurrences_init(struct dedup_occurrences *o)
{
    memset(o, 0, sizeof *o);
}

void dedup_occurrences_cleanup(struct dedup_occurrences *o)
{
    free(o->keys);
    free(o->counts);
    memset(o, 0, sizeof *o);
}

static int grow(struct dedup_occurrences *o)
{
    size_t cap = o->cap ? o->cap * 2 : 4096;
    uint64_t *keys = calloc(cap, sizeof *keys);
    uint32_t *counts = calloc(cap, sizeof *counts);
    if (keys == NULL || counts == NULL) {
        free(keys);
        free(counts);
        return -1;
    }
    for (size_t i = 0; i < o->cap; i++) {
        if (o->keys[i] == 0)
            continue;
        size_t j = o->keys[i] & (cap - 1);
        while (keys[j] != 0)
            j = (j + 1) & (cap - 1);
        keys[j] = o->keys[i];
        counts[j] = o->counts[i];
    }
    free(o->keys);
    free(o->counts);
    o->keys = keys;
    o->counts = counts;
    o->cap = cap;
    return 0;
}

long dedup_occurrences_next(struct dedup_occurrences *o, uint64_t key)
{
    if (key == 0)
        key = 1;   /* 0 marks an empty slot */
    if ((o->used + 1) * 4 > o->cap * 3 && grow(o) != 0)
        return -1;
    size_t j = key & (o->cap - 1);
    while (o->keys[j] != 0 && o->keys[j] != key)
        j = (j + 1) & (o->cap - 1);
    if (o->keys[j] == 0) {
        o->keys[j] = key;
        o->used++;
    }
    if (o->counts[j] == UINT32_MAX)
        return -1;
    return (long)++o->counts[j];
}

static void hex(const unsigned char *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

int dedup_hash(struct dedup_occurrences *o, const char *account, const char *bank_id,
               const char *date, long long amount_minor, const char *currency,
               const char *description, char out[DEDUP_HASH_LEN + 1], int *out_occurrence)
{
    unsigned char digest[32];
    unsigned int len = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return -1;
    }
    char num[32];
    int ok = 1;
    if (bank_id != NULL && *bank_id != '\0') {
        ok &= EVP_DigestUpdate(md, "v1|b|", 5);
        ok &= EVP_DigestUpdate(md, account, strlen(account));
        ok &= EVP_DigestUpdate(md, "|", 1);
        ok &= EVP_DigestUpdate(md, bank_id, strlen(bank_id));
    } else {
        int n = snprintf(num, sizeof num, "|%lld|", amount_minor);
        ok &= EVP_DigestUpdate(md, "v1|t|", 5);
        ok &= EVP_DigestUpdate(md, account, strlen(account));
        ok &= EVP_DigestUpdate(md, "|", 1);
        ok &= EVP_DigestUpdate(md, date, strlen(date));
        ok &= EVP_DigestUpdate(md, num, (size_t)n);
        ok &= EVP_DigestUpdate(md, currency, strlen(currency));
        ok &= EVP_DigestUpdate(md, "|", 1);
        char lower[256];
        for (const char *p = description; *p;) {
            size_t k = 0;
            for (; *p && k < sizeof lower; p++, k++)
                lower[k] = (*p >= 'A' && *p <= 'Z') ? (char)(*p + 32) : *p;
            ok &= EVP_DigestUpdate(md, lower, k);
        }
    }
    ok &= EVP_DigestFinal_ex(md, digest, &len);
    EVP_MD_CTX_free(md);
    if (!ok || len != 32)
        return -1;
    hex(digest, 32, out);
    *out_occurrence = 0;
    if (bank_id == NULL || *bank_id == '\0') {
        uint64_t key;
        memcpy(&key, digest, sizeof key);
        long occ = dedup_occurrences_next(o, key);
        if (occ < 0)
            return -1;
        *out_occurrence = (int)occ;
        snprintf(out + 64, DEDUP_HASH_LEN + 1 - 64, "-%u", (unsigned)occ);
    }
    return 0;
}
