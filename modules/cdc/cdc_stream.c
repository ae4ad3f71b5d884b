/* cdc_stream.c: smartimport-cdc's loop.  It reads the logical replication slot
 * smartimport_cdc (pgoutput, publication smartimport_purchases: inserts into purchases)
 * over libpq's replication protocol and turns each committed transaction's purchases into
 * jobs of the three consumers (loyalty.currency, .tier, .mission), at most
 * LOYALTY_CHUNK_MAX purchases of one merchant per job.
 *
 * The one rule: the slot's position is confirmed only after the jobs of every transaction
 * before it are committed.  Jobs are enqueued on an ordinary connection inside one
 * transaction (synchronous commit) that also writes cdc_state; only after that COMMIT
 * returns is a standby status update ('r') sent with the end LSN of the last whole source
 * transaction in it.  A crash anywhere before that replays the transactions from the
 * slot's last confirmed position, and since every job is named by
 * (task, "<commit lsn>/<merchant>/<chunk>") with jobs_enqueue's keep mode, a replay
 * enqueues nothing new; the consumers are idempotent per purchase besides.
 *
 * Batching: the enqueue transaction stays open while decoded messages keep arriving, for
 * at most batch_ms, and is committed as soon as the stream is drained, so a burst of small
 * transactions shares one fsync and a large one (15,000 purchases) hands its first chunks
 * to the workers while the rest is still being decoded.  A keepalive's WAL end is confirmed
 * when no transaction is open (what PostgreSQL's own apply worker does), so the slot never
 * holds WAL that carries no purchases.  Any failure (server restart, network, a statement)
 * drops both connections, rolls back the open enqueue and reconnects with a growing delay. */
#include "cdc_stream.h"
#include "si_clock.h"
#include "si_log.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PG_EPOCH_OFFSET_US 946684800000000LL   /* 2000-01-01 - 1970-01-01 */

struct mbuf {
    char merchant[37];
    long long *ids;              /* LOYALTY_CHUNK_MAX slots */
    int n;
    int chunk;                   /* chunks of this merchant flushed in this transaction */
};

struct cdc {
    const struct si_config *cfg;
    const struct cdc_settings *s;
    PGconn *repl;
    struct si_db db;
    struct cdc_relations rels;
    uint64_t confirmed;          /* last flush position sent */
    uint64_t pending;            /* end of the last whole transaction read */
    bool in_txn;
    uint64_t txn_lsn;            /* the open transaction's commit LSN (BEGIN's final_lsn) */
    long long txn_purchases;
    struct mbuf m[CDC_MAX_MERCHANTS];
    int nm;
    bool db_open;                /* an enqueue transaction is open */
    long long db_open_ms;
    int64_t last_commit_us;      /* commit time (server clock, µs since 2000) of the last txn with purchases */
    long long b_txns, b_purchases, b_new, b_existing;   /* what the open enqueue transaction holds */
    long long last_status_ms;
};

int cdc_settings_load(struct cdc_settings *s, char *const *envp, struct si_error *err)
{
    s->batch_ms = 50;
    s->status_ms = 10000;
    s->retry_max_ms = 5000;
    s->create_slot = 1;
    if (si_env_int(envp, "SMARTIMPORT_CDC_BATCH_MS", 1, 10000, &s->batch_ms, err) != 0 ||
        si_env_int(envp, "SMARTIMPORT_CDC_CREATE_SLOT", 0, 1, &s->create_slot, err) != 0 ||
        si_env_int(envp, "SMARTIMPORT_CDC_STATUS_MS", 100, 50000, &s->status_ms, err) != 0 ||
        si_env_int(envp, "SMARTIMPORT_CDC_RETRY_MAX_MS", 100, 60000, &s->retry_max_ms, err) != 0)
        return -1;
    return 0;
}

static void txn_reset(struct cdc *c)
{
    for (int i = 0; i < c->nm; i++) {
        c->m[i].n = 0;
        c->m[i].chunk = 0;
        c->m[i].merchant[0] = '\0';
    }
    c->nm = 0;
    c->in_txn = false;
    c->txn_purchases = 0;
}

/* Drops the replication connection and any open enqueue (its jobs are replayed later). */
static void drop(struct cdc *c)
{
    if (c->repl != NULL)
        PQfinish(c->repl);
    c->repl = NULL;
    si_db_rollback(&c->db);
    c->db_open = false;
    c->b_txns = c->b_purchases = c->b_new = c->b_existing = 0;
    /* The next session confirms only what it reads itself: after a server crash the slot
     * may be behind what this one confirmed, and the WAL beyond it may be new. */
    c->pending = c->confirmed = 0;
    txn_reset(c);
    c->rels.n = 0;
}

