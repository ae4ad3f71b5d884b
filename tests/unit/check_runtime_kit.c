/* check_runtime_kit.c: the runtime's shared helpers that modules used to
 * copy: numeric settings (si_env_long/si_env_int), typed result cells
 * (si_db_get_*), the UTC timestamp, the error-event payload, a function's
 * start-up hook, and the import status machine. */
#include <check.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <limits.h>
#include <regex.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "si_base64.h"
#include "si_clock.h"
#include "si_config.h"
#include "si_db.h"
#include "si_event.h"
#include "si_function.h"
#include "si_idempotency.h"
#include "si_import.h"

/* --- numeric settings ----------------------------------------------------- */

static const struct {
    const char *value;
    bool ok;
    long long want;
} settings[] = {
    { "7", true, 7 },   { "1", true, 1 },     { "64", true, 64 },     { "", true, 5 },
    { "0", false, 0 },  { "65", false, 0 },   { "abc", false, 0 },    { "4x", false, 0 },
    { " 4", false, 0 }, { "+4", false, 0 },   { "4 ", false, 0 },     { "1e3", false, 0 },
    { "-1", false, 0 }, { "99999999999999999999", false, 0 },         { "0x10", false, 0 },
};

START_TEST(a_numeric_setting_is_an_integer_in_bounds_or_the_start_is_refused)
{
    char var[64];
    snprintf(var, sizeof var, "SMARTIMPORT_TEST_N=%s", settings[_i].value);
    char *env[] = { var, NULL };
    struct si_error err;
    si_error_clear(&err);
    long long v = 5;
    int rc = si_env_long(env, "SMARTIMPORT_TEST_N", 1, 64, &v, &err);
    if (settings[_i].ok) {
        ck_assert_msg(rc == 0, "'%s' refused", settings[_i].value);
        ck_assert_int_eq(v, settings[_i].want);
    } else {
        ck_assert_msg(rc == -1, "'%s' accepted", settings[_i].value);
        ck_assert_int_eq(v, 5);   /* never a silent fallback: the caller refuses to start */
        ck_assert_str_eq(err.code, "bad_config");
        ck_assert_msg(strstr(err.message, "SMARTIMPORT_TEST_N") != NULL, "'%s' does not name the variable",
                      err.message);
    }
    int n = 5;
    ck_assert_int_eq(si_env_int(env, "SMARTIMPORT_TEST_N", 1, 64, &n, &err), rc);
    ck_assert_int_eq(n, settings[_i].ok ? (int)settings[_i].want : 5);
}
END_TEST

START_TEST(an_unset_setting_keeps_the_default)
{
    char *env[] = { "OTHER=1", NULL };
    struct si_error err;
    int n = 42;
    ck_assert_int_eq(si_env_int(env, "SMARTIMPORT_TEST_N", 1, 64, &n, &err), 0);
    ck_assert_int_eq(n, 42);
}
END_TEST

/* --- typed result cells ---------------------------------------------------- */

/* A result of one text column holding the given cells (NULL = SQL NULL). */
static PGresult *column_of(const char *const *cells, int n)
{
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc att = { .name = "v", .format = 0, .typid = 25, .typlen = -1, .atttypmod = -1 };
    ck_assert_ptr_nonnull(res);
    ck_assert_int_eq(PQsetResultAttrs(res, 1, &att), 1);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(PQsetvalue(res, i, 0, (char *)cells[i], cells[i] ? (int)strlen(cells[i]) : -1), 1);
    return res;
}

