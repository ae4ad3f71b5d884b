/* rules.c: Crystal's answer without a model: deterministic text over the
 * analytics (summary, budget impact, forecast), the same figures the prompt
 * gives the model.  It is the answer whenever the model is not configured or
 * fails, so it never fails itself: each field is written into its fixed
 * buffer by a bounded builder that stops at a character boundary.  Pure;
 * tests/unit/check_advice.c. */
#include "advice.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A bounded string builder: appends stop (silently) at the end of the buffer,
 * which the callers size so that it never happens with bounded inputs. */
struct sb {
    char *p;
    size_t n, len;
};

static void sb_init(struct sb *b, char *p, size_t n)
{
    b->p = p;
    b->n = n;
    b->len = 0;
    if (n > 0)
        p[0] = '\0';
}

__attribute__((format(printf, 2, 3))) static void sb_add(struct sb *b, const char *fmt, ...)
{
    if (b->len + 1 >= b->n)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(b->p + b->len, b->n - b->len, fmt, ap);
    va_end(ap);
    if (w < 0)
        return;
    if ((size_t)w >= b->n - b->len) {
        b->len = si_utf8_cut(b->p, b->n - 1);   /* truncated: never leave half a character */
        b->p[b->len] = '\0';
    } else {
        b->len += (size_t)w;
    }
}

static void template_summary(const struct advice_analytics *a, struct sb *b)
{
    char period[96], m1[48], m2[48], pct[24], count[32];
    advice_format_period(a, period, sizeof period);
    if (a->spend <= 0) {
        sb_add(b, "No spending was recorded %s", period);
        if (a->income > 0) {
            advice_format_amount(a, a->income, m1, sizeof m1);
            sb_add(b, "; money in came to %s", m1);
        }
        sb_add(b, ".");
    } else {
        long long n = advice_spend_count(a);
        advice_format_amount(a, a->spend, m1, sizeof m1);
        advice_format_count(n, count, sizeof count);
        sb_add(b, "You spent %s across %s transaction%s %s.", m1, count, n == 1 ? "" : "s", period);
        size_t shown = 0;
        for (size_t i = 0; i < a->n_categories && shown < 3; i++) {
            const struct advice_category *c = &a->categories[i];
            if (c->spend <= 0)
                break;
            advice_format_amount(a, c->spend, m2, sizeof m2);
            if (shown == 0) {
                advice_format_pct(c->share_tenths, false, pct, sizeof pct);
                sb_add(b, " %s was the largest category at %s (%s of spending)", c->name, m2, pct);
            } else {
                sb_add(b, "%s %s (%s)", shown == 1 ? ", followed by" : " and", c->name, m2);
            }
            shown++;
        }
        if (shown > 0)
            sb_add(b, ".");
        if (a->n_merchants > 0) {
            advice_format_amount(a, a->merchants[0].spend, m2, sizeof m2);
            sb_add(b, " The largest payee was %s at %s.", a->merchants[0].name, m2);
        }
        if (a->income > 0) {
            advice_format_amount(a, a->income, m2, sizeof m2);
            sb_add(b, " Money in over the same period came to %s.", m2);
        }
    }
    if (a->other_currency_count > 0) {
        advice_format_count(a->other_currency_count, count, sizeof count);
        sb_add(b, " %s transaction%s in other currencies %s not included.", count,
               a->other_currency_count == 1 ? "" : "s", a->other_currency_count == 1 ? "is" : "are");
    }
}

