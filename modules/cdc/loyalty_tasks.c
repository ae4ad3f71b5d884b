/* loyalty_tasks.c: the consumer tasks loyalty.currency, loyalty.tier and loyalty.mission of
 * smartimport-worker (registered by modules/jobs/tasks.c through loyalty_register_tasks).
 *
 * A job names one merchant and up to LOYALTY_CHUNK_MAX purchase ids (smartimport-cdc made it
 * from one committed transaction).  The work is one statement per consumer, set-wise, in the
 * job's finishing transaction (the engine's commit hook: under the job's row lock, only while
 * this worker holds the lease): it first claims (consumer, purchase_id) in cdc_applied with
 * ON CONFLICT DO NOTHING RETURNING and applies only the claimed purchases, so a purchase
 * delivered twice, or a job run again after its worker died, applies once.  Jobs of one
 * consumer and merchant share a serial lane ("loyalty.<consumer>/<merchant>"), so they never
 * wait on each other's rows; rows are touched in customer order anyway.
 *
 *   currency: wallets.points += floor(total_minor * points_per_unit / 10^exponent) per
 *             purchase in the merchant's currency (exponent: ISO 4217, si_money); a purchase
 *             in another currency earns 0 points (it is still marked applied).
 *   tier:     customer_tiers.spend_minor += total_minor (merchant's currency only); tier =
 *             the merchant_tiers row with the highest min_spend_minor <= spend (NULL if none).
 *   mission:  mission_progress.progress += spend (kind 'spend', minor units, merchant's
 *             currency) or items of sku_id (kind 'sku_quantity'); completed_at is set once,
 *             when progress first reaches target. */
#include "loyalty.h"
#include "si_money.h"
#include "si_uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const CONSUMERS[LOYALTY_N_CONSUMERS] = { "currency", "tier", "mission" };
static const char *const TASKS[LOYALTY_N_CONSUMERS] = { "loyalty.currency", "loyalty.tier", "loyalty.mission" };

const char *loyalty_consumer_name(enum loyalty_consumer c) { return CONSUMERS[c]; }
const char *loyalty_task_name(enum loyalty_consumer c) { return TASKS[c]; }

/* The claim every consumer starts with ($1 merchant, $2 ids, $6 consumer): the job's
 * purchases read once by primary key (pk; the merchant is checked outside it, so no
 * statistics, stale right after a bulk import, can steer the read to the merchant's index),
 * then claimed; `np` is the claimed ones.  Joining the claim back to purchases instead
 * made the planner hash the merchant's whole table: a job's cost grew with the merchant's
 * history (20-80 ms for 1,000 purchases of a 30,000-purchase merchant, now 10-15 ms). */
#define CLAIM \
    "WITH pk AS MATERIALIZED (SELECT p.id, p.merchant_id, p.customer_id, p.total_minor, p.currency " \
    "    FROM purchases p WHERE p.id = ANY ($2::bigint[])), " \
    "pj AS (SELECT id, customer_id, total_minor, currency FROM pk WHERE merchant_id = $1::uuid), " \
    "new AS (INSERT INTO cdc_applied (consumer, purchase_id) SELECT $6, pj.id FROM pj ORDER BY pj.id " \
    "    ON CONFLICT DO NOTHING RETURNING purchase_id), " \
    "np AS (SELECT pj.* FROM pj JOIN new ON new.purchase_id = pj.id), "

/* $3 merchant currency, $4 points_per_unit, $5 exponent.  Every statement takes the same six
 * parameters and answers (claimed, rows written). */
