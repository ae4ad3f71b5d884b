/* ingest_statement.c: POST /.netlify/functions/ingest-statement
 *
 * no secrets in the URL -> who is the caller (from the bearer token, before
 * the body is read; in trust-body mode from the body) -> at most
 * SMARTIMPORT_UPLOADS_PER_USER uploads of that user at once (else 429) ->
 * upload (JSON / multipart / raw) -> the same bytes
 * already imported? (answer with that import) -> text to UTF-8 -> detect the
 * format -> one transaction: imports row, upload event, parse straight into
 * COPY, totals, parse event -> commit -> duplicate verdicts for the preview.
 * Any failure rolls the whole transaction back (nothing staged) and records
 * an import:*:error event on its own.  While the body is read and the file
 * parsed, live progress events go out on a second connection (progress.h). */
#include "ingest_statement.h"
#include "csv.h"
#include "encoding.h"
#include "file_name.h"
#include "ingest_config.h"
#include "llm_categorize.h"
#include "preview.h"
#include "progress.h"
#include "si_clock.h"
#include "si_auth.h"
#include "si_event.h"
#include "si_import.h"
#include "si_log.h"
#include "stage.h"
#include "si_money.h"
#include "stmt_util.h"
#include "upload.h"
#include "upload_slots.h"
#include "user_settings.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Share of rows that may be skipped with a warning before the file is refused. */
#define INGEST_MAX_BAD_PERCENT   50
#define INGEST_MAX_ROWS_DEFAULT  2000000LL
#define INGEST_FILE_NAME_INPUT_MAX 4096   /* fileName as sent; FILE_NAME_MAX bytes are kept */
#define INGEST_ACCOUNT_MAX       128
#define INGEST_ERROR_WARNINGS    5        /* row warnings an unreadable file's error carries */

struct ingest {
    char user[SI_UUID_LEN + 1];
    char import_id[SI_UUID_LEN + 1];
    char file_name[FILE_NAME_MAX + 1];   /* the display form (file_name.h) */
    const char *account;
    char currency[4];                 /* the fallback currency for rows */
    const char *currency_source;      /* why: "request", "account", "user_default" or "service_default" */
    long long currency_assumed_rows;  /* rows whose file named no currency */
    int day_first;                    /* the user's locale: 1 day first, 0 month first, -1 not set */
    struct stage *st;                 /* where the parse's rows go (the sink below) */
    enum stmt_format format;
    const json_t *mapping;            /* the request's CSV mapping, if any */
    json_t *remembered;               /* the user's saved mapping for this layout */
    json_t *columns;                  /* the CSV mapping used */
    FILE *text;                       /* UTF-8 content */
    struct encoding_repairs repairs;  /* lines where bad UTF-8 became U+FFFD */
    json_t *fail_warnings;            /* the first row warnings of a file refused for its rows */
    double t0;                        /* si_clock_ms() at the start */
    char slot_user[SI_UUID_LEN + 1];  /* whose upload slot this request holds, "" = none */
    struct progress *progress;        /* live progress events (progress.h) */
};

/* Optional string field: NULL when absent; -1 when present but bad. */
static int string_field(const json_t *fields, const char *name, size_t max, const char **out,
                        struct si_error *err)
{
    const json_t *v = json_object_get(fields, name);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v) || json_string_length(v) > max)
        return si_error_set(err, 400, "bad_field", "%s must be a string of at most %zu characters", name, max);
    *out = json_string_value(v);
    return 0;
}

static int read_fields(struct ingest *in, const json_t *fields, struct si_error *err)
{
    const char *currency = NULL, *file_name = NULL;
    if (string_field(fields, "fileName", INGEST_FILE_NAME_INPUT_MAX, &file_name, err) != 0 ||
        string_field(fields, "accountId", INGEST_ACCOUNT_MAX, &in->account, err) != 0 ||
        string_field(fields, "currency", 3, &currency, err) != 0)
        return -1;
    file_name_display(file_name ? file_name : "", file_name ? strlen(file_name) : 0, in->file_name);
    if (currency != NULL) {
        if (!si_currency_code_valid(currency))
            return si_error_set(err, 400, "bad_field", "currency must be an ISO 4217 code such as EUR");
        memcpy(in->currency, currency, 4);
        in->currency_source = "request";
    }
    in->mapping = json_object_get(fields, "mapping");
    if (in->mapping != NULL && json_is_null(in->mapping))
        in->mapping = NULL;
    if (in->mapping != NULL && !json_is_object(in->mapping))
        return si_error_set(err, 400, "bad_field", "mapping must be a JSON object");
    return 0;
}

