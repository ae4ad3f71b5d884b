/* si_error.h: the one error type of smartimport.
 *
 * An error carries what each audience needs: the HTTP status and a stable
 * machine code for the client, a short human message that is safe to show,
 * and a detail that only goes to the log (library text, SQLSTATE, ...).
 * Functions return 0 on success or -1 after filling a struct si_error. */
#ifndef SI_ERROR_H
#define SI_ERROR_H

#include "si_limits.h"

struct si_error {
    int status;                               /* HTTP status, 0 = none */
    const char *code;                         /* stable, e.g. "db_unavailable" */
    char message[SI_ERROR_MESSAGE_MAX];       /* shown to the client */
    char detail[SI_ERROR_DETAIL_MAX];         /* log only */
    char sqlstate[6];                         /* set for database errors, else "" */
};

/* Fills err (if not NULL) and returns -1, so callers can `return si_error_set(...)`. */
int si_error_set(struct si_error *err, int status, const char *code,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Appends log-only detail to an error already set. */
void si_error_detail(struct si_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void si_error_clear(struct si_error *err);

/* Maps a PostgreSQL SQLSTATE to the HTTP status and machine code that a
 * client should see (unique violation -> 409, connection failure -> 503, ...). */
void si_error_from_sqlstate(const char *sqlstate, int *out_status, const char **out_code);

/* The reason phrase for a status ("Not Found"). */
const char *si_status_text(int status);

#endif
