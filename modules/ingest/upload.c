/* upload.c: JSON, multipart or raw uploads -> a spooled file plus fields
 * (see upload.h). */
#include "upload.h"
#include "file_name.h"
#include "ingest_config.h"
#include "multipart.h"
#include "spool_file.h"
#include "si_base64.h"
#include "si_json.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

struct spool {
    const char *dir;   /* the spool directory (struct ingest_config) */
    FILE *f;
    EVP_MD_CTX *md;
    size_t size;
    size_t max;
    struct si_error *err;   /* where spool_sink reports (base64_to_spool) */
};

static int spool_open(struct spool *s, const char *dir, size_t max, struct si_error *err)
{
    s->dir = dir;
    s->size = 0;
    s->max = max;
    s->f = spool_file_open(dir, err);
    if (s->f == NULL)
        return -1;
    s->md = EVP_MD_CTX_new();
    if (s->md == NULL || EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1)
        return si_error_set(err, 500, "internal", "out of memory");
    return 0;
}

static const char *spool_dir(const struct si_ctx *ctx)
{
    const struct ingest_config *ic = ctx->fn_config;
    return ic->spool_dir;
}

static int spool_write(struct spool *s, const void *p, size_t n, struct si_error *err)
{
    if (n > s->max - s->size)
        return si_error_set(err, 413, "payload_too_large", "the file is larger than the limit of %zu bytes", s->max);
    if (fwrite(p, 1, n, s->f) != n)
        return spool_file_write_error(err, "cannot write the upload to a temporary file");
    if (EVP_DigestUpdate(s->md, p, n) != 1)
        return si_error_set(err, 500, "internal", "cannot hash the upload");
    s->size += n;
    return 0;
}

/* Hands the spool to up (rewound, digest finished). */
static int spool_finish(struct spool *s, struct upload *up, struct si_error *err)
{
    unsigned char digest[32];
    unsigned int len = 0;
    if (fflush(s->f) != 0)
        return spool_file_write_error(err, "cannot write the upload to a temporary file");
    if (EVP_DigestFinal_ex(s->md, digest, &len) != 1 || len != 32)
        return si_error_set(err, 500, "internal", "cannot finish the upload");
    for (int i = 0; i < 32; i++)
        snprintf(up->sha256 + 2 * i, 3, "%02x", digest[i]);
    rewind(s->f);
    up->spool = s->f;
    up->size = s->size;
    s->f = NULL;
    return 0;
}

static void spool_cleanup(struct spool *s)
{
    if (s->f != NULL)
        fclose(s->f);
    s->f = NULL;
    EVP_MD_CTX_free(s->md);
    s->md = NULL;
}

static int spool_sink(void *arg, const unsigned char *data, size_t n)
{
    struct spool *s = arg;
    return spool_write(s, data, n, s->err);
}

/* Standard base64 (si_base64: whitespace ignored, padding optional) into the spool. */
static int base64_to_spool(const char *in, size_t n, struct spool *s, struct si_error *err)
{
    s->err = err;
    switch (si_base64_decode(in, n, SI_BASE64_STD, spool_sink, s)) {
    case SI_BASE64_OK:
        return 0;
    case SI_BASE64_SINK:
        return -1;   /* spool_write set err */
    case SI_BASE64_AFTER_PADDING:
        return si_error_set(err, 400, "bad_base64", "contentBase64 has data after its padding");
    case SI_BASE64_TRUNCATED:
        return si_error_set(err, 400, "bad_base64", "contentBase64 is truncated");
    default:
        return si_error_set(err, 400, "bad_base64", "contentBase64 is not valid base64");
    }
}