/* The user's settings an upload needs, in one query: the currency for rows
 * whose file names none, when the request gave none -- the account's (the
 * currency of the user's last committed import of that account, or of a bank
 * account of that id), else the user's default (user-settings), else the
 * deployment's (SMARTIMPORT_DEFAULT_CURRENCY), else none: such rows are then
 * refused with 422 currency_required (ingest_txn) -- and the day/month order
 * of the user's locale (in->day_first: 1, 0, or -1 when not set). */
static int read_settings(struct si_db *db, const struct ingest_config *ic, struct ingest *in, struct si_error *err)
{
    const char *params[] = { in->user, in->currency[0] == '\0' ? in->account : NULL };
    PGresult *res = si_db_exec(db,
        "SELECT (SELECT a.currency FROM ("
        "          (SELECT currency FROM imports WHERE user_id = $1 AND account_id = $2"
        "             AND status IN ('committed', 'analyzed') AND length(trim(currency)) = 3"
        "           ORDER BY created_at DESC LIMIT 1)"
        "          UNION ALL (SELECT currency FROM truelayer_accounts WHERE user_id = $1 AND account_id = $2"
        "                     LIMIT 1)) a LIMIT 1),"
        "       s.default_currency, s.locale "
        "FROM (SELECT 1) one LEFT JOIN user_settings s ON s.user_id = $1", 2, params, err);
    if (res == NULL)
        return -1;
    in->day_first = PQgetisnull(res, 0, 2) ? -1 : user_settings_day_first(PQgetvalue(res, 0, 2));
    if (in->currency[0] != '\0') {
        /* the request's (read_fields set it and its source) */
    } else if (!PQgetisnull(res, 0, 0)) {
        snprintf(in->currency, sizeof in->currency, "%s", PQgetvalue(res, 0, 0));
        in->currency_source = "account";
    } else if (!PQgetisnull(res, 0, 1)) {
        snprintf(in->currency, sizeof in->currency, "%s", PQgetvalue(res, 0, 1));
        in->currency_source = "user_default";
    } else if (ic->default_currency[0] != '\0') {
        memcpy(in->currency, ic->default_currency, sizeof in->currency);
        in->currency_source = "service_default";
    }
    PQclear(res);
    return 0;
}

/* The summary of an import as the response shows it (NULL when out of
 * memory or a count is not a number). */
static json_t *import_summary(PGresult *res, int row)
{
    long long debit = 0, credit = 0;
    int rows_total = 0;
    if (si_db_get_int64(res, row, 5, &debit) != 0 || si_db_get_int64(res, row, 6, &credit) != 0 ||
        si_db_get_int(res, row, 3, &rows_total) != 0)
        return NULL;
    long long net;
    if (__builtin_sub_overflow(credit, debit, &net))   /* only totals stored before they were checked */
        net = credit < debit ? LLONG_MIN : LLONG_MAX;
    json_t *columns = PQgetisnull(res, row, 9) ? json_null() : json_loads(PQgetvalue(res, row, 9), 0, NULL);
    json_t *warnings = json_loads(PQgetvalue(res, row, 10), 0, NULL);
    return json_pack("{s:b, s:s, s:s, s:i, s:{s:i, s:I, s:I, s:I, s:s}, s:{s:s?, s:s?}, s:o, s:o, s:s}",
        "ok", 1, "importId", PQgetvalue(res, row, 0), "format", PQgetvalue(res, row, 2),
        "rowsTotal", rows_total,
        "totals", "count", rows_total, "debitMinor", (json_int_t)debit,
        "creditMinor", (json_int_t)credit, "netMinor", (json_int_t)net,
        "currency", PQgetvalue(res, row, 4),
        "dateRange", "from", si_db_get_text(res, row, 7), "to", si_db_get_text(res, row, 8),
        "columns", columns ? columns : json_null(), "warnings", warnings ? warnings : json_array(),
        "status", PQgetvalue(res, row, 1));
}

