/* events_format.c: event rows -> the JSON object clients get, and SSE frames
 * (live events' frames too: ev_live_frame).
 *
 * The payload is sent as PostgreSQL wrote it (jsonb::text is compact enough
 * and always valid JSON), so a row is framed without parsing it.  What goes
 * into a frame unparsed is checked first: an SSE `data:` or `event:` line
 * must never hold a line break, so a row whose type or payload could carry
 * one is refused (the schema's CHECK and jsonb's output make that
 * impossible; the check keeps it so). */
#include "events.h"
#include "si_event.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool timestamp_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 20 || n > 40)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strchr("0123456789-:.TZ", s[i]) == NULL)
            return false;
    return true;
}

static bool payload_ok(const char *s)
{
    return s[0] == '{' && strpbrk(s, "\r\n") == NULL && strlen(s) <= 2 * SI_EVENT_PAYLOAD_MAX;
}

int ev_row_read(const PGresult *res, int i, struct ev_row *out)
{
    if (PQnfields(res) < 6 || i < 0 || i >= PQntuples(res))
        return -1;
    long long id = 0;
    if (si_db_get_int64(res, i, 0, &id) != 0 || id <= 0)
        return -1;
    out->id = id;
    out->user_id = PQgetvalue(res, i, 1);
    out->import_id = si_db_get_text(res, i, 2);
    out->type = PQgetvalue(res, i, 3);
    out->payload = PQgetvalue(res, i, 4);
    out->created_at = PQgetvalue(res, i, 5);
    if (!si_uuid_valid(out->user_id) || (out->import_id != NULL && !si_uuid_valid(out->import_id)) ||
        !si_event_type_valid(out->type) || !payload_ok(out->payload) || !timestamp_ok(out->created_at))
        return -1;
    return 0;
}

int ev_event_json(struct si_buf *out, const struct ev_row *row)
{
    /* Every string here was checked by ev_row_read: no quotes, backslashes or controls. */
    if (row->import_id != NULL)
        return si_buf_printf(out, "{\"id\":%lld,\"importId\":\"%s\",\"type\":\"%s\",\"payload\":%s,\"createdAt\":\"%s\"}",
                             row->id, row->import_id, row->type, row->payload, row->created_at);
    return si_buf_printf(out, "{\"id\":%lld,\"importId\":null,\"type\":\"%s\",\"payload\":%s,\"createdAt\":\"%s\"}",
                         row->id, row->type, row->payload, row->created_at);
}

int ev_sse_frame(struct si_buf *out, long long id_line, const struct ev_row *row)
{
    size_t before = out->len;
    if (si_buf_printf(out, "id: %lld\nevent: %s\ndata: ", id_line, row->type) != 0 ||
        ev_event_json(out, row) != 0 || si_buf_appends(out, "\n\n") != 0) {
        out->len = before;
        if (out->data != NULL)
            out->data[before] = '\0';
        return -1;
    }
    return 0;
}

int ev_live_frame(struct si_buf *out, const char *type, const char *import_id, const char *payload,
                  const char *created_at)
{
    if (!si_event_type_valid(type) || (import_id != NULL && !si_uuid_valid(import_id)) || !payload_ok(payload) ||
        !timestamp_ok(created_at))
        return -1;
    size_t before = out->len;
    int rc = import_id != NULL
        ? si_buf_printf(out, "event: %s\ndata: {\"id\":null,\"importId\":\"%s\",\"type\":\"%s\",\"payload\":%s,"
                        "\"createdAt\":\"%s\"}\n\n", type, import_id, type, payload, created_at)
        : si_buf_printf(out, "event: %s\ndata: {\"id\":null,\"importId\":null,\"type\":\"%s\",\"payload\":%s,"
                        "\"createdAt\":\"%s\"}\n\n", type, type, payload, created_at);
    if (rc != 0) {
        out->len = before;
        if (out->data != NULL)
            out->data[before] = '\0';
        return -1;
    }
    return 0;
}

int ev_parse_cursor(const char *s, long long *out)
{
    if (s == NULL || *s == '\0' || strlen(s) > 19)
        return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0)
        return -1;
    *out = v;
    return 0;
}
