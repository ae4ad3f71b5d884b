/* check_db.c: the runtime against a real PostgreSQL (DATABASE_URL, migrated):
 * events commit and roll back with their transaction, NOTIFY only on
 * commit, error events survive the rollback, connections come back after
 * the server drops them, statements are cancelled at their deadline (also
 * when the server never answers the cancel: a frozen primary), and
 * the health handler answers 200 or a quick 503; statements with parameters
 * are prepared once per connection; a transaction aborted by a deadlock or
 * serialization failure runs again (si_db_retry_tx); a read connection reads
 * on its own server, or on the primary's connection when it cannot be had.
 * Skipped (77) without DATABASE_URL. */
#include <check.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../modules/health/health.h"
#include "jobs.h"
#include "si_db_retry.h"
#include "si_event.h"
#include "si_server.h"

#define USER "11111111-2222-4333-8444-555555555555"
#define IMPORT "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"

static const char *url;
static struct si_db db;

static void setup(void) { si_db_init(&db, url, "check_db", 1500, 5000); }
static void teardown(void) { si_db_cleanup(&db); }

static long long count_events(const char *type)
{
    struct si_db other;
    struct si_error err;
    si_db_init(&other, url, "check_db_count", 1500, 5000);
    const char *params[] = { USER, type };
    PGresult *res = si_db_exec(&other, "SELECT count(*) FROM import_events WHERE user_id = $1 AND event_type = $2",
                               2, params, &err);
    ck_assert_msg(res != NULL, "count failed: %s %s", err.message, err.detail);
    long long n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    si_db_cleanup(&other);
    return n;
}

/* A separate raw libpq connection that LISTENs. */
static PGconn *listener(void)
{
    PGconn *c = PQconnectdb(url);
    ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
    PQclear(PQexec(c, "LISTEN import_events"));
    return c;
}

/* Waits up to ms for a notification; returns its payload (malloc'd) or NULL. */
static char *wait_notify(PGconn *c, int ms)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        PQconsumeInput(c);
        PGnotify *n = PQnotifies(c);
        if (n != NULL) {
            char *p = strdup(n->extra);
            PQfreemem(n);
            return p;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long left = ms - ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
        if (left <= 0)
            return NULL;
        struct pollfd p = { .fd = PQsocket(c), .events = POLLIN };
        poll(&p, 1, (int)left);
    }
}

START_TEST(an_event_in_a_rolled_back_transaction_never_existed)
{
    struct si_error err;
    PGconn *l = listener();
    long long before = count_events("test:rollback:complete");
    ck_assert_int_eq(si_db_begin(&db, &err), 0);
    long long id = 0;
    ck_assert_int_eq(si_event_record(&db, USER, IMPORT, "test:rollback:complete", json_object(), &id, &err), 0);
    ck_assert_int_gt(id, 0);
    si_db_rollback(&db);
    ck_assert_int_eq(count_events("test:rollback:complete"), before);
    char *n = wait_notify(l, 300);
    ck_assert_msg(n == NULL, "a rolled-back event was notified: %s", n);
    PQfinish(l);
}
END_TEST

START_TEST(a_committed_event_is_stored_and_notified_after_commit)
{
    struct si_error err;
    PGconn *l = listener();
    ck_assert_int_eq(si_db_begin(&db, &err), 0);
    long long id = 0;
    json_t *payload = json_pack("{s:s, s:i, s:f}", "importId", IMPORT, "committed", 42, "ms", 3.5);
    ck_assert_int_eq(si_event_record(&db, USER, IMPORT, "test:commit:complete", payload, &id, &err), 0);
    char *early = wait_notify(l, 200);
    ck_assert_msg(early == NULL, "notified before commit: %s", early);
    ck_assert_int_eq(si_db_commit(&db, &err), 0);
    char *n = wait_notify(l, 2000);
    ck_assert_ptr_nonnull(n);
    char want[64];
    snprintf(want, sizeof want, "\"id\" : %lld", id);
    ck_assert_msg(strstr(n, want) != NULL, "notification %s lacks %s", n, want);
    free(n);
    PQfinish(l);
}
END_TEST

