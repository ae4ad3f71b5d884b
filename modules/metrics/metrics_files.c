/* metrics_files.c: the processes' metrics files: fold the ended ones, sum the rest per function.
 *
 * Names in SMARTIMPORT_METRICS_DIR:
 *   <fn>.<pid>             a process's file (si_metrics_open); live while that pid runs with
 *                          the start time the file records
 *   <fn>.<pid>.<ns>.dead   a file a new process with the same pid set aside
 *   <fn>.retired           the counters of every ended process of <fn>
 *   .lock                  taken exclusively for the whole scrape
 * Anything else is ignored. */
#include "metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static bool fn_name_ok(const char *s)
{
    size_t n = strnlen(s, SI_METRICS_NAME);
    if (n == 0 || n >= SI_METRICS_NAME)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
            return false;
    return true;
}

static bool valid(const struct si_metrics_file *f, size_t size)
{
    return size >= sizeof *f && f->magic == SI_METRICS_MAGIC && f->version == SI_METRICS_VERSION &&
           f->size == sizeof *f && fn_name_ok(f->function);
}

static bool process_alive(const struct si_metrics_file *f)
{
    if (f->pid <= 0 || (kill(f->pid, 0) != 0 && errno != EPERM))
        return false;
    uint64_t now = si_metrics_start_ticks(f->pid);
    return f->start_ticks == 0 || now == 0 || now == f->start_ticks;
}

