/* loyalty_api.c: the loyalty responder (smartimport-loyalty).
 *
 *   GET /api/cdc/stats
 *        -> {ok, slot, active, confirmed_lsn, lag_bytes, lag_ms, last_commit_at, confirmed_at,
 *           transactions, purchases, jobs_enqueued, jobs_existing,
 *           consumers:{currency|tier|mission:{queued, running, failed, dead}}}
 *        The slot as PostgreSQL sees it now (lag_bytes: WAL between the server's current
 *        position and the slot's confirmed one) and as smartimport-cdc last wrote it
 *        (cdc_state: lag_ms = commit of the last transaction read -> its jobs committed).
 *        Any authenticated caller: it carries counts and positions, no merchant's data.
 *   GET /api/merchants/:merchant_id/customers/:customer_id/loyalty
 *   GET /api/loyalty/:merchant_id/customers/:customer_id          (the same, an alias)
 *        -> {ok, merchant_id, customer_id, currency, points, spend_minor, tier,
 *           missions:[{mission_id, kind, target, sku_id, progress, completed, completed_at}]}
 *        Admins of the merchant only (merchant_admins); anyone else, an unknown merchant or
 *        a malformed id: the same 404 not_found.  A customer with no purchase yet: zeros.
 *
 * The answers are built by PostgreSQL (jsonb_build_object) in one statement each. */
#include "loyalty_api.h"
#include "si_auth.h"
#include "si_clock.h"
#include "si_uuid.h"

#include <string.h>
#include <time.h>

#define STATS_PATH "/api/cdc/stats"
#define MERCHANTS_PREFIX "/api/merchants/"
#define ALIAS_PREFIX "/api/loyalty/"
#define CUSTOMER_ID_MAX 200
#define TS(col) SI_SQL_UTC_MS(col)

/* One statement whose single cell is the JSON answer; 404 when it returns no row. */
static int answer(struct si_ctx *ctx, struct si_response *resp, const char *sql, int n, const char *const *p,
                  struct si_error *err)
{
    PGresult *res = si_db_exec(ctx->db, sql, n, p, err);
    if (res == NULL)
        return si_response_from_error(resp, err);
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
        PQclear(res);
        return si_response_error(resp, 404, "not_found", "no such merchant or customer");
    }
    json_error_t jerr;
    json_t *out = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
    PQclear(res);
    if (out == NULL)
        return si_response_error(resp, 500, "internal", "could not read the answer");
    int rc = si_response_json(resp, 200, out);
    json_decref(out);
    return rc;
}

static int get_stats(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    char user[SI_UUID_LEN + 1];
    struct si_error err;
    si_error_clear(&err);
    if (si_auth_identify(ctx->config, req, NULL, (long long)time(NULL), user, &err) != 0)
        return si_response_from_error(resp, &err);
    const char *p[] = { "smartimport_cdc" };
    return answer(ctx, resp,
        "WITH sl AS (SELECT active, confirmed_flush_lsn, "
        "    pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint AS lag_bytes "
        "    FROM pg_replication_slots WHERE slot_name = $1), "
        "st AS (SELECT * FROM cdc_state WHERE slot = $1), "
        "j AS (SELECT substr(task, 9) AS consumer, state, count(*) AS n FROM jobs "
        "    WHERE task IN ('loyalty.currency', 'loyalty.tier', 'loyalty.mission') "
        "      AND state IN ('queued', 'running', 'failed', 'dead') GROUP BY task, state), "
        "c AS (SELECT jsonb_object_agg(k.consumer, (SELECT jsonb_build_object("
        "      'queued', coalesce(sum(n) FILTER (WHERE state = 'queued'), 0), "
        "      'running', coalesce(sum(n) FILTER (WHERE state = 'running'), 0), "
        "      'failed', coalesce(sum(n) FILTER (WHERE state = 'failed'), 0), "
        "      'dead', coalesce(sum(n) FILTER (WHERE state = 'dead'), 0)) FROM j WHERE j.consumer = k.consumer)) AS o "
        "    FROM (VALUES ('currency'), ('tier'), ('mission')) AS k (consumer)) "
        "SELECT jsonb_build_object('ok', true, 'slot', $1::text, "
        "  'active', coalesce((SELECT active FROM sl), false), "
        "  'confirmed_lsn', (SELECT confirmed_flush_lsn::text FROM sl), "
        "  'lag_bytes', (SELECT lag_bytes FROM sl), "
        "  'lag_ms', (SELECT lag_ms FROM st), "
        "  'last_commit_at', (SELECT " TS("last_commit_at") " FROM st), "
        "  'confirmed_at', (SELECT " TS("confirmed_at") " FROM st), "
        "  'transactions', coalesce((SELECT transactions FROM st), 0), "
        "  'purchases', coalesce((SELECT purchases FROM st), 0), "
        "  'jobs_enqueued', coalesce((SELECT jobs_enqueued FROM st), 0), "
        "  'jobs_existing', coalesce((SELECT jobs_existing FROM st), 0), "
        "  'consumers', (SELECT o FROM c))::text", 1, p, &err);
}

