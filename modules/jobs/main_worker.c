/* main_worker.c: smartimport-worker, the daemon that runs every registered task
 * (worker.c), and its one admin command:
 *   smartimport-worker                 run until SIGTERM/SIGINT (the supervisor starts it)
 *   smartimport-worker --requeue ID    queue a dead job again; prints {"ok":true,"requeued":...},
 *                                      exit 0 if it was requeued, 1 if not (no such job, not dead)
 *   smartimport-worker --check-config  check every setting, its tasks' too (si_config.h): exit 0/1
 * SIGUSR1 reopens SMARTIMPORT_LOG_FILE (si_log.h).
 * Exit 2: bad configuration or usage. */
#include "worker.h"
#include "si_metrics.h"
#include "si_log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

extern char **environ;

static int requeue(const struct si_config *cfg, const char *arg)
{
    char *end = NULL;
    errno = 0;
    long long id = strtoll(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || id < 1) {
        fprintf(stderr, "smartimport-worker: --requeue takes a job id (a positive integer)\n");
        return 2;
    }
    struct si_db db;
    struct si_error err;
    si_error_clear(&err);
    si_db_init(&db, cfg->database_url, "smartimport-worker-requeue", cfg->db_connect_timeout_ms,
               cfg->db_query_timeout_ms);
    int rc = jobs_requeue(&db, id, &err);
    si_db_cleanup(&db);
    if (rc < 0) {
        printf("{\"ok\":false,\"code\":\"%s\",\"error\":\"%s\"}\n", err.code, err.message);
        return 2;
    }
    printf("{\"ok\":true,\"job_id\":%lld,\"requeued\":%s}\n", id, rc == 1 ? "true" : "false");
    return rc == 1 ? 0 : 1;
}

/* --check-config: the worker's settings and every task's (registered, then freed). */
static int check_settings(const struct si_config *cfg, void *arg, struct si_error *err)
{
    (void)cfg;
    (void)arg;
    struct worker_config wc;
    struct jobs_registry reg;
    void *tasks = NULL;
    if (worker_config_load(&wc, environ, err) != 0)
        return -1;
    jobs_registry_init(&reg);
    int rc = worker_tasks_register(&reg, &wc, environ, &tasks, err);
    worker_tasks_free(tasks);
    return rc;
}

int main(int argc, char **argv)
{
    struct si_config cfg;
    struct worker_config wc;
    struct jobs_registry reg;
    struct si_error err;
    void *tasks = NULL;
    int rc = 2;
    si_error_clear(&err);

    si_log_setup("worker");
    if (si_check_config_asked(argc, argv))
        return si_check_config_main(environ, true, false, check_settings, NULL);
    if (argc != 1 && !(argc == 3 && strcmp(argv[1], "--requeue") == 0)) {
        fprintf(stderr, "usage: smartimport-worker [--requeue JOB_ID]\n");
        return 2;
    }
    if (si_config_load(&cfg, environ, &err) != 0 || worker_config_load(&wc, environ, &err) != 0) {
        si_logf(SI_LOG_ERROR, "configuration: %s", err.message);
        return 2;
    }
    if (cfg.database_url == NULL) {
        si_log(SI_LOG_ERROR, "DATABASE_URL is not set", NULL);
        return 2;
    }
    if (argc == 3)
        return requeue(&cfg, argv[2]);
    if (cfg.log_file != NULL && si_log_to_file(cfg.log_file) != 0) {
        si_logf(SI_LOG_ERROR, "cannot open SMARTIMPORT_LOG_FILE: %s", strerror(errno));
        return 2;
    }
    if (si_log_reopen_on_sigusr1() != 0) {
        si_log(SI_LOG_ERROR, "cannot start the log reopener", NULL);
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        si_log(SI_LOG_ERROR, "curl_global_init failed", NULL);
        return 2;
    }
    jobs_registry_init(&reg);
    if (worker_tasks_register(&reg, &wc, environ, &tasks, &err) != 0) {
        si_logf(SI_LOG_ERROR, "tasks: %s", err.message);
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);   /* every thread inherits it; worker_run sigwaits */
    if (si_metrics_open("worker", environ) != 0)
        si_logf(SI_LOG_WARN, "metrics: cannot map SMARTIMPORT_METRICS_DIR/worker.<pid>: %s (not counted)",
                strerror(errno));
    rc = worker_run(&cfg, &wc, &reg);
    si_metrics_close();
    si_log(SI_LOG_INFO, "stopped", json_pack("{s:i}", "status", rc));
out:
    worker_tasks_free(tasks);
    curl_global_cleanup();
    return rc;
}