START_TEST(integer_cells_are_read_with_null_and_garbage_told_apart)
{
    const char *cells[] = { "42", "-9000000000000", NULL, "", "12x", "99999999999999999999", "3000000000" };
    PGresult *res = column_of(cells, 7);
    long long v = -1;
    ck_assert_int_eq(si_db_get_int64(res, 0, 0, &v), 0);
    ck_assert_int_eq(v, 42);
    ck_assert_int_eq(si_db_get_int64(res, 1, 0, &v), 0);
    ck_assert_int_eq(v, -9000000000000LL);
    v = 7;
    ck_assert_int_eq(si_db_get_int64(res, 2, 0, &v), 1);   /* SQL NULL: the caller's default stays */
    ck_assert_int_eq(v, 7);
    ck_assert_int_eq(si_db_get_int64(res, 3, 0, &v), -1);
    ck_assert_int_eq(si_db_get_int64(res, 4, 0, &v), -1);
    ck_assert_int_eq(si_db_get_int64(res, 5, 0, &v), -1);  /* overflow, not LLONG_MAX */
    ck_assert_int_eq(v, 7);
    ck_assert_int_eq(si_db_get_int64(res, 9, 0, &v), -1);  /* no such row */
    ck_assert_int_eq(si_db_get_int64(res, 0, 3, &v), -1);  /* no such column */
    int i = 0;
    ck_assert_int_eq(si_db_get_int(res, 0, 0, &i), 0);
    ck_assert_int_eq(i, 42);
    ck_assert_int_eq(si_db_get_int(res, 6, 0, &i), -1);    /* beyond int */
    ck_assert_int_eq(i, 42);
    PQclear(res);
}
END_TEST

START_TEST(boolean_and_text_cells_are_null_aware)
{
    const char *cells[] = { "t", "f", NULL, "yes", "" };
    PGresult *res = column_of(cells, 5);
    bool b = false;
    ck_assert_int_eq(si_db_get_bool(res, 0, 0, &b), 0);
    ck_assert(b);
    ck_assert_int_eq(si_db_get_bool(res, 1, 0, &b), 0);
    ck_assert(!b);
    ck_assert_int_eq(si_db_get_bool(res, 2, 0, &b), 1);
    ck_assert_int_eq(si_db_get_bool(res, 3, 0, &b), -1);
    ck_assert_str_eq(si_db_get_text(res, 0, 0), "t");
    ck_assert_ptr_null(si_db_get_text(res, 2, 0));        /* NULL, where PQgetvalue says "" */
    ck_assert_str_eq(si_db_get_text(res, 4, 0), "");      /* an empty string is not NULL */
    ck_assert_ptr_null(si_db_get_text(res, 5, 0));
    ck_assert_int_eq(si_db_rows_affected(res), -1);        /* a SELECT made here carries no count */
    PQclear(res);
}
END_TEST

/* --- the UTC timestamp ----------------------------------------------------- */

START_TEST(timestamps_are_iso_8601_utc_with_milliseconds)
{
    char ts[SI_UTC_TIMESTAMP_SIZE];
    si_utc_timestamp(ts, sizeof ts);
    regex_t re;
    ck_assert_int_eq(regcomp(&re, "^[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\\.[0-9]{3}Z$",
                             REG_EXTENDED | REG_NOSUB), 0);
    ck_assert_msg(regexec(&re, ts, 0, NULL, 0) == 0, "'%s'", ts);
    regfree(&re);
    ck_assert_uint_eq(strlen(ts), SI_UTC_TIMESTAMP_SIZE - 1);
    char small[11];
    si_utc_timestamp(small, sizeof small);   /* cut, never overrun */
    ck_assert_uint_eq(strlen(small), 10);
    ck_assert_int_eq(strncmp(small, ts, 4), 0);
}
END_TEST

START_TEST(sql_timestamps_are_spelled_like_the_runtime_s)
{
    ck_assert_str_eq(SI_SQL_UTC_MS("created_at"),
                     "to_char((created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')");
    ck_assert_str_eq(SI_SQL_UTC_S("x"), "to_char((x) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')");
}
END_TEST

/* --- the error event's payload --------------------------------------------- */

START_TEST(every_error_event_has_one_payload_shape)
{
    struct si_error failure;
    si_error_set(&failure, 409, "staging_lost", "gone");
    json_t *p = si_event_error_payload("0b6f9c4e-1c1a-4c58-a0e6-3d1f7a1b2c3d", &failure,
                                       json_pack("{s:s}", "handoffId", "5a7d1b2c-0000-4000-8000-000000000001"));
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(json_string_value(json_object_get(p, "code")), "staging_lost");
    ck_assert_int_eq(json_integer_value(json_object_get(p, "status")), 409);
    ck_assert_str_eq(json_string_value(json_object_get(p, "importId")), "0b6f9c4e-1c1a-4c58-a0e6-3d1f7a1b2c3d");
    ck_assert_ptr_nonnull(json_object_get(p, "handoffId"));
    ck_assert_uint_eq(json_object_size(p), 4);
    ck_assert(si_event_payload_safe(p));
    json_decref(p);

    struct si_error bare;
    si_error_clear(&bare);
    bare.status = 500;
    p = si_event_error_payload(NULL, &bare, NULL);   /* no code: internal; no import: no importId */
    ck_assert_str_eq(json_string_value(json_object_get(p, "code")), "internal");
    ck_assert_uint_eq(json_object_size(p), 2);
    json_decref(p);
}
END_TEST

