/* si_error.c: building errors and the one SQLSTATE -> HTTP table. */
#include "si_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int si_error_set(struct si_error *err, int status, const char *code, const char *fmt, ...)
{
    if (err == NULL)
        return -1;
    err->status = status;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    err->detail[0] = '\0';
    err->sqlstate[0] = '\0';
    return -1;
}

void si_error_detail(struct si_error *err, const char *fmt, ...)
{
    if (err == NULL)
        return;
    size_t used = strlen(err->detail);
    if (used + 1 >= sizeof err->detail)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->detail + used, sizeof err->detail - used, fmt, ap);
    va_end(ap);
}

void si_error_clear(struct si_error *err)
{
    if (err == NULL)
        return;
    err->status = 0;
    err->code = NULL;
    err->message[0] = '\0';
    err->detail[0] = '\0';
    err->sqlstate[0] = '\0';
}

/* Matched in order: a full SQLSTATE first, then its two-character class. */
static const struct {
    const char *state;
    int status;
    const char *code;
} sqlstate_map[] = {
    { "23505", 409, "conflict" },             /* unique_violation */
    { "23503", 409, "conflict" },             /* foreign_key_violation */
    { "40001", 503, "retry" },                /* serialization_failure */
    { "40P01", 503, "retry" },                /* deadlock_detected */
    { "55P03", 503, "retry" },                /* lock_not_available */
    { "57014", 504, "db_timeout" },           /* query_canceled (statement_timeout) */
    { "25006", 503, "db_unavailable" },       /* read_only_sql_transaction: a standby (si_db drops it) */
    { "57P01", 503, "db_unavailable" },       /* admin_shutdown */
    { "57P02", 503, "db_unavailable" },       /* crash_shutdown */
    { "57P03", 503, "db_unavailable" },       /* cannot_connect_now */
    { "08", 503, "db_unavailable" },          /* connection exception */
    { "53", 503, "db_unavailable" },          /* insufficient resources */
    { "22", 400, "invalid_input" },           /* data exception */
    { "23", 400, "invalid_input" },           /* other integrity violations */
};

void si_error_from_sqlstate(const char *sqlstate, int *out_status, const char **out_code)
{
    *out_status = 500;
    *out_code = "db_error";
    if (sqlstate == NULL || strlen(sqlstate) != 5)
        return;
    for (size_t i = 0; i < sizeof sqlstate_map / sizeof sqlstate_map[0]; i++) {
        size_t n = strlen(sqlstate_map[i].state);
        if (strncmp(sqlstate, sqlstate_map[i].state, n) == 0) {
            *out_status = sqlstate_map[i].status;
            *out_code = sqlstate_map[i].code;
            return;
        }
    }
}

const char *si_status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default:  return "Unknown";
    }
}
