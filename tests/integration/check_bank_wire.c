/* check_bank_wire.c: libbank's TrueLayer client (modules/bank/tl_client.h) against the
 * stand-in server (tests/truelayer-stub, SMARTIMPORT_TEST_TRUELAYER) and a real PostgreSQL:
 * the code exchange, a window of transactions with exact minor units (0.1, 0.29,
 * 1234567.89, a 3-decimal currency), pending transactions and their booking, 401 ->
 * token_expired (and a second 401 after tl_fetch_for's refresh -> bank_error), 429 -> rate_limited with the bank's Retry-After and no retry, 5xx retried
 * then bank_unavailable, and tl_fetch_for's refresh-once on a 401 and reauth_required on
 * invalid_grant.  Skipped (77) without the stand-in or DATABASE_URL. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../modules/bank/tl_client.h"
#include "si_uuid.h"

extern char **environ;

static const char *stub_url, *db_url;
static struct tl_settings settings;
static struct si_http_client http;

static void setup(void)
{
    struct si_error err;
    ck_assert_msg(tl_settings_load(&settings, environ, &err) == 0, "settings: %s", err.message);
    ck_assert_int_eq(tl_settings_ready(&settings, &err), 0);
    si_http_client_init(&http);
}

static void teardown(void)
{
    si_http_client_cleanup(&http);
    tl_settings_cleanup(&settings);
}

/* POST the stand-in's admin endpoint (reset, script). */
static void stub(const char *what, const char *json)
{
    char url[512];
    snprintf(url, sizeof url, "%s/_stub/%s", stub_url, what);
    struct si_http_request req;
    si_http_request_init(&req);
    req.url = url;
    req.body = json;
    req.body_len = strlen(json);
    req.content_type = "application/json";
    struct si_http_result res = { 0 };
    ck_assert_int_eq(si_http_perform(&http, &req, &res), 0);
    si_http_result_cleanup(&res);
}

static long long stat(const char *key)
{
    char url[512];
    snprintf(url, sizeof url, "%s/_stub/stats", stub_url);
    struct si_http_request req;
    si_http_request_init(&req);
    req.url = url;
    struct si_http_result res = { 0 };
    json_t *doc = NULL;
    ck_assert_int_eq(si_http_json(&http, &req, NULL, &doc, &res), 0);
    long long n = (long long)json_integer_value(json_object_get(json_object_get(doc, "counts"), key));
    json_decref(doc);
    si_http_result_cleanup(&res);
    return n;
}

static void exchange(struct tl_tokens *t)
{
    static int n;
    char code[64];
    snprintf(code, sizeof code, "wire-%d-%ld-%d", (int)getpid(), (long)time(NULL), ++n);
    struct tl_call call;
    struct si_error err;
    ck_assert_msg(tl_exchange_code(&http, &settings, code, "https://app.example/cb", t, &call, &err) == 0,
                  "exchange: %s %s", err.code, err.detail);
    ck_assert_int_eq(strncmp(t->access_token, "tlat_", 5), 0);
    ck_assert_ptr_nonnull(t->refresh_token);
    ck_assert_int_gt(t->expires_in, 0);
}

static bool has_minor(const json_t *results, int exponent, long long want)
{
    size_t i;
    const json_t *tx;
    json_array_foreach(results, i, tx) {
        long long m;
        if (tl_amount_minor(json_object_get(tx, "amount"), exponent, &m) == 0 && m == want)
            return true;
    }
    return false;
}

