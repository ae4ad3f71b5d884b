/* check_auth.c: who the caller is, in jwt and trust-body modes. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "si_auth.h"
#include "si_jwt.h"

#define SECRET "auth-test-secret"
#define NOW 1700000000LL
#define ALICE "550e8400-e29b-41d4-a716-446655440000"
#define BOB "6ba7b810-9dad-11d1-80b4-00c04fd430c8"

static struct si_arena arena;
static struct si_config cfg;
static char token_alice[1024], auth_header[1100];

static void make_token(const char *sub, char *out, size_t n)
{
    json_t *claims = json_pack("{s:s, s:I}", "sub", sub, "exp", (json_int_t)(NOW + 60));
    struct si_buf b;
    si_buf_init(&b, 4096);
    ck_assert_int_eq(si_jwt_sign_hs256(claims, (const unsigned char *)SECRET, strlen(SECRET), &b), 0);
    snprintf(out, n, "%s", b.data);
    si_buf_cleanup(&b);
    json_decref(claims);
}

static void setup(void)
{
    si_arena_init(&arena, SI_ARENA_MAX);
    char *env[] = { "SMARTIMPORT_JWT_SECRET=" SECRET, NULL };
    struct si_error err;
    ck_assert_int_eq(si_config_load(&cfg, env, &err), 0);
    make_token(ALICE, token_alice, sizeof token_alice);
    snprintf(auth_header, sizeof auth_header, "HTTP_AUTHORIZATION=Bearer %s", token_alice);
}

static void teardown(void) { si_arena_cleanup(&arena); }

static void request(struct si_request *req, char **env)
{
    struct si_error err;
    ck_assert_int_eq(si_request_from_env(req, &arena, env, 1000, &err), 0);
}

static int identify(char **env, const char *body_text, char *out, struct si_error *err)
{
    struct si_request req;
    request(&req, env);
    json_t *body = body_text ? json_loads(body_text, 0, NULL) : NULL;
    int rc = si_auth_identify(&cfg, &req, body, NOW, out, err);
    json_decref(body);
    return rc;
}

START_TEST(a_bearer_token_identifies_its_subject)
{
    char *env[] = { auth_header, NULL };
    char user[SI_UUID_LEN + 1];
    struct si_error err;
    ck_assert_int_eq(identify(env, "{}", user, &err), 0);
    ck_assert_str_eq(user, ALICE);
}
END_TEST

START_TEST(a_body_user_id_equal_to_sub_is_accepted_in_any_case)
{
    char *env[] = { auth_header, NULL };
    char user[SI_UUID_LEN + 1];
    struct si_error err;
    ck_assert_int_eq(identify(env, "{\"userId\":\"550E8400-E29B-41D4-A716-446655440000\"}", user, &err), 0);
    ck_assert_str_eq(user, ALICE);
    ck_assert_int_eq(identify(env, "{\"user_id\":\"" ALICE "\"}", user, &err), 0);
}
END_TEST

START_TEST(a_body_user_id_that_differs_from_sub_is_403)
{
    char *env[] = { auth_header, NULL };
    char user[SI_UUID_LEN + 1];
    struct si_error err;
    ck_assert_int_eq(identify(env, "{\"userId\":\"" BOB "\"}", user, &err), -1);
    ck_assert_int_eq(err.status, 403);
    ck_assert_str_eq(err.code, "user_mismatch");
    ck_assert_str_eq(user, "");
}
END_TEST

static const char *bad_bodies[] = {
    "{\"userId\":\"not-a-uuid\"}",
    "{\"userId\":42}",
    "{\"userId\":\"" ALICE "\",\"user_id\":\"" BOB "\"}",
    "{\"userId\":\"550e8400e29b41d4a716446655440000\"}",
    "{\"userId\":\"550e8400-e29b-41d4-a716-44665544000g\"}",
};

START_TEST(a_user_id_that_is_not_a_uuid_is_400)
{
    char *env[] = { auth_header, NULL };
    char user[SI_UUID_LEN + 1];
    struct si_error err;
    ck_assert_int_eq(identify(env, bad_bodies[_i], user, &err), -1);
    ck_assert_int_eq(err.status, 400);
    ck_assert_str_eq(err.code, "invalid_user_id");
}
END_TEST

START_TEST(no_token_or_another_scheme_is_401)
{
    char *none[] = { NULL };
    char *basic[] = { "HTTP_AUTHORIZATION=Basic YWxhZGRpbjpvcGVuc2VzYW1l", NULL };
    char *empty[] = { "HTTP_AUTHORIZATION=Bearer ", NULL };
    char user[SI_UUID_LEN + 1];
    struct si_error err;
    ck_assert_int_eq(identify(none, "{}", user, &err), -1);
    ck_assert_int_eq(err.status, 401);
    ck_assert_int_eq(identify(basic, "{}", user, &err), -1);
    ck_assert_int_eq(err.status, 401);
    ck_assert_int_eq(identify(empty, "{}", user, &err), -1);
    ck_assert_int_eq(err.status, 401);
}
END_TEST

static int identify_flags(char **env, unsigned flags, struct si_identity *out, struct si_error *err)
{
    struct si_request req;
    request(&req, env);
    return si_auth_identify_caller(&cfg, &req, NULL, NOW, flags, out, err);
}

START_TEST(an_access_token_query_parameter_works_where_the_route_opts_in)
{
    char query[1200];
    snprintf(query, sizeof query, "QUERY_STRING=importId=x&access_token=%s", token_alice);
    char *env[] = { query, NULL };
    struct si_identity who;
    struct si_error err;
    ck_assert_int_eq(identify_flags(env, SI_AUTH_QUERY_TOKEN, &who, &err), 0);
    ck_assert_str_eq(who.user_id, ALICE);
}
END_TEST

/* Every way of putting the token in the URL, for a route that did not opt in:
 * the query before the token, and whether the token follows. */
