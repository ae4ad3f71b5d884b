/* check_live_events.c: live (non-durable) events: the progress rate limit
 * (si_event_progress_due), the notification text (si_event_live_message),
 * what si_event_notify refuses before it touches a connection, and the SSE
 * frame of a live event (ev_live_frame: no id: line). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "si_event.h"

#define USER "0b6f9c4e-1c1a-4c58-a0e6-3d1f7a1b2c3d"
#define IMPORT "5a7d1b2c-0000-4000-8000-000000000001"
#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* --- the rate limit ---------------------------------------------------------------- */

START_TEST(nothing_is_due_before_250_ms_whatever_the_progress)
{
    struct si_event_throttle t;
    si_event_progress_start(&t, 1000.0);
    ck_assert(!si_event_progress_due(&t, 1000.0, 50, 1000000, 1));
    ck_assert(!si_event_progress_due(&t, 1249.0, 100, 1000000, 1));
    ck_assert(si_event_progress_due(&t, 1250.0, 100, 1000000, 1));
    ck_assert(!si_event_progress_due(&t, 1499.9, 100, 2000000, 1));   /* 250 ms after the last one again */
}
END_TEST

START_TEST(after_250_ms_it_takes_five_points_or_the_step)
{
    struct si_event_throttle t;
    si_event_progress_start(&t, 0.0);
    ck_assert(!si_event_progress_due(&t, 300.0, 4, 10, 1000));    /* 4 % and 10 rows: not yet */
    ck_assert(si_event_progress_due(&t, 300.0, 5, 10, 1000));     /* 5 points */
    ck_assert(!si_event_progress_due(&t, 600.0, 9, 900, 1000));   /* 4 points, 890 rows */
    ck_assert(si_event_progress_due(&t, 600.0, 9, 1010, 1000));   /* the step */
    ck_assert(!si_event_progress_due(&t, 900.0, 13, 1500, 1000));  /* 9 -> 13, 490 rows */
    ck_assert(si_event_progress_due(&t, 900.0, 14, 1500, 1000));
    ck_assert_int_eq(t.last_percent, 14);
    ck_assert_int_eq(t.last_count, 1500);
}
END_TEST

START_TEST(without_a_percent_the_step_alone_decides)
{
    struct si_event_throttle t;
    si_event_progress_start(&t, 0.0);
    ck_assert(!si_event_progress_due(&t, 1000.0, -1, 999, 1000));
    ck_assert(si_event_progress_due(&t, 1000.0, -1, 1000, 1000));
    ck_assert(!si_event_progress_due(&t, 2000.0, -1, 1999, 1000));
    ck_assert(!si_event_progress_due(&t, 9000.0, -1, 99999, 0));   /* no step, no percent: never */
}
END_TEST

/* --- the notification -------------------------------------------------------------- */

START_TEST(the_notification_carries_the_whole_event)
{
    json_t *payload = json_pack("{s:s, s:i, s:i}", "importId", IMPORT, "rows", 5000, "percent", 40);
    char *text = si_event_live_message(USER, IMPORT, "import:parse:progress", payload);
    ck_assert_ptr_nonnull(text);
    json_t *m = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(json_string_value(json_object_get(m, "user_id")), USER);
    ck_assert_str_eq(json_string_value(json_object_get(m, "import_id")), IMPORT);
    ck_assert_str_eq(json_string_value(json_object_get(m, "type")), "import:parse:progress");
    ck_assert(json_equal(json_object_get(m, "payload"), payload));
    const char *at = json_string_value(json_object_get(m, "at"));
    ck_assert_ptr_nonnull(at);
    ck_assert_uint_eq(strlen(at), SI_UTC_TIMESTAMP_SIZE - 1);
    ck_assert_ptr_null(strchr(text, '\n'));
    free(text);
    json_decref(m);

    text = si_event_live_message(USER, NULL, "import:upload:progress", payload);
    m = json_loads(text, 0, NULL);
    ck_assert(json_is_null(json_object_get(m, "import_id")));
    free(text);
    json_decref(m);
    json_decref(payload);
}
END_TEST

static const struct {
    const char *user, *import, *type, *payload;
} refused[] = {
    { "not-a-user", NULL, "import:parse:progress", "{\"rows\":1}" },
    { USER, "not-an-import", "import:parse:progress", "{\"rows\":1}" },
    { USER, NULL, "Import:Parse", "{\"rows\":1}" },
    { USER, NULL, "import:parse:error", "{\"rows\":1}" },                    /* errors are durable */
    { USER, NULL, "import:parse:progress", "{\"description\":\"TESCO STORES\"}" },
    { USER, NULL, "import:parse:progress", "{\"account\":\"DE89370400440532013000\"}" },
};