static void template_budget(const struct advice_analytics *a, struct sb *b)
{
    char m1[48], m2[48], m3[48], pct[24];
    if (a->has_budgets) {
        size_t over[ADVICE_MAX_CATEGORIES], n_over = 0, budgeted = 0, closest = SIZE_MAX;
        long long closest_pct = -1;
        for (size_t i = 0; i < a->n_categories; i++) {
            const struct advice_category *c = &a->categories[i];
            if (c->budget <= 0)
                continue;
            budgeted++;
            if (c->monthly > c->budget) {
                size_t pos = n_over++;   /* keep them ordered by how far over */
                while (pos > 0 && a->categories[over[pos - 1]].monthly - a->categories[over[pos - 1]].budget <
                                      c->monthly - c->budget) {
                    over[pos] = over[pos - 1];
                    pos--;
                }
                over[pos] = i;
            }
            long long used;
            if (advice_pct_tenths(c->monthly, c->budget, &used) && used > closest_pct) {
                closest_pct = used;
                closest = i;
            }
        }
        if (n_over > 0) {
            for (size_t k = 0; k < n_over && k < 3; k++) {
                const struct advice_category *c = &a->categories[over[k]];
                advice_format_amount(a, c->monthly, m1, sizeof m1);
                advice_format_amount(a, c->budget, m2, sizeof m2);
                advice_format_amount(a, c->monthly - c->budget, m3, sizeof m3);
                if (k == 0)
                    sb_add(b, "At this pace %s would reach %s a month against its %s budget (%s over)", c->name, m1,
                           m2, m3);
                else
                    sb_add(b, "; %s would reach %s against %s (%s over)", c->name, m1, m2, m3);
            }
            if (n_over > 3)
                sb_add(b, "; %zu more categories are over budget too", n_over - 3);
            sb_add(b, ".");
            if (budgeted > n_over)
                sb_add(b, " The other %zu budgeted categor%s on track.", budgeted - n_over,
                       budgeted - n_over == 1 ? "y is" : "ies are");
        } else if (closest != SIZE_MAX) {
            const struct advice_category *c = &a->categories[closest];
            advice_format_pct(closest_pct, false, pct, sizeof pct);
            advice_format_amount(a, c->budget, m1, sizeof m1);
            sb_add(b, "%s on track; the closest to its limit is %s at %s of its %s monthly budget.",
                   budgeted == 1 ? "Your budgeted category is" : "All your budgeted categories are", c->name,
                   pct, m1);
        }
        return;
    }
    if (a->baseline > 0) {
        long long tenths = 0;
        char against[128];
        advice_format_amount(a, a->monthly, m1, sizeof m1);
        advice_format_amount(a, a->baseline, m2, sizeof m2);
        if (a->history_months == 1)
            snprintf(against, sizeof against, "the previous month (%s)", m2);
        else
            snprintf(against, sizeof against, "your average of %s over the previous %d months", m2,
                     a->history_months);
        if (advice_pct_tenths(a->monthly - a->baseline, a->baseline, &tenths) && llabs(tenths) >= 20) {
            advice_format_pct(llabs(tenths), false, pct, sizeof pct);
            sb_add(b, "Spending is running at %s a month, %s %s %s.", m1, pct, tenths > 0 ? "above" : "below",
                   against);
        } else {
            sb_add(b, "Spending is running at %s a month, in line with %s.", m1, against);
        }
        for (size_t k = 0; k < a->n_drivers; k++) {
            const struct advice_category *c = &a->categories[a->drivers[k]];
            long long change = c->monthly - c->baseline;
            advice_format_amount(a, llabs(change), m3, sizeof m3);
            sb_add(b, "%s %s (%s%s", k == 0 ? (a->n_drivers == 1 ? " The biggest change is" : " The biggest changes are")
                                            : (k + 1 == a->n_drivers ? " and" : ","),
                   c->name, change < 0 ? "-" : "+", m3);
            if (c->has_mom) {
                advice_format_pct(c->mom_tenths, true, pct, sizeof pct);
                sb_add(b, ", %s)", pct);
            } else {
                sb_add(b, ", new)");
            }
        }
        if (a->n_drivers > 0)
            sb_add(b, ".");
        return;
    }
    advice_format_amount(a, a->monthly, m1, sizeof m1);
    sb_add(b, "There are no budgets or earlier months to compare against yet, so this period's %s a month becomes "
              "your baseline.", m1);
}

static void template_forecast(const struct advice_analytics *a, struct sb *b)
{
    char m1[48], m2[48], m3[48], pct[24];
    if (a->spend <= 0) {
        sb_add(b, "With no spending in this period there is nothing to project yet.");
        return;
    }
    advice_format_amount(a, a->projection, m1, sizeof m1);
    advice_format_amount(a, advice_div_round(a->spend, a->period_days > 0 ? a->period_days : 1), m2, sizeof m2);
    sb_add(b, "At this pace next month's spending would be about %s (%s a day over %d days)", m1, m2,
           a->next_month_days);
    long long tenths;
    if (a->baseline > 0 && advice_pct_tenths(a->projection - a->baseline, a->baseline, &tenths)) {
        advice_format_amount(a, a->baseline, m3, sizeof m3);
        if (llabs(tenths) < 20) {
            sb_add(b, ", in line with your recent monthly average of %s.", m3);
        } else {
            advice_format_pct(llabs(tenths), false, pct, sizeof pct);
            sb_add(b, ", %s %s than your recent monthly average of %s.", pct, tenths > 0 ? "more" : "less", m3);
        }
    } else {
        sb_add(b, "; there is no earlier month to compare it with yet.");
    }
}

void advice_template(const struct advice_analytics *a, struct advice_text *out)
{
    struct sb b;
    sb_init(&b, out->summary, sizeof out->summary);
    template_summary(a, &b);
    sb_init(&b, out->budget_impact, sizeof out->budget_impact);
    template_budget(a, &b);
    sb_init(&b, out->forecast_delta, sizeof out->forecast_delta);
    template_forecast(a, &b);
}