static const struct {
    const char *query;
    bool token;
} token_urls[] = {
    { "QUERY_STRING=access_token=", true },
    { "QUERY_STRING=importId=x&access_token=", true },
    { "QUERY_STRING=access%5Ftoken=", true },
    { "QUERY_STRING=access_token=", false },
};

START_TEST(a_token_in_the_url_is_400_token_in_url_by_default)
{
    char query[1200];
    snprintf(query, sizeof query, "%s%s", token_urls[_i].query, token_urls[_i].token ? token_alice : "");
    char *env[] = { query, NULL };
    char user[SI_UUID_LEN + 1];
    struct si_error err;
    si_error_clear(&err);
    ck_assert_int_eq(identify(env, NULL, user, &err), -1);
    ck_assert_int_eq(err.status, 400);
    ck_assert_str_eq(err.code, "token_in_url");
    ck_assert_ptr_nonnull(strstr(err.message, "Authorization header"));
    ck_assert_str_eq(user, "");
    struct si_identity who;
    si_error_clear(&err);
    ck_assert_int_eq(identify_flags(env, 0, &who, &err), -1);
    ck_assert_str_eq(err.code, "token_in_url");
}
END_TEST

START_TEST(a_token_in_the_url_is_refused_even_next_to_a_valid_header)
{
    char query[1200];
    snprintf(query, sizeof query, "QUERY_STRING=access_token=%s", token_alice);
    char *env[] = { auth_header, query, NULL };
    char user[SI_UUID_LEN + 1];
    struct si_error err;
    si_error_clear(&err);
    ck_assert_int_eq(identify(env, "{}", user, &err), -1);
    ck_assert_str_eq(err.code, "token_in_url");
}
END_TEST

START_TEST(the_identity_carries_the_tokens_expiry)
{
    char *env[] = { auth_header, NULL };
    struct si_identity who;
    struct si_error err;
    ck_assert_int_eq(identify_flags(env, 0, &who, &err), 0);
    ck_assert_str_eq(who.user_id, ALICE);
    ck_assert_int_eq(who.expires_at, NOW + 60);
}
END_TEST