static const char *const SQL[LOYALTY_N_CONSUMERS] = {
    CLAIM
    "pts AS (SELECT np.customer_id, sum(CASE WHEN np.currency = $3 THEN floor(np.total_minor::numeric * $4::int "
    "    / power(10::numeric, $5::int)) ELSE 0 END) AS points "
    "    FROM np GROUP BY np.customer_id), "
    "w AS (INSERT INTO wallets AS w (merchant_id, customer_id, points) "
    "    SELECT $1::uuid, customer_id, points::bigint FROM pts ORDER BY customer_id "
    "    ON CONFLICT (merchant_id, customer_id) DO UPDATE SET points = w.points + excluded.points, updated_at = now() "
    "    RETURNING 1) "
    "SELECT (SELECT count(*) FROM new), (SELECT count(*) FROM w)",

    CLAIM
    "s AS (SELECT np.customer_id, sum(CASE WHEN np.currency = $3 THEN np.total_minor ELSE 0 END)::bigint AS spend "
    "    FROM np GROUP BY np.customer_id), "
    "t AS (INSERT INTO customer_tiers AS c (merchant_id, customer_id, spend_minor, tier) "
    "    SELECT $1::uuid, s.customer_id, s.spend, (SELECT mt.tier FROM merchant_tiers mt "
    "        WHERE mt.merchant_id = $1::uuid AND mt.min_spend_minor <= s.spend "
    "        ORDER BY mt.min_spend_minor DESC, mt.tier LIMIT 1) "
    "    FROM s ORDER BY s.customer_id "
    "    ON CONFLICT (merchant_id, customer_id) DO UPDATE SET spend_minor = c.spend_minor + excluded.spend_minor, "
    "      tier = (SELECT mt.tier FROM merchant_tiers mt WHERE mt.merchant_id = c.merchant_id "
    "        AND mt.min_spend_minor <= c.spend_minor + excluded.spend_minor "
    "        ORDER BY mt.min_spend_minor DESC, mt.tier LIMIT 1), updated_at = now() "
    "    RETURNING 1) "
    "SELECT (SELECT count(*) FROM new), (SELECT count(*) FROM t) WHERE $4::int IS NOT NULL AND $5::int IS NOT NULL",

    CLAIM
    "d AS (SELECT m.mission_id, np.customer_id, sum(np.total_minor) AS delta "
    "      FROM merchant_missions m CROSS JOIN np "
    "      WHERE m.merchant_id = $1::uuid AND m.kind = 'spend' AND np.currency = $3 "
    "      GROUP BY m.mission_id, np.customer_id "
    "    UNION ALL "
    "    SELECT m.mission_id, np.customer_id, sum(i.quantity) "
    "      FROM np JOIN purchase_items i ON i.purchase_id = np.id "
    "      JOIN merchant_missions m ON m.merchant_id = $1::uuid AND m.kind = 'sku_quantity' AND m.sku_id = i.sku_id "
    "      WHERE i.merchant_id = $1::uuid "
    "      GROUP BY m.mission_id, np.customer_id), "
    "u AS (INSERT INTO mission_progress AS mp (merchant_id, mission_id, customer_id, progress, completed_at) "
    "    SELECT $1::uuid, d.mission_id, d.customer_id, d.delta::bigint, CASE WHEN d.delta >= m.target THEN now() END "
    "    FROM d JOIN merchant_missions m ON m.merchant_id = $1::uuid AND m.mission_id = d.mission_id "
    "    ORDER BY d.mission_id, d.customer_id "
    "    ON CONFLICT (merchant_id, mission_id, customer_id) DO UPDATE SET progress = mp.progress + excluded.progress, "
    "      completed_at = coalesce(mp.completed_at, CASE WHEN mp.progress + excluded.progress >= "
    "        (SELECT m2.target FROM merchant_missions m2 WHERE m2.merchant_id = mp.merchant_id "
    "          AND m2.mission_id = mp.mission_id) THEN now() END), updated_at = now() "
    "    RETURNING 1) "
    "SELECT (SELECT count(*) FROM new), (SELECT count(*) FROM u) WHERE $4::int IS NOT NULL AND $5::int IS NOT NULL",
};

int loyalty_payload_read(const json_t *payload, char out_merchant[37], char **out_ids, int *out_n,
                         struct si_error *err)
{
    *out_ids = NULL;
    *out_n = 0;
    const char *m = json_string_value(json_object_get(payload, "merchant_id"));
    const json_t *ids = json_object_get(payload, "purchase_ids");
    if (m == NULL || si_uuid_normalize(m, out_merchant) != 0)
        return si_error_set(err, 400, "invalid_payload", "merchant_id must be a UUID");
    size_t n = json_array_size(ids);
    if (!json_is_array(ids) || n < 1 || n > LOYALTY_CHUNK_MAX)
        return si_error_set(err, 400, "invalid_payload", "purchase_ids must be an array of 1..%d ids",
                            LOYALTY_CHUNK_MAX);
    size_t cap = n * 21 + 3, len = 0;
    char *s = malloc(cap);
    if (s == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    s[len++] = '{';
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(ids, i);
        if (!json_is_integer(v) || json_integer_value(v) < 1) {
            free(s);
            return si_error_set(err, 400, "invalid_payload", "purchase_ids must be positive integers");
        }
        int w = snprintf(s + len, cap - len, "%s%lld", i > 0 ? "," : "", (long long)json_integer_value(v));
        if (w < 0 || (size_t)w >= cap - len) {
            free(s);
            return si_error_set(err, 500, "internal", "purchase id list overflow");
        }
        len += (size_t)w;
    }
    s[len++] = '}';
    s[len] = '\0';
    *out_ids = s;
    *out_n = (int)n;
    return 0;
}

