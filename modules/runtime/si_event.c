/* si_event.c: writing import events, and sending live (non-durable) ones
 * (see si_event.h). */
#include "si_event.h"
#include "si_clock.h"
#include "si_limits.h"
#include "si_uuid.h"

#include <stdlib.h>
#include <string.h>

bool si_event_type_valid(const char *type)
{
    if (type == NULL)
        return false;
    int parts = 1;
    size_t seg = 0;
    for (const char *p = type; *p; p++) {
        if (*p == ':') {
            if (seg == 0)
                return false;
            parts++;
            seg = 0;
        } else if ((*p >= 'a' && *p <= 'z') || *p == '_') {
            seg++;
        } else {
            return false;
        }
    }
    return seg > 0 && parts >= 2 && parts <= 4 && strlen(type) <= SI_EVENT_STRING_MAX;
}

static bool short_code(const char *s)
{
    size_t n = strlen(s), digits = 0;
    if (n > SI_EVENT_STRING_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == ':' || c == '-';
        if (!ok)
            return false;
        digits = (c >= '0' && c <= '9') ? digits + 1 : 0;
        if (digits >= 6)
            return false;
    }
    return true;
}

static bool value_safe(const json_t *v, int depth)
{
    if (depth > 4)
        return false;
    switch (json_typeof(v)) {
    case JSON_INTEGER:
    case JSON_REAL:
    case JSON_TRUE:
    case JSON_FALSE:
    case JSON_NULL:
        return true;
    case JSON_STRING: {
        const char *s = json_string_value(v);
        return si_uuid_valid(s) || short_code(s);
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
            if (!value_safe(item, depth + 1))
                return false;
        return true;
    }
    case JSON_OBJECT: {
        const char *key;
        json_t *item;
        json_object_foreach((json_t *)v, key, item)
            if (!short_code(key) || !value_safe(item, depth + 1))
                return false;
        return true;
    }
    }
    return false;
}

bool si_event_payload_safe(const json_t *payload)
{
    return payload == NULL || (json_is_object(payload) && value_safe(payload, 0));
}

