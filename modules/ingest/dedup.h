/* dedup.h: the stable transaction hash that makes imports idempotent.
 *
 * A committed transaction is unique per user by this hash:
 * - the bank's own id when the file has one (OFX FITID, CAMT reference):
 *     sha256("v1|b|" account "|" bank_id)
 * - otherwise the row's content plus its occurrence among identical rows of
 *   the same file, so two real identical coffees on one day stay two rows
 *   while re-importing the same or an overlapping statement adds nothing:
 *     sha256("v1|t|" account "|" date "|" amount "|" currency "|" lower(description)) "-" occurrence
 * account is the file's account id, else the request's accountId, else "". */
#ifndef DEDUP_H
#define DEDUP_H

#include <stdint.h>
#include <stddef.h>

#define DEDUP_HASH_LEN 75     /* 64 hex + "-" + up to 10 digits */

/* The SHA-256 implementation, fetched once per import (a per-row fetch
 * takes OpenSSL's provider locks every time). */
struct dedup_hasher {
    void *md;       /* EVP_MD * */
    void *ctx;      /* EVP_MD_CTX * */
};

int dedup_hasher_init(struct dedup_hasher *h);       /* 0 or -1 */
void dedup_hasher_cleanup(struct dedup_hasher *h);   /* safe to call twice */

/* Counts identical rows within one file: key -> times seen.  Open
 * addressing over one array of 12-byte slots, so that a lookup in a table
 * far larger than the cache costs one miss, not two. */
struct dedup_slot {
    uint64_t key;             /* 0 = empty slot */
    uint32_t count;
} __attribute__((packed));

struct dedup_occurrences {
    struct dedup_slot *slots;
    size_t cap;               /* power of two */
    size_t used;
};

void dedup_occurrences_init(struct dedup_occurrences *o);
/* Records one more row with key and returns its 1-based occurrence, or -1 when out of memory. */
long dedup_occurrences_next(struct dedup_occurrences *o, uint64_t key);
void dedup_occurrences_cleanup(struct dedup_occurrences *o);

/* Computes the hash text into out.  *out_occurrence is 0 for bank ids.
 * Returns 0, or -1 when out of memory. */
int dedup_hash(struct dedup_hasher *h, struct dedup_occurrences *o, const char *account, const char *bank_id,
               const char *date, long long amount_minor, const char *currency,
               const char *description, char out[DEDUP_HASH_LEN + 1], int *out_occurrence);

#endif