static int send_status(struct cdc *c, uint64_t lsn)
{
    unsigned char msg[34];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - PG_EPOCH_OFFSET_US;
    msg[0] = 'r';
    cdc_put_u64(msg + 1, lsn);    /* written */
    cdc_put_u64(msg + 9, lsn);    /* flushed: what the slot may forget */
    cdc_put_u64(msg + 17, lsn);   /* applied */
    cdc_put_u64(msg + 25, (uint64_t)now_us);
    msg[33] = 0;
    /* non-blocking: PQflush 1 = the rest goes out with the stream loop's next PQflush */
    if (PQputCopyData(c->repl, (const char *)msg, sizeof msg) != 1 || PQflush(c->repl) < 0) {
        si_log(SI_LOG_WARN, "standby status update failed", json_pack("{s:s}", "detail", PQerrorMessage(c->repl)));
        return -1;
    }
    c->last_status_ms = si_now_ms();
    return 0;
}

/* Enqueues the three consumer jobs of one merchant's buffered purchases. */
static int flush_chunk(struct cdc *c, struct mbuf *b, struct si_error *err)
{
    int rc = -1;
    json_t *payload = NULL, *ids = NULL;
    char lsn[24], key[JOBS_KEY_MAX + 1], queue[JOBS_KEY_MAX + 1];
    if (b->n == 0)
        return 0;
    if (!c->db_open) {
        if (si_db_begin(&c->db, err) != 0)
            return -1;
        c->db_open = true;
        c->db_open_ms = si_now_ms();
    }
    cdc_lsn_format(c->txn_lsn, lsn, sizeof lsn);
    ids = json_array();
    if (ids == NULL)
        goto oom;
    for (int i = 0; i < b->n; i++)
        if (json_array_append_new(ids, json_integer((json_int_t)b->ids[i])) != 0)
            goto oom;
    payload = json_pack("{s:s, s:O, s:s}", "merchant_id", b->merchant, "purchase_ids", ids, "commit_lsn", lsn);
    if (payload == NULL)
        goto oom;
    snprintf(key, sizeof key, "%s/%s/%d", lsn, b->merchant, b->chunk);
    for (int k = 0; k < LOYALTY_N_CONSUMERS; k++) {
        struct jobs_enqueued out;
        snprintf(queue, sizeof queue, "%s/%s", loyalty_task_name(k), b->merchant);
        const struct jobs_new job = { .task = loyalty_task_name(k), .payload = payload, .job_key = key,
                                      .key_mode = JOBS_KEY_KEEP, .queue = queue };
        if (jobs_enqueue(&c->db, &job, &out, err) != 0)
            goto out;
        if (out.existing)
            c->b_existing++;
        else
            c->b_new++;
    }
    b->chunk++;
    b->n = 0;
    rc = 0;
    goto out;
oom:
    si_error_set(err, 500, "internal", "out of memory");
out:
    json_decref(payload);
    json_decref(ids);
    return rc;
}

static int add_purchase(struct cdc *c, const char *merchant, long long id, struct si_error *err)
{
    struct mbuf *b = NULL;
    for (int i = 0; i < c->nm && b == NULL; i++)
        if (strcmp(c->m[i].merchant, merchant) == 0)
            b = &c->m[i];
    if (b == NULL) {
        if (c->nm == CDC_MAX_MERCHANTS) {   /* full: the oldest merchant's chunk goes out early */
            b = &c->m[0];
            if (flush_chunk(c, b, err) != 0)
                return -1;
            struct mbuf first = c->m[0];
            memmove(&c->m[0], &c->m[1], (CDC_MAX_MERCHANTS - 1) * sizeof c->m[0]);
            c->m[CDC_MAX_MERCHANTS - 1] = first;
            b = &c->m[CDC_MAX_MERCHANTS - 1];
        } else {
            b = &c->m[c->nm++];
        }
        snprintf(b->merchant, sizeof b->merchant, "%s", merchant);
        b->n = 0;
        b->chunk = 0;
        if (b->ids == NULL && (b->ids = malloc(LOYALTY_CHUNK_MAX * sizeof *b->ids)) == NULL)
            return si_error_set(err, 500, "internal", "out of memory");
    }
    b->ids[b->n++] = id;
    c->txn_purchases++;
    if (b->n == LOYALTY_CHUNK_MAX)
        return flush_chunk(c, b, err);
    return 0;
}

