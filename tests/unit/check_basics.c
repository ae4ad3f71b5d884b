/* check_basics.c: arena, bounded buffer, configuration, UUIDs and the
 * event rules (names and what a payload may hold). */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "si_arena.h"
#include "si_buf.h"
#include "si_config.h"
#include "si_event.h"
#include "si_uuid.h"

START_TEST(the_arena_stops_at_its_ceiling_and_is_reusable_after_reset)
{
    struct si_arena a;
    si_arena_init(&a, 1000);
    void *p = si_arena_alloc(&a, 600);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % sizeof(max_align_t), 0);
    ck_assert_ptr_null(si_arena_alloc(&a, 500));
    ck_assert_ptr_null(si_arena_alloc(&a, SIZE_MAX));
    si_arena_reset(&a);
    ck_assert_ptr_nonnull(si_arena_alloc(&a, 900));
    char *s = si_arena_strdup(&a, "hi");
    ck_assert_str_eq(s, "hi");
    si_arena_cleanup(&a);
    si_arena_cleanup(&a);
}
END_TEST

START_TEST(the_buffer_refuses_to_grow_past_its_maximum)
{
    struct si_buf b;
    si_buf_init(&b, 8);
    ck_assert_int_eq(si_buf_appends(&b, "12345678"), 0);
    ck_assert_int_eq(si_buf_appends(&b, "9"), -1);
    ck_assert_str_eq(b.data, "12345678");
    si_buf_reset(&b);
    ck_assert_int_eq(si_buf_printf(&b, "%d-%s", 12, "ab"), 0);
    ck_assert_str_eq(b.data, "12-ab");
    ck_assert_int_eq(si_buf_printf(&b, "%s", "too long"), -1);
    si_buf_cleanup(&b);
    si_buf_cleanup(&b);
}
END_TEST

START_TEST(configuration_has_defaults_and_rejects_bad_values)
{
    struct si_config c;
    struct si_error err;
    char *empty[] = { NULL };
    ck_assert_int_eq(si_config_load(&c, empty, &err), 0);
    ck_assert_int_eq(c.threads, SI_THREADS_DEFAULT);
    ck_assert_uint_eq(c.max_body, SI_MAX_BODY_DEFAULT);
    ck_assert_int_eq(c.auth_mode, SI_AUTH_JWT);
    ck_assert_ptr_null(c.database_url);
    ck_assert_ptr_null(c.database_read_url);   /* no read connection: everything on DATABASE_URL */
    ck_assert_int_eq(c.db_bulk_timeout_ms, SI_DB_BULK_TIMEOUT_MS);
    ck_assert_int_gt(c.db_bulk_timeout_ms, c.db_query_timeout_ms);

    char *good[] = { "SMARTIMPORT_THREADS=8", "SMARTIMPORT_MAX_BODY=1024", "DATABASE_URL=postgresql:///x",
                     "SMARTIMPORT_AUTH=trust-body", "SMARTIMPORT_DB_BULK_TIMEOUT_MS=120000",
                     "SMARTIMPORT_DATABASE_READ_URL=postgresql://h1,h2/x?target_session_attrs=prefer-standby", NULL };
    ck_assert_int_eq(si_config_load(&c, good, &err), 0);
    ck_assert_int_eq(c.threads, 8);
    ck_assert_uint_eq(c.max_body, 1024);
    ck_assert_str_eq(c.database_url, "postgresql:///x");
    ck_assert_int_eq(c.auth_mode, SI_AUTH_TRUST_BODY);
    ck_assert_int_eq(c.db_bulk_timeout_ms, 120000);
    ck_assert_str_eq(c.database_read_url, "postgresql://h1,h2/x?target_session_attrs=prefer-standby");

    const char *bad[] = { "SMARTIMPORT_THREADS=0", "SMARTIMPORT_THREADS=abc", "SMARTIMPORT_THREADS=1000",
                          "SMARTIMPORT_MAX_BODY=-5", "SMARTIMPORT_AUTH=none", "SMARTIMPORT_THREADS=4x",
                          "SMARTIMPORT_DB_BULK_TIMEOUT_MS=0", "SMARTIMPORT_DB_BULK_TIMEOUT_MS=3600001",
                          "SMARTIMPORT_DATABASE_READ_URL=postgresql://u:pw@[::1",
                          "SMARTIMPORT_DATABASE_READ_URL=host=h port" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *env[] = { (char *)bad[i], NULL };
        ck_assert_msg(si_config_load(&c, env, &err) == -1, "%s accepted", bad[i]);
        ck_assert_msg(strstr(err.message, ":pw@") == NULL, "the refusal repeats the value: %s", err.message);
    }
}
END_TEST

