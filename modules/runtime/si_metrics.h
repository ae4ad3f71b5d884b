/* si_metrics.h: a process's counters for GET /metrics, shared through one mmapped file.
 *
 * Design.  The stack is one process per function (each with threads), the job worker,
 * the CDC daemon and the SSE responder: no process sees another's memory, and one
 * scrape must cover the whole host.  So every process keeps its counters in a small
 * fixed-layout file it creates and maps at start, `$SMARTIMPORT_METRICS_DIR/<fn>.<pid>`
 * (struct si_metrics_file below), and bumps them with relaxed atomic adds: no lock, no
 * system call, no allocation on the request path (a request costs two adds to the
 * in-flight gauge, one to its status code, one to a latency bucket and one to the sum;
 * the counters are 64-bit, lock-free and address-free on every target we build for,
 * so they work between processes).  Without SMARTIMPORT_METRICS_DIR nothing is mapped
 * and every hook is a test of one pointer.
 *
 * The reader is the `metrics` responder (modules/metrics): on each scrape it takes an
 * exclusive lock on `<dir>/.lock`, folds the files of processes that have ended into
 * `<fn>.retired` (same layout: their counters are added there, then the file is
 * removed), reads every file, sums per function and prints the Prometheus text format,
 * plus a few cheap SQL queries (queue depth and age, replication slot lag, rows
 * inserted).  So a crashed or restarted process never makes a counter go backwards:
 * its counts live on in `<fn>.retired`; only its gauges (in flight, open streams),
 * which mean nothing once it is gone, are dropped.  A process is ended when its pid is
 * gone or now belongs to a process with another start time (`start_ticks`, from
 * /proc/<pid>/stat); a new process that finds its own name taken (a dead process of
 * the same function had its pid) renames the old file to `<fn>.<pid>.<ns>.dead`,
 * which the reader folds like any other.
 *
 * Labels never carry a user, an account, a token or a path: only the function name,
 * the status code, the task name, the slot name and the histogram bound. */
#ifndef SI_METRICS_H
#define SI_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define SI_METRICS_MAGIC 0x314d4953u   /* "SIM1" */
#define SI_METRICS_VERSION 1u
/* Histogram upper bounds in seconds (the last slot counts what is above the last bound). */
#define SI_METRICS_BUCKETS 16
#define SI_METRICS_BUCKET_BOUNDS \
    { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300 }
#define SI_METRICS_STATUS_MAX 600     /* status codes 0..599; others count as 0 */
#define SI_METRICS_TASKS 48           /* distinct job tasks one worker process counts */
#define SI_METRICS_TASK_NAME 112
#define SI_METRICS_NAME 64

struct si_metrics_hist {
    _Atomic uint64_t bucket[SI_METRICS_BUCKETS + 1];  /* not cumulative; [BUCKETS] = above the last */
    _Atomic uint64_t sum_us;
};

struct si_metrics_task {
    _Atomic uint32_t state;                   /* 0 free, 1 being claimed, 2 ready */
    char name[SI_METRICS_TASK_NAME];
    _Atomic uint64_t succeeded, failed;       /* runs that ended so, retries included */
    struct si_metrics_hist duration;
};

struct si_metrics_file {
    uint32_t magic;                           /* written last, once the header is complete */
    uint32_t version;
    int32_t pid;
    uint32_t size;                            /* sizeof(struct si_metrics_file) */
    uint64_t start_ticks;                     /* /proc/self/stat field 22, to tell pid reuse */
    char function[SI_METRICS_NAME];
    /* Every process of a FastCGI function (si_server.c), and import-events' request lines. */
    _Atomic uint64_t requests[SI_METRICS_STATUS_MAX];
    struct si_metrics_hist latency;
    _Atomic int64_t in_flight;
    /* si_db.c: connections replaced after they broke; statements past their deadline. */
    _Atomic uint64_t db_reconnects, db_timeouts;
    /* si_idempotency.c: repeats answered with the stored answer (the handler did not run). */
    _Atomic uint64_t idempotent_replays;
    /* import-events. */
    _Atomic int64_t sse_streams_open;
    _Atomic uint64_t sse_streams_opened, sse_events_delivered, sse_live_delivered;
    struct si_metrics_hist sse_lag;           /* a stored event's created_at -> sent live */
    /* smartimport-worker. */
    struct si_metrics_task tasks[SI_METRICS_TASKS];
};

/* Creates and maps `<SMARTIMPORT_METRICS_DIR>/<function>.<pid>` (the directory made when
 * missing, mode 0755, the file 0644).  0 when it is mapped or the variable is unset (then
 * nothing is counted); -1 with errno when it is set and cannot be used: the caller logs it
 * and runs without counters.  Called once, in the main thread, before any other thread. */
int si_metrics_open(const char *function, char *const *envp);
/* Unmaps it (the file stays for the reader to fold). */
void si_metrics_close(void);
/* The mapped file, or NULL. */
struct si_metrics_file *si_metrics_self(void);

/* A request began (in flight + 1); a request was answered with status after ms (started:
 * it was counted by si_metrics_request_start, so in flight - 1). */
void si_metrics_request_start(void);
void si_metrics_request_end(int status, double ms, bool started);
void si_metrics_db_reconnect(void);
void si_metrics_db_timeout(void);
void si_metrics_idempotent_replay(void);
/* import-events: its count of open streams; a stream opened; events sent (live or stored). */
void si_metrics_sse_streams(long long open);
void si_metrics_sse_opened(void);
void si_metrics_sse_delivered(bool live);
/* A stored event sent live (not replayed): its delivery lag from created_at, the UTC
 * "YYYY-MM-DDTHH:MM:SS.mmmZ" of its row (the insert's transaction start: the lag includes
 * the rest of that transaction, then the notification and the fan-out). */
void si_metrics_sse_lag(const char *created_at);
/* Seconds from a UTC "YYYY-MM-DDTHH:MM:SS[.mmm]Z" to now; -1 when it is not that. */
double si_metrics_seconds_since(const char *utc);
/* smartimport-worker: one run of task ended (ok: succeeded) after ms. */
void si_metrics_job_run(const char *task, bool ok, double ms);

/* For the reader and the tests: the histogram slot of a duration; adds src's counters
 * (not its gauges) to dst's. */
int si_metrics_bucket_of(double seconds);
void si_metrics_hist_add(struct si_metrics_hist *h, double seconds);
void si_metrics_fold(struct si_metrics_file *dst, const struct si_metrics_file *src);
/* /proc/<pid>/stat's start time (field 22), 0 when it cannot be read. */
uint64_t si_metrics_start_ticks(int pid);

#endif