/* --- a function's start-up hook -------------------------------------------- */

static int init_calls, cleanup_calls;

static int init_ok(const struct si_config *cfg, void **fn_config, struct si_error *err)
{
    init_calls++;
    int *limit = malloc(sizeof *limit);
    if (limit == NULL)
        return si_error_set(err, 500, "internal", "out of memory");
    *limit = 3;
    if (si_env_int(cfg->envp, "SMARTIMPORT_TEST_LIMIT", 1, 10, limit, err) != 0) {
        free(limit);
        return -1;
    }
    *fn_config = limit;
    return 0;
}

static int init_silent_failure(const struct si_config *cfg, void **fn_config, struct si_error *err)
{
    (void)cfg;
    (void)err;
    init_calls++;
    *fn_config = malloc(1);   /* half-made: the runtime hands it to cleanup */
    return -1;
}

static void cleanup_free(void *fn_config)
{
    cleanup_calls++;
    free(fn_config);
}

START_TEST(a_function_reads_its_settings_once_at_start_or_refuses_to_start)
{
    struct si_function fn = { .name = "test-fn", .init = init_ok, .cleanup = cleanup_free };
    struct si_config cfg;
    struct si_error err;
    void *fc = (void *)&fn;
    init_calls = cleanup_calls = 0;

    char *good[] = { "SMARTIMPORT_TEST_LIMIT=7", NULL };
    ck_assert_int_eq(si_config_load(&cfg, good, &err), 0);
    ck_assert_int_eq(si_function_init(&fn, &cfg, &fc, &err), 0);
    ck_assert_int_eq(*(int *)fc, 7);
    si_function_cleanup(&fn, fc);
    ck_assert_int_eq(cleanup_calls, 1);

    char *bad[] = { "SMARTIMPORT_TEST_LIMIT=eleven", NULL };
    ck_assert_int_eq(si_config_load(&cfg, bad, &err), 0);
    ck_assert_int_eq(si_function_init(&fn, &cfg, &fc, &err), -1);
    ck_assert_ptr_null(fc);
    ck_assert_ptr_nonnull(strstr(err.message, "SMARTIMPORT_TEST_LIMIT"));

    fn.init = init_silent_failure;
    ck_assert_int_eq(si_function_init(&fn, &cfg, &fc, &err), -1);
    ck_assert_ptr_null(fc);
    ck_assert_str_eq(err.message, "test-fn: start-up failed");
    ck_assert_int_eq(cleanup_calls, 2);   /* what it made was given back */

    struct si_function plain = { .name = "plain" };
    fc = (void *)&fn;
    ck_assert_int_eq(si_function_init(&plain, &cfg, &fc, &err), 0);
    ck_assert_ptr_null(fc);
    si_function_cleanup(&plain, NULL);
    ck_assert_int_eq(init_calls, 3);
}
END_TEST

/* --- the import status machine --------------------------------------------- */

static const struct {
    enum si_import_status from, to;
} moves[] = {
    { SI_IMPORT_UPLOADED, SI_IMPORT_PARSED },  { SI_IMPORT_PARSED, SI_IMPORT_COMMITTED },
    { SI_IMPORT_PARSED, SI_IMPORT_FAILED },    { SI_IMPORT_COMMITTED, SI_IMPORT_ANALYZED },
    { SI_IMPORT_COMMITTED, SI_IMPORT_REVERTED }, { SI_IMPORT_ANALYZED, SI_IMPORT_REVERTED },
};

