/* upload.h: taking a statement upload off the wire.
 *
 * Three ways in, one result: JSON {"userId","fileName","contentBase64",...},
 * multipart/form-data with a `file` part (fields as parts), or the raw file
 * as the body (fields as query parameters, the account in an X-Account-Id
 * header).  File names are kept in their display form (file_name.h).  The file's bytes go to an
 * unlinked temporary file (the spool) while their size and SHA-256 are
 * computed, so memory does not grow with the file. */
#ifndef UPLOAD_H
#define UPLOAD_H

#include <stdio.h>
#include <jansson.h>

#include "si_function.h"

#define UPLOAD_FIELD_MAX    512      /* userId, fileName, accountId, currency */
#define UPLOAD_MAPPING_MAX  65536    /* the optional CSV mapping, JSON text */

struct upload {
    json_t *fields;          /* {"userId","fileName","accountId","currency","mapping"} as sent */
    FILE *spool;             /* the file's bytes, rewound; NULL when none */
    size_t size;
    char sha256[65];         /* hex of the file's bytes */
};

/* Reads the request into up.  Errors: 400 (missing file, bad base64, bad
 * multipart, bad field), 413 (file over the limit), 415 (content type),
 * 507 storage_full (the spool directory is full: spool_file.h). */
int upload_read(struct si_ctx *ctx, struct si_request *req, struct upload *up, struct si_error *err);
void upload_cleanup(struct upload *up);   /* safe to call twice */

#endif