static int insert_event(struct si_db *db, const char *user_id, const char *import_id,
                        const char *event_type, const json_t *payload, long long *out_id,
                        struct si_error *err)
{
    if (!si_uuid_valid(user_id) || (import_id != NULL && !si_uuid_valid(import_id)))
        return si_error_set(err, 500, "internal", "event ids must be UUIDs");
    if (!si_event_type_valid(event_type))
        return si_error_set(err, 500, "internal", "invalid event type");
    if (!si_event_payload_safe(payload))
        return si_error_set(err, 500, "internal", "event payload may hold ids, counts and timings only");
    char *text = payload ? json_dumps(payload, JSON_COMPACT) : strdup("{}");
    if (text == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    int rc = -1;
    if (strlen(text) > SI_EVENT_PAYLOAD_MAX) {
        si_error_set(err, 500, "internal", "event payload too large");
        goto out;
    }
    const char *params[] = { user_id, import_id, event_type, text };
    PGresult *res = si_db_exec(db,
        "INSERT INTO import_events (user_id, import_id, event_type, payload) "
        "VALUES ($1::uuid, $2::uuid, $3, $4::jsonb) RETURNING id", 4, params, err);
    if (res == NULL)
        goto out;
    rc = (out_id == NULL || si_db_get_int64(res, 0, 0, out_id) == 0) ? 0 : si_db_bad_value(err, "import_events.id");
    PQclear(res);
out:
    free(text);
    return rc;
}

static bool is_error_type(const char *type)
{
    size_t n = type ? strlen(type) : 0;
    return n > 6 && strcmp(type + n - 6, ":error") == 0;
}

int si_event_record(struct si_db *db, const char *user_id, const char *import_id,
                    const char *event_type, json_t *payload, long long *out_id,
                    struct si_error *err)
{
    int rc;
    if (payload == NULL)
        rc = si_error_set(err, 500, "internal", "out of memory");
    else if (is_error_type(event_type))
        rc = si_error_set(err, 500, "internal", "error events go through si_event_record_error");
    else if (!si_db_in_transaction(db))
        rc = si_error_set(err, 500, "internal", "events are recorded inside the change's transaction");
    else
        rc = insert_event(db, user_id, import_id, event_type, payload, out_id, err);
    json_decref(payload);
    return rc;
}

json_t *si_event_error_payload(const char *import_id, const struct si_error *failure, json_t *extra)
{
    json_t *p = json_pack("{s:s, s:i}", "code", failure->code != NULL ? failure->code : "internal",
                          "status", failure->status);
    if (p != NULL && import_id != NULL && json_object_set_new(p, "importId", json_string(import_id)) != 0) {
        json_decref(p);
        p = NULL;
    }
    if (p != NULL && extra != NULL && json_object_update(p, extra) != 0) {
        json_decref(p);
        p = NULL;
    }
    json_decref(extra);
    return p;
}

int si_event_record_error(struct si_db *db, const char *user_id, const char *import_id,
                          const char *event_type, const struct si_error *failure, json_t *extra,
                          struct si_error *err)
{
    json_t *payload = si_event_error_payload(import_id, failure, extra);
    int rc = -1;
    if (payload == NULL) {
        si_error_set(err, 500, "internal", "out of memory");
        goto out;
    }
    if (!is_error_type(event_type)) {
        si_error_set(err, 500, "internal", "si_event_record_error takes *:error events only");
        goto out;
    }
    si_db_rollback(db);
    if (si_db_begin(db, err) != 0)
        goto out;
    if (insert_event(db, user_id, import_id, event_type, payload, NULL, err) != 0) {
        si_db_rollback(db);
        goto out;
    }
    rc = si_db_commit(db, err);
out:
    json_decref(payload);
    return rc;
}

/* --- live events ------------------------------------------------------------- */

char *si_event_live_message(const char *user_id, const char *import_id, const char *event_type,
                            const json_t *payload)
{
    char at[SI_UTC_TIMESTAMP_SIZE];
    si_utc_timestamp(at, sizeof at);
    json_t *m = json_pack("{s:s, s:s?, s:s, s:O, s:s}", "user_id", user_id, "import_id", import_id,
                          "type", event_type, "payload", payload, "at", at);
    if (m == NULL)
        return NULL;
    if (import_id == NULL && json_object_set_new(m, "import_id", json_null()) != 0) {
        json_decref(m);
        return NULL;
    }
    char *text = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    return text;
}

int si_event_notify(struct si_db *db, const char *user_id, const char *import_id,
                    const char *event_type, json_t *payload, struct si_error *err)
{
    int rc = -1;
    char *text = NULL;
    if (payload == NULL) {
        si_error_set(err, 500, "internal", "out of memory");
        goto out;
    }
    if (si_db_in_transaction(db)) {
        si_error_set(err, 500, "internal", "live events go out from a connection outside any transaction");
        goto out;
    }
    if (!si_uuid_valid(user_id) || (import_id != NULL && !si_uuid_valid(import_id))) {
        si_error_set(err, 500, "internal", "event ids must be UUIDs");
        goto out;
    }
    if (!si_event_type_valid(event_type) || is_error_type(event_type)) {
        si_error_set(err, 500, "internal", "invalid live event type");
        goto out;
    }
    if (!si_event_payload_safe(payload)) {
        si_error_set(err, 500, "internal", "event payload may hold ids, counts and timings only");
        goto out;
    }
    text = si_event_live_message(user_id, import_id, event_type, payload);
    if (text == NULL) {
        si_error_set(err, 500, "internal", "out of memory");
        goto out;
    }
    if (strlen(text) > SI_EVENT_PAYLOAD_MAX) {
        si_error_set(err, 500, "internal", "event payload too large");
        goto out;
    }
    const char *params[] = { SI_EVENT_LIVE_CHANNEL, text };
    PGresult *res = si_db_exec_timeout(db, "SELECT pg_notify($1, $2)", 2, params, SI_EVENT_NOTIFY_TIMEOUT_MS, err);
    if (res == NULL)
        goto out;
    PQclear(res);
    rc = 0;
out:
    free(text);
    json_decref(payload);
    return rc;
}

void si_event_progress_start(struct si_event_throttle *t, double now_ms)
{
    t->last_ms = now_ms;
    t->last_percent = 0;
    t->last_count = 0;
}

bool si_event_progress_due(struct si_event_throttle *t, double now_ms, int percent, long long count,
                           long long min_step)
{
    if (now_ms - t->last_ms < SI_EVENT_PROGRESS_MIN_MS)
        return false;
    bool moved = (percent >= 0 && percent >= t->last_percent + SI_EVENT_PROGRESS_MIN_PERCENT) ||
                 (min_step > 0 && count - t->last_count >= min_step);
    if (!moved)
        return false;
    t->last_ms = now_ms;
    if (percent >= 0)
        t->last_percent = percent;
    t->last_count = count;
    return true;
}