START_TEST(an_import_moves_only_along_the_status_machine)
{
    for (int f = 0; f < SI_IMPORT_STATUS_COUNT; f++)
        for (int t = 0; t < SI_IMPORT_STATUS_COUNT; t++) {
            bool want = false;
            for (size_t i = 0; i < sizeof moves / sizeof moves[0]; i++)
                want |= moves[i].from == (enum si_import_status)f && moves[i].to == (enum si_import_status)t;
            ck_assert_msg(si_import_may_move(f, t) == want, "%s -> %s", si_import_status_name(f),
                          si_import_status_name(t));
        }
    ck_assert(!si_import_may_move(SI_IMPORT_STATUS_COUNT, SI_IMPORT_PARSED));
}
END_TEST

START_TEST(status_names_and_sql_predicates_agree_with_the_table)
{
    char in_ledger[128] = "", holds_file[128] = "";
    size_t nl = 0, nh = 0;
    for (int s = 0; s < SI_IMPORT_STATUS_COUNT; s++) {
        const char *name = si_import_status_name(s);
        enum si_import_status back;
        ck_assert_int_eq(si_import_status_from_name(name, &back), 0);
        ck_assert_int_eq(back, s);
        ck_assert(si_import_name_in_ledger(name) == si_import_in_ledger(s));
        if (si_import_in_ledger(s))
            nl += (size_t)snprintf(in_ledger + nl, sizeof in_ledger - nl, "%s'%s'", nl ? ", " : "", name);
        if (!si_import_holds_file(s))
            nh += (size_t)snprintf(holds_file + nh, sizeof holds_file - nh, "%s'%s'", nh ? ", " : "", name);
    }
    char want[256];
    snprintf(want, sizeof want, "status IN (%s)", in_ledger);
    ck_assert_str_eq(SI_IMPORT_IN_LEDGER_SQL("status"), want);
    snprintf(want, sizeof want, "status NOT IN (%s)", holds_file);
    ck_assert_str_eq(SI_IMPORT_HOLDS_FILE_SQL("status"), want);
    enum si_import_status s;
    ck_assert_int_eq(si_import_status_from_name("uploading", &s), -1);
    ck_assert(!si_import_name_in_ledger(NULL));
}
END_TEST

START_TEST(civil_dates_count_days_from_1970_and_back)
{
    ck_assert_int_eq(si_days_from_civil(1970, 1, 1), 0);
    ck_assert_int_eq(si_days_from_civil(2000, 3, 1), 11017);
    ck_assert_int_eq(si_days_from_civil(1969, 12, 31), -1);
    ck_assert_int_eq(si_days_from_civil(2024, 3, 1) - si_days_from_civil(2024, 2, 28), 2);   /* 29 Feb */
    ck_assert_int_eq(si_days_from_civil(2023, 3, 1) - si_days_from_civil(2023, 2, 28), 1);
    for (long z = -800; z < 30000; z += 37) {
        long y;
        int m, d;
        si_civil_from_days(z, &y, &m, &d);
        ck_assert(m >= 1 && m <= 12 && d >= 1 && d <= si_days_in_month(y, m));
        ck_assert_int_eq(si_days_from_civil(y, m, d), z);
    }
    ck_assert_int_eq(si_days_in_month(2023, 2), 28);
    ck_assert_int_eq(si_days_in_month(2024, 2), 29);
    ck_assert_int_eq(si_days_in_month(1900, 2), 28);
    ck_assert_int_eq(si_days_in_month(2000, 2), 29);
    ck_assert_int_eq(si_days_in_month(2024, 12), 31);
}
END_TEST

/* ---- base64: one decoder for uploads (standard) and tokens (url) ---- */

struct collect {
    unsigned char data[16384];
    size_t len;
    int calls, fail_at;
};

static int collect_sink(void *arg, const unsigned char *p, size_t n)
{
    struct collect *c = arg;
    if (++c->calls == c->fail_at || n > sizeof c->data - c->len)
        return -1;
    memcpy(c->data + c->len, p, n);
    c->len += n;
    return 0;
}

static enum si_base64_status decode(const char *text, unsigned flags, struct collect *c)
{
    memset(c, 0, sizeof *c);
    return si_base64_decode(text, strlen(text), flags, collect_sink, c);
}

