/* metrics.h: GET /metrics, the whole host's counters in the Prometheus text format (0.0.4).
 *
 * Where the figures come from (the design of the shared counters is at the top of
 * modules/runtime/si_metrics.h):
 *   - every process's mmapped file under SMARTIMPORT_METRICS_DIR, summed per function
 *     (requests by status code, latency histogram, in flight, DB reconnects and
 *     statement timeouts, SSE streams and deliveries, job runs and durations per task);
 *     the files of ended processes are folded into `<fn>.retired` first
 *     (metrics_files.c), under an exclusive lock on `<dir>/.lock`, so one scrape at a
 *     time reads a consistent set and no counter goes backwards;
 *   - three cheap SQL statements (metrics.c): the queue per task (the partial index
 *     jobs_runnable_idx covers exactly the rows it reads), the logical replication slots
 *     (lag in bytes, and the CDC daemon's own lag_ms from cdc_state), and
 *     pg_stat_user_tables' inserted rows of the ledger and the staging tables (import
 *     rows/s is rate() of those).
 *
 * Protection: a bearer token, SMARTIMPORT_METRICS_TOKEN (16..512 characters), compared in
 * constant time (SHA-256 of both sides, CRYPTO_memcmp).  Unset: every request is 404
 * not_found, so a stack does not expose its figures by default; no or a wrong token: 401
 * with WWW-Authenticate.  The route has no `auth` in nginx/routes: the user tokens of
 * auth-check are not metrics tokens.  No label carries a user, an account or a token. */
#ifndef METRICS_H
#define METRICS_H

#include <stdint.h>

#include "si_function.h"
#include "si_metrics.h"

#define METRICS_MAX_FUNCTIONS 64
#define METRICS_MAX_TASKS 128
#define METRICS_MAX_FILES 4096     /* files read per scrape at most */
#define METRICS_SQL_TIMEOUT_MS 2000
#define METRICS_TOKEN_MIN 16
#define METRICS_TOKEN_MAX 512
#define METRICS_BODY_MAX (4 * 1024 * 1024)

struct metrics_config {
    const char *dir;                   /* SMARTIMPORT_METRICS_DIR; NULL: no process counters */
    int have_token;                    /* SMARTIMPORT_METRICS_TOKEN set */
    unsigned char token_sha256[32];
};

/* One function's sums over its live processes and its retired file. */
struct metrics_fn {
    char name[SI_METRICS_NAME];
    int processes;                     /* live ones */
    uint64_t requests[SI_METRICS_STATUS_MAX];
    uint64_t latency[SI_METRICS_BUCKETS + 1];
    uint64_t latency_sum_us;
    int64_t in_flight;
    uint64_t db_reconnects, db_timeouts;
    uint64_t idempotent_replays;   /* repeats answered from idempotency_keys */
    int64_t sse_open;
    uint64_t sse_opened, sse_delivered, sse_live;
    uint64_t sse_lag[SI_METRICS_BUCKETS + 1];
    uint64_t sse_lag_sum_us;
    int has_sse;
};

struct metrics_task {
    char name[SI_METRICS_TASK_NAME];
    uint64_t succeeded, failed;
    uint64_t duration[SI_METRICS_BUCKETS + 1];
    uint64_t duration_sum_us;
};

struct metrics_snapshot {
    struct metrics_fn fns[METRICS_MAX_FUNCTIONS];
    size_t n_fns;
    struct metrics_task tasks[METRICS_MAX_TASKS];
    size_t n_tasks;
    uint64_t folded;                   /* ended processes' files folded by this scrape */
};

int metrics_init(const struct si_config *cfg, void **fn_config, struct si_error *err);
void metrics_cleanup(void *fn_config);
int metrics_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);

/* metrics_files.c: reads (after folding ended processes' files) every file of dir into
 * *snap (zeroed first).  0, or -1 with err. */
int metrics_read_dir(const char *dir, struct metrics_snapshot *snap, struct si_error *err);
/* Adds one mapped file's figures to snap (live: its gauges too). */
void metrics_add_file(struct metrics_snapshot *snap, const struct si_metrics_file *f, int live);

#endif