/* Commits the open enqueue transaction with cdc_state, wakes the workers, then confirms. */
static int finish_batch(struct cdc *c, struct si_error *err)
{
    if (c->db_open) {
        char lsn[24], commit_us[24], txns[24], purchases[24], nnew[24], nexist[24];
        cdc_lsn_format(c->pending, lsn, sizeof lsn);
        /* lag only when this batch holds a whole transaction (a mid-transaction batch keeps the last) */
        snprintf(commit_us, sizeof commit_us, "%lld", c->b_txns > 0 ? (long long)c->last_commit_us : 0LL);
        snprintf(txns, sizeof txns, "%lld", c->b_txns);
        snprintf(purchases, sizeof purchases, "%lld", c->b_purchases);
        snprintf(nnew, sizeof nnew, "%lld", c->b_new);
        snprintf(nexist, sizeof nexist, "%lld", c->b_existing);
        const char *p[] = { CDC_SLOT_NAME, lsn, commit_us, txns, purchases, nnew, nexist };
        PGresult *res = si_db_exec(&c->db,
            "WITH v AS (SELECT $2::pg_lsn AS lsn, CASE WHEN $3::bigint > 0 THEN "
            "    timestamptz '2000-01-01 00:00:00+00' + $3::bigint * interval '1 microsecond' END AS commit_at) "
            "INSERT INTO cdc_state AS s (slot, confirmed_lsn, last_commit_at, confirmed_at, lag_bytes, lag_ms, "
            "    transactions, purchases, jobs_enqueued, jobs_existing) "
            "SELECT $1, v.lsn, v.commit_at, clock_timestamp(), greatest(pg_wal_lsn_diff(pg_current_wal_lsn(), v.lsn), 0), "
            "    coalesce(greatest(extract(epoch FROM clock_timestamp() - v.commit_at) * 1000, 0), 0)::bigint, "
            "    $4::bigint, $5::bigint, $6::bigint, $7::bigint FROM v "
            "ON CONFLICT (slot) DO UPDATE SET confirmed_lsn = greatest(s.confirmed_lsn, excluded.confirmed_lsn), "
            "    last_commit_at = coalesce(excluded.last_commit_at, s.last_commit_at), confirmed_at = excluded.confirmed_at, "
            "    lag_bytes = excluded.lag_bytes, "
            "    lag_ms = CASE WHEN excluded.last_commit_at IS NULL THEN s.lag_ms ELSE excluded.lag_ms END, "
            "    transactions = s.transactions + excluded.transactions, purchases = s.purchases + excluded.purchases, "
            "    jobs_enqueued = s.jobs_enqueued + excluded.jobs_enqueued, "
            "    jobs_existing = s.jobs_existing + excluded.jobs_existing, updated_at = now() "
            "RETURNING lag_ms", 7, p, err);
        if (res == NULL)
            return -1;
        long long lag_ms = 0;
        (void)si_db_get_int64(res, 0, 0, &lag_ms);
        PQclear(res);
        if (si_db_commit(&c->db, err) != 0)
            return -1;
        c->db_open = false;
        struct si_error werr;
        if (c->b_new > 0 && jobs_wake(&c->db, &werr) != 0)
            si_log(SI_LOG_WARN, "jobs_wake failed (the workers' poll picks the jobs up)",
                   json_pack("{s:s}", "code", werr.code));
        si_log(SI_LOG_INFO, "enqueued",
               json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "lsn", lsn, "transactions", (json_int_t)c->b_txns,
                         "purchases", (json_int_t)c->b_purchases, "jobs_new", (json_int_t)c->b_new,
                         "jobs_existing", (json_int_t)c->b_existing, "lag_ms", (json_int_t)lag_ms));
        c->b_txns = c->b_purchases = c->b_new = c->b_existing = 0;
    }
    if (c->pending > c->confirmed) {
        if (send_status(c, c->pending) != 0)
            return si_error_set(err, 503, "replication_lost", "standby status update failed");
        c->confirmed = c->pending;
    }
    return 0;
}

