/* tl_token.c: a user's stored connection (truelayer_connections, sql/0011) and its
 * access token: decrypted, refreshed when due, refreshed once after a 401.
 *
 * The one design idea: refreshes of one connection take turns on its row.  TrueLayer's
 * refresh tokens rotate (each works once), and up to BANK_SYNC_PARALLEL accounts of one
 * connection sync at once; two that refreshed at the same time would spend the same
 * refresh token twice, and the loser's invalid_grant would wrongly end the consent.  So a
 * refresh runs in a transaction that holds the row (SELECT ... FOR UPDATE) across the
 * token call and looks again after taking it: when another worker refreshed meanwhile,
 * its new token is used and the bank is not asked.  The common path (a valid token) is
 * one read without a lock.
 *
 * Tokens are sealed with si_crypt under SMARTIMPORT_TOKEN_KEY, the additional data
 * naming the row and the token ("<connection>/<user>/access"), so neither a blob moved
 * to another row nor the refresh blob swapped into the access column opens. */
#include "tl_client.h"
#include "si_log.h"
#include "si_uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tl_token_aad(const char *connection_id, const char *user_id, const char *which, char *out)
{
    snprintf(out, TL_AAD_MAX, "%s/%s/%s", connection_id, user_id, which);
}

int tl_seal_token_hex(const struct tl_settings *s, const char *connection_id, const char *user_id, const char *which,
                      const char *token, char **out_hex, struct si_error *err)
{
    *out_hex = NULL;
    char aad[TL_AAD_MAX];
    tl_token_aad(connection_id, user_id, which, aad);
    unsigned char *blob = NULL;
    size_t len = 0;
    if (si_crypt_seal(&s->key, token, strlen(token), aad, strlen(aad), &blob, &len, err) != 0)
        return -1;
    char *hex = malloc(2 * len + 1);
    if (hex == NULL) {
        free(blob);
        return si_error_set(err, 500, "internal", "out of memory");
    }
    si_crypt_hex(blob, len, hex);
    free(blob);
    *out_hex = hex;
    return 0;
}