START_TEST(a_window_of_transactions_comes_back_with_exact_minor_units)
{
    stub("reset", "{}");
    struct tl_tokens t;
    exchange(&t);
    json_t *results = NULL;
    struct tl_call call;
    struct si_error err;
    ck_assert_msg(tl_fetch_transactions(&http, &settings, t.access_token, "stub-acc-01", "2026-01-01", "2026-01-10",
                                        false, &results, &call, &err) == 0, "fetch: %s %s", err.code, err.detail);
    ck_assert_int_eq(call.status, 200);
    ck_assert_uint_eq(json_array_size(results), 10);   /* one a day, both days included */
    size_t i;
    const json_t *tx;
    json_array_foreach(results, i, tx) {
        long long m;
        ck_assert_int_eq(tl_amount_minor(json_object_get(tx, "amount"), 2, &m), 0);
        ck_assert_ptr_nonnull(json_string_value(json_object_get(tx, "transaction_id")));
    }
    ck_assert(has_minor(results, 2, -10));          /* 0.1 */
    ck_assert(has_minor(results, 2, -29));          /* 0.29 */
    ck_assert(has_minor(results, 2, 123456789));    /* 1234567.89 */
    json_decref(results);
    ck_assert_int_eq(tl_fetch_transactions(&http, &settings, t.access_token, "stub-acc-03", "2026-01-01",
                                           "2026-01-10", false, &results, &call, &err), 0);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(results, 0), "currency")), "BHD");
    ck_assert(has_minor(results, 3, -12345));       /* -12.345 BHD */
    ck_assert(has_minor(results, 3, -1));           /* -0.001 BHD */
    json_decref(results);
    tl_tokens_clear(&t);
}
END_TEST

START_TEST(a_pending_transaction_books_with_a_new_id_and_the_same_amount)
{
    stub("reset", "{}");
    struct tl_tokens t;
    exchange(&t);
    json_t *pending = NULL, *booked = NULL;
    struct tl_call call;
    struct si_error err;
    ck_assert_int_eq(tl_fetch_transactions(&http, &settings, t.access_token, "stub-acc-02", NULL, NULL, true,
                                           &pending, &call, &err), 0);
    ck_assert_uint_eq(json_array_size(pending), 1);
    const char *pid = json_string_value(json_object_get(json_array_get(pending, 0), "transaction_id"));
    long long amount;
    ck_assert_int_eq(tl_amount_minor(json_object_get(json_array_get(pending, 0), "amount"), 2, &amount), 0);
    ck_assert_int_eq(strncmp(pid, "pending-", 8), 0);
    stub("script", "{\"account_id\":\"stub-acc-02\",\"book_pending\":true}");
    json_decref(pending);
    ck_assert_int_eq(tl_fetch_transactions(&http, &settings, t.access_token, "stub-acc-02", NULL, NULL, true,
                                           &pending, &call, &err), 0);
    ck_assert_uint_eq(json_array_size(pending), 0);
    char from[16], to[16];
    time_t now = time(NULL);
    strftime(from, sizeof from, "%Y-%m-%d", gmtime(&(time_t){ now - 5 * 86400 }));
    strftime(to, sizeof to, "%Y-%m-%d", gmtime(&now));
    ck_assert_int_eq(tl_fetch_transactions(&http, &settings, t.access_token, "stub-acc-02", from, to, false, &booked,
                                           &call, &err), 0);
    const json_t *first = json_array_get(booked, 0);
    ck_assert_str_eq(json_string_value(json_object_get(first, "transaction_id")), "tx-stub-acc-02-booked-pending");
    long long booked_amount;
    ck_assert_int_eq(tl_amount_minor(json_object_get(first, "amount"), 2, &booked_amount), 0);
    ck_assert_int_eq(booked_amount, amount);
    json_decref(pending);
    json_decref(booked);
    tl_tokens_clear(&t);
}
END_TEST

