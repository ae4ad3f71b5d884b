/* check_metrics.c: the shared counter files (si_metrics) and the reader's sums and folding
 * (modules/metrics/metrics_files.c): a real file in a temporary directory, a dead process's
 * copy folded into <fn>.retired once, its gauges dropped, no count lost or counted twice;
 * the token check (unset: 404; missing or wrong: 401). */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"

static char dir[256];

static void make_dir(void)
{
    char tmpl[] = "/tmp/check_metrics.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    snprintf(dir, sizeof dir, "%s/m", tmpl);
}

START_TEST(durations_fall_in_the_first_bucket_that_bounds_them)
{
    ck_assert_int_eq(si_metrics_bucket_of(0), 0);
    ck_assert_int_eq(si_metrics_bucket_of(0.001), 0);
    ck_assert_int_eq(si_metrics_bucket_of(0.0011), 1);
    ck_assert_int_eq(si_metrics_bucket_of(1), 9);
    ck_assert_int_eq(si_metrics_bucket_of(300), SI_METRICS_BUCKETS - 1);
    ck_assert_int_eq(si_metrics_bucket_of(301), SI_METRICS_BUCKETS);
}
END_TEST

START_TEST(an_event_time_in_utc_reads_as_seconds_ago)
{
    char ts[64];
    time_t now = time(NULL) - 10;
    struct tm tm;
    gmtime_r(&now, &tm);
    ck_assert_uint_gt(strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S.250Z", &tm), 0);
    double s = si_metrics_seconds_since(ts);
    ck_assert_msg(s > 8.5 && s < 12, "%f", s);
    ck_assert(si_metrics_seconds_since("2026-01-02 03:04:05") < 0);
    ck_assert(si_metrics_seconds_since("yesterday") < 0);
    ck_assert(si_metrics_seconds_since(NULL) < 0);
}
END_TEST

static const struct metrics_fn *fn_of(const struct metrics_snapshot *s, const char *name)
{
    for (size_t i = 0; i < s->n_fns; i++)
        if (strcmp(s->fns[i].name, name) == 0)
            return &s->fns[i];
    return NULL;
}

static const struct metrics_task *task_of(const struct metrics_snapshot *s, const char *name)
{
    for (size_t i = 0; i < s->n_tasks; i++)
        if (strcmp(s->tasks[i].name, name) == 0)
            return &s->tasks[i];
    ck_abort_msg("no task %s", name);
    return NULL;
}

static uint64_t count_of(const uint64_t *slots)
{
    uint64_t n = 0;
    for (int i = 0; i <= SI_METRICS_BUCKETS; i++)
        n += slots[i];
    return n;
}

START_TEST(a_process_counts_into_its_file_and_a_dead_ones_counts_are_folded_once)
{
    make_dir();
    char env[300];
    snprintf(env, sizeof env, "SMARTIMPORT_METRICS_DIR=%s", dir);
    char *envp[] = { env, NULL };
    ck_assert_int_eq(si_metrics_open("unit", envp), 0);
    struct si_metrics_file *self = si_metrics_self();
    ck_assert_ptr_nonnull(self);
    for (int i = 0; i < 3; i++)
        si_metrics_request_start();
    si_metrics_request_end(200, 5, true);
    si_metrics_request_end(200, 0.5, true);
    si_metrics_request_end(404, 2000, true);
    si_metrics_request_start();   /* one still in flight */
    si_metrics_db_reconnect();
    si_metrics_job_run("unit.task", true, 10);
    si_metrics_job_run("unit.task", false, 20);
    si_metrics_job_run("unit.other", true, 1);

    struct metrics_snapshot *snap = calloc(1, sizeof *snap);
    ck_assert_ptr_nonnull(snap);
    struct si_error err;
    si_error_clear(&err);
    ck_assert_int_eq(metrics_read_dir(dir, snap, &err), 0);
    const struct metrics_fn *f = fn_of(snap, "unit");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(f->processes, 1);
    ck_assert_uint_eq(f->requests[200], 2);
    ck_assert_uint_eq(f->requests[404], 1);
    ck_assert_uint_eq(count_of(f->latency), 3);
    ck_assert_uint_eq(f->latency[0], 1);                       /* 0.5 ms */
    ck_assert_uint_eq(f->latency_sum_us, 5000 + 500 + 2000000);
    ck_assert_int_eq(f->in_flight, 1);
    ck_assert_uint_eq(f->db_reconnects, 1);
    ck_assert_uint_eq(snap->n_tasks, 2);
    ck_assert_str_eq(snap->tasks[0].name, "unit.other");   /* sorted by name */
    ck_assert_uint_eq(task_of(snap, "unit.task")->succeeded, 1);
    ck_assert_uint_eq(task_of(snap, "unit.task")->failed, 1);
    ck_assert_uint_eq(count_of(task_of(snap, "unit.task")->duration), 2);

    /* A process of the same function that has ended: a copy of our file under a dead pid. */
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0)
        _exit(0);
    ck_assert_int_eq(waitpid(child, NULL, 0), child);
    struct si_metrics_file copy;
    memcpy(&copy, self, sizeof copy);
    copy.pid = child;
    char path[400];
    snprintf(path, sizeof path, "%s/unit.%d", dir, (int)child);
    FILE *out = fopen(path, "w");
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(fwrite(&copy, sizeof copy, 1, out), 1);
    ck_assert_int_eq(fclose(out), 0);

    for (int round = 0; round < 2; round++) {
        ck_assert_int_eq(metrics_read_dir(dir, snap, &err), 0);
        ck_assert_uint_eq(snap->folded, round == 0 ? 1 : 0);
        f = fn_of(snap, "unit");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(f->processes, 1);
        ck_assert_uint_eq(f->requests[200], 4);                /* ours and the dead one's */
        ck_assert_uint_eq(count_of(f->latency), 6);
        ck_assert_int_eq(f->in_flight, 1);                     /* the dead one's gauge is dropped */
        ck_assert_uint_eq(task_of(snap, "unit.task")->succeeded, 2);
        ck_assert_int_eq(access(path, F_OK), -1);              /* folded and removed */
    }
    char retired[400];
    snprintf(retired, sizeof retired, "%s/unit.retired", dir);
    ck_assert_int_eq(access(retired, F_OK), 0);

    /* Counting goes on; the sums follow. */
    si_metrics_request_end(200, 1, true);
    ck_assert_int_eq(metrics_read_dir(dir, snap, &err), 0);
    ck_assert_uint_eq(fn_of(snap, "unit")->requests[200], 5);
    ck_assert_int_eq(fn_of(snap, "unit")->in_flight, 0);
    si_metrics_close();
    ck_assert_ptr_null(si_metrics_self());
    si_metrics_request_end(200, 1, true);                      /* unmapped: nothing, no crash */
    free(snap);
}
END_TEST

