/* check_cdc.c: modules/cdc's pure parts: pgoutput messages as the replication stream
 * sends them (BEGIN, COMMIT, RELATION, INSERT; truncated and malformed ones refused), LSN
 * text, and the consumer jobs' payload (merchant, 1..1000 positive ids). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "loyalty.h"

/* A message under construction. */
struct msg {
    unsigned char b[4096];
    size_t n;
};

static void u8(struct msg *m, unsigned v) { m->b[m->n++] = (unsigned char)v; }
static void u16(struct msg *m, unsigned v) { u8(m, v >> 8); u8(m, v & 0xff); }
static void u32(struct msg *m, uint32_t v) { u16(m, v >> 16); u16(m, v & 0xffff); }
static void u64(struct msg *m, uint64_t v) { cdc_put_u64(m->b + m->n, v); m->n += 8; }
static void str(struct msg *m, const char *s) { size_t l = strlen(s) + 1; memcpy(m->b + m->n, s, l); m->n += l; }
static void text_col(struct msg *m, const char *s) { u8(m, 't'); u32(m, (uint32_t)strlen(s)); memcpy(m->b + m->n, s, strlen(s)); m->n += strlen(s); }

/* RELATION 16384 public.purchases (id, merchant_id, batch_id, customer_id). */
static void relation(struct msg *m)
{
    static const char *const cols[] = { "id", "merchant_id", "batch_id", "customer_id" };
    m->n = 0;
    u8(m, 'R'); u32(m, 16384); str(m, "public"); str(m, "purchases"); u8(m, 'd'); u16(m, 4);
    for (int i = 0; i < 4; i++) { u8(m, i == 0); str(m, cols[i]); u32(m, 20); u32(m, (uint32_t)-1); }
}

static void insert(struct msg *m, uint32_t relid, const char *id, const char *merchant)
{
    m->n = 0;
    u8(m, 'I'); u32(m, relid); u8(m, 'N'); u16(m, 4);
    text_col(m, id); text_col(m, merchant); u8(m, 'n'); text_col(m, "cust-1");
}

START_TEST(begin_and_commit_give_the_commit_lsn_and_the_end_lsn)
{
    struct cdc_relations rels = { .n = 0 };
    struct cdc_msg out;
    struct msg m = { .n = 0 };
    u8(&m, 'B'); u64(&m, 0x16B3748ULL); u64(&m, 12345); u32(&m, 777);
    ck_assert_int_eq(cdc_pgoutput_parse(m.b, m.n, &rels, &out), 0);
    ck_assert_int_eq(out.kind, CDC_MSG_BEGIN);
    ck_assert_uint_eq(out.lsn, 0x16B3748ULL);
    ck_assert_int_eq(out.commit_ts_us, 12345);
    m.n = 0;
    u8(&m, 'C'); u8(&m, 0); u64(&m, 0x16B3748ULL); u64(&m, 0x16B3778ULL); u64(&m, 12345);
    ck_assert_int_eq(cdc_pgoutput_parse(m.b, m.n, &rels, &out), 0);
    ck_assert_int_eq(out.kind, CDC_MSG_COMMIT);
    ck_assert_uint_eq(out.lsn, 0x16B3778ULL);
}
END_TEST

