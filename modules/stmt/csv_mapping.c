/* csv_mapping.c: the column mapping as JSON, both ways, for the CSV engine.
 *
 * In: the user's override (any subset of the mapping keys), checked for
 * shape and values before any parsing, and for column indexes once the
 * number of columns is known.  Out: the mapping that was used, as the UI
 * shows it, with the header fingerprint the responder files it under. */
#include "csv.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "stmt_util.h"

static const enum csv_role singular[] = {
    CSV_ROLE_DATE, CSV_ROLE_AMOUNT, CSV_ROLE_DEBIT, CSV_ROLE_CREDIT, CSV_ROLE_INDICATOR,
    CSV_ROLE_CURRENCY, CSV_ROLE_BALANCE, CSV_ROLE_REFERENCE, CSV_ROLE_COUNTERPARTY,
    CSV_ROLE_COUNTERPARTY_ACCOUNT,
};
#define NSINGULAR (sizeof singular / sizeof singular[0])

static int column_index(const json_t *v, const char *key, int *out, struct stmt_error *err)
{
    if (json_is_null(v)) {
        *out = -1;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) >= CSV_MAX_FIELDS) {
        csv_set_error(err, 0, "mapping: '%s' must be a column index (0 or more) or null", key);
        return -1;
    }
    *out = (int)json_integer_value(v);
    return 0;
}

static int one_char(const json_t *v, const char *key, const char *allowed, bool empty_ok, char *out,
                    struct stmt_error *err)
{
    const char *s = json_string_value(v);
    if (json_is_null(v) && empty_ok) {
        *out = 0;
        return 0;
    }
    if (s != NULL && s[0] == '\0' && empty_ok) {
        *out = 0;
        return 0;
    }
    if (s == NULL || strlen(s) != 1 || strchr(allowed, s[0]) == NULL) {
        csv_set_error(err, 0, "mapping: '%s' must be one of the characters \"%s\"%s", key, allowed,
                      empty_ok ? " or \"\"" : "");
        return -1;
    }
    *out = s[0];
    return 0;
}

