/* check_jobs.c: the job engine's pure rules: the retry backoff (doubling, cap,
 * jitter bounds), task names, option validation and the registry. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobs.h"

static int noop(void *ctx, struct si_db *db, const struct jobs_job *job, json_t **out_state, struct si_error *err)
{
    (void)ctx, (void)db, (void)job, (void)out_state, (void)err;
    return 0;
}

START_TEST(backoff_without_jitter_doubles_up_to_the_cap)
{
    const struct jobs_retry_policy p = { .base_ms = 100, .cap_ms = 1000, .jitter_pct = 0 };
    const long long want[] = { 100, 100, 200, 400, 800, 1000, 1000 };
    for (int a = 0; a <= 6; a++)
        ck_assert_int_eq(jobs_backoff_ms(&p, a, UINT32_MAX), want[a]);
    ck_assert_int_eq(jobs_backoff_ms(&p, 1000000, 0), 1000);
}
END_TEST

START_TEST(backoff_with_jitter_stays_between_the_lower_bound_and_the_delay)
{
    const struct jobs_retry_policy p = { .base_ms = 1000, .cap_ms = 300000, .jitter_pct = 25 };
    const uint32_t rnds[] = { 0, 1, 12345, 0x7fffffffu, 0x80000000u, 0xfffffffeu, UINT32_MAX };
    for (int a = 1; a <= 20; a++) {
        long long d = 1000LL << (a - 1 < 20 ? a - 1 : 19);
        if (d > 300000)
            d = 300000;
        for (size_t i = 0; i < sizeof rnds / sizeof *rnds; i++) {
            long long got = jobs_backoff_ms(&p, a, rnds[i]);
            ck_assert_msg(got <= d && got >= d - d / 4, "attempt %d rnd %u: %lld not in [%lld, %lld]", a,
                          rnds[i], got, d - d / 4, d);
        }
        ck_assert_int_eq(jobs_backoff_ms(&p, a, 0), d);          /* rnd 0: the whole delay */
        ck_assert_int_lt(jobs_backoff_ms(&p, a, UINT32_MAX), d); /* the top: a quarter less, nearly */
    }
}
END_TEST

START_TEST(backoff_with_full_jitter_never_exceeds_the_cap_nor_goes_below_zero)
{
    const struct jobs_retry_policy p = { .base_ms = 7, .cap_ms = JOBS_BACKOFF_MAX_MS, .jitter_pct = 100 };
    for (int a = 1; a <= 64; a++) {
        long long got = jobs_backoff_ms(&p, a, UINT32_MAX);
        ck_assert_int_ge(got, 0);
        ck_assert_int_le(jobs_backoff_ms(&p, a, 0), JOBS_BACKOFF_MAX_MS);
    }
    const struct jobs_retry_policy zero = { .base_ms = 0, .cap_ms = 0, .jitter_pct = 50 };
    ck_assert_int_eq(jobs_backoff_ms(&zero, 3, 12345), 0);
}
END_TEST