static int get_loyalty(struct si_ctx *ctx, struct si_request *req, struct si_response *resp, const char *merchant,
                       const char *customer)
{
    char user[SI_UUID_LEN + 1];
    struct si_error err;
    si_error_clear(&err);
    if (si_auth_identify(ctx->config, req, NULL, (long long)time(NULL), user, &err) != 0)
        return si_response_from_error(resp, &err);
    const char *p[] = { merchant, customer, user };
    return answer(ctx, resp,
        "SELECT jsonb_build_object('ok', true, 'merchant_id', m.id, 'customer_id', $2::text, 'currency', m.currency, "
        "  'points', coalesce((SELECT points FROM wallets WHERE merchant_id = m.id AND customer_id = $2), 0), "
        "  'spend_minor', coalesce((SELECT spend_minor FROM customer_tiers WHERE merchant_id = m.id "
        "      AND customer_id = $2), 0), "
        "  'tier', (SELECT tier FROM customer_tiers WHERE merchant_id = m.id AND customer_id = $2), "
        "  'missions', coalesce((SELECT jsonb_agg(jsonb_build_object('mission_id', mm.mission_id, 'kind', mm.kind, "
        "      'target', mm.target, 'sku_id', mm.sku_id, 'progress', coalesce(mp.progress, 0), "
        "      'completed', mp.completed_at IS NOT NULL, 'completed_at', " TS("mp.completed_at") ") "
        "      ORDER BY mm.mission_id) "
        "    FROM merchant_missions mm LEFT JOIN mission_progress mp ON mp.merchant_id = mm.merchant_id "
        "      AND mp.mission_id = mm.mission_id AND mp.customer_id = $2 "
        "    WHERE mm.merchant_id = m.id), '[]'::jsonb))::text "
        "FROM merchants m JOIN merchant_admins a ON a.merchant_id = m.id AND a.user_id = $3::uuid "
        "WHERE m.id = $1::uuid", 3, p, &err);
}

/* "<merchant>/customers/<customer>" + suffix ("/loyalty" or "") after a prefix. */
static int route_customer(struct si_ctx *ctx, struct si_request *req, struct si_response *resp, const char *tail,
                          const char *suffix)
{
    char id[SI_UUID_LEN + 1], merchant[SI_UUID_LEN + 1], customer[CUSTOMER_ID_MAX + 1];
    size_t idl = strcspn(tail, "/");
    const char *rest = tail + idl;
    static const char mid[] = "/customers/";
    if (idl == 0 || idl > SI_UUID_LEN || strncmp(rest, mid, sizeof mid - 1) != 0)
        return si_response_error(resp, 404, "not_found", "no such merchant or customer");
    memcpy(id, tail, idl);
    id[idl] = '\0';
    const char *c = rest + sizeof mid - 1;
    size_t cl = strcspn(c, "/");
    if (si_uuid_normalize(id, merchant) != 0 || cl == 0 || cl > CUSTOMER_ID_MAX || strcmp(c + cl, suffix) != 0)
        return si_response_error(resp, 404, "not_found", "no such merchant or customer");
    memcpy(customer, c, cl);
    customer[cl] = '\0';
    for (size_t i = 0; i < cl; i++)
        if ((unsigned char)customer[i] < 0x20 || customer[i] == 0x7f)
            return si_response_error(resp, 404, "not_found", "no such merchant or customer");
    return get_loyalty(ctx, req, resp, merchant, customer);
}

bool loyalty_api_owns(const char *path)
{
    if (strcmp(path, STATS_PATH) == 0 || strncmp(path, ALIAS_PREFIX, strlen(ALIAS_PREFIX)) == 0)
        return true;
    if (strncmp(path, MERCHANTS_PREFIX, strlen(MERCHANTS_PREFIX)) != 0)
        return false;
    const char *tail = path + strlen(MERCHANTS_PREFIX);
    const char *c = strchr(tail, '/');
    static const char mid[] = "/customers/", end[] = "/loyalty";
    if (c == NULL || strncmp(c, mid, sizeof mid - 1) != 0)
        return false;
    c += sizeof mid - 1;
    size_t cl = strcspn(c, "/");
    return cl > 0 && strcmp(c + cl, end) == 0;
}

int loyalty_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    const char *path = req->path;
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0)
        return si_response_error(resp, 405, "method_not_allowed", "use GET");
    if (strcmp(path, STATS_PATH) == 0)
        return get_stats(ctx, req, resp);
    if (strncmp(path, MERCHANTS_PREFIX, strlen(MERCHANTS_PREFIX)) == 0)
        return route_customer(ctx, req, resp, path + strlen(MERCHANTS_PREFIX), "/loyalty");
    if (strncmp(path, ALIAS_PREFIX, strlen(ALIAS_PREFIX)) == 0)
        return route_customer(ctx, req, resp, path + strlen(ALIAS_PREFIX), "");
    return si_response_error(resp, 404, "not_found", "no such loyalty endpoint");
}