static int read_json(struct si_ctx *ctx, struct si_request *req, struct upload *up, struct si_error *err)
{
    json_t *body = NULL;
    struct spool s = { 0 };
    int rc = -1;
    if (si_json_read_body(req, ctx->scratch, &body, err) != 0)
        goto out;
    const json_t *content = json_object_get(body, "contentBase64");
    if (!json_is_string(content)) {
        si_error_set(err, 400, "missing_file", "contentBase64 (the file, base64-encoded) is required");
        goto out;
    }
    if (spool_open(&s, spool_dir(ctx), ctx->config->max_body, err) != 0 ||
        base64_to_spool(json_string_value(content), json_string_length(content), &s, err) != 0 ||
        spool_finish(&s, up, err) != 0)
        goto out;
    json_object_del(body, "contentBase64");
    up->fields = body;
    body = NULL;
    rc = 0;
out:
    spool_cleanup(&s);
    json_decref(body);
    return rc;
}

struct mp_ctx {
    struct upload *up;
    struct spool *spool;
    struct si_error *err;
    char field[UPLOAD_MAPPING_MAX + 1];
    size_t field_len;
    size_t field_max;
    char name[128];
    int in_file;
    int have_file;
};

static int mp_begin(void *p, const struct multipart_part *part)
{
    struct mp_ctx *m = p;
    m->in_file = strcmp(part->name, "file") == 0;
    if (m->in_file) {
        if (m->have_file)
            return si_error_set(m->err, 400, "bad_multipart", "more than one file part");
        m->have_file = 1;
        char name[FILE_NAME_MAX + 1];   /* the display form is valid UTF-8 whatever was sent */
        if (part->filename[0] != '\0' && json_object_get(m->up->fields, "fileName") == NULL &&
            json_object_set_new(m->up->fields, "fileName",
                                json_string(file_name_display(part->filename, strlen(part->filename), name))) != 0)
            return si_error_set(m->err, 500, "internal", "out of memory");
        return spool_open(m->spool, m->spool->dir, m->spool->max, m->err);
    }
    snprintf(m->name, sizeof m->name, "%s", part->name);
    m->field_len = 0;
    m->field_max = strcmp(part->name, "mapping") == 0 ? UPLOAD_MAPPING_MAX : UPLOAD_FIELD_MAX;
    return 0;
}

static int mp_data(void *p, const char *d, size_t n)
{
    struct mp_ctx *m = p;
    if (m->in_file)
        return spool_write(m->spool, d, n, m->err);
    if (n > m->field_max - m->field_len)
        return si_error_set(m->err, 400, "bad_field", "form field '%.64s' is too long", m->name);
    memcpy(m->field + m->field_len, d, n);
    m->field_len += n;
    return 0;
}

static int mp_end(void *p)
{
    struct mp_ctx *m = p;
    if (m->in_file)
        return spool_finish(m->spool, m->up, m->err);
    m->field[m->field_len] = '\0';
    if (strlen(m->field) != m->field_len)
        return si_error_set(m->err, 400, "bad_field", "form field '%.64s' contains a NUL byte", m->name);
    if (strcmp(m->name, "mapping") == 0) {
        json_t *mapping = json_loadb(m->field, m->field_len, 0, NULL);
        if (!json_is_object(mapping)) {
            json_decref(mapping);
            return si_error_set(m->err, 400, "bad_field", "mapping must be a JSON object");
        }
        return json_object_set_new(m->up->fields, "mapping", mapping) == 0 ? 0 : -1;
    }
    json_t *v = json_stringn(m->field, m->field_len);
    if (v == NULL)
        return si_error_set(m->err, 400, "bad_field", "form field '%.64s' is not UTF-8", m->name);
    return json_object_set_new(m->up->fields, m->name, v) == 0 ? 0 : -1;
}

