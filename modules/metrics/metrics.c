/* metrics.c: GET /metrics: the token check, the SQL figures and the text format (see metrics.h).
 *
 * Every family is printed whole (its HELP, TYPE and every sample together), label values
 * escaped as the format says (\\, \", \n); histograms cumulative with le="+Inf" equal to
 * _count.  A SQL figure that fails (PostgreSQL down) leaves its families out and sets
 * smartimport_metrics_sql_up 0: the process counters are still served. */
#include "metrics.h"
#include "si_clock.h"
#include "si_log.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static const double bounds[SI_METRICS_BUCKETS] = SI_METRICS_BUCKET_BOUNDS;

static int sha256(const char *s, size_t n, unsigned char out[32])
{
    unsigned int len = 0;
    return EVP_Digest(s, n, out, &len, EVP_sha256(), NULL) == 1 && len == 32 ? 0 : -1;
}

int metrics_init(const struct si_config *cfg, void **fn_config, struct si_error *err)
{
    struct metrics_config *mc = calloc(1, sizeof *mc);
    if (mc == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    const char *dir = si_env_get(cfg->envp, "SMARTIMPORT_METRICS_DIR");
    mc->dir = (dir != NULL && *dir != '\0') ? dir : NULL;
    const char *token = si_env_get(cfg->envp, "SMARTIMPORT_METRICS_TOKEN");
    if (token != NULL && *token != '\0') {
        size_t n = strlen(token);
        if (n < METRICS_TOKEN_MIN || n > METRICS_TOKEN_MAX) {
            free(mc);
            return si_error_set(err, 500, "bad_config", "SMARTIMPORT_METRICS_TOKEN must be %d to %d characters",
                                METRICS_TOKEN_MIN, METRICS_TOKEN_MAX);
        }
        if (sha256(token, n, mc->token_sha256) != 0) {
            free(mc);
            return si_error_set(err, 500, "internal", "SHA-256 is not available");
        }
        mc->have_token = 1;
    }
    *fn_config = mc;
    return 0;
}

void metrics_cleanup(void *fn_config)
{
    free(fn_config);
}

/* 0: the request carries the token; -1: it does not. */
static int token_ok(const struct metrics_config *mc, const struct si_request *req)
{
    const char *h = si_request_header(req, "authorization");
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return -1;
    const char *t = h + 7;
    while (*t == ' ')
        t++;
    size_t n = strnlen(t, METRICS_TOKEN_MAX + 1);
    unsigned char got[32];
    if (n == 0 || n > METRICS_TOKEN_MAX || sha256(t, n, got) != 0)
        return -1;
    return CRYPTO_memcmp(got, mc->token_sha256, sizeof got) == 0 ? 0 : -1;
}

/* A label value as the text format wants it. */
static int put_label(struct si_buf *b, const char *s)
{
    for (; *s; s++) {
        int rc;
        if (*s == '\\')
            rc = si_buf_appends(b, "\\\\");
        else if (*s == '"')
            rc = si_buf_appends(b, "\\\"");
        else if (*s == '\n')
            rc = si_buf_appends(b, "\\n");
        else
            rc = si_buf_append(b, s, 1);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static int family(struct si_buf *b, const char *name, const char *type, const char *help)
{
    return si_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{key="value"[,key2="value2"]} */
static int sample_head(struct si_buf *b, const char *name, const char *key, const char *value, const char *key2,
                       const char *value2)
{
    if (si_buf_printf(b, "%s{%s=\"", name, key) != 0 || put_label(b, value) != 0)
        return -1;
    if (key2 != NULL && (si_buf_printf(b, "\",%s=\"", key2) != 0 || put_label(b, value2) != 0))
        return -1;
    return si_buf_appends(b, "\"}");
}

static int sample_u(struct si_buf *b, const char *name, const char *key, const char *value, const char *key2,
                    const char *value2, unsigned long long v)
{
    if (sample_head(b, name, key, value, key2, value2) != 0)
        return -1;
    return si_buf_printf(b, " %llu\n", v);
}

static int sample_i(struct si_buf *b, const char *name, const char *key, const char *value, long long v)
{
    if (sample_head(b, name, key, value, NULL, NULL) != 0)
        return -1;
    return si_buf_printf(b, " %lld\n", v);
}

static int sample_f(struct si_buf *b, const char *name, const char *key, const char *value, double v)
{
    if (sample_head(b, name, key, value, NULL, NULL) != 0)
        return -1;
    return si_buf_printf(b, " %.6f\n", v);
}

static int histogram(struct si_buf *b, const char *name, const char *key, const char *value,
                     const uint64_t slots[SI_METRICS_BUCKETS + 1], uint64_t sum_us)
{
    uint64_t cum = 0;
    char bucket[128], le[32];
    snprintf(bucket, sizeof bucket, "%s_bucket", name);
    for (int i = 0; i < SI_METRICS_BUCKETS; i++) {
        cum += slots[i];
        snprintf(le, sizeof le, "%g", bounds[i]);
        if (sample_u(b, bucket, key, value, "le", le, cum) != 0)
            return -1;
    }
    cum += slots[SI_METRICS_BUCKETS];
    char n[128];
    snprintf(n, sizeof n, "%s_sum", name);
    if (sample_u(b, bucket, key, value, "le", "+Inf", cum) != 0 || sample_f(b, n, key, value, (double)sum_us / 1e6) != 0)
        return -1;
    snprintf(n, sizeof n, "%s_count", name);
    return sample_u(b, n, key, value, NULL, NULL, cum);
}

static int print_processes(struct si_buf *b, const struct metrics_snapshot *s)
{
    int rc = 0;
    rc |= family(b, "smartimport_processes", "gauge", "Live processes of each function that keep counters.");
    for (size_t i = 0; i < s->n_fns; i++)
        rc |= sample_i(b, "smartimport_processes", "function", s->fns[i].name, s->fns[i].processes);
    rc |= family(b, "smartimport_requests_total", "counter", "Requests answered, by function and HTTP status code.");
    for (size_t i = 0; i < s->n_fns; i++)
        for (int c = 0; c < SI_METRICS_STATUS_MAX; c++)
            if (s->fns[i].requests[c] != 0) {
                char code[8];
                snprintf(code, sizeof code, "%d", c);
                rc |= sample_u(b, "smartimport_requests_total", "function", s->fns[i].name, "code", code,
                               s->fns[i].requests[c]);
            }
    rc |= family(b, "smartimport_request_duration_seconds", "histogram",
                 "Time from a request's arrival at the responder to its answer written.");
    for (size_t i = 0; i < s->n_fns; i++) {
        uint64_t n = 0;
        for (int k = 0; k <= SI_METRICS_BUCKETS; k++)
            n += s->fns[i].latency[k];
        if (n != 0)
            rc |= histogram(b, "smartimport_request_duration_seconds", "function", s->fns[i].name, s->fns[i].latency,
                            s->fns[i].latency_sum_us);
    }
    rc |= family(b, "smartimport_requests_in_flight", "gauge", "Requests being served now.");
    for (size_t i = 0; i < s->n_fns; i++)
        rc |= sample_i(b, "smartimport_requests_in_flight", "function", s->fns[i].name, s->fns[i].in_flight);
    rc |= family(b, "smartimport_db_reconnects_total", "counter",
                 "Database connections dropped after a failure (the next statement opens a new one).");
    for (size_t i = 0; i < s->n_fns; i++)
        rc |= sample_u(b, "smartimport_db_reconnects_total", "function", s->fns[i].name, NULL, NULL,
                       s->fns[i].db_reconnects);
    rc |= family(b, "smartimport_db_statement_timeouts_total", "counter",
                 "Statements cancelled at their deadline or by the server's statement_timeout.");
    for (size_t i = 0; i < s->n_fns; i++)
        rc |= sample_u(b, "smartimport_db_statement_timeouts_total", "function", s->fns[i].name, NULL, NULL,
                       s->fns[i].db_timeouts);
    rc |= family(b, "smartimport_idempotent_replays_total", "counter",
                 "Repeats of a request with the same Idempotency-Key answered with the stored answer.");
    for (size_t i = 0; i < s->n_fns; i++)
        rc |= sample_u(b, "smartimport_idempotent_replays_total", "function", s->fns[i].name, NULL, NULL,
                       s->fns[i].idempotent_replays);
    rc |= family(b, "smartimport_sse_streams_open", "gauge", "Server-sent event streams open now.");
    for (size_t i = 0; i < s->n_fns; i++)
        if (s->fns[i].has_sse || strcmp(s->fns[i].name, "import-events") == 0)
            rc |= sample_i(b, "smartimport_sse_streams_open", "function", s->fns[i].name, s->fns[i].sse_open);
    rc |= family(b, "smartimport_sse_streams_opened_total", "counter", "Server-sent event streams started.");
    for (size_t i = 0; i < s->n_fns; i++)
        if (s->fns[i].has_sse || strcmp(s->fns[i].name, "import-events") == 0)
            rc |= sample_u(b, "smartimport_sse_streams_opened_total", "function", s->fns[i].name, NULL, NULL,
                           s->fns[i].sse_opened);
    rc |= family(b, "smartimport_sse_events_sent_total", "counter",
                 "Events written to streams: stored (replayed or live) and live-only progress events.");
    for (size_t i = 0; i < s->n_fns; i++)
        if (s->fns[i].has_sse || strcmp(s->fns[i].name, "import-events") == 0) {
            rc |= sample_u(b, "smartimport_sse_events_sent_total", "function", s->fns[i].name, "kind", "stored",
                           s->fns[i].sse_delivered);
            rc |= sample_u(b, "smartimport_sse_events_sent_total", "function", s->fns[i].name, "kind", "live",
                           s->fns[i].sse_live);
        }
    rc |= family(b, "smartimport_sse_delivery_lag_seconds", "histogram",
                 "A stored event's created_at (its transaction's start) to its sending on a live stream.");
    for (size_t i = 0; i < s->n_fns; i++)
        if (s->fns[i].has_sse || strcmp(s->fns[i].name, "import-events") == 0)
            rc |= histogram(b, "smartimport_sse_delivery_lag_seconds", "function", s->fns[i].name, s->fns[i].sse_lag,
                            s->fns[i].sse_lag_sum_us);
    rc |= family(b, "smartimport_job_runs_total", "counter", "Job runs ended by the workers, by task and result.");
    for (size_t i = 0; i < s->n_tasks; i++) {
        rc |= sample_u(b, "smartimport_job_runs_total", "task", s->tasks[i].name, "result", "succeeded",
                       s->tasks[i].succeeded);
        rc |= sample_u(b, "smartimport_job_runs_total", "task", s->tasks[i].name, "result", "failed",
                       s->tasks[i].failed);
    }
    rc |= family(b, "smartimport_job_duration_seconds", "histogram", "Duration of job runs, by task.");
    for (size_t i = 0; i < s->n_tasks; i++)
        rc |= histogram(b, "smartimport_job_duration_seconds", "task", s->tasks[i].name, s->tasks[i].duration,
                        s->tasks[i].duration_sum_us);
    return rc;
}

/* The queue per task: one statement over the rows jobs_runnable_idx covers. */
static int print_queue(struct si_ctx *ctx, struct si_buf *b, struct si_error *err)
{
    PGresult *res = si_db_exec_timeout(ctx->db,
        "SELECT task, "
        "  count(*) FILTER (WHERE state = 'queued' AND run_at <= now()), "
        "  count(*) FILTER (WHERE state = 'queued' AND run_at > now()), "
        "  count(*) FILTER (WHERE state = 'failed'), "
        "  count(*) FILTER (WHERE state = 'running'), "
        "  coalesce(extract(epoch FROM now() - min(run_at) FILTER (WHERE state IN ('queued', 'failed') "
        "                                                         AND run_at <= now())), 0)::float8 "
        "FROM jobs WHERE state IN ('queued', 'failed', 'running') GROUP BY task ORDER BY task LIMIT 500",
        0, NULL, METRICS_SQL_TIMEOUT_MS, err);
    if (res == NULL)
        return -1;
    static const char *const states[] = { "ready", "scheduled", "retrying", "running" };
    int rc = family(b, "smartimport_jobs", "gauge",
                    "Jobs not finished, by task and state: ready (queued, due), scheduled (queued, due later), "
                    "retrying (failed, to run again), running.");
    int n = PQntuples(res);
    for (int s = 0; s < 4; s++)
        for (int i = 0; i < n; i++) {
            long long v = 0;
            if (si_db_get_int64(res, i, 1 + s, &v) < 0)
                rc = -1;
            rc |= sample_u(b, "smartimport_jobs", "task", PQgetvalue(res, i, 0), "state", states[s],
                           (unsigned long long)v);
        }
    rc |= family(b, "smartimport_jobs_oldest_ready_age_seconds", "gauge",
                 "How long the oldest due job of each task has waited (0: none waits).");
    for (int i = 0; i < n; i++) {
        char *end = NULL;
        double age = strtod(PQgetvalue(res, i, 5), &end);
        rc |= sample_f(b, "smartimport_jobs_oldest_ready_age_seconds", "task", PQgetvalue(res, i, 0),
                       end != NULL && *end == '\0' ? age : 0);
    }
    PQclear(res);
    return rc;
}

/* Dead jobs per task: failed on their last attempt (or their lease ran out once too often),
 * never run again unless requeued (modules/jobs).  A gauge: jobs_requeue and the retention
 * purge (finished jobs after SMARTIMPORT_RETAIN_JOBS_DAYS) take rows out.  An index-only scan
 * of jobs_dead_idx (sql/0029).  Tasks without a dead job are absent. */
static int print_dead(struct si_ctx *ctx, struct si_buf *b, struct si_error *err)
{
    PGresult *res = si_db_exec_timeout(ctx->db,
        "SELECT task, count(*) FROM jobs WHERE state = 'dead' GROUP BY task ORDER BY task LIMIT 500",
        0, NULL, METRICS_SQL_TIMEOUT_MS, err);
    if (res == NULL)
        return -1;
    int rc = family(b, "smartimport_jobs_dead", "gauge",
                    "Dead jobs by task: failed for good, not retried (until requeued or purged by retention).");
    for (int i = 0; i < PQntuples(res); i++) {
        long long v = 0;
        if (si_db_get_int64(res, i, 1, &v) < 0)
            rc = -1;
        rc |= sample_u(b, "smartimport_jobs_dead", "task", PQgetvalue(res, i, 0), NULL, NULL, (unsigned long long)v);
    }
    PQclear(res);
    return rc;
}

/* The logical replication slots (the CDC daemon's) and how far behind they are. */
static int print_slots(struct si_ctx *ctx, struct si_buf *b, struct si_error *err)
{
    PGresult *res = si_db_exec_timeout(ctx->db,
        "SELECT s.slot_name::text, s.active, "
        "  coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn), 0)::bigint, "
        "  coalesce(c.lag_ms, 0) "
        "FROM pg_replication_slots s LEFT JOIN cdc_state c ON c.slot = s.slot_name "
        "WHERE s.slot_type = 'logical' ORDER BY 1 LIMIT 50",
        0, NULL, METRICS_SQL_TIMEOUT_MS, err);
    if (res == NULL)
        return -1;
    int n = PQntuples(res), rc = 0;
    rc |= family(b, "smartimport_cdc_slot_active", "gauge", "1 while a consumer reads the replication slot.");
    for (int i = 0; i < n; i++) {
        bool active = false;
        if (si_db_get_bool(res, i, 1, &active) < 0)
            rc = -1;
        rc |= sample_i(b, "smartimport_cdc_slot_active", "slot", PQgetvalue(res, i, 0), active ? 1 : 0);
    }
    rc |= family(b, "smartimport_cdc_lag_bytes", "gauge", "WAL between the server's position and the slot's confirmed one.");
    for (int i = 0; i < n; i++) {
        long long v = 0;
        if (si_db_get_int64(res, i, 2, &v) < 0)
            rc = -1;
        rc |= sample_i(b, "smartimport_cdc_lag_bytes", "slot", PQgetvalue(res, i, 0), v);
    }
    rc |= family(b, "smartimport_cdc_lag_seconds", "gauge",
                 "The CDC daemon's last lag: a source transaction's commit to its jobs committed (cdc_state).");
    for (int i = 0; i < n; i++) {
        long long v = 0;
        if (si_db_get_int64(res, i, 3, &v) < 0)
            rc = -1;
        rc |= sample_f(b, "smartimport_cdc_lag_seconds", "slot", PQgetvalue(res, i, 0), (double)v / 1000.0);
    }
    PQclear(res);
    return rc;
}

/* Rows inserted into the ledger and the staging tables (import rows/s: rate() of these). */
static int print_rows(struct si_ctx *ctx, struct si_buf *b, struct si_error *err)
{
    PGresult *res = si_db_exec_timeout(ctx->db,
        "SELECT relname::text, n_tup_ins FROM pg_stat_user_tables "
        "WHERE schemaname = 'public' AND relname IN ('transactions', 'transactions_staging', 'purchases', "
        "                                            'bulk_import_staging') ORDER BY 1",
        0, NULL, METRICS_SQL_TIMEOUT_MS, err);
    if (res == NULL)
        return -1;
    int rc = family(b, "smartimport_table_rows_inserted_total", "counter",
                    "Rows inserted (PostgreSQL's statistics): transactions = committed to the ledger, "
                    "transactions_staging = ingested statement rows, purchases / bulk_import_staging = bulk imports.");
    for (int i = 0; i < PQntuples(res); i++) {
        long long v = 0;
        if (si_db_get_int64(res, i, 1, &v) < 0)
            rc = -1;
        rc |= sample_u(b, "smartimport_table_rows_inserted_total", "table", PQgetvalue(res, i, 0), NULL, NULL,
                       (unsigned long long)v);
    }
    PQclear(res);
    return rc;
}

int metrics_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    const struct metrics_config *mc = ctx->fn_config;
    if (!mc->have_token)
        return si_response_error(resp, 404, "not_found", "not found");
    if (token_ok(mc, req) != 0) {
        si_response_header(resp, "WWW-Authenticate", "Bearer realm=\"metrics\"");
        return si_response_error(resp, 401, "unauthorized", "a valid metrics token is required");
    }
    double t0 = si_clock_ms();
    struct si_error err;
    si_error_clear(&err);
    struct metrics_snapshot *snap = calloc(1, sizeof *snap);
    if (snap == NULL)
        return si_response_error(resp, 500, "internal", "out of memory");
    int rc = -1;
    if (mc->dir != NULL && metrics_read_dir(mc->dir, snap, &err) != 0) {
        si_response_from_error(resp, &err);
        goto out;
    }
    struct si_buf *b = &resp->body;
    si_buf_reset(b);
    b->max = METRICS_BODY_MAX;
    int w = print_processes(b, snap);
    int sql_up = 1;
    /* Each statement by itself: one that fails leaves its families out, the others stay. */
    size_t mark = b->len;
    if (print_queue(ctx, b, &err) != 0) {
        b->len = mark;
        b->data[mark] = '\0';
        sql_up = 0;
    }
    mark = b->len;
    if (print_dead(ctx, b, &err) != 0) {
        b->len = mark;
        b->data[mark] = '\0';
        sql_up = 0;
    }
    mark = b->len;
    if (print_slots(ctx, b, &err) != 0) {
        b->len = mark;
        b->data[mark] = '\0';
        sql_up = 0;
    }
    mark = b->len;
    if (print_rows(ctx, b, &err) != 0) {
        b->len = mark;
        b->data[mark] = '\0';
        sql_up = 0;
    }
    w |= family(b, "smartimport_metrics_sql_up", "gauge", "1 when every SQL figure of this scrape was read.");
    w |= si_buf_printf(b, "smartimport_metrics_sql_up %d\n", sql_up);
    w |= family(b, "smartimport_metrics_files_folded", "gauge",
                "Ended processes' counter files folded into their function's retired file by this scrape.");
    w |= si_buf_printf(b, "smartimport_metrics_files_folded %llu\n", (unsigned long long)snap->folded);
    w |= family(b, "smartimport_metrics_scrape_duration_seconds", "gauge", "Time this scrape took to build.");
    w |= si_buf_printf(b, "smartimport_metrics_scrape_duration_seconds %.6f\n", si_ms_since(t0) / 1000.0);
    w |= family(b, "smartimport_build_info", "gauge", "The version serving this scrape.");
    w |= si_buf_printf(b, "smartimport_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
    if (w != 0) {
        si_response_error(resp, 500, "internal", "the metrics did not fit in %d bytes", METRICS_BODY_MAX);
        goto out;
    }
    if (!sql_up)
        si_logf(SI_LOG_WARN, "metrics: a SQL figure failed: %s", err.code);
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    rc = 0;
out:
    free(snap);
    return rc;
}
