/* progress.c: live progress events of one upload (see progress.h). */
#include "progress.h"
#include "si_clock.h"
#include "si_log.h"

#include <string.h>
#include <sys/stat.h>

void progress_init(struct progress *p, const struct si_config *config, double t0_ms)
{
    memset(p, 0, sizeof *p);
    p->config = config;
    p->body_total = -1;
    p->text_size = -1;
    si_event_progress_start(&p->upload, t0_ms);
    si_event_progress_start(&p->parse, t0_ms);
}

void progress_set_user(struct progress *p, const char *user)
{
    if (user != NULL && si_uuid_valid(user))
        snprintf(p->user, sizeof p->user, "%s", user);
}

int progress_upload_id(struct progress *p, const struct si_request *req, const json_t *fields,
                       struct si_error *err)
{
    const char *id = si_request_header(req, "x-upload-id");
    const json_t *field = json_object_get(fields, "uploadId");
    if (id == NULL && field != NULL && !json_is_null(field)) {
        id = json_string_value(field);
        if (id == NULL)
            return si_error_set(err, 400, "bad_field", "uploadId must be a UUID");
    }
    if (id == NULL)
        id = si_request_param(req, "uploadId");
    if (id == NULL)
        return 0;
    if (!si_uuid_valid(id))
        return si_error_set(err, 400, "bad_field", "uploadId (X-Upload-Id) must be a UUID");
    snprintf(p->upload_id, sizeof p->upload_id, "%s", id);
    return 0;
}

/* Sends one event on the second connection (opened now if need be). */
static void send_event(struct progress *p, const char *import_id, const char *type, json_t *payload)
{
    if (p->off || p->user[0] == '\0' || p->config == NULL || p->config->database_url == NULL) {
        json_decref(payload);
        return;
    }
    if (payload != NULL && p->upload_id[0] != '\0' &&
        json_object_set_new(payload, "uploadId", json_string(p->upload_id)) != 0) {
        json_decref(payload);
        payload = NULL;
    }
    if (!p->db_open) {
        si_db_init(&p->db, p->config->database_url, "ingest-statement-progress",
                   p->config->db_connect_timeout_ms < PROGRESS_CONNECT_TIMEOUT_MS ? p->config->db_connect_timeout_ms
                                                                                  : PROGRESS_CONNECT_TIMEOUT_MS,
                   SI_EVENT_NOTIFY_TIMEOUT_MS);
        p->db_open = true;
    }
    struct si_error err;
    si_error_clear(&err);
    if (si_event_notify(&p->db, p->user, import_id, type, payload, &err) != 0) {
        p->off = true;
        si_log(SI_LOG_WARN, "progress events off for this upload",
               json_pack("{s:s, s:s, s:s}", "type", type, "code", err.code ? err.code : "?", "detail", err.detail));
        return;
    }
    p->sent++;
}

static int percent_of(long long done, long long total)
{
    if (total <= 0 || done <= 0)
        return total > 0 ? 0 : -1;
    if (done >= total)
        return 100;
    return (int)((double)done * 100.0 / (double)total);
}

static long counting_read(void *src, char *buf, size_t n)
{
    struct progress *p = src;
    long got = p->inner_read(p->inner_src, buf, n);
    if (got <= 0)
        return got;
    p->body_read += got;
    if (p->off || p->user[0] == '\0')
        return got;
    int percent = percent_of(p->body_read, p->body_total);
    if (si_event_progress_due(&p->upload, si_clock_ms(), percent, p->body_read, PROGRESS_BYTES_STEP)) {
        json_t *payload = p->body_total > 0
            ? json_pack("{s:I, s:I, s:i}", "bytes", (json_int_t)p->body_read, "totalBytes",
                        (json_int_t)p->body_total, "percent", percent)
            : json_pack("{s:I}", "bytes", (json_int_t)p->body_read);
        send_event(p, NULL, "import:upload:progress", payload);
    }
    return got;
}

void progress_watch_body(struct progress *p, struct si_request *req)
{
    if (req->body_read == NULL || req->body_read == counting_read)
        return;
    p->req = req;
    p->inner_read = req->body_read;
    p->inner_src = req->body_src;
    p->body_total = req->content_length > 0 ? req->content_length : -1;
    req->body_read = counting_read;
    req->body_src = p;
}

void progress_parse_start(struct progress *p, FILE *text, double now_ms)
{
    struct stat st;
    p->text = text;
    p->text_size = (text != NULL && fstat(fileno(text), &st) == 0 && S_ISREG(st.st_mode)) ? (long long)st.st_size : -1;
    si_event_progress_start(&p->parse, now_ms);
}

void progress_rows(struct progress *p, const char *import_id, long long rows)
{
    if (p->off || p->user[0] == '\0' || import_id == NULL || rows % PROGRESS_CHECK_ROWS != 0)
        return;
    long pos = p->text != NULL ? ftell(p->text) : -1;
    int percent = pos >= 0 ? percent_of(pos, p->text_size) : -1;
    if (!si_event_progress_due(&p->parse, si_clock_ms(), percent, rows, PROGRESS_ROWS_STEP))
        return;
    /* rowsParsed: the same count under seed 001's name */
    json_t *payload = json_pack("{s:s, s:I, s:I}", "importId", import_id, "rows", (json_int_t)rows,
                                "rowsParsed", (json_int_t)rows);
    if (payload != NULL && percent >= 0)
        json_object_set_new(payload, "percent", json_integer(percent));
    send_event(p, import_id, "import:parse:progress", payload);
}

void progress_cleanup(struct progress *p)
{
    if (p->req != NULL && p->req->body_read == counting_read) {
        p->req->body_read = p->inner_read;
        p->req->body_src = p->inner_src;
    }
    p->req = NULL;
    if (p->db_open)
        si_db_cleanup(&p->db);
    p->db_open = false;
}