START_TEST(the_banks_refusals_become_codes_the_caller_acts_on)
{
    stub("reset", "{}");
    struct tl_tokens t;
    exchange(&t);
    json_t *results = NULL;
    struct tl_call call;
    struct si_error err;
    /* 401 */
    ck_assert_int_eq(tl_fetch_transactions(&http, &settings, "tlat_not_a_token", "stub-acc-01", "2026-01-01",
                                           "2026-01-02", false, &results, &call, &err), -1);
    ck_assert_str_eq(err.code, "token_expired");
    ck_assert_int_eq(call.status, 401);
    /* 429: reported with the bank's Retry-After, never retried or slept through here */
    stub("script", "{\"account_id\":\"stub-acc-02\",\"status_429\":1,\"retry_after\":2}");
    ck_assert_int_eq(tl_fetch_transactions(&http, &settings, t.access_token, "stub-acc-02", "2026-01-01",
                                           "2026-01-02", false, &results, &call, &err), -1);
    ck_assert_str_eq(err.code, "rate_limited");
    ck_assert_int_eq(err.status, 429);
    ck_assert_int_eq(call.retry_after_ms, 2000);
    ck_assert_int_eq(call.attempts, 1);
    ck_assert_int_eq(stat("stub-acc-02/429"), 1);
    /* one 5xx: retried, then the answer */
    stub("script", "{\"account_id\":\"stub-acc-02\",\"status_5xx\":1,\"status\":502}");
    ck_assert_int_eq(tl_fetch_transactions(&http, &settings, t.access_token, "stub-acc-02", "2026-01-01",
                                           "2026-01-02", false, &results, &call, &err), 0);
    ck_assert_int_eq(call.attempts, 2);
    json_decref(results);
    /* 5xx beyond the attempts: bank_unavailable */
    stub("script", "{\"account_id\":\"stub-acc-02\",\"status_5xx\":20,\"status\":503}");
    ck_assert_int_eq(tl_fetch_transactions(&http, &settings, t.access_token, "stub-acc-02", "2026-01-01",
                                           "2026-01-02", false, &results, &call, &err), -1);
    ck_assert_str_eq(err.code, "bank_unavailable");
    ck_assert_int_eq(call.attempts, settings.attempts);
    /* an account the bank does not know */
    ck_assert_int_eq(tl_fetch_transactions(&http, &settings, t.access_token, "no such/account", "2026-01-01",
                                           "2026-01-02", false, &results, &call, &err), -1);
    ck_assert_str_eq(err.code, "bank_error");
    ck_assert_int_eq(call.status, 404);
    stub("reset", "{}");
    tl_tokens_clear(&t);
}
END_TEST