START_TEST(event_ids_increase_monotonically)
{
    struct si_error err;
    long long prev = 0;
    for (int i = 0; i < 5; i++) {
        long long id = 0;
        ck_assert_int_eq(si_db_begin(&db, &err), 0);
        ck_assert_int_eq(si_event_record(&db, USER, NULL, "test:order:step", json_object(), &id, &err), 0);
        ck_assert_int_eq(si_db_commit(&db, &err), 0);
        ck_assert_int_gt(id, prev);
        prev = id;
    }
}
END_TEST

START_TEST(an_error_event_survives_the_rollback_of_the_failed_change)
{
    struct si_error err;
    long long before = count_events("test:commit:error");
    ck_assert_int_eq(si_db_begin(&db, &err), 0);
    ck_assert_int_eq(si_event_record(&db, USER, IMPORT, "test:commit:start", json_object(), NULL, &err), 0);
    /* the change fails half-way */
    ck_assert_int_eq(si_db_command(&db, "SELECT 1/0", 0, NULL, &err), -1);
    ck_assert_int_eq(err.status, 400);
    struct si_error failure = err;   /* the 400 of the failed statement */
    ck_assert_int_eq(si_event_record_error(&db, USER, IMPORT, "test:commit:error", &failure,
                                           json_pack("{s:s}", "stage", "commit"), &err), 0);
    ck_assert(!si_db_in_transaction(&db));
    ck_assert_int_eq(count_events("test:commit:error"), before + 1);
    /* the one shape of an error event: code, status, importId, and what the caller added */
    PGresult *res = si_db_exec(&db, "SELECT payload->>'code', payload->>'status', payload->>'importId', "
                                    "payload->>'stage' FROM import_events WHERE event_type = 'test:commit:error' "
                                    "ORDER BY id DESC LIMIT 1", 0, NULL, &err);
    ck_assert_ptr_nonnull(res);
    ck_assert_str_eq(PQgetvalue(res, 0, 0), failure.code);
    ck_assert_str_eq(PQgetvalue(res, 0, 1), "400");
    ck_assert_str_eq(PQgetvalue(res, 0, 2), IMPORT);
    ck_assert_str_eq(PQgetvalue(res, 0, 3), "commit");
    PQclear(res);
}
END_TEST

START_TEST(events_outside_a_transaction_or_with_unsafe_payloads_are_refused)
{
    struct si_error err;
    ck_assert_int_eq(si_event_record(&db, USER, IMPORT, "test:x:complete", json_object(), NULL, &err), -1);
    ck_assert_int_eq(si_db_begin(&db, &err), 0);
    ck_assert_int_eq(si_event_record(&db, USER, IMPORT, "test:x:complete",
                                     json_pack("{s:s}", "description", "ACME PAYROLL 12345678"), NULL, &err), -1);
    ck_assert_int_eq(si_event_record(&db, USER, IMPORT, "test:x:error", json_object(), NULL, &err), -1);
    ck_assert_int_eq(si_event_record(&db, "not-a-uuid", IMPORT, "test:x:complete", json_object(), NULL, &err), -1);
    /* a payload a failed json_pack left NULL is an error, never an empty event */
    ck_assert_int_eq(si_event_record(&db, USER, IMPORT, "test:x:complete", NULL, NULL, &err), -1);
    si_db_rollback(&db);
}
END_TEST

static int backend_pid(void)
{
    struct si_error err;
    PGresult *res = si_db_exec(&db, "SELECT pg_backend_pid()", 0, NULL, &err);
    ck_assert_ptr_nonnull(res);
    int pid = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return pid;
}

static void terminate(int pid)
{
    PGconn *c = PQconnectdb(url);
    char sql[64];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d)", pid);
    PQclear(PQexec(c, sql));
    PQfinish(c);
    struct timespec pause = { 0, 200 * 1000 * 1000 };
    nanosleep(&pause, NULL);
}

