/* si_db.c: connection with deadlines, transparent reconnect, statement
 * execution with cancel on timeout (see si_db.h). */
#include "si_db.h"
#include "si_clock.h"
#include "si_limits.h"
#include "si_log.h"
#include "si_metrics.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Waits until fd is ready for events or the deadline passes: 1 ready,
 * 0 deadline, -1 error. */
static int wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - si_now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = { .fd = fd, .events = events, .revents = 0 };
        int r = poll(&p, 1, (int)(left > 1000000 ? 1000000 : left));
        if (r > 0)
            return 1;
        if (r == 0)
            continue;
        if (errno != EINTR)
            return -1;
    }
}

void si_db_init(struct si_db *db, const char *conninfo, const char *application_name,
                int connect_timeout_ms, int query_timeout_ms)
{
    db->conn = NULL;
    db->conninfo = conninfo;
    db->application_name = application_name ? application_name : "smartimport";
    db->options = NULL;
    db->nprepared = 0;
    db->prepare = false;
    db->connect_timeout_ms = connect_timeout_ms;
    db->query_timeout_ms = query_timeout_ms;
    db->bulk_timeout_ms = SI_DB_BULK_TIMEOUT_MS;
    db->reconnects = 0;
    db->in_tx = false;
    db->tx_lost = false;
    db->primary = NULL;
    db->read_retry_ms = 0;
    db->read_failing = false;
}

void si_db_init_read(struct si_db *db, struct si_db *primary, const char *conninfo,
                     const char *application_name)
{
    si_db_init(db, conninfo, application_name, primary->connect_timeout_ms, primary->query_timeout_ms);
    db->bulk_timeout_ms = primary->bulk_timeout_ms;
    db->prepare = primary->prepare;
    db->primary = primary;
}

/* Prepared statements belong to a connection: forget them with it. */
static void forget_prepared(struct si_db *db)
{
    for (int i = 0; i < db->nprepared; i++)
        free(db->prepared[i]);
    db->nprepared = 0;
}

static void close_connection(struct si_db *db)
{
    if (db->in_tx)
        db->tx_lost = true;   /* the server rolled it back; say so until the caller ends it */
    db->in_tx = false;
    if (db->conn != NULL) {
        PQfinish(db->conn);
        db->conn = NULL;
    }
    forget_prepared(db);
}

/* A connection that failed: the next statement opens a new one (counted for /metrics). */
static void drop(struct si_db *db)
{
    if (db->conn != NULL)
        si_metrics_db_reconnect();
    close_connection(db);
}

void si_db_cleanup(struct si_db *db)
{
    close_connection(db);
}

/* Words after which a quoted name is an object's name, not a value. */
static bool names_an_object(const char *start, const char *quote)
{
    static const char *const words[] = { "constraint", "relation", "column", "table", "index",
                                         "schema", "database", "role", "sequence", "trigger",
                                         "view", "function", "extension", "type" };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t k = strlen(words[i]);
        if ((size_t)(quote - start) >= k + 1 && quote[-1] == ' ' &&
            memcmp(quote - 1 - k, words[i], k) == 0 &&
            (quote - 1 - k == start || quote[-2 - (ptrdiff_t)k] == ' '))
            return true;
    }
    return false;
}

static bool identifier_like(const char *s, size_t n)
{
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '$' || s[i] == '.'))
            return false;
    return true;
}

