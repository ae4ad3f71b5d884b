/* merchants.c: the responder smartimport-merchants behind nginx's =/api/merchants and
 * ^~/api/merchants/ routes: merchants and the reference data a bulk import is checked against.
 *
 *   POST /api/merchants                   {name, currency, points_per_unit?} -> 201; the caller
 *                                         becomes its admin
 *   GET  /api/merchants                   the caller's merchants
 *   GET  /api/merchants/{id}              one, with the counts of its reference data
 *   PUT  /api/merchants/{id}/skus         [{sku_id, name?, price_minor?}]
 *   PUT  /api/merchants/{id}/customers    [{customer_id, name?, email?}]
 *   PUT  /api/merchants/{id}/tiers        [{tier, min_spend_minor}]
 *   PUT  /api/merchants/{id}/missions     [{mission_id, kind: spend|sku_quantity, target, sku_id?}]
 *
 * A PUT body is the JSON array, or an object {"items": [...]} (which may carry userId in
 * development mode); at most MERCHANTS_PUT_MAX elements, each checked in C (types, lengths,
 * ranges: 400 naming the element) before one INSERT ... SELECT FROM jsonb_array_elements ...
 * ON CONFLICT DO UPDATE writes them all (an id sent twice: the last one wins).  A merchant
 * the caller does not administer is the 404 of an unknown one. */
#include "merchants.h"
#include "bulk.h"
#include "loyalty_api.h"
#include "si_auth.h"
#include "si_json.h"

#include <string.h>
#include <strings.h>
#include <time.h>

#define MERCHANTS_PUT_MAX 10000
#define MERCHANTS_PREFIX "/api/merchants"

/* What one PUT kind accepts: its fields and the statement that upserts them. */
enum field_type { F_ID, F_TEXT, F_EMAIL, F_MINOR, F_KIND, F_TARGET, F_SKU_REF };
struct put_field {
    const char *name;
    enum field_type type;
    bool required;
};
struct put_kind {
    const char *path;
    struct put_field fields[4];
    int n;
    const char *sql;   /* $1 merchant, $2 jsonb array */
};

static const struct put_kind KINDS[] = {
    { "skus", { { "sku_id", F_ID, true }, { "name", F_TEXT, false }, { "price_minor", F_MINOR, false } }, 3,
      "INSERT INTO merchant_skus (merchant_id, sku_id, name, price_minor) "
      "SELECT DISTINCT ON (e->>'sku_id') $1::uuid, e->>'sku_id', coalesce(e->>'name', ''), (e->>'price_minor')::bigint "
      "FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS x(e, n) ORDER BY e->>'sku_id', n DESC "
      "ON CONFLICT (merchant_id, sku_id) DO UPDATE SET name = excluded.name, price_minor = excluded.price_minor, "
      "updated_at = now()" },
    { "customers", { { "customer_id", F_ID, true }, { "name", F_TEXT, false }, { "email", F_EMAIL, false } }, 3,
      "INSERT INTO merchant_customers (merchant_id, customer_id, name, email) "
      "SELECT DISTINCT ON (e->>'customer_id') $1::uuid, e->>'customer_id', coalesce(e->>'name', ''), e->>'email' "
      "FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS x(e, n) ORDER BY e->>'customer_id', n DESC "
      "ON CONFLICT (merchant_id, customer_id) DO UPDATE SET name = excluded.name, email = excluded.email, "
      "updated_at = now()" },
    { "tiers", { { "tier", F_ID, true }, { "min_spend_minor", F_MINOR, true } }, 2,
      "INSERT INTO merchant_tiers (merchant_id, tier, min_spend_minor) "
      "SELECT DISTINCT ON (e->>'tier') $1::uuid, e->>'tier', (e->>'min_spend_minor')::bigint "
      "FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS x(e, n) ORDER BY e->>'tier', n DESC "
      "ON CONFLICT (merchant_id, tier) DO UPDATE SET min_spend_minor = excluded.min_spend_minor, updated_at = now()" },
    { "missions", { { "mission_id", F_ID, true }, { "kind", F_KIND, true }, { "target", F_TARGET, true },
                    { "sku_id", F_SKU_REF, false } }, 4,
      "INSERT INTO merchant_missions (merchant_id, mission_id, kind, target, sku_id) "
      "SELECT DISTINCT ON (e->>'mission_id') $1::uuid, e->>'mission_id', e->>'kind', (e->>'target')::bigint, "
      "e->>'sku_id' FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS x(e, n) ORDER BY e->>'mission_id', n DESC "
      "ON CONFLICT (merchant_id, mission_id) DO UPDATE SET kind = excluded.kind, target = excluded.target, "
      "sku_id = excluded.sku_id, updated_at = now()" },
};
#define N_KINDS (sizeof KINDS / sizeof *KINDS)