START_TEST(a_connection_the_server_dropped_is_replaced_before_the_next_statement)
{
    int pid = backend_pid();
    terminate(pid);
    int pid2 = backend_pid();   /* must not fail */
    ck_assert_int_ne(pid, pid2);
    ck_assert_uint_eq(db.reconnects, 1);
}
END_TEST

START_TEST(a_connection_lost_inside_a_transaction_is_a_503_not_a_silent_autocommit)
{
    struct si_error err;
    int pid = backend_pid();
    ck_assert_int_eq(si_db_begin(&db, &err), 0);
    terminate(pid);
    ck_assert_int_eq(si_db_command(&db, "SELECT 1", 0, NULL, &err), -1);
    ck_assert_int_eq(err.status, 503);
    ck_assert_int_eq(si_db_command(&db, "SELECT 1", 0, NULL, &err), -1);
    ck_assert_int_eq(si_db_commit(&db, &err), -1);
    ck_assert_int_eq(err.status, 503);
    ck_assert_int_eq(si_db_command(&db, "SELECT 1", 0, NULL, &err), 0);
}
END_TEST

/* A server that became a standby (a failover) answers writes with 25006: the connection is
 * dropped so the next statement opens a new one (to the new primary, through the URL). */
START_TEST(a_connection_that_is_read_only_is_dropped_and_the_next_statement_reconnects)
{
    struct si_error err;
    int pid = backend_pid();
    ck_assert_int_eq(si_db_command(&db, "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", 0, NULL, &err), 0);
    ck_assert_int_eq(si_db_command(&db, "CREATE TEMPORARY TABLE check_db_ro (x int)", 0, NULL, &err), -1);
    ck_assert_int_eq(err.status, 503);
    ck_assert_str_eq(err.sqlstate, "25006");
    ck_assert_ptr_null(db.conn);
    ck_assert_int_eq(si_db_command(&db, "CREATE TEMPORARY TABLE check_db_ro (x int)", 0, NULL, &err), 0);
    ck_assert_int_ne(backend_pid(), pid);
}
END_TEST

/* The application_name of the server connection a statement on c ran on. */
static char *ran_on(struct si_db *c)
{
    struct si_error err;
    PGresult *res = si_db_exec(c, "SELECT current_setting('application_name')", 0, NULL, &err);
    ck_assert_msg(res != NULL, "read failed: %s %s", err.message, err.detail);
    char *name = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    ck_assert_ptr_nonnull(name);
    return name;
}

START_TEST(a_read_connection_reads_on_its_own_server_and_leaves_the_primary_alone)
{
    struct si_db rd;
    struct si_error err;
    si_db_init_read(&rd, &db, url, "check_db-read");
    char *name = ran_on(&rd);
    ck_assert_str_eq(name, "check_db-read");
    free(name);
    ck_assert_ptr_null(db.conn);   /* the primary's connection was never opened */
    ck_assert_int_eq(si_db_begin(&rd, &err), -1);
    ck_assert_int_eq(err.status, 500);
    ck_assert_int_eq(si_db_command(&rd, "SELECT no_such_column", 0, NULL, &err), -1);
    ck_assert_int_ne(err.status, 503);   /* its own errors are the caller's: no second try */
    ck_assert_ptr_null(db.conn);
    si_db_cleanup(&rd);
}
END_TEST

START_TEST(a_read_connection_that_cannot_be_had_reads_on_the_primary_and_is_left_alone_a_while)
{
    struct si_db rd;
    si_db_init_read(&rd, &db, "postgresql://127.0.0.1:1/none?connect_timeout=2", "check_db-read");
    char *name = ran_on(&rd);
    ck_assert_str_eq(name, "check_db");
    free(name);
    ck_assert_ptr_null(rd.conn);
    ck_assert(rd.read_failing);
    long long retry = rd.read_retry_ms;
    ck_assert_int_gt(retry, 0);
    name = ran_on(&rd);             /* within SI_DB_READ_RETRY_MS: not tried again */
    ck_assert_str_eq(name, "check_db");
    free(name);
    ck_assert_int_eq(rd.read_retry_ms, retry);
    si_db_cleanup(&rd);
}
END_TEST