START_TEST(a_token_whose_subject_is_not_a_uuid_is_400)
{
    char tok[1024], hdr[1100];
    make_token("user_123", tok, sizeof tok);
    snprintf(hdr, sizeof hdr, "HTTP_AUTHORIZATION=Bearer %s", tok);
    char *env[] = { hdr, NULL };
    char user[SI_UUID_LEN + 1];
    struct si_error err;
    ck_assert_int_eq(identify(env, "{}", user, &err), -1);
    ck_assert_int_eq(err.status, 400);
}
END_TEST

START_TEST(trust_body_mode_takes_the_id_from_the_body_or_query)
{
    char *env_cfg[] = { "SMARTIMPORT_AUTH=trust-body", NULL };
    struct si_error err;
    ck_assert_int_eq(si_config_load(&cfg, env_cfg, &err), 0);
    char *env[] = { NULL };
    char user[SI_UUID_LEN + 1];
    ck_assert_int_eq(identify(env, "{\"userId\":\"" BOB "\"}", user, &err), 0);
    ck_assert_str_eq(user, BOB);
    char *q[] = { "QUERY_STRING=user_id=" ALICE, NULL };
    ck_assert_int_eq(identify(q, NULL, user, &err), 0);
    ck_assert_str_eq(user, ALICE);
    ck_assert_int_eq(identify(env, "{}", user, &err), -1);
    ck_assert_int_eq(err.status, 400);
    ck_assert_int_eq(identify(env, "{\"userId\":\"bob\"}", user, &err), -1);
    ck_assert_int_eq(err.status, 400);
    char *tok[] = { "QUERY_STRING=user_id=" ALICE "&access_token=x", NULL };
    ck_assert_int_eq(identify(tok, NULL, user, &err), -1);
    ck_assert_str_eq(err.code, "token_in_url");
    struct si_identity who;
    ck_assert_int_eq(identify_flags(q, 0, &who, &err), 0);
    ck_assert_int_eq(who.expires_at, 0);
}
END_TEST

START_TEST(jwt_mode_without_a_secret_is_a_500_not_a_pass)
{
    char *env_cfg[] = { NULL };
    struct si_error err;
    ck_assert_int_eq(si_config_load(&cfg, env_cfg, &err), 0);
    char *env[] = { auth_header, NULL };
    char user[SI_UUID_LEN + 1];
    ck_assert_int_eq(identify(env, "{}", user, &err), -1);
    ck_assert_int_eq(err.status, 500);
}
END_TEST

static Suite *auth_suite(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("jwt");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_bearer_token_identifies_its_subject);
    tcase_add_test(tc, a_body_user_id_equal_to_sub_is_accepted_in_any_case);
    tcase_add_test(tc, a_body_user_id_that_differs_from_sub_is_403);
    tcase_add_loop_test(tc, a_user_id_that_is_not_a_uuid_is_400, 0, sizeof bad_bodies / sizeof bad_bodies[0]);
    tcase_add_test(tc, no_token_or_another_scheme_is_401);
    tcase_add_test(tc, an_access_token_query_parameter_works_where_the_route_opts_in);
    tcase_add_loop_test(tc, a_token_in_the_url_is_400_token_in_url_by_default, 0,
                        sizeof token_urls / sizeof token_urls[0]);
    tcase_add_test(tc, a_token_in_the_url_is_refused_even_next_to_a_valid_header);
    tcase_add_test(tc, the_identity_carries_the_tokens_expiry);
    tcase_add_test(tc, a_token_whose_subject_is_not_a_uuid_is_400);
    tcase_add_test(tc, jwt_mode_without_a_secret_is_a_500_not_a_pass);
    suite_add_tcase(s, tc);
    tc = tcase_create("trust-body");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, trust_body_mode_takes_the_id_from_the_body_or_query);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(auth_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