int tl_open_token_hex(const struct tl_settings *s, const char *connection_id, const char *user_id, const char *which,
                      const char *hex, char **out_token, struct si_error *err)
{
    *out_token = NULL;
    size_t hl = hex != NULL ? strlen(hex) : 0;
    if (hl == 0 || hl % 2 != 0)
        return si_error_set(err, 500, "sealed_value_unreadable", "a stored secret could not be read");
    unsigned char *blob = malloc(hl / 2);
    if (blob == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    char aad[TL_AAD_MAX];
    tl_token_aad(connection_id, user_id, which, aad);
    size_t len = 0;
    int rc = -1;
    if (si_crypt_unhex(hex, blob, hl / 2) != 0)
        si_error_set(err, 500, "sealed_value_unreadable", "a stored secret could not be read");
    else
        rc = si_crypt_open(&s->key, blob, hl / 2, aad, strlen(aad), out_token, &len, err);
    free(blob);
    return rc;
}

/* The row as this module reads it. */
struct conn_row {
    bool reauth;
    bool expiring;
    char *access;    /* decrypted */
    char *refresh;   /* decrypted, NULL when none */
};

static void conn_row_clear(struct conn_row *r)
{
    si_crypt_free_secret(r->access);
    si_crypt_free_secret(r->refresh);
    memset(r, 0, sizeof *r);
}

#define MARGIN_S_TEXT "60"   /* TL_REFRESH_MARGIN_S */
_Static_assert(TL_REFRESH_MARGIN_S == 60, "MARGIN_S_TEXT follows TL_REFRESH_MARGIN_S");

static int read_row(struct si_db *db, const struct tl_settings *s, const char *user, const char *conn, bool lock,
                    struct conn_row *out, struct si_error *err)
{
    memset(out, 0, sizeof *out);
    const char *p[] = { conn, user };
    PGresult *res = si_db_exec(db,
        lock ? "SELECT state, encode(access_token_enc, 'hex'), encode(refresh_token_enc, 'hex'), "
               "token_expires_at <= now() + interval '" MARGIN_S_TEXT " seconds' "
               "FROM truelayer_connections WHERE id = $1::uuid AND user_id = $2::uuid FOR UPDATE"
             : "SELECT state, encode(access_token_enc, 'hex'), encode(refresh_token_enc, 'hex'), "
               "token_expires_at <= now() + interval '" MARGIN_S_TEXT " seconds' "
               "FROM truelayer_connections WHERE id = $1::uuid AND user_id = $2::uuid",
        2, p, err);
    if (res == NULL)
        return -1;
    int rc = -1;
    if (PQntuples(res) != 1) {
        si_error_set(err, 404, "not_found", "no such bank connection");
        goto out;
    }
    if (si_db_get_bool(res, 0, 3, &out->expiring) != 0) {
        si_db_bad_value(err, "truelayer_connections.token_expires_at");
        goto out;
    }
    out->reauth = strcmp(PQgetvalue(res, 0, 0), "reauth_required") == 0;
    if (out->reauth) {
        rc = 0;
        goto out;
    }
    if (tl_open_token_hex(s, conn, user, "access", si_db_get_text(res, 0, 1), &out->access, err) != 0)
        goto out;
    const char *rhex = si_db_get_text(res, 0, 2);
    if (rhex != NULL && tl_open_token_hex(s, conn, user, "refresh", rhex, &out->refresh, err) != 0)
        goto out;
    rc = 0;
out:
    PQclear(res);
    if (rc != 0)
        conn_row_clear(out);
    return rc;
}

static int reauth_error(struct si_error *err)
{
    return si_error_set(err, 409, "reauth_required",
                        "the bank connection must be authorised again (consent expired or revoked): connect it again");
}

/* A token the caller may use as it is: not expiring, and not the one the bank just refused. */
static bool usable(const struct conn_row *r, const char *rejected)
{
    return !r->expiring && (rejected == NULL || strcmp(r->access, rejected) != 0);
}

static int mark_reauth(struct si_db *db, const char *user, const char *conn, struct si_error *err)
{
    const char *p[] = { conn, user };
    return si_db_command(db, "UPDATE truelayer_connections SET state = 'reauth_required', updated_at = now() "
                             "WHERE id = $1::uuid AND user_id = $2::uuid", 2, p, err);
}

static int store_tokens(struct si_db *db, const struct tl_settings *s, const char *user, const char *conn,
                        const struct tl_tokens *t, struct si_error *err)
{
    char *access_hex = NULL, *refresh_hex = NULL, ttl[24];
    int rc = -1;
    if (tl_seal_token_hex(s, conn, user, "access", t->access_token, &access_hex, err) != 0 ||
        (t->refresh_token != NULL &&
         tl_seal_token_hex(s, conn, user, "refresh", t->refresh_token, &refresh_hex, err) != 0))
        goto out;
    snprintf(ttl, sizeof ttl, "%lld", t->expires_in);
    /* No new refresh token in the answer: the old one stays (the bank did not rotate it). */
    const char *p[] = { conn, user, access_hex, refresh_hex, ttl };
    rc = si_db_command(db, "UPDATE truelayer_connections SET access_token_enc = decode($3, 'hex'), "
                           "refresh_token_enc = coalesce(decode($4, 'hex'), refresh_token_enc), "
                           "token_expires_at = now() + make_interval(secs => $5::bigint), updated_at = now() "
                           "WHERE id = $1::uuid AND user_id = $2::uuid", 5, p, err);
out:
    free(access_hex);
    free(refresh_hex);
    return rc;
}

static void log_refresh(const char *msg, const char *conn, const struct tl_call *call, const struct si_error *err)
{
    si_log(err != NULL ? SI_LOG_WARN : SI_LOG_INFO, msg,
           json_pack("{s:s, s:i, s:i, s:f, s:s?}", "connection", conn, "http_status", (int)call->status, "attempts",
                     call->attempts, "ms", call->ms, "code", err != NULL ? err->code : NULL));
}

int tl_access_token(struct si_db *db, struct si_http_client *http, const struct tl_settings *s,
                    const char *user_id, const char *connection_id, const char *rejected, char **out_token,
                    struct si_error *err)
{
    *out_token = NULL;
    char user[SI_UUID_LEN + 1], conn[SI_UUID_LEN + 1];
    if (connection_id == NULL || si_uuid_normalize(connection_id, conn) != 0)
        return si_error_set(err, 400, "invalid_id", "connection_id must be a UUID");
    if (user_id == NULL || si_uuid_normalize(user_id, user) != 0)
        return si_error_set(err, 400, "invalid_field", "user_id must be a UUID");
    if (tl_settings_ready(s, err) != 0)
        return -1;
    if (si_db_in_transaction(db))
        return si_error_set(err, 500, "internal", "tl_access_token runs its own transaction");
    struct conn_row row;
    if (read_row(db, s, user, conn, false, &row, err) != 0)
        return -1;
    if (row.reauth)
        return reauth_error(err);
    if (usable(&row, rejected)) {
        *out_token = row.access;
        row.access = NULL;
        conn_row_clear(&row);
        return 0;
    }
    conn_row_clear(&row);

    /* Refresh, holding the row: look again first (another worker may have refreshed). */
    struct tl_tokens fresh = { 0 };
    struct tl_call call = { 0 };
    int rc = -1;
    if (si_db_begin(db, err) != 0)
        return -1;
    if (read_row(db, s, user, conn, true, &row, err) != 0)
        goto out;
    if (row.reauth) {
        reauth_error(err);
        goto out;
    }
    if (usable(&row, rejected)) {
        if (si_db_commit(db, err) != 0)
            goto out;
        *out_token = row.access;
        row.access = NULL;
        rc = 0;
        goto out;
    }
    if (row.refresh == NULL) {
        /* No refresh token (no offline access granted): only a new consent helps. */
        if (mark_reauth(db, user, conn, err) != 0 || si_db_commit(db, err) != 0)
            goto out;
        si_log(SI_LOG_WARN, "bank connection needs a new consent (no refresh token)",
               json_pack("{s:s}", "connection", conn));
        reauth_error(err);
        goto out;
    }
    if (tl_refresh_tokens(http, s, row.refresh, &fresh, &call, err) != 0) {
        if (err->code != NULL && strcmp(err->code, "reauth_required") == 0) {
            struct si_error e2;
            si_error_clear(&e2);
            if (mark_reauth(db, user, conn, &e2) != 0 || si_db_commit(db, &e2) != 0) {
                *err = e2;
                goto out;
            }
            log_refresh("bank refresh refused (invalid_grant): connection needs a new consent", conn, &call, err);
        } else {
            log_refresh("bank token refresh failed", conn, &call, err);
        }
        goto out;
    }
    if (store_tokens(db, s, user, conn, &fresh, err) != 0 || si_db_commit(db, err) != 0)
        goto out;
    log_refresh("bank token refreshed", conn, &call, NULL);
    *out_token = fresh.access_token;
    fresh.access_token = NULL;
    rc = 0;
out:
    if (si_db_in_transaction(db))
        si_db_rollback(db);
    conn_row_clear(&row);
    tl_tokens_clear(&fresh);
    return rc;
}

/* Runs fetch with the connection's token, and once more with a refreshed one after a 401. */
static int with_token(struct si_db *db, struct si_http_client *http, const struct tl_settings *s, const char *user_id,
                      const char *connection_id, const char *account_id, const char *from, const char *to,
                      bool pending, bool accounts, json_t **out_results, struct tl_call *call, struct si_error *err)
{
    *out_results = NULL;
    char *token = NULL;
    if (tl_access_token(db, http, s, user_id, connection_id, NULL, &token, err) != 0)
        return -1;
    int rc;
    for (int round = 0;; round++) {
        rc = accounts ? tl_fetch_accounts(http, s, token, out_results, call, err)
                      : tl_fetch_transactions(http, s, token, account_id, from, to, pending, out_results, call, err);
        bool expired = rc != 0 && err->code != NULL && strcmp(err->code, "token_expired") == 0;
        if (expired && round == 1) {
            /* A token refreshed a moment ago refused too: the bank's fault, not the caller's
             * credentials (a 401 would read as "log in again" to a client). */
            si_error_set(err, 502, "bank_error", "the bank refused a freshly refreshed access token");
            si_error_detail(err, "HTTP 401 again after a refresh");
        }
        if (!expired || round == 1)
            break;
        char *next = NULL;
        rc = tl_access_token(db, http, s, user_id, connection_id, token, &next, err);
        si_crypt_free_secret(token);
        token = next;
        if (rc != 0)
            break;
    }
    si_crypt_free_secret(token);
    return rc;
}

int tl_fetch_for(struct si_db *db, struct si_http_client *http, const struct tl_settings *s, const char *user_id,
                 const char *connection_id, const char *account_id, const char *from, const char *to, bool pending,
                 json_t **out_results, struct tl_call *call, struct si_error *err)
{
    return with_token(db, http, s, user_id, connection_id, account_id, from, to, pending, false, out_results, call,
                      err);
}

int tl_fetch_accounts_for(struct si_db *db, struct si_http_client *http, const struct tl_settings *s,
                          const char *user_id, const char *connection_id, json_t **out_results, struct tl_call *call,
                          struct si_error *err)
{
    return with_token(db, http, s, user_id, connection_id, NULL, NULL, NULL, false, true, out_results, call, err);
}