/* A 5 s statement with a 300 ms deadline: *res, *err, and the milliseconds it took. */
static double sleep_past_deadline(PGresult **res, struct si_error *err)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    *res = si_db_exec_timeout(&db, "SELECT pg_sleep(5)", 0, NULL, 300, err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
}

START_TEST(a_statement_past_its_deadline_is_cancelled_with_504)
{
    struct si_error err;
    PGresult *res;
    double ms = sleep_past_deadline(&res, &err);
    ck_assert_ptr_null(res);
    ck_assert_int_eq(err.status, 504);
    ck_assert_msg(ms < 2000, "cancel took %.0f ms", ms);
    ck_assert_int_eq(si_db_command(&db, "SELECT 1", 0, NULL, &err), 0);
}
END_TEST

/* The postmaster of this connection's server (the backend's parent), or 0 when it cannot be
 * read (another machine, another user's /proc). */
static pid_t postmaster_of(PGconn *c)
{
    char path[64], line[128];
    snprintf(path, sizeof path, "/proc/%d/status", PQbackendPID(c));
    FILE *f = fopen(path, "r");
    long ppid = 0;
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "PPid: %ld", &ppid) == 1)
            break;
    fclose(f);
    return (pid_t)ppid;
}

/* A frozen server: its postmaster stopped (SIGSTOP), so a cancel request is taken by the kernel
 * and never answered (a hung primary), while this connection's backend runs on.  libpq's PQcancel
 * waits for that answer with no limit; the statement's deadline must still hold, give or take the
 * cancel's 1 s and the 1 s wait for the statement's end.  Skipped where the postmaster cannot be
 * signalled (not root, or the server is elsewhere). */
START_TEST(a_statement_past_its_deadline_ends_even_when_the_cancel_is_never_answered)
{
    struct si_error err;
    ck_assert_int_eq(si_db_command(&db, "SELECT 1", 0, NULL, &err), 0);
    pid_t pm = postmaster_of(db.conn);
    if (pm <= 1 || kill(pm, SIGSTOP) != 0)
        return;
    /* The server is shared with the stack: it runs again after 10 s whatever happens here. */
    pid_t watchdog = fork();
    if (watchdog == 0) {
        sleep(10);
        kill(pm, SIGCONT);
        _exit(0);
    }
    PGresult *res;
    double ms = sleep_past_deadline(&res, &err);
    kill(pm, SIGCONT);
    if (watchdog > 0) {
        kill(watchdog, SIGKILL);
        waitpid(watchdog, NULL, 0);
    }
    ck_assert_ptr_null(res);
    ck_assert_int_eq(err.status, 504);
    ck_assert_msg(ms < 8000, "a statement with a 300 ms deadline took %.0f ms (the cancel waited for the server)", ms);
    ck_assert_int_eq(si_db_command(&db, "SELECT 1", 0, NULL, &err), 0);
}
END_TEST

/* A transaction body for si_db_retry_tx: records that it ran in a table of
 * the connection, then fails with `fail_with` (a SQLSTATE raised by the
 * server) for its first `failures` attempts and succeeds after that. */
struct probe {
    int calls;
    int failures;
    const char *fail_with;
};

static int probe_tx(struct si_db *d, void *arg, struct si_error *err)
{
    struct probe *p = arg;
    p->calls++;
    if (si_db_command(d, "INSERT INTO retry_probe VALUES (1)", 0, NULL, err) != 0)
        return -1;
    if (p->calls > p->failures)
        return 0;
    char sql[128];
    snprintf(sql, sizeof sql, "DO $$ BEGIN RAISE EXCEPTION 'probe' USING ERRCODE = '%s'; END $$", p->fail_with);
    return si_db_command(d, sql, 0, NULL, err);
}

static long long probe_rows(void)
{
    struct si_error err;
    PGresult *res = si_db_exec(&db, "SELECT count(*) FROM retry_probe", 0, NULL, &err);
    ck_assert_ptr_nonnull(res);
    long long n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return n;
}