static const char summary_columns[] =
    "id, status, format, rows_total, currency, debit_minor, credit_minor, date_from::text, "
    "date_to::text, columns::text, warnings::text";

/* Answers with the existing import of the same bytes, if there is one:
 * 1 = answered, 0 = none, -1 = error. */
static int answer_existing(struct si_db *db, const char *user, const char *sha, struct si_response *resp,
                           struct si_error *err)
{
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT %s FROM imports WHERE user_id = $1 AND file_sha256 = $2 "
             "AND " SI_IMPORT_HOLDS_FILE_SQL("status"), summary_columns);
    const char *params[] = { user, sha };
    PGresult *res = si_db_exec(db, sql, 2, params, err);
    if (res == NULL)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    json_t *body = import_summary(res, 0);
    struct preview_page page = { 0 };
    int rc = -1;
    if (body == NULL) {
        si_error_set(err, 500, "internal", "out of memory");
        goto out;
    }
    if (preview_page(db, user, PQgetvalue(res, 0, 0), NULL, 0, STAGE_PREVIEW, true, &page, err) != 0)
        goto out;
    int rows_total = 0;
    if (json_array_size(page.rows) == 0 && strcmp(PQgetvalue(res, 0, 1), si_import_status_name(SI_IMPORT_PARSED)) == 0 &&
        si_db_get_int(res, 0, 3, &rows_total) == 0 && rows_total > 0) {
        /* its staged rows were lost (the unlogged staging table is reset by a
         * database crash): fail that import and stage the file anew */
        rc = si_import_move(db, PQgetvalue(res, 0, 0), user, SI_IMPORT_FAILED, ", failure_reason = 'staging_lost'", 0,
                            NULL, NULL, err);
        preview_page_clear(&page);
        goto out;
    }
    json_object_set(body, "preview", page.rows);
    json_object_set(body, "verdicts", page.counts);
    preview_page_clear(&page);
    json_object_set_new(body, "duplicateUpload", json_true());
    si_response_json(resp, 200, body);
    rc = 1;
out:
    json_decref(body);
    PQclear(res);
    return rc;
}

/* The same file sent again with a corrected mapping replaces its earlier upload while that
 * is still only parsed (a preview): the earlier import becomes failed ('superseded') and
 * its staged rows go, in one transaction, so the file is read anew with the mapping.  A
 * committed import is not touched (answer_existing answers with it); a commit running on
 * it holds its row lock, and the move then finds it committed and moves nothing. */
static int supersede_parsed(struct si_db *db, const char *user, const char *sha, struct si_error *err)
{
    const char *params[] = { user, sha, si_import_status_name(SI_IMPORT_PARSED) };
    PGresult *res = si_db_exec(db, "SELECT id FROM imports WHERE user_id = $1 AND file_sha256 = $2 AND status = $3",
                               3, params, err);
    if (res == NULL)
        return -1;
    char id[SI_UUID_LEN + 1] = "";
    if (PQntuples(res) > 0)
        snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (id[0] == '\0')
        return 0;
    bool moved = false;
    const char *del[] = { id, user };
    if (si_db_begin(db, err) != 0 ||
        si_import_move(db, id, user, SI_IMPORT_FAILED, ", failure_reason = 'superseded'", 0, NULL, &moved, err) != 0 ||
        (moved && si_db_command(db, "DELETE FROM transactions_staging WHERE import_id = $1 AND user_id = $2", 2, del,
                                err) != 0) ||
        si_db_commit(db, err) != 0) {
        si_db_rollback(db);
        return -1;
    }
    return 0;
}

/* Reads the user's remembered mapping for this file's header layout (CSV
 * only, and only when the request brought none); the layout's fingerprint
 * comes from the first records alone. */
static int remembered_mapping(struct si_db *db, struct ingest *in, struct si_error *err)
{
    if (in->format != STMT_FORMAT_CSV || in->mapping != NULL)
        return 0;
    char fp[65];
    struct stmt_error perr;
    if (csv_layout_fingerprint(in->text, fp, &perr) != 0)
        return 0;   /* csv_parse will report what is wrong with the file */
    const char *params[] = { in->user, fp };
    PGresult *res = si_db_exec(db, "SELECT mapping::text FROM csv_mappings WHERE user_id = $1 AND fingerprint = $2",
                               2, params, err);
    if (res == NULL)
        return -1;
    if (PQntuples(res) > 0)
        in->remembered = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    PQclear(res);
    return 0;
}