void si_db_log_safe_message(const char *msg, char *out, size_t cap)
{
    if (cap == 0)
        return;
    size_t o = 0;
    const char *p = msg != NULL ? msg : "";
    while (*p != '\0' && *p != '\n' && o + 1 < cap) {
        if (*p != '"') {
            out[o++] = *p++;
            continue;
        }
        const char *close = strchr(p + 1, '"'), *nl = strchr(p + 1, '\n');
        bool closed = close != NULL && (nl == NULL || close < nl);
        size_t n = closed ? (size_t)(close - p - 1) : 0;
        bool keep = closed && names_an_object(msg, p) && identifier_like(p + 1, n);
        size_t len = keep ? n + 2 : 3;
        if (o + len >= cap)
            break;
        memcpy(out + o, keep ? p : "\"?\"", len);
        o += len;
        if (!closed)
            break;  /* an unclosed quote hides the rest of the line */
        p = close + 1;
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
}

static int unavailable(struct si_error *err, const char *why, const char *libpq_text)
{
    si_error_set(err, 503, "db_unavailable", "database unavailable");
    /* libpq's text can carry the server's whole error (DETAIL lines included). */
    char safe[SI_ERROR_DETAIL_MAX];
    si_db_log_safe_message(libpq_text, safe, sizeof safe);
    si_error_detail(err, "%s: %s", why, safe);
    return -1;
}

/* The session's libpq "options": JIT off (our statements are short or run once, and
 * compiling one, 0.5-0.8 s for the bulk checks, costs more than it ever saves here), then
 * the options DATABASE_URL names, then db->options (later -c settings win). */
static int session_options(const struct si_db *db, char *out, size_t n)
{
    PQconninfoOption *opts = PQconninfoParse(db->conninfo, NULL);
    if (opts == NULL)
        return -1;
    const char *url = NULL;
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
        if (strcmp(o->keyword, "options") == 0 && o->val != NULL && o->val[0] != '\0')
            url = o->val;
    int w = snprintf(out, n, "-c jit=off%s%s%s%s", url ? " " : "", url ? url : "", db->options ? " " : "",
                     db->options ? db->options : "");
    PQconninfoFree(opts);
    return w < 0 || (size_t)w >= n ? -1 : 0;
}

static int open_connection(struct si_db *db, struct si_error *err)
{
    if (db->conninfo == NULL)
        return si_error_set(err, 503, "db_unavailable", "database not configured (DATABASE_URL)");
    char options[SI_DB_OPTIONS_MAX];
    if (session_options(db, options, sizeof options) != 0)
        return si_error_set(err, 500, "internal", "database session options too long or DATABASE_URL unreadable");
    const char *keys[] = { "dbname", "application_name", "options", NULL };
    const char *vals[] = { db->conninfo, db->application_name, options, NULL };
    PGconn *c = PQconnectStartParams(keys, vals, 1);
    if (c == NULL)
        return unavailable(err, "connect", "out of memory");
    long long deadline = si_now_ms() + db->connect_timeout_ms;
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    if (PQstatus(c) == CONNECTION_BAD)
        st = PGRES_POLLING_FAILED;
    while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        int r = wait_fd(PQsocket(c), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline);
        if (r <= 0) {
            PQfinish(c);
            return unavailable(err, "connect", r == 0 ? "timed out" : strerror(errno));
        }
        st = PQconnectPoll(c);
    }
    if (st == PGRES_POLLING_FAILED) {
        unavailable(err, "connect", PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    db->conn = c;
    return 0;
}

/* An idle connection whose server went away has unread input (the server's
 * goodbye) or EOF waiting; find that out before sending, not after. */
static bool idle_connection_alive(PGconn *c)
{
    if (PQstatus(c) != CONNECTION_OK)
        return false;
    if (PQtransactionStatus(c) != PQTRANS_IDLE)
        return true;
    struct pollfd p = { .fd = PQsocket(c), .events = POLLIN, .revents = 0 };
    if (poll(&p, 1, 0) > 0) {
        if (!PQconsumeInput(c) || PQstatus(c) != CONNECTION_OK)
            return false;
        PGnotify *n;
        while ((n = PQnotifies(c)) != NULL)
            PQfreemem(n);
        /* A FATAL goodbye without EOF yet still means the backend is gone. */
        if (p.revents & (POLLHUP | POLLERR))
            return false;
    }
    return true;
}

int si_db_connect(struct si_db *db, struct si_error *err)
{
    if (db->conn != NULL && idle_connection_alive(db->conn))
        return 0;
    if (db->conn != NULL) {
        drop(db);
        db->reconnects++;
        si_log(SI_LOG_WARN, "database connection lost, reconnecting", NULL);
    }
    return open_connection(db, err);
}

const char *si_db_sqlstate(const PGresult *res)
{
    const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}

/* PQcancel opens a connection of its own and waits, with no time limit, until the server
 * closes it.  A server that accepts connections and then never answers (a frozen primary: its
 * processes stopped, or its machine hung while its kernel still acknowledges TCP) would hold
 * the caller for good: a worker's claim round there stopped every claim after a failover.  So
 * the request is sent from a thread of its own, waited for up to ms; past that the thread is
 * left to end by itself (it frees the PGcancel) and the request counts as not sent. */
static char cancel_sent;   /* send_cancel's answer: &cancel_sent when the request went out */

static void *send_cancel(void *arg)
{
    char buf[256];
    int sent = PQcancel(arg, buf, sizeof buf);
    PQfreeCancel(arg);
    return sent ? &cancel_sent : NULL;
}

static bool cancel_within(PGcancel *cancel, int ms)
{
    pthread_t t;
    if (pthread_create(&t, NULL, send_cancel, cancel) != 0) {
        PQfreeCancel(cancel);
        return false;
    }
    struct timespec until;
    si_deadline_ts(&until, CLOCK_REALTIME, ms);   /* pthread_timedjoin_np's clock */
    void *ret = NULL;
    if (pthread_timedjoin_np(t, &ret, &until) != 0) {
        pthread_detach(t);
        return false;
    }
    return ret != NULL;
}

/* Cancels the running statement and waits briefly for it to end; if the
 * server does not answer, the connection is dropped. */
static void cancel_statement(struct si_db *db)
{
    PGcancel *cancel = PQgetCancel(db->conn);
    int sent = cancel != NULL && cancel_within(cancel, 1000);
    long long deadline = si_now_ms() + 1000;
    while (sent && PQisBusy(db->conn)) {
        if (wait_fd(PQsocket(db->conn), POLLIN, deadline) <= 0 || !PQconsumeInput(db->conn)) {
            sent = 0;
            break;
        }
    }
    if (sent) {
        PGresult *r;
        while ((r = PQgetResult(db->conn)) != NULL)
            PQclear(r);
    }
    if (!sent || PQstatus(db->conn) != CONNECTION_OK)
        drop(db);
}

static PGresult *fail_from_result(struct si_db *db, PGresult *res, struct si_error *err)
{
    if (PQstatus(db->conn) != CONNECTION_OK) {
        unavailable(err, "query", PQerrorMessage(db->conn));
        drop(db);
        PQclear(res);
        return NULL;
    }
    int status;
    const char *code;
    const char *state = si_db_sqlstate(res);
    si_error_from_sqlstate(state, &status, &code);
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    const char *constraint = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
    if (strcmp(code, "retry") == 0)   /* a deadlock or lock conflict, not an outage (si_db_retry.h) */
        si_error_set(err, status, code, "the database stopped this change because of a concurrent one; try again");
    else if (status == 503)
        si_error_set(err, status, code, "database unavailable");
    else if (status == 504)
        si_error_set(err, status, code, "database statement timed out");
    else if (status == 409)
        si_error_set(err, status, code, "conflicting data");
    else if (status == 400)
        si_error_set(err, status, code, "invalid data");
    else
        si_error_set(err, status, code, "database error");
    if (err != NULL)
        snprintf(err->sqlstate, sizeof err->sqlstate, "%s", state);
    char safe[SI_ERROR_DETAIL_MAX];
    si_db_log_safe_message(primary, safe, sizeof safe);
    si_error_detail(err, "sqlstate %s: %s%s%s", state, safe,
                    constraint ? " constraint " : "", constraint ? constraint : "");
    /* read_only_sql_transaction: this server is (now) a standby, after a failover or a switchover
     * that left the connection up.  Drop it, so the next statement opens a new one and libpq's
     * target_session_attrs=read-write (scripts/pg-ha url) finds the new primary. */
    if (strcmp(state, "25006") == 0)
        drop(db);
    PQclear(res);
    return NULL;
}

/* Reads the result of the statement just sent, waiting until the deadline
 * (then the statement is cancelled: 504).  Any status is returned; NULL with
 * err when the connection failed or the deadline passed. */
static PGresult *collect(struct si_db *db, long long deadline, int timeout_ms, struct si_error *err)
{
    PGresult *res = NULL;
    for (;;) {
        while (PQisBusy(db->conn)) {
            int r = wait_fd(PQsocket(db->conn), POLLIN, deadline);
            if (r == 0) {
                cancel_statement(db);
                PQclear(res);
                si_metrics_db_timeout();
                si_error_set(err, 504, "db_timeout", "database statement timed out");
                si_error_detail(err, "no answer within %d ms", timeout_ms);
                return NULL;
            }
            if (r < 0 || !PQconsumeInput(db->conn)) {
                PQclear(res);
                unavailable(err, "receive", PQerrorMessage(db->conn));
                drop(db);
                return NULL;
            }
        }
        PGresult *r = PQgetResult(db->conn);
        if (r == NULL)
            break;
        if (res == NULL)
            res = r;
        else
            PQclear(r);  /* one statement, one result; ignore any others */
    }
    if (res == NULL) {
        unavailable(err, "query", PQerrorMessage(db->conn));
        drop(db);
    }
    return res;
}

/* The name under which sql is prepared on this connection, preparing it the
 * first time (one extra round trip, once per connection and statement).
 * Statements with parameters only unless `always` (si_db_exec_prepared), at
 * most SI_DB_PREPARED_MAX of them; *name
 * is "" when the statement runs unnamed.  -1 with err when preparing failed
 * (a syntax error, an aborted transaction, a lost connection). */
static int prepared_name(struct si_db *db, const char *sql, int n_params, bool always, long long deadline,
                         int timeout_ms, char name[16], struct si_error *err)
{
    name[0] = '\0';
    if (n_params == 0 && !always)
        return 0;
    for (int i = 0; i < db->nprepared; i++) {
        if (strcmp(db->prepared[i], sql) == 0) {
            snprintf(name, 16, "si%d", i);
            return 0;
        }
    }
    if (db->nprepared == SI_DB_PREPARED_MAX)
        return 0;
    char *copy = strdup(sql);
    if (copy == NULL)
        return 0;   /* unnamed then */
    snprintf(name, 16, "si%d", db->nprepared);
    if (!PQsendPrepare(db->conn, name, sql, n_params, NULL)) {
        free(copy);
        unavailable(err, "send", PQerrorMessage(db->conn));
        drop(db);
        return -1;
    }
    PGresult *res = collect(db, deadline, timeout_ms, err);
    if (res == NULL) {
        free(copy);
        return -1;
    }
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        free(copy);
        fail_from_result(db, res, err);
        return -1;
    }
    PQclear(res);
    db->prepared[db->nprepared++] = copy;
    return 0;
}

/* When a statement is prepared (si_db.h): never, when the connection opted in, or always. */
enum prepare_mode { PREPARE_NEVER, PREPARE_IF_OPTED_IN, PREPARE_ALWAYS };

static PGresult *exec(struct si_db *db, const char *sql, int n_params, const char *const *params,
                      int timeout_ms, enum prepare_mode prepare, struct si_error *err)
{
    if (db->tx_lost) {
        unavailable(err, "query", "connection lost during the transaction");
        return NULL;
    }
    if (!db->in_tx && si_db_connect(db, err) != 0)
        return NULL;
    long long deadline = si_now_ms() + timeout_ms;
    char name[16] = "";
    bool wanted = prepare == PREPARE_ALWAYS || (prepare == PREPARE_IF_OPTED_IN && db->prepare);
    if (wanted && prepared_name(db, sql, n_params, prepare == PREPARE_ALWAYS, deadline, timeout_ms, name, err) != 0)
        return NULL;
    int sent = name[0] != '\0' ? PQsendQueryPrepared(db->conn, name, n_params, params, NULL, NULL, 0)
                               : PQsendQueryParams(db->conn, sql, n_params, NULL, params, NULL, NULL, 0);
    if (!sent) {
        unavailable(err, "send", PQerrorMessage(db->conn));
        drop(db);
        return NULL;
    }
    PGresult *res = collect(db, deadline, timeout_ms, err);
    if (res == NULL)
        return NULL;
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    if (strcmp(si_db_sqlstate(res), "57014") == 0)   /* the server's statement_timeout */
        si_metrics_db_timeout();
    return fail_from_result(db, res, err);
}

/* exec on a read connection (si_db.h): its own server while it answers, else the primary's.
 * Its errors other than a 503 (a bad statement, a timeout) are the caller's, as on any connection. */
static PGresult *exec_read(struct si_db *db, const char *sql, int n_params, const char *const *params,
                           int timeout_ms, enum prepare_mode prepare, struct si_error *err)
{
    if (si_now_ms() < db->read_retry_ms)
        return exec(db->primary, sql, n_params, params, timeout_ms, prepare, err);
    struct si_error own;
    si_error_clear(&own);
    PGresult *res = exec(db, sql, n_params, params, timeout_ms, prepare, &own);
    if (res != NULL || own.status != 503) {
        if (res != NULL && db->read_failing) {
            db->read_failing = false;
            si_log(SI_LOG_INFO, "read connection back: lag-tolerant reads leave the primary", NULL);
        }
        if (res == NULL && err != NULL)
            *err = own;
        return res;
    }
    if (db->conn == NULL) {   /* lost, or never had: not tried again for a while */
        db->read_retry_ms = si_now_ms() + SI_DB_READ_RETRY_MS;
        if (!db->read_failing)
            si_log(SI_LOG_WARN, "read connection unavailable: lag-tolerant reads go to the primary",
                   json_pack("{s:s, s:s}", "code", own.code ? own.code : "", "detail", own.detail));
        db->read_failing = true;
    }
    return exec(db->primary, sql, n_params, params, timeout_ms, prepare, err);
}

/* exec, or exec_read on a read connection. */
static PGresult *run(struct si_db *db, const char *sql, int n_params, const char *const *params,
                     int timeout_ms, enum prepare_mode prepare, struct si_error *err)
{
    if (db->primary != NULL)
        return exec_read(db, sql, n_params, params, timeout_ms, prepare, err);
    return exec(db, sql, n_params, params, timeout_ms, prepare, err);
}

PGresult *si_db_exec_timeout(struct si_db *db, const char *sql, int n_params,
                             const char *const *params, int timeout_ms, struct si_error *err)
{
    return run(db, sql, n_params, params, timeout_ms, PREPARE_IF_OPTED_IN, err);
}

PGresult *si_db_exec_prepared(struct si_db *db, const char *sql, int n_params, const char *const *params,
                              int timeout_ms, struct si_error *err)
{
    return run(db, sql, n_params, params, timeout_ms, PREPARE_ALWAYS, err);
}

PGresult *si_db_exec(struct si_db *db, const char *sql, int n_params, const char *const *params,
                     struct si_error *err)
{
    return si_db_exec_timeout(db, sql, n_params, params, db->query_timeout_ms, err);
}

PGresult *si_db_exec_bulk(struct si_db *db, const char *sql, int n_params, const char *const *params,
                          struct si_error *err)
{
    /* never prepared: parsing once saves nothing at that size */
    return run(db, sql, n_params, params, db->bulk_timeout_ms, PREPARE_NEVER, err);
}

int si_db_command(struct si_db *db, const char *sql, int n_params, const char *const *params,
                  struct si_error *err)
{
    PGresult *res = si_db_exec(db, sql, n_params, params, err);
    if (res == NULL)
        return -1;
    PQclear(res);
    return 0;
}

int si_db_begin(struct si_db *db, struct si_error *err)
{
    if (db->primary != NULL)
        return si_error_set(err, 500, "internal", "no transaction on a read connection");
    if (db->in_tx || db->tx_lost)
        return si_error_set(err, 500, "internal", "transaction already open");
    if (si_db_command(db, "BEGIN", 0, NULL, err) != 0)
        return -1;
    db->in_tx = true;
    return 0;
}

int si_db_commit(struct si_db *db, struct si_error *err)
{
    if (db->tx_lost) {
        db->tx_lost = false;
        return unavailable(err, "commit", "connection lost during the transaction");
    }
    if (!db->in_tx)
        return si_error_set(err, 500, "internal", "no transaction to commit");
    PGresult *res = si_db_exec(db, "COMMIT", 0, NULL, err);
    db->in_tx = false;
    if (res == NULL) {
        /* the outcome of a COMMIT whose answer was lost is unknown */
        if (err != NULL && err->status == 503)
            si_error_detail(err, " (commit outcome unknown)");
        return -1;
    }
    /* COMMIT of a failed transaction answers ROLLBACK */
    int ok = strcmp(PQcmdStatus(res), "COMMIT") == 0;
    PQclear(res);
    if (!ok)
        return si_error_set(err, 500, "internal", "transaction was rolled back");
    return 0;
}

void si_db_rollback(struct si_db *db)
{
    db->tx_lost = false;
    if (!db->in_tx)
        return;
    struct si_error err;
    PGresult *res = si_db_exec_timeout(db, "ROLLBACK", 0, NULL, 2000, &err);
    db->in_tx = false;
    if (res == NULL)
        drop(db);
    db->tx_lost = false;
    PQclear(res);
}

bool si_db_in_transaction(const struct si_db *db)
{
    return db->in_tx || db->tx_lost;
}

int si_db_copy_start(struct si_db *db, const char *sql, int n_params, const char *const *params,
                     struct si_error *err)
{
    if (!db->in_tx || db->tx_lost)
        return si_error_set(err, 500, "internal", "COPY runs inside a transaction");
    PGresult *res = PQexecParams(db->conn, sql, n_params, NULL, params, NULL, NULL, 0);
    if (res == NULL || PQresultStatus(res) != PGRES_COPY_IN) {
        if (res != NULL && PQresultStatus(res) == PGRES_FATAL_ERROR) {
            fail_from_result(db, res, err);
            return -1;
        }
        PQclear(res);
        unavailable(err, "copy", PQerrorMessage(db->conn));
        drop(db);
        return -1;
    }
    PQclear(res);
    return 0;
}

int si_db_copy_put(struct si_db *db, const char *data, size_t len, struct si_error *err)
{
    while (len > 0) {
        int n = len > (1 << 30) ? (1 << 30) : (int)len;
        if (PQputCopyData(db->conn, data, n) != 1) {
            unavailable(err, "copy", PQerrorMessage(db->conn));
            drop(db);
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads the result that ends a COPY; 0 when it succeeded. */
static int copy_result(struct si_db *db, long long *out_rows, struct si_error *err)
{
    PGresult *res = NULL, *r;
    while ((r = PQgetResult(db->conn)) != NULL) {
        if (res == NULL)
            res = r;
        else
            PQclear(r);
    }
    if (res == NULL) {
        unavailable(err, "copy", PQerrorMessage(db->conn));
        drop(db);
        return -1;
    }
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        fail_from_result(db, res, err);
        return -1;
    }
    if (out_rows != NULL)
        *out_rows = si_db_rows_affected(res);
    PQclear(res);
    return 0;
}

int si_db_copy_end(struct si_db *db, long long *out_rows, struct si_error *err)
{
    if (PQputCopyEnd(db->conn, NULL) != 1) {
        unavailable(err, "copy", PQerrorMessage(db->conn));
        drop(db);
        return -1;
    }
    return copy_result(db, out_rows, err);
}

void si_db_copy_abort(struct si_db *db, const char *why)
{
    if (db->conn == NULL)
        return;
    struct si_error err;
    if (PQputCopyEnd(db->conn, why ? why : "aborted") != 1)
        drop(db);
    else
        copy_result(db, NULL, &err);  /* the expected error; the transaction is now failed */
}