static void retry_setup(void)
{
    struct si_error err;
    setup();
    ck_assert_int_eq(si_db_command(&db, "CREATE TEMP TABLE retry_probe (n int)", 0, NULL, &err), 0);
}

START_TEST(a_deadlocked_transaction_runs_again_and_only_the_last_attempt_stays)
{
    struct si_error err;
    struct probe p = { 0, 2, "40P01" };
    ck_assert_int_eq(si_db_retry_tx(&db, probe_tx, &p, &err), 0);
    ck_assert_int_eq(p.calls, 3);
    ck_assert_int_eq(probe_rows(), 1);   /* the two failed attempts were rolled back */
    ck_assert(!si_db_in_transaction(&db));
}
END_TEST

START_TEST(a_serialization_failure_is_retried_too)
{
    struct si_error err;
    struct probe p = { 0, 1, "40001" };
    ck_assert_int_eq(si_db_retry_tx(&db, probe_tx, &p, &err), 0);
    ck_assert_int_eq(p.calls, 2);
    ck_assert_int_eq(probe_rows(), 1);
}
END_TEST

START_TEST(a_transaction_that_keeps_deadlocking_is_a_409_conflict_retry_after_the_last_attempt)
{
    struct si_error err;
    struct probe p = { 0, 100, "40P01" };
    ck_assert_int_eq(si_db_retry_tx(&db, probe_tx, &p, &err), -1);
    ck_assert_int_eq(p.calls, SI_DB_TX_ATTEMPTS);
    ck_assert_int_eq(err.status, 409);
    ck_assert_str_eq(err.code, "conflict_retry");
    ck_assert_str_eq(err.sqlstate, "40P01");
    ck_assert_ptr_null(strstr(err.message, "unavailable"));
    ck_assert_int_eq(probe_rows(), 0);
    ck_assert(!si_db_in_transaction(&db));
}
END_TEST

START_TEST(other_errors_are_returned_at_once_unchanged)
{
    struct si_error err;
    struct probe p = { 0, 100, "23505" };
    ck_assert_int_eq(si_db_retry_tx(&db, probe_tx, &p, &err), -1);
    ck_assert_int_eq(p.calls, 1);
    ck_assert_int_eq(err.status, 409);
    ck_assert_str_eq(err.code, "conflict");
    ck_assert_int_eq(probe_rows(), 0);
}
END_TEST

START_TEST(a_deadlock_outside_the_helper_is_not_called_database_unavailable)
{
    struct si_error err;
    ck_assert_int_eq(si_db_command(&db, "DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '40P01'; END $$", 0, NULL,
                                   &err), -1);
    ck_assert_int_eq(err.status, 503);
    ck_assert_str_eq(err.code, "retry");
    ck_assert_ptr_null(strstr(err.message, "unavailable"));
}
END_TEST

/* How many statements this connection has prepared (as the server sees it). */
static long prepared_on_server(void)
{
    struct si_error err;
    PGresult *res = si_db_exec(&db, "SELECT count(*) FROM pg_prepared_statements", 0, NULL, &err);
    ck_assert_ptr_nonnull(res);
    long n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return n;
}

