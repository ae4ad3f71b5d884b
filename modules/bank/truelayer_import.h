/* truelayer_import.h: the responder smartimport-truelayer-import (POST /api/truelayer/import/plan,
 * POST .../start, GET .../status/{job_id}, GET .../history), one file per endpoint
 * (import_plan.c, import_start.c, import_status.c) and the dispatch in truelayer_import.c. */
#ifndef TRUELAYER_IMPORT_H
#define TRUELAYER_IMPORT_H

#include <jansson.h>

#include "bank_jobs.h"
#include "tl_client.h"
#include "si_function.h"
#include "si_request.h"
#include "si_response.h"

#define IMPORT_MAX_ACCOUNTS 100     /* account_ids of one plan */
#define IMPORT_ACCOUNT_ID_MAX 200   /* bytes of one provider account id */
#define IMPORT_HISTORY_MAX 200      /* ?limit= of the history */

struct import_config {
    struct bank_jobs_settings s;
    struct tl_settings tl;      /* read at start only so that jwt mode refuses to start without the token key */
};

int truelayer_import_init(const struct si_config *cfg, void **fn_config, struct si_error *err);
void truelayer_import_cleanup(void *fn_config);
int truelayer_import_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);

int import_plan(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);
int import_start(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);
int import_status(struct si_ctx *ctx, struct si_request *req, struct si_response *resp, const char *job_id);
int import_history(struct si_ctx *ctx, struct si_request *req, struct si_response *resp);

/* The job's status answer (the seed's shape) for `user`; 404 not_found when the job is
 * not the caller's.  *out_status (may be NULL) receives the job's status word. */
int import_status_json(struct si_db *db, const char *user, const char *job_id, json_t **out,
                       char *out_status, size_t status_len, struct si_error *err);
/* The seed's completed shape {job_id, status, summary, results} of a finished job. */
int import_result_json(struct si_db *db, const char *user, const char *job_id, json_t **out,
                       struct si_error *err);

#endif
