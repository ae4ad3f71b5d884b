/* events.h: the import-events responder (GET /.netlify/functions/import-events).
 *
 * Why it is not an si_server responder.  libfcgi pins one thread to every open
 * request, so a threaded responder can hold as many Server-Sent Event streams
 * as it has threads, and an idle stream starves everything else (the
 * fastcgi_keep_conn lesson in the baselines).  This responder is one thread
 * running an epoll loop that speaks FastCGI itself (fcgi_proto.c) on the
 * socket spawn-fcgi hands it as fd 0 (or SMARTIMPORT_LISTEN).  nginx opens one
 * FastCGI connection per request (fastcgi_keep_conn off); an open stream is
 * that connection, a small struct and an output buffer: a few KiB and one file
 * descriptor, no thread.  The other functions keep their own responders and
 * never wait for this one.
 *
 * The pieces:
 *   events_loop.c     epoll, accept, timers, signals, shutdown
 *   events_conn.c     one FastCGI connection: output queue, reads, writes, its end
 *   import_events.c   one complete request -> an error, a JSON page, or a stream
 *   events_bus.c      the table of open streams; dispatch of the bus's work
 *   events_replay.c   replay pages, fences, catch-up after an outage
 *   events_live.c     the LISTEN connection, notifications, live delivery
 *   events_pool.c     the query threads and their lanes
 *   events_format.c   event rows -> JSON objects and SSE frames
 *   fcgi_proto.c      the FastCGI wire format
 * Status line, headers, JSON errors and the request log line are the
 * runtime's (si_response_head, si_http_head, si_response_from_error,
 * si_log_request), the same as every si_server responder's.
 *
 * The loop never waits for a SELECT.  A statement that waits on another
 * transaction's lock (an ALTER TABLE or VACUUM FULL on imports), or is just
 * slow, would stop every stream's heartbeats and deliveries for as long as
 * its deadline if the loop ran it.  Statements run on query threads, each with its own
 * struct si_db (deadline, cancel and reconnect are the runtime's), grouped in
 * two lanes (events_pool.c); the loop submits a job, keeps serving, and reads
 * the answer when an eventfd in its epoll set says it is there:
 *   bus lane      ONE thread: delivery batches, replay pages and fences.
 *                 Its single thread answers them in the order the loop
 *                 submitted them, so the replay -> live hand-over below
 *                 reasons exactly as if the loop ran each one at the moment
 *                 it submitted it.  These read only import_events, by index.
 *   request lane  SMARTIMPORT_EVENTS_QUERY_THREADS threads: what a new
 *                 request asks (import ownership, which reads imports; JSON
 *                 pages).  A request waits there in EV_CONN_QUERY; if every
 *                 thread is stuck the next requests queue (bounded by the
 *                 connection cap, and answered 503 once they queued past the
 *                 query timeout), and the streams do not notice.
 * Chosen against: asynchronous libpq on the loop.  One connection runs one
 * statement at a time, so it would still need a set of connections for a
 * blocked request not to hold up deliveries, plus non-blocking connect,
 * cancel and reconnect written again inside the loop; threads reuse si_db
 * as it is, and share nothing but two job lists and the answer list.
 *
 * The LISTEN connection stays on the loop thread and is only read: its
 * socket is in the epoll set, so a commit that inserted import_events wakes
 * the loop (no polling).
 *
 * Delivery.  The notifications read while no batch is in flight (up to
 * EV_BATCH_MAX) form the next batch; the rows are
 * fetched with ONE statement, `WHERE id = ANY(<notified ids>) AND user_id =
 * ANY(<their users>)`, and each row is framed once and appended to every
 * subscriber whose user (and import filter) matches.  Fetching exactly the
 * notified ids, rather than the range (last delivered, highest notified],
 * matters because identity ids are handed out at INSERT but become visible
 * at COMMIT: with two writers, id 11 can commit before id 10, and a range
 * query run after 11's notification would skip 10 for good.
 *
 * Replay -> live without duplicates or gaps.  A stream is added to the
 * fan-out in the same loop turn that submits its first replay page, and
 * starts (its head and first page go out) when that page is back; rows of a
 * delivery batch submitted before it are not for it, batches submitted after
 * it are answered after it (the bus lane keeps order).  A replayed row may
 * still have its notification on its way; to recognise those, the stream
 * keeps the ids of its last replay page ("recent") and the loop then commits
 * a fence, `SELECT pg_notify('import_events_fence', '<pid>:<seq>')`, submitted
 * after the page was answered.  PostgreSQL queues notifications in commit
 * order, so every row the replay saw has its notification ahead of the
 * fence: until the fence arrives, and every notification read before it was
 * delivered, a live row that is in "recent" is skipped; after that nothing
 * can be a duplicate and "recent" is dropped.  A long replay goes page by
 * page (one page per fence, and only while the client keeps up); live rows
 * beyond the replayed range are left to the next page.  Each stream keeps
 * `cursor`, the highest id it has sent, which is the `id:` of every frame:
 * the resume point for Last-Event-ID.
 *
 * Failure.  When the LISTEN connection drops (a PostgreSQL restart) it is
 * reconnected with backoff; once it listens again every stream catches up
 * with replay pages from its cursor, so what was committed meanwhile is
 * delivered.  A failed delivery query is handled the same way (reconnect +
 * catch-up).  Streams stay open meanwhile, with heartbeats.
 *
 * Limits.  Bounded per stream output; a client that does not read is cut off
 * at EV_OUT_MAX and resumes with Last-Event-ID; bounded FastCGI input; a cap
 * on open streams (503) and on one user's open streams (429), both with
 * Retry-After.  A stream ends cleanly when the token it was opened with
 * expires, so a revoked user cannot keep listening on an old token; the
 * client reconnects with a fresh token and Last-Event-ID.  See
 * events_limits.h.
 *
 * Known limit: the resume cursor is an id, so an event whose transaction
 * commits after a higher id was already sent *and* after its client went
 * away is not replayed on resume (a live stream does get it).  Closing that
 * needs a commit-ordered sequence in the schema. */
