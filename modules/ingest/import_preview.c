/* import_preview.c: GET /.netlify/functions/import-preview?importId=&verdict=&cursor=&limit=&counts=
 * and PATCH (keep/skip decisions on rows, which commit-import honours),
 * the responder smartimport-import-preview: any page of an import's staged rows with each
 * row's verdict, score and reasons (preview.c, sql/0019_import_verdicts.sql), and the counts
 * of the whole file.  Only the owner's import (another user's id, or an unknown one, is the
 * same 404); only while it is parsed and not yet committed (its rows are in staging), else 409
 * with its status.  cursor is opaque to the caller (the last row's number); limit 1..200,
 * default 50; verdict new | duplicate | possible_duplicate | replaces_pending; counts=false
 * leaves the counts out (they cost a pass over the whole file). */
#include "import_preview.h"
#include "preview.h"
#include "si_auth.h"
#include "si_config.h"
#include "si_import.h"
#include "si_json.h"
#include "si_uuid.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PREVIEW_PAGE_DEFAULT 50

/* Reads an integer parameter in [lo, hi] (def when absent): 0, or -1 with a 400 in err. */
static int int_param(const struct si_request *req, const char *name, long long lo, long long hi, long long def,
                     long long *out, struct si_error *err)
{
    const char *v = si_request_param(req, name);
    *out = def;
    if (v == NULL || *v == '\0')
        return 0;
    if (si_parse_long(v, lo, hi, out) != 0)
        return si_error_set(err, 400, "bad_param", "%s must be a whole number from %lld to %lld", name, lo, hi);
    return 0;
}