static int read_multipart(struct si_ctx *ctx, struct si_request *req, struct upload *up, struct si_error *err)
{
    char boundary[72];
    if (multipart_boundary(req->content_type, boundary) != 0)
        return si_error_set(err, 400, "bad_multipart", "multipart/form-data without a valid boundary");
    struct spool s = { .dir = spool_dir(ctx), .max = ctx->config->max_body };
    struct mp_ctx *m = calloc(1, sizeof *m);
    if (m == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    m->up = up;
    m->spool = &s;
    m->err = err;
    up->fields = json_object();
    struct multipart_handler h = { mp_begin, mp_data, mp_end, m };
    int rc = up->fields ? multipart_parse(boundary, req->body_read, req->body_src, &h, err) : -1;
    req->body_taken = 1;
    if (rc == 0 && !m->have_file)
        rc = si_error_set(err, 400, "missing_file", "the multipart body has no 'file' part");
    spool_cleanup(&s);
    free(m);
    return rc;
}

/* The raw body is the file; fields come from the query string, the account
 * from the X-Account-Id header (an account number is not put in a URL). */
static int read_raw(struct si_ctx *ctx, struct si_request *req, struct upload *up, struct si_error *err)
{
    struct spool s = { 0 };
    int rc = -1;
    static const char *names[] = { "userId", "user_id", "currency" };
    up->fields = json_object();
    if (up->fields == NULL) {
        si_error_set(err, 500, "internal", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = si_request_param(req, names[i]);
        if (v != NULL && json_object_set_new(up->fields, names[i], json_string(v)) != 0) {
            si_error_set(err, 400, "bad_field", "query parameter %s is not UTF-8", names[i]);
            goto out;
        }
    }
    const char *file_name = si_request_param(req, "fileName");
    char name[FILE_NAME_MAX + 1];
    if (file_name != NULL &&
        json_object_set_new(up->fields, "fileName", json_string(file_name_display(file_name, strlen(file_name), name))) != 0) {
        si_error_set(err, 500, "internal", "out of memory");
        goto out;
    }
    const char *account = si_request_header(req, "x-account-id");
    if (account != NULL && json_object_set_new(up->fields, "accountId", json_string(account)) != 0) {
        si_error_set(err, 400, "bad_field", "the X-Account-Id header is not UTF-8");
        goto out;
    }
    if (req->content_length <= 0 && req->content_type == NULL) {
        si_error_set(err, 400, "missing_file", "the request has no file: send it as the body, "
                     "as multipart/form-data, or as JSON contentBase64");
        goto out;
    }
    if (spool_open(&s, spool_dir(ctx), ctx->config->max_body, err) != 0)
        goto out;
    req->body_taken = 1;
    char buf[65536];
    size_t want = req->content_length > 0 ? (size_t)req->content_length : 0, got_total = 0;
    while (got_total < want) {
        size_t n = want - got_total < sizeof buf ? want - got_total : sizeof buf;
        long got = req->body_read(req->body_src, buf, n);
        if (got <= 0) {
            si_error_set(err, 400, "incomplete_body", "request body ended early");
            goto out;
        }
        if (spool_write(&s, buf, (size_t)got, err) != 0)
            goto out;
        got_total += (size_t)got;
    }
    rc = spool_finish(&s, up, err);
out:
    spool_cleanup(&s);
    return rc;
}

int upload_read(struct si_ctx *ctx, struct si_request *req, struct upload *up, struct si_error *err)
{
    memset(up, 0, sizeof *up);
    const char *ct = req->content_type ? req->content_type : "";
    if (strncasecmp(ct, "application/json", 16) == 0)
        return read_json(ctx, req, up, err);
    if (strncasecmp(ct, "multipart/form-data", 19) == 0)
        return read_multipart(ctx, req, up, err);
    if (strncasecmp(ct, "multipart/", 10) == 0 || strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0)
        return si_error_set(err, 415, "unsupported_media_type",
                            "send JSON, multipart/form-data, or the raw file as the body");
    return read_raw(ctx, req, up, err);
}

void upload_cleanup(struct upload *up)
{
    json_decref(up->fields);
    up->fields = NULL;
    if (up->spool != NULL)
        fclose(up->spool);
    up->spool = NULL;
}
