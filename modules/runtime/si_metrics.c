/* si_metrics.c: a process's counters in its mmapped metrics file (design in si_metrics.h). */
#include "si_metrics.h"
#include "si_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Set once by si_metrics_open before any other thread exists; read-only afterwards. */
static struct si_metrics_file *self;

struct si_metrics_file *si_metrics_self(void)
{
    return self;
}

uint64_t si_metrics_start_ticks(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* "pid (comm) state ppid ...": comm may hold spaces and parentheses; fields count
     * from the last ')'.  Field 3 (state) follows it; starttime is field 22. */
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return 0;
    int field = 2;
    for (p++; *p != '\0' && field < 21; p++)
        if (*p == ' ')
            field++;
    uint64_t v = 0;
    while (*p >= '0' && *p <= '9')
        v = v * 10 + (uint64_t)(*p++ - '0');
    return v;
}

static int make_dir(const char *dir)
{
    if (mkdir(dir, 0755) == 0 || errno == EEXIST)
        return 0;
    return -1;
}

int si_metrics_open(const char *function, char *const *envp)
{
    const char *dir = si_env_get(envp, "SMARTIMPORT_METRICS_DIR");
    if (dir == NULL || *dir == '\0' || self != NULL)
        return 0;
    if (strlen(function) >= SI_METRICS_NAME || strchr(function, '/') != NULL || function[0] == '.') {
        errno = EINVAL;
        return -1;
    }
    if (make_dir(dir) != 0)
        return -1;
    char path[4096], old[4200];
    int pid = (int)getpid();
    if (snprintf(path, sizeof path, "%s/%s.%d", dir, function, pid) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST) {
        /* A dead process of this function had our pid: hand its file to the reader. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(old, sizeof old, "%s.%lld%09ld.dead", path, (long long)ts.tv_sec, ts.tv_nsec);
        if (rename(path, old) != 0)
            return -1;
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    }
    if (fd < 0)
        return -1;
    if (ftruncate(fd, (off_t)sizeof(struct si_metrics_file)) != 0) {
        int e = errno;
        close(fd);
        unlink(path);
        errno = e;
        return -1;
    }
    void *m = mmap(NULL, sizeof(struct si_metrics_file), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int e = errno;
    close(fd);
    if (m == MAP_FAILED) {
        unlink(path);
        errno = e;
        return -1;
    }
    struct si_metrics_file *f = m;   /* zero-filled by ftruncate */
    f->version = SI_METRICS_VERSION;
    f->pid = pid;
    f->size = (uint32_t)sizeof *f;
    f->start_ticks = si_metrics_start_ticks(pid);
    snprintf(f->function, sizeof f->function, "%s", function);
    atomic_thread_fence(memory_order_release);
    f->magic = SI_METRICS_MAGIC;
    self = f;
    return 0;
}

void si_metrics_close(void)
{
    if (self == NULL)
        return;
    munmap(self, sizeof *self);
    self = NULL;
}

int si_metrics_bucket_of(double seconds)
{
    static const double bounds[SI_METRICS_BUCKETS] = SI_METRICS_BUCKET_BOUNDS;
    for (int i = 0; i < SI_METRICS_BUCKETS; i++)
        if (seconds <= bounds[i])
            return i;
    return SI_METRICS_BUCKETS;
}

void si_metrics_hist_add(struct si_metrics_hist *h, double seconds)
{
    if (!(seconds >= 0))
        seconds = 0;
    atomic_fetch_add_explicit(&h->bucket[si_metrics_bucket_of(seconds)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (uint64_t)(seconds * 1e6 + 0.5), memory_order_relaxed);
}

void si_metrics_request_start(void)
{
    if (self != NULL)
        atomic_fetch_add_explicit(&self->in_flight, 1, memory_order_relaxed);
}

void si_metrics_request_end(int status, double ms, bool started)
{
    if (self == NULL)
        return;
    if (started)
        atomic_fetch_sub_explicit(&self->in_flight, 1, memory_order_relaxed);
    int i = status >= 0 && status < SI_METRICS_STATUS_MAX ? status : 0;
    atomic_fetch_add_explicit(&self->requests[i], 1, memory_order_relaxed);
    si_metrics_hist_add(&self->latency, ms / 1000.0);
}

void si_metrics_db_reconnect(void)
{
    if (self != NULL)
        atomic_fetch_add_explicit(&self->db_reconnects, 1, memory_order_relaxed);
}

void si_metrics_db_timeout(void)
{
    if (self != NULL)
        atomic_fetch_add_explicit(&self->db_timeouts, 1, memory_order_relaxed);
}

void si_metrics_idempotent_replay(void)
{
    if (self != NULL)
        atomic_fetch_add_explicit(&self->idempotent_replays, 1, memory_order_relaxed);
}

void si_metrics_sse_streams(long long open)
{
    if (self != NULL)
        atomic_store_explicit(&self->sse_streams_open, (int64_t)open, memory_order_relaxed);
}

void si_metrics_sse_opened(void)
{
    if (self != NULL)
        atomic_fetch_add_explicit(&self->sse_streams_opened, 1, memory_order_relaxed);
}

void si_metrics_sse_delivered(bool live)
{
    if (self == NULL)
        return;
    atomic_fetch_add_explicit(live ? &self->sse_live_delivered : &self->sse_events_delivered, 1,
                              memory_order_relaxed);
}

double si_metrics_seconds_since(const char *utc)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int ms = 0, n = 0;
    if (utc == NULL || sscanf(utc, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                              &tm.tm_min, &tm.tm_sec, &n) != 6)
        return -1;
    const char *p = utc + n;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3)
                ms = ms * 10 + (*p - '0');
        for (; digits < 3; digits++)
            ms *= 10;
    }
    if (*p != 'Z')
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (double)(now.tv_sec - t) + ((double)now.tv_nsec / 1e9 - (double)ms / 1000.0);
}