/* The parse's sink: the stage's, counting the rows whose currency the file
 * did not name (the fallback currency is then assumed for them). */
static int ingest_txn(void *ctx, const struct stmt_txn *t)
{
    struct ingest *in = ctx;
    if (t->currency[0] == '\0' || t->currency_assumed)
        in->currency_assumed_rows++;
    if (t->currency[0] == '\0' && in->currency[0] == '\0') {
        si_error_set(&in->st->err, 422, "currency_required",
                     "the file names no currency and none is known for it: send currency with the upload, "
                     "or set your default currency (PUT /.netlify/functions/user-settings)");
        return 1;
    }
    int rc = stage_txn(in->st, t);
    if (rc == 0)
        progress_rows(in->progress, in->import_id, in->st->rows);
    return rc;
}

static void ingest_warning(void *ctx, long line, const char *message)
{
    struct ingest *in = ctx;
    stage_warning(in->st, line, message);
}

/* The warning (first in the list) that says which currency was assumed and why. */
static void currency_assumed_warning(struct ingest *in, struct stage *st)
{
    if (in->currency_assumed_rows == 0)
        return;
    const char *why = in->currency_source == NULL ? "the default"
                      : strcmp(in->currency_source, "request") == 0 ? "the currency sent with the upload"
                      : strcmp(in->currency_source, "account") == 0 ? "the currency of this account's earlier imports"
                      : strcmp(in->currency_source, "user_default") == 0 ? "your default currency"
                      : "this service's default; set your own with PUT /.netlify/functions/user-settings";
    char message[256];
    snprintf(message, sizeof message, "the file names no currency: %s assumed (%s)", in->currency, why);
    json_t *w = json_pack("{s:I, s:s}", "line", (json_int_t)0, "message", message);
    if (w != NULL)
        json_array_insert_new(st->warnings, 0, w);
}

static int parse(struct ingest *in, struct stage *st, struct stmt_error *perr)
{
    struct stmt_sink sink = { ingest_txn, ingest_warning, in };
    in->st = st;
    progress_parse_start(in->progress, in->text, si_clock_ms());
    switch (in->format) {
    case STMT_FORMAT_CSV: {
        /* no date format from the request or the remembered mapping: the
         * user's locale settles dates that fit both DD/MM and MM/DD */
        const json_t *given = in->mapping ? in->mapping : in->remembered;
        json_t *mapping = given ? json_copy((json_t *)given) : json_object();
        const json_t *df = json_object_get(mapping, "dateFormat");
        if (mapping == NULL) {
            snprintf(perr->message, sizeof perr->message, "out of memory");
            return -1;
        }
        if (in->day_first >= 0 && (df == NULL || json_is_null(df)))
            json_object_set_new(mapping, "dayFirst", json_boolean(in->day_first));
        int rc = csv_parse(in->text, mapping, in->currency, &in->columns, &sink, perr);
        json_decref(mapping);
        return rc;
    }
    case STMT_FORMAT_OFX:
        return stmt_parse_ofx(in->text, &sink, perr);
    case STMT_FORMAT_QIF:
        return stmt_parse_qif(in->text, &sink, perr);
    case STMT_FORMAT_CAMT053:
        return stmt_parse_camt053(in->text, &sink, perr);
    case STMT_FORMAT_MT940:
        return stmt_parse_mt940(in->text, &sink, perr);
    default:
        snprintf(perr->message, sizeof perr->message, "unsupported format");
        perr->line = 0;
        return -1;
    }
}

/* The first INGEST_ERROR_WARNINGS row warnings, each with "text" = "line N:
 * message" added for the error message (a new array, NULL when out of memory). */
