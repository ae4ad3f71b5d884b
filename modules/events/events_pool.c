/* events_pool.c: the query threads of the import-events responder.
 *
 * The loop thread never waits for PostgreSQL: it hands each statement to a
 * lane (struct ev_job), goes on serving every stream, and reads the answer
 * when the lane says it is there.  Each query thread owns one struct si_db
 * (deadline, cancel, reconnect after a restart: the runtime's), so nothing
 * but the job lists is shared, and those only under their mutex.  Answers
 * come back on one list, oldest first, and an eventfd in the loop's epoll
 * set wakes the loop.  Why lanes, and why the bus lane has one thread, is in
 * events.h. */
#include "events.h"
#include "si_log.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct worker_arg {
    struct ev_pool *pool;
    struct ev_lane *lane;
};

struct ev_job *ev_job_new(enum ev_job_kind kind, const char *sql, int n_params, const char *const *params)
{
    if (n_params < 0 || n_params > EV_JOB_PARAMS)
        return NULL;
    struct ev_job *job = calloc(1, sizeof *job);
    if (job == NULL)
        return NULL;
    job->kind = kind;
    job->sql = sql;
    job->n_params = n_params;
    si_error_clear(&job->err);
    for (int i = 0; i < n_params; i++) {
        job->params[i] = strdup(params[i] ? params[i] : "");
        if (job->params[i] == NULL) {
            ev_job_free(job);
            return NULL;
        }
    }
    return job;
}

void ev_job_free(struct ev_job *job)
{
    if (job == NULL)
        return;
    for (int i = 0; i < EV_JOB_PARAMS; i++)
        free(job->params[i]);
    PQclear(job->res);
    free(job->notes);
    free(job);
}

static void post_done(struct ev_pool *pool, struct ev_job *job)
{
    job->next = NULL;
    pthread_mutex_lock(&pool->done_mu);
    if (pool->done_tail != NULL)
        pool->done_tail->next = job;
    else
        pool->done_head = job;
    pool->done_tail = job;
    pthread_mutex_unlock(&pool->done_mu);
    uint64_t one = 1;
    while (write(pool->done_fd, &one, sizeof one) < 0 && errno == EINTR)
        ;   /* EAGAIN: the counter is already non-zero, the loop will wake */
}

static void *worker_main(void *p)
{
    struct worker_arg arg = *(struct worker_arg *)p;
    free(p);
    struct ev_pool *pool = arg.pool;
    struct ev_lane *lane = arg.lane;
    struct si_db db;
    si_db_init(&db, pool->conninfo, "smartimport-import-events", pool->connect_timeout_ms,
               pool->query_timeout_ms);
    for (;;) {
        pthread_mutex_lock(&lane->mu);
        while (!lane->stopping && lane->head == NULL)
            pthread_cond_wait(&lane->cv, &lane->mu);
        if (lane->stopping) {
            pthread_mutex_unlock(&lane->mu);
            break;
        }
        struct ev_job *job = lane->head;
        lane->head = job->next;
        if (lane->head == NULL)
            lane->tail = NULL;
        pthread_mutex_unlock(&lane->mu);

        if (lane->deadline && ev_now_ms() - job->queued_ms > pool->query_timeout_ms) {
            si_error_set(&job->err, 503, "busy", "too many requests are waiting for the database; retry later");
            si_error_detail(&job->err, "queued for more than %d ms", pool->query_timeout_ms);
        } else {
            job->res = si_db_exec(&db, job->sql, job->n_params, (const char *const *)job->params, &job->err);
        }
        post_done(pool, job);
    }
    si_db_cleanup(&db);
    return NULL;
}

