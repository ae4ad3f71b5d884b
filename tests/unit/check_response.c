/* check_response.c: the error shape, JSON bodies, the SQLSTATE table and
 * the runtime's dispatch (405, handler failures). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "si_db_retry.h"
#include "si_json.h"
#include "si_response.h"
#include "si_server.h"
#include "testutil.h"

static json_t *body_of(const struct si_response *r)
{
    json_t *j = json_loadb(r->body.data, r->body.len, 0, NULL);
    ck_assert_ptr_nonnull(j);
    return j;
}

/* The one error shape: exactly ok=false, error, code. */
static void assert_error_shape(const struct si_response *r, int status, const char *code)
{
    ck_assert_int_eq(r->status, status);
    ck_assert_str_eq(r->content_type, "application/json");
    json_t *j = body_of(r);
    ck_assert_uint_eq(json_object_size(j), 3);
    ck_assert(json_is_false(json_object_get(j, "ok")));
    ck_assert(json_is_string(json_object_get(j, "error")));
    ck_assert_str_eq(json_string_value(json_object_get(j, "code")), code);
    json_decref(j);
}

START_TEST(errors_have_exactly_ok_error_and_code)
{
    struct si_response r;
    si_response_init(&r);
    ck_assert_int_eq(si_response_error(&r, 404, "not_found", "no import %s", "x\"y"), -1);
    assert_error_shape(&r, 404, "not_found");
    struct si_error err;
    si_error_set(&err, 409, "conflict", "already there");
    si_error_detail(&err, "secret detail");
    si_response_from_error(&r, &err);
    assert_error_shape(&r, 409, "conflict");
    ck_assert_ptr_null(strstr(r.body.data, "secret detail"));
    ck_assert_str_eq(r.log_detail, "secret detail");
    si_response_cleanup(&r);
}
END_TEST

START_TEST(a_non_error_status_given_to_the_error_helper_becomes_500)
{
    struct si_response r;
    si_response_init(&r);
    si_response_error(&r, 200, "weird", "not really an error");
    ck_assert_int_eq(r.status, 500);
    si_response_from_error(&r, NULL);
    assert_error_shape(&r, 500, "internal");
    si_response_cleanup(&r);
}
END_TEST

START_TEST(header_injection_is_refused)
{
    struct si_response r;
    si_response_init(&r);
    ck_assert_int_eq(si_response_header(&r, "X-Ok", "fine"), 0);
    ck_assert_int_eq(si_response_header(&r, "X-Bad", "a\r\nSet-Cookie: x"), -1);
    ck_assert_int_eq(si_response_header(&r, "X-Bad: y\r\n", "v"), -1);
    ck_assert_str_eq(r.headers, "X-Ok: fine\r\n");
    si_response_cleanup(&r);
}
END_TEST

static const struct {
    const char *text;
    int status;
    const char *code;
} bodies[] = {
    { "{\"a\":1}", 0, NULL },
    { "", 0, NULL },
    { "{\"a\":", 400, "invalid_json" },
    { "[1,2]", 400, "invalid_json" },
    { "\"str\"", 400, "invalid_json" },
    { "{\"a\":1,\"a\":2}", 400, "invalid_json" },
    { "{\"a\":\"\\u0000\"}", 400, "invalid_json" },
};

START_TEST(json_bodies_must_be_one_well_formed_object)
{
    json_t *out = NULL;
    struct si_error err;
    int rc = si_json_parse_object(bodies[_i].text, strlen(bodies[_i].text), &out, &err);
    if (bodies[_i].status == 0) {
        ck_assert_int_eq(rc, 0);
        ck_assert(json_is_object(out));
    } else {
        ck_assert_int_eq(rc, -1);
        ck_assert_int_eq(err.status, bodies[_i].status);
        ck_assert_str_eq(err.code, bodies[_i].code);
        ck_assert_ptr_null(out);
    }
    json_decref(out);
}
END_TEST

START_TEST(a_body_that_is_not_json_by_content_type_is_415)
{
    struct si_arena arena;
    si_arena_init(&arena, SI_ARENA_MAX);
    char *env[] = { "REQUEST_METHOD=POST", "CONTENT_TYPE=text/csv", "CONTENT_LENGTH=3", NULL };
    struct si_request req;
    struct si_error err;
    ck_assert_int_eq(si_request_from_env(&req, &arena, env, 100, &err), 0);
    struct si_buf scratch;
    si_buf_init(&scratch, 100);
    json_t *out = NULL;
    ck_assert_int_eq(si_json_read_body(&req, &scratch, &out, &err), -1);
    ck_assert_int_eq(err.status, 415);
    si_buf_cleanup(&scratch);
    si_arena_cleanup(&arena);
}
END_TEST

static const struct {
    const char *state;
    int status;
    const char *code;
} sqlstates[] = {
    { "23505", 409, "conflict" }, { "40001", 503, "retry" }, { "57014", 504, "db_timeout" },
    { "08006", 503, "db_unavailable" }, { "57P01", 503, "db_unavailable" }, { "25006", 503, "db_unavailable" },
    { "22P02", 400, "invalid_input" }, { "42P01", 500, "db_error" }, { "", 500, "db_error" },
    { NULL, 500, "db_error" },
};