/* One XLogData payload. */
static int handle_change(struct cdc *c, const unsigned char *buf, size_t len, struct si_error *err)
{
    struct cdc_msg m;
    if (cdc_pgoutput_parse(buf, len, &c->rels, &m) != 0)
        return si_error_set(err, 502, "bad_message", "a pgoutput message could not be read");
    switch (m.kind) {
    case CDC_MSG_BEGIN:
        txn_reset(c);
        c->in_txn = true;
        c->txn_lsn = m.lsn;
        return 0;
    case CDC_MSG_INSERT:
        if (!c->in_txn || !m.purchase)
            return 0;
        return add_purchase(c, m.merchant, m.purchase_id, err);
    case CDC_MSG_COMMIT:
        for (int i = 0; i < c->nm; i++)
            if (flush_chunk(c, &c->m[i], err) != 0)
                return -1;
        if (c->txn_purchases > 0) {
            c->b_txns++;
            c->b_purchases += c->txn_purchases;
            c->last_commit_us = m.commit_ts_us;
        }
        if (m.lsn > c->pending)
            c->pending = m.lsn;
        txn_reset(c);
        return 0;
    default:
        return 0;
    }
}

/* One CopyData message of the replication stream. */
static int handle_copy(struct cdc *c, const unsigned char *buf, size_t len, struct si_error *err)
{
    if (len >= 25 && buf[0] == 'w')
        return handle_change(c, buf + 25, len - 25, err);
    if (len >= 18 && buf[0] == 'k') {
        uint64_t wal_end = cdc_get_u64(buf + 1);
        if (!c->in_txn && !c->db_open && wal_end > c->pending)
            c->pending = wal_end;
        if (buf[17] != 0 && send_status(c, c->confirmed) != 0)
            return si_error_set(err, 503, "replication_lost", "standby status update failed");
        return 0;
    }
    return si_error_set(err, 502, "bad_message", "unexpected replication message");
}

/* Connects for replication, makes the slot if missing (create_slot), starts streaming. */
static int start(struct cdc *c, struct si_error *err)
{
    const char *keys[] = { "dbname", "replication", "application_name", "connect_timeout", NULL };
    const char *vals[] = { c->cfg->database_url, "database", "smartimport-cdc", "5", NULL };
    PGresult *res = NULL;
    c->repl = PQconnectdbParams(keys, vals, 1);
    if (c->repl == NULL || PQstatus(c->repl) != CONNECTION_OK) {
        si_error_set(err, 503, "db_unavailable", "replication connection failed");
        si_error_detail(err, "%s", c->repl != NULL ? PQerrorMessage(c->repl) : "out of memory");
        return -1;
    }
    /* A slot made now starts at the server's current position: right for a first start, a loss
     * after a failover to a primary that lacks it.  With create_slot 0 a missing slot fails
     * START_REPLICATION (42704) and is waited for, reconnecting with the back-off. */
    if (c->s->create_slot) {
        res = PQexec(c->repl, "CREATE_REPLICATION_SLOT " CDC_SLOT_NAME " LOGICAL pgoutput NOEXPORT_SNAPSHOT");
        if (PQresultStatus(res) == PGRES_TUPLES_OK) {
            si_log(SI_LOG_INFO, "replication slot created", json_pack("{s:s, s:s}", "slot", CDC_SLOT_NAME,
                                                                      "lsn", PQgetvalue(res, 0, 1)));
        } else {
            const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            if (state == NULL || strcmp(state, "42710") != 0) {   /* duplicate_object: it exists */
                si_error_set(err, 503, "replication_failed", "could not create the replication slot");
                si_error_detail(err, "%s %s", state != NULL ? state : "-", PQerrorMessage(c->repl));
                PQclear(res);
                return -1;
            }
        }
        PQclear(res);
    }
    res = PQexec(c->repl, "START_REPLICATION SLOT " CDC_SLOT_NAME " LOGICAL 0/0 "
                          "(proto_version '1', publication_names '" CDC_PUBLICATION "')");
    if (PQresultStatus(res) != PGRES_COPY_BOTH) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        si_error_set(err, 503, "replication_failed", "START_REPLICATION failed");
        si_error_detail(err, "%s %s", state != NULL ? state : "-", PQerrorMessage(c->repl));
        PQclear(res);
        return -1;
    }
    PQclear(res);
    if (PQsetnonblocking(c->repl, 1) != 0)
        return si_error_set(err, 503, "replication_failed", "could not make the connection non-blocking");
    if (si_db_connect(&c->db, err) != 0)   /* now, not at the first purchase: it would add to its lag */
        return -1;
    c->last_status_ms = si_now_ms();
    si_log(SI_LOG_INFO, "streaming", json_pack("{s:s, s:s}", "slot", CDC_SLOT_NAME, "publication", CDC_PUBLICATION));
    return 0;
}