/* Stores a connection for user with the tokens t, as connect does. */
static void store_connection(struct si_db *db, const char *user, const struct tl_tokens *t, char conn[SI_UUID_LEN + 1])
{
    struct si_error err;
    PGresult *res = si_db_exec(db, "SELECT gen_random_uuid()", 0, NULL, &err);
    ck_assert_ptr_nonnull(res);
    snprintf(conn, SI_UUID_LEN + 1, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    char *a = NULL, *r = NULL;
    ck_assert_int_eq(tl_seal_token_hex(&settings, conn, user, "access", t->access_token, &a, &err), 0);
    ck_assert_int_eq(tl_seal_token_hex(&settings, conn, user, "refresh", t->refresh_token, &r, &err), 0);
    const char *p[] = { conn, user, a, r };
    ck_assert_int_eq(si_db_command(db, "INSERT INTO truelayer_connections (id, user_id, provider, access_token_enc, "
                                       "refresh_token_enc, token_expires_at) VALUES ($1, $2, 'ob-stub', "
                                       "decode($3, 'hex'), decode($4, 'hex'), now() + interval '1 hour')",
                                   4, p, &err), 0);
    free(a);
    free(r);
}

START_TEST(fetch_for_refreshes_once_after_a_401_and_stops_at_invalid_grant)
{
    stub("reset", "{}");
    struct si_db db;
    struct si_error err;
    si_db_init(&db, db_url, "check_bank_wire", 1500, 5000);
    char user[SI_UUID_LEN + 1] = "5b0c8e4e-0000-4000-8000-", conn[SI_UUID_LEN + 1];
    snprintf(user + 24, sizeof user - 24, "%012d", (int)getpid());
    struct tl_tokens t;
    exchange(&t);
    store_connection(&db, user, &t, conn);
    json_t *results = NULL;
    struct tl_call call;
    long long refreshes = stat("grant:refresh_token");
    ck_assert_int_eq(tl_fetch_for(&db, &http, &settings, user, conn, "stub-acc-01", "2026-01-01", "2026-01-03", false,
                                  &results, &call, &err), 0);
    ck_assert_uint_eq(json_array_size(results), 3);
    json_decref(results);
    ck_assert_int_eq(stat("grant:refresh_token"), refreshes);
    stub("script", "{\"expire_tokens\":true}");
    ck_assert_msg(tl_fetch_for(&db, &http, &settings, user, conn, "stub-acc-01", "2026-01-01", "2026-01-03", false,
                               &results, &call, &err) == 0, "%s %s", err.code, err.detail);
    json_decref(results);
    ck_assert_int_eq(stat("grant:refresh_token"), refreshes + 1);
    /* another user's id finds nothing */
    ck_assert_int_eq(tl_fetch_for(&db, &http, &settings, "5b0c8e4e-0000-4000-8000-ffffffffffff", conn, "stub-acc-01",
                                  NULL, NULL, false, &results, &call, &err), -1);
    ck_assert_str_eq(err.code, "not_found");
    /* the refreshed token refused too: one refresh, then bank_error (not a 401 for the caller) */
    stub("script", "{\"expire_tokens\":true,\"token_calls\":0}");
    ck_assert_int_eq(tl_fetch_for(&db, &http, &settings, user, conn, "stub-acc-01", "2026-01-01", "2026-01-03", false,
                                  &results, &call, &err), -1);
    ck_assert_str_eq(err.code, "bank_error");
    ck_assert_int_eq(err.status, 502);
    ck_assert_int_eq(stat("grant:refresh_token"), refreshes + 2);
    stub("script", "{\"token_calls\":-1}");
    stub("script", "{\"expire_tokens\":true,\"refresh_invalid_grant\":1}");
    ck_assert_int_eq(tl_fetch_for(&db, &http, &settings, user, conn, "stub-acc-01", "2026-01-01", "2026-01-03", false,
                                  &results, &call, &err), -1);
    ck_assert_str_eq(err.code, "reauth_required");
    ck_assert_int_eq(err.status, 409);
    const char *p[] = { conn };
    PGresult *res = si_db_exec(&db, "SELECT state FROM truelayer_connections WHERE id = $1", 1, p, &err);
    ck_assert_str_eq(PQgetvalue(res, 0, 0), "reauth_required");
    PQclear(res);
    si_db_command(&db, "DELETE FROM truelayer_connections WHERE id = $1", 1, p, &err);
    stub("reset", "{}");
    tl_tokens_clear(&t);
    si_db_cleanup(&db);
}
END_TEST

static Suite *wire_suite(void)
{
    Suite *s = suite_create("bank_wire");
    TCase *t = tcase_create("stand-in");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 60);
    tcase_add_test(t, a_window_of_transactions_comes_back_with_exact_minor_units);
    tcase_add_test(t, a_pending_transaction_books_with_a_new_id_and_the_same_amount);
    tcase_add_test(t, the_banks_refusals_become_codes_the_caller_acts_on);
    tcase_add_test(t, fetch_for_refreshes_once_after_a_401_and_stops_at_invalid_grant);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    stub_url = getenv("SMARTIMPORT_TEST_TRUELAYER");
    db_url = getenv("DATABASE_URL");
    if (stub_url == NULL || *stub_url == '\0' || db_url == NULL || *db_url == '\0') {
        printf("SKIP: the TrueLayer stand-in (SMARTIMPORT_TEST_TRUELAYER) or DATABASE_URL is not set\n");
        return 77;
    }
    SRunner *sr = srunner_create(wire_suite());
    srunner_set_fork_status(sr, CK_NOFORK);   /* the stand-in's state is shared: one test after another */
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