START_TEST(notify_refuses_what_a_stored_event_would_refuse_before_any_connection)
{
    struct si_db db;
    si_db_init(&db, "postgresql:///no-such-database-is-asked", "test", 100, 100);
    struct si_error err;
    si_error_clear(&err);
    json_t *payload = json_loads(refused[_i].payload, 0, NULL);
    ck_assert_ptr_nonnull(payload);
    ck_assert_int_eq(si_event_notify(&db, refused[_i].user, refused[_i].import, refused[_i].type, payload, &err), -1);
    ck_assert_int_eq(err.status, 500);
    ck_assert_ptr_null(db.conn);   /* refused before connecting */
    si_db_cleanup(&db);
}
END_TEST

START_TEST(notify_refuses_a_connection_inside_a_transaction)
{
    struct si_db db;
    si_db_init(&db, "postgresql:///no-such-database-is-asked", "test", 100, 100);
    db.in_tx = true;   /* as if si_db_begin had run: a NOTIFY there would wait for the commit */
    struct si_error err;
    si_error_clear(&err);
    ck_assert_int_eq(si_event_notify(&db, USER, NULL, "import:parse:progress", json_pack("{s:i}", "rows", 1), &err),
                     -1);
    ck_assert_ptr_nonnull(strstr(err.message, "outside any transaction"));
    db.in_tx = false;
    si_db_cleanup(&db);
    /* NULL (a json_pack out of memory) is an error, not a crash */
    ck_assert_int_eq(si_event_notify(&db, USER, NULL, "import:parse:progress", NULL, &err), -1);
}
END_TEST

/* --- the frame --------------------------------------------------------------------- */

START_TEST(a_live_event_is_one_frame_without_an_id_line)
{
    struct si_buf b;
    si_buf_init(&b, 1 << 16);
    ck_assert_int_eq(ev_live_frame(&b, "import:parse:progress", IMPORT, "{\"rows\":1000}", "2024-05-01T10:00:00.123Z"), 0);
    ck_assert_str_eq(b.data, "event: import:parse:progress\ndata: {\"id\":null,\"importId\":\"" IMPORT
                             "\",\"type\":\"import:parse:progress\",\"payload\":{\"rows\":1000},"
                             "\"createdAt\":\"2024-05-01T10:00:00.123Z\"}\n\n");
    si_buf_reset(&b);
    ck_assert_int_eq(ev_live_frame(&b, "import:upload:progress", NULL, "{\"bytes\":1}", "2024-05-01T10:00:00.123Z"), 0);
    ck_assert_ptr_nonnull(strstr(b.data, "\"importId\":null"));
    ck_assert_ptr_null(strstr(b.data, "id: "));
    si_buf_reset(&b);
    /* what could break a frame is refused and leaves nothing behind */
    ck_assert_int_eq(ev_live_frame(&b, "import:parse:progress\nid: 99", NULL, "{}", "2024-05-01T10:00:00.123Z"), -1);
    ck_assert_int_eq(ev_live_frame(&b, "import:parse:progress", NULL, "{\"a\":\"x\ny\"}", "2024-05-01T10:00:00.123Z"), -1);
    ck_assert_int_eq(ev_live_frame(&b, "import:parse:progress", NULL, "[1]", "2024-05-01T10:00:00.123Z"), -1);
    ck_assert_int_eq(ev_live_frame(&b, "import:parse:progress", "x\"y", "{}", "2024-05-01T10:00:00.123Z"), -1);
    ck_assert_int_eq(ev_live_frame(&b, "import:parse:progress", NULL, "{}", "yesterday\n"), -1);
    ck_assert_uint_eq(b.len, 0);
    si_buf_cleanup(&b);
}
END_TEST

static Suite *live_suite(void)
{
    Suite *s = suite_create("live_events");
    TCase *tc = tcase_create("throttle");
    tcase_add_test(tc, nothing_is_due_before_250_ms_whatever_the_progress);
    tcase_add_test(tc, after_250_ms_it_takes_five_points_or_the_step);
    tcase_add_test(tc, without_a_percent_the_step_alone_decides);
    suite_add_tcase(s, tc);

    tc = tcase_create("notify");
    tcase_add_test(tc, the_notification_carries_the_whole_event);
    tcase_add_loop_test(tc, notify_refuses_what_a_stored_event_would_refuse_before_any_connection, 0, N(refused));
    tcase_add_test(tc, notify_refuses_a_connection_inside_a_transaction);
    suite_add_tcase(s, tc);

    tc = tcase_create("frame");
    tcase_add_test(tc, a_live_event_is_one_frame_without_an_id_line);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(live_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
