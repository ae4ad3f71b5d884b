/* si_listen.h: a FastCGI function's listening address and socket, unix or TCP.
 *
 * One syntax for the supervisor's spec (modules/supervise), SMARTIMPORT_LISTEN and
 * scripts/cluster:
 *   /abs/path.sock      a unix socket (the default stack: the supervisor's run dir)
 *   tcp:HOST:PORT       TCP; HOST an IPv4 address, a name, or [IPv6] (tcp:[::1]:9001)
 *   HOST:PORT           the same as tcp:HOST:PORT (what libfcgi's FCGX_OpenSocket took)
 * A unix path that contains ':' must be absolute; PORT is 1..65535 (no port 0: nginx must
 * know where to connect).  FastCGI over TCP has no peer check of its own: bind a private
 * address, and set FCGI_WEB_SERVER_ADDRS (a comma-separated list of IPv4 addresses) to the
 * addresses nginx connects from; connections from anywhere else are closed unanswered
 * (libfcgi's accept for the json responders, si_listen_peer_allowed for import-events). */
#ifndef SI_LISTEN_H
#define SI_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define SI_LISTEN_HOST_MAX 256

struct si_listen_addr {
    bool tcp;
    char host[SI_LISTEN_HOST_MAX];   /* tcp: without the IPv6 brackets */
    char port[6];                    /* tcp: decimal */
    const char *path;                /* unix: points into the parsed text */
};

/* Reads an address in the syntax above: 0, or -1 with the reason in err. */
int si_listen_parse(const char *text, struct si_listen_addr *out, char *err, size_t errlen);

/* A fresh listening socket (SOCK_CLOEXEC) on text.  unix: a stale socket file at the path is
 * removed first (anything else there is an error), and unix_mode (when not 0) is the
 * socket's mode (e.g. 0660).  tcp: SO_REUSEADDR, so a socket reopened after its owner ended
 * binds at once.  backlog as listen(2).  The fd, or -1 with the reason in err. */
int si_listen_open(const char *text, int backlog, unsigned unix_mode, char *err, size_t errlen);

/* FCGI_WEB_SERVER_ADDRS semantics for a peer: list NULL or empty allows every peer; an
 * AF_INET peer must be one of the list's IPv4 addresses (comma-separated, blanks allowed);
 * a unix peer is always allowed; any other family (IPv6) is refused when a list is set. */
bool si_listen_peer_allowed(const struct sockaddr *peer, const char *list);

#endif