START_TEST(base64_standard_skips_whitespace_and_takes_optional_padding)
{
    struct collect c;
    ck_assert_int_eq(decode("Zm9v\r\nYmE=", SI_BASE64_STD, &c), SI_BASE64_OK);
    ck_assert_int_eq(c.len, 5);
    ck_assert(memcmp(c.data, "fooba", 5) == 0);
    ck_assert_int_eq(decode("Zm9vYmE", SI_BASE64_STD, &c), SI_BASE64_OK);   /* padding left out */
    ck_assert_int_eq(c.len, 5);
    ck_assert_int_eq(decode("+/8=", SI_BASE64_STD, &c), SI_BASE64_OK);
    ck_assert(c.len == 2 && c.data[0] == 0xfb && c.data[1] == 0xff);
    ck_assert_int_eq(decode("Zm9v@", SI_BASE64_STD, &c), SI_BASE64_BAD_CHAR);
    ck_assert_int_eq(decode("Zm9=v", SI_BASE64_STD, &c), SI_BASE64_AFTER_PADDING);
    ck_assert_int_eq(decode("Zm9vY", SI_BASE64_STD, &c), SI_BASE64_TRUNCATED);
    ck_assert_int_eq(decode("Zg===", SI_BASE64_STD, &c), SI_BASE64_TRUNCATED);
}
END_TEST

START_TEST(base64_url_is_strict_and_canonical)
{
    struct collect c;
    ck_assert_int_eq(decode("-_8", SI_BASE64_URL, &c), SI_BASE64_OK);
    ck_assert(c.len == 2 && c.data[0] == 0xfb && c.data[1] == 0xff);
    ck_assert_int_eq(decode("+/8", SI_BASE64_URL, &c), SI_BASE64_BAD_CHAR);
    ck_assert_int_eq(decode("Zg==", SI_BASE64_URL, &c), SI_BASE64_BAD_CHAR);   /* no padding */
    ck_assert_int_eq(decode("Zm 9v", SI_BASE64_URL, &c), SI_BASE64_BAD_CHAR);  /* no whitespace */
    ck_assert_int_eq(decode("Zh", SI_BASE64_URL, &c), SI_BASE64_NONCANONICAL);  /* 'f' is Zg */
    unsigned char out[4];
    size_t n = 99;
    ck_assert_int_eq(si_base64url_decode("Zm9vYg", 6, out, sizeof out, &n), 0);
    ck_assert(n == 4 && memcmp(out, "foob", 4) == 0);
    ck_assert_int_eq(si_base64url_decode("Zm9vYmE", 7, out, sizeof out, &n), -1);   /* 5 bytes > cap */
}
END_TEST

START_TEST(base64_long_input_reaches_the_sink_in_chunks_and_a_failing_sink_stops_it)
{
    static char text[12000];
    for (size_t i = 0; i + 4 <= sizeof text - 1; i += 4)
        memcpy(text + i, "QUJD", 4);   /* "ABC" */
    text[sizeof text - 1] = '\0';
    struct collect c;
    ck_assert_int_eq(decode(text, SI_BASE64_STD, &c), SI_BASE64_OK);
    ck_assert_int_eq(c.len, (sizeof text - 1) / 4 * 3);
    ck_assert_int_gt(c.calls, 1);
    ck_assert(memcmp(c.data + c.len - 3, "ABC", 3) == 0);
    memset(&c, 0, sizeof c);
    c.fail_at = 2;
    ck_assert_int_eq(si_base64_decode(text, strlen(text), SI_BASE64_STD, collect_sink, &c), SI_BASE64_SINK);
}
END_TEST

START_TEST(an_idempotency_key_is_1_to_255_printable_ascii_characters)
{
    char key[SI_IDEMPOTENCY_KEY_MAX + 2];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    ck_assert(!si_idem_key_valid(key));                   /* 256 */
    key[SI_IDEMPOTENCY_KEY_MAX] = '\0';
    ck_assert(si_idem_key_valid(key));                    /* 255 */
    ck_assert(si_idem_key_valid("a"));
    ck_assert(si_idem_key_valid("9f1c2e9a-3b7d-4c1e-8f00-1a2b3c4d5e6f"));
    ck_assert(si_idem_key_valid("order 42: ~!@#$%^&*()"));
    ck_assert(!si_idem_key_valid(""));
    ck_assert(!si_idem_key_valid("tab\there"));
    ck_assert(!si_idem_key_valid("del\x7f"));
    ck_assert(!si_idem_key_valid("caf\xc3\xa9"));
}
END_TEST

