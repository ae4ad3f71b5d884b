/* text.c: the pure part of Crystal: masking, money, percentages, the rules
 * template, the model prompt and the validation of the model's reply.
 * Nothing here touches the network or the database, so all of it is unit
 * tested (tests/unit/check_advice.c).
 *
 * Money is integer minor units throughout; percentages are integer tenths of
 * a percent, rounded half away from zero.  No floating point touches money. */
#include "advice.h"
#include "stmt_util.h"

#include <limits.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- strings ---------------------------------------------------------------- */

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* The length of the longest prefix of s[0..len) that does not end inside a
 * multi-byte UTF-8 character. */
static size_t utf8_cut(const char *s, size_t len)
{
    size_t i = len, cont = 0;
    while (i > 0 && cont < 3 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) {
        i--;
        cont++;
    }
    if (i == 0)
        return 0;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t need;
    if (lead < 0x80)
        return cont == 0 ? len : i;   /* stray continuation bytes after ASCII: drop them */
    else if ((lead & 0xE0) == 0xC0)
        need = 2;
    else if ((lead & 0xF0) == 0xE0)
        need = 3;
    else if ((lead & 0xF8) == 0xF0)
        need = 4;
    else
        return i - 1;
    return cont + 1 == need ? len : i - 1;
}

void advice_copy_utf8(char *dst, size_t n, const char *src)
{
    if (n == 0)
        return;
    size_t len = strlen(src);
    if (len >= n)
        len = utf8_cut(src, n - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* The digit run starting at s[0] (a digit): its length in bytes and its
 * number of digits.  Single ' ' or '-' between two digits belong to it. */
static size_t digit_run(const char *s, size_t *digits)
{
    size_t i = 0, d = 0;
    for (;;) {
        if (is_digit(s[i])) {
            d++;
            i++;
        } else if ((s[i] == ' ' || s[i] == '-') && i > 0 && is_digit(s[i - 1]) && is_digit(s[i + 1])) {
            i++;
        } else {
            break;
        }
    }
    *digits = d;
    return i;
}

char *advice_mask_digits(const char *in, char *out, size_t n)
{
    if (n == 0)
        return out;
    size_t o = 0;
    for (size_t i = 0; in[i] != '\0' && o + 1 < n;) {
        if (!is_digit(in[i])) {
            out[o++] = in[i++];
            continue;
        }
        size_t digits, len = digit_run(in + i, &digits), seen = 0;
        for (size_t k = 0; k < len && o + 1 < n; k++) {
            char c = in[i + k];
            if (is_digit(c)) {
                seen++;
                if (digits >= 6 && seen + 4 <= digits)
                    c = '*';
            }
            out[o++] = c;
        }
        i += len;
    }
    out[utf8_cut(out, o)] = '\0';
    return out;
}

bool advice_has_digit_run(const char *s)
{
    for (size_t i = 0; s[i] != '\0';) {
        if (!is_digit(s[i])) {
            i++;
            continue;
        }
        size_t digits, len = digit_run(s + i, &digits);
        if (digits >= 6)
            return true;
        i += len;
    }
    return false;
}

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
        b->len = utf8_cut(b->p, b->n - 1);   /* truncated: never leave half a character */
        b->p[b->len] = '\0';
    } else {
        b->len += (size_t)w;
    }
}

/* ---- numbers ---------------------------------------------------------------- */

int advice_currency_exponent(const char *currency)
{
    return stmt_currency_exponent(currency != NULL && strlen(currency) == 3 ? currency : NULL);
}

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

void advice_format_pct(long long tenths, bool with_sign, char *out, size_t n)
{
    unsigned long long a = tenths < 0 ? 0ULL - (unsigned long long)tenths : (unsigned long long)tenths;
    const char *sign = tenths < 0 ? "-" : (with_sign && tenths > 0 ? "+" : "");
    snprintf(out, n, "%s%llu.%llu%%", sign, a / 10, a % 10);
}

/* Digits of v grouped in threes with commas. */
static void group_thousands(unsigned long long v, char *out, size_t n)
{
    char rev[40];
    size_t k = 0, d = 0;
    do {
        if (d > 0 && d % 3 == 0)
            rev[k++] = ',';
        rev[k++] = (char)('0' + v % 10);
        v /= 10;
        d++;
    } while (v > 0 && k + 2 < sizeof rev);
    size_t o = 0;
    while (k > 0 && o + 1 < n)
        out[o++] = rev[--k];
    out[o] = '\0';
}