#ifndef EVENTS_H
#define EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <libpq-fe.h>

#include "events_limits.h"
#include "fcgi_proto.h"
#include "si_arena.h"
#include "si_buf.h"
#include "si_clock.h"
#include "si_config.h"
#include "si_db.h"
#include "si_response.h"
#include "si_uuid.h"

/* Settings of this responder on top of struct si_config. */
struct ev_settings {
    int max_streams;          /* SMARTIMPORT_EVENTS_MAX_STREAMS */
    int streams_per_user;     /* SMARTIMPORT_EVENTS_STREAMS_PER_USER */
    int query_threads;        /* SMARTIMPORT_EVENTS_QUERY_THREADS: the request lane's threads */
    size_t out_max;           /* SMARTIMPORT_EVENTS_OUT_MAX */
    int heartbeat_ms;         /* SMARTIMPORT_EVENTS_HEARTBEAT_MS */
    int query_timeout_ms;     /* SMARTIMPORT_EVENTS_QUERY_TIMEOUT_MS */
    const char *web_server_addrs;   /* FCGI_WEB_SERVER_ADDRS: the peers a TCP socket accepts
                                     * (NULL: any; si_listen.h), as libfcgi's accept does */
};

/* What an epoll entry points at: the first member of each watched thing. */
enum ev_watch_kind { EV_WATCH_ACCEPT, EV_WATCH_SIGNAL, EV_WATCH_LISTEN_DB, EV_WATCH_POOL, EV_WATCH_CONN };
struct ev_watch {
    enum ev_watch_kind kind;
};

enum ev_conn_state {
    EV_CONN_READING,    /* reading the FastCGI request */
    EV_CONN_QUERY,      /* the request waits for a query (nothing sent yet) */
    EV_CONN_STREAM,     /* an open event stream */
    EV_CONN_FLUSHING    /* the response is complete: write it out, then close */
};

struct ev_sub;
struct ev_job;

