/* sse_bench.c: N concurrent Server-Sent Events subscribers, for scripts/bench-events.
 *
 *   sse_bench PORT PATH N EXPECTED TIMEOUT_S
 *
 * Opens N plain-socket HTTP/1.0 connections to 127.0.0.1:PORT (HTTP/1.0, so
 * nginx streams the body as it comes, without chunked framing), GETs PATH
 * with Accept: text/event-stream, and prints "ready <n>" once every stream
 * has sent its first line.  Then it reads events: a data line whose payload
 * holds "ts":<microseconds since the epoch> (the writer's clock at commit)
 * gives one latency sample, now - ts.  It stops when every stream has
 * EXPECTED events, or at TIMEOUT_S, and prints one summary line:
 *
 *   streams=N ready=R failed=F events=E expected=X p50_ms=.. p90_ms=.. p99_ms=.. max_ms=..
 *
 * One thread, epoll, no libraries: 500 subscribers cost the client little,
 * so the figures are the server's.  Built by scripts/bench-events with cc. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct sub {
    int fd;
    int state;          /* 0 connecting, 1 reading headers, 2 streaming, 3 done/failed */
    char buf[16384];
    size_t len;
    long events;
    int ready;
};

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double *samples;
static size_t n_samples, cap_samples;

static void sample(double ms)
{
    if (n_samples == cap_samples) {
        size_t cap = cap_samples ? cap_samples * 2 : 4096;
        double *p = realloc(samples, cap * sizeof *p);
        if (p == NULL)
            return;
        samples = p;
        cap_samples = cap;
    }
    samples[n_samples++] = ms;
}

/* Handles complete lines in s->buf; returns -1 when the stream is unusable. */
static int take_lines(struct sub *s, int *ready_count)
{
    size_t start = 0;
    for (;;) {
        char *nl = memchr(s->buf + start, '\n', s->len - start);
        if (nl == NULL)
            break;
        *nl = '\0';
        char *line = s->buf + start;
        start = (size_t)(nl - s->buf) + 1;
        if (s->state == 1) {
            if (strncmp(line, "HTTP/", 5) == 0 && strstr(line, " 200 ") == NULL)
                return -1;
            if (line[0] == '\r' || line[0] == '\0')
                s->state = 2;
            continue;
        }
        if (!s->ready && strncmp(line, "retry:", 6) == 0) {
            s->ready = 1;
            (*ready_count)++;
        }
        if (strncmp(line, "data: ", 6) == 0) {
            const char *ts = strstr(line, "\"ts\":");
            if (ts != NULL) {
                double sent = strtod(ts + 5, NULL);
                sample((now_us() - sent) / 1000.0);
            }
            s->events++;
        }
    }
    memmove(s->buf, s->buf + start, s->len - start);
    s->len -= start;
    if (s->len == sizeof s->buf)
        return -1;   /* a line longer than the buffer */
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s PORT PATH N EXPECTED TIMEOUT_S\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]);
    const char *path = argv[2];
    int n = atoi(argv[3]);
    long expected = atol(argv[4]);
    double timeout = atof(argv[5]);
    if (port <= 0 || n <= 0 || expected < 0 || timeout <= 0)
        return 2;
    char request[8192];
    int rlen = snprintf(request, sizeof request,
                        "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n", path);
    if (rlen < 0 || (size_t)rlen >= sizeof request)
        return 2;

    struct sub *subs = calloc((size_t)n, sizeof *subs);
    int ep = epoll_create1(0);
    if (subs == NULL || ep < 0)
        return 1;
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int failed = 0, ready = 0, done = 0;
    for (int i = 0; i < n; i++) {
        struct sub *s = &subs[i];
        s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (s->fd < 0 || (connect(s->fd, (struct sockaddr *)&addr, sizeof addr) != 0 && errno != EINPROGRESS)) {
            s->state = 3;
            failed++;
            continue;
        }
        struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN, .data.ptr = s };
        epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
    }
    double t0 = mono_s();
    int announced = 0;
    struct epoll_event evs[256];
    while (done + failed < n && mono_s() - t0 < timeout) {
        int k = epoll_wait(ep, evs, 256, 100);
        for (int i = 0; i < k; i++) {
            struct sub *s = evs[i].data.ptr;
            if (s->state == 3)
                continue;
            if (s->state == 0 && (evs[i].events & EPOLLOUT)) {
                if (write(s->fd, request, (size_t)rlen) != rlen) {
                    s->state = 3;
                    failed++;
                    close(s->fd);
                    continue;
                }
                s->state = 1;
                struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };
                epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
            }
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                ssize_t r = read(s->fd, s->buf + s->len, sizeof s->buf - s->len);
                if (r <= 0 || (s->len += (size_t)r, take_lines(s, &ready) != 0)) {
                    if (r < 0 && errno == EAGAIN)
                        continue;
                    s->state = 3;
                    close(s->fd);
                    if (s->events >= expected)
                        done++;
                    else
                        failed++;
                    continue;
                }
                if (s->events >= expected && expected > 0) {
                    s->state = 3;
                    close(s->fd);
                    done++;
                }
            }
        }
        if (!announced && ready + failed >= n) {
            printf("ready %d\n", ready);
            fflush(stdout);
            announced = 1;
        }
    }
    long events = 0;
    for (int i = 0; i < n; i++) {
        events += subs[i].events;
        if (subs[i].state != 3)
            close(subs[i].fd);
    }
    qsort(samples, n_samples, sizeof *samples, cmp_double);
#define PCT(p) (n_samples ? samples[(size_t)((double)(n_samples - 1) * (p))] : -1.0)
    printf("streams=%d ready=%d failed=%d events=%ld expected=%ld samples=%zu p50_ms=%.2f p90_ms=%.2f "
           "p99_ms=%.2f max_ms=%.2f\n", n, ready, failed, events, expected * (long)n, n_samples, PCT(0.50),
           PCT(0.90), PCT(0.99), n_samples ? samples[n_samples - 1] : -1.0);
    free(samples);
    free(subs);
    close(ep);
    return 0;
}