static int check_field(const json_t *item, size_t i, const struct put_field *f, struct si_error *err)
{
    const json_t *v = json_object_get(item, f->name);
    if (v == NULL || json_is_null(v)) {
        if (f->required)
            return si_error_set(err, 400, "missing_field", "item %zu: %s is required", i, f->name);
        return 0;
    }
    switch (f->type) {
    case F_ID:
    case F_SKU_REF:
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > BULK_ID_MAX)
            return si_error_set(err, 400, "bad_field", "item %zu: %s must be a string of 1 to %d bytes", i, f->name,
                                BULK_ID_MAX);
        return 0;
    case F_TEXT:
        if (!json_is_string(v) || json_string_length(v) > 200)
            return si_error_set(err, 400, "bad_field", "item %zu: %s must be a string of at most 200 bytes", i, f->name);
        return 0;
    case F_EMAIL:
        if (!json_is_string(v) || json_string_length(v) > 320 || strchr(json_string_value(v), '@') == NULL)
            return si_error_set(err, 400, "bad_field", "item %zu: %s must be an email address", i, f->name);
        return 0;
    case F_MINOR:
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > BULK_AMOUNT_MAX)
            return si_error_set(err, 400, "bad_field", "item %zu: %s must be a whole number of minor units from 0 to %lld",
                                i, f->name, BULK_AMOUNT_MAX);
        return 0;
    case F_TARGET:
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > BULK_AMOUNT_MAX)
            return si_error_set(err, 400, "bad_field", "item %zu: %s must be a whole number from 1 to %lld", i, f->name,
                                BULK_AMOUNT_MAX);
        return 0;
    case F_KIND:
        if (!json_is_string(v) || (strcmp(json_string_value(v), "spend") != 0 &&
                                   strcmp(json_string_value(v), "sku_quantity") != 0))
            return si_error_set(err, 400, "bad_field", "item %zu: kind must be spend or sku_quantity", i);
        return 0;
    }
    return 0;
}

static int check_items(const struct put_kind *k, const json_t *items, struct si_error *err)
{
    if (!json_is_array(items))
        return si_error_set(err, 400, "bad_field", "send a JSON array of %s (or {\"items\": [...]})", k->path);
    if (json_array_size(items) > MERCHANTS_PUT_MAX)
        return si_error_set(err, 413, "too_many_items", "at most %d %s per request", MERCHANTS_PUT_MAX, k->path);
    size_t i;
    const json_t *item;
    json_array_foreach(items, i, item) {
        if (!json_is_object(item))
            return si_error_set(err, 400, "bad_field", "item %zu is not an object", i);
        for (int f = 0; f < k->n; f++)
            if (check_field(item, i, &k->fields[f], err) != 0)
                return -1;
        if (strcmp(k->path, "missions") == 0) {
            bool sku = json_is_string(json_object_get(item, "sku_id"));
            bool per_sku = strcmp(json_string_value(json_object_get(item, "kind")), "sku_quantity") == 0;
            if (sku != per_sku)
                return si_error_set(err, 400, "bad_field", "item %zu: sku_id is required for kind sku_quantity and "
                                    "not allowed for kind spend", i);
        }
    }
    return 0;
}

/* Reads the body: a JSON array, or an object (its "items"); *out_root owns it. */
static int read_put_body(struct si_ctx *ctx, struct si_request *req, json_t **out_root, const json_t **out_items,
                         struct si_error *err)
{
    *out_root = NULL;
    *out_items = NULL;
    const char *ct = req->content_type;
    if (ct != NULL && strncasecmp(ct, "application/json", 16) != 0)
        return si_error_set(err, 415, "unsupported_media_type", "expected a JSON body (application/json)");
    if (si_request_read_body(req, ctx->scratch, err) != 0)
        return -1;
    json_error_t jerr;
    json_t *root = json_loadb(ctx->scratch->data ? ctx->scratch->data : "", ctx->scratch->len, JSON_REJECT_DUPLICATES,
                              &jerr);
    if (root == NULL)
        return si_error_set(err, 400, "invalid_json", "request body is not valid JSON: %s (line %d, column %d)",
                            jerr.text, jerr.line, jerr.column);
    *out_root = root;
    *out_items = json_is_object(root) ? json_object_get(root, "items") : root;
    return 0;
}