START_TEST(task_names_are_dotted_lower_case_words)
{
    const char *good[] = { "workflow.phase1", "bank.sync_account", "bulk.import", "a.b.c", "t9.x_1" };
    const char *bad[] = { "", "workflow", "Workflow.phase1", "1a.b", "a..b", "a.", ".a", "a.b-c", "a b.c",
                          "a.B", "_a.b" };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        ck_assert_msg(jobs_task_name_valid(good[i]), "%s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(!jobs_task_name_valid(bad[i]), "%s", bad[i]);
    ck_assert(!jobs_task_name_valid(NULL));
    char longname[JOBS_TASK_NAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[1] = '.';
    longname[sizeof longname - 1] = '\0';
    ck_assert(!jobs_task_name_valid(longname));
}
END_TEST

START_TEST(task_options_out_of_range_are_refused_with_their_name)
{
    const struct jobs_task ok = { .name = "t.ok", .run = noop, .retry = { .base_ms = 10, .cap_ms = 100 } };
    struct si_error err;
    si_error_clear(&err);
    ck_assert_int_eq(jobs_task_validate(&ok, &err), 0);
    struct jobs_task bad[8];
    for (int i = 0; i < 8; i++)
        bad[i] = ok;
    bad[0].name = "nodot";
    bad[1].run = NULL;
    bad[2].max_concurrency = -1;
    bad[3].timeout_ms = -5;
    bad[4].retry.cap_ms = 5;                      /* below base */
    bad[5].retry.jitter_pct = 101;
    bad[6].retry.base_ms = -1;
    bad[7].retry.cap_ms = JOBS_BACKOFF_MAX_MS + 1;
    for (int i = 0; i < 8; i++) {
        si_error_clear(&err);
        ck_assert_msg(jobs_task_validate(&bad[i], &err) == -1, "case %d", i);
        ck_assert_str_eq(err.code, "bad_task");
    }
}
END_TEST

START_TEST(the_registry_finds_tasks_by_name_and_refuses_twins)
{
    struct jobs_registry reg;
    struct si_error err;
    si_error_clear(&err);
    jobs_registry_init(&reg);
    const struct jobs_task a = { .name = "m.a", .run = noop }, b = { .name = "m.b", .run = noop, .serial = true };
    ck_assert_int_eq(jobs_registry_add(&reg, &a, &err), 0);
    ck_assert_int_eq(jobs_registry_add(&reg, &b, &err), 0);
    ck_assert_int_eq(jobs_registry_find(&reg, "m.a"), 0);
    ck_assert_int_eq(jobs_registry_find(&reg, "m.b"), 1);
    ck_assert(reg.tasks[1].serial);
    ck_assert_int_eq(jobs_registry_find(&reg, "m.c"), -1);
    ck_assert_int_eq(jobs_registry_find(&reg, NULL), -1);
    ck_assert_int_eq(jobs_registry_add(&reg, &a, &err), -1);
    ck_assert_int_eq(reg.n, 2);
    const struct jobs_task bad = { .name = "m.bad", .run = noop, .max_concurrency = 5000 };
    ck_assert_int_eq(jobs_registry_add(&reg, &bad, &err), -1);
    ck_assert_int_eq(jobs_registry_find(&reg, "m.bad"), -1);
}
END_TEST

START_TEST(a_full_registry_refuses_more)
{
    static char names[JOBS_MAX_TASKS + 1][16];
    struct jobs_registry reg;
    struct si_error err;
    si_error_clear(&err);
    jobs_registry_init(&reg);
    for (int i = 0; i <= JOBS_MAX_TASKS; i++) {
        snprintf(names[i], sizeof names[i], "t.n%d", i);
        const struct jobs_task t = { .name = names[i], .run = noop };
        ck_assert_int_eq(jobs_registry_add(&reg, &t, &err), i < JOBS_MAX_TASKS ? 0 : -1);
    }
    ck_assert_int_eq(reg.n, JOBS_MAX_TASKS);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jobs");
    TCase *backoff = tcase_create("backoff");
    tcase_add_test(backoff, backoff_without_jitter_doubles_up_to_the_cap);
    tcase_add_test(backoff, backoff_with_jitter_stays_between_the_lower_bound_and_the_delay);
    tcase_add_test(backoff, backoff_with_full_jitter_never_exceeds_the_cap_nor_goes_below_zero);
    suite_add_tcase(s, backoff);
    TCase *registry = tcase_create("registry");
    tcase_add_test(registry, task_names_are_dotted_lower_case_words);
    tcase_add_test(registry, task_options_out_of_range_are_refused_with_their_name);
    tcase_add_test(registry, the_registry_finds_tasks_by_name_and_refuses_twins);
    tcase_add_test(registry, a_full_registry_refuses_more);
    suite_add_tcase(s, registry);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
