/* tl_client.h: the TrueLayer client (Data API v1 and its auth server) that every
 * bank responder and bank task goes through; part of libbank.
 *
 * Three layers, each usable on its own:
 *   settings      TRUELAYER_* and SMARTIMPORT_TOKEN_KEY, read once (tl_settings_load);
 *   wire calls    token exchange/refresh, accounts, transactions: one HTTP call each
 *                 through the runtime's si_http client, no database;
 *   connections   a user's stored connection (migration 0011): its access token
 *                 decrypted and refreshed when due (tl_access_token), and the one-call
 *                 fetch that refreshes once on a 401 and tries again (tl_fetch_for).
 *
 * Errors are a struct si_error whose code a caller can act on:
 *   not_found          404  no such connection for this user (another user's looks the same)
 *   reauth_required    409  the bank refused the refresh (invalid_grant: consent expired or
 *                           revoked) or there is no refresh token; the connection's state
 *                           says so from then on, and every later call is this 409 at once
 *   invalid_grant      400  an authorization code the bank refused (used, expired, wrong
 *                           redirect_uri)
 *   token_expired      401  a data call answered 401 (the caller refreshes and retries once:
 *                           tl_access_token with `rejected`, or tl_fetch_for does it; a
 *                           second 401 there is bank_error)
 *   rate_limited       429  the bank answered 429; call->retry_after_ms says how long it asked
 *                           for (-1 when it did not say).  Never slept through here: a sync
 *                           pauses that account and goes on with the others
 *   bank_unavailable   503  5xx or no connection after si_http's own few retries, or a timeout
 *   bank_error         502  any other answer (4xx) or an answer that is not what the protocol says
 *   bank_not_configured 503 TRUELAYER_CLIENT_ID / _SECRET or the token key are not set
 * Nothing here logs a token, a secret, an account number or a transaction's text: log lines
 * carry the connection id, HTTP status, attempts and error codes only. */
#ifndef TL_CLIENT_H
#define TL_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "si_crypt.h"
#include "si_db.h"
#include "si_error.h"
#include "si_http.h"

#define TL_AUTH_URL_DEFAULT   "https://auth.truelayer.com"
#define TL_API_URL_DEFAULT    "https://api.truelayer.com"
#define TL_TIMEOUT_MS_DEFAULT 15000                 /* TRUELAYER_TIMEOUT_MS: one attempt */
#define TL_DEADLINE_MS_DEFAULT 30000                /* TRUELAYER_DEADLINE_MS: a call, retries included */
#define TL_ATTEMPTS_DEFAULT   3                     /* TRUELAYER_ATTEMPTS: 5xx / no connection */
#define TL_MAX_RESPONSE_DEFAULT (32LL * 1024 * 1024) /* TRUELAYER_MAX_RESPONSE_BYTES: one answer */
#define TL_REFRESH_MARGIN_S   60                    /* a token expiring sooner is refreshed first */
#define TL_TEXT_MAX           2048                  /* code, redirect_uri, token: bytes */
#define TL_ACCOUNT_ID_MAX     200                   /* bytes, as sql/0011 checks */
#define TL_URL_MAX            2048
#define TL_PROVIDERS_DEFAULT  "uk-ob-all uk-oauth-all" /* TRUELAYER_PROVIDERS: the auth link's providers */
#define TL_PROVIDERS_MAX      256                   /* bytes, with the NUL */

struct tl_settings {
    char auth_url[TL_URL_MAX];   /* TRUELAYER_AUTH_URL, no trailing '/' */
    char api_url[TL_URL_MAX];    /* TRUELAYER_API_URL, no trailing '/' */
    char providers[TL_PROVIDERS_MAX]; /* TRUELAYER_PROVIDERS: space-separated provider ids/scopes */
    const char *client_id;       /* TRUELAYER_CLIENT_ID (points into envp), NULL when unset */
    const char *client_secret;   /* TRUELAYER_CLIENT_SECRET (points into envp), NULL when unset */
    struct si_crypt_key key;     /* SMARTIMPORT_TOKEN_KEY; key.set false when unset (trust-body only) */
    long long timeout_ms;        /* TRUELAYER_TIMEOUT_MS (15000, 100..600000) */
    long long deadline_ms;       /* TRUELAYER_DEADLINE_MS (45000, >= timeout, ..3600000) */
    int attempts;                /* TRUELAYER_ATTEMPTS (3, 1..SI_HTTP_ATTEMPTS_MAX) */
    long long max_response;      /* TRUELAYER_MAX_RESPONSE_BYTES (32 MiB, 64 KiB..1 GiB) */
};

/* Reads the settings from envp.  Strict: a URL that is not http(s)://, a number out of its
 * bounds or a token key that is not 64 hex digits is an error; so is a missing
 * SMARTIMPORT_TOKEN_KEY unless SMARTIMPORT_AUTH=trust-body (jwt mode, the default, refuses
 * to start without it).  Missing client id/secret is not an error here: calls answer
 * bank_not_configured.  0, or -1 with a 500 err naming the variable (never its value). */
int tl_settings_load(struct tl_settings *s, char *const *envp, struct si_error *err);
/* Wipes the key; safe to call twice. */
void tl_settings_cleanup(struct tl_settings *s);
/* 0 when client id, secret and key are all set; else -1 with 503 bank_not_configured. */
int tl_settings_ready(const struct tl_settings *s, struct si_error *err);

/* What one call to the bank did (for logs and the caller's pacing). */
struct tl_call {
    long status;            /* the last answer's HTTP status, 0 when none came */
    long retry_after_ms;    /* a 429's Retry-After in ms, -1 when none */
    int attempts;
    double ms;
};