static int admin_or_404(struct si_db *db, const char *merchant, const char *user, struct si_error *err)
{
    int admin = bulk_is_admin(db, merchant, user, err);
    if (admin < 0)
        return -1;
    return admin ? 0 : si_error_set(err, 404, "not_found", "no such merchant");
}

static int put_reference(struct si_ctx *ctx, struct si_request *req, struct si_response *resp, const char *merchant,
                         const struct put_kind *k)
{
    json_t *root = NULL, *out = NULL;
    const json_t *items = NULL;
    char *text = NULL, user[SI_UUID_LEN + 1];
    struct si_error err;
    si_error_clear(&err);
    int rc = -1;
    long long now = (long long)time(NULL);
    if (ctx->config->auth_mode == SI_AUTH_JWT && si_auth_identify(ctx->config, req, NULL, now, user, &err) != 0)
        goto fail;
    if (read_put_body(ctx, req, &root, &items, &err) != 0 ||
        si_auth_identify(ctx->config, req, json_is_object(root) ? root : NULL, now, user, &err) != 0 ||
        admin_or_404(ctx->db, merchant, user, &err) != 0 || check_items(k, items, &err) != 0)
        goto fail;
    text = json_dumps(items, JSON_COMPACT);
    if (text == NULL) {
        si_error_set(&err, 500, "internal", "out of memory");
        goto fail;
    }
    const char *p[] = { merchant, text };
    PGresult *res = si_db_exec_bulk(ctx->db, k->sql, 2, p, &err);
    if (res == NULL)
        goto fail;
    long long n = si_db_rows_affected(res);
    PQclear(res);
    out = json_pack("{s:b, s:s, s:s, s:I, s:I}", "success", 1, "merchant_id", merchant, "kind", k->path, "received",
                    (json_int_t)json_array_size(items), "upserted", (json_int_t)n);
    if (out == NULL) {
        si_error_set(&err, 500, "internal", "out of memory");
        goto fail;
    }
    rc = si_response_json(resp, 200, out);
    goto out;
fail:
    rc = si_response_from_error(resp, &err);
out:
    free(text);
    json_decref(out);
    json_decref(root);
    return rc;
}

static int create_merchant(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    json_t *body = NULL, *out = NULL;
    char user[SI_UUID_LEN + 1];
    struct si_error err;
    si_error_clear(&err);
    int rc = -1;
    if (si_json_read_body(req, ctx->scratch, &body, &err) != 0 ||
        si_auth_identify(ctx->config, req, body, (long long)time(NULL), user, &err) != 0)
        goto fail;
    const json_t *name = json_object_get(body, "name"), *cur = json_object_get(body, "currency"),
                 *ppu = json_object_get(body, "points_per_unit");
    if (!json_is_string(name) || json_string_length(name) == 0 || json_string_length(name) > 200) {
        si_error_set(&err, 400, "bad_field", "name must be a string of 1 to 200 bytes");
        goto fail;
    }
    if (!json_is_string(cur) || !bulk_currency(json_string_value(cur), NULL)) {
        si_error_set(&err, 400, "bad_field", "currency must be an ISO 4217 code such as EUR");
        goto fail;
    }
    json_int_t points = 1;
    if (ppu != NULL && !json_is_null(ppu)) {
        if (!json_is_integer(ppu) || json_integer_value(ppu) < 0 || json_integer_value(ppu) > 1000000) {
            si_error_set(&err, 400, "bad_field", "points_per_unit must be a whole number from 0 to 1000000");
            goto fail;
        }
        points = json_integer_value(ppu);
    }
    char points_text[24];
    snprintf(points_text, sizeof points_text, "%lld", (long long)points);
    const char *p[] = { json_string_value(name), json_string_value(cur), points_text, user };
    PGresult *res = si_db_exec(ctx->db,
        "WITH m AS (INSERT INTO merchants (name, currency, points_per_unit) VALUES ($1, $2, $3) RETURNING id), "
        "a AS (INSERT INTO merchant_admins (merchant_id, user_id) SELECT id, $4 FROM m) "
        "SELECT id FROM m", 4, p, &err);
    if (res == NULL)
        goto fail;
    out = json_pack("{s:b, s:s, s:s, s:s, s:I}", "success", 1, "id", PQgetvalue(res, 0, 0), "name",
                    json_string_value(name), "currency", json_string_value(cur), "points_per_unit", points);
    PQclear(res);
    if (out == NULL) {
        si_error_set(&err, 500, "internal", "out of memory");
        goto fail;
    }
    rc = si_response_json(resp, 201, out);
    goto out;
fail:
    rc = si_response_from_error(resp, &err);
out:
    json_decref(out);
    json_decref(body);
    return rc;
}

