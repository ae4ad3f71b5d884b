/* check_db_message.c: what of a PostgreSQL error message may reach a log
 * (si_db_log_safe_message): object names yes, quoted values and DETAIL lines no. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "si_db.h"

static const struct {
    const char *in;
    const char *want;
} table[] = {
    { "duplicate key value violates unique constraint \"imports_user_id_file_sha256_key\"",
      "duplicate key value violates unique constraint \"imports_user_id_file_sha256_key\"" },
    { "invalid input syntax for type uuid: \"NL91ABNA0417164300\"",
      "invalid input syntax for type uuid: \"?\"" },
    { "value \"99999999999\" is out of range for type integer",
      "value \"?\" is out of range for type integer" },
    { "invalid input value for enum import_status: \"coffee\"",
      "invalid input value for enum import_status: \"?\"" },
    { "null value in column \"user_id\" of relation \"imports\" violates not-null constraint",
      "null value in column \"user_id\" of relation \"imports\" violates not-null constraint" },
    /* a name-like word before a value that is not an identifier */
    { "column \"TESCO STORES 3297\" does not exist", "column \"?\" does not exist" },
    /* only the first line: libpq's text can carry DETAIL */
    { "ERROR:  duplicate key value violates unique constraint \"k\"\nDETAIL:  Key (user_id)=(x) already exists.\n",
      "ERROR:  duplicate key value violates unique constraint \"k\"" },
    { "unterminated \"quote with IBAN DE89370400440532013000", "unterminated \"?\"" },
    { "", "" },
};

START_TEST(a_message_keeps_object_names_and_loses_values)
{
    char out[512];
    si_db_log_safe_message(table[_i].in, out, sizeof out);
    ck_assert_str_eq(out, table[_i].want);
}
END_TEST

START_TEST(a_small_buffer_is_never_overrun_and_null_is_empty)
{
    char out[12];
    si_db_log_safe_message("relation \"abcdefghijkl\" x", out, sizeof out);
    ck_assert_str_eq(out, "relation");
    si_db_log_safe_message(NULL, out, sizeof out);
    ck_assert_str_eq(out, "");
}
END_TEST

static Suite *db_message_suite(void)
{
    Suite *s = suite_create("db_message");
    TCase *tc = tcase_create("log_safe");
    tcase_add_loop_test(tc, a_message_keeps_object_names_and_loses_values, 0, sizeof table / sizeof table[0]);
    tcase_add_test(tc, a_small_buffer_is_never_overrun_and_null_is_empty);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(db_message_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
