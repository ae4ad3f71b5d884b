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

int dedup_hasher_init(struct dedup_hasher *h)
{
    h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    h->ctx = EVP_MD_CTX_new();
    return h->md != NULL && h->ctx != NULL ? 0 : -1;
}

void dedup_hasher_cleanup(struct dedup_hasher *h)
{
    EVP_MD_free(h->md);
    EVP_MD_CTX_free(h->ctx);
    h->md = h->ctx = NULL;
}

/* Appends s to the key buffer, hashing and emptying it when full. */
struct keybuf {
    EVP_MD_CTX *ctx;
    char buf[1024];
    size_t len;
    int ok;
};

static void key_add(struct keybuf *k, const char *s, size_t n, int lower)
{
    while (n > 0) {
        if (k->len == sizeof k->buf) {
            k->ok &= EVP_DigestUpdate(k->ctx, k->buf, k->len);
            k->len = 0;
        }
        size_t take = sizeof k->buf - k->len < n ? sizeof k->buf - k->len : n;
        if (lower) {
            for (size_t i = 0; i < take; i++)
                k->buf[k->len + i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
        } else {
            memcpy(k->buf + k->len, s, take);
        }
        k->len += take;
        s += take;
        n -= take;
    }
}

int dedup_hash(struct dedup_hasher *h, struct dedup_occurrences *o, const char *account, const char *bank_id,
               const char *date, long long amount_minor, const char *currency,
               const char *description, char out[DEDUP_HASH_LEN + 1], int *out_occurrence)
{
    unsigned char digest[32];
    unsigned int len = 0;
    struct keybuf k = { h->ctx, "", 0, 1 };
    if (EVP_DigestInit_ex2(h->ctx, h->md, NULL) != 1)
        return -1;
    int by_bank_id = bank_id != NULL && *bank_id != '\0';
    if (by_bank_id) {
        key_add(&k, "v1|b|", 5, 0);
        key_add(&k, account, strlen(account), 0);
        key_add(&k, "|", 1, 0);
        key_add(&k, bank_id, strlen(bank_id), 0);
    } else {
        char num[32];
        int n = snprintf(num, sizeof num, "|%lld|", amount_minor);
        key_add(&k, "v1|t|", 5, 0);
        key_add(&k, account, strlen(account), 0);
        key_add(&k, "|", 1, 0);
        key_add(&k, date, strlen(date), 0);
        key_add(&k, num, (size_t)n, 0);
        key_add(&k, currency, strlen(currency), 0);
        key_add(&k, "|", 1, 0);
        key_add(&k, description, strlen(description), 1);
    }
    k.ok &= EVP_DigestUpdate(h->ctx, k.buf, k.len);
    k.ok &= EVP_DigestFinal_ex(h->ctx, digest, &len);
    if (!k.ok || len != 32)
        return -1;
    hex(digest, 32, out);
    *out_occurrence = 0;
    if (!by_bank_id) {
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