START_TEST(a_statement_with_parameters_is_prepared_once_and_run_by_name)
{
    struct si_error err;
    db.prepare = true;
    const char *sql = "SELECT $1::int + 1";
    for (int i = 0; i < 3; i++) {
        char v[8];
        snprintf(v, sizeof v, "%d", i * 10);
        const char *params[] = { v };
        PGresult *res = si_db_exec(&db, sql, 1, params, &err);
        ck_assert_ptr_nonnull(res);
        ck_assert_int_eq(atoi(PQgetvalue(res, 0, 0)), i * 10 + 1);   /* each run binds its own value */
        PQclear(res);
    }
    ck_assert_int_eq(db.nprepared, 1);
    ck_assert_int_eq(prepared_on_server(), 1);
    /* the same text in another buffer is the same statement */
    char copy[32];
    snprintf(copy, sizeof copy, "%s", sql);
    const char *one[] = { "1" };
    PGresult *res = si_db_exec(&db, copy, 1, one, &err);
    ck_assert_ptr_nonnull(res);
    PQclear(res);
    ck_assert_int_eq(db.nprepared, 1);
    /* statements without parameters are not prepared, nor bulk ones, nor any without `prepare` */
    ck_assert_int_eq(si_db_command(&db, "SELECT 1", 0, NULL, &err), 0);
    res = si_db_exec_bulk(&db, "SELECT $1::int + 2", 1, one, &err);
    ck_assert_ptr_nonnull(res);
    PQclear(res);
    db.prepare = false;
    res = si_db_exec(&db, "SELECT $1::int + 3", 1, one, &err);
    ck_assert_ptr_nonnull(res);
    PQclear(res);
    ck_assert_int_eq(db.nprepared, 1);
    ck_assert_int_eq(prepared_on_server(), 1);
}
END_TEST

START_TEST(a_statement_that_fails_to_prepare_is_an_error_and_not_remembered)
{
    struct si_error err;
    db.prepare = true;
    const char *params[] = { "1" };
    ck_assert_ptr_null(si_db_exec(&db, "SELEC $1::int", 1, params, &err));
    ck_assert_int_ge(err.status, 400);
    ck_assert_int_eq(db.nprepared, 0);
    /* inside a failed transaction the prepare fails like the statement would */
    ck_assert_int_eq(si_db_begin(&db, &err), 0);
    ck_assert_ptr_null(si_db_exec(&db, "SELECT 1/0 = $1::int", 1, params, &err));
    ck_assert_ptr_null(si_db_exec(&db, "SELECT $1::int", 1, params, &err));
    ck_assert_int_eq(db.nprepared, 1);   /* only the first, which prepared before it failed */
    si_db_rollback(&db);
    PGresult *res = si_db_exec(&db, "SELECT $1::int", 1, params, &err);
    ck_assert_ptr_nonnull(res);
    PQclear(res);
    ck_assert_int_eq(db.nprepared, 2);
}
END_TEST

START_TEST(past_the_cap_statements_run_unnamed)
{
    struct si_error err;
    db.prepare = true;
    for (int i = 0; i < SI_DB_PREPARED_MAX + 6; i++) {
        char sql[64], v[12];
        snprintf(sql, sizeof sql, "SELECT $1::int + %d", i);
        snprintf(v, sizeof v, "%d", i);
        const char *params[] = { v };
        PGresult *res = si_db_exec(&db, sql, 1, params, &err);
        ck_assert_msg(res != NULL, "statement %d: %s", i, err.message);
        ck_assert_int_eq(atoi(PQgetvalue(res, 0, 0)), 2 * i);
        PQclear(res);
    }
    ck_assert_int_eq(db.nprepared, SI_DB_PREPARED_MAX);
    ck_assert_int_eq(prepared_on_server(), SI_DB_PREPARED_MAX);
}
END_TEST

START_TEST(prepared_statements_are_forgotten_with_a_lost_connection)
{
    struct si_error err;
    db.prepare = true;
    const char *params[] = { "41" };
    PGresult *res = si_db_exec(&db, "SELECT $1::int + 1", 1, params, &err);
    ck_assert_ptr_nonnull(res);
    PQclear(res);
    ck_assert_int_eq(db.nprepared, 1);
    terminate(backend_pid());
    res = si_db_exec(&db, "SELECT $1::int + 1", 1, params, &err);   /* prepared again on the new connection */
    ck_assert_msg(res != NULL, "%s %s", err.message, err.detail);
    ck_assert_int_eq(atoi(PQgetvalue(res, 0, 0)), 42);
    PQclear(res);
    ck_assert_int_eq(db.nprepared, 1);
    ck_assert_int_eq(prepared_on_server(), 1);
}
END_TEST

