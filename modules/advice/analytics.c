/* analytics.c: Crystal's figures, computed in PostgreSQL over ALL of the
 * user's transactions (not only the import's rows), in integer minor units.
 *
 * Definitions (the derived ones are in text.c, advice_derive):
 *   period       the import's date_from..date_to, inclusive
 *   currency     the import's currency; rows in other currencies are counted
 *                and left out (amounts in different currencies do not add up)
 *   spend        -amount_minor of the negative rows, by category
 *   earlier      the (up to) 3 calendar months before the month the period
 *                starts in; their spend by category divided by the number of
 *                those months in which the user has any transaction (so a
 *                user with one earlier month is not averaged over three)
 *   budgets      the user's monthly budgets in this currency, when any
 *   merchants    counterparty, else description, by spend (masked: a
 *                merchant name is user text and goes into the model prompt)
 * Sums are numeric in PostgreSQL and capped at ADVICE_MONEY_MAX (advice.h)
 * before they become bigint, so a ledger of any size gives figures (at the
 * cap) instead of an out-of-range error.
 * Every statement is parameterised and filters by user_id; the calendar
 * arithmetic (period length, month lengths, where the earlier months start)
 * is done here in C so that the statements are plain index scans. */
#include "advice.h"
#include "si_clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A money sum as bigint: numeric in, capped at +-ADVICE_MONEY_MAX. */
#define CAP_TEXT(x) #x
#define CAP_VALUE(x) CAP_TEXT(x)
#define MONEY(sum) "least(greatest(" sum ", -" CAP_VALUE(ADVICE_MONEY_MAX) "), " CAP_VALUE(ADVICE_MONEY_MAX) ")::bigint"

/* The period's counts and the number of earlier months with transactions.
 * $1 user, $2 currency, $3 from, $4 to, $5 first day of the earlier months,
 * $6 first day of the period's month.  Simple scans of the (user_id,
 * tx_date) index with FILTERs: cheap to plan and to run. */
static const char facts_sql[] =
    "SELECT count(*) FILTER (WHERE currency = $2 AND tx_date >= $3::date), "
    "  " MONEY("coalesce(sum(amount_minor) FILTER (WHERE currency = $2 AND amount_minor > 0 AND tx_date >= $3::date), 0)") ", "
    "  count(*) FILTER (WHERE currency <> $2 AND tx_date >= $3::date), "
    "  count(DISTINCT date_trunc('month', tx_date::timestamp)) "
    "    FILTER (WHERE currency = $2 AND tx_date >= $5::date AND tx_date < $6::date) "
    "FROM transactions WHERE user_id = $1 AND tx_date >= $5::date AND tx_date <= $4::date";

/* Spend by category in the period and in the earlier months, then the
 * user's budgets in this currency (spend 0, budget set). */
static const char categories_sql[] =
    "(SELECT category, " MONEY("coalesce(sum(-amount_minor::numeric) FILTER (WHERE tx_date >= $3::date), 0)") " AS spend, "
    "   count(*) FILTER (WHERE tx_date >= $3::date), "
    "   " MONEY("coalesce(sum(-amount_minor::numeric) FILTER (WHERE tx_date >= $5::date AND tx_date < $6::date), 0)") " AS history, "
    "   -1::bigint "
    " FROM transactions WHERE user_id = $1 AND currency = $2 AND amount_minor < 0 "
    "   AND tx_date >= $5::date AND tx_date <= $4::date "
    " GROUP BY category ORDER BY 2 DESC, 4 DESC, 1 LIMIT 500) "
    "UNION ALL "
    "(SELECT category, 0, 0, 0, " MONEY("amount_minor") " FROM budgets WHERE user_id = $1 AND currency = $2 "
    " ORDER BY amount_minor DESC, category LIMIT 100)";

