/* si_db.h: one PostgreSQL connection per worker, that survives restarts.
 *
 * Each worker thread owns a struct si_db; nothing here is shared between
 * threads.  Every call has a deadline: connecting is bounded by
 * connect_timeout_ms and each statement by the query timeout (the statement is
 * cancelled when it passes; the cancel waits 1 s at most, as a frozen server
 * never answers it), so a stopped or hung server turns into a 503 or 504 JSON
 * error instead of a hang.  Before each statement outside a
 * transaction the connection is checked and, if the server went away (a
 * restart), silently replaced; the responder is never restarted for it.
 * A connection that answers a write with SQLSTATE 25006 (read-only: the
 * server became a standby) is dropped too, so with a multi-host DATABASE_URL
 * (target_session_attrs=read-write, scripts/pg-ha) the next statement goes to
 * the new primary.
 * Errors name the SQLSTATE and the server's primary message in the log-only
 * detail, never the DETAIL line, which can quote row values.
 *
 * A read connection (si_db_init_read; SMARTIMPORT_DATABASE_READ_URL, e.g. a
 * standby with target_session_attrs=prefer-standby) is a struct si_db like
 * any other, for reads that tolerate a little lag, outside any transaction.
 * When it cannot be had (no connection, the server went away or cancelled the
 * read: a 503) the statement runs on its primary connection instead, and the
 * read connection is left alone for SI_DB_READ_RETRY_MS; the first such
 * fallback of an outage is logged (a warning), the return an info line. */
#ifndef SI_DB_H
#define SI_DB_H

#include <stdbool.h>
#include <libpq-fe.h>

#include "si_error.h"

/* With `prepare` set, statements with parameters are prepared on their
 * connection the first time they run and executed by name after that; up to
 * this many per connection, the rest run unnamed.  Opt-in, for short
 * statements run thousands of times (the workflow queue): after five runs
 * PostgreSQL may switch a prepared statement to a generic plan, which turned
 * the preview's duplicate lookup into a scan of all of a user's transactions
 * (> 30 s), and forcing custom plans on the connection instead made every
 * foreign-key check replan (a 1M-row commit went from 19 s to 33 s). */
#define SI_DB_PREPARED_MAX 64
#define SI_DB_OPTIONS_MAX 1024   /* the session's libpq options, all told */

struct si_db {
    PGconn *conn;                 /* NULL until the first use */
    const char *conninfo;         /* DATABASE_URL, borrowed */
    const char *application_name; /* borrowed */
    const char *options;          /* libpq "options" for every connection (e.g.
                                   * "-c synchronous_commit=off"), or NULL; set after
                                   * si_db_init; goes after "-c jit=off" and the
                                   * options in DATABASE_URL (see session_options) */
    bool prepare;                 /* prepare statements with parameters (below); set
                                   * after si_db_init, off by default */
    int connect_timeout_ms;
    int query_timeout_ms;
    int bulk_timeout_ms;          /* for statements that move a whole import (si_db_exec_bulk) */
    unsigned long reconnects;     /* connections replaced after a failure */
    char *prepared[SI_DB_PREPARED_MAX]; /* SQL prepared on conn as "si<index>" */
    int nprepared;
    bool in_tx;                   /* between si_db_begin and commit/rollback */
    bool tx_lost;                 /* the connection died inside a transaction */
    struct si_db *primary;        /* a read connection's fallback (borrowed); NULL otherwise */
    long long read_retry_ms;      /* a read connection that failed: unused until then (si_now_ms) */
    bool read_failing;            /* a read connection whose outage was logged */
};

void si_db_init(struct si_db *db, const char *conninfo, const char *application_name,
                int connect_timeout_ms, int query_timeout_ms);
void si_db_cleanup(struct si_db *db);  /* safe to call twice */
/* si_db_init of a read connection to conninfo whose statements fall back to
 * primary (see above); the timeouts and `prepare` are primary's as they are
 * now, `options` is set on each separately.  Never in a transaction: its
 * si_db_begin is a 500. */
void si_db_init_read(struct si_db *db, struct si_db *primary, const char *conninfo,
                     const char *application_name);

/* Makes sure there is a working connection.  0, or -1 with a 503 err. */
int si_db_connect(struct si_db *db, struct si_error *err);

