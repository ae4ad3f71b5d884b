/* derive.c: the analytics' derived figures, from the loaded ones: category
 * rows (folded into "Other" past the limit), saturating money sums, run-rates,
 * shares, month-over-month changes, the drivers and the projection; and the
 * integer rounding they use.  Money is integer minor units; percentages are
 * integer tenths of a percent, rounded half away from zero.  No floating
 * point touches money.  Pure; tests/unit/check_advice.c. */
#include "advice.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long long advice_div_round(long long num, long long den)
{
    if (den <= 0)
        return 0;
    long long q = num / den, r = num % den;
    long long ar = r < 0 ? -r : r;
    if (ar >= den - ar)
        q += num < 0 ? -1 : 1;
    return q;
}

bool advice_pct_tenths(long long num, long long den, long long *out)
{
    if (den <= 0)
        return false;
    if (num > LLONG_MAX / 1000 || num < -(LLONG_MAX / 1000))
        *out = advice_div_round(num, den) * 1000;   /* absurd sizes: coarser, never overflowing */
    else
        *out = advice_div_round(num * 1000, den);
    return true;
}

long long advice_money_clamp(long long v)
{
    return v > ADVICE_MONEY_MAX ? ADVICE_MONEY_MAX : v < -ADVICE_MONEY_MAX ? -ADVICE_MONEY_MAX : v;
}

long long advice_money_add(long long a, long long b)
{
    long long sum;
    if (__builtin_add_overflow(a, b, &sum))
        return b > 0 ? ADVICE_MONEY_MAX : -ADVICE_MONEY_MAX;
    return advice_money_clamp(sum);
}

void advice_add_category(struct advice_analytics *a, const char *name, long long spend, long long count,
                         long long history, long long budget)
{
    char masked[ADVICE_NAME_MAX];
    si_mask_digits(name != NULL && name[0] ? name : "Uncategorized", masked, sizeof masked);
    struct advice_category *c = NULL;
    for (size_t i = 0; i < a->n_categories; i++)
        if (strcmp(a->categories[i].name, masked) == 0)
            c = &a->categories[i];
    if (c == NULL && a->n_categories + 1 < ADVICE_MAX_CATEGORIES) {
        c = &a->categories[a->n_categories++];
        memset(c, 0, sizeof *c);
        si_copy_utf8(c->name, sizeof c->name, masked);
        c->budget = -1;
    }
    if (c == NULL) {   /* the last slot holds "Other": everything past the first rows */
        for (size_t i = 0; i < a->n_categories; i++)
            if (strcmp(a->categories[i].name, "Other") == 0)
                c = &a->categories[i];
        if (c == NULL) {
            c = &a->categories[a->n_categories++];
            memset(c, 0, sizeof *c);
            snprintf(c->name, sizeof c->name, "Other");
            c->budget = -1;
        }
        budget = -1;   /* a folded category's budget cannot be compared any more */
    }
    c->spend = advice_money_add(c->spend, spend);
    c->count += count;
    c->history = advice_money_add(c->history, history);
    if (budget > 0)
        c->budget = advice_money_clamp(budget);
}

static int by_spend(const void *pa, const void *pb)
{
    const struct advice_category *x = pa, *y = pb;
    if (x->spend != y->spend)
        return x->spend > y->spend ? -1 : 1;
    if (x->history != y->history)
        return x->history > y->history ? -1 : 1;
    return strcmp(x->name, y->name);
}

void advice_derive(struct advice_analytics *a)
{
    qsort(a->categories, a->n_categories, sizeof a->categories[0], by_spend);
    int days = a->period_days > 0 ? a->period_days : 1;
    long long history = 0;
    a->spend = 0;
    a->has_budgets = false;
    for (size_t i = 0; i < a->n_categories; i++) {
        a->spend = advice_money_add(a->spend, a->categories[i].spend);
        history = advice_money_add(history, a->categories[i].history);
        if (a->categories[i].budget > 0)
            a->has_budgets = true;
    }
    /* Run-rate: the period's spend scaled to the month the period ends in, so
     * a full calendar-month statement is compared as it is and a 10-day one is
     * scaled up (spend x days-in-month / period days). */
    a->monthly = advice_div_round(a->spend * a->month_days, days);
    a->baseline = a->history_months > 0 ? advice_div_round(history, a->history_months) : -1;
    /* Projection for next month: average daily spend over the period x the
     * number of days in the month after the period's end. */
    a->projection = advice_div_round(a->spend * a->next_month_days, days);
    for (size_t i = 0; i < a->n_categories; i++) {
        struct advice_category *c = &a->categories[i];
        c->monthly = advice_div_round(c->spend * a->month_days, days);
        c->baseline = a->history_months > 0 ? advice_div_round(c->history, a->history_months) : -1;
        if (!advice_pct_tenths(c->spend, a->spend, &c->share_tenths))
            c->share_tenths = 0;
        c->has_mom = c->baseline > 0 && advice_pct_tenths(c->monthly - c->baseline, c->baseline, &c->mom_tenths);
    }
    /* Drivers: the categories whose monthly spend moved most against their
     * baseline (in money, not percent, so a small category doubling does not
     * outrank a large one growing). */
    a->n_drivers = 0;
    if (a->history_months > 0) {
        for (size_t i = 0; i < a->n_categories; i++) {
            const struct advice_category *c = &a->categories[i];
            long long change = llabs(c->monthly - c->baseline);
            if (change == 0)
                continue;
            size_t pos = a->n_drivers;
            while (pos > 0) {
                const struct advice_category *p = &a->categories[a->drivers[pos - 1]];
                if (llabs(p->monthly - p->baseline) >= change)
                    break;
                pos--;
            }
            if (pos >= ADVICE_MAX_DRIVERS)
                continue;
            size_t last = a->n_drivers < ADVICE_MAX_DRIVERS ? a->n_drivers : ADVICE_MAX_DRIVERS - 1;
            for (size_t k = last; k > pos; k--)
                a->drivers[k] = a->drivers[k - 1];
            a->drivers[pos] = i;
            if (a->n_drivers < ADVICE_MAX_DRIVERS)
                a->n_drivers++;
        }
    }
}
