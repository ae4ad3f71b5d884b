/* events_limits.h: every limit of the import-events responder, named once.
 *
 * The values with an environment variable are defaults that an operator may
 * change at start (read in main_import_events.c, checked against the ranges here). */
#ifndef EVENTS_LIMITS_H
#define EVENTS_LIMITS_H

/* Open streams at once (SMARTIMPORT_EVENTS_MAX_STREAMS).  A stream costs one
 * file descriptor and about 1-2 KiB while idle; past the limit a new stream
 * is a 503 JSON error. */
#define EV_MAX_STREAMS_DEFAULT      2000
#define EV_MAX_STREAMS_CEILING      100000
/* Open streams of one user (SMARTIMPORT_EVENTS_STREAMS_PER_USER): a browser
 * needs one or two per tab; past it a new stream is 429
 * too_many_streams_for_user, so one user cannot take every slot. */
#define EV_STREAMS_PER_USER_DEFAULT 8
/* Retry-After (seconds) of a 429 or 503 answer. */
#define EV_RETRY_AFTER_S            5
/* A token that expires later than this (seconds) is treated as never
 * expiring while the stream lives. */
#define EV_EXPIRY_HORIZON_S         (10LL * 365 * 24 * 3600)
/* Connections that are not (yet) streams: requests being read, JSON pages. */
#define EV_MAX_PENDING_CONNS        256

/* Bytes queued for one stream that the client has not read yet
 * (SMARTIMPORT_EVENTS_OUT_MAX).  A stream over it is closed; the client
 * resumes with Last-Event-ID.  Replay pages are only fetched while the
 * queue is under the low-water mark, so a replay never overflows it. */
#define EV_OUT_MAX_DEFAULT          (256 * 1024)
#define EV_OUT_MAX_MIN              (16 * 1024)
#define EV_OUT_MAX_CEILING          (16 * 1024 * 1024)
#define EV_OUT_LOW_WATER            (16 * 1024)
/* A drained output buffer larger than this is freed, so idle streams stay small. */
#define EV_OUT_KEEP                 (8 * 1024)
/* A JSON response (up to 1000 events of up to 4 KiB payload each). */
#define EV_RESPONSE_MAX             (8 * 1024 * 1024)

/* ": hb" comment lines keep proxies from closing idle streams
 * (SMARTIMPORT_EVENTS_HEARTBEAT_MS). */
#define EV_HEARTBEAT_MS_DEFAULT     15000
#define EV_HEARTBEAT_MS_MIN         100
#define EV_HEARTBEAT_MS_CEILING     3600000
/* The `retry:` a stream starts with: how long EventSource waits to reconnect. */
#define EV_RETRY_MS                 2000

/* Deadline of one statement on the query connection
 * (SMARTIMPORT_EVENTS_QUERY_TIMEOUT_MS): replay pages, JSON pages, import
 * checks and delivery batches are indexed lookups; a slow delivery or replay
 * query delays every stream's live events, so it is cancelled early. */
#define EV_QUERY_TIMEOUT_MS_DEFAULT 2000
/* Query threads of the request lane (SMARTIMPORT_EVENTS_QUERY_THREADS), each
 * with its own connection: import checks and JSON pages of new requests.
 * The bus lane (deliveries, replay pages, fences) is one more thread.  A job
 * that waited in the request lane longer than the query timeout is answered
 * 503 busy without running. */
#define EV_QUERY_THREADS_DEFAULT    2
#define EV_QUERY_THREADS_CEILING    32

/* FastCGI input. */
#define EV_MAX_PARAMS               (64 * 1024)   /* the params stream, bytes */
#define EV_MAX_PARAM_PAIRS          256
#define EV_MAX_STDIN                (64 * 1024)   /* a GET has none; more is refused */
#define EV_READ_CHUNK               (64 * 1024)
/* A connection must deliver its whole request within this time. */
#define EV_REQUEST_TIMEOUT_MS       10000

/* Events per replay page and per delivery query. */
#define EV_REPLAY_PAGE              500
#define EV_BATCH_MAX                1000
/* The JSON polling page: ?limit= default and maximum. */
#define EV_PAGE_LIMIT_DEFAULT       100
#define EV_PAGE_LIMIT_MAX           1000

/* Reconnecting the LISTEN connection: first retry, then doubling up to the cap. */
#define EV_LISTEN_RETRY_MS          250
#define EV_LISTEN_RETRY_MAX_MS      4000
/* After a failed query, pages and fences wait this long before trying again. */
#define EV_DB_RETRY_MS              250
/* SIGTERM: how long finished streams may take to flush before we close anyway. */
#define EV_SHUTDOWN_DRAIN_MS        2000

#define EV_REQUEST_ID_MAX           64   /* bytes of a request id kept for the log */

#endif