static int answer(struct si_ctx *ctx, struct si_request *req, struct si_response *resp, struct si_error *err)
{
    char user[SI_UUID_LEN + 1], import[SI_UUID_LEN + 1];
    if (si_auth_identify(ctx->config, req, NULL, (long long)time(NULL), user, err) != 0)
        return -1;
    const char *id = si_request_param(req, "importId");
    if (id == NULL || si_uuid_normalize(id, import) != 0)
        return si_error_set(err, 400, "bad_param", "importId must be an import's id (a UUID)");
    const char *verdict = si_request_param(req, "verdict");
    if (verdict != NULL && *verdict == '\0')
        verdict = NULL;
    if (verdict != NULL && strcmp(verdict, "new") != 0 && strcmp(verdict, "duplicate") != 0 &&
        strcmp(verdict, "possible_duplicate") != 0 && strcmp(verdict, "replaces_pending") != 0)
        return si_error_set(err, 400, "bad_param",
                            "verdict must be new, duplicate, possible_duplicate or replaces_pending");
    /* counts=false: the page without the whole file's counts (a client paging on keeps those of
     * its first page; web/app/import.js does) */
    const char *counts = si_request_param(req, "counts");
    if (counts != NULL && *counts != '\0' && strcmp(counts, "true") != 0 && strcmp(counts, "false") != 0)
        return si_error_set(err, 400, "bad_param", "counts must be true or false");
    bool with_counts = counts == NULL || strcmp(counts, "false") != 0;
    long long after = 0, limit = 0;
    if (int_param(req, "cursor", 0, PREVIEW_ROW_MAX - 1, 0, &after, err) != 0 ||
        int_param(req, "limit", 1, PREVIEW_PAGE_MAX, PREVIEW_PAGE_DEFAULT, &limit, err) != 0)
        return -1;

    const char *p[] = { import, user };
    PGresult *res = si_db_exec(ctx->db, "SELECT status FROM imports WHERE id = $1 AND user_id = $2", 2, p, err);
    if (res == NULL)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return si_error_set(err, 404, "not_found", "no such import");
    }
    char status[16];
    snprintf(status, sizeof status, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (strcmp(status, si_import_status_name(SI_IMPORT_PARSED)) != 0)
        return si_error_set(err, 409, "not_in_preview",
                            "the import is %s: only a parsed import that is not committed has a preview", status);

    struct preview_page page;
    if (preview_page(ctx->db, user, import, verdict, after, (int)limit, with_counts, &page, err) != 0)
        return -1;
    char next[24];
    snprintf(next, sizeof next, "%lld", page.next_after);
    json_t *body = json_pack("{s:b, s:s, s:s?, s:O*, s:O, s:s?}", "ok", 1, "importId", import, "verdict", verdict,
                             "counts", page.counts, "rows", page.rows, "nextCursor",
                             page.next_after > 0 ? next : NULL);
    preview_page_clear(&page);
    if (body == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    int rc = si_response_json(resp, 200, body);
    json_decref(body);
    return rc;
}

/* PATCH {importId, decisions:[{row, action: keep|skip}]}: the decisions, in one transaction
 * under the import's row lock (a commit of the import waits, or has already moved it). */
static int decide(struct si_ctx *ctx, struct si_request *req, struct si_response *resp, struct si_error *err)
{
    json_t *body = NULL;
    char user[SI_UUID_LEN + 1], import[SI_UUID_LEN + 1];
    int rc = -1;
    if (si_json_read_body(req, ctx->scratch, &body, err) != 0 ||
        si_auth_identify(ctx->config, req, body, (long long)time(NULL), user, err) != 0)
        goto out;
    const char *id = si_json_string(body, "importId");
    if (id == NULL || si_uuid_normalize(id, import) != 0) {
        si_error_set(err, 400, "bad_param", "importId must be an import's id (a UUID)");
        goto out;
    }
    const json_t *decisions = json_object_get(body, "decisions");
    if (!json_is_array(decisions) || json_array_size(decisions) == 0) {
        si_error_set(err, 400, "bad_decisions", "decisions must be a non-empty array of {row, action}");
        goto out;
    }
    if (si_db_begin(ctx->db, err) != 0)
        goto out;
    const char *p[] = { import, user };
    PGresult *res = si_db_exec(ctx->db, "SELECT status FROM imports WHERE id = $1 AND user_id = $2 FOR UPDATE", 2, p,
                               err);
    if (res == NULL)
        goto rollback;
    if (PQntuples(res) == 0) {
        PQclear(res);
        si_error_set(err, 404, "not_found", "no such import");
        goto rollback;
    }
    bool parsed = strcmp(PQgetvalue(res, 0, 0), si_import_status_name(SI_IMPORT_PARSED)) == 0;
    if (!parsed)
        si_error_set(err, 409, "not_in_preview", "the import is %s: only a parsed import takes decisions",
                     PQgetvalue(res, 0, 0));
    PQclear(res);
    long long applied = 0;
    if (!parsed || si_import_apply_decisions(ctx->db, import, user, decisions, &applied, err) != 0)
        goto rollback;
    res = si_db_exec(ctx->db, "SELECT count(*) FILTER (WHERE decision = 'skip'), count(*) FILTER (WHERE decision = 'keep') "
                              "FROM transactions_staging WHERE import_id = $1 AND user_id = $2 AND decision IS NOT NULL",
                     2, p, err);
    long long skipped = 0, kept = 0;
    if (res == NULL)
        goto rollback;
    if (si_db_get_int64(res, 0, 0, &skipped) != 0 || si_db_get_int64(res, 0, 1, &kept) != 0) {
        PQclear(res);
        si_db_bad_value(err, "the decisions counted");
        goto rollback;
    }
    PQclear(res);
    if (si_db_commit(ctx->db, err) != 0)
        goto out;
    json_t *answer_body = json_pack("{s:b, s:s, s:I, s:I, s:I}", "ok", 1, "importId", import, "decided",
                                    (json_int_t)applied, "skipped", (json_int_t)skipped, "kept", (json_int_t)kept);
    if (answer_body == NULL) {
        si_error_set(err, 500, "internal", "out of memory");
        goto out;
    }
    rc = si_response_json(resp, 200, answer_body);
    json_decref(answer_body);
    goto out;
rollback:
    si_db_rollback(ctx->db);
out:
    json_decref(body);
    return rc;
}

int import_preview_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    struct si_error err;
    si_error_clear(&err);
    int rc = strcmp(req->method, "PATCH") == 0 ? decide(ctx, req, resp, &err) : answer(ctx, req, resp, &err);
    if (rc != 0)
        return si_response_from_error(resp, &err);
    return 0;
}