static json_t *first_warnings(json_t *warnings)
{
    json_t *out = json_array();
    for (size_t i = 0; out != NULL && i < json_array_size(warnings) && i < INGEST_ERROR_WARNINGS; i++) {
        json_t *w = json_array_get(warnings, i);
        json_int_t line = json_integer_value(json_object_get(w, "line"));
        const char *msg = json_string_value(json_object_get(w, "message"));
        json_t *text = line > 0 ? json_sprintf("line %lld: %s", (long long)line, msg ? msg : "")
                                : json_string(msg ? msg : "");
        json_object_set_new(w, "text", text);
        json_array_append(out, w);
    }
    return out;
}

/* The "line N: message" of the first of those warnings, "" when none. */
static const char *first_text(const json_t *warnings)
{
    const char *t = json_string_value(json_object_get(json_array_get(warnings, 0), "text"));
    return t != NULL ? t : "";
}

/* The error answer of a file refused for its rows: the error and the rows'
 * first warnings (line, message). */
static void respond_with_warnings(struct si_response *resp, const struct si_error *err, json_t *warnings)
{
    json_t *body = si_error_json(err->status, err->code, err->message);
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < json_array_size(warnings); i++) {
        json_t *w = json_array_get(warnings, i);
        json_array_append_new(list, json_pack("{s:O, s:O}", "line", json_object_get(w, "line"),
                                              "message", json_object_get(w, "message")));
    }
    if (body == NULL || list == NULL || json_object_set_new(body, "warnings", list) != 0 ||
        si_response_json(resp, err->status, body) != 0)
        si_response_from_error(resp, err);
    else
        resp->error_code = err->code;
    json_decref(body);
}

