/* bench_metrics.c: what the /metrics counters cost a request: the hooks si_server.c runs per
 * request (si_metrics_request_start, si_metrics_request_end) timed in 1 and 2 threads bumping
 * the same mapped file (the contended case: every worker thread of a responder shares it),
 * against the same calls with nothing mapped.  Prints ns per request.
 *   bench_metrics [ITERATIONS_PER_THREAD]   (default 5,000,000) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "si_metrics.h"

static long iterations = 5000000;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *loop(void *arg)
{
    (void)arg;
    for (long i = 0; i < iterations; i++) {
        si_metrics_request_start();
        si_metrics_request_end(200, (double)(i & 255) * 0.1, true);
    }
    return NULL;
}

/* ns per request with n threads. */
static double run(int n)
{
    pthread_t t[2];
    double t0 = now_s();
    for (int i = 0; i < n; i++)
        if (pthread_create(&t[i], NULL, loop, NULL) != 0)
            exit(1);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    return (now_s() - t0) * 1e9 / (double)iterations;   /* wall time per request of one thread */
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        char *end = NULL;
        iterations = strtol(argv[1], &end, 10);
        if (end == argv[1] || *end != '\0' || iterations < 1) {
            fprintf(stderr, "usage: bench_metrics [ITERATIONS_PER_THREAD]\n");
            return 2;
        }
    }
    double off1 = run(1), off2 = run(2);
    char tmpl[] = "/tmp/bench_metrics.XXXXXX";
    if (mkdtemp(tmpl) == NULL)
        return 1;
    char env[128];
    snprintf(env, sizeof env, "SMARTIMPORT_METRICS_DIR=%s", tmpl);
    char *envp[] = { env, NULL };
    if (si_metrics_open("bench", envp) != 0 || si_metrics_self() == NULL) {
        perror("si_metrics_open");
        return 1;
    }
    double on1 = run(1), on2 = run(2);
    char path[200];
    snprintf(path, sizeof path, "%s/bench.%d", tmpl, (int)getpid());
    si_metrics_close();
    unlink(path);
    rmdir(tmpl);
    printf("metrics hooks per request (%ld iterations per thread; indicative, nice 19 on a shared machine)\n",
           iterations);
    printf("threads  off ns  on ns  cost ns\n");
    printf("1        %6.1f %6.1f %8.1f\n", off1, on1, on1 - off1);
    printf("2        %6.1f %6.1f %8.1f\n", off2, on2, on2 - off2);
    return 0;
}
