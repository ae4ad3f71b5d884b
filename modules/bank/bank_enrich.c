/* bank_enrich.c: bank.enrich, queued by an import job that ended completed with
 * auto_enrich: its rows get categories by the same rules as statement imports (the user's
 * keyword rules, then the built-in ones: modules/ingest/categorize.h), and its
 * truelayer_enrichment_jobs row the counts.  All in the engine's finishing transaction
 * (the commit hook), so it is idempotent: run twice, it writes the same categories. */
#include "bank_sync.h"
#include "categorize.h"
#include "si_event.h"

#include <stdlib.h>
#include <string.h>

int bank_enrich_run(void *ctx, struct si_db *db, const struct jobs_job *job, json_t **out_state, struct si_error *err)
{
    (void)ctx;
    (void)db;
    (void)out_state;
    if (job->user_id[0] == '\0' || json_string_value(json_object_get(job->payload, "import_job_id")) == NULL)
        return si_error_set(err, 500, "invalid_job", "a bank.enrich job without its import job");
    return 0;
}

int bank_enrich_commit(void *ctx, struct si_db *db, const struct jobs_job *job, const json_t *state,
                       json_t **out_result, struct si_error *err)
{
    (void)ctx;
    (void)state;
    char job_id[SI_UUID_LEN + 1];
    if (si_uuid_normalize(json_string_value(json_object_get(job->payload, "import_job_id")), job_id) != 0)
        return si_error_set(err, 500, "invalid_job", "a bank.enrich job without its import job");
    const char *p[] = { job_id, job->user_id };
    PGresult *res = NULL;
    struct categorizer *cat = NULL;
    json_t *rows = NULL;
    char *rows_text = NULL;
    int rc = -1, categorized = 0, total = 0;
    if (si_db_command(db, "UPDATE truelayer_enrichment_jobs SET status = 'running' "
                          "WHERE import_job_id = $1 AND user_id = $2", 2, p, err) != 0)
        goto out;
    if ((cat = categorizer_load(db, job->user_id, err)) == NULL)
        goto out;
    res = si_db_exec_bulk(db, "SELECT id, description FROM transactions WHERE import_job_id = $1 AND user_id = $2",
                          2, p, err);
    if (res == NULL)
        goto out;
    if ((rows = json_array()) == NULL)
        goto oom;
    total = PQntuples(res);
    for (int r = 0; r < total; r++) {
        long long id = 0;
        if (si_db_get_int64(res, r, 0, &id) != 0) {
            si_db_bad_value(err, "transactions.id");
            goto out;
        }
        const char *c = categorizer_match(cat, PQgetvalue(res, r, 1));
        categorized += strcmp(c, "Other") != 0;
        if (json_array_append_new(rows, json_pack("{s:I, s:s}", "id", (json_int_t)id, "c", c)) != 0)
            goto oom;
    }
    if ((rows_text = json_dumps(rows, JSON_COMPACT)) == NULL)
        goto oom;
    char total_s[16], cat_s[16];
    snprintf(total_s, sizeof total_s, "%d", total);
    snprintf(cat_s, sizeof cat_s, "%d", categorized);
    const char *q[] = { job->user_id, rows_text };
    const char *e[] = { job_id, job->user_id, total_s, cat_s };
    PGresult *u = si_db_exec_bulk(db,
        "UPDATE transactions t SET category = r.c FROM jsonb_to_recordset($2::jsonb) AS r(id bigint, c text) "
        "WHERE t.id = r.id AND t.user_id = $1 AND t.category IS DISTINCT FROM r.c", 2, q, err);
    if (u == NULL)
        goto out;
    PQclear(u);
    if (si_db_command(db, "UPDATE truelayer_enrichment_jobs SET status = 'completed', transactions_total = $3::int, "
                          "  categorized = $4::int, completed_at = now() WHERE import_job_id = $1 AND user_id = $2",
                      4, e, err) != 0 ||
        si_event_record(db, job->user_id, NULL, "bank:enrich:complete",
                        json_pack("{s:s, s:i, s:i}", "jobId", job_id, "transactions", total, "categorized", categorized),
                        NULL, err) != 0)
        goto out;
    *out_result = json_pack("{s:i, s:i}", "transactions", total, "categorized", categorized);
    rc = 0;
    goto out;
oom:
    si_error_set(err, 500, "internal", "out of memory");
out:
    free(rows_text);
    json_decref(rows);
    categorizer_free(cat);
    PQclear(res);
    return rc;
}
