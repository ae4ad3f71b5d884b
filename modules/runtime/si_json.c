/* si_json.c: JSON request bodies (see si_json.h). */
#include "si_json.h"

#include <string.h>
#include <strings.h>

int si_json_parse_object(const char *text, size_t len, json_t **out, struct si_error *err)
{
    *out = NULL;
    if (len == 0) {
        *out = json_object();
        return *out ? 0 : si_error_set(err, 500, "internal", "out of memory");
    }
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return si_error_set(err, 400, "invalid_json", "request body is not valid JSON: %s (line %d, column %d)",
                            jerr.text, jerr.line, jerr.column);
    if (!json_is_object(root)) {
        json_decref(root);
        return si_error_set(err, 400, "invalid_json", "request body must be a JSON object");
    }
    *out = root;
    return 0;
}

int si_json_read_body(struct si_request *req, struct si_buf *scratch, json_t **out,
                      struct si_error *err)
{
    *out = NULL;
    const char *ct = req->content_type;
    if (ct != NULL && strncasecmp(ct, "application/json", 16) != 0 &&
        strncasecmp(ct, "text/plain", 10) != 0)
        return si_error_set(err, 415, "unsupported_media_type", "expected a JSON body (application/json)");
    if (si_request_read_body(req, scratch, err) != 0)
        return -1;
    return si_json_parse_object(scratch->data ? scratch->data : "", scratch->len, out, err);
}

const char *si_json_string(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}