/* Runs one parameterised statement (text parameters, NULL = SQL NULL).
 * Returns a result with status COMMAND_OK or TUPLES_OK that the caller
 * PQclear's, or NULL with err set (status from the SQLSTATE table). */
PGresult *si_db_exec(struct si_db *db, const char *sql, int n_params, const char *const *params,
                     struct si_error *err);
/* The same with an explicit deadline in milliseconds. */
PGresult *si_db_exec_timeout(struct si_db *db, const char *sql, int n_params,
                             const char *const *params, int timeout_ms, struct si_error *err);
/* si_db_exec_timeout, prepared on this connection the first time it runs
 * (parameters or not) whatever `prepare` says: the explicit opt-in of one
 * statement whose plan cannot depend on its values (/health's lookup).  A
 * statement prepared while the schema it reads is missing is prepared again
 * on its next run, since the failed preparation is not remembered. */
PGresult *si_db_exec_prepared(struct si_db *db, const char *sql, int n_params, const char *const *params,
                              int timeout_ms, struct si_error *err);
/* si_db_exec with the bulk deadline (bulk_timeout_ms) and never prepared:
 * for the statements that move a whole import's rows. */
PGresult *si_db_exec_bulk(struct si_db *db, const char *sql, int n_params, const char *const *params,
                          struct si_error *err);
/* si_db_exec for statements whose result is not needed. */
int si_db_command(struct si_db *db, const char *sql, int n_params, const char *const *params,
                  struct si_error *err);

/* Transactions go through these three (not raw "BEGIN"), so a connection
 * lost mid-transaction is reported (503) instead of silently continuing on a
 * new connection outside any transaction. */
int si_db_begin(struct si_db *db, struct si_error *err);
int si_db_commit(struct si_db *db, struct si_error *err);
/* Rolls back an open transaction; if that fails the connection is dropped,
 * which rolls back on the server too.  Safe to call with none open. */
void si_db_rollback(struct si_db *db);

bool si_db_in_transaction(const struct si_db *db);

/* COPY ... FROM STDIN inside the current transaction: start, put data (any
 * chunking), end.  si_db_copy_end returns the row count the server reports
 * in *out_rows; si_db_copy_abort ends it with an error so nothing is kept.
 * The connection is unusable for anything else in between. */
int si_db_copy_start(struct si_db *db, const char *sql, int n_params, const char *const *params,
                     struct si_error *err);
int si_db_copy_put(struct si_db *db, const char *data, size_t len, struct si_error *err);
int si_db_copy_end(struct si_db *db, long long *out_rows, struct si_error *err);
void si_db_copy_abort(struct si_db *db, const char *why);

/* Reading results.  PostgreSQL sends text; these read one cell as what its
 * column holds.  Each returns 0 with *out set, 1 when the cell is SQL NULL
 * (*out untouched, so a caller that allows NULL sets its default first and
 * checks `< 0`), or -1 when the cell does not exist or does not hold that
 * type (not a decimal integer, out of range, not 't'/'f'); *out untouched. */
int si_db_get_int64(const PGresult *res, int row, int col, long long *out);
int si_db_get_int(const PGresult *res, int row, int col, int *out);
int si_db_get_bool(const PGresult *res, int row, int col, bool *out);
/* The cell's text (owned by res), or NULL when it is SQL NULL or does not
 * exist; PQgetvalue would give "" for both. */
const char *si_db_get_text(const PGresult *res, int row, int col);
/* The rows an INSERT/UPDATE/DELETE/COPY touched (PQcmdTuples), or -1 when
 * the result carries no count. */
long long si_db_rows_affected(const PGresult *res);
/* Sets err to the 500 of a cell that is not what its column should hold
 * (what: e.g. "imports.rows_total"); returns -1. */
int si_db_bad_value(struct si_error *err, const char *what);

/* The SQLSTATE of the last failed statement's result, for callers that
 * treat some states specially. */
const char *si_db_sqlstate(const PGresult *res);

/* A server message made fit for a log: its first line only, and every double-quoted
 * part replaced by "?" unless it names an object (constraint "x", relation "y", column
 * "z", ...) and looks like an identifier, since a primary message can quote the value
 * that failed ('invalid input syntax for type uuid: "..."').  out holds cap bytes. */
void si_db_log_safe_message(const char *msg, char *out, size_t cap);

#endif
