/* check_request.c: query parsing, request building from FastCGI params and
 * the bounded body read. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "si_request.h"
#include "testutil.h"

static struct si_arena arena;

static void setup(void) { si_arena_init(&arena, SI_ARENA_MAX); }
static void teardown(void) { si_arena_cleanup(&arena); }

static const struct {
    const char *query;
    size_t n;
    const char *name0, *value0, *name1, *value1;
} good_queries[] = {
    { "", 0, NULL, NULL, NULL, NULL },
    { "a=1", 1, "a", "1", NULL, NULL },
    { "a=1&b=two", 2, "a", "1", "b", "two" },
    { "q=x%20y+z", 1, "q", "x y z", NULL, NULL },
    { "&&a=1&&", 1, "a", "1", NULL, NULL },
    { "flag&b=", 2, "flag", "", "b", "" },
    { "k%3D=v%26w", 1, "k=", "v&w", NULL, NULL },
    { "x=%C3%A9", 1, "x", "\xc3\xa9", NULL, NULL },
};

START_TEST(query_strings_decode_into_names_and_values)
{
    struct si_param *p = NULL;
    size_t n = 99;
    struct si_error err;
    ck_assert_int_eq(si_query_parse(&arena, good_queries[_i].query, &p, &n, &err), 0);
    ck_assert_uint_eq(n, good_queries[_i].n);
    if (n >= 1) {
        ck_assert_str_eq(p[0].name, good_queries[_i].name0);
        ck_assert_str_eq(p[0].value, good_queries[_i].value0);
    }
    if (n >= 2) {
        ck_assert_str_eq(p[1].name, good_queries[_i].name1);
        ck_assert_str_eq(p[1].value, good_queries[_i].value1);
    }
}
END_TEST

static const char *bad_queries[] = { "a=%zz", "a=%4", "a=%", "a=%00", "%g1=x" };

START_TEST(malformed_query_strings_are_400)
{
    struct si_param *p = NULL;
    size_t n = 0;
    struct si_error err;
    ck_assert_int_eq(si_query_parse(&arena, bad_queries[_i], &p, &n, &err), -1);
    ck_assert_int_eq(err.status, 400);
    ck_assert_str_eq(err.code, "bad_query");
}
END_TEST

START_TEST(too_many_or_too_long_query_strings_are_400)
{
    char many[SI_MAX_QUERY_PARAMS * 4 + 8] = "";
    for (int i = 0; i <= SI_MAX_QUERY_PARAMS; i++)
        strcat(many, "a=1&");
    struct si_param *p;
    size_t n;
    struct si_error err;
    ck_assert_int_eq(si_query_parse(&arena, many, &p, &n, &err), -1);
    ck_assert_int_eq(err.status, 400);

    char *longq = malloc(SI_MAX_QUERY + 2);
    memset(longq, 'a', SI_MAX_QUERY + 1);
    longq[SI_MAX_QUERY + 1] = '\0';
    ck_assert_int_eq(si_query_parse(&arena, longq, &p, &n, &err), -1);
    ck_assert_int_eq(err.status, 400);
    free(longq);
}
END_TEST

START_TEST(fastcgi_params_become_method_path_query_and_headers)
{
    char *env[] = {
        "REQUEST_METHOD=POST", "DOCUMENT_URI=/.netlify/functions/health",
        "REQUEST_URI=/.netlify/functions/health?importId=abc", "QUERY_STRING=importId=abc",
        "REQUEST_ID=r123", "CONTENT_TYPE=application/json", "CONTENT_LENGTH=5",
        "HTTP_AUTHORIZATION=Bearer t", "HTTP_LAST_EVENT_ID=42", NULL,
    };
    struct si_request req;
    struct si_error err;
    ck_assert_int_eq(si_request_from_env(&req, &arena, env, 100, &err), 0);
    ck_assert_str_eq(req.method, "POST");
    ck_assert_str_eq(req.path, "/.netlify/functions/health");
    ck_assert_str_eq(si_request_param(&req, "importId"), "abc");
    ck_assert_ptr_null(si_request_param(&req, "missing"));
    ck_assert_str_eq(req.request_id, "r123");
    ck_assert_str_eq(req.content_type, "application/json");
    ck_assert_int_eq(req.content_length, 5);
    ck_assert_str_eq(si_request_header(&req, "authorization"), "Bearer t");
    ck_assert_str_eq(si_request_header(&req, "last-event-id"), "42");
    ck_assert_str_eq(si_request_header(&req, "content-length"), "5");
}
END_TEST

START_TEST(path_falls_back_to_request_uri_without_query)
{
    char *env[] = { "REQUEST_URI=/health?x=1", NULL };
    struct si_request req;
    struct si_error err;
    ck_assert_int_eq(si_request_from_env(&req, &arena, env, 100, &err), 0);
    ck_assert_str_eq(req.path, "/health");
    ck_assert_str_eq(req.method, "GET");
    ck_assert_int_eq(req.content_length, -1);
}
END_TEST

START_TEST(content_length_over_the_limit_is_413_before_reading)
{
    char *env[] = { "REQUEST_METHOD=POST", "CONTENT_LENGTH=101", NULL };
    struct si_request req;
    struct si_error err;
    ck_assert_int_eq(si_request_from_env(&req, &arena, env, 100, &err), -1);
    ck_assert_int_eq(err.status, 413);
    ck_assert_str_eq(err.code, "payload_too_large");
}
END_TEST

START_TEST(invalid_content_length_is_400)
{
    char *env[] = { "CONTENT_LENGTH=12x", NULL };
    struct si_request req;
    struct si_error err;
    ck_assert_int_eq(si_request_from_env(&req, &arena, env, 100, &err), -1);
    ck_assert_int_eq(err.status, 400);
    char *neg[] = { "CONTENT_LENGTH=-1", NULL };
    ck_assert_int_eq(si_request_from_env(&req, &arena, neg, 100, &err), -1);
    ck_assert_int_eq(err.status, 400);
}
END_TEST

static int read_body(const char *cl, const char *data, size_t len, size_t step, size_t max,
                     struct si_buf *out, struct si_error *err)
{
    char clbuf[64];
    snprintf(clbuf, sizeof clbuf, "CONTENT_LENGTH=%s", cl);
    char *env[] = { "REQUEST_METHOD=POST", clbuf, NULL };
    struct si_request req;
    if (si_request_from_env(&req, &arena, env, max, err) != 0)
        return -1;
    struct mem_body mb = { data, len, 0, step };
    req.body_read = mem_body_read;
    req.body_src = &mb;
    return si_request_read_body(&req, out, err);
}

START_TEST(body_is_read_whole_even_in_small_pieces)
{
    struct si_buf out;
    si_buf_init(&out, 1000);
    struct si_error err;
    ck_assert_int_eq(read_body("11", "hello world", 11, 3, 100, &out, &err), 0);
    ck_assert_uint_eq(out.len, 11);
    ck_assert_str_eq(out.data, "hello world");
    si_buf_cleanup(&out);
}
END_TEST

START_TEST(body_shorter_than_content_length_is_400)
{
    struct si_buf out;
    si_buf_init(&out, 1000);
    struct si_error err;
    ck_assert_int_eq(read_body("20", "short", 5, 0, 100, &out, &err), -1);
    ck_assert_int_eq(err.status, 400);
    ck_assert_str_eq(err.code, "incomplete_body");
    si_buf_cleanup(&out);
}
END_TEST

START_TEST(body_at_the_limit_is_accepted_and_one_byte_more_is_413)
{
    struct si_buf out;
    si_buf_init(&out, 1000);
    struct si_error err;
    ck_assert_int_eq(read_body("10", "0123456789", 10, 0, 10, &out, &err), 0);
    ck_assert_int_eq(read_body("11", "0123456789A", 11, 0, 10, &out, &err), -1);
    ck_assert_int_eq(err.status, 413);
    si_buf_cleanup(&out);
}
END_TEST

START_TEST(body_can_be_read_only_once)
{
    char *env[] = { "CONTENT_LENGTH=2", NULL };
    struct si_request req;
    struct si_error err;
    ck_assert_int_eq(si_request_from_env(&req, &arena, env, 10, &err), 0);
    struct mem_body mb = { "hi", 2, 0, 0 };
    req.body_read = mem_body_read;
    req.body_src = &mb;
    struct si_buf out;
    si_buf_init(&out, 10);
    ck_assert_int_eq(si_request_read_body(&req, &out, &err), 0);
    ck_assert_int_eq(si_request_read_body(&req, &out, &err), -1);
    si_buf_cleanup(&out);
}
END_TEST

static Suite *request_suite(void)
{
    Suite *s = suite_create("request");
    TCase *tc = tcase_create("query");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, query_strings_decode_into_names_and_values, 0,
                        sizeof good_queries / sizeof good_queries[0]);
    tcase_add_loop_test(tc, malformed_query_strings_are_400, 0,
                        sizeof bad_queries / sizeof bad_queries[0]);
    tcase_add_test(tc, too_many_or_too_long_query_strings_are_400);
    suite_add_tcase(s, tc);

    tc = tcase_create("params");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, fastcgi_params_become_method_path_query_and_headers);
    tcase_add_test(tc, path_falls_back_to_request_uri_without_query);
    tcase_add_test(tc, content_length_over_the_limit_is_413_before_reading);
    tcase_add_test(tc, invalid_content_length_is_400);
    suite_add_tcase(s, tc);

    tc = tcase_create("body");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, body_is_read_whole_even_in_small_pieces);
    tcase_add_test(tc, body_shorter_than_content_length_is_400);
    tcase_add_test(tc, body_at_the_limit_is_accepted_and_one_byte_more_is_413);
    tcase_add_test(tc, body_can_be_read_only_once);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(request_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