/* A token pair the auth server answered.  Strings malloc'd; tl_tokens_clear wipes and frees. */
struct tl_tokens {
    char *access_token;
    char *refresh_token;    /* NULL when the bank gave none */
    long long expires_in;   /* seconds, > 0 */
};
void tl_tokens_clear(struct tl_tokens *t);

/* POST $TRUELAYER_AUTH_URL/connect/token grant_type=authorization_code.  A 400 with
 * {"error":"invalid_grant"} is err invalid_grant (400). */
int tl_exchange_code(struct si_http_client *http, const struct tl_settings *s, const char *code,
                     const char *redirect_uri, struct tl_tokens *out, struct tl_call *call, struct si_error *err);
/* The same with grant_type=refresh_token.  invalid_grant is err reauth_required (409). */
int tl_refresh_tokens(struct si_http_client *http, const struct tl_settings *s, const char *refresh_token,
                      struct tl_tokens *out, struct tl_call *call, struct si_error *err);

/* GET $TRUELAYER_API_URL/data/v1/accounts: *out_results is the answer's "results" array
 * (the caller json_decref's it). */
int tl_fetch_accounts(struct si_http_client *http, const struct tl_settings *s, const char *token,
                      json_t **out_results, struct tl_call *call, struct si_error *err);

/* GET .../data/v1/accounts/{account_id}/transactions?from=&to= (pending: .../transactions/pending,
 * from/to sent too).  from, to: "YYYY-MM-DD" (or NULL: the bank's default window).
 * *out_results: the "results" array, as the bank sent it (amounts are JSON numbers; see
 * tl_amount_minor).  Retries 5xx/no connection a little (TRUELAYER_ATTEMPTS) but never a 429. */
int tl_fetch_transactions(struct si_http_client *http, const struct tl_settings *s, const char *token,
                          const char *account_id, const char *from, const char *to, bool pending,
                          json_t **out_results, struct tl_call *call, struct si_error *err);

/* The decrypted access token of the caller's connection (*out_token malloc'd: free it with
 * si_crypt_free_secret).  Refreshed first (grant_type=refresh_token; both new tokens stored
 * sealed again, in one transaction that holds the connection's row, so concurrent syncs of
 * one connection refresh once and never spend a rotated refresh token twice) when it
 * expires within TL_REFRESH_MARGIN_S, or when `rejected` (may be NULL) is the token the
 * bank just answered 401 to and it is still the stored one.  invalid_grant → the
 * connection's state becomes reauth_required (committed) and err reauth_required (409).
 * Must be called outside a transaction on db. */
int tl_access_token(struct si_db *db, struct si_http_client *http, const struct tl_settings *s,
                    const char *user_id, const char *connection_id, const char *rejected, char **out_token,
                    struct si_error *err);

/* tl_access_token + tl_fetch_transactions, refreshing once and trying again when the data
 * call answers 401 (a second 401, with the new token, is 502 bank_error). */
int tl_fetch_for(struct si_db *db, struct si_http_client *http, const struct tl_settings *s, const char *user_id,
                 const char *connection_id, const char *account_id, const char *from, const char *to, bool pending,
                 json_t **out_results, struct tl_call *call, struct si_error *err);

/* tl_access_token + tl_fetch_accounts with the same refresh-once-on-401. */
int tl_fetch_accounts_for(struct si_db *db, struct si_http_client *http, const struct tl_settings *s,
                          const char *user_id, const char *connection_id, json_t **out_results, struct tl_call *call,
                          struct si_error *err);

#define BANK_AMOUNT_MAX 10000000000000LL   /* minor units, either way: the statement parsers' limit */

/* A JSON number's text ("-12.5", "0.29", "1.2e3") as exact minor units of a currency
 * with `exponent` decimals (bank_amount.c).  No floating point: digits are shifted,
 * never rounded.  0; -1 for text that is not a JSON number ("invalid"), more decimals
 * than the currency has that are not zeros ("not_exact"), or beyond BANK_AMOUNT_MAX
 * ("out_of_range"); *out_reason (may be NULL) names which. */
int bank_amount_minor(const char *text, int exponent, long long *out, const char **out_reason);

/* A transaction's "amount" (a JSON number: integer or real, as jansson parsed it) as
 * exact minor units: the real is printed with 15 significant digits, the fewest every
 * amount a bank sends survives unchanged, and that text goes through bank_amount_minor
 * (1234567.89 -> 123456789, 0.1 -> 10, -12.345 at 3 -> -12345).  0 or -1. */
int tl_amount_minor(const json_t *amount, int exponent, long long *out_minor);

/* The additional authenticated data of a connection's sealed token ("<connection>/<user>/<which>",
 * which = "access" or "refresh"): out holds at least TL_AAD_MAX bytes. */
#define TL_AAD_MAX 128
void tl_token_aad(const char *connection_id, const char *user_id, const char *which, char *out);

/* Seals a token for a connection's row: *out_hex (malloc'd) is the blob as hex for
 * decode($n, 'hex').  0 or -1 with err. */
int tl_seal_token_hex(const struct tl_settings *s, const char *connection_id, const char *user_id, const char *which,
                      const char *token, char **out_hex, struct si_error *err);
/* Opens the hex of a sealed token (encode(col, 'hex')).  *out_token: free with si_crypt_free_secret. */
int tl_open_token_hex(const struct tl_settings *s, const char *connection_id, const char *user_id, const char *which,
                      const char *hex, char **out_token, struct si_error *err);

#endif