/* What a request asked for (import_events.c). */
struct ev_query {
    char user[SI_UUID_LEN + 1];
    char import_id[SI_UUID_LEN + 1];   /* "" = all the user's events */
    bool stream;
    bool head;
    long long after;
    bool after_now;                    /* after=now: the cursor is the user's newest event id */
    int limit;
    long long expires_at;              /* the token's exp, seconds since the epoch; 0 = none */
};

/* A request that waits for its queries: what it asked for and what its log
 * line needs, copied out of the request's arena. */
struct ev_pending {
    struct ev_query q;
    char request_id[EV_REQUEST_ID_MAX];
    char method[16];
    char path[128];
    long long t0;
};

/* One FastCGI connection from nginx (= one HTTP request). */
struct ev_conn {
    struct ev_watch watch;        /* EV_WATCH_CONN; must stay first */
    int fd;
    enum ev_conn_state state;
    struct fcgi_conn proto;
    struct si_buf in;             /* bytes read, not yet a complete record */
    struct si_buf out;            /* records not yet written; [out_off, len) pending */
    size_t out_off;
    uint32_t epoll_mask;
    long long opened_ms;
    bool dirty;                   /* on the loop's dirty list */
    bool doomed;                  /* on the loop's doomed list: closed at the end of the turn */
    const char *close_reason;
    struct ev_conn *prev, *next;  /* every connection */
    struct ev_conn *dirty_next, *doomed_next;
    struct ev_sub *sub;           /* set while it is a stream (or starting one) */
    struct ev_pending *pending;   /* set while the request waits for queries */
    struct ev_job *job;           /* its query in flight, if any (EV_CONN_QUERY) */
};

/* One open stream: what it wants and how far it got. */
struct ev_sub {
    struct ev_conn *conn;
    char user[SI_UUID_LEN + 1];
    char import_id[SI_UUID_LEN + 1];   /* "" = every event of the user */
    char request_id[EV_REQUEST_ID_MAX];
    long long cursor;                  /* highest id sent: the resume point */
    long long page_cursor;             /* replay pages have covered ids up to here */
    bool replaying;                    /* more replay pages to fetch */
    unsigned long long await_fence;    /* 0, or the fence that ends `recent` */
    long long *recent;                 /* ids the last replay page sent, ascending */
    size_t n_recent, cap_recent;
    long long events_sent;
    long long opened_ms;
    long long expires_ms;              /* ev_now_ms() clock; the token's exp; 0 = never */
    bool started;                      /* its first replay page arrived and the head was sent */
    bool announce_cursor;              /* after=now: the head carries `id: <cursor>` */
    struct ev_job *page_job;           /* its replay page in flight, if any */
    struct ev_sub *hnext, *hprev;      /* the user's hash chain */
};

/* A notification of the current wakeup batch. */
struct ev_note {
    long long id;
    unsigned long long fence_before;   /* the highest fence read before it */
    char user[SI_UUID_LEN + 1];
};

#define EV_USER_BUCKETS 1024

/* --- query threads (events_pool.c) ------------------------------------------------ */

/* Which threads run a job.  The bus lane is ONE thread: delivery batches,
 * replay pages and fences run in the order they were submitted, which the
 * replay -> live hand-over relies on.  The request lane is a few threads for
 * what a new request asks (import ownership, JSON pages): these read other
 * tables (imports) and may wait on another transaction's lock, without
 * holding up the bus lane. */
enum ev_lane_id { EV_LANE_BUS, EV_LANE_REQUEST, EV_LANES };

enum ev_job_kind { EV_JOB_VISIBLE, EV_JOB_NOW, EV_JOB_PAGE, EV_JOB_REPLAY, EV_JOB_DELIVER, EV_JOB_FENCE };

#define EV_JOB_PARAMS 4

/* One statement handed to a query thread, and its answer.  The loop thread
 * fills it, submits it and, once it is back, reads the answer and frees it;
 * the query thread only touches sql, params, res and err in between. */
