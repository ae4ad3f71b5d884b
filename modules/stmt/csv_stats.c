/* csv_stats.c: per-column statistics of the CSV engine, gathered over the whole
 * file in constant memory: which date formats and number readings each column's
 * cells fit, separators seen, and for the first CSV_PAIR_COLUMNS columns whether
 * one column is the running balance of another. */
#include "csv.h"

#include <stdlib.h>
#include <string.h>

/* What one non-empty cell contributes to its column's statistics. */
struct cell_class {
    uint32_t dates;                 /* csv_date_formats */
    bool scanned;                   /* csv_amount_scan accepted it */
    bool negative;
    struct csv_number_info ni;
    bool text, indicator, code_valid, code_common;
    unsigned char ok;               /* NONEMPTY | OK_DOT | OK_COMMA (pair columns) */
    long long value[2];             /* with '.' and ',' as the decimal separator (pair columns) */
};

/* The last cell of a column and its class: statements repeat cells from row
 * to row (the booking date, the currency, DR/CR), and a repeat is counted
 * without classifying it again. */
#define MEMO_BYTES 32
struct csv_cellmemo {
    size_t n;                       /* 0 = nothing remembered */
    char text[MEMO_BYTES];
    struct cell_class c;
};

int csv_stats_init(struct csv_stats *st, size_t ncols)
{
    memset(st, 0, sizeof *st);
    st->ncols = ncols;
    st->npair = ncols < CSV_PAIR_COLUMNS ? ncols : CSV_PAIR_COLUMNS;
    size_t np = st->npair;
    st->col = calloc(ncols ? ncols : 1, sizeof *st->col);
    st->pair = calloc(np > 0 ? np * np : 1, sizeof *st->pair);
    st->cur = calloc(np * 2 + 1, sizeof *st->cur);
    st->prev = calloc(np * 2 + 1, sizeof *st->prev);
    st->cur_ok = calloc(np + 1, 1);
    st->prev_ok = calloc(np + 1, 1);
    st->memo = calloc(ncols ? ncols : 1, sizeof *st->memo);
    st->first = calloc(np * 2 + 1, sizeof *st->first);
    st->first_ok = calloc(np + 1, 1);
    if (st->memo == NULL || st->first == NULL || st->first_ok == NULL || st->col == NULL || st->pair == NULL || st->cur == NULL || st->prev == NULL ||
        st->cur_ok == NULL || st->prev_ok == NULL) {
        csv_stats_free(st);
        return -1;
    }
    return 0;
}

void csv_stats_free(struct csv_stats *st)
{
    free(st->col);
    free(st->pair);
    free(st->cur);
    free(st->prev);
    free(st->cur_ok);
    free(st->prev_ok);
    free(st->memo);
    free(st->first);
    free(st->first_ok);
    memset(st, 0, sizeof *st);
}

static int th_index(char c)
{
    switch (c) {
    case ',': return 0;
    case '.': return 1;
    case '\'': return 2;
    case ' ': return 3;
    default: return -1;
    }
}

static long long llabs_(long long v)
{
    return v < 0 ? -v : v;
}

enum { OK_DOT = 1, OK_COMMA = 2, NONEMPTY = 4 };
#define PAIR_MAX 1000000000000000000LL   /* 10^18 */

static void classify(const char *s, size_t n, bool pair, struct cell_class *c)
{
    memset(c, 0, sizeof *c);
    c->ok = NONEMPTY;
    c->dates = csv_date_formats(s, n);
    struct csv_amount a;
    if (csv_amount_scan(s, n, &a) == 0) {
        c->scanned = true;
        c->negative = a.negative;
        csv_amount_classify(&a, &c->ni);
        /* bounded so that differences cannot overflow */
        if (pair && c->ni.ok_dot && csv_amount_value(&a, '.', c->ni.th_dot, 4, &c->value[0]) == 0 &&
            llabs_(c->value[0]) <= PAIR_MAX)
            c->ok |= OK_DOT;
        if (pair && c->ni.ok_comma && csv_amount_value(&a, ',', c->ni.th_comma, 4, &c->value[1]) == 0 &&
            llabs_(c->value[1]) <= PAIR_MAX)
            c->ok |= OK_COMMA;
    }
    c->text = c->dates == 0 && !c->ni.ok_dot && !c->ni.ok_comma && csv_has_letter(s, n);
    c->indicator = csv_indicator_sign(s, n) != 0;
    if (n == 3 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' && s[2] >= 'A' && s[2] <= 'Z') {
        c->code_valid = true;
        c->code_common = csv_is_common_currency(s, n);
    }
}

