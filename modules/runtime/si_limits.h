/* si_limits.h: every limit the runtime enforces, named once.
 *
 * A buffer or parser is handed its limit from here; nothing else in the tree
 * spells these numbers.  Values that operators may change at start-up have an
 * environment variable (see si_config.c) and these are their defaults. */
#ifndef SI_LIMITS_H
#define SI_LIMITS_H

/* Request body, bytes.  nginx's client_max_body_size is the same 64 MiB, so
 * a body larger than this normally never reaches a responder. */
#define SI_MAX_BODY_DEFAULT        (64UL * 1024 * 1024)
#define SI_MAX_BODY_CEILING        (1024UL * 1024 * 1024)

#define SI_MAX_PATH                2048   /* request path, bytes */
#define SI_MAX_QUERY               8192   /* raw query string, bytes */
#define SI_MAX_QUERY_PARAMS        64
#define SI_MAX_HEADERS             96
#define SI_MAX_HEADER_VALUE        8192
#define SI_MAX_TOKEN               8192   /* a bearer token, bytes */
#define SI_MAX_JWT_SECRET          512

#define SI_MAX_RESPONSE            (32UL * 1024 * 1024)
#define SI_MAX_EXTRA_HEADERS       1024   /* bytes of extra response headers */

#define SI_ARENA_CHUNK             (16 * 1024)
#define SI_ARENA_MAX               (1024 * 1024)  /* per request */

#define SI_THREADS_DEFAULT         4
#define SI_THREADS_MAX             64

#define SI_DB_CONNECT_TIMEOUT_MS   1500
#define SI_DB_QUERY_TIMEOUT_MS     30000
/* Statements that move a whole import (commit, revert: up to 2,000,000 rows;
 * ~19 s per million on a quiet 2-core machine).  nginx/routes gives those
 * functions a read timeout above it (kind json-long). */
#define SI_DB_BULK_TIMEOUT_MS      300000
/* A read connection (SMARTIMPORT_DATABASE_READ_URL) that could not be had is
 * left alone this long (its reads go to the primary) before it is tried again,
 * so a standby that is down costs one connect attempt per worker per period,
 * not one per request. */
#define SI_DB_READ_RETRY_MS        5000
#define SI_HEALTH_TIMEOUT_MS       1500
/* A transaction PostgreSQL aborted for a deadlock or serialization failure
 * is run again (si_db_retry.h): at most this many attempts in all, pausing
 * 1..2 x the back-off before the second and twice that before the third. */
#define SI_DB_TX_ATTEMPTS          3
#define SI_DB_TX_BACKOFF_MS        25

#define SI_LOG_LINE_MAX            4096
#define SI_LOG_PATH_MAX            4096    /* SMARTIMPORT_LOG_FILE, bytes with the NUL */
/* Buffered log lines (si_log.h): bytes held at most, and the default and
 * largest SMARTIMPORT_LOG_FLUSH_MS (0 = every line written at once). */
#define SI_LOG_BUFFER              65536
#define SI_LOG_FLUSH_MS_DEFAULT    200
#define SI_LOG_FLUSH_MS_MAX        10000
#define SI_ERROR_MESSAGE_MAX       256
#define SI_ERROR_DETAIL_MAX        512

/* Outbound HTTP (si_http.h): the defaults of si_http_request_init(); each
 * caller sets its own from its settings (OPENAI_TIMEOUT_MS,
 * WORKFLOW_HTTP_TIMEOUT_MS...). */
#define SI_HTTP_CONNECT_TIMEOUT_MS 2000
#define SI_HTTP_TIMEOUT_MS         10000            /* one attempt */
#define SI_HTTP_DEADLINE_MS        30000            /* the whole call, pauses included */
#define SI_HTTP_ATTEMPTS           3
#define SI_HTTP_ATTEMPTS_MAX       10
#define SI_HTTP_BACKOFF_MS         200
#define SI_HTTP_BACKOFF_MAX_MS     5000
#define SI_HTTP_RETRY_AFTER_MAX_MS 30000
#define SI_HTTP_MAX_RESPONSE       (1024UL * 1024)  /* bytes of a response body kept */
#define SI_HTTP_MIN_ATTEMPT_MS     50               /* no attempt starts with less time left */
#define SI_HTTP_MAX_HEADER_LINE    8192             /* one request header line "Name: value" */

#define SI_EVENT_PAYLOAD_MAX       4096   /* serialised bytes */
#define SI_EVENT_STRING_MAX        64     /* a string inside an event payload */

#endif