static const char MERCHANT_JSON[] =
    "jsonb_build_object('id', m.id, 'name', m.name, 'currency', m.currency, 'points_per_unit', m.points_per_unit, "
    "'created_at', to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
    "'skus', (SELECT count(*) FROM merchant_skus x WHERE x.merchant_id = m.id), "
    "'customers', (SELECT count(*) FROM merchant_customers x WHERE x.merchant_id = m.id), "
    "'tiers', (SELECT count(*) FROM merchant_tiers x WHERE x.merchant_id = m.id), "
    "'missions', (SELECT count(*) FROM merchant_missions x WHERE x.merchant_id = m.id))";

static int get_merchants(struct si_ctx *ctx, struct si_request *req, struct si_response *resp, const char *one)
{
    char user[SI_UUID_LEN + 1], sql[1536];
    struct si_error err;
    si_error_clear(&err);
    if (si_auth_identify(ctx->config, req, NULL, (long long)time(NULL), user, &err) != 0)
        return si_response_from_error(resp, &err);
    const char *p[] = { user, one };
    if (one != NULL)
        snprintf(sql, sizeof sql, "SELECT %s::text FROM merchants m JOIN merchant_admins a ON a.merchant_id = m.id "
                 "AND a.user_id = $1 WHERE m.id = $2", MERCHANT_JSON);
    else
        snprintf(sql, sizeof sql, "SELECT coalesce(jsonb_agg(%s ORDER BY m.created_at, m.id), '[]')::text "
                 "FROM merchants m JOIN merchant_admins a ON a.merchant_id = m.id AND a.user_id = $1", MERCHANT_JSON);
    PGresult *res = si_db_exec(ctx->db, sql, one ? 2 : 1, p, &err);
    if (res == NULL)
        return si_response_from_error(resp, &err);
    if (PQntuples(res) == 0) {
        PQclear(res);
        return si_response_error(resp, 404, "not_found", "no such merchant");
    }
    json_t *v = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    PQclear(res);
    json_t *out = v == NULL ? NULL : one ? v : json_pack("{s:b, s:o}", "success", 1, "merchants", v);
    if (out == NULL)
        return si_response_error(resp, 500, "internal", "out of memory");
    int rc = si_response_json(resp, 200, out);
    json_decref(out);
    return rc;
}

int merchants_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    const char *m = req->method;
    /* GET /api/merchants/:id/customers/:customer_id/loyalty: modules/cdc answers it. */
    if (loyalty_api_owns(req->path))
        return loyalty_handle(ctx, req, resp);
    if (strcmp(req->path, MERCHANTS_PREFIX) == 0 || strcmp(req->path, MERCHANTS_PREFIX "/") == 0) {
        if (strcmp(m, "POST") == 0)
            return create_merchant(ctx, req, resp);
        if (strcmp(m, "GET") == 0)
            return get_merchants(ctx, req, resp, NULL);
        return si_response_error(resp, 405, "method_not_allowed", "use POST or GET for /api/merchants");
    }
    if (strncmp(req->path, MERCHANTS_PREFIX "/", strlen(MERCHANTS_PREFIX) + 1) != 0)
        return si_response_error(resp, 404, "not_found", "no such endpoint");
    const char *rest = req->path + strlen(MERCHANTS_PREFIX) + 1;
    char id_text[SI_UUID_LEN + 8], id[SI_UUID_LEN + 1];
    size_t idlen = strcspn(rest, "/");
    if (idlen >= sizeof id_text)
        return si_response_error(resp, 404, "not_found", "no such merchant");
    memcpy(id_text, rest, idlen);
    id_text[idlen] = '\0';
    if (si_uuid_normalize(id_text, id) != 0)
        return si_response_error(resp, 404, "not_found", "no such merchant");
    const char *tail = rest + idlen;
    if (*tail == '\0') {
        if (strcmp(m, "GET") != 0)
            return si_response_error(resp, 405, "method_not_allowed", "use GET for /api/merchants/{id}");
        return get_merchants(ctx, req, resp, id);
    }
    for (size_t k = 0; k < N_KINDS; k++)
        if (strcmp(tail + 1, KINDS[k].path) == 0) {
            if (strcmp(m, "PUT") != 0)
                return si_response_error(resp, 405, "method_not_allowed", "use PUT for /api/merchants/{id}/%s",
                                         KINDS[k].path);
            return put_reference(ctx, req, resp, id, &KINDS[k]);
        }
    return si_response_error(resp, 404, "not_found", "no such endpoint");
}
