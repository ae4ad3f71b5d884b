/* scrub.h: removes what must never reach a log from one nginx error-log message.
 *
 * nginx appends the request line and the Referer to its error messages
 * (`request: "GET /path?access_token=... HTTP/1.1"`, `referrer: "..."`), so a query
 * string (tokens for EventSource, ids, anything a client put there) would be written
 * to disk with every warning.  logscrub_message() keeps the path and drops the query
 * of both, and then, anywhere in the message, replaces a bearer token, a JWT-shaped
 * string and an access_token=... value.  When it cannot tell where a query ends it
 * drops more, never less. */
#ifndef LOGSCRUB_SCRUB_H
#define LOGSCRUB_SCRUB_H

#include <stddef.h>

/* Writes the scrubbed form of msg[0..n) into out (cap bytes, NUL-terminated, cut to
 * fit).  Returns the length written. */
size_t logscrub_message(const char *msg, size_t n, char *out, size_t cap);

#endif