static const char merchants_sql[] =
    "SELECT coalesce(nullif(btrim(counterparty), ''), description) AS m, " MONEY("sum(-amount_minor::numeric)") ", count(*) "
    "FROM transactions WHERE user_id = $1 AND currency = $2 AND amount_minor < 0 "
    "  AND tx_date >= $3::date AND tx_date <= $4::date "
    "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 8";

static long long col_ll(const PGresult *res, int row, int col)
{
    long long v = 0;   /* NULL (an empty sum) is 0 */
    return si_db_get_int64(res, row, col, &v) < 0 ? 0 : v;
}

static long long col_money(const PGresult *res, int row, int col)
{
    return advice_money_clamp(col_ll(res, row, col));
}

static int parse_date(const char *s, int *y, int *m, int *d)
{
    return sscanf(s, "%4d-%2d-%2d", y, m, d) == 3 ? 0 : -1;
}

int advice_analytics_load(struct si_db *db, const char *user_id, const char *date_from, const char *date_to,
                          const char *currency, struct advice_analytics *a, struct si_error *err)
{
    memset(a, 0, sizeof *a);
    snprintf(a->currency, sizeof a->currency, "%s", currency);
    if (parse_date(date_from, &a->from_y, &a->from_m, &a->from_d) != 0 ||
        parse_date(date_to, &a->to_y, &a->to_m, &a->to_d) != 0)
        return si_error_set(err, 500, "internal", "the import has no valid period");

    if (a->from_m < 1 || a->from_m > 12 || a->to_m < 1 || a->to_m > 12)
        return si_error_set(err, 500, "internal", "the import has no valid period");
    /* Calendar arithmetic in C, so the statements stay simple. */
    a->period_days = (int)(si_days_from_civil(a->to_y, a->to_m, a->to_d) - si_days_from_civil(a->from_y, a->from_m, a->from_d)) + 1;
    if (a->period_days < 1)
        a->period_days = 1;
    a->month_days = si_days_in_month(a->to_y, a->to_m);
    a->next_month_days = a->to_m == 12 ? si_days_in_month(a->to_y + 1, 1) : si_days_in_month(a->to_y, a->to_m + 1);
    int hy = a->from_y, hm = a->from_m - ADVICE_HISTORY_MONTHS;
    while (hm < 1) {
        hm += 12;
        hy--;
    }
    char h0[32], h1[32];   /* room for any int year: -Wformat-truncation */
    snprintf(h0, sizeof h0, "%04d-%02d-01", hy, hm);
    snprintf(h1, sizeof h1, "%04d-%02d-01", a->from_y, a->from_m);

    const char *params[] = { user_id, currency, date_from, date_to, h0, h1 };
    PGresult *res = si_db_exec(db, facts_sql, 6, params, err);
    if (res == NULL)
        return -1;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return si_error_set(err, 500, "internal", "analytics: no facts row");
    }
    a->tx_count = col_ll(res, 0, 0);
    a->income = col_money(res, 0, 1);
    a->other_currency_count = col_ll(res, 0, 2);
    a->history_months = (int)col_ll(res, 0, 3);
    PQclear(res);

    res = si_db_exec(db, categories_sql, 6, params, err);
    if (res == NULL)
        return -1;
    for (int i = 0; i < PQntuples(res); i++)
        advice_add_category(a, PQgetvalue(res, i, 0), col_money(res, i, 1), col_ll(res, i, 2), col_money(res, i, 3),
                            col_money(res, i, 4));
    PQclear(res);

    res = si_db_exec(db, merchants_sql, 4, params, err);
    if (res == NULL)
        return -1;
    for (int i = 0; i < PQntuples(res) && a->n_merchants < ADVICE_MAX_MERCHANTS; i++) {
        struct advice_merchant *m = &a->merchants[a->n_merchants++];
        si_mask_digits(PQgetvalue(res, i, 0), m->name, sizeof m->name);
        m->spend = col_money(res, i, 1);
        m->count = col_ll(res, i, 2);
    }
    PQclear(res);
    advice_derive(a);
    return 0;
}
