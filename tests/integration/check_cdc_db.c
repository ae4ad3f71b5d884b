/* check_cdc_db.c: the loyalty consumers (modules/cdc/loyalty_tasks.c) against a real,
 * migrated PostgreSQL: exact points (floor per purchase, the currency's exponent, other
 * currencies earn nothing), spend and tier, mission progress and completion; each consumer
 * applied twice to the same purchases changes nothing the second time, and a chunk that
 * overlaps an applied one applies only its new purchases.  Each test is one transaction, rolled
 * back at its end.  Skipped (77) without DATABASE_URL. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loyalty.h"

static const char *url;
static struct si_db db;
static char merchant[37];

static PGresult *q(const char *sql, int n, const char *const *p)
{
    struct si_error err;
    PGresult *res = si_db_exec(&db, sql, n, p, &err);
    ck_assert_msg(res != NULL, "%s: %s %s", sql, err.message, err.detail);
    return res;
}

static long long q_int(const char *sql, const char *customer)
{
    const char *p[] = { merchant, customer };
    PGresult *res = q(sql, customer != NULL ? 2 : 1, p);
    long long v = -1;
    if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
        v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return v;
}

/* A purchase of customer in currency for total minor units, with one item of sku x qty. */
static long long purchase(const char *customer, const char *currency, long long total, const char *sku, int qty)
{
    static int seq;
    char tn[32], total_s[24], qty_s[12];
    snprintf(tn, sizeof tn, "T%d", ++seq);
    snprintf(total_s, sizeof total_s, "%lld", total);
    snprintf(qty_s, sizeof qty_s, "%d", qty);
    const char *p[] = { merchant, tn, customer, currency, total_s, sku, qty_s };
    PGresult *res = q("WITH p AS (INSERT INTO purchases (merchant_id, batch_id, transaction_number, customer_id, "
                      "    purchased_at, currency, total_minor) VALUES ($1, gen_random_uuid(), $2, $3, now(), $4, "
                      "    $5::bigint) RETURNING id) "
                      "INSERT INTO purchase_items (purchase_id, merchant_id, sku_id, quantity, unit_price_minor, "
                      "  line_total_minor) SELECT id, $1, $6, $7::int, $5::bigint / $7::int, $5::bigint FROM p "
                      "RETURNING purchase_id", 7, p);
    long long id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return id;
}

static long long apply(enum loyalty_consumer c, const char *ids)
{
    struct si_error err;
    long long applied = -1;
    ck_assert_msg(loyalty_apply(&db, c, merchant, ids, &applied, &err) == 0, "%s: %s %s", loyalty_consumer_name(c),
                  err.message, err.detail);
    return applied;
}

/* Each test runs in one transaction that is rolled back: the stack's own smartimport-cdc never
 * sees its purchases (it reads committed ones only), so its consumers cannot race these calls. */