/* Streams until an error or *stop.  0 on stop, -1 with err. */
static int stream(struct cdc *c, volatile sig_atomic_t *stop, struct si_error *err)
{
    while (!*stop) {
        char *buf = NULL;
        int n = PQgetCopyData(c->repl, &buf, 1);
        if (n > 0) {
            int rc = handle_copy(c, (const unsigned char *)buf, (size_t)n, err);
            PQfreemem(buf);
            if (rc != 0)
                return -1;
            if (c->db_open && si_now_ms() - c->db_open_ms >= c->s->batch_ms && finish_batch(c, err) != 0)
                return -1;
            continue;
        }
        if (n == -1) {
            PGresult *res = PQgetResult(c->repl);
            PQclear(res);
            return si_error_set(err, 503, "replication_lost", "the server ended the replication stream");
        }
        if (n == -2) {
            si_error_set(err, 503, "replication_lost", "replication connection lost");
            si_error_detail(err, "%s", PQerrorMessage(c->repl));
            return -1;
        }
        /* drained: commit what is open, confirm, then wait for more */
        if (finish_batch(c, err) != 0)
            return -1;
        long long now = si_now_ms();
        if (now - c->last_status_ms >= c->s->status_ms && send_status(c, c->confirmed) != 0)
            return si_error_set(err, 503, "replication_lost", "standby status update failed");
        int unsent = PQflush(c->repl);
        if (unsent < 0)
            return si_error_set(err, 503, "replication_lost", "replication connection lost");
        struct pollfd pfd = { .fd = PQsocket(c->repl), .events = (short)(POLLIN | (unsent ? POLLOUT : 0)) };
        int wait = (int)(c->s->status_ms - (si_now_ms() - c->last_status_ms));
        if (wait < 1)
            wait = 1;
        if (wait > 1000)
            wait = 1000;
        int pr = poll(&pfd, 1, wait);
        if (pr < 0 && errno != EINTR)
            return si_error_set(err, 503, "replication_lost", "poll failed");
        if (pr > 0 && (pfd.revents & (POLLIN | POLLERR | POLLHUP)) && PQconsumeInput(c->repl) != 1) {
            si_error_set(err, 503, "replication_lost", "replication connection lost");
            si_error_detail(err, "%s", PQerrorMessage(c->repl));
            return -1;
        }
    }
    return 0;
}

static void sleep_ms(int ms, volatile sig_atomic_t *stop)
{
    while (ms > 0 && !*stop) {
        int step = ms < 100 ? ms : 100;
        struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)step * 1000000L };
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

int cdc_run(const struct si_config *cfg, const struct cdc_settings *s, volatile sig_atomic_t *stop)
{
    struct cdc *c = calloc(1, sizeof *c);
    if (c == NULL) {
        si_log(SI_LOG_ERROR, "out of memory", NULL);
        return 1;
    }
    c->cfg = cfg;
    c->s = s;
    si_db_init(&c->db, cfg->database_url, "smartimport-cdc", cfg->db_connect_timeout_ms, cfg->db_query_timeout_ms);
    c->db.options = "-c synchronous_commit=on";
    int delay = 250;
    while (!*stop) {
        struct si_error err;
        si_error_clear(&err);
        int rc = start(c, &err);
        if (rc == 0) {
            delay = 250;   /* connected: the next failure starts the back-off again */
            rc = stream(c, stop, &err);
        }
        if (rc == 0) {
            struct si_error ferr;   /* stopping: commit and confirm what was read */
            if (finish_batch(c, &ferr) != 0)
                si_log(SI_LOG_WARN, "final enqueue failed (replayed at the next start)",
                       json_pack("{s:s}", "code", ferr.code));
            break;
        }
        si_log(SI_LOG_WARN, "replication interrupted; reconnecting",
               json_pack("{s:s, s:s, s:s, s:i}", "code", err.code != NULL ? err.code : "-", "error", err.message,
                         "detail", err.detail, "retry_ms", delay));
        drop(c);
        si_db_cleanup(&c->db);
        si_db_init(&c->db, cfg->database_url, "smartimport-cdc", cfg->db_connect_timeout_ms, cfg->db_query_timeout_ms);
        c->db.options = "-c synchronous_commit=on";
        sleep_ms(delay, stop);
        delay = delay * 2 > s->retry_max_ms ? s->retry_max_ms : delay * 2;
    }
    drop(c);
    si_db_cleanup(&c->db);
    for (int i = 0; i < CDC_MAX_MERCHANTS; i++)
        free(c->m[i].ids);
    free(c);
    return 0;
}
