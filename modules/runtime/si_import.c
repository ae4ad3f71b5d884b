/* si_import.c: the import status table and the one status write (see
 * si_import.h). */
#include "si_import.h"

#include <stdio.h>
#include <string.h>

static const char *const names[SI_IMPORT_STATUS_COUNT] = {
    [SI_IMPORT_UPLOADED] = "uploaded",
    [SI_IMPORT_PARSED] = "parsed",
    [SI_IMPORT_COMMITTED] = "committed",
    [SI_IMPORT_ANALYZED] = "analyzed",
    [SI_IMPORT_FAILED] = "failed",
    [SI_IMPORT_REVERTED] = "reverted",
};

/* allowed[from][to]: every move an import may make. */
static const bool allowed[SI_IMPORT_STATUS_COUNT][SI_IMPORT_STATUS_COUNT] = {
    [SI_IMPORT_UPLOADED] = { [SI_IMPORT_PARSED] = true },
    [SI_IMPORT_PARSED] = { [SI_IMPORT_COMMITTED] = true, [SI_IMPORT_FAILED] = true },
    [SI_IMPORT_COMMITTED] = { [SI_IMPORT_ANALYZED] = true, [SI_IMPORT_REVERTED] = true },
    [SI_IMPORT_ANALYZED] = { [SI_IMPORT_REVERTED] = true },
};

static bool valid(enum si_import_status s)
{
    return (unsigned)s < SI_IMPORT_STATUS_COUNT;
}

const char *si_import_status_name(enum si_import_status s)
{
    return valid(s) ? names[s] : "unknown";
}

int si_import_status_from_name(const char *name, enum si_import_status *out)
{
    for (int s = 0; name != NULL && s < SI_IMPORT_STATUS_COUNT; s++)
        if (strcmp(name, names[s]) == 0) {
            *out = (enum si_import_status)s;
            return 0;
        }
    return -1;
}

bool si_import_may_move(enum si_import_status from, enum si_import_status to)
{
    return valid(from) && valid(to) && allowed[from][to];
}

bool si_import_in_ledger(enum si_import_status s)
{
    return s == SI_IMPORT_COMMITTED || s == SI_IMPORT_ANALYZED;
}

bool si_import_name_in_ledger(const char *name)
{
    enum si_import_status s;
    return si_import_status_from_name(name, &s) == 0 && si_import_in_ledger(s);
}

bool si_import_holds_file(enum si_import_status s)
{
    return valid(s) && s != SI_IMPORT_FAILED && s != SI_IMPORT_REVERTED;
}

/* The statuses that may move to `to` as a PostgreSQL array literal: "{parsed}". */
static void sources(enum si_import_status to, char *out, size_t n)
{
    size_t len = (size_t)snprintf(out, n, "{");
    for (int s = 0; s < SI_IMPORT_STATUS_COUNT && len < n; s++)
        if (allowed[s][to])
            len += (size_t)snprintf(out + len, n - len, "%s%s", len > 1 ? "," : "", names[s]);
    if (len < n)
        snprintf(out + len, n - len, "}");
}

#define MOVE_EXTRA_MAX 12

int si_import_move(struct si_db *db, const char *import_id, const char *user_id, enum si_import_status to,
                   const char *set, int n_extra, const char *const *extra, bool *moved, struct si_error *err)
{
    if (!valid(to) || n_extra < 0 || n_extra > MOVE_EXTRA_MAX)
        return si_error_set(err, 500, "internal", "si_import_move: bad arguments");
    char from[96], sql[1024];
    sources(to, from, sizeof from);
    int len = snprintf(sql, sizeof sql,
                       "UPDATE imports SET status = $3, updated_at = now()%s "
                       "WHERE id = $1 AND user_id = $2 AND status = ANY($4::text[])", set != NULL ? set : "");
    if (len < 0 || (size_t)len >= sizeof sql)
        return si_error_set(err, 500, "internal", "si_import_move: statement too long");
    const char *params[4 + MOVE_EXTRA_MAX] = { import_id, user_id, names[to], from };
    for (int i = 0; i < n_extra; i++)
        params[4 + i] = extra[i];
    PGresult *res = si_db_exec(db, sql, 4 + n_extra, params, err);
    if (res == NULL)
        return -1;
    long long n = si_db_rows_affected(res);
    PQclear(res);
    if (n < 0)
        return si_db_bad_value(err, "the imports moved");
    if (moved != NULL)
        *moved = n > 0;
    return 0;
}
