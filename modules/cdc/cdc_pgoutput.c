/* cdc_pgoutput.c: reads the messages of PostgreSQL's built-in logical decoding plugin
 * pgoutput (protocol version 1) as smartimport-cdc needs them: BEGIN (the commit LSN and
 * time), COMMIT (the end LSN), RELATION (which column is `id`, which `merchant_id`) and
 * INSERT (those two columns' text).  Pure: no I/O, so the unit test feeds it bytes.
 *
 * pgoutput over wal2json: it ships with the server (no extra package), and only the two
 * columns we need are read; the rest of a row is skipped by length.  Every length is
 * checked against the message's end before it is used. */
#include "loyalty.h"
#include "si_uuid.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t cdc_get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

uint32_t cdc_get_u32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

void cdc_put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

void cdc_lsn_format(uint64_t lsn, char *out, size_t cap)
{
    snprintf(out, cap, "%X/%X", (unsigned)(lsn >> 32), (unsigned)(lsn & 0xffffffffu));
}

/* A cursor over one message. */
struct rd {
    const unsigned char *p, *end;
};

static int rd_need(const struct rd *r, size_t n) { return (size_t)(r->end - r->p) >= n ? 0 : -1; }

static int rd_u8(struct rd *r, unsigned *out)
{
    if (rd_need(r, 1) != 0)
        return -1;
    *out = *r->p++;
    return 0;
}

static int rd_u16(struct rd *r, unsigned *out)
{
    if (rd_need(r, 2) != 0)
        return -1;
    *out = ((unsigned)r->p[0] << 8) | r->p[1];
    r->p += 2;
    return 0;
}

static int rd_u32(struct rd *r, uint32_t *out)
{
    if (rd_need(r, 4) != 0)
        return -1;
    *out = cdc_get_u32(r->p);
    r->p += 4;
    return 0;
}

static int rd_u64(struct rd *r, uint64_t *out)
{
    if (rd_need(r, 8) != 0)
        return -1;
    *out = cdc_get_u64(r->p);
    r->p += 8;
    return 0;
}

/* A NUL-terminated string within the message; *out points into it. */
static int rd_str(struct rd *r, const char **out)
{
    const unsigned char *nul = memchr(r->p, '\0', (size_t)(r->end - r->p));
    if (nul == NULL)
        return -1;
    *out = (const char *)r->p;
    r->p = nul + 1;
    return 0;
}

static struct cdc_relation *find_rel(struct cdc_relations *rels, uint32_t oid)
{
    for (int i = 0; i < rels->n; i++)
        if (rels->rel[i].oid == oid)
            return &rels->rel[i];
    return NULL;
}

static int parse_relation(struct rd *r, struct cdc_relations *rels)
{
    uint32_t oid;
    const char *nsp, *name;
    unsigned ident, natts;
    if (rd_u32(r, &oid) != 0 || rd_str(r, &nsp) != 0 || rd_str(r, &name) != 0 || rd_u8(r, &ident) != 0 ||
        rd_u16(r, &natts) != 0)
        return -1;
    struct cdc_relation rel = { .oid = oid, .id_col = -1, .merchant_col = -1 };
    snprintf(rel.name, sizeof rel.name, "%s.%s", nsp, name);
    for (unsigned i = 0; i < natts; i++) {
        unsigned flags;
        const char *att;
        uint32_t typoid, typmod;
        if (rd_u8(r, &flags) != 0 || rd_str(r, &att) != 0 || rd_u32(r, &typoid) != 0 || rd_u32(r, &typmod) != 0)
            return -1;
        if (strcmp(att, "id") == 0)
            rel.id_col = (int)i;
        else if (strcmp(att, "merchant_id") == 0)
            rel.merchant_col = (int)i;
    }
    struct cdc_relation *slot = find_rel(rels, oid);
    if (slot == NULL) {
        if (rels->n == CDC_MAX_RELATIONS)   /* forget the oldest: it is sent again before its next row */
            memmove(&rels->rel[0], &rels->rel[1], (CDC_MAX_RELATIONS - 1) * sizeof rels->rel[0]);
        else
            rels->n++;
        slot = &rels->rel[rels->n - 1];
    }
    *slot = rel;
    return 0;
}

/* The column's text into out (NUL-terminated), or -1 when it is not a text value that fits. */
static int column_text(const unsigned char *v, uint32_t len, char *out, size_t cap)
{
    if (len >= cap || memchr(v, '\0', len) != NULL)
        return -1;
    memcpy(out, v, len);
    out[len] = '\0';
    return 0;
}

static int parse_insert(struct rd *r, struct cdc_relations *rels, struct cdc_msg *out)
{
    uint32_t oid;
    unsigned kind, ncols;
    if (rd_u32(r, &oid) != 0 || rd_u8(r, &kind) != 0 || kind != 'N' || rd_u16(r, &ncols) != 0)
        return -1;
    const struct cdc_relation *rel = find_rel(rels, oid);
    bool got_id = false, got_merchant = false;
    for (unsigned i = 0; i < ncols; i++) {
        unsigned ck;
        if (rd_u8(r, &ck) != 0)
            return -1;
        if (ck == 'n' || ck == 'u')
            continue;
        uint32_t len;
        if ((ck != 't' && ck != 'b') || rd_u32(r, &len) != 0 || rd_need(r, len) != 0)
            return -1;
        const unsigned char *v = r->p;
        r->p += len;
        if (rel == NULL || ck != 't')
            continue;
        char text[64];
        if ((int)i == rel->id_col) {
            char *end = NULL;
            if (column_text(v, len, text, sizeof text) != 0)
                return -1;
            errno = 0;
            long long id = strtoll(text, &end, 10);
            if (errno != 0 || end == text || *end != '\0' || id < 1)
                return -1;
            out->purchase_id = id;
            got_id = true;
        } else if ((int)i == rel->merchant_col) {
            if (column_text(v, len, text, sizeof text) != 0 || si_uuid_normalize(text, out->merchant) != 0)
                return -1;
            got_merchant = true;
        }
    }
    out->purchase = got_id && got_merchant;
    return 0;
}

int cdc_pgoutput_parse(const unsigned char *buf, size_t len, struct cdc_relations *rels, struct cdc_msg *out)
{
    struct rd r = { buf, buf + len };
    unsigned type;
    uint64_t a, b, ts;
    uint32_t xid;
    unsigned flags;
    memset(out, 0, sizeof *out);
    out->kind = CDC_MSG_OTHER;
    if (rd_u8(&r, &type) != 0)
        return -1;
    switch (type) {
    case 'B':
        if (rd_u64(&r, &a) != 0 || rd_u64(&r, &ts) != 0 || rd_u32(&r, &xid) != 0)
            return -1;
        out->kind = CDC_MSG_BEGIN;
        out->lsn = a;
        out->commit_ts_us = (int64_t)ts;
        return 0;
    case 'C':
        if (rd_u8(&r, &flags) != 0 || rd_u64(&r, &a) != 0 || rd_u64(&r, &b) != 0 || rd_u64(&r, &ts) != 0)
            return -1;
        out->kind = CDC_MSG_COMMIT;
        out->lsn = b;
        out->commit_ts_us = (int64_t)ts;
        return 0;
    case 'R':
        out->kind = CDC_MSG_RELATION;
        return parse_relation(&r, rels);
    case 'I':
        out->kind = CDC_MSG_INSERT;
        return parse_insert(&r, rels, out);
    default:
        return 0;
    }
}