void advice_format_money(long long minor, const char *currency, char *out, size_t n)
{
    static const struct { const char *code, *symbol; } symbols[] = {
        { "USD", "$" }, { "EUR", "\xE2\x82\xAC" }, { "GBP", "\xC2\xA3" }, { "JPY", "\xC2\xA5" },
    };
    const char *code = currency != NULL ? currency : "";
    int exp = advice_currency_exponent(code);
    unsigned long long v = minor < 0 ? 0ULL - (unsigned long long)minor : (unsigned long long)minor;
    unsigned long long div = exp == 0 ? 1 : exp == 3 ? 1000 : 100;
    char whole[40], number[48];
    group_thousands(v / div, whole, sizeof whole);
    if (exp == 0)
        snprintf(number, sizeof number, "%s", whole);
    else
        snprintf(number, sizeof number, "%s.%0*llu", whole, exp, v % div);
    const char *sign = minor < 0 ? "-" : "";
    for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++)
        if (strcmp(code, symbols[i].code) == 0) {
            snprintf(out, n, "%s%s%s", sign, symbols[i].symbol, number);
            return;
        }
    snprintf(out, n, "%s%s %s", sign, number, code[0] ? code : "XXX");
}

static void format_count(long long v, char *out, size_t n)
{
    group_thousands(v < 0 ? 0 : (unsigned long long)v, out, n);
}

/* ---- dates ---------------------------------------------------------------------- */