static void setup(void)
{
    struct si_error err;
    si_db_init(&db, url, "check_cdc_db", 1500, 10000);
    ck_assert_int_eq(si_db_begin(&db, &err), 0);
    PGresult *res = q("INSERT INTO merchants (name, currency, points_per_unit) VALUES ('check_cdc_db', 'EUR', 3) "
                      "RETURNING id", 0, NULL);
    snprintf(merchant, sizeof merchant, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    const char *p[] = { merchant };
    PQclear(q("INSERT INTO merchant_tiers VALUES ($1, 'bronze', 0), ($1, 'silver', 10000), ($1, 'gold', 50000)", 1, p));
    PQclear(q("INSERT INTO merchant_missions VALUES ($1, 'spend100', 'spend', 10000, NULL), "
              "($1, 'coffee5', 'sku_quantity', 5, 'COFFEE')", 1, p));
}

static void teardown(void)
{
    si_db_rollback(&db);
    si_db_cleanup(&db);
}

#define POINTS "SELECT points FROM wallets WHERE merchant_id = $1 AND customer_id = $2"
#define SPEND "SELECT spend_minor FROM customer_tiers WHERE merchant_id = $1 AND customer_id = $2"
#define PROGRESS(m) "SELECT progress FROM mission_progress WHERE merchant_id = $1 AND customer_id = $2 AND mission_id = '" m "'"
#define DONE(m) "SELECT count(*) FROM mission_progress WHERE merchant_id = $1 AND customer_id = $2 AND mission_id = '" m "' AND completed_at IS NOT NULL"

START_TEST(each_consumer_applies_a_purchase_once)
{
    long long a = purchase("c1", "EUR", 1299, "COFFEE", 3);   /* 12.99 EUR x 3 ppu = 38.97 -> 38 points */
    long long b = purchase("c1", "EUR", 8701, "TEA", 1);      /* 87.01 x 3 = 261.03 -> 261 */
    long long f = purchase("c1", "USD", 5000, "COFFEE", 2);   /* other currency: no points, no spend */
    char ids[128];
    snprintf(ids, sizeof ids, "{%lld,%lld,%lld}", a, b, f);
    for (int c = 0; c < LOYALTY_N_CONSUMERS; c++)
        ck_assert_int_eq(apply(c, ids), 3);
    ck_assert_int_eq(q_int(POINTS, "c1"), 38 + 261);
    ck_assert_int_eq(q_int(SPEND, "c1"), 10000);
    const char *p[] = { merchant };
    PGresult *res = q("SELECT tier FROM customer_tiers WHERE merchant_id = $1 AND customer_id = 'c1'", 1, p);
    ck_assert_str_eq(PQgetvalue(res, 0, 0), "silver");   /* 10000 >= silver's 10000, < gold */
    PQclear(res);
    ck_assert_int_eq(q_int(PROGRESS("spend100"), "c1"), 10000);
    ck_assert_int_eq(q_int(DONE("spend100"), "c1"), 1);
    ck_assert_int_eq(q_int(PROGRESS("coffee5"), "c1"), 5);   /* 3 + 2: items count whatever the currency */
    ck_assert_int_eq(q_int(DONE("coffee5"), "c1"), 1);

    /* the same chunk again (a replay): nothing applied, nothing changed */
    for (int c = 0; c < LOYALTY_N_CONSUMERS; c++)
        ck_assert_int_eq(apply(c, ids), 0);
    ck_assert_int_eq(q_int(POINTS, "c1"), 299);
    ck_assert_int_eq(q_int(SPEND, "c1"), 10000);
    ck_assert_int_eq(q_int(PROGRESS("coffee5"), "c1"), 5);

    /* an overlapping chunk: only the new purchase counts */
    long long d = purchase("c1", "EUR", 40000, "TEA", 1);
    snprintf(ids, sizeof ids, "{%lld,%lld}", b, d);
    for (int c = 0; c < LOYALTY_N_CONSUMERS; c++)
        ck_assert_int_eq(apply(c, ids), 1);
    ck_assert_int_eq(q_int(POINTS, "c1"), 299 + 1200);
    ck_assert_int_eq(q_int(SPEND, "c1"), 50000);
    res = q("SELECT tier FROM customer_tiers WHERE merchant_id = $1 AND customer_id = 'c1'", 1, p);
    ck_assert_str_eq(PQgetvalue(res, 0, 0), "gold");
    PQclear(res);
    ck_assert_int_eq(q_int(PROGRESS("spend100"), "c1"), 50000);
}
END_TEST

START_TEST(another_merchants_purchases_in_a_chunk_are_ignored)
{
    long long a = purchase("c2", "EUR", 1000, "TEA", 1);
    char other[37], ids[64];
    const char *p[] = { merchant };
    PGresult *res = q("INSERT INTO merchants (name, currency) VALUES ('other', 'EUR') RETURNING id", 0, NULL);
    snprintf(other, sizeof other, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    snprintf(ids, sizeof ids, "{%lld}", a);
    struct si_error err;
    long long applied = -1;
    ck_assert_int_eq(loyalty_apply(&db, LOYALTY_CURRENCY, other, ids, &applied, &err), 0);
    ck_assert_int_eq(applied, 0);
    ck_assert_int_eq(q_int("SELECT count(*) FROM cdc_applied WHERE purchase_id = (SELECT min(id) FROM purchases "
                           "WHERE merchant_id = $1 AND customer_id = 'c2')", NULL), 0);
    const char *op[] = { other };
    res = q("SELECT count(*) FROM wallets WHERE merchant_id = $1", 1, op);
    ck_assert_str_eq(PQgetvalue(res, 0, 0), "0");
    PQclear(res);
    (void)p;
}
END_TEST

int main(void)
{
    url = getenv("DATABASE_URL");
    if (url == NULL || *url == '\0') {
        fprintf(stderr, "check_cdc_db: DATABASE_URL not set, skipping\n");
        return 77;
    }
    Suite *s = suite_create("cdc_db");
    TCase *t = tcase_create("consumers");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 30);
    tcase_add_test(t, each_consumer_applies_a_purchase_once);
    tcase_add_test(t, another_merchants_purchases_in_a_chunk_are_ignored);
    suite_add_tcase(s, t);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