void si_metrics_sse_lag(const char *created_at)
{
    if (self == NULL)
        return;
    double s = si_metrics_seconds_since(created_at);
    if (s >= -1)   /* a clock a little behind the server's counts as no lag */
        si_metrics_hist_add(&self->sse_lag, s < 0 ? 0 : s);
}

/* The slot of task in f, claiming a free one for a new name; NULL when all are taken.
 * Two threads claiming the same new name at once may get two slots: the reader sums
 * slots by name, so that costs a slot, never a count. */
static struct si_metrics_task *task_slot(struct si_metrics_file *f, const char *task)
{
    for (int i = 0; i < SI_METRICS_TASKS; i++) {
        struct si_metrics_task *t = &f->tasks[i];
        uint32_t st = atomic_load_explicit(&t->state, memory_order_acquire);
        if (st == 2 && strncmp(t->name, task, sizeof t->name) == 0)
            return t;
        if (st == 0) {
            uint32_t expect = 0;
            if (atomic_compare_exchange_strong(&t->state, &expect, 1)) {
                snprintf(t->name, sizeof t->name, "%s", task);
                atomic_store_explicit(&t->state, 2, memory_order_release);
                return t;
            }
            if (expect == 2 && strncmp(t->name, task, sizeof t->name) == 0)
                return t;
        }
    }
    return NULL;
}

void si_metrics_job_run(const char *task, bool ok, double ms)
{
    if (self == NULL || task == NULL)
        return;
    struct si_metrics_task *t = task_slot(self, task);
    if (t == NULL)
        return;
    atomic_fetch_add_explicit(ok ? &t->succeeded : &t->failed, 1, memory_order_relaxed);
    si_metrics_hist_add(&t->duration, ms / 1000.0);
}

static void hist_fold(struct si_metrics_hist *dst, const struct si_metrics_hist *src)
{
    for (int i = 0; i <= SI_METRICS_BUCKETS; i++)
        atomic_fetch_add_explicit(&dst->bucket[i], atomic_load(&src->bucket[i]), memory_order_relaxed);
    atomic_fetch_add_explicit(&dst->sum_us, atomic_load(&src->sum_us), memory_order_relaxed);
}

#define FOLD(field) atomic_fetch_add_explicit(&dst->field, atomic_load(&src->field), memory_order_relaxed)

void si_metrics_fold(struct si_metrics_file *dst, const struct si_metrics_file *src)
{
    for (int i = 0; i < SI_METRICS_STATUS_MAX; i++)
        FOLD(requests[i]);
    hist_fold(&dst->latency, &src->latency);
    FOLD(db_reconnects);
    FOLD(db_timeouts);
    FOLD(idempotent_replays);
    FOLD(sse_streams_opened);
    FOLD(sse_events_delivered);
    FOLD(sse_live_delivered);
    hist_fold(&dst->sse_lag, &src->sse_lag);
    for (int i = 0; i < SI_METRICS_TASKS; i++) {
        const struct si_metrics_task *s = &src->tasks[i];
        if (atomic_load(&s->state) != 2)
            continue;
        char name[SI_METRICS_TASK_NAME];
        memcpy(name, s->name, sizeof name);
        name[sizeof name - 1] = '\0';
        struct si_metrics_task *t = task_slot(dst, name);
        if (t == NULL)
            continue;
        atomic_fetch_add_explicit(&t->succeeded, atomic_load(&s->succeeded), memory_order_relaxed);
        atomic_fetch_add_explicit(&t->failed, atomic_load(&s->failed), memory_order_relaxed);
        hist_fold(&t->duration, &s->duration);
    }
}
