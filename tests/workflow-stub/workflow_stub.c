/* workflow_stub.c: a stand-in for the services the workflow worker triggers
 * (sync, detection, matching, ...), for tests/integration/t0050-workflow.sh.
 *
 *   workflow_stub PORT
 *
 * Any POST to a path not starting with /_ is a service call: it is counted per
 * Idempotency-Key header and answered 200 {"ok":true}, unless told otherwise:
 *   POST /_fail?n=N&status=S   the next N service calls answer S (default 503)
 *   POST /_delay?ms=M          every service call waits M ms first (0 = off)
 *   POST /_reset               clears the failures, the delay and the counts
 *   GET  /_count?key=K         {"total":<service calls>,"key":<calls with key K>,
 *                              "keys":<distinct keys: the effects of a service that
 *                              treats a repeated key as the same request>}
 * One thread per connection, one request per connection; the state is guarded
 * by one mutex. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEAD (64 * 1024)
#define MAX_KEYS 8192
#define KEY_LEN 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int fail_left, fail_status = 503;   /* guarded by lock */
static long delay_ms;                      /* guarded by lock */
static unsigned long total;                /* guarded by lock */
static struct { char key[KEY_LEN]; unsigned long n; } keys[MAX_KEYS];
static size_t n_keys;                      /* guarded by lock */

static int read_some(int fd, char *buf, size_t n)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int rc;
    do
        rc = poll(&p, 1, 10000);
    while (rc < 0 && errno == EINTR);
    if (rc <= 0)
        return -1;
    ssize_t got = read(fd, buf, n);
    return got < 0 ? -1 : (int)got;
}

static void reply(int fd, int status, const char *body)
{
    char out[1024];
    int n = snprintf(out, sizeof out, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s", status, strlen(body), body);
    if (n > 0 && write(fd, out, (size_t)n) < 0)
        return;
}

static long query_long(const char *path, const char *name, long def)
{
    const char *q = strchr(path, '?');
    size_t len = strlen(name);
    while (q != NULL) {
        q++;
        if (strncmp(q, name, len) == 0 && q[len] == '=')
            return strtol(q + len + 1, NULL, 10);
        q = strchr(q, '&');
    }
    return def;
}

static void query_str(const char *path, const char *name, char *out, size_t n)
{
    out[0] = '\0';
    const char *q = strchr(path, '?');
    size_t len = strlen(name);
    while (q != NULL) {
        q++;
        if (strncmp(q, name, len) == 0 && q[len] == '=') {
            size_t v = strcspn(q + len + 1, "& ");
            if (v >= n)
                v = n - 1;
            memcpy(out, q + len + 1, v);
            out[v] = '\0';
            return;
        }
        q = strchr(q, '&');
    }
}

static void *serve(void *arg)
{
    int fd = (int)(long)arg;
    char *head = malloc(MAX_HEAD + 1);
    size_t len = 0;
    char *end = NULL;
    if (head == NULL)
        goto out;
    while (len < MAX_HEAD) {
        int got = read_some(fd, head + len, MAX_HEAD - len);
        if (got <= 0)
            goto out;
        len += (size_t)got;
        head[len] = '\0';
        if ((end = strstr(head, "\r\n\r\n")) != NULL)
            break;
    }
    if (end == NULL)
        goto out;
    /* Drain the body (Content-Length only). */
    long clen = 0;
    const char *cl = strcasestr(head, "\r\ncontent-length:");
    if (cl != NULL)
        clen = strtol(cl + 17, NULL, 10);
    long have = (long)(len - (size_t)(end + 4 - head));
    char sink[4096];
    while (have < clen) {
        int got = read_some(fd, sink, sizeof sink);
        if (got <= 0)
            goto out;
        have += got;
    }
    char method[8] = "", path[512] = "";
    if (sscanf(head, "%7s %511s", method, path) != 2)
        goto out;
    char key[KEY_LEN] = "";
    const char *k = strcasestr(head, "\r\nidempotency-key:");
    if (k != NULL) {
        k += 18;
        while (*k == ' ')
            k++;
        size_t kl = strcspn(k, "\r\n");
        if (kl >= KEY_LEN)
            kl = KEY_LEN - 1;
        memcpy(key, k, kl);
        key[kl] = '\0';
    }
    char body[256];
    if (strncmp(path, "/_fail", 6) == 0) {
        pthread_mutex_lock(&lock);
        fail_left = (int)query_long(path, "n", 1);
        fail_status = (int)query_long(path, "status", 503);
        pthread_mutex_unlock(&lock);
        reply(fd, 200, "{\"ok\":true}");
    } else if (strncmp(path, "/_delay", 7) == 0) {
        pthread_mutex_lock(&lock);
        delay_ms = query_long(path, "ms", 0);
        pthread_mutex_unlock(&lock);
        reply(fd, 200, "{\"ok\":true}");
    } else if (strncmp(path, "/_reset", 7) == 0) {
        pthread_mutex_lock(&lock);
        fail_left = 0;
        delay_ms = 0;
        total = 0;
        n_keys = 0;
        pthread_mutex_unlock(&lock);
        reply(fd, 200, "{\"ok\":true}");
    } else if (strncmp(path, "/_count", 7) == 0) {
        char want[KEY_LEN];
        query_str(path, "key", want, sizeof want);
        unsigned long n = 0;
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < n_keys; i++)
            if (strcmp(keys[i].key, want) == 0)
                n = keys[i].n;
        snprintf(body, sizeof body, "{\"total\":%lu,\"key\":%lu,\"keys\":%zu}", total, n, n_keys);
        pthread_mutex_unlock(&lock);
        reply(fd, 200, body);
    } else if (strcmp(method, "POST") == 0) {
        pthread_mutex_lock(&lock);
        total++;
        size_t i;
        for (i = 0; i < n_keys && strcmp(keys[i].key, key) != 0; i++)
            ;
        if (i == n_keys && n_keys < MAX_KEYS) {
            snprintf(keys[i].key, KEY_LEN, "%s", key);
            keys[i].n = 0;
            n_keys++;
        }
        if (i < n_keys)
            keys[i].n++;
        long wait = delay_ms;
        int status = 200;
        if (fail_left > 0) {
            fail_left--;
            status = fail_status;
        }
        pthread_mutex_unlock(&lock);
        if (wait > 0) {
            struct timespec ts = { wait / 1000, (wait % 1000) * 1000000L };
            while (nanosleep(&ts, &ts) != 0)
                ;
        }
        reply(fd, status, status == 200 ? "{\"ok\":true}" : "{\"ok\":false}");
    } else {
        reply(fd, 404, "{\"ok\":false}");
    }
out:
    free(head);
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: workflow_stub PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        return 1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1])) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 128) != 0) {
        perror("workflow_stub");
        return 1;
    }
    fprintf(stderr, "workflow_stub listening on 127.0.0.1:%s\n", argv[1]);
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        pthread_t t;
        if (pthread_create(&t, NULL, serve, (void *)(long)c) != 0) {
            close(c);
            continue;
        }
        pthread_detach(t);
    }
}
