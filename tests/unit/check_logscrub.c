/* check_logscrub.c: nginx error messages lose their query strings and tokens
 * (modules/logscrub/scrub.c), and keep everything else. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "scrub.h"

#define JWT "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"

static const struct {
    const char *in;
    const char *want;
} table[] = {
    /* the request line keeps its path, loses its query (and the version after it) */
    { "*7 a client request body is buffered to a temporary file /v/tmp/1, client: 127.0.0.1, "
      "server: localhost, request: \"GET /.netlify/functions/import-events?importId=1&access_token="
      JWT " HTTP/1.1\", host: \"127.0.0.1:8080\"",
      "*7 a client request body is buffered to a temporary file /v/tmp/1, client: 127.0.0.1, "
      "server: localhost, request: \"GET /.netlify/functions/import-events?[scrubbed]\", host: "
      "\"127.0.0.1:8080\"" },
    /* a request line without a query is left alone */
    { "*1 limiting connections by zone \"si_addr\", client: 127.0.0.2, server: localhost, "
      "request: \"POST /.netlify/functions/ingest-statement HTTP/1.1\", host: \"h\"",
      "*1 limiting connections by zone \"si_addr\", client: 127.0.0.2, server: localhost, "
      "request: \"POST /.netlify/functions/ingest-statement HTTP/1.1\", host: \"h\"" },
    /* a query that fakes the fields after it is dropped up to the real ones */
    { "x, request: \"GET /a?t=SECRET\", host: \"evil\", upstream: \"u HTTP/1.1\", host: \"h\"",
      "x, request: \"GET /a?[scrubbed]\", host: \"h\"" },
    /* the referrer's query too; it is the last field */
    { "x, request: \"GET /a HTTP/1.1\", host: \"h\", referrer: \"http://app/?account=NL91ABNA0417164300\"",
      "x, request: \"GET /a HTTP/1.1\", host: \"h\", referrer: \"http://app/?[scrubbed]\"" },
    /* a line cut short (no closing quote) loses everything after the '?' */
    { "x, request: \"GET /a?access_token=abc", "x, request: \"GET /a?[scrubbed]" },
    /* tokens anywhere else */
    { "client sent invalid header line: \"Authorization: Bearer abc.def-ghi\"",
      "client sent invalid header line: \"Authorization: Bearer [scrubbed]\"" },
    { "seen " JWT " here", "seen [scrubbed] here" },
    { "odd access_token=xyz%20w end", "odd access_token=[scrubbed] end" },
    /* words that merely contain the letters are kept */
    { "heyJude and Bearer", "heyJude and Bearer" },
    { "", "" },
};

START_TEST(a_message_loses_queries_and_tokens_and_keeps_the_rest)
{
    char out[1024];
    const char *in = table[_i].in;
    size_t n = logscrub_message(in, strlen(in), out, sizeof out);
    ck_assert_str_eq(out, table[_i].want);
    ck_assert_uint_eq(n, strlen(table[_i].want));
}
END_TEST

START_TEST(a_small_buffer_cuts_the_message_but_never_overflows)
{
    const char *in = "x, request: \"GET /a?access_token=abc HTTP/1.1\"";
    char out[8];
    memset(out, 'Z', sizeof out);
    size_t n = logscrub_message(in, strlen(in), out, sizeof out);
    ck_assert_uint_eq(n, 7);
    ck_assert_str_eq(out, "x, requ");
}
END_TEST

static Suite *logscrub_suite(void)
{
    Suite *s = suite_create("logscrub");
    TCase *tc = tcase_create("scrub");
    tcase_add_loop_test(tc, a_message_loses_queries_and_tokens_and_keeps_the_rest, 0,
                        sizeof table / sizeof table[0]);
    tcase_add_test(tc, a_small_buffer_cuts_the_message_but_never_overflows);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(logscrub_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