START_TEST(uuids_are_checked_and_lower_cased)
{
    char out[SI_UUID_LEN + 1];
    ck_assert(si_uuid_valid("550e8400-e29b-41d4-a716-446655440000"));
    ck_assert_int_eq(si_uuid_normalize("550E8400-E29B-41D4-A716-446655440000", out), 0);
    ck_assert_str_eq(out, "550e8400-e29b-41d4-a716-446655440000");
    ck_assert(!si_uuid_valid(NULL));
    ck_assert(!si_uuid_valid(""));
    ck_assert(!si_uuid_valid("550e8400-e29b-41d4-a716-4466554400000"));
    ck_assert(!si_uuid_valid("550e8400-e29b-41d4-a716_446655440000"));
    ck_assert(!si_uuid_valid("user_123"));
    /* the 16 bytes PostgreSQL's binary COPY wants, from either case */
    unsigned char b[16];
    static const unsigned char want[16] = { 0x55, 0x0e, 0x84, 0x00, 0xe2, 0x9b, 0x41, 0xd4,
                                            0xa7, 0x16, 0x44, 0x66, 0x55, 0x44, 0x00, 0x0f };
    ck_assert_int_eq(si_uuid_bytes("550E8400-e29b-41D4-a716-44665544000F", b), 0);
    ck_assert_mem_eq(b, want, 16);
    ck_assert_int_eq(si_uuid_bytes("550e8400e29b41d4a716446655440000", b), -1);   /* no dashes */
    ck_assert_int_eq(si_uuid_bytes("550e8400-e29b-41d4-a716-44665544000g", b), -1);
}
END_TEST

static const struct {
    const char *type;
    bool valid;
} types[] = {
    { "import:commit:complete", true }, { "prime:message", true }, { "import:upload:error", true },
    { "workflow:phase:job:complete", true }, { "import", false }, { "import:", false },
    { ":x", false }, { "Import:commit", false }, { "import:commit:start'; drop", false },
    { "a:b:c:d:e", false }, { NULL, false },
};

START_TEST(event_names_follow_domain_action_state)
{
    ck_assert_int_eq(si_event_type_valid(types[_i].type), types[_i].valid);
}
END_TEST

static const struct {
    const char *json;
    bool safe;
} payloads[] = {
    { "{}", true },
    { "{\"importId\":\"550e8400-e29b-41d4-a716-446655440000\",\"rowsTotal\":1200,\"ms\":12.5}", true },
    { "{\"stage\":\"commit\",\"code\":\"db_unavailable\",\"partial\":true,\"handoffId\":null}", true },
    { "{\"counts\":{\"new\":3,\"duplicate\":1},\"ids\":[1,2,3]}", true },
    { "{\"description\":\"TESCO STORES 3297\"}", false },
    { "{\"iban\":\"DE89370400440532013000\"}", false },
    { "{\"account\":\"12345678\"}", false },
    { "{\"ref\":\"ab-123456\"}", false },
    { "{\"note\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", false },
    { "{\"nested\":{\"deeper\":{\"text\":\"free text here\"}}}", false },
    { "{\"file\":\"Date,Amount\\n2024-01-01,12.00\"}", false },
    { "[1,2]", false },
};

START_TEST(event_payloads_hold_ids_counts_and_timings_only)
{
    json_t *p = json_loads(payloads[_i].json, 0, NULL);
    ck_assert_ptr_nonnull(p);
    ck_assert_msg(si_event_payload_safe(p) == payloads[_i].safe, "%s", payloads[_i].json);
    json_decref(p);
}
END_TEST

static Suite *basics_suite(void)
{
    Suite *s = suite_create("basics");
    TCase *tc = tcase_create("memory");
    tcase_add_test(tc, the_arena_stops_at_its_ceiling_and_is_reusable_after_reset);
    tcase_add_test(tc, the_buffer_refuses_to_grow_past_its_maximum);
    suite_add_tcase(s, tc);
    tc = tcase_create("config");
    tcase_add_test(tc, configuration_has_defaults_and_rejects_bad_values);
    tcase_add_test(tc, uuids_are_checked_and_lower_cased);
    suite_add_tcase(s, tc);
    tc = tcase_create("events");
    tcase_add_loop_test(tc, event_names_follow_domain_action_state, 0, sizeof types / sizeof types[0]);
    tcase_add_loop_test(tc, event_payloads_hold_ids_counts_and_timings_only, 0,
                        sizeof payloads / sizeof payloads[0]);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(basics_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