int csv_override_parse(const json_t *o, struct csv_override *ov, struct stmt_error *err)
{
    memset(ov, 0, sizeof *ov);
    for (int r = 0; r < CSV_ROLE_COUNT; r++)
        ov->col[r] = -1;
    ov->date_format = -1;
    if (o == NULL)
        return 0;
    if (!json_is_object(o)) {
        csv_set_error(err, 0, "mapping: must be a JSON object");
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)o, key, v) {
        bool known = false;
        for (size_t k = 0; k < NSINGULAR; k++) {
            enum csv_role r = singular[k];
            if (strcmp(key, csv_role_key(r)) == 0) {
                if (column_index(v, key, &ov->col[r], err) != 0)
                    return -1;
                ov->has_col[r] = true;
                known = true;
            }
        }
        if (known || strcmp(key, "columns") == 0 || strcmp(key, "fingerprint") == 0)
            continue;
        if (strcmp(key, "delimiter") == 0) {
            const char *d = json_string_value(v);
            if (d == NULL || strlen(d) != 1 || strchr(",;\t|", d[0]) == NULL) {
                csv_set_error(err, 0, "mapping: 'delimiter' must be one of , ; | or a tab");
                return -1;
            }
            ov->delimiter = d[0];
            ov->has_delimiter = true;
        } else if (strcmp(key, "headerLine") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                json_integer_value(v) > 1000000000) {
                csv_set_error(err, 0, "mapping: 'headerLine' must be a line number (0 = no header)");
                return -1;
            }
            ov->header_line = (long)json_integer_value(v);
            ov->has_header_line = true;
        } else if (strcmp(key, "description") == 0) {
            ov->has_desc = true;
            if (json_is_null(v))
                continue;
            if (json_is_integer(v)) {
                if (column_index(v, key, &ov->desc[0], err) != 0)
                    return -1;
                ov->ndesc = 1;
                continue;
            }
            if (!json_is_array(v) || json_array_size(v) > CSV_MAX_DESC_COLUMNS) {
                csv_set_error(err, 0, "mapping: 'description' must be a list of up to %d column indexes",
                              CSV_MAX_DESC_COLUMNS);
                return -1;
            }
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e) {
                int idx;
                if (json_is_null(e) || column_index(e, key, &idx, err) != 0) {
                    csv_set_error(err, 0, "mapping: 'description' must be a list of column indexes");
                    return -1;
                }
                for (size_t j = 0; j < ov->ndesc; j++) {
                    if (ov->desc[j] == idx) {
                        csv_set_error(err, 0, "mapping: 'description' lists column %d twice", idx);
                        return -1;
                    }
                }
                ov->desc[ov->ndesc++] = idx;
            }
        } else if (strcmp(key, "dateFormat") == 0) {
            if (json_is_null(v))
                continue;
            ov->date_format = csv_date_format_from_name(json_string_value(v));
            if (ov->date_format < 0) {
                csv_set_error(err, 0, "mapping: 'dateFormat' is not a known date format "
                                      "(e.g. \"YYYY-MM-DD\", \"DD/MM/YYYY\", \"MM/DD/YY\")");
                return -1;
            }
            ov->has_date_format = true;
        } else if (strcmp(key, "decimal") == 0) {
            if (one_char(v, key, ".,", false, &ov->decimal, err) != 0)
                return -1;
            ov->has_decimal = true;
        } else if (strcmp(key, "thousands") == 0) {
            if (one_char(v, key, ",.' ", true, &ov->thousands, err) != 0)
                return -1;
            ov->has_thousands = true;
        } else if (strcmp(key, "dayFirst") == 0) {
            if (!json_is_boolean(v)) {
                csv_set_error(err, 0, "mapping: 'dayFirst' must be true or false");
                return -1;
            }
            ov->day_first = json_is_true(v);
            ov->has_day_first = true;
        } else if (strcmp(key, "negate") == 0) {
            if (!json_is_boolean(v)) {
                csv_set_error(err, 0, "mapping: 'negate' must be true or false");
                return -1;
            }
            ov->negate = json_is_true(v);
            ov->has_negate = true;
        } else {
            csv_set_error(err, 0, "mapping: unknown key '%.40s'", key);
            return -1;
        }
    }
    if (ov->has_decimal && ov->has_thousands && ov->decimal == ov->thousands) {
        csv_set_error(err, 0, "mapping: 'decimal' and 'thousands' must differ");
        return -1;
    }
    if (ov->col[CSV_ROLE_AMOUNT] >= 0 && (ov->col[CSV_ROLE_DEBIT] >= 0 || ov->col[CSV_ROLE_CREDIT] >= 0)) {
        csv_set_error(err, 0, "mapping: give either 'amount' or 'debit'/'credit', not both");
        return -1;
    }
    if (ov->col[CSV_ROLE_INDICATOR] >= 0 && ov->has_col[CSV_ROLE_AMOUNT] && ov->col[CSV_ROLE_AMOUNT] < 0) {
        csv_set_error(err, 0, "mapping: 'indicator' needs an 'amount' column");
        return -1;
    }
    for (size_t a = 0; a < NSINGULAR; a++) {
        for (size_t b = a + 1; b < NSINGULAR; b++) {
            int ca = ov->col[singular[a]], cb = ov->col[singular[b]];
            if (ca >= 0 && ca == cb) {
                csv_set_error(err, 0, "mapping: '%s' and '%s' use the same column",
                              csv_role_key(singular[a]), csv_role_key(singular[b]));
                return -1;
            }
        }
        for (size_t j = 0; j < ov->ndesc; j++) {
            if (ov->col[singular[a]] == ov->desc[j]) {
                csv_set_error(err, 0, "mapping: '%s' and 'description' use the same column",
                              csv_role_key(singular[a]));
                return -1;
            }
        }
    }
    return 0;
}