static int lane_init(struct ev_pool *pool, enum ev_lane_id which, int threads, bool deadline)
{
    struct ev_lane *lane = &pool->lanes[which];
    memset(lane, 0, sizeof *lane);
    lane->deadline = deadline;
    if (pthread_mutex_init(&lane->mu, NULL) != 0)
        return -1;
    if (pthread_cond_init(&lane->cv, NULL) != 0) {
        pthread_mutex_destroy(&lane->mu);
        return -1;
    }
    pool->lanes_init[which] = true;
    lane->threads = calloc((size_t)threads, sizeof *lane->threads);
    if (lane->threads == NULL)
        return -1;
    for (int i = 0; i < threads; i++) {
        struct worker_arg *arg = malloc(sizeof *arg);
        if (arg == NULL)
            return -1;
        arg->pool = pool;
        arg->lane = lane;
        int rc = pthread_create(&lane->threads[i], NULL, worker_main, arg);
        if (rc != 0) {
            free(arg);
            errno = rc;
            return -1;
        }
        lane->n_threads++;
    }
    return 0;
}

int ev_pool_init(struct ev_pool *pool, const struct si_config *cfg, int request_threads,
                 int query_timeout_ms)
{
    memset(pool, 0, sizeof *pool);
    pool->done_fd = -1;
    pool->conninfo = cfg->database_url;
    pool->connect_timeout_ms = cfg->db_connect_timeout_ms;
    pool->query_timeout_ms = query_timeout_ms;
    if (pthread_mutex_init(&pool->done_mu, NULL) != 0)
        return -1;
    pool->done_mu_init = true;
    pool->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (pool->done_fd < 0)
        return -1;
    if (lane_init(pool, EV_LANE_BUS, 1, false) != 0 ||
        lane_init(pool, EV_LANE_REQUEST, request_threads, true) != 0)
        return -1;
    return 0;
}

void ev_pool_submit(struct ev_pool *pool, enum ev_lane_id which, struct ev_job *job)
{
    struct ev_lane *lane = &pool->lanes[which];
    job->next = NULL;
    job->queued_ms = ev_now_ms();
    pthread_mutex_lock(&lane->mu);
    if (lane->tail != NULL)
        lane->tail->next = job;
    else
        lane->head = job;
    lane->tail = job;
    pthread_cond_signal(&lane->cv);
    pthread_mutex_unlock(&lane->mu);
}

struct ev_job *ev_pool_take_done(struct ev_pool *pool)
{
    uint64_t count;
    while (read(pool->done_fd, &count, sizeof count) < 0 && errno == EINTR)
        ;   /* EAGAIN: nothing counted; the list below is checked anyway */
    pthread_mutex_lock(&pool->done_mu);
    struct ev_job *list = pool->done_head;
    pool->done_head = pool->done_tail = NULL;
    pthread_mutex_unlock(&pool->done_mu);
    return list;
}

static void free_list(struct ev_job *job)
{
    while (job != NULL) {
        struct ev_job *next = job->next;
        ev_job_free(job);
        job = next;
    }
}

void ev_pool_cleanup(struct ev_pool *pool)
{
    for (int w = 0; w < EV_LANES; w++) {
        if (!pool->lanes_init[w])
            continue;
        struct ev_lane *lane = &pool->lanes[w];
        pthread_mutex_lock(&lane->mu);
        lane->stopping = true;
        pthread_cond_broadcast(&lane->cv);
        pthread_mutex_unlock(&lane->mu);
        for (int i = 0; i < lane->n_threads; i++)
            pthread_join(lane->threads[i], NULL);
        free(lane->threads);
        free_list(lane->head);
        pthread_cond_destroy(&lane->cv);
        pthread_mutex_destroy(&lane->mu);
        memset(lane, 0, sizeof *lane);
        pool->lanes_init[w] = false;
    }
    if (pool->done_mu_init) {
        free_list(pool->done_head);
        pool->done_head = pool->done_tail = NULL;
        pthread_mutex_destroy(&pool->done_mu);
        pool->done_mu_init = false;
    }
    if (pool->done_fd >= 0)
        close(pool->done_fd);
    pool->done_fd = -1;
}
