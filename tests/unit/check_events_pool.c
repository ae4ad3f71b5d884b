/* check_events_pool.c: the query threads of import-events (events_pool.c), without a
 * database: answers come back through the eventfd, the bus lane answers in the order
 * jobs were submitted, a job that cannot reach PostgreSQL comes back as a 503 instead of
 * hanging, and cleanup frees what was never run. */
#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"

static struct si_config cfg;

static void setup(void)
{
    char *env[] = { "SMARTIMPORT_AUTH=trust-body", NULL };   /* no DATABASE_URL */
    struct si_error err;
    ck_assert_int_eq(si_config_load(&cfg, env, &err), 0);
}

static struct ev_job *job_numbered(enum ev_job_kind kind, int n)
{
    char text[16];
    snprintf(text, sizeof text, "%d", n);
    const char *params[] = { text };
    struct ev_job *job = ev_job_new(kind, "SELECT $1::int", 1, params);
    ck_assert_ptr_nonnull(job);
    return job;
}

/* Collects want answers (waiting on the eventfd as the loop does) into out[]. */
static void collect(struct ev_pool *pool, struct ev_job **out, int want)
{
    int got = 0;
    while (got < want) {
        struct pollfd p = { .fd = pool->done_fd, .events = POLLIN, .revents = 0 };
        ck_assert_int_eq(poll(&p, 1, 30000), 1);
        for (struct ev_job *job = ev_pool_take_done(pool); job != NULL;) {
            struct ev_job *next = job->next;
            ck_assert_int_lt(got, want);
            out[got++] = job;
            job = next;
        }
    }
}

START_TEST(the_bus_lane_answers_jobs_in_the_order_they_were_submitted)
{
    enum { N = 40 };
    struct ev_pool pool;
    ck_assert_int_eq(ev_pool_init(&pool, &cfg, 3, 1000), 0);
    for (int i = 0; i < N; i++)
        ev_pool_submit(&pool, EV_LANE_BUS, job_numbered(EV_JOB_DELIVER, i));
    struct ev_job *done[N];
    collect(&pool, done, N);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(atoi(done[i]->params[0]), i);
        ev_job_free(done[i]);
    }
    ev_pool_cleanup(&pool);
}
END_TEST

START_TEST(a_job_that_cannot_reach_the_database_comes_back_as_a_503)
{
    struct ev_pool pool;
    ck_assert_int_eq(ev_pool_init(&pool, &cfg, 2, 1000), 0);
    ev_pool_submit(&pool, EV_LANE_REQUEST, job_numbered(EV_JOB_VISIBLE, 1));
    ev_pool_submit(&pool, EV_LANE_BUS, job_numbered(EV_JOB_REPLAY, 2));
    struct ev_job *done[2];
    collect(&pool, done, 2);
    for (int i = 0; i < 2; i++) {
        ck_assert_ptr_null(done[i]->res);
        ck_assert_int_eq(done[i]->err.status, 503);
        ev_job_free(done[i]);
    }
    ev_pool_cleanup(&pool);
    ev_pool_cleanup(&pool);   /* safe twice */
}
END_TEST

START_TEST(cleanup_frees_answers_nobody_took)
{
    struct ev_pool pool;
    ck_assert_int_eq(ev_pool_init(&pool, &cfg, 1, 1000), 0);
    for (int i = 0; i < 5; i++)
        ev_pool_submit(&pool, i % 2 ? EV_LANE_BUS : EV_LANE_REQUEST, job_numbered(EV_JOB_PAGE, i));
    ev_pool_cleanup(&pool);   /* LeakSanitizer checks that every job was freed */
    ck_assert_int_eq(pool.done_fd, -1);
}
END_TEST

START_TEST(a_job_takes_at_most_its_parameter_count)
{
    const char *params[EV_JOB_PARAMS + 1] = { "a", "b", "c", "d", "e" };
    ck_assert_ptr_null(ev_job_new(EV_JOB_PAGE, "SELECT 1", EV_JOB_PARAMS + 1, params));
    struct ev_job *job = ev_job_new(EV_JOB_PAGE, "SELECT 1", EV_JOB_PARAMS, params);
    ck_assert_ptr_nonnull(job);
    ck_assert_str_eq(job->params[EV_JOB_PARAMS - 1], "d");
    ev_job_free(job);
    ev_job_free(NULL);
}
END_TEST

static Suite *pool_suite(void)
{
    Suite *s = suite_create("events_pool");
    TCase *tc = tcase_create("lanes");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, the_bus_lane_answers_jobs_in_the_order_they_were_submitted);
    tcase_add_test(tc, a_job_that_cannot_reach_the_database_comes_back_as_a_503);
    tcase_add_test(tc, cleanup_frees_answers_nobody_took);
    tcase_add_test(tc, a_job_takes_at_most_its_parameter_count);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pool_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
