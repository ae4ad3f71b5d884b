/* csv_infer.c: csv_infer, which combines the user's override, the header names
 * (csv_vocab.c) and the column statistics (csv_stats.c) into a column mapping. */
#include "csv.h"

#include <stdlib.h>
#include <string.h>

static long best_date_count(const struct csv_colstat *cs, int *fmt)
{
    long best = 0;
    int bf = -1;
    for (int f = 0; f < CSV_DATE_FORMAT_COUNT; f++)
        if (cs->date_ok[f] > best) {
            best = cs->date_ok[f];
            bf = f;
        }
    if (fmt != NULL)
        *fmt = bf;
    return best;
}

static long num_count(const struct csv_colstat *cs)
{
    return cs->num_dot > cs->num_comma ? cs->num_dot : cs->num_comma;
}

static bool share(long part, long whole, int percent)
{
    return whole > 0 && part * 100 >= (long)percent * whole;
}

/* Whether column i's values fit a role its header named. */
static bool fits(const struct csv_stats *st, size_t i, enum csv_role role)
{
    const struct csv_colstat *cs = &st->col[i];
    switch (role) {
    case CSV_ROLE_DATE:
        return share(best_date_count(cs, NULL), cs->nonempty, CSV_MIN_ROLE_PERCENT);
    case CSV_ROLE_AMOUNT:
        return share(num_count(cs), cs->nonempty, CSV_MIN_ROLE_PERCENT);
    case CSV_ROLE_DEBIT:
    case CSV_ROLE_CREDIT:
    case CSV_ROLE_BALANCE:
        return cs->nonempty == 0 || share(num_count(cs), cs->nonempty, CSV_MIN_ROLE_PERCENT);
    case CSV_ROLE_INDICATOR:
        return share(cs->indicator, cs->nonempty, CSV_MIN_ROLE_PERCENT);
    case CSV_ROLE_CURRENCY:
        return cs->nonempty == 0 || share(cs->code_valid, cs->nonempty, CSV_MIN_ROLE_PERCENT);
    default:
        return true;
    }
}

struct infer {
    const struct csv_stats *st;
    const struct csv_override *ov;
    struct csv_mapping *m;
    bool *taken;
    enum csv_role *hrole;       /* role named by each column's header */
    int *hweight;
};

static void take(struct infer *in, enum csv_role role, int col)
{
    in->m->col[role] = col;
    if (col >= 0)
        in->taken[col] = true;
}

/* The free column whose header names `role`, heaviest first, whose values fit. */
static int header_pick(const struct infer *in, enum csv_role role)
{
    int best = -1;
    for (size_t i = 0; i < in->st->ncols; i++) {
        if (in->taken[i] || in->hrole[i] != role || !fits(in->st, i, role))
            continue;
        if (best < 0 || in->hweight[i] > in->hweight[best])
            best = (int)i;
    }
    return best;
}

static bool given(const struct infer *in, enum csv_role role)
{
    return in->ov != NULL && in->ov->has_col[role];
}

/* Running-balance relation: column b moves by column a's values. */
static bool balance_of(const struct csv_stats *st, int a, int b, int d, long *strength)
{
    if (a < 0 || b < 0 || (size_t)a >= st->npair || (size_t)b >= st->npair || a == b)
        return false;
    const struct csv_pairstat *ps = &st->pair[(size_t)a * st->npair + (size_t)b];
    long hits = ps->fwd[d] > ps->rev[d] ? ps->fwd[d] : ps->rev[d];
    if (strength != NULL)
        *strength = hits;
    return hits >= 2 && hits * 100 >= 60 * ps->pairs[d];
}

static char pick_thousands(const struct csv_stats *st, const struct csv_mapping *m)
{
    static const char seps[4] = { ',', '.', '\'', ' ' };
    long count[4] = { 0 };
    const enum csv_role money[] = { CSV_ROLE_AMOUNT, CSV_ROLE_DEBIT, CSV_ROLE_CREDIT,
                                    CSV_ROLE_BALANCE };
    for (size_t k = 0; k < sizeof money / sizeof money[0]; k++) {
        int c = m->col[money[k]];
        if (c < 0)
            continue;
        for (int t = 0; t < 4; t++)
            count[t] += m->decimal == ',' ? st->col[c].th_comma[t] : st->col[c].th_dot[t];
    }
    int best = -1;
    for (int t = 0; t < 4; t++)
        if (seps[t] != m->decimal && count[t] > 0 && (best < 0 || count[t] > count[best]))
            best = t;
    return best < 0 ? 0 : seps[best];
}