int csv_override_check_columns(const struct csv_override *ov, size_t ncols, struct stmt_error *err)
{
    for (size_t k = 0; k < NSINGULAR; k++) {
        int c = ov->col[singular[k]];
        if (c >= 0 && (size_t)c >= ncols) {
            csv_set_error(err, 0, "mapping: '%s' is column %d but the file has %zu columns (0 to %zu)",
                          csv_role_key(singular[k]), c, ncols, ncols - 1);
            return -1;
        }
    }
    for (size_t j = 0; j < ov->ndesc; j++) {
        if ((size_t)ov->desc[j] >= ncols) {
            csv_set_error(err, 0, "mapping: 'description' names column %d but the file has %zu columns",
                          ov->desc[j], ncols);
            return -1;
        }
    }
    return 0;
}

int csv_fingerprint(const char *const *names, size_t nnames, size_t ncols, char delimiter,
                    char out[65])
{
    int rc = -1;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char *copy = NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        goto out;
    if (names == NULL) {
        char buf[48];
        int n = snprintf(buf, sizeof buf, "%zu\x1f%c", ncols, delimiter);
        if (n < 0 || (size_t)n >= sizeof buf || EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
            goto out;
    } else {
        for (size_t i = 0; i < nnames; i++) {
            const char *name = names[i] != NULL ? names[i] : "";
            free(copy);
            copy = strdup(name);
            if (copy == NULL)
                goto out;
            stmt_normalize_text(copy);
            for (char *p = copy; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            if ((i > 0 && EVP_DigestUpdate(ctx, "\x1f", 1) != 1) ||
                EVP_DigestUpdate(ctx, copy, strlen(copy)) != 1)
                goto out;
        }
    }
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)
        goto out;
    for (unsigned int i = 0; i < mdlen; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    rc = 0;
out:
    free(copy);
    EVP_MD_CTX_free(ctx);
    return rc;
}

static json_t *index_or_null(int c)
{
    return c >= 0 ? json_integer(c) : json_null();
}

json_t *csv_mapping_json(const struct csv_mapping *m, json_t *names)
{
    json_t *o = json_object(), *desc = json_array();
    char delim[2] = { m->delimiter, 0 }, dec[2] = { m->decimal, 0 }, th[2] = { m->thousands, 0 };
    const char *df = csv_date_format_name(m->date_format);
    int bad = o == NULL || desc == NULL;
    for (size_t i = 0; !bad && i < m->ndesc; i++)
        bad |= json_array_append_new(desc, json_integer(m->desc[i])) != 0;
    if (bad) {
        json_decref(desc);
        json_decref(o);
        return NULL;
    }
    bad |= json_object_set_new(o, "delimiter", json_string(delim)) != 0;
    bad |= json_object_set_new(o, "headerLine", json_integer(m->header_line)) != 0;
    bad |= json_object_set_new(o, "columns", names != NULL ? json_incref(names) : json_array()) != 0;
    bad |= json_object_set_new(o, "date", index_or_null(m->col[CSV_ROLE_DATE])) != 0;
    bad |= json_object_set_new(o, "description", desc) != 0;
    for (size_t k = 1; k < NSINGULAR; k++)
        bad |= json_object_set_new(o, csv_role_key(singular[k]), index_or_null(m->col[singular[k]])) != 0;
    bad |= json_object_set_new(o, "dateFormat", df != NULL ? json_string(df) : json_null()) != 0;
    bad |= json_object_set_new(o, "decimal", json_string(dec)) != 0;
    bad |= json_object_set_new(o, "thousands", json_string(th)) != 0;
    bad |= json_object_set_new(o, "negate", json_boolean(m->negate)) != 0;
    bad |= json_object_set_new(o, "fingerprint", json_string(m->fingerprint)) != 0;
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}