START_TEST(sqlstates_map_to_http_statuses)
{
    int status;
    const char *code;
    si_error_from_sqlstate(sqlstates[_i].state, &status, &code);
    ck_assert_int_eq(status, sqlstates[_i].status);
    ck_assert_str_eq(code, sqlstates[_i].code);
}
END_TEST

/* Which database errors si_db_retry_tx runs the transaction again for. */
static const struct {
    const char *state;
    bool retryable;
} retryables[] = {
    { "40P01", true },  /* deadlock_detected */
    { "40001", true },  /* serialization_failure */
    { "40002", false }, /* transaction_integrity_constraint_violation: the same data fails again */
    { "55P03", false }, /* lock_not_available: a lock timeout the caller asked for */
    { "23505", false }, { "57014", false }, { "08006", false }, { "", false },
};

START_TEST(only_deadlocks_and_serialization_failures_are_retried)
{
    struct si_error err;
    si_error_set(&err, 503, "retry", "x");
    snprintf(err.sqlstate, sizeof err.sqlstate, "%s", retryables[_i].state);
    ck_assert_msg(si_db_error_retryable(&err) == retryables[_i].retryable, "sqlstate '%s'", retryables[_i].state);
}
END_TEST

START_TEST(an_error_without_a_sqlstate_or_no_error_is_not_retried)
{
    struct si_error err;
    si_error_set(&err, 503, "db_unavailable", "database unavailable");
    ck_assert(!si_db_error_retryable(&err));
    ck_assert(!si_db_error_retryable(NULL));
}
END_TEST

static int failing_handler(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    return -1;
}

static int ok_handler(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    json_t *j = json_pack("{s:b}", "ok", 1);
    si_response_json(resp, 200, j);
    json_decref(j);
    return 0;
}

static void dispatch(const struct si_function *fn, const char *method, struct si_response *r)
{
    struct si_arena arena;
    si_arena_init(&arena, SI_ARENA_MAX);
    char m[64];
    snprintf(m, sizeof m, "REQUEST_METHOD=%s", method);
    char *env[] = { m, NULL };
    struct si_request req;
    struct si_error err;
    ck_assert_int_eq(si_request_from_env(&req, &arena, env, 100, &err), 0);
    struct si_ctx ctx = { .function = fn, .arena = &arena };
    si_response_reset(r);
    si_server_dispatch(&ctx, &req, r);
    si_arena_cleanup(&arena);
}

START_TEST(a_method_the_function_does_not_take_is_405_with_allow)
{
    struct si_function fn = { .name = "t", .methods = "GET,HEAD", .handle = ok_handler };
    struct si_response r;
    si_response_init(&r);
    dispatch(&fn, "POST", &r);
    assert_error_shape(&r, 405, "method_not_allowed");
    ck_assert_ptr_nonnull(strstr(r.headers, "Allow: GET,HEAD\r\n"));
    dispatch(&fn, "GET", &r);
    ck_assert_int_eq(r.status, 200);
    dispatch(&fn, "GE", &r);
    ck_assert_int_eq(r.status, 405);
    si_response_cleanup(&r);
}
END_TEST

START_TEST(a_handler_failing_without_an_answer_becomes_a_json_500)
{
    struct si_function fn = { .name = "t", .methods = "POST", .handle = failing_handler };
    struct si_response r;
    si_response_init(&r);
    dispatch(&fn, "POST", &r);
    assert_error_shape(&r, 500, "internal");
    si_response_cleanup(&r);
}
END_TEST

static Suite *response_suite(void)
{
    Suite *s = suite_create("response");
    TCase *tc = tcase_create("errors");
    tcase_add_test(tc, errors_have_exactly_ok_error_and_code);
    tcase_add_test(tc, a_non_error_status_given_to_the_error_helper_becomes_500);
    tcase_add_test(tc, header_injection_is_refused);
    tcase_add_loop_test(tc, sqlstates_map_to_http_statuses, 0, sizeof sqlstates / sizeof sqlstates[0]);
    tcase_add_loop_test(tc, only_deadlocks_and_serialization_failures_are_retried, 0,
                        sizeof retryables / sizeof retryables[0]);
    tcase_add_test(tc, an_error_without_a_sqlstate_or_no_error_is_not_retried);
    suite_add_tcase(s, tc);
    tc = tcase_create("json");
    tcase_add_loop_test(tc, json_bodies_must_be_one_well_formed_object, 0, sizeof bodies / sizeof bodies[0]);
    tcase_add_test(tc, a_body_that_is_not_json_by_content_type_is_415);
    suite_add_tcase(s, tc);
    tc = tcase_create("dispatch");
    tcase_add_test(tc, a_method_the_function_does_not_take_is_405_with_allow);
    tcase_add_test(tc, a_handler_failing_without_an_answer_becomes_a_json_500);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(response_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