/* Maps path (read-only or read-write); NULL when it is not a valid metrics file. */
static struct si_metrics_file *map_file(int dirfd, const char *name, bool write)
{
    int fd = openat(dirfd, name, (write ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return NULL;
    struct stat st;
    void *m = MAP_FAILED;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size >= sizeof(struct si_metrics_file))
        m = mmap(NULL, sizeof(struct si_metrics_file), write ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return NULL;
    struct si_metrics_file *f = m;
    if (!valid(f, sizeof *f)) {
        munmap(m, sizeof *f);
        return NULL;
    }
    return f;
}

/* Adds dead's counters to <fn>.retired (made when missing) and removes dead's file. */
static int fold(int dirfd, const char *name, const struct si_metrics_file *dead)
{
    char rname[SI_METRICS_NAME + 16];
    snprintf(rname, sizeof rname, "%s.retired", dead->function);
    int fd = openat(dirfd, rname, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || (st.st_size < (off_t)sizeof(struct si_metrics_file) &&
                                ftruncate(fd, (off_t)sizeof(struct si_metrics_file)) != 0)) {
        close(fd);
        return -1;
    }
    void *m = mmap(NULL, sizeof(struct si_metrics_file), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return -1;
    struct si_metrics_file *r = m;
    if (r->magic != SI_METRICS_MAGIC) {
        memset(r, 0, sizeof *r);
        r->version = SI_METRICS_VERSION;
        r->size = (uint32_t)sizeof *r;
        snprintf(r->function, sizeof r->function, "%s", dead->function);
        r->magic = SI_METRICS_MAGIC;
    }
    int rc = -1;
    if (valid(r, sizeof *r) && strcmp(r->function, dead->function) == 0) {
        si_metrics_fold(r, dead);
        rc = msync(r, sizeof *r, MS_SYNC) == 0 && unlinkat(dirfd, name, 0) == 0 ? 0 : -1;
    }
    munmap(m, sizeof *r);
    return rc;
}

static struct metrics_fn *fn_slot(struct metrics_snapshot *snap, const char *name)
{
    for (size_t i = 0; i < snap->n_fns; i++)
        if (strcmp(snap->fns[i].name, name) == 0)
            return &snap->fns[i];
    if (snap->n_fns == METRICS_MAX_FUNCTIONS)
        return NULL;
    struct metrics_fn *f = &snap->fns[snap->n_fns++];
    snprintf(f->name, sizeof f->name, "%s", name);
    return f;
}

static struct metrics_task *task_slot(struct metrics_snapshot *snap, const char *name)
{
    for (size_t i = 0; i < snap->n_tasks; i++)
        if (strcmp(snap->tasks[i].name, name) == 0)
            return &snap->tasks[i];
    if (snap->n_tasks == METRICS_MAX_TASKS)
        return NULL;
    struct metrics_task *t = &snap->tasks[snap->n_tasks++];
    snprintf(t->name, sizeof t->name, "%s", name);
    return t;
}

void metrics_add_file(struct metrics_snapshot *snap, const struct si_metrics_file *f, int live)
{
    struct metrics_fn *s = fn_slot(snap, f->function);
    if (s == NULL)
        return;
    if (live)
        s->processes++;
    for (int i = 0; i < SI_METRICS_STATUS_MAX; i++)
        s->requests[i] += atomic_load_explicit(&f->requests[i], memory_order_relaxed);
    for (int i = 0; i <= SI_METRICS_BUCKETS; i++)
        s->latency[i] += atomic_load_explicit(&f->latency.bucket[i], memory_order_relaxed);
    s->latency_sum_us += atomic_load_explicit(&f->latency.sum_us, memory_order_relaxed);
    s->db_reconnects += atomic_load_explicit(&f->db_reconnects, memory_order_relaxed);
    s->db_timeouts += atomic_load_explicit(&f->db_timeouts, memory_order_relaxed);
    s->idempotent_replays += atomic_load_explicit(&f->idempotent_replays, memory_order_relaxed);
    uint64_t opened = atomic_load_explicit(&f->sse_streams_opened, memory_order_relaxed);
    s->sse_opened += opened;
    s->sse_delivered += atomic_load_explicit(&f->sse_events_delivered, memory_order_relaxed);
    s->sse_live += atomic_load_explicit(&f->sse_live_delivered, memory_order_relaxed);
    for (int i = 0; i <= SI_METRICS_BUCKETS; i++)
        s->sse_lag[i] += atomic_load_explicit(&f->sse_lag.bucket[i], memory_order_relaxed);
    s->sse_lag_sum_us += atomic_load_explicit(&f->sse_lag.sum_us, memory_order_relaxed);
    if (live) {
        s->in_flight += atomic_load_explicit(&f->in_flight, memory_order_relaxed);
        int64_t open = atomic_load_explicit(&f->sse_streams_open, memory_order_relaxed);
        s->sse_open += open;
        if (open != 0)
            s->has_sse = 1;
    }
    if (opened != 0)
        s->has_sse = 1;
    for (int i = 0; i < SI_METRICS_TASKS; i++) {
        const struct si_metrics_task *ft = &f->tasks[i];
        if (atomic_load_explicit(&ft->state, memory_order_acquire) != 2)
            continue;
        char name[SI_METRICS_TASK_NAME];
        memcpy(name, ft->name, sizeof name);
        name[sizeof name - 1] = '\0';
        struct metrics_task *t = task_slot(snap, name);
        if (t == NULL)
            continue;
        t->succeeded += atomic_load_explicit(&ft->succeeded, memory_order_relaxed);
        t->failed += atomic_load_explicit(&ft->failed, memory_order_relaxed);
        for (int b = 0; b <= SI_METRICS_BUCKETS; b++)
            t->duration[b] += atomic_load_explicit(&ft->duration.bucket[b], memory_order_relaxed);
        t->duration_sum_us += atomic_load_explicit(&ft->duration.sum_us, memory_order_relaxed);
    }
}

/* What a directory entry is: 0 ignore, 1 a process's file, 2 set aside (.dead), 3 retired. */
static int kind_of(const char *name)
{
    size_t n = strlen(name);
    if (name[0] == '.' || n >= 256)
        return 0;
    if (n > 5 && strcmp(name + n - 5, ".dead") == 0)
        return 2;
    if (n > 8 && strcmp(name + n - 8, ".retired") == 0)
        return 3;
    const char *dot = strrchr(name, '.');
    if (dot == NULL || dot == name || dot[1] == '\0')
        return 0;
    for (const char *p = dot + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    return 1;
}

static int by_fn_name(const void *a, const void *b)
{
    return strcmp(((const struct metrics_fn *)a)->name, ((const struct metrics_fn *)b)->name);
}

static int by_task_name(const void *a, const void *b)
{
    return strcmp(((const struct metrics_task *)a)->name, ((const struct metrics_task *)b)->name);
}

int metrics_read_dir(const char *dir, struct metrics_snapshot *snap, struct si_error *err)
{
    memset(snap, 0, sizeof *snap);
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        if (errno == ENOENT)
            return 0;   /* nothing has started yet */
        return si_error_set(err, 500, "internal", "cannot open the metrics directory");
    }
    int lockfd = openat(dirfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (lockfd < 0 || flock(lockfd, LOCK_EX) != 0) {
        if (lockfd >= 0)
            close(lockfd);
        close(dirfd);
        return si_error_set(err, 500, "internal", "cannot lock the metrics directory");
    }
    int rc = -1;
    /* Two passes: first fold what has ended, then read the rest, so within this scrape
     * (the lock held) every count is read exactly once. */
    for (int pass = 0; pass < 2; pass++) {
        int dfd = dup(dirfd);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (d == NULL) {
            if (dfd >= 0)
                close(dfd);
            si_error_set(err, 500, "internal", "cannot read the metrics directory");
            goto out;
        }
        rewinddir(d);
        size_t seen = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL && seen < METRICS_MAX_FILES) {
            int kind = kind_of(e->d_name);
            if (kind == 0)
                continue;
            seen++;
            if (pass == 0 && kind == 3)
                continue;
            struct si_metrics_file *f = map_file(dirfd, e->d_name, false);
            if (f == NULL)
                continue;
            bool live = kind == 1 && process_alive(f);
            if (pass == 0) {
                if (kind == 2 || (kind == 1 && !live)) {
                    if (fold(dirfd, e->d_name, f) == 0)
                        snap->folded++;
                }
            } else if (kind == 3 || kind == 1) {
                metrics_add_file(snap, f, live);
            } else {
                metrics_add_file(snap, f, 0);   /* a .dead file that could not be folded */
            }
            munmap(f, sizeof *f);
        }
        closedir(d);
    }
    /* The same order on every scrape: by name. */
    qsort(snap->fns, snap->n_fns, sizeof snap->fns[0], by_fn_name);
    qsort(snap->tasks, snap->n_tasks, sizeof snap->tasks[0], by_task_name);
    rc = 0;
out:
    flock(lockfd, LOCK_UN);
    close(lockfd);
    close(dirfd);
    return rc;
}