/* Parses into staging and records the import, all in one transaction. */
static int stage_import(struct si_ctx *ctx, struct ingest *in, const struct upload *up, struct stage *st,
                        struct si_error *err)
{
    struct si_db *db = ctx->db;
    char size[32];
    snprintf(size, sizeof size, "%zu", up->size);
    const char *ins[] = { in->user, in->file_name, size, up->sha256, stmt_format_name(in->format),
                          in->account, in->currency, si_import_status_name(SI_IMPORT_UPLOADED) };
    if (si_db_begin(db, err) != 0)
        return -1;
    PGresult *res = si_db_exec(db,
        "INSERT INTO imports (user_id, file_name, file_size, file_sha256, format, account_id, currency, status) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id", 8, ins, err);
    if (res == NULL)
        return -1;
    snprintf(in->import_id, sizeof in->import_id, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (si_event_record(db, in->user, in->import_id, "import:upload:start",
                        json_pack("{s:s, s:I}", "importId", in->import_id, "bytes", (json_int_t)up->size), NULL,
                        err) != 0 ||
        si_event_record(db, in->user, in->import_id, "import:upload:complete",
                        json_pack("{s:s, s:I}", "importId", in->import_id, "bytes", (json_int_t)up->size), NULL,
                        err) != 0 ||
        si_event_record(db, in->user, in->import_id, "import:parse:start",
                        json_pack("{s:s, s:s}", "importId", in->import_id, "format", stmt_format_name(in->format)),
                        NULL, err) != 0)
        return -1;

    st->db = db;
    st->import_id = in->import_id;
    st->user_id = in->user;
    st->fallback_currency = in->currency;
    st->account = in->account;
    if (stage_begin(st, err) != 0)
        return -1;
    struct stmt_error perr = { 0, "" };
    int prc = parse(in, st, &perr);
    if (prc != 0 || st->err.status != 0) {
        stage_abort(st);
        if (st->err.status != 0) {
            *err = st->err;
            return -1;
        }
        if (perr.line > 0)
            return si_error_set(err, 400, "parse_error", "line %ld: %s", perr.line, perr.message);
        return si_error_set(err, 400, "parse_error", "%s", perr.message);
    }
    if (st->rows == 0 && st->warnings_total == 0) {
        stage_abort(st);
        return si_error_set(err, 400, "no_transactions", "the file holds no transactions");
    }
    if (st->rows == 0) {
        stage_abort(st);
        in->fail_warnings = first_warnings(st->warnings);
        return si_error_set(err, 400, "no_readable_rows", "none of the %lld rows could be read: %s",
                            st->warnings_total, first_text(in->fail_warnings));
    }
    if (st->warnings_total * 100 > (st->rows + st->warnings_total) * INGEST_MAX_BAD_PERCENT) {
        stage_abort(st);
        in->fail_warnings = first_warnings(st->warnings);
        return si_error_set(err, 400, "too_many_bad_rows",
                            "%lld of %lld rows could not be read (see warnings), first %s", st->warnings_total,
                            st->rows + st->warnings_total, first_text(in->fail_warnings));
    }
    currency_assumed_warning(in, st);
    /* the lines where bad UTF-8 was replaced come first (they are not bad rows) */
    for (int k = in->repairs.n - 1; k >= 0; k--)
        json_array_insert_new(st->warnings, 0,
            json_pack("{s:I, s:s}", "line", (json_int_t)in->repairs.lines[k],
                      "message", "a byte sequence that is not UTF-8 was replaced by \xEF\xBF\xBD (U+FFFD)"));
    if (stage_end(st, err) != 0)
        return -1;
    if (st->mixed_currency)
        stage_warning(st, 0, "the file mixes currencies; totals add them up as they are");

    char rows[32], debit[32], credit[32], repeated[32];
    snprintf(rows, sizeof rows, "%lld", st->rows);
    snprintf(repeated, sizeof repeated, "%lld", st->repeated_rows);
    snprintf(debit, sizeof debit, "%lld", st->debit_minor);
    snprintf(credit, sizeof credit, "%lld", st->credit_minor);
    char *columns = in->columns ? json_dumps(in->columns, JSON_COMPACT) : NULL;
    char *warnings = json_dumps(st->warnings, JSON_COMPACT);
    const char *upd[] = { rows, debit, credit, st->date_from, st->date_to, st->currency, columns, warnings, repeated };
    bool moved = false;
    int rc = si_import_move(db, in->import_id, in->user, SI_IMPORT_PARSED,
                            ", rows_total = $5, debit_minor = $6, credit_minor = $7, date_from = $8, date_to = $9, "
                            "currency = $10, columns = $11::jsonb, warnings = $12::jsonb, repeated_rows = $13",
                            9, upd, &moved, err);
    if (rc == 0 && !moved)   /* cannot happen: the row was inserted uploaded in this transaction */
        rc = si_error_set(err, 500, "internal", "the new import was not in status uploaded");
    free(warnings);
    if (rc == 0 && in->mapping != NULL && in->columns != NULL) {
        const char *fp = json_string_value(json_object_get(in->columns, "fingerprint"));
        const char *map[] = { in->user, fp, columns };
        if (fp != NULL)
            rc = si_db_command(db,
                "INSERT INTO csv_mappings (user_id, fingerprint, mapping) VALUES ($1, $2, $3::jsonb) "
                "ON CONFLICT (user_id, fingerprint) DO UPDATE SET mapping = excluded.mapping, updated_at = now()",
                3, map, err);
    }
    free(columns);
    if (rc != 0)
        return -1;
    if (si_event_record(db, in->user, in->import_id, "import:parse:complete",
                        json_pack("{s:s, s:I, s:I, s:f}", "importId", in->import_id, "rowsTotal", (json_int_t)st->rows,
                                  "warnings", (json_int_t)st->warnings_total, "ms", si_ms_since(in->t0)), NULL,
                        err) != 0)
        return -1;
    return si_db_commit(db, err);
}

static int respond(struct ingest *in, struct stage *st, const struct preview_page *page, struct si_response *resp)
{
    json_t *body = json_pack("{s:b, s:s, s:s, s:I, s:{s:I, s:I, s:I, s:I, s:s}, s:{s:s, s:s}, s:O, s:O, s:O, s:O, s:I, "
                             "s:s}",
        "ok", 1, "importId", in->import_id, "format", stmt_format_name(in->format),
        "rowsTotal", (json_int_t)st->rows,
        "totals", "count", (json_int_t)st->rows, "debitMinor", (json_int_t)st->debit_minor,
        "creditMinor", (json_int_t)st->credit_minor, "netMinor", (json_int_t)(st->credit_minor - st->debit_minor),
        "currency", st->currency,
        "dateRange", "from", st->date_from, "to", st->date_to,
        "preview", page->rows, "verdicts", page->counts, "columns", in->columns ? in->columns : json_null(),
        "warnings", st->warnings, "warningsTotal", (json_int_t)st->warnings_total, "status", "parsed");
    if (body == NULL)
        return si_response_error(resp, 500, "internal", "out of memory");
    if (in->currency_assumed_rows > 0)
        json_object_set_new(body, "currencyAssumed",
                            json_pack("{s:s, s:s, s:I}", "currency", in->currency, "reason",
                                      in->currency_source ? in->currency_source : "service_default",
                                      "rows", (json_int_t)in->currency_assumed_rows));
    int rc = si_response_json(resp, 200, body);
    json_decref(body);
    return rc;
}

static void record_failure(struct si_ctx *ctx, struct ingest *in, const char *stage, const struct si_error *failure)
{
    if (in->user[0] == '\0' || ctx->db == NULL)
        return;
    struct si_error err;
    char type[40];
    snprintf(type, sizeof type, "import:%s:error", stage);
    /* the import row was rolled back with everything else: the event has no import id */
    if (si_event_record_error(ctx->db, in->user, NULL, type, failure, NULL, &err) != 0)
        si_logf(SI_LOG_WARN, "could not record %s: %s", type, err.message);
}

/* The account number and the token never travel in the URL of an upload:
 * nginx's error log prints the request line.  400 secret_in_url for the
 * account, and for the token the runtime's own 400 token_in_url (the same
 * answer as every other function's), both before the body is touched. */
static int refuse_secrets_in_url(const struct si_request *req, struct si_error *err)
{
    if (si_request_param(req, "accountId") != NULL || si_request_param(req, "account_id") != NULL)
        return si_error_set(err, 400, "secret_in_url",
                            "accountId must not be in the URL: send it in the X-Account-Id header or the body");
    if (si_request_param(req, "access_token") != NULL)
        return si_error_set(err, 400, "token_in_url",
                            "do not put the access token in the URL; send it in the Authorization header");
    return 0;
}

/* Takes one of the caller's upload slots: 0, or -1 with a 429 already in
 * resp (with Retry-After) when the caller has SMARTIMPORT_UPLOADS_PER_USER
 * uploads running. */
static int take_slot_or_reply(struct ingest_config *ic, struct ingest *in, struct si_response *resp)
{
    if (upload_slots_take(&ic->slots, in->user, ic->uploads_per_user)) {
        memcpy(in->slot_user, in->user, sizeof in->slot_user);
        return 0;
    }
    si_response_header(resp, "Retry-After", "1");
    si_response_error(resp, 429, "too_many_uploads",
                      "%d uploads of this user are already running; try again in a moment",
                      ic->uploads_per_user);
    return -1;
}

int ingest_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    struct ingest_config *ic = ctx->fn_config;
    struct ingest in;
    struct upload up;
    struct stage st;
    struct preview_page page = { 0 };
    struct categorizer *cat = NULL;
    struct si_error err;
    struct progress prog;
    const char *failed_stage = "upload";
    memset(&in, 0, sizeof in);
    memset(&st, 0, sizeof st);
    si_error_clear(&err);
    in.t0 = si_clock_ms();
    progress_init(&prog, ctx->config, in.t0);
    in.progress = &prog;
    int rc = -1;

