/* si_db_get.c: typed reads of result cells (see si_db.h, "Reading results").
 *
 * PostgreSQL sends every value as text; these turn a cell into a number, a
 * boolean or a string and say when it is SQL NULL or not what the column
 * should hold, instead of each caller running strtoll/atoi on PQgetvalue and
 * reading 0 for NULL, garbage or an overflow. */
#include "si_db.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

static bool cell_exists(const PGresult *res, int row, int col)
{
    return res != NULL && row >= 0 && col >= 0 && row < PQntuples(res) && col < PQnfields(res);
}

int si_db_get_int64(const PGresult *res, int row, int col, long long *out)
{
    if (!cell_exists(res, row, col))
        return -1;
    if (PQgetisnull(res, row, col))
        return 1;
    const char *s = PQgetvalue(res, row, col);
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int si_db_get_int(const PGresult *res, int row, int col, int *out)
{
    long long v = 0;
    int rc = si_db_get_int64(res, row, col, &v);
    if (rc != 0)
        return rc;
    if (v < INT_MIN || v > INT_MAX)
        return -1;
    *out = (int)v;
    return 0;
}

int si_db_get_bool(const PGresult *res, int row, int col, bool *out)
{
    if (!cell_exists(res, row, col))
        return -1;
    if (PQgetisnull(res, row, col))
        return 1;
    const char *s = PQgetvalue(res, row, col);
    if (s[0] == 't' && s[1] == '\0')
        *out = true;
    else if (s[0] == 'f' && s[1] == '\0')
        *out = false;
    else
        return -1;
    return 0;
}

const char *si_db_get_text(const PGresult *res, int row, int col)
{
    if (!cell_exists(res, row, col) || PQgetisnull(res, row, col))
        return NULL;
    return PQgetvalue(res, row, col);
}

long long si_db_rows_affected(const PGresult *res)
{
    const char *s = res != NULL ? PQcmdTuples((PGresult *)res) : "";
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0)
        return -1;
    return v;
}

int si_db_bad_value(struct si_error *err, const char *what)
{
    return si_error_set(err, 500, "internal", "unexpected database value: %s", what);
}