int csv_infer(const struct csv_infer_ctx *c, struct csv_mapping *m, struct stmt_error *err)
{
    const struct csv_stats *st = c->st;
    const struct csv_override *ov = c->ov;
    size_t ncols = st->ncols;
    int rc = -1;
    bool *taken = calloc(ncols + 1, sizeof *taken);
    enum csv_role *hrole = calloc(ncols + 1, sizeof *hrole);
    int *hweight = calloc(ncols + 1, sizeof *hweight);
    bool *cand = calloc(ncols + 1, sizeof *cand);
    if (taken == NULL || hrole == NULL || hweight == NULL || cand == NULL) {
        csv_set_error(err, 0, "out of memory");
        goto out;
    }
    struct infer in = { .st = st, .ov = ov, .m = m, .taken = taken, .hrole = hrole,
                        .hweight = hweight };
    *c->ambiguous_dates = false;
    for (int r = 0; r < CSV_ROLE_COUNT; r++)
        m->col[r] = -1;
    m->ndesc = 0;
    m->date_format = -1;
    m->decimal = '.';
    m->thousands = 0;
    m->negate = ov != NULL && ov->has_negate ? ov->negate : false;

    /* what the user fixed */
    if (ov != NULL) {
        for (int r = CSV_ROLE_DATE; r < CSV_ROLE_COUNT; r++)
            if (r != CSV_ROLE_DESCRIPTION && ov->has_col[r])
                take(&in, (enum csv_role)r, ov->col[r]);
        if (ov->has_desc) {
            for (size_t k = 0; k < ov->ndesc; k++) {
                m->desc[m->ndesc++] = ov->desc[k];
                taken[ov->desc[k]] = true;
            }
        }
    }

    /* what the header says */
    int en = 0, other = 0;
    for (size_t i = 0; c->names != NULL && i < ncols && i < json_array_size(c->names); i++) {
        const char *name = json_string_value(json_array_get(c->names, i));
        enum csv_lang lang;
        if (name == NULL)
            continue;
        hrole[i] = csv_header_role(name, strlen(name), &hweight[i], &lang);
        en += hrole[i] != CSV_ROLE_NONE && lang == CSV_LANG_EN;
        other += hrole[i] != CSV_ROLE_NONE && lang == CSV_LANG_OTHER;
    }
    bool non_english = other > en;

    /* the date */
    if (!given(&in, CSV_ROLE_DATE)) {
        int col = header_pick(&in, CSV_ROLE_DATE);
        if (col < 0) {
            long best = 0;
            for (size_t i = 0; i < ncols; i++) {
                long n = taken[i] ? 0 : best_date_count(&st->col[i], NULL);
                if (n > best) {
                    best = n;
                    col = (int)i;
                }
            }
            if (!share(best, st->rows, CSV_MIN_ROLE_PERCENT))
                col = -1;
        }
        take(&in, CSV_ROLE_DATE, col);
    }

    /* columns the header names (the money columns' values must be numbers) */
    const enum csv_role named[] = { CSV_ROLE_BALANCE, CSV_ROLE_CURRENCY, CSV_ROLE_REFERENCE,
                                    CSV_ROLE_AMOUNT, CSV_ROLE_DEBIT, CSV_ROLE_CREDIT,
                                    CSV_ROLE_COUNTERPARTY, CSV_ROLE_COUNTERPARTY_ACCOUNT };
    bool amount_fixed = given(&in, CSV_ROLE_AMOUNT);
    bool dc_fixed = given(&in, CSV_ROLE_DEBIT) || given(&in, CSV_ROLE_CREDIT);
    for (size_t k = 0; k < sizeof named / sizeof named[0]; k++) {
        enum csv_role r = named[k];
        if (given(&in, r))
            continue;
        if (r == CSV_ROLE_AMOUNT && (dc_fixed || m->col[CSV_ROLE_DEBIT] >= 0 ||
                                     m->col[CSV_ROLE_CREDIT] >= 0))
            continue;
        if ((r == CSV_ROLE_DEBIT || r == CSV_ROLE_CREDIT) &&
            (amount_fixed ? m->col[CSV_ROLE_AMOUNT] >= 0 : false))
            continue;
        take(&in, r, header_pick(&in, r));
    }
    /* a header with both "Amount" and "Debit"/"Credit": the signed amount wins */
    if (m->col[CSV_ROLE_AMOUNT] >= 0 && !dc_fixed) {
        for (int r = CSV_ROLE_DEBIT; r <= CSV_ROLE_CREDIT; r++) {
            if (m->col[r] >= 0) {
                taken[m->col[r]] = false;
                m->col[r] = -1;
            }
        }
    }

    /* number columns no header claims */
    bool have_money = m->col[CSV_ROLE_AMOUNT] >= 0 || m->col[CSV_ROLE_DEBIT] >= 0 ||
                      m->col[CSV_ROLE_CREDIT] >= 0;
    bool amount_none = amount_fixed && m->col[CSV_ROLE_AMOUNT] < 0;
    size_t ncand = 0;
    for (size_t i = 0; i < ncols; i++) {
        const struct csv_colstat *cs = &st->col[i];
        cand[i] = !taken[i] && cs->nonempty > 0 && hrole[i] == CSV_ROLE_NONE &&
                  share(num_count(cs), cs->nonempty, CSV_MIN_VALUE_PERCENT) &&
                  cs->id_like * 2 < cs->nonempty;
        ncand += cand[i];
    }

    /* the decimal separator: what the money columns' digits prove */
    if (ov != NULL && ov->has_decimal) {
        m->decimal = ov->decimal;
    } else {
        long dot = 0, comma = 0, hint_dot = 0, hint_comma = 0;
        bool named_money = false;
        for (int r = CSV_ROLE_AMOUNT; r <= CSV_ROLE_BALANCE; r++) {
            if (r == CSV_ROLE_INDICATOR || r == CSV_ROLE_CURRENCY || m->col[r] < 0)
                continue;
            const struct csv_colstat *cs = &st->col[m->col[r]];
            named_money = true;
            dot += cs->ev_dot;
            comma += cs->ev_comma;
            hint_dot += cs->hint_dot;
            hint_comma += cs->hint_comma;
        }
        for (size_t i = 0; !named_money && i < ncols; i++) {
            if (cand[i]) {
                dot += st->col[i].ev_dot;
                comma += st->col[i].ev_comma;
                hint_dot += st->col[i].hint_dot;
                hint_comma += st->col[i].hint_comma;
            }
        }
        if (comma == dot) {   /* nothing proven: what the digit groups suggest */
            comma = hint_comma;
            dot = hint_dot;
        }
        int df = -1;
        if (m->col[CSV_ROLE_DATE] >= 0)
            best_date_count(&st->col[m->col[CSV_ROLE_DATE]], &df);
        if (comma != dot)
            m->decimal = comma > dot ? ',' : '.';
        else
            m->decimal = (non_english || m->delimiter == ';' || df == CSV_DATE_DMY_DOT ||
                          df == CSV_DATE_DMY_DOT_YY) ? ',' : '.';
    }
    int d = m->decimal == ',' ? 1 : 0;

    /* the amount from the values: a running balance is never the amount */
    if (!have_money && !dc_fixed && ncand > 0) {
        int amount = -1, balance = -1;
        long strongest = 0;
        for (size_t a = 0; a < ncols && a < st->npair; a++) {
            for (size_t b = 0; b < ncols && b < st->npair; b++) {
                long s;
                int want_b = m->col[CSV_ROLE_BALANCE];
                if (!cand[a] || (want_b >= 0 ? (int)b != want_b : !cand[b]))
                    continue;
                if (balance_of(st, (int)a, (int)b, d, &s) && s > strongest) {
                    strongest = s;
                    amount = (int)a;
                    balance = (int)b;
                }
            }
        }
        if (amount >= 0 && !amount_none) {
            take(&in, CSV_ROLE_AMOUNT, amount);
            if (m->col[CSV_ROLE_BALANCE] < 0 && !given(&in, CSV_ROLE_BALANCE))
                take(&in, CSV_ROLE_BALANCE, balance);
            cand[amount] = cand[balance] = false;
        } else {
            /* two half-empty columns that take turns: debit (left) and credit */
            for (size_t a = 0; a < st->npair && m->col[CSV_ROLE_DEBIT] < 0; a++) {
                for (size_t b = a + 1; b < st->npair; b++) {
                    const struct csv_colstat *ca = &st->col[a], *cb = &st->col[b];
                    if (!cand[a] || !cand[b] || ca->nonempty >= st->rows || cb->nonempty >= st->rows)
                        continue;
                    long both = st->pair[a * st->npair + b].both;
                    if (both * 10 <= st->rows && (ca->nonempty + cb->nonempty) * 10 >= 9 * st->rows) {
                        take(&in, CSV_ROLE_DEBIT, (int)a);
                        take(&in, CSV_ROLE_CREDIT, (int)b);
                        break;
                    }
                }
            }
            if (m->col[CSV_ROLE_DEBIT] < 0 && !amount_none) {
                int best = -1, best_score = -1;
                for (size_t i = 0; i < ncols; i++) {
                    if (!cand[i] || (int)i == m->col[CSV_ROLE_BALANCE])
                        continue;
                    const struct csv_colstat *cs = &st->col[i];
                    int score = (cs->neg > 0) * 4 + (cs->frac > 0) * 2 + (cs->nonempty == st->rows);
                    if (score > best_score) {
                        best_score = score;
                        best = (int)i;
                    }
                }
                take(&in, CSV_ROLE_AMOUNT, best);
            }
        }
    }

    /* an unsigned amount with a DR/CR column (from its values only when the
     * amounts carry no sign themselves: a "cleared" column of C's is not one) */
    if (m->col[CSV_ROLE_AMOUNT] >= 0 && !given(&in, CSV_ROLE_INDICATOR)) {
        int col = header_pick(&in, CSV_ROLE_INDICATOR);
        bool unsigned_amounts = st->col[m->col[CSV_ROLE_AMOUNT]].neg == 0;
        for (size_t i = 0; col < 0 && unsigned_amounts && i < ncols; i++) {
            const struct csv_colstat *cs = &st->col[i];
            if (!taken[i] && hrole[i] == CSV_ROLE_NONE && cs->nonempty * 2 >= st->rows &&
                share(cs->indicator, cs->nonempty, CSV_MIN_VALUE_PERCENT))
                col = (int)i;
        }
        take(&in, CSV_ROLE_INDICATOR, col);
    }
    /* a currency column from its values */
    if (m->col[CSV_ROLE_CURRENCY] < 0 && !given(&in, CSV_ROLE_CURRENCY)) {
        for (size_t i = 0; i < ncols; i++) {
            const struct csv_colstat *cs = &st->col[i];
            if (!taken[i] && share(cs->code_common, cs->nonempty, CSV_MIN_VALUE_PERCENT)) {
                take(&in, CSV_ROLE_CURRENCY, (int)i);
                break;
            }
        }
    }
    /* descriptions: every column the header calls text (and a second column naming
     * the other party: the counterparty is one column), else the wordiest column;
     * none: the parser describes the row by its counterparty */
    if (ov == NULL || !ov->has_desc) {
        for (size_t i = 0; i < ncols && m->ndesc < CSV_MAX_DESC_COLUMNS; i++) {
            if (!taken[i] && (hrole[i] == CSV_ROLE_DESCRIPTION || hrole[i] == CSV_ROLE_COUNTERPARTY)) {
                m->desc[m->ndesc++] = (int)i;
                taken[i] = true;
            }
        }
        if (m->ndesc == 0) {
            int best = -1;
            for (size_t i = 0; i < ncols; i++) {
                const struct csv_colstat *cs = &st->col[i];
                if (taken[i] || cs->text == 0 || cs->text * 2 < cs->nonempty)
                    continue;
                if (best < 0 || cs->text_bytes > st->col[best].text_bytes)
                    best = (int)i;
            }
            if (best >= 0) {
                m->desc[m->ndesc++] = best;
                taken[best] = true;
            }
        }
    }

    if (ov == NULL || !ov->has_thousands)
        m->thousands = pick_thousands(st, m);
    else
        m->thousands = ov->thousands;

    /* the date format, decided over the whole column */
    if (ov != NULL && ov->has_date_format) {
        m->date_format = ov->date_format;
    } else if (m->col[CSV_ROLE_DATE] >= 0) {
        const struct csv_colstat *cs = &st->col[m->col[CSV_ROLE_DATE]];
        int f;
        best_date_count(cs, &f);
        int other_order = csv_date_format_swap(f);
        if (f >= 0 && other_order >= 0 && cs->date_ok[other_order] == cs->date_ok[f]) {
            bool day_first = ov != NULL && ov->has_day_first ? ov->day_first : m->decimal == ',' || non_english;
            bool f_day_first = f == CSV_DATE_DMY_SLASH || f == CSV_DATE_DMY_DASH ||
                               f == CSV_DATE_DMY_SLASH_YY || f == CSV_DATE_DMY_DASH_YY;
            if (day_first != f_day_first)
                f = other_order;
            *c->ambiguous_dates = true;
        }
        m->date_format = f;
    }

    if (m->col[CSV_ROLE_DATE] < 0) {
        csv_set_error(err, 0, "no column with dates was found");
        goto out;
    }
    if (m->col[CSV_ROLE_AMOUNT] < 0 && m->col[CSV_ROLE_DEBIT] < 0 && m->col[CSV_ROLE_CREDIT] < 0) {
        csv_set_error(err, 0, "no column with amounts was found");
        goto out;
    }
    rc = 0;
out:
    free(taken);
    free(hrole);
    free(hweight);
    free(cand);
    return rc;
}
