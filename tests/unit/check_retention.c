/* check_retention.c: retention.purge's settings (modules/retention): the defaults, the
 * bounds 1..3650 of each SMARTIMPORT_RETAIN_*_DAYS (1..87600 of SMARTIMPORT_RETAIN_IDEMPOTENCY_HOURS), and the registration that a bad value
 * refuses, naming the variable. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "retention.h"

START_TEST(unset_settings_are_the_defaults)
{
    char *envp[] = { NULL };
    struct retention_settings s;
    struct si_error err;
    si_error_clear(&err);
    ck_assert_int_eq(retention_settings_load(&s, envp, &err), 0);
    ck_assert_int_eq(s.staged_days, 7);
    ck_assert_int_eq(s.jobs_days, 30);
    ck_assert_int_eq(s.events_days, 90);
    ck_assert_int_eq(s.bulk_days, 7);
    ck_assert_int_eq(s.idempotency_hours, 24);
}
END_TEST

static const struct {
    const char *var;
    const char *value;
    int ok;      /* 1: accepted as the number */
} CASES[] = {
    { "SMARTIMPORT_RETAIN_STAGED_DAYS", "1", 1 },
    { "SMARTIMPORT_RETAIN_STAGED_DAYS", "3650", 1 },
    { "SMARTIMPORT_RETAIN_STAGED_DAYS", "0", 0 },
    { "SMARTIMPORT_RETAIN_JOBS_DAYS", "3651", 0 },
    { "SMARTIMPORT_RETAIN_JOBS_DAYS", "365", 1 },
    { "SMARTIMPORT_RETAIN_EVENTS_DAYS", "-1", 0 },
    { "SMARTIMPORT_RETAIN_EVENTS_DAYS", "9x", 0 },
    { "SMARTIMPORT_RETAIN_EVENTS_DAYS", " 9", 0 },
    { "SMARTIMPORT_RETAIN_BULK_STAGED_DAYS", "14", 1 },
    { "SMARTIMPORT_RETAIN_BULK_STAGED_DAYS", "1e3", 0 },
    { "SMARTIMPORT_RETAIN_IDEMPOTENCY_HOURS", "1", 1 },
    { "SMARTIMPORT_RETAIN_IDEMPOTENCY_HOURS", "87600", 1 },
    { "SMARTIMPORT_RETAIN_IDEMPOTENCY_HOURS", "0", 0 },
    { "SMARTIMPORT_RETAIN_IDEMPOTENCY_HOURS", "87601", 0 },
    { "SMARTIMPORT_RETAIN_IDEMPOTENCY_HOURS", "24h", 0 },
};

START_TEST(each_setting_is_an_integer_from_1_to_3650)
{
    char kv[128];
    snprintf(kv, sizeof kv, "%s=%s", CASES[_i].var, CASES[_i].value);
    char *envp[] = { kv, NULL };
    struct retention_settings s;
    struct si_error err;
    si_error_clear(&err);
    int rc = retention_settings_load(&s, envp, &err);
    if (CASES[_i].ok) {
        ck_assert_int_eq(rc, 0);
        int want = (int)strtol(CASES[_i].value, NULL, 10);
        int got = strcmp(CASES[_i].var, "SMARTIMPORT_RETAIN_STAGED_DAYS") == 0 ? s.staged_days
                  : strcmp(CASES[_i].var, "SMARTIMPORT_RETAIN_JOBS_DAYS") == 0   ? s.jobs_days
                  : strcmp(CASES[_i].var, "SMARTIMPORT_RETAIN_EVENTS_DAYS") == 0 ? s.events_days
                  : strcmp(CASES[_i].var, "SMARTIMPORT_RETAIN_IDEMPOTENCY_HOURS") == 0 ? s.idempotency_hours
                                                                                 : s.bulk_days;
        ck_assert_int_eq(got, want);
    } else {
        ck_assert_int_eq(rc, -1);
        ck_assert_ptr_nonnull(strstr(err.message, CASES[_i].var));
    }
}
END_TEST

START_TEST(a_bad_value_refuses_the_registration_naming_it)
{
    char *envp[] = { "SMARTIMPORT_RETAIN_JOBS_DAYS=0", NULL };
    struct jobs_registry reg;
    struct si_error err;
    void *state = NULL;
    si_error_clear(&err);
    jobs_registry_init(&reg);
    ck_assert_int_eq(retention_register_tasks(&reg, envp, &state, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.message, "SMARTIMPORT_RETAIN_JOBS_DAYS"));
    ck_assert_int_eq(reg.n, 0);
    retention_tasks_free(state);
}
END_TEST

START_TEST(good_values_register_one_serial_task)
{
    char *envp[] = { NULL };   /* no DATABASE_URL: nothing is enqueued */
    struct jobs_registry reg;
    struct si_error err;
    void *state = NULL;
    si_error_clear(&err);
    jobs_registry_init(&reg);
    ck_assert_int_eq(retention_register_tasks(&reg, envp, &state, &err), 0);
    int i = jobs_registry_find(&reg, "retention.purge");
    ck_assert_int_ge(i, 0);
    ck_assert(reg.tasks[i].serial);
    ck_assert_int_eq(reg.tasks[i].max_concurrency, 1);
    retention_tasks_free(state);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("retention");
    TCase *tc = tcase_create("settings");
    tcase_add_test(tc, unset_settings_are_the_defaults);
    tcase_add_loop_test(tc, each_setting_is_an_integer_from_1_to_3650, 0, (int)(sizeof CASES / sizeof *CASES));
    tcase_add_test(tc, a_bad_value_refuses_the_registration_naming_it);
    tcase_add_test(tc, good_values_register_one_serial_task);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
