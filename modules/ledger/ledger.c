/* ledger.c: what the ledger responders share: the caller, dates, cursors, numbers, rule
 * matches, the category list and writing a user's rule (see ledger.h). */
#include "ledger.h"
#include "si_auth.h"
#include "si_base64.h"
#include "si_clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int ledger_identify(struct si_ctx *ctx, const struct si_request *req, const json_t *body,
                    char user[SI_UUID_LEN + 1], struct si_error *err)
{
    return si_auth_identify(ctx->config, req, body, (long long)time(NULL), user, err);
}

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

bool ledger_date_valid(const char *s)
{
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4) || !digits(s + 5, 2) ||
        !digits(s + 8, 2))
        return false;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0'), d = (s[8] - '0') * 10 + (s[9] - '0');
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= days[m - 1] + (m == 2 && leap ? 1 : 0);
}

int ledger_cursor_encode(const char *date, long long id, char *out, size_t cap)
{
    char plain[40];
    int n = snprintf(plain, sizeof plain, "%s:%lld", date, id);
    if (n < 0 || (size_t)n >= sizeof plain)
        return -1;
    struct si_buf b;
    si_buf_init(&b, LEDGER_CURSOR_MAX);
    int rc = -1;
    if (si_base64url_encode((const unsigned char *)plain, (size_t)n, &b) == 0 && si_buf_append(&b, "", 1) == 0 &&
        b.len <= cap) {
        memcpy(out, b.data, b.len);
        rc = 0;
    }
    si_buf_cleanup(&b);
    return rc;
}

int ledger_cursor_decode(const char *text, char date[11], long long *id)
{
    unsigned char plain[48];
    size_t n = 0;
    if (text == NULL || strlen(text) > LEDGER_CURSOR_MAX ||
        si_base64url_decode(text, strlen(text), plain, sizeof plain - 1, &n) != 0 || n < 12 || plain[10] != ':')
        return -1;
    plain[n] = '\0';
    char d[11];
    memcpy(d, plain, 10);
    d[10] = '\0';
    if (memchr(plain, '\0', n) != NULL || !ledger_date_valid(d) ||
        si_parse_long((const char *)plain + 11, 1, 9223372036854775807LL, id) != 0)
        return -1;
    memcpy(date, d, 11);
    return 0;
}

int ledger_match_normalize(const char *in, char *out, size_t cap, struct si_error *err)
{
    size_t o = 0, chars = 0;
    bool space = false;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
            space = o > 0;
            continue;
        }
        if (*p < 0x20 || *p == 0x7f)
            return si_error_set(err, 400, "bad_field", "match must be text without control characters");
        if (space) {
            if (o + 1 >= cap)
                goto long_;
            out[o++] = ' ';
            chars++;
            space = false;
        }
        if (o + 1 >= cap)
            goto long_;
        out[o++] = (char)*p;
        if ((*p & 0xc0) != 0x80)
            chars++;
    }
    out[o] = '\0';
    if (chars > LEDGER_MATCH_MAX)
        goto long_;
    if (chars < LEDGER_MATCH_MIN)
        return si_error_set(err, 400, "bad_field", "match must hold at least %d characters", LEDGER_MATCH_MIN);
    return 0;
long_:
    return si_error_set(err, 400, "bad_field", "match must hold at most %d characters", LEDGER_MATCH_MAX);
}

int ledger_category_known(struct si_db *db, const char *category, struct si_error *err)
{
    if (strcmp(category, "Other") == 0)
        return 1;
    const char *p[] = { category };
    PGresult *res = si_db_exec(db, "SELECT 1 FROM category_rules_builtin WHERE category = $1 LIMIT 1", 1, p, err);
    if (res == NULL)
        return -1;
    int known = PQntuples(res) > 0;
    PQclear(res);
    return known;
}

int ledger_rule_upsert(struct si_db *db, const char *user, const char *match, const char *category,
                       json_t **out_rule, bool *created, struct si_error *err)
{
    *out_rule = NULL;
    char max[16];
    snprintf(max, sizeof max, "%d", LEDGER_RULES_MAX);
    const char *p[] = { user, match, category, max };
    /* A new match past the cap writes nothing (0 rows); an existing one is replaced. */
    PGresult *res = si_db_exec(db,
        "INSERT INTO category_rules AS r (user_id, keyword, category) "
        "SELECT $1::uuid, lower($2), $3 WHERE (SELECT count(*) FROM category_rules WHERE user_id = $1::uuid) < $4::int "
        "  OR EXISTS (SELECT 1 FROM category_rules WHERE user_id = $1::uuid AND keyword = lower($2)) "
        "ON CONFLICT (user_id, keyword) DO UPDATE SET category = excluded.category "
        "RETURNING json_build_object('id', r.id, 'match', r.keyword, 'category', r.category, "
        "  'created_at', " SI_SQL_UTC_MS("r.created_at") ")::text, (r.xmax = 0)",
        4, p, err);
    if (res == NULL)
        return -1;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return si_error_set(err, 409, "too_many_rules", "at most %d rules per user: delete one first", LEDGER_RULES_MAX);
    }
    bool fresh = false;
    json_t *rule = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    int got = si_db_get_bool(res, 0, 1, &fresh);
    PQclear(res);
    if (rule == NULL || got != 0) {
        json_decref(rule);
        return si_error_set(err, 500, "internal", "could not read the rule written");
    }
    *out_rule = rule;
    *created = fresh;
    return 0;
}
