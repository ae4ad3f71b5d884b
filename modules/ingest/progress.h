/* progress.h: import:upload:progress and import:parse:progress of one upload.
 *
 * Live events (si_event.h): sent with pg_notify from a second connection of
 * this request, so they leave while the import's own transaction (where its
 * row and its staged rows are still invisible) is open; never stored, never
 * replayed.  The second connection is opened only when the first event is
 * due (the work lasted SI_EVENT_PROGRESS_MIN_MS), so a small upload costs
 * nothing, and closed when the request ends.  A failure to connect or to
 * send turns progress off for the rest of the request (one warning in the
 * log) and never fails the upload.
 *
 * Who gets them: the caller's import-events streams.  The client learns the
 * importId only from the answer (and from the events: the import row exists
 * only inside the ingest transaction until it commits), so it may name the
 * upload itself: a UUID in the X-Upload-Id header (or an `uploadId` field:
 * JSON, multipart or query), carried by every progress event as `uploadId`.
 *
 *   import:upload:progress {uploadId?, bytes, totalBytes?, percent?}
 *       bytes of the request body read so far; totalBytes and percent when
 *       the body has a Content-Length.  Only when the caller is known before
 *       the body is read (a bearer token; in trust-body mode the user is in
 *       the body).
 *   import:parse:progress {importId, uploadId?, rows, rowsParsed, percent}
 *       rows staged so far (rowsParsed: the same, seed 001's name); percent
 *       of the (UTF-8) file's bytes the parser has read.
 *
 * Rate: at most one event per SI_EVENT_PROGRESS_MIN_MS, and only after
 * SI_EVENT_PROGRESS_MIN_PERCENT more, or PROGRESS_BYTES_STEP bytes /
 * PROGRESS_ROWS_STEP rows more; the parse hook looks at the clock every
 * PROGRESS_CHECK_ROWS rows. */
#ifndef PROGRESS_H
#define PROGRESS_H

#include <stdbool.h>
#include <stdio.h>
#include <jansson.h>

#include "si_event.h"
#include "si_function.h"
#include "si_uuid.h"

#define PROGRESS_CHECK_ROWS        1000          /* rows between two looks at the clock */
#define PROGRESS_ROWS_STEP         10000         /* or this many more rows */
#define PROGRESS_BYTES_STEP        (1024 * 1024) /* or this many more bytes (no Content-Length) */
#define PROGRESS_CONNECT_TIMEOUT_MS 1000         /* the second connection's connect deadline */

struct progress {
    const struct si_config *config;
    char user[SI_UUID_LEN + 1];        /* "" until the caller is known: nothing is sent */
    char upload_id[SI_UUID_LEN + 1];   /* "" when the client named none */
    struct si_db db;                   /* the second connection, opened on the first event */
    bool db_open;
    bool off;                          /* a failure: no more events for this request */
    long long sent;                    /* events sent */
    /* the upload: the request's body reader, wrapped */
    struct si_request *req;            /* whose reader is wrapped; NULL when none */
    long (*inner_read)(void *src, char *buf, size_t n);
    void *inner_src;
    long long body_read, body_total;   /* body_total -1 when unknown */
    struct si_event_throttle upload;
    /* the parse */
    FILE *text;
    long long text_size;               /* -1 when unknown */
    struct si_event_throttle parse;
};

void progress_init(struct progress *p, const struct si_config *config, double t0_ms);
/* The caller's id (a UUID); events are sent only once it is set. */
void progress_set_user(struct progress *p, const char *user);
/* The client's name for the upload: X-Upload-Id, else fields' uploadId (may
 * be NULL), else the query's.  0, or -1 with a 400 bad_field when it is not
 * a UUID. */
int progress_upload_id(struct progress *p, const struct si_request *req, const json_t *fields,
                       struct si_error *err);
/* Counts the body as it is read (req's reader is wrapped until progress_cleanup). */
void progress_watch_body(struct progress *p, struct si_request *req);
/* The parse starts reading text (its size is the 100 %). */
void progress_parse_start(struct progress *p, FILE *text, double now_ms);
/* rows staged so far of import_id: sends import:parse:progress when due. */
void progress_rows(struct progress *p, const char *import_id, long long rows);
/* Gives req its own body reader back and closes the second connection. */
void progress_cleanup(struct progress *p);

#endif
