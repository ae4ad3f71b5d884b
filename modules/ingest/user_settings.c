/* user_settings.c: the user-settings responder and the locale rules ingest uses
 * (see user_settings.h for the answers). */
#include "user_settings.h"
#include "si_auth.h"
#include "si_clock.h"
#include "si_json.h"
#include "si_money.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Regions whose people write numeric dates month first (CLDR's short date
 * patterns; English Canada as its banks' exports do). */
static const char *const month_first_regions[] = {
    "US", "PH", "FM", "MH", "PW", "AS", "GU", "MP", "PR", "UM", "VI", "BZ", NULL
};

/* Languages that write dates year first: the locale settles nothing between
 * DD/MM and MM/DD for them. */
static const char *const year_first_languages[] = { "ja", "ko", "zh", "hu", "lt", "mn", NULL };

static bool listed(const char *const *list, const char *s)
{
    for (size_t i = 0; list[i] != NULL; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

int user_settings_locale_normalize(const char *in, char *out, size_t size)
{
    char part[3][9];
    int nparts = 0;
    size_t len = in ? strlen(in) : 0;
    if (len == 0 || len > USER_SETTINGS_LOCALE_MAX || size < USER_SETTINGS_LOCALE_MAX + 1)
        return -1;
    for (const char *p = in; *p != '\0';) {
        size_t n = strcspn(p, "-_");
        if (n == 0 || n > 8 || nparts == 3)
            return -1;
        memcpy(part[nparts], p, n);
        part[nparts++][n] = '\0';
        p += n;
        if (*p != '\0' && *++p == '\0')
            return -1;   /* a trailing separator */
    }
    size_t n0 = strlen(part[0]);
    if (n0 < 2 || n0 > 3)
        return -1;
    for (size_t i = 0; i < n0; i++) {
        if (!isalpha((unsigned char)part[0][i]))
            return -1;
        part[0][i] = (char)tolower((unsigned char)part[0][i]);
    }
    int k = 1;
    bool script = false;
    if (k < nparts && strlen(part[k]) == 4) {   /* Script: Latn, Hant */
        for (int i = 0; i < 4; i++) {
            if (!isalpha((unsigned char)part[k][i]))
                return -1;
            part[k][i] = (char)(i == 0 ? toupper((unsigned char)part[k][i]) : tolower((unsigned char)part[k][i]));
        }
        script = true;
        k++;
    }
    bool region = false;
    if (k < nparts) {                           /* REGION: DE, or 419 */
        size_t n = strlen(part[k]);
        bool alpha = n == 2 && isalpha((unsigned char)part[k][0]) && isalpha((unsigned char)part[k][1]);
        bool digits = n == 3 && isdigit((unsigned char)part[k][0]) && isdigit((unsigned char)part[k][1]) &&
                      isdigit((unsigned char)part[k][2]);
        if (!alpha && !digits)
            return -1;
        for (size_t i = 0; i < n; i++)
            part[k][i] = (char)toupper((unsigned char)part[k][i]);
        region = true;
        k++;
    }
    if (k != nparts)
        return -1;
    snprintf(out, size, "%s%s%s%s%s", part[0], script ? "-" : "", script ? part[1] : "", region ? "-" : "",
             region ? part[k - 1] : "");
    return 0;
}

int user_settings_day_first(const char *locale)
{
    char tag[USER_SETTINGS_LOCALE_MAX + 1], lang[4];
    if (user_settings_locale_normalize(locale, tag, sizeof tag) != 0)
        return -1;
    size_t n = strcspn(tag, "-");
    snprintf(lang, sizeof lang, "%.*s", (int)n, tag);
    const char *region = strrchr(tag, '-');
    if (region != NULL && strlen(region + 1) != 2)
        region = NULL;   /* a script, or a numeric region such as 419 (Latin America: day first) */
    if (listed(year_first_languages, lang))
        return -1;
    if (region != NULL && strcmp(region + 1, "CA") == 0)
        return strcmp(lang, "en") == 0 ? 0 : 1;
    if (region != NULL)
        return listed(month_first_regions, region + 1) ? 0 : 1;
    return strcmp(lang, "en") == 0 ? -1 : 1;
}

static const char settings_select[] =
    "SELECT s.default_currency, s.locale, " SI_SQL_UTC_MS("s.updated_at") " FROM (SELECT 1) one "
    "LEFT JOIN user_settings s ON s.user_id = $1";

/* The answer: the settings row res (NULLs when the user has none). */
static int answer(struct si_response *resp, PGresult *res)
{
    const char *locale = PQgetisnull(res, 0, 1) ? NULL : PQgetvalue(res, 0, 1);
    int day_first = locale ? user_settings_day_first(locale) : -1;
    json_t *body = json_pack("{s:b, s:s?, s:s?, s:s?, s:s?}", "ok", 1,
        "defaultCurrency", PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0), "locale", locale,
        "dateOrder", day_first < 0 ? NULL : day_first ? "day_first" : "month_first",
        "updatedAt", PQgetisnull(res, 0, 2) ? NULL : PQgetvalue(res, 0, 2));
    if (body == NULL)
        return si_response_error(resp, 500, "internal", "out of memory");
    int rc = si_response_json(resp, 200, body);
    json_decref(body);
    return rc;
}

/* One key of the body: 0 absent, 1 given (value in out, "" for null), -1 bad. */
static int field(const json_t *body, const char *key, char *out, size_t size, struct si_error *err)
{
    const json_t *v = json_object_get(body, key);
    out[0] = '\0';
    if (v == NULL)
        return 0;
    if (json_is_null(v))
        return 1;
    if (!json_is_string(v) || json_string_length(v) >= size || strlen(json_string_value(v)) != json_string_length(v))
        return si_error_set(err, 400, "bad_field", "%s must be a string or null", key);
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 1;
}

static int set(struct si_ctx *ctx, const char *user, struct si_response *resp,
               json_t *body, struct si_error *err)
{
    char currency[8], locale_in[USER_SETTINGS_LOCALE_MAX + 1], locale[USER_SETTINGS_LOCALE_MAX + 1] = "";
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)body, key, v)
        if (strcmp(key, "defaultCurrency") != 0 && strcmp(key, "locale") != 0 && strcmp(key, "userId") != 0)
            return si_error_set(err, 400, "bad_body", "unknown key %.40s: send defaultCurrency and/or locale", key);
    int has_currency = field(body, "defaultCurrency", currency, sizeof currency, err);
    int has_locale = has_currency < 0 ? -1 : field(body, "locale", locale_in, sizeof locale_in, err);
    if (has_currency < 0 || has_locale < 0)
        return -1;
    if (!has_currency && !has_locale)
        return si_error_set(err, 400, "bad_body", "send defaultCurrency and/or locale (null clears one)");
    if (currency[0] != '\0' && !si_currency_code_valid(currency))
        return si_error_set(err, 400, "bad_field", "defaultCurrency must be an ISO 4217 code such as EUR, or null");
    if (locale_in[0] != '\0' && user_settings_locale_normalize(locale_in, locale, sizeof locale) != 0)
        return si_error_set(err, 400, "bad_field", "locale must be a language tag such as en-US or de-DE, or null");
    const char *p[] = { user, currency[0] ? currency : NULL, locale[0] ? locale : NULL,
                        has_currency ? "t" : "f", has_locale ? "t" : "f" };
    PGresult *res = si_db_exec(ctx->db,
        "INSERT INTO user_settings AS s (user_id, default_currency, locale) VALUES ($1, $2, $3) "
        "ON CONFLICT (user_id) DO UPDATE SET "
        "  default_currency = CASE WHEN $4::bool THEN excluded.default_currency ELSE s.default_currency END, "
        "  locale = CASE WHEN $5::bool THEN excluded.locale ELSE s.locale END, updated_at = now() "
        "RETURNING s.default_currency, s.locale, " SI_SQL_UTC_MS("s.updated_at"), 5, p, err);
    if (res == NULL)
        return -1;
    answer(resp, res);   /* its own 500 when out of memory */
    PQclear(res);
    return 0;
}

int user_settings_handle(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    char user[SI_UUID_LEN + 1];
    struct si_error err;
    json_t *body = NULL;
    si_error_clear(&err);
    int rc;
    bool write = strcmp(req->method, "GET") != 0;
    if ((write && si_json_read_body(req, ctx->scratch, &body, &err) != 0) ||
        si_auth_identify(ctx->config, req, body, (long long)time(NULL), user, &err) != 0) {
        rc = si_response_from_error(resp, &err);
    } else if (write) {
        rc = set(ctx, user, resp, body, &err) == 0 ? 0 : si_response_from_error(resp, &err);
    } else {
        const char *p[] = { user };
        PGresult *res = si_db_exec(ctx->db, settings_select, 1, p, &err);
        rc = res == NULL ? si_response_from_error(resp, &err) : answer(resp, res);
        PQclear(res);
    }
    json_decref(body);
    return rc;
}