static void count(struct csv_colstat *cs, const struct cell_class *c, size_t n)
{
    cs->nonempty++;
    for (int f = 0; f < CSV_DATE_FORMAT_COUNT; f++)
        if (c->dates & (1u << f))
            cs->date_ok[f]++;
    if (c->scanned) {
        const struct csv_number_info *ni = &c->ni;
        if (ni->ok_dot) {
            cs->num_dot++;
            if (th_index(ni->th_dot) >= 0)
                cs->th_dot[th_index(ni->th_dot)]++;
        }
        if (ni->ok_comma) {
            cs->num_comma++;
            if (th_index(ni->th_comma) >= 0)
                cs->th_comma[th_index(ni->th_comma)]++;
        }
        cs->ev_dot += ni->evidence == CSV_EVIDENCE_DOT;
        cs->ev_comma += ni->evidence == CSV_EVIDENCE_COMMA;
        cs->hint_dot += ni->hint == CSV_EVIDENCE_DOT;
        cs->hint_comma += ni->hint == CSV_EVIDENCE_COMMA;
        if (ni->ok_dot || ni->ok_comma) {
            cs->frac += ni->frac;
            cs->neg += c->negative;
            cs->id_like += ni->id_like;
        }
    }
    if (c->text) {
        cs->text++;
        cs->text_bytes += (long)n;
    }
    cs->indicator += c->indicator;
    cs->code_valid += c->code_valid;
    cs->code_common += c->code_common;
}

/* Running-balance evidence from two consecutive rows: for each pair of
 * columns (a, b) and decimal separator, whether b moved by a's value of this
 * row (oldest first) or of the previous row (newest first). */
static void pair_moves(struct csv_stats *st, const long long *prev, const unsigned char *prev_ok,
                       const long long *cur, const unsigned char *cur_ok)
{
    for (size_t a = 0; a < st->npair; a++) {
        for (size_t b = 0; b < st->npair; b++) {
            if (a == b)
                continue;
            struct csv_pairstat *ps = &st->pair[a * st->npair + b];
            for (int d = 0; d < 2; d++) {
                unsigned char bit = d ? OK_COMMA : OK_DOT;
                if (!(cur_ok[a] & bit) || !(cur_ok[b] & bit) || !(prev_ok[a] & bit) || !(prev_ok[b] & bit))
                    continue;
                long long amount = cur[a * 2 + d], prev_amount = prev[a * 2 + d];
                long long moved = llabs_(cur[b * 2 + d] - prev[b * 2 + d]);
                ps->pairs[d]++;
                ps->fwd[d] += moved == llabs_(amount);
                ps->rev[d] += moved == llabs_(prev_amount);
            }
        }
    }
}

/* Both counter structs are all longs, added field by field in csv_stats_merge. */
_Static_assert(sizeof(struct csv_colstat) % sizeof(long) == 0, "csv_colstat holds longs only");
_Static_assert(sizeof(struct csv_pairstat) % sizeof(long) == 0, "csv_pairstat holds longs only");

static void add_longs(void *dst, const void *src, size_t bytes)
{
    long *d = dst;
    const long *s = src;
    for (size_t i = 0; i < bytes / sizeof(long); i++)
        d[i] += s[i];
}

void csv_stats_merge(struct csv_stats *st, const struct csv_stats *later)
{
    if (later->rows == 0)
        return;
    add_longs(st->col, later->col, st->ncols * sizeof *st->col);
    add_longs(st->pair, later->pair, st->npair * st->npair * sizeof *st->pair);
    if (st->have_prev)   /* the pair across the seam */
        pair_moves(st, st->prev, st->prev_ok, later->first, later->first_ok);
    else
        st->first_row_line = later->first_row_line;
    st->rows += later->rows;
    memcpy(st->prev, later->prev, st->npair * 2 * sizeof *st->prev);
    memcpy(st->prev_ok, later->prev_ok, st->npair);
    st->have_prev = true;
}

void csv_stats_add(struct csv_stats *st, const struct csv_reader *r)
{
    st->rows++;
    for (size_t i = 0; i < st->ncols; i++) {
        const char *s = csv_field(r, i);
        size_t n = csv_field_len(r, i);
        bool pair = i < st->npair;
        csv_trim(&s, &n);
        if (n == 0) {
            if (pair)
                st->cur_ok[i] = 0;
            continue;
        }
        struct csv_cellmemo *m = &st->memo[i];
        if (m->n != n || memcmp(m->text, s, n) != 0) {
            classify(s, n, pair, &m->c);
            m->n = n <= MEMO_BYTES ? n : 0;
            if (m->n != 0)
                memcpy(m->text, s, n);
        }
        count(&st->col[i], &m->c, n);
        if (pair) {
            st->cur_ok[i] = m->c.ok;
            st->cur[i * 2] = m->c.value[0];
            st->cur[i * 2 + 1] = m->c.value[1];
        }
    }
    for (size_t a = 0; a < st->npair; a++)
        for (size_t b = 0; b < st->npair; b++)
            if (a != b && (st->cur_ok[a] & NONEMPTY) && (st->cur_ok[b] & NONEMPTY))
                st->pair[a * st->npair + b].both++;
    if (st->have_prev) {
        pair_moves(st, st->prev, st->prev_ok, st->cur, st->cur_ok);
    } else {
        memcpy(st->first, st->cur, st->npair * 2 * sizeof *st->cur);
        memcpy(st->first_ok, st->cur_ok, st->npair);
    }
    memcpy(st->prev, st->cur, st->npair * 2 * sizeof *st->cur);
    memcpy(st->prev_ok, st->cur_ok, st->npair);
    st->have_prev = true;
}