static int idem_handler(struct si_ctx *ctx, struct si_request *req, struct si_response *resp)
{
    (void)ctx;
    (void)req;
    resp->status = 200;
    return 0;
}

/* Where the header does not apply, si_idem_begin lets the request run untouched (no row, no
 * check of the key, the body reader as it was): a GET, a function without a caller, or one
 * without a database. */
START_TEST(the_header_is_ignored_where_it_does_not_apply)
{
    struct si_arena arena;
    si_arena_init(&arena, SI_ARENA_MAX);
    struct si_config cfg;
    struct si_error err;
    char *envp[] = { NULL };
    ck_assert_int_eq(si_config_load(&cfg, envp, &err), 0);
    struct si_function auth_fn = { .name = "t", .methods = "GET,POST", .needs_auth = true, .handle = idem_handler };
    struct si_function open_fn = { .name = "t", .methods = "GET,POST", .needs_db = true, .handle = idem_handler };
    struct si_function fns[] = { auth_fn, open_fn, auth_fn };
    const char *methods[] = { "POST", "POST", "GET" };
    for (int i = 0; i < 3; i++) {
        struct si_ctx ctx = { .config = &cfg, .function = &fns[i], .arena = &arena };
        struct si_param headers[] = { { "idempotency-key", "" } };   /* not even a valid key */
        struct si_request req = { .method = methods[i], .path = "/x", .query = "", .headers = headers,
                                  .n_headers = 1, .content_length = -1 };
        struct si_response resp;
        si_response_init(&resp);
        struct si_idem idem;
        ck_assert_int_eq(si_idem_begin(&ctx, &req, &resp, &idem), 0);
        ck_assert(!idem.active);
        ck_assert_ptr_null(req.body_read);
        ck_assert_int_eq(resp.status, 500);   /* untouched */
        ck_assert_uint_eq(resp.body.len, 0);
        si_idem_finish(&ctx, &req, &resp, &idem);
        si_response_cleanup(&resp);
    }
    si_arena_cleanup(&arena);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("runtime_kit");
    TCase *tc = tcase_create("settings");
    tcase_add_loop_test(tc, a_numeric_setting_is_an_integer_in_bounds_or_the_start_is_refused, 0,
                        sizeof settings / sizeof settings[0]);
    tcase_add_test(tc, an_unset_setting_keeps_the_default);
    suite_add_tcase(s, tc);
    tc = tcase_create("result_cells");
    tcase_add_test(tc, integer_cells_are_read_with_null_and_garbage_told_apart);
    tcase_add_test(tc, boolean_and_text_cells_are_null_aware);
    suite_add_tcase(s, tc);
    tc = tcase_create("timestamps");
    tcase_add_test(tc, timestamps_are_iso_8601_utc_with_milliseconds);
    tcase_add_test(tc, sql_timestamps_are_spelled_like_the_runtime_s);
    tcase_add_test(tc, civil_dates_count_days_from_1970_and_back);
    suite_add_tcase(s, tc);
    tc = tcase_create("error_events");
    tcase_add_test(tc, every_error_event_has_one_payload_shape);
    suite_add_tcase(s, tc);
    tc = tcase_create("function_hooks");
    tcase_add_test(tc, a_function_reads_its_settings_once_at_start_or_refuses_to_start);
    suite_add_tcase(s, tc);
    tc = tcase_create("base64");
    tcase_add_test(tc, base64_standard_skips_whitespace_and_takes_optional_padding);
    tcase_add_test(tc, base64_url_is_strict_and_canonical);
    tcase_add_test(tc, base64_long_input_reaches_the_sink_in_chunks_and_a_failing_sink_stops_it);
    suite_add_tcase(s, tc);
    tc = tcase_create("idempotency");
    tcase_add_test(tc, an_idempotency_key_is_1_to_255_printable_ascii_characters);
    tcase_add_test(tc, the_header_is_ignored_where_it_does_not_apply);
    suite_add_tcase(s, tc);
    tc = tcase_create("import_status");
    tcase_add_test(tc, an_import_moves_only_along_the_status_machine);
    tcase_add_test(tc, status_names_and_sql_predicates_agree_with_the_table);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