static const char *month_name(int m)
{
    static const char *names[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    return m >= 1 && m <= 12 ? names[m - 1] : "?";
}

/* "between Mar 1 and Mar 31, 2024", "on Mar 1, 2024",
 * "between Dec 15, 2023 and Jan 14, 2024".  No digit runs: dates in this
 * form pass the masker untouched. */
static void format_period(const struct advice_analytics *a, char *out, size_t n)
{
    if (a->from_y == a->to_y && a->from_m == a->to_m && a->from_d == a->to_d)
        snprintf(out, n, "on %s %d, %d", month_name(a->to_m), a->to_d, a->to_y);
    else if (a->from_y == a->to_y)
        snprintf(out, n, "between %s %d and %s %d, %d", month_name(a->from_m), a->from_d, month_name(a->to_m),
                 a->to_d, a->to_y);
    else
        snprintf(out, n, "between %s %d, %d and %s %d, %d", month_name(a->from_m), a->from_d, a->from_y,
                 month_name(a->to_m), a->to_d, a->to_y);
}

/* ---- the analytics' derived figures --------------------------------------------- */

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
    advice_mask_digits(name != NULL && name[0] ? name : "Uncategorized", masked, sizeof masked);
    struct advice_category *c = NULL;
    for (size_t i = 0; i < a->n_categories; i++)
        if (strcmp(a->categories[i].name, masked) == 0)
            c = &a->categories[i];
    if (c == NULL && a->n_categories + 1 < ADVICE_MAX_CATEGORIES) {
        c = &a->categories[a->n_categories++];
        memset(c, 0, sizeof *c);
        advice_copy_utf8(c->name, sizeof c->name, masked);
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

static long long labs_ll(long long v) { return v < 0 ? -v : v; }

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
            long long change = labs_ll(c->monthly - c->baseline);
            if (change == 0)
                continue;
            size_t pos = a->n_drivers;
            while (pos > 0) {
                const struct advice_category *p = &a->categories[a->drivers[pos - 1]];
                if (labs_ll(p->monthly - p->baseline) >= change)
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

/* ---- the rules template ------------------------------------------------------------ */

static void money(const struct advice_analytics *a, long long v, char *out, size_t n)
{
    advice_format_money(v, a->currency, out, n);
}

static long long spend_count(const struct advice_analytics *a)
{
    long long n = 0;
    for (size_t i = 0; i < a->n_categories; i++)
        n += a->categories[i].count;
    return n;
}

static void template_summary(const struct advice_analytics *a, struct sb *b)
{
    char period[96], m1[48], m2[48], pct[24], count[32];
    format_period(a, period, sizeof period);
    if (a->spend <= 0) {
        sb_add(b, "No spending was recorded %s", period);
        if (a->income > 0) {
            money(a, a->income, m1, sizeof m1);
            sb_add(b, "; money in came to %s", m1);
        }
        sb_add(b, ".");
    } else {
        long long n = spend_count(a);
        money(a, a->spend, m1, sizeof m1);
        format_count(n, count, sizeof count);
        sb_add(b, "You spent %s across %s transaction%s %s.", m1, count, n == 1 ? "" : "s", period);
        size_t shown = 0;
        for (size_t i = 0; i < a->n_categories && shown < 3; i++) {
            const struct advice_category *c = &a->categories[i];
            if (c->spend <= 0)
                break;
            money(a, c->spend, m2, sizeof m2);
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
            money(a, a->merchants[0].spend, m2, sizeof m2);
            sb_add(b, " The largest payee was %s at %s.", a->merchants[0].name, m2);
        }
        if (a->income > 0) {
            money(a, a->income, m2, sizeof m2);
            sb_add(b, " Money in over the same period came to %s.", m2);
        }
    }
    if (a->other_currency_count > 0) {
        format_count(a->other_currency_count, count, sizeof count);
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
                money(a, c->monthly, m1, sizeof m1);
                money(a, c->budget, m2, sizeof m2);
                money(a, c->monthly - c->budget, m3, sizeof m3);
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
            money(a, c->budget, m1, sizeof m1);
            sb_add(b, "%s on track; the closest to its limit is %s at %s of its %s monthly budget.",
                   budgeted == 1 ? "Your budgeted category is" : "All your budgeted categories are", c->name,
                   pct, m1);
        }
        return;
    }
    if (a->baseline > 0) {
        long long tenths = 0;
        char against[128];
        money(a, a->monthly, m1, sizeof m1);
        money(a, a->baseline, m2, sizeof m2);
        if (a->history_months == 1)
            snprintf(against, sizeof against, "the previous month (%s)", m2);
        else
            snprintf(against, sizeof against, "your average of %s over the previous %d months", m2,
                     a->history_months);
        if (advice_pct_tenths(a->monthly - a->baseline, a->baseline, &tenths) && labs_ll(tenths) >= 20) {
            advice_format_pct(labs_ll(tenths), false, pct, sizeof pct);
            sb_add(b, "Spending is running at %s a month, %s %s %s.", m1, pct, tenths > 0 ? "above" : "below",
                   against);
        } else {
            sb_add(b, "Spending is running at %s a month, in line with %s.", m1, against);
        }
        for (size_t k = 0; k < a->n_drivers; k++) {
            const struct advice_category *c = &a->categories[a->drivers[k]];
            long long change = c->monthly - c->baseline;
            money(a, labs_ll(change), m3, sizeof m3);
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
    money(a, a->monthly, m1, sizeof m1);
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
    money(a, a->projection, m1, sizeof m1);
    money(a, advice_div_round(a->spend, a->period_days > 0 ? a->period_days : 1), m2, sizeof m2);
    sb_add(b, "At this pace next month's spending would be about %s (%s a day over %d days)", m1, m2,
           a->next_month_days);
    long long tenths;
    if (a->baseline > 0 && advice_pct_tenths(a->projection - a->baseline, a->baseline, &tenths)) {
        money(a, a->baseline, m3, sizeof m3);
        if (labs_ll(tenths) < 20) {
            sb_add(b, ", in line with your recent monthly average of %s.", m3);
        } else {
            advice_format_pct(labs_ll(tenths), false, pct, sizeof pct);
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

/* ---- the prompt ---------------------------------------------------------------------- */

static const char system_prompt[] =
    "You are Crystal, a careful personal-finance analyst. You receive figures that were already computed "
    "from the user's bank transactions for one imported statement. Use only these figures; never invent "
    "numbers, merchants or accounts. Write plainly to the user (\"you\"), in English, without markdown. "
    "Answer with a JSON object with exactly these three string keys and nothing else: "
    "\"summary\" (two or three sentences on where the money went), "
    "\"budgetImpact\" (one or two sentences on budgets, or on the change against earlier months when there "
    "are no budgets), \"forecastDelta\" (one sentence on next month's projection and how it compares). "
    "Each value at most 400 characters.";

static json_t *money_json(const struct advice_analytics *a, long long v)
{
    char m[48];
    money(a, v, m, sizeof m);
    return json_string(m);
}

static json_t *pct_json(long long tenths, bool with_sign)
{
    char p[24];
    advice_format_pct(tenths, with_sign, p, sizeof p);
    return json_string(p);
}

/* Counts as text with thousands separators, so that no number in the prompt
 * is a run of 6+ digits. */
static json_t *count_json(long long v)
{
    char c[32];
    format_count(v, c, sizeof c);
    return json_string(c);
}

static json_t *prompt_facts(const struct advice_analytics *a)
{
    char period[96];
    format_period(a, period, sizeof period);
    json_t *cats = json_array(), *drivers = json_array(), *merchants = json_array();
    json_t *facts = json_object();
    if (cats == NULL || drivers == NULL || merchants == NULL || facts == NULL)
        goto fail;
    for (size_t i = 0; i < a->n_categories; i++) {
        const struct advice_category *c = &a->categories[i];
        json_t *o = json_object();
        if (o == NULL || json_array_append_new(cats, o) != 0)
            goto fail;
        json_object_set_new(o, "name", json_string(c->name));
        json_object_set_new(o, "spend", money_json(a, c->spend));
        json_object_set_new(o, "share", pct_json(c->share_tenths, false));
        if (a->history_months > 0)
            json_object_set_new(o, "vsEarlierMonths", c->has_mom ? pct_json(c->mom_tenths, true) : json_string("new"));
        if (c->budget > 0) {
            json_object_set_new(o, "monthlyBudget", money_json(a, c->budget));
            json_object_set_new(o, "monthlyRunRate", money_json(a, c->monthly));
        }
    }
    for (size_t k = 0; k < a->n_drivers; k++) {
        const struct advice_category *c = &a->categories[a->drivers[k]];
        json_t *o = json_object();
        if (o == NULL || json_array_append_new(drivers, o) != 0)
            goto fail;
        json_object_set_new(o, "name", json_string(c->name));
        char change[48], signed_change[56];
        money(a, c->monthly - c->baseline, change, sizeof change);
        snprintf(signed_change, sizeof signed_change, "%s%s", c->monthly > c->baseline ? "+" : "", change);
        json_object_set_new(o, "monthlyChange", json_string(signed_change));
        json_object_set_new(o, "change", c->has_mom ? pct_json(c->mom_tenths, true) : json_string("new"));
    }
    for (size_t k = 0; k < a->n_merchants; k++) {
        json_t *o = json_object();
        if (o == NULL || json_array_append_new(merchants, o) != 0)
            goto fail;
        json_object_set_new(o, "name", json_string(a->merchants[k].name));
        json_object_set_new(o, "spend", money_json(a, a->merchants[k].spend));
        json_object_set_new(o, "transactions", count_json(a->merchants[k].count));
    }
    json_object_set_new(facts, "period", json_string(period));
    json_object_set_new(facts, "periodDays", count_json(a->period_days));
    json_object_set_new(facts, "currency", json_string(a->currency));
    json_object_set_new(facts, "spendingTransactions", count_json(spend_count(a)));
    json_object_set_new(facts, "totalSpend", money_json(a, a->spend));
    json_object_set_new(facts, "moneyIn", money_json(a, a->income));
    json_object_set_new(facts, "monthlyRunRate", money_json(a, a->monthly));
    json_object_set_new(facts, "earlierMonthsCompared", count_json(a->history_months));
    if (a->baseline >= 0)
        json_object_set_new(facts, "earlierMonthlyAverage", money_json(a, a->baseline));
    json_object_set_new(facts, "hasBudgets", json_boolean(a->has_budgets));
    json_object_set_new(facts, "categories", cats);
    json_object_set_new(facts, "topDrivers", drivers);
    json_object_set_new(facts, "topMerchants", merchants);
    json_object_set_new(facts, "nextMonthProjection", money_json(a, a->projection));
    json_object_set_new(facts, "projectionMethod", json_string("average daily spend in the period times the days "
                                                               "of next month"));
    return facts;
fail:
    json_decref(cats);
    json_decref(drivers);
    json_decref(merchants);
    json_decref(facts);
    return NULL;
}

char *advice_prompt(const struct advice_analytics *a, const char *model)
{
    json_t *facts = prompt_facts(a), *body = NULL;
    char *facts_text = NULL, *user = NULL, *text = NULL;
    if (facts == NULL)
        return NULL;
    facts_text = json_dumps(facts, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (facts_text == NULL)
        goto out;
    static const char intro[] = "Figures for the statement the user just imported:\n";
    size_t n = sizeof intro + strlen(facts_text);
    user = malloc(n);
    if (user == NULL)
        goto out;
    snprintf(user, n, "%s%s", intro, facts_text);
    /* Everything user-derived was masked when loaded; this pass is the last
     * line: nothing with a run of 6+ digits leaves the system. */
    advice_mask_digits(user, user, n);
    if (advice_has_digit_run(user))   /* cannot happen after the pass above; never send it if it does */
        goto out;
    body = json_pack("{s:s, s:f, s:i, s:{s:s}, s:[{s:s, s:s}, {s:s, s:s}]}", "model", model, "temperature", 0.2,
                     "max_tokens", 700, "response_format", "type", "json_object", "messages", "role", "system",
                     "content", system_prompt, "role", "user", "content", user);
    if (body != NULL)
        text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
out:
    free(user);
    free(facts_text);
    json_decref(body);
    json_decref(facts);
    return text;
}

/* ---- the reply ------------------------------------------------------------------------- */

/* Copies a model string: control characters and runs of whitespace become
 * one space, ends trimmed.  -1 (and *reason) when empty or too long. */
static int copy_field(const char *s, char *out, const char **reason)
{
    size_t o = 0;
    bool space = false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == ' ' || *p == 0x7F) {
            space = o > 0;
            continue;
        }
        if (o + (space ? 2 : 1) > ADVICE_TEXT_MAX) {
            *reason = "too_long";
            return -1;
        }
        if (space)
            out[o++] = ' ';
        space = false;
        out[o++] = (char)*p;
    }
    out[o] = '\0';
    if (o == 0) {
        *reason = "empty_value";
        return -1;
    }
    return 0;
}

int advice_parse_reply(const char *content, size_t len, struct advice_text *out, const char **reason)
{
    static const char *keys[] = { "summary", "budgetImpact", "forecastDelta" };
    char *fields[] = { out->summary, out->budget_impact, out->forecast_delta };
    json_error_t jerr;
    int rc = -1;
    if (len == 0 || len > 4 * ADVICE_TEXT_MAX + 1024) {
        *reason = len == 0 ? "empty_reply" : "too_long";
        return -1;
    }
    json_t *o = json_loadb(content, len, JSON_REJECT_DUPLICATES, &jerr);
    if (o == NULL || !json_is_object(o)) {
        *reason = "bad_json";
        goto out;
    }
    if (json_object_size(o) != 3) {
        *reason = "wrong_keys";
        goto out;
    }
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(o, keys[i]);
        if (v == NULL) {
            *reason = "wrong_keys";
            goto out;
        }
        if (!json_is_string(v)) {
            *reason = "not_string";
            goto out;
        }
        if (copy_field(json_string_value(v), fields[i], reason) != 0)
            goto out;
    }
    rc = 0;
out:
    json_decref(o);
    return rc;
}

int advice_parse_completion(const char *body, size_t len, struct advice_text *out, const char **reason)
{
    json_error_t jerr;
    int rc = -1;
    json_t *o = json_loadb(body, len, 0, &jerr);
    json_t *choices = o ? json_object_get(o, "choices") : NULL;
    json_t *first = json_is_array(choices) ? json_array_get(choices, 0) : NULL;
    json_t *message = json_is_object(first) ? json_object_get(first, "message") : NULL;
    json_t *content = json_is_object(message) ? json_object_get(message, "content") : NULL;
    if (o == NULL || !json_is_object(o)) {
        *reason = "bad_envelope";
    } else if (json_is_object(message) && json_is_string(json_object_get(message, "refusal"))) {
        *reason = "refused";
    } else if (!json_is_string(content)) {
        *reason = "bad_envelope";
    } else {
        rc = advice_parse_reply(json_string_value(content), json_string_length(content), out, reason);
    }
    json_decref(o);
    return rc;
}