    memset(&up, 0, sizeof up);
    if (refuse_secrets_in_url(req, &err) != 0)
        goto fail;
    /* with a token, identity and the per-user cap come before the body is read */
    if (ctx->config->auth_mode == SI_AUTH_JWT) {
        if (si_auth_identify(ctx->config, req, NULL, (long long)time(NULL), in.user, &err) != 0) {
            in.user[0] = '\0';
            goto fail;
        }
        if (take_slot_or_reply(ic, &in, resp) != 0)
            goto out;
        progress_set_user(&prog, in.user);
    }
    if (progress_upload_id(&prog, req, NULL, &err) != 0)
        goto fail;
    progress_watch_body(&prog, req);
    if (upload_read(ctx, req, &up, &err) != 0)
        goto fail;
    double upload_ms = si_ms_since(in.t0), stage_ms = 0;
    if (si_auth_identify(ctx->config, req, up.fields, (long long)time(NULL), in.user, &err) != 0) {
        in.user[0] = '\0';
        goto fail;
    }
    if (in.slot_user[0] == '\0' && take_slot_or_reply(ic, &in, resp) != 0)   /* trust-body: the user is in the body */
        goto out;
    progress_set_user(&prog, in.user);
    if (progress_upload_id(&prog, req, up.fields, &err) != 0)
        goto fail;
    if (read_fields(&in, up.fields, &err) != 0)
        goto fail;
    if (up.size == 0) {
        si_error_set(&err, 400, "empty_file", "the file is empty");
        goto fail;
    }
    if (in.mapping != NULL && supersede_parsed(ctx->db, in.user, up.sha256, &err) != 0)
        goto fail;
    int existing = answer_existing(ctx->db, in.user, up.sha256, resp, &err);
    if (existing != 0) {
        rc = existing > 0 ? 0 : -1;
        if (existing < 0)
            goto fail;
        goto out;
    }
    failed_stage = "parse";
    const char *encoding = NULL;
    if (encoding_to_utf8_repairs(ic->spool_dir, up.spool, &in.text, &encoding, &in.repairs, &err) != 0)
        goto fail;
    char head[4096];
    size_t n = fread(head, 1, sizeof head, in.text);
    rewind(in.text);
    in.format = stmt_detect(head, n);
    if (in.format == STMT_FORMAT_UNKNOWN) {
        si_error_set(&err, 400, "unsupported_format",
                     "the file is not a bank statement this service reads (CSV, OFX/QFX, QIF, CAMT.052/053/054, "
                     "MT940)");
        goto fail;
    }
    if (in.format == STMT_FORMAT_MT942) {
        si_error_set(&err, 422, "unsupported_format",
                     "the file is an MT942 interim report, which is not read (its entries are not final): "
                     "export an MT940 statement or CAMT.053 instead");
        goto fail;
    }
    if (read_settings(ctx->db, ic, &in, &err) != 0 || remembered_mapping(ctx->db, &in, &err) != 0)
        goto fail;
    cat = categorizer_load(ctx->db, in.user, &err);
    if (cat == NULL)
        goto fail;
    st.cat = cat;
    st.max_rows = INGEST_MAX_ROWS_DEFAULT;
    stage_ms = si_ms_since(in.t0);
    if (stage_import(ctx, &in, &up, &st, &err) != 0) {
        si_db_rollback(ctx->db);
        if (err.status == 409) {    /* the same file raced us in: answer with that import */
            int again = answer_existing(ctx->db, in.user, up.sha256, resp, &err);
            if (again > 0) {
                rc = 0;
                goto out;
            }
        }
        goto fail;
    }
    stage_ms = si_ms_since(in.t0) - stage_ms;
    /* merchants still "Other": one model request, the answers applied to the staged rows (never fails) */
    llmcat_apply(ctx->db, ctx->http, &ic->llm, in.user, in.import_id, st.warnings);
    /* every staged row's verdict counted, the first STAGE_PREVIEW shown (the staging is committed) */
    if (preview_page(ctx->db, in.user, in.import_id, NULL, 0, STAGE_PREVIEW, true, &page, &err) != 0)
        goto fail;
    si_log(SI_LOG_INFO, "import staged",
           json_pack("{s:s, s:s, s:s, s:I, s:I, s:f, s:f, s:f}", "importId", in.import_id,
                     "format", stmt_format_name(in.format), "encoding", encoding, "rows", (json_int_t)st.rows,
                     "bytes", (json_int_t)up.size, "uploadMs", upload_ms, "stageMs", stage_ms,
                     "ms", si_ms_since(in.t0)));
    rc = respond(&in, &st, &page, resp);
    goto out;
fail:
    si_db_rollback(ctx->db);
    if (in.fail_warnings != NULL && err.status >= 400 && err.code != NULL)
        respond_with_warnings(resp, &err, in.fail_warnings);
    else
        si_response_from_error(resp, &err);
    record_failure(ctx, &in, failed_stage, &err);
    rc = -1;
out:
    progress_cleanup(&prog);
    if (in.slot_user[0] != '\0')
        upload_slots_give(&ic->slots, in.slot_user);
    stage_cleanup(&st);
    preview_page_clear(&page);
    categorizer_free(cat);
    json_decref(in.columns);
    json_decref(in.remembered);
    json_decref(in.fail_warnings);
    if (in.text != NULL && in.text != up.spool)
        fclose(in.text);
    upload_cleanup(&up);
    return rc;
}
