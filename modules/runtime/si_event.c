/* si_event.c: writing import events (see si_event.h). */
#include "si_event.h"
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
