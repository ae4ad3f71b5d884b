/* si_event.h: durable import events, written with the change they describe.
 *
 * si_event_record() inserts into import_events inside the caller's open
 * transaction: if the transaction rolls back, so does the event, and the
 * NOTIFY raised by the table's trigger is only delivered on commit.  So an
 * event never claims what did not happen.  Errors are the exception:
 * si_event_record_error() ends (rolls back) any open transaction and writes
 * the `*:error` event in a transaction of its own, so it survives.
 *
 * Names follow {domain}:{action}:{state} (import:commit:complete).
 * Payloads hold ids, counts and timings only; si_event_payload_safe() is
 * the check, applied to every payload before it is written: numbers,
 * booleans, null, UUIDs and short codes ([a-z0-9_.:-], no run of 6+ digits,
 * so nothing that looks like an account number) in objects and arrays.
 *
 * Live (non-durable) events are the exception to "written with the change":
 * progress while an upload is spooled and a file is parsed
 * (import:upload:progress, import:parse:progress).  They describe work in
 * flight inside a transaction that has not committed, so they cannot wait
 * for it: si_event_notify() sends them with pg_notify on the channel
 * SI_EVENT_LIVE_CHANNEL from a connection that is NOT in a transaction (a
 * second one), so they reach the import-events responder at once.  They are
 * never stored: no id, no replay, no Last-Event-ID resume; a subscriber
 * that is not connected when one is sent never sees it.  Same type rules,
 * same payload check, same size bound as durable events.
 * si_event_progress_due() is the rate limit every sender applies. */
#ifndef SI_EVENT_H
#define SI_EVENT_H

#include <stdbool.h>
#include <jansson.h>

#include "si_db.h"
#include "si_error.h"

/* import_id may be NULL (workflow events).  payload is a JSON object and is
 * TAKEN: si_event_record json_decref's it on every path, so a caller passes
 * json_pack(...) straight in; NULL (what a json_pack that ran out of memory
 * returns) is a 500 "out of memory".  out_id (may be NULL) receives the
 * event's id. */
int si_event_record(struct si_db *db, const char *user_id, const char *import_id,
                    const char *event_type, json_t *payload, long long *out_id,
                    struct si_error *err);

/* The `*:error` event of a failure, the one shape every error event has:
 * {"code": failure's code ("internal" when none), "status": its HTTP status},
 * plus "importId" when import_id is not NULL, plus the members of extra
 * (may be NULL; TAKEN, e.g. {"handoffId": ...}).  Rolls back any open
 * transaction first and commits the event on its own.  0, or -1 with err
 * (the caller logs it: the failure it describes is already answered). */
int si_event_record_error(struct si_db *db, const char *user_id, const char *import_id,
                          const char *event_type, const struct si_error *failure, json_t *extra,
                          struct si_error *err);

/* The payload si_event_record_error writes (a new reference, NULL when out
 * of memory); extra is TAKEN. */
json_t *si_event_error_payload(const char *import_id, const struct si_error *failure, json_t *extra);

/* True when type is domain:action[:state] in lower case. */
bool si_event_type_valid(const char *type);

/* True when payload holds only ids, counts, timings and short codes. */
bool si_event_payload_safe(const json_t *payload);

/* --- live events (not stored) --------------------------------------------- */

#define SI_EVENT_LIVE_CHANNEL      "import_progress"
#define SI_EVENT_NOTIFY_TIMEOUT_MS 500     /* the deadline of one pg_notify */
#define SI_EVENT_PROGRESS_MIN_MS   250     /* at most one progress event per 250 ms ... */
#define SI_EVENT_PROGRESS_MIN_PERCENT 5    /* ... and only after 5 points more, or the sender's step */

/* The notification's text (a new string to free, NULL when out of memory):
 * {"user_id","import_id"|null,"type","payload","at"} with at = now in UTC
 * ("2024-05-01T10:00:00.123Z"). */
char *si_event_live_message(const char *user_id, const char *import_id, const char *event_type,
                            const json_t *payload);

/* Sends a live event: pg_notify(SI_EVENT_LIVE_CHANNEL, ...) on db, which
 * must not be in a transaction (a NOTIFY in one waits for its commit), with
 * the deadline SI_EVENT_NOTIFY_TIMEOUT_MS.  import_id may be NULL; payload
 * is TAKEN (as si_event_record's) and must pass si_event_payload_safe.
 * 0, or -1 with err.  The caller treats a failure as lost progress, never as
 * its own failure. */
int si_event_notify(struct si_db *db, const char *user_id, const char *import_id,
                    const char *event_type, json_t *payload, struct si_error *err);

/* The rate limit of progress events.  Zero it, then si_event_progress_start
 * with the time the work started (si_clock_ms()). */
struct si_event_throttle {
    double last_ms;          /* when the last one went out (or the work started) */
    int last_percent;        /* 0 at the start */
    long long last_count;
};
void si_event_progress_start(struct si_event_throttle *t, double now_ms);
/* True (and the throttle moves on) when an event is due: at least
 * SI_EVENT_PROGRESS_MIN_MS after the last one (the first: after the start),
 * and either percent (-1 = unknown) is SI_EVENT_PROGRESS_MIN_PERCENT points
 * past the last (the start counts as 0) or count is min_step (> 0) past it. */
bool si_event_progress_due(struct si_event_throttle *t, double now_ms, int percent, long long count,
                           long long min_step);

#endif
