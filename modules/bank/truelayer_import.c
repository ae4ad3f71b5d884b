/* truelayer_import.c: the responder smartimport-truelayer-import behind nginx's
 * ^~/api/truelayer/import/ route: its settings and the dispatch to one handler per
 * endpoint (import_plan.c, import_start.c, import_status.c).
 *
 *   POST /api/truelayer/import/plan            a job with its estimates (status planned)
 *   POST /api/truelayer/import/start           202 {job_id, status:"running"}; "wait": true
 *                                              answers the completed shape once done
 *   GET  /api/truelayer/import/status/{job_id} per-account progress
 *   GET  /api/truelayer/import/history?limit=  the caller's jobs, newest first
 *
 * Every handler identifies the caller (si_auth_identify: the bearer token, or in dev mode
 * the body's or query's userId/user_id) and filters every statement by that user; another
 * user's job or connection is the same 404 not_found as an unknown one. */
#include "truelayer_import.h"

#include <stdlib.h>
#include <string.h>

#define PREFIX "/api/truelayer/import/"

int truelayer_import_init(const struct si_config *cfg, void **fn_config, struct si_error *err)
{
    struct import_config *c = calloc(1, sizeof *c);
    if (c == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    if (bank_jobs_settings_load(&c->s, cfg->envp, err) != 0 || tl_settings_load(&c->tl, cfg->envp, err) != 0) {
        tl_settings_cleanup(&c->tl);
        free(c);
        return -1;
    }
    *fn_config = c;
    return 0;
}

void truelayer_import_cleanup(void *fn_config)
{
    struct import_config *c = fn_config;
    if (c == NULL)
        return;
    tl_settings_cleanup(&c->tl);
    free(c);
}

static int wrong_method(struct si_response *resp, const char *method, const char *path)
{
    return si_response_error(resp, 405, "method_not_allowed", "use %s for %s", method, path);
}

int truelayer_import_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    bool get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
    if (strncmp(req->path, PREFIX, strlen(PREFIX)) != 0)
        return si_response_error(resp, 404, "not_found", "no such import endpoint");
    const char *tail = req->path + strlen(PREFIX);
    if (strcmp(tail, "plan") == 0)
        return post ? import_plan(ctx, req, resp) : wrong_method(resp, "POST", PREFIX "plan");
    if (strcmp(tail, "start") == 0)
        return post ? import_start(ctx, req, resp) : wrong_method(resp, "POST", PREFIX "start");
    if (strcmp(tail, "history") == 0)
        return get ? import_history(ctx, req, resp) : wrong_method(resp, "GET", PREFIX "history");
    if (strncmp(tail, "status/", 7) == 0)
        return get ? import_status(ctx, req, resp, tail + 7) : wrong_method(resp, "GET", PREFIX "status/{job_id}");
    return si_response_error(resp, 404, "not_found", "no such import endpoint");
}