START_TEST(without_the_setting_nothing_is_mapped)
{
    char *envp[] = { NULL };
    ck_assert_int_eq(si_metrics_open("unit", envp), 0);
    ck_assert_ptr_null(si_metrics_self());
    si_metrics_request_start();
    si_metrics_request_end(200, 1, true);
    si_metrics_job_run("x.y", true, 1);
}
END_TEST

START_TEST(a_directory_that_does_not_exist_yet_reads_as_empty)
{
    struct metrics_snapshot *snap = calloc(1, sizeof *snap);
    ck_assert_ptr_nonnull(snap);
    struct si_error err;
    si_error_clear(&err);
    ck_assert_int_eq(metrics_read_dir("/nonexistent/check_metrics", snap, &err), 0);
    ck_assert_uint_eq(snap->n_fns, 0);
    free(snap);
}
END_TEST

/* The token: unset is 404 for everyone; set, only that bearer token passes (these answers
 * come before any SQL, so no database is needed). */
static int answer(const char *token_env, const char *authorization, struct si_response *resp)
{
    char env[600];
    snprintf(env, sizeof env, "SMARTIMPORT_METRICS_TOKEN=%s", token_env ? token_env : "");
    char *envp[] = { env, NULL };
    struct si_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.envp = envp;
    void *mc = NULL;
    struct si_error err;
    si_error_clear(&err);
    ck_assert_int_eq(metrics_init(&cfg, &mc, &err), 0);
    struct si_param headers[] = { { "authorization", authorization } };
    struct si_request req;
    memset(&req, 0, sizeof req);
    req.method = "GET";
    req.path = "/metrics";
    req.headers = headers;
    req.n_headers = authorization != NULL ? 1 : 0;
    struct si_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.fn_config = mc;
    si_response_reset(resp);
    int rc = metrics_handle(&ctx, &req, resp);
    metrics_cleanup(mc);
    return rc;
}

START_TEST(without_a_token_configured_metrics_is_404_and_a_wrong_token_is_401)
{
    struct si_response resp;
    si_response_init(&resp);
    const char *token = "0123456789abcdef0123";
    ck_assert_int_eq(answer(NULL, NULL, &resp), -1);
    ck_assert_int_eq(resp.status, 404);
    ck_assert_int_eq(answer(NULL, "Bearer 0123456789abcdef0123", &resp), -1);
    ck_assert_int_eq(resp.status, 404);
    ck_assert_int_eq(answer(token, NULL, &resp), -1);
    ck_assert_int_eq(resp.status, 401);
    ck_assert_ptr_nonnull(strstr(resp.headers, "WWW-Authenticate: Bearer"));
    ck_assert_int_eq(answer(token, "Bearer 0123456789abcdef012", &resp), -1);   /* a prefix */
    ck_assert_int_eq(resp.status, 401);
    ck_assert_int_eq(answer(token, "Bearer 0123456789abcdef01234", &resp), -1); /* longer */
    ck_assert_int_eq(resp.status, 401);
    ck_assert_int_eq(answer(token, "Basic 0123456789abcdef0123", &resp), -1);
    ck_assert_int_eq(resp.status, 401);
    ck_assert_ptr_nonnull(strstr(resp.body.data, "\"code\":\"unauthorized\""));
    /* A token too short to be safe stops the start. */
    char env[] = "SMARTIMPORT_METRICS_TOKEN=short";
    char *envp[] = { env, NULL };
    struct si_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.envp = envp;
    void *mc = NULL;
    struct si_error err;
    si_error_clear(&err);
    ck_assert_int_eq(metrics_init(&cfg, &mc, &err), -1);
    si_response_cleanup(&resp);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("files");
    tcase_add_test(tc, durations_fall_in_the_first_bucket_that_bounds_them);
    tcase_add_test(tc, an_event_time_in_utc_reads_as_seconds_ago);
    tcase_add_test(tc, a_process_counts_into_its_file_and_a_dead_ones_counts_are_folded_once);
    tcase_add_test(tc, without_the_setting_nothing_is_mapped);
    tcase_add_test(tc, a_directory_that_does_not_exist_yet_reads_as_empty);
    tcase_add_test(tc, without_a_token_configured_metrics_is_404_and_a_wrong_token_is_401);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(metrics_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
