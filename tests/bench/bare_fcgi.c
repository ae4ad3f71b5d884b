/* bare_fcgi.c: the smallest useful FastCGI responder, the yardstick of scripts/bench-http.
 *
 *   bare_fcgi SOCKET THREADS
 *
 * Listens on the unix socket SOCKET (DATABASE_URL names the database) and runs
 * THREADS threads, each blocked in FCGX_Accept_r on it with its own libpq
 * connection and ONE prepared primary-key lookup
 *     SELECT version FROM schema_migrations WHERE version = $1
 * answered as {"ok":true,"version":N}.  No logging, no deadlines, no request
 * parsing, no reconnect: what any C responder doing one database lookup per
 * request costs at least, so the runtime's overhead over it can be measured.
 * Built by scripts/bench-http with cc; not part of the product. */
#include <fcgiapp.h>
#include <libpq-fe.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int listen_fd;

static void *serve(void *arg)
{
    (void)arg;
    PGconn *db = PQconnectdb(getenv("DATABASE_URL"));
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "bare_fcgi: connect: %s", PQerrorMessage(db));
        exit(1);
    }
    PGresult *prep = PQprepare(db, "lookup", "SELECT version FROM schema_migrations WHERE version = $1", 1, NULL);
    if (PQresultStatus(prep) != PGRES_COMMAND_OK) {
        fprintf(stderr, "bare_fcgi: prepare: %s", PQerrorMessage(db));
        exit(1);
    }
    PQclear(prep);
    FCGX_Request r;
    if (FCGX_InitRequest(&r, listen_fd, 0) != 0)
        exit(1);
    const char *params[1] = { "1" };
    while (FCGX_Accept_r(&r) >= 0) {
        PGresult *res = PQexecPrepared(db, "lookup", 1, params, NULL, NULL, 0);
        char body[128];
        int status = 200, n;
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
            n = snprintf(body, sizeof body, "{\"ok\":true,\"version\":%s}", PQgetvalue(res, 0, 0));
        } else {
            status = 503;
            n = snprintf(body, sizeof body, "{\"ok\":false,\"error\":\"database\",\"code\":\"db_unavailable\"}");
        }
        PQclear(res);
        FCGX_FPrintF(r.out, "Status: %d\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                     status, n, body);
        FCGX_Finish_r(&r);
    }
    PQfinish(db);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bare_fcgi SOCKET THREADS\n");
        return 2;
    }
    int threads = atoi(argv[2]);
    if (threads < 1 || threads > 64 || getenv("DATABASE_URL") == NULL || FCGX_Init() != 0)
        return 2;
    listen_fd = FCGX_OpenSocket(argv[1], 1024);
    if (listen_fd < 0) {
        perror("bare_fcgi: listen");
        return 1;
    }
    pthread_t t[64];
    for (int i = 0; i < threads; i++)
        if (pthread_create(&t[i], NULL, serve, NULL) != 0)
            return 1;
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    return 0;
}