struct ev_job {
    enum ev_job_kind kind;
    const char *sql;                   /* a static string */
    int n_params;
    char *params[EV_JOB_PARAMS];       /* owned copies */
    long long queued_ms;
    PGresult *res;                     /* the answer, or NULL with err */
    struct si_error err;
    /* the loop's side: who waits for the answer (NULL once they went away) */
    struct ev_conn *conn;              /* VISIBLE, NOW, PAGE */
    struct ev_sub *sub;                /* REPLAY */
    struct ev_note *notes;             /* DELIVER: its notifications, owned */
    size_t n_notes;
    unsigned long long fence_mark;     /* DELIVER: the highest fence read before it was formed */
    struct ev_job *next;
};

struct ev_lane {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct ev_job *head, *tail;
    bool stopping;
    bool deadline;                     /* a job that queued past the query timeout is not run */
    pthread_t *threads;
    int n_threads;                     /* started */
};

struct ev_pool {
    struct ev_lane lanes[EV_LANES];
    bool lanes_init[EV_LANES];
    pthread_mutex_t done_mu;
    bool done_mu_init;
    struct ev_job *done_head, *done_tail;
    int done_fd;                       /* eventfd: answers are waiting; in the epoll set */
    const char *conninfo;
    int connect_timeout_ms, query_timeout_ms;
};

/* Starts the threads (after the loop blocked its signals, which they inherit). */
int ev_pool_init(struct ev_pool *pool, const struct si_config *cfg, int request_threads,
                 int query_timeout_ms);
/* Stops and joins the threads (each finishes its statement: at most the
 * query timeout), frees jobs not run.  Safe to call twice. */
void ev_pool_cleanup(struct ev_pool *pool);
/* A job for sql with copies of params; NULL when out of memory. */
struct ev_job *ev_job_new(enum ev_job_kind kind, const char *sql, int n_params, const char *const *params);
void ev_job_free(struct ev_job *job);
void ev_pool_submit(struct ev_pool *pool, enum ev_lane_id lane, struct ev_job *job);
/* The answered jobs, oldest first (a list through ->next); clears done_fd. */
struct ev_job *ev_pool_take_done(struct ev_pool *pool);

struct ev_bus {
    struct si_db listen;               /* the LISTEN connection */
    int listen_fd;                     /* its socket in the epoll set; -1 when down */
    bool up;
    long long retry_at_ms;
    int retry_ms;
    unsigned long long fence_next;     /* the seq the next fence will carry */
    unsigned long long fence_seen;     /* the highest of ours that arrived */
    unsigned long long fence_released; /* the highest whose earlier notifications are all delivered */
    bool fence_wanted;
    bool fence_busy;                   /* a fence is in flight (it carries fence_next) */
    bool deliver_busy;                 /* a delivery batch is in flight */
    bool ever_up;
    bool relisten;                     /* a delivery failed: reconnect and catch up */
    long long db_retry_at_ms;          /* no pages or fences before this, after a failure */
    size_t n_replaying;                /* streams with replay pages to fetch */
    size_t n_awaiting;                 /* streams waiting for a fence */
    struct ev_sub *buckets[EV_USER_BUCKETS];
    struct ev_note *notes;
    size_t n_notes, cap_notes;
};

struct ev_stats {
    unsigned long long streams_opened, streams_closed, requests, notifications, batches, delivered,
        listen_reconnects, overflows, fences;
    unsigned long long live_delivered;   /* live (non-durable) events sent to streams */
};

struct ev_loop {
    const struct si_config *cfg;
    struct ev_settings set;
    int epfd;
    int accept_fd;                     /* the listening socket; -1 once closed */
    int signal_fd;
    struct ev_watch accept_watch, signal_watch, listen_db_watch;
    bool stopping;
    long long stop_deadline_ms;
    long long accept_paused_until_ms;  /* after EMFILE */
    bool accept_registered;
    struct ev_conn *conns;
    size_t n_conns, n_streams, n_reading;
    struct ev_conn *dirty, *doomed;
    struct si_arena arena;             /* per request; reset after each */
    struct si_response resp;           /* per request; reset before each */
    struct si_buf frame;               /* scratch: one SSE frame or event */
    unsigned char *readbuf;            /* EV_READ_CHUNK bytes */
    long long next_heartbeat_ms;
    long long next_expiry_ms;          /* the earliest stream token expiry; LLONG_MAX = none */
    struct ev_watch pool_watch;
    struct ev_pool pool;               /* the query threads */
    struct ev_bus bus;
    struct ev_stats stats;
};

