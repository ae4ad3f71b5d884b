/* si_response.c: building JSON responses and the error shape. */
#include "si_response.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void si_response_init(struct si_response *resp)
{
    si_buf_init(&resp->body, SI_MAX_RESPONSE);
    si_response_reset(resp);
}

void si_response_reset(struct si_response *resp)
{
    resp->status = 500;
    resp->content_type = "application/json";
    si_buf_reset(&resp->body);
    resp->headers[0] = '\0';
    resp->headers_len = 0;
    resp->error_code = NULL;
    resp->log_detail[0] = '\0';
}

void si_response_cleanup(struct si_response *resp)
{
    si_buf_cleanup(&resp->body);
}

int si_response_header(struct si_response *resp, const char *name, const char *value)
{
    if (strpbrk(name, "\r\n:") != NULL || strpbrk(value, "\r\n") != NULL)
        return -1;
    size_t room = sizeof resp->headers - resp->headers_len;
    int n = snprintf(resp->headers + resp->headers_len, room, "%s: %s\r\n", name, value);
    if (n < 0 || (size_t)n >= room) {
        resp->headers[resp->headers_len] = '\0';
        return -1;
    }
    resp->headers_len += (size_t)n;
    return 0;
}

int si_http_head(char *out, size_t cap, int status, const char *content_type, long long content_length,
                 const char *extra_headers)
{
    char length[48] = "";
    if (content_length >= 0)
        snprintf(length, sizeof length, "Content-Length: %lld\r\n", content_length);
    int n = snprintf(out, cap, "Status: %d %s\r\nContent-Type: %s\r\n%sCache-Control: no-store\r\n%s\r\n",
                     status, si_status_text(status), content_type, length, extra_headers ? extra_headers : "");
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

int si_response_head(const struct si_response *resp, char *out, size_t cap)
{
    return si_http_head(out, cap, resp->status, resp->content_type, (long long)resp->body.len, resp->headers);
}

static int dump_cb(const char *buf, size_t size, void *data)
{
    return si_buf_append(data, buf, size) == 0 ? 0 : -1;
}

int si_response_json(struct si_response *resp, int status, const json_t *obj)
{
    si_buf_reset(&resp->body);
    if (json_dump_callback(obj, dump_cb, &resp->body, JSON_COMPACT | JSON_PRESERVE_ORDER) != 0) {
        si_buf_reset(&resp->body);
        si_buf_appends(&resp->body,
                       "{\"ok\":false,\"error\":\"response too large\",\"code\":\"internal\"}");
        resp->status = 500;
        resp->error_code = "internal";
        return -1;
    }
    resp->status = status;
    resp->content_type = "application/json";
    return 0;
}

json_t *si_error_json(int status, const char *code, const char *message)
{
    (void)status;
    return json_pack("{s:b, s:s, s:s}", "ok", 0, "error", message ? message : "error",
                     "code", code ? code : "internal");
}

static int set_error(struct si_response *resp, int status, const char *code, const char *message)
{
    if (status < 400 || status > 599)
        status = 500;
    json_t *obj = si_error_json(status, code, message);
    if (obj == NULL || si_response_json(resp, status, obj) != 0) {
        si_buf_reset(&resp->body);
        si_buf_appends(&resp->body, "{\"ok\":false,\"error\":\"internal error\",\"code\":\"internal\"}");
        resp->status = 500;
    }
    json_decref(obj);
    resp->error_code = code ? code : "internal";
    return -1;
}

int si_response_error(struct si_response *resp, int status, const char *code, const char *fmt, ...)
{
    char message[SI_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return set_error(resp, status, code, message);
}

int si_response_from_error(struct si_response *resp, const struct si_error *err)
{
    if (err == NULL || err->status == 0)
        return set_error(resp, 500, "internal", "internal error");
    snprintf(resp->log_detail, sizeof resp->log_detail, "%s", err->detail);
    return set_error(resp, err->status, err->code, err->message);
}