static void run_health(struct si_db *hdb, struct si_response *resp)
{
    struct si_function fn = { .name = "health", .methods = "GET,HEAD", .needs_db = true, .handle = health_handle };
    struct si_arena arena;
    si_arena_init(&arena, SI_ARENA_MAX);
    char *env[] = { "REQUEST_METHOD=GET", "DOCUMENT_URI=/health", NULL };
    struct si_request req;
    struct si_error err;
    ck_assert_int_eq(si_request_from_env(&req, &arena, env, 100, &err), 0);
    struct health_config hc = { .state_path = NULL };   /* what health_init makes without a supervisor */
    struct si_ctx ctx = { .function = &fn, .fn_config = &hc, .db = hdb, .arena = &arena };
    si_server_dispatch(&ctx, &req, resp);
    si_arena_cleanup(&arena);
}

START_TEST(health_reports_the_schema_level_when_the_database_is_up)
{
    struct si_response resp;
    si_response_init(&resp);
    run_health(&db, &resp);
    ck_assert_int_eq(resp.status, 200);
    json_t *j = json_loads(resp.body.data, 0, NULL);
    ck_assert(json_is_true(json_object_get(j, "ok")));
    ck_assert_int_ge(json_integer_value(json_object_get(j, "schema")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(j, "db")), "up");
    json_decref(j);
    si_response_cleanup(&resp);
}
END_TEST

START_TEST(health_is_a_quick_503_when_the_database_cannot_be_reached)
{
    struct si_db down;
    si_db_init(&down, "postgresql:///nowhere?host=/nonexistent-socket-dir", "check_db", 1500, 5000);
    struct si_response resp;
    si_response_init(&resp);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run_health(&down, &resp);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert_int_eq(resp.status, 503);
    json_t *j = json_loads(resp.body.data, 0, NULL);
    ck_assert(json_is_false(json_object_get(j, "ok")));
    ck_assert_str_eq(json_string_value(json_object_get(j, "code")), "db_unavailable");
    ck_assert_str_eq(json_string_value(json_object_get(j, "db")), "down");
    json_decref(j);
    ck_assert((t1.tv_sec - t0.tv_sec) < 2);
    si_response_cleanup(&resp);
    si_db_cleanup(&down);
}
END_TEST

/* jobs_enqueue: a new job in one statement, a known key through jobs_add (keep/replace). */
static json_t *job_payload(long long id)
{
    char id_s[24];
    struct si_error err;
    snprintf(id_s, sizeof id_s, "%lld", id);
    const char *p[] = { id_s };
    PGresult *res = si_db_exec(&db, "SELECT payload::text FROM jobs WHERE id = $1::bigint", 1, p, &err);
    ck_assert_msg(res != NULL && PQntuples(res) == 1, "job %lld not found", id);
    json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    PQclear(res);
    return j;
}

START_TEST(an_enqueue_adds_a_job_once_per_key_and_replace_changes_only_a_queued_one)
{
    struct si_error err;
    char key[64];
    snprintf(key, sizeof key, "check-db-%ld-%d", (long)time(NULL), (int)getpid());
    json_t *one = json_pack("{s:i}", "n", 1), *two = json_pack("{s:i}", "n", 2);
    struct jobs_new job = { .task = "check.enqueue", .payload = one, .user_id = USER, .job_key = key,
                            .key_mode = JOBS_KEY_KEEP, .run_at = "2999-01-01T00:00:00Z" };
    struct jobs_enqueued a, b, c;
    ck_assert_msg(jobs_enqueue(&db, &job, &a, &err) == 0, "%s %s", err.message, err.detail);
    ck_assert_str_eq(a.state, "queued");
    ck_assert(!a.existing && !a.replaced);
    job.payload = two;   /* keep: the first job stays as it is */
    ck_assert_msg(jobs_enqueue(&db, &job, &b, &err) == 0, "%s %s", err.message, err.detail);
    ck_assert_int_eq(b.id, a.id);
    ck_assert(b.existing && !b.replaced);
    json_t *j = job_payload(a.id);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "n")), 1);
    json_decref(j);
    job.key_mode = JOBS_KEY_REPLACE;   /* replace: still queued, so its payload changes */
    ck_assert_msg(jobs_enqueue(&db, &job, &c, &err) == 0, "%s %s", err.message, err.detail);
    ck_assert_int_eq(c.id, a.id);
    ck_assert(c.existing && c.replaced);
    j = job_payload(a.id);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "n")), 2);
    json_decref(j);
    char id_s[24];
    snprintf(id_s, sizeof id_s, "%lld", a.id);
    const char *p[] = { id_s };
    PGresult *res = si_db_exec(&db, "SELECT count(*) FROM job_audit WHERE job_id = $1::bigint AND to_state = 'queued'",
                               1, p, &err);
    ck_assert(res != NULL);
    ck_assert_str_eq(PQgetvalue(res, 0, 0), "1");   /* one job, one "queued" row */
    PQclear(res);
    ck_assert(si_db_command(&db, "DELETE FROM jobs WHERE id = $1::bigint", 1, p, &err) == 0);
    json_decref(one);
    json_decref(two);
}
END_TEST

