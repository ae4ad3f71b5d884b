/* si_listen.c: a FastCGI function's listening address (unix path or tcp:HOST:PORT), its
 * listening socket, and the FCGI_WEB_SERVER_ADDRS peer check (syntax in si_listen.h). */
#include "si_listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static bool host_char(char c, bool bracketed)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
        c == '_')
        return true;
    return bracketed && (c == ':' || c == '%');
}

static int parse_tcp(const char *s, struct si_listen_addr *out, char *err, size_t errlen)
{
    const char *host = s, *host_end, *colon;
    bool bracketed = s[0] == '[';
    if (bracketed) {
        host = s + 1;
        host_end = strchr(host, ']');
        if (host_end == NULL || host_end[1] != ':') {
            snprintf(err, errlen, "an IPv6 address is written [ADDR]:PORT");
            return -1;
        }
        colon = host_end + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL) {
            snprintf(err, errlen, "expected tcp:HOST:PORT");
            return -1;
        }
        host_end = colon;
    }
    size_t n = (size_t)(host_end - host);
    if (n == 0 || n >= sizeof out->host) {
        snprintf(err, errlen, "expected a host (an address or a name) before the port");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (!host_char(host[i], bracketed)) {
            snprintf(err, errlen, "unexpected character in the host (an IPv6 address goes in brackets)");
            return -1;
        }
    const char *port = colon + 1;
    size_t pn = strlen(port);
    unsigned long value = 0;
    for (size_t i = 0; i < pn; i++) {
        if (port[i] < '0' || port[i] > '9' || pn > 5) {
            value = 0;
            break;
        }
        value = value * 10 + (unsigned long)(port[i] - '0');
    }
    if (pn == 0 || value == 0 || value > 65535) {
        snprintf(err, errlen, "the port must be 1..65535");
        return -1;
    }
    memset(out, 0, sizeof *out);
    out->tcp = true;
    memcpy(out->host, host, n);
    out->host[n] = '\0';
    snprintf(out->port, sizeof out->port, "%lu", value);
    return 0;
}

int si_listen_parse(const char *text, struct si_listen_addr *out, char *err, size_t errlen)
{
    if (text == NULL || text[0] == '\0') {
        snprintf(err, errlen, "empty listening address");
        return -1;
    }
    if (strncmp(text, "tcp:", 4) == 0)
        return parse_tcp(text + 4, out, err, errlen);
    /* HOST:PORT never holds a '/': anything with one, or without a ':', is a unix path. */
    if (strchr(text, '/') != NULL || strchr(text, ':') == NULL) {
        struct sockaddr_un addr;
        if (strlen(text) >= sizeof addr.sun_path) {
            snprintf(err, errlen, "unix socket path longer than %zu bytes", sizeof addr.sun_path - 1);
            return -1;
        }
        if (strchr(text, ':') != NULL && text[0] != '/') {
            snprintf(err, errlen, "a unix socket path with ':' must be absolute");
            return -1;
        }
        memset(out, 0, sizeof *out);
        out->path = text;
        return 0;
    }
    return parse_tcp(text, out, err, errlen);
}

static int open_unix(const char *path, int backlog, unsigned mode, char *err, size_t errlen)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    memcpy(addr.sun_path, path, strlen(path) + 1);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "%s exists and is not a socket", path);
            return -1;
        }
        if (unlink(path) != 0) {
            snprintf(err, errlen, "cannot remove the old socket: %s", strerror(errno));
            return -1;
        }
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    /* The mode through the umask: a socket is created with it, never widened after. */
    mode_t old = mode != 0 ? umask((mode_t)(~mode & 0777)) : 0;
    int rc = bind(fd, (struct sockaddr *)&addr, sizeof addr);
    int bind_errno = errno;
    if (mode != 0)
        umask(old);
    if (rc != 0 || listen(fd, backlog) != 0) {
        snprintf(err, errlen, "%s: %s", rc != 0 ? "bind" : "listen", strerror(rc != 0 ? bind_errno : errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int open_tcp(const struct si_listen_addr *a, int backlog, char *err, size_t errlen)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(a->host, a->port, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "%s: %s", a->host, gai_strerror(gai));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        freeaddrinfo(res);
        return -1;
    }
    int one = 1;
    const char *step = "setsockopt(SO_REUSEADDR)";
    int rc = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (rc == 0) {
        step = "bind";
        rc = bind(fd, res->ai_addr, res->ai_addrlen);
    }
    if (rc == 0) {
        step = "listen";
        rc = listen(fd, backlog);
    }
    freeaddrinfo(res);
    if (rc != 0) {
        snprintf(err, errlen, "%s %s:%s: %s", step, a->host, a->port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int si_listen_open(const char *text, int backlog, unsigned unix_mode, char *err, size_t errlen)
{
    struct si_listen_addr a;
    if (si_listen_parse(text, &a, err, errlen) != 0)
        return -1;
    return a.tcp ? open_tcp(&a, backlog, err, errlen) : open_unix(a.path, backlog, unix_mode, err, errlen);
}

bool si_listen_peer_allowed(const struct sockaddr *peer, const char *list)
{
    if (list == NULL || list[0] == '\0' || peer->sa_family == AF_UNIX)
        return true;
    if (peer->sa_family != AF_INET)
        return false;
    const struct in_addr *ip = &((const struct sockaddr_in *)peer)->sin_addr;
    for (const char *p = list; *p != '\0';) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, " \t,");
        char one[INET_ADDRSTRLEN];
        struct in_addr want;
        if (n > 0 && n < sizeof one) {
            memcpy(one, p, n);
            one[n] = '\0';
            if (inet_pton(AF_INET, one, &want) == 1 && want.s_addr == ip->s_addr)
                return true;
        }
        p += n;
    }
    return false;
}