START_TEST(an_insert_after_its_relation_gives_the_purchase_id_and_merchant)
{
    struct cdc_relations rels = { .n = 0 };
    struct cdc_msg out;
    struct msg m;
    relation(&m);
    ck_assert_int_eq(cdc_pgoutput_parse(m.b, m.n, &rels, &out), 0);
    ck_assert_int_eq(out.kind, CDC_MSG_RELATION);
    ck_assert_int_eq(rels.n, 1);
    ck_assert_int_eq(rels.rel[0].id_col, 0);
    ck_assert_int_eq(rels.rel[0].merchant_col, 1);
    ck_assert_str_eq(rels.rel[0].name, "public.purchases");
    insert(&m, 16384, "42", "AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE");
    ck_assert_int_eq(cdc_pgoutput_parse(m.b, m.n, &rels, &out), 0);
    ck_assert_int_eq(out.kind, CDC_MSG_INSERT);
    ck_assert(out.purchase);
    ck_assert_int_eq(out.purchase_id, 42);
    ck_assert_str_eq(out.merchant, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee");
    /* the relation sent again (after an ALTER) replaces the first, it is not added twice */
    relation(&m);
    ck_assert_int_eq(cdc_pgoutput_parse(m.b, m.n, &rels, &out), 0);
    ck_assert_int_eq(rels.n, 1);
}
END_TEST

START_TEST(an_insert_into_an_unknown_relation_is_not_a_purchase)
{
    struct cdc_relations rels = { .n = 0 };
    struct cdc_msg out;
    struct msg m;
    insert(&m, 99, "42", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee");
    ck_assert_int_eq(cdc_pgoutput_parse(m.b, m.n, &rels, &out), 0);
    ck_assert(!out.purchase);
}
END_TEST

START_TEST(every_truncation_of_a_message_is_refused)
{
    struct cdc_relations rels = { .n = 0 };
    struct cdc_msg out;
    struct msg rel, ins;
    relation(&rel);
    ck_assert_int_eq(cdc_pgoutput_parse(rel.b, rel.n, &rels, &out), 0);
    insert(&ins, 16384, "42", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee");
    for (size_t cut = 0; cut < ins.n; cut++) {
        struct cdc_relations r2 = rels;
        ck_assert_msg(cdc_pgoutput_parse(ins.b, cut, &r2, &out) != 0, "insert cut at %zu accepted", cut);
    }
    for (size_t cut = 0; cut < rel.n; cut++) {
        struct cdc_relations r2 = { .n = 0 };
        ck_assert_msg(cdc_pgoutput_parse(rel.b, cut, &r2, &out) != 0, "relation cut at %zu accepted", cut);
    }
}
END_TEST

START_TEST(bad_ids_and_merchants_are_refused)
{
    static const char *const bad[][2] = {
        { "0", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee" }, { "-1", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee" },
        { "12x", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee" }, { "99999999999999999999", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee" },
        { "7", "not-a-uuid" }, { "7", "" },
    };
    struct cdc_relations rels = { .n = 0 };
    struct cdc_msg out;
    struct msg m;
    relation(&m);
    ck_assert_int_eq(cdc_pgoutput_parse(m.b, m.n, &rels, &out), 0);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        insert(&m, 16384, bad[i][0], bad[i][1]);
        ck_assert_msg(cdc_pgoutput_parse(m.b, m.n, &rels, &out) != 0, "case %zu accepted", i);
    }
}
END_TEST

START_TEST(other_messages_are_skipped)
{
    struct cdc_relations rels = { .n = 0 };
    struct cdc_msg out;
    const unsigned char origin[] = { 'O', 0, 0, 0, 0, 0, 0, 0, 1, 'x', 0 };
    ck_assert_int_eq(cdc_pgoutput_parse(origin, sizeof origin, &rels, &out), 0);
    ck_assert_int_eq(out.kind, CDC_MSG_OTHER);
    ck_assert(cdc_pgoutput_parse(origin, 0, &rels, &out) != 0);
}
END_TEST

START_TEST(lsn_text_is_what_pg_lsn_prints)
{
    static const struct { uint64_t v; const char *want; } cases[] = {
        { 0, "0/0" }, { 0x16B3748ULL, "0/16B3748" }, { 0x100000000ULL, "1/0" }, { UINT64_MAX, "FFFFFFFF/FFFFFFFF" },
    };
    char s[24];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cdc_lsn_format(cases[i].v, s, sizeof s);
        ck_assert_str_eq(s, cases[i].want);
    }
}
END_TEST

START_TEST(a_payload_becomes_the_merchant_and_an_array_literal)
{
    json_t *p = json_loads("{\"merchant_id\":\"AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE\",\"purchase_ids\":[3,1,2]}", 0, NULL);
    char merchant[37], *ids = NULL;
    int n = 0;
    struct si_error err;
    ck_assert_int_eq(loyalty_payload_read(p, merchant, &ids, &n, &err), 0);
    ck_assert_str_eq(merchant, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee");
    ck_assert_str_eq(ids, "{3,1,2}");
    ck_assert_int_eq(n, 3);
    free(ids);
    json_decref(p);
}
END_TEST

START_TEST(bad_payloads_are_refused_with_400)
{
    static const char *const bad[] = {
        "{}", "{\"merchant_id\":\"x\",\"purchase_ids\":[1]}",
        "{\"merchant_id\":\"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\"}",
        "{\"merchant_id\":\"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\",\"purchase_ids\":[]}",
        "{\"merchant_id\":\"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\",\"purchase_ids\":[0]}",
        "{\"merchant_id\":\"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\",\"purchase_ids\":[\"1\"]}",
        "{\"merchant_id\":\"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\",\"purchase_ids\":[1.5]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *p = json_loads(bad[i], 0, NULL);
        char merchant[37], *ids = NULL;
        int n = 0;
        struct si_error err;
        si_error_clear(&err);
        ck_assert_msg(loyalty_payload_read(p, merchant, &ids, &n, &err) != 0, "accepted %s", bad[i]);
        ck_assert_int_eq(err.status, 400);
        ck_assert_ptr_null(ids);
        json_decref(p);
    }
    /* 1001 ids: one more than a chunk */
    json_t *arr = json_array();
    for (int i = 1; i <= LOYALTY_CHUNK_MAX + 1; i++)
        json_array_append_new(arr, json_integer(i));
    json_t *p = json_pack("{s:s, s:o}", "merchant_id", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "purchase_ids", arr);
    char merchant[37], *ids = NULL;
    int n = 0;
    struct si_error err;
    ck_assert(loyalty_payload_read(p, merchant, &ids, &n, &err) != 0);
    json_array_remove(json_object_get(p, "purchase_ids"), 0);   /* exactly 1000: fine */
    ck_assert_int_eq(loyalty_payload_read(p, merchant, &ids, &n, &err), 0);
    ck_assert_int_eq(n, LOYALTY_CHUNK_MAX);
    free(ids);
    json_decref(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cdc");
    TCase *t = tcase_create("pgoutput");
    tcase_add_test(t, begin_and_commit_give_the_commit_lsn_and_the_end_lsn);
    tcase_add_test(t, an_insert_after_its_relation_gives_the_purchase_id_and_merchant);
    tcase_add_test(t, an_insert_into_an_unknown_relation_is_not_a_purchase);
    tcase_add_test(t, every_truncation_of_a_message_is_refused);
    tcase_add_test(t, bad_ids_and_merchants_are_refused);
    tcase_add_test(t, other_messages_are_skipped);
    tcase_add_test(t, lsn_text_is_what_pg_lsn_prints);
    suite_add_tcase(s, t);
    TCase *p = tcase_create("payload");
    tcase_add_test(p, a_payload_becomes_the_merchant_and_an_array_literal);
    tcase_add_test(p, bad_payloads_are_refused_with_400);
    suite_add_tcase(s, p);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