static Suite *db_suite(void)
{
    Suite *s = suite_create("db");
    TCase *tc = tcase_create("events");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, an_event_in_a_rolled_back_transaction_never_existed);
    tcase_add_test(tc, a_committed_event_is_stored_and_notified_after_commit);
    tcase_add_test(tc, event_ids_increase_monotonically);
    tcase_add_test(tc, an_error_event_survives_the_rollback_of_the_failed_change);
    tcase_add_test(tc, events_outside_a_transaction_or_with_unsafe_payloads_are_refused);
    tcase_add_test(tc, an_enqueue_adds_a_job_once_per_key_and_replace_changes_only_a_queued_one);
    suite_add_tcase(s, tc);
    tc = tcase_create("connection");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, a_connection_the_server_dropped_is_replaced_before_the_next_statement);
    tcase_add_test(tc, a_connection_lost_inside_a_transaction_is_a_503_not_a_silent_autocommit);
    tcase_add_test(tc, a_connection_that_is_read_only_is_dropped_and_the_next_statement_reconnects);
    tcase_add_test(tc, a_statement_past_its_deadline_is_cancelled_with_504);
    tcase_add_test(tc, a_statement_past_its_deadline_ends_even_when_the_cancel_is_never_answered);
    tcase_add_test(tc, a_statement_with_parameters_is_prepared_once_and_run_by_name);
    tcase_add_test(tc, a_statement_that_fails_to_prepare_is_an_error_and_not_remembered);
    tcase_add_test(tc, prepared_statements_are_forgotten_with_a_lost_connection);
    tcase_add_test(tc, past_the_cap_statements_run_unnamed);
    tcase_add_test(tc, a_read_connection_reads_on_its_own_server_and_leaves_the_primary_alone);
    tcase_add_test(tc, a_read_connection_that_cannot_be_had_reads_on_the_primary_and_is_left_alone_a_while);
    suite_add_tcase(s, tc);
    tc = tcase_create("retry");
    tcase_add_checked_fixture(tc, retry_setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, a_deadlocked_transaction_runs_again_and_only_the_last_attempt_stays);
    tcase_add_test(tc, a_serialization_failure_is_retried_too);
    tcase_add_test(tc, a_transaction_that_keeps_deadlocking_is_a_409_conflict_retry_after_the_last_attempt);
    tcase_add_test(tc, other_errors_are_returned_at_once_unchanged);
    tcase_add_test(tc, a_deadlock_outside_the_helper_is_not_called_database_unavailable);
    suite_add_tcase(s, tc);
    tc = tcase_create("health");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, health_reports_the_schema_level_when_the_database_is_up);
    tcase_add_test(tc, health_is_a_quick_503_when_the_database_cannot_be_reached);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    url = getenv("DATABASE_URL");
    if (url == NULL || *url == '\0') {
        printf("SKIP: DATABASE_URL is not set (scripts/test sets it)\n");
        return 77;
    }
    SRunner *sr = srunner_create(db_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
