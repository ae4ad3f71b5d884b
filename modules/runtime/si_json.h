/* si_json.h: JSON request bodies and small field helpers over jansson. */
#ifndef SI_JSON_H
#define SI_JSON_H

#include <jansson.h>

#include "si_buf.h"
#include "si_error.h"
#include "si_request.h"

/* Reads the request body (bounded by the request's max_body) and parses it
 * as a JSON object.  An empty body is an empty object.  Errors: 400
 * invalid_json (with line and column), 400 when it is not an object, 413,
 * 415 when Content-Type names something other than JSON.  On success the
 * caller owns *out (json_decref). */
int si_json_read_body(struct si_request *req, struct si_buf *scratch, json_t **out,
                      struct si_error *err);

/* Parses text as a JSON object (same errors as above, without the body read). */
int si_json_parse_object(const char *text, size_t len, json_t **out, struct si_error *err);

/* The string member key of obj, or NULL when absent or not a string. */
const char *si_json_string(const json_t *obj, const char *key);

#endif