/* events_loop.c */
long long ev_now_ms(void);
int ev_loop_init(struct ev_loop *L, const struct si_config *cfg, const struct ev_settings *set,
                 int accept_fd);
int ev_loop_run(struct ev_loop *L);
void ev_loop_cleanup(struct ev_loop *L);
/* epoll_ctl on the loop's epoll set with ptr as the event's data. */
int ev_epoll_set(struct ev_loop *L, int op, int fd, uint32_t events, void *ptr);

/* events_conn.c */
/* A connection for an accepted fd, registered for reading; NULL when out of memory. */
struct ev_conn *ev_conn_new(struct ev_loop *L, int fd);
/* Unsubscribes its stream (logging the close line), closes and frees it. */
void ev_conn_free(struct ev_loop *L, struct ev_conn *c);
/* Writes what is queued for c without blocking (asks for EPOLLOUT while some is left). */
void ev_conn_flush(struct ev_loop *L, struct ev_conn *c);
/* c's socket is ready (epoll events). */
void ev_conn_event(struct ev_loop *L, struct ev_conn *c, uint32_t events);
/* Appends data as FCGI_STDOUT records of c's request.  A stream whose queue
 * would pass its limit is doomed ("overflow"); returns -1 then. */
int ev_conn_send(struct ev_loop *L, struct ev_conn *c, const void *data, size_t n);
/* Bytes queued for c that the peer has not taken yet. */
size_t ev_conn_pending(const struct ev_conn *c);
/* Moves c to another state, keeping the loop's counts right. */
void ev_conn_set_state(struct ev_loop *L, struct ev_conn *c, enum ev_conn_state state);
/* Ends c's request: empty STDOUT, END_REQUEST, then close once written. */
void ev_conn_finish(struct ev_loop *L, struct ev_conn *c);
/* Closes c at the end of this loop turn.  Its stream stays subscribed (and
 * is skipped) until then, so a doom never frees what a caller is walking. */
void ev_conn_doom(struct ev_loop *L, struct ev_conn *c, const char *reason);
/* Ends an open stream cleanly (END_REQUEST) and logs its close line. */
void ev_stream_end(struct ev_loop *L, struct ev_conn *c, const char *reason);

/* import_events.c: c's request is complete (c->proto holds its params). */
void ev_request_handle(struct ev_loop *L, struct ev_conn *c);
/* A VISIBLE or PAGE job is back (job->conn is still waiting for it). */
void ev_request_on_job(struct ev_loop *L, struct ev_job *job);
/* The first replay page of c's stream is back: err set when it failed (the
 * request is answered with that error), else the caller sends the head. */
void ev_request_stream_failed(struct ev_loop *L, struct ev_conn *c, const struct si_error *err);
/* Logs the stream open line of c's request and frees its pending state. */
void ev_request_stream_started(struct ev_loop *L, struct ev_conn *c);

/* events_bus.c (with events_replay.c and events_live.c) */
void ev_bus_init(struct ev_bus *bus, const struct si_config *cfg);
void ev_bus_cleanup(struct ev_loop *L);
/* Registers sub for live rows and submits its first replay page (see
 * events.h: subscribed before the page runs).  The head goes out when the
 * page is back.  0, or -1 when out of memory (sub is then not subscribed). */