int loyalty_apply(struct si_db *db, enum loyalty_consumer c, const char *merchant, const char *ids,
                  long long *out_applied, struct si_error *err)
{
    int rc = -1;
    PGresult *res = NULL;
    *out_applied = 0;
    const char *mp[] = { merchant };
    res = si_db_exec(db, "SELECT currency, points_per_unit FROM merchants WHERE id = $1::uuid", 1, mp, err);
    if (res == NULL)
        goto out;
    if (PQntuples(res) != 1) {   /* no merchant: its purchases cannot exist either */
        rc = 0;
        goto out;
    }
    char currency[4], ppu[16], exp_s[8];
    snprintf(currency, sizeof currency, "%s", PQgetvalue(res, 0, 0));
    snprintf(ppu, sizeof ppu, "%s", PQgetvalue(res, 0, 1));
    snprintf(exp_s, sizeof exp_s, "%d", si_currency_exponent(currency));
    PQclear(res);
    const char *p[] = { merchant, ids, currency, ppu, exp_s, CONSUMERS[c] };
    res = si_db_exec_bulk(db, SQL[c], 6, p, err);
    if (res == NULL)
        goto out;
    if (PQntuples(res) != 1 || si_db_get_int64(res, 0, 0, out_applied) != 0) {
        si_db_bad_value(err, "cdc_applied count");
        goto out;
    }
    rc = 0;
out:
    PQclear(res);
    return rc;
}

/* The work happens in commit (below); run only checks the payload, so a bad one fails
 * before any transaction. */
static int consumer_run(void *ctx, struct si_db *db, const struct jobs_job *job, json_t **out_state,
                        struct si_error *err)
{
    (void)ctx;
    (void)db;
    char merchant[37];
    char *ids = NULL;
    int n = 0;
    *out_state = NULL;
    if (loyalty_payload_read(job->payload, merchant, &ids, &n, err) != 0)
        return -1;
    free(ids);
    return 0;
}

static int consumer_commit(void *ctx, struct si_db *db, const struct jobs_job *job, const json_t *state,
                           json_t **out_result, struct si_error *err)
{
    (void)state;
    enum loyalty_consumer c = *(const enum loyalty_consumer *)ctx;
    char merchant[37];
    char *ids = NULL;
    int n = 0;
    long long applied = 0;
    if (loyalty_payload_read(job->payload, merchant, &ids, &n, err) != 0)
        return -1;
    int rc = loyalty_apply(db, c, merchant, ids, &applied, err);
    free(ids);
    if (rc != 0)
        return -1;
    *out_result = json_pack("{s:I, s:i}", "applied", (json_int_t)applied, "purchases", n);
    return 0;
}

static const enum loyalty_consumer CTX[LOYALTY_N_CONSUMERS] = { LOYALTY_CURRENCY, LOYALTY_TIER, LOYALTY_MISSION };

int loyalty_register_tasks(struct jobs_registry *reg, char *const *envp, void **out_state, struct si_error *err)
{
    (void)envp;
    *out_state = NULL;
    for (int i = 0; i < LOYALTY_N_CONSUMERS; i++) {
        const struct jobs_task t = {
            .name = TASKS[i], .run = consumer_run, .commit = consumer_commit, .ctx = (void *)&CTX[i],
            .serial = true, .timeout_ms = 120000,
            .retry = { .base_ms = 200, .cap_ms = 10000, .jitter_pct = 20 },
        };
        if (jobs_registry_add(reg, &t, err) != 0)
            return -1;
    }
    return 0;
}

void loyalty_tasks_free(void *state)
{
    (void)state;
}
