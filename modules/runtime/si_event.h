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
 * so nothing that looks like an account number) in objects and arrays. */
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

#endif