int ev_bus_start(struct ev_loop *L, struct ev_sub *sub);
/* Open streams of user (started or starting). */
int ev_bus_user_streams(const struct ev_loop *L, const char *user);
/* Removes sub from the fan-out, logs the stream's close line, frees it. */
void ev_bus_unsubscribe(struct ev_loop *L, struct ev_sub *sub, const char *reason);
/* A REPLAY, DELIVER or FENCE job is back. */
void ev_bus_on_job(struct ev_loop *L, struct ev_job *job);
/* The LISTEN socket is readable. */
void ev_bus_on_input(struct ev_loop *L);
/* Once per loop turn: reconnect LISTEN when due, run due replay pages, send a fence. */
void ev_bus_tick(struct ev_loop *L, long long now);
/* Milliseconds until the bus needs a tick, or -1 when it does not. */
int ev_bus_timeout(const struct ev_loop *L, long long now);

/* Inside the bus (events_bus.c, events_replay.c, events_live.c). */
unsigned ev_bus_bucket(const char *user);
/* Keep the bus's counts of replaying and fence-awaiting streams right. */
void ev_sub_set_replaying(struct ev_bus *bus, struct ev_sub *sub, bool on);
void ev_sub_set_await(struct ev_bus *bus, struct ev_sub *sub, unsigned long long fence);
/* A started stream whose connection is open. */
bool ev_sub_live(const struct ev_sub *sub);
/* id was sent by sub's last replay page. */
bool ev_sub_in_recent(const struct ev_sub *sub, long long id);
/* events_replay.c: submit sub's next replay page (0, or -1 when out of memory); a
 * page is back; every replaying stream that may have its next page gets it; send
 * the fence that is wanted, and its answer; every stream replays from its cursor. */
int ev_replay_submit(struct ev_loop *L, struct ev_sub *sub);
void ev_replay_on_page(struct ev_loop *L, struct ev_job *job);
void ev_replay_run(struct ev_loop *L);
void ev_fence_send(struct ev_loop *L);
void ev_fence_on_sent(struct ev_loop *L, struct ev_job *job);
void ev_replay_catch_up_all(struct ev_loop *L);
/* events_live.c: the LISTEN connection is lost (why is logged), (re)connect it
 * (every stream then catches up), a delivery batch is back.  Live events
 * (si_event.h: progress, never stored) arrive on SI_EVENT_LIVE_CHANNEL with
 * the whole event in the notification and go straight to the started
 * streams of their user (and import filter); nothing is fetched, nothing
 * replayed, no cursor moves. */
void ev_live_lost(struct ev_loop *L, const char *why);
void ev_live_connect(struct ev_loop *L, long long now);
void ev_live_on_delivered(struct ev_loop *L, struct ev_job *job);

/* events_format.c: event rows as read by EV_ROW_COLUMNS. */
#define EV_ROW_COLUMNS \
    "id, user_id, import_id, event_type, payload::text, " \
    SI_SQL_UTC_MS("created_at")

struct ev_row {
    long long id;
    const char *user_id;
    const char *import_id;   /* NULL for events of no import */
    const char *type;
    const char *payload;     /* JSON text of a jsonb object */
    const char *created_at;
};

/* Reads row i of a result with EV_ROW_COLUMNS; -1 when a field is not what
 * the schema promises (such a row is skipped, never sent half-checked). */
int ev_row_read(const PGresult *res, int i, struct ev_row *out);
/* {"id","importId","type","payload","createdAt"} appended to out. */
int ev_event_json(struct si_buf *out, const struct ev_row *row);
/* "id: <id_line>\nevent: <type>\ndata: <json>\n\n" appended to out. */
int ev_sse_frame(struct si_buf *out, long long id_line, const struct ev_row *row);
/* A live (non-durable) event's frame, appended to out: "event: <type>\ndata:
 * {"id":null,"importId","type","payload","createdAt"}\n\n", with no id:
 * line, so the client's Last-Event-ID stays the last stored event's.  -1
 * when a part could break the frame (checked like ev_row_read's). */
int ev_live_frame(struct si_buf *out, const char *type, const char *import_id, const char *payload,
                  const char *created_at);
/* A cursor (after / lastEventId / Last-Event-ID): decimal digits, 0..2^63-1. */
int ev_parse_cursor(const char *s, long long *out);

#endif
