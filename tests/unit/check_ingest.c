/* check_ingest.c: the ingest responder's own parts: multipart uploads,
 * text encodings, dedup hashes and occurrence counting, categorisation, the
 * upload id and body counting of progress events. */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "categorize.h"
#include "dedup.h"
#include "encoding.h"
#include "file_name.h"
#include "ingest_config.h"
#include "multipart.h"
#include "progress.h"
#include "spool_file.h"
#include "stage.h"
#include "stmt_util.h"
#include "upload_slots.h"
#include "user_settings.h"
#include "testutil.h"

/* ---- multipart ---- */

struct collected {
    char names[8][128];
    char data[8][256];
    size_t len[8];
    char filename[8][256];
    int n;
};

static int c_begin(void *p, const struct multipart_part *part)
{
    struct collected *c = p;
    ck_assert_int_lt(c->n, 8);
    snprintf(c->names[c->n], sizeof c->names[0], "%s", part->name);
    snprintf(c->filename[c->n], sizeof c->filename[0], "%s", part->filename);
    c->len[c->n] = 0;
    return 0;
}

static int c_data(void *p, const char *d, size_t n)
{
    struct collected *c = p;
    ck_assert_uint_le(c->len[c->n] + n, 255);
    memcpy(c->data[c->n] + c->len[c->n], d, n);
    c->len[c->n] += n;
    return 0;
}

static int c_end(void *p)
{
    struct collected *c = p;
    c->data[c->n][c->len[c->n]] = '\0';
    c->n++;
    return 0;
}

static int parse_mp(const char *body, size_t step, struct collected *c, struct si_error *err)
{
    memset(c, 0, sizeof *c);
    struct mem_body mb = { body, strlen(body), 0, step };
    struct multipart_handler h = { c_begin, c_data, c_end, c };
    return multipart_parse("XyZ", mem_body_read, &mb, &h, err);
}

static const char good_body[] =
    "preamble to ignore\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"userId\"\r\n\r\n"
    "550e8400-e29b-41d4-a716-446655440000\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"file\"; filename=\"stmt.csv\"\r\n"
    "Content-Type: text/csv\r\n\r\n"
    "Date,Amount\r\n2024-01-15,-12.50\r\n--XyZnot-a-boundary\r\n-\r\n"
    "--XyZ--\r\n"
    "epilogue";

START_TEST(multipart_parts_arrive_whole_however_the_body_is_chunked)
{
    static const size_t steps[] = { 0, 1, 2, 3, 7, 64 };
    struct collected c;
    struct si_error err;
    ck_assert_int_eq(parse_mp(good_body, steps[_i], &c, &err), 0);
    ck_assert_int_eq(c.n, 2);
    ck_assert_str_eq(c.names[0], "userId");
    ck_assert_str_eq(c.data[0], "550e8400-e29b-41d4-a716-446655440000");
    ck_assert_str_eq(c.names[1], "file");
    ck_assert_str_eq(c.filename[1], "stmt.csv");
    ck_assert_str_eq(c.data[1], "Date,Amount\r\n2024-01-15,-12.50\r\n--XyZnot-a-boundary\r\n-");
}
END_TEST

static const char *bad_bodies[] = {
    "no boundary at all",
    "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue without end",
    "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\nno blank line",
    "--XyZ\r\nContent-Type: text/plain\r\n\r\nno name\r\n--XyZ--",
    "--XyZjunk\r\n",
};

START_TEST(malformed_multipart_bodies_are_400)
{
    struct collected c;
    struct si_error err;
    ck_assert_int_eq(parse_mp(bad_bodies[_i], 0, &c, &err), -1);
    ck_assert_int_eq(err.status, 400);
    ck_assert_str_eq(err.code, "bad_multipart");
}
END_TEST

START_TEST(part_headers_over_the_limit_are_400)
{
    struct si_buf b;
    si_buf_init(&b, 1 << 20);
    si_buf_appends(&b, "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Pad: ");
    for (int i = 0; i < MULTIPART_MAX_HEADER; i++)
        si_buf_append(&b, "x", 1);
    si_buf_appends(&b, "\r\n\r\nv\r\n--XyZ--\r\n");
    struct collected c;
    memset(&c, 0, sizeof c);
    struct multipart_handler h = { c_begin, c_data, c_end, &c };
    struct mem_body mb = { b.data, b.len, 0, 0 };
    struct si_error err;
    ck_assert_int_eq(multipart_parse("XyZ", mem_body_read, &mb, &h, &err), -1);
    ck_assert_int_eq(err.status, 400);
    si_buf_cleanup(&b);
}
END_TEST

static int count_begin(void *p, const struct multipart_part *part) { (*(int *)p)++; return 0; }
static int count_data(void *p, const char *d, size_t n) { return 0; }
static int count_end(void *p) { return 0; }

START_TEST(more_than_the_allowed_number_of_parts_is_400)
{
    struct si_buf b;
    si_buf_init(&b, 1 << 20);
    for (int i = 0; i <= MULTIPART_MAX_PARTS; i++)
        si_buf_printf(&b, "--XyZ\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nv\r\n", i);
    si_buf_appends(&b, "--XyZ--\r\n");
    int parts = 0;
    struct multipart_handler h = { count_begin, count_data, count_end, &parts };
    struct mem_body mb = { b.data, b.len, 0, 0 };
    struct si_error err;
    ck_assert_int_eq(multipart_parse("XyZ", mem_body_read, &mb, &h, &err), -1);
    ck_assert_int_eq(err.status, 400);
    ck_assert_int_eq(parts, MULTIPART_MAX_PARTS);
    si_buf_cleanup(&b);
}
END_TEST

START_TEST(the_boundary_comes_from_the_content_type)
{
    char b[72];
    ck_assert_int_eq(multipart_boundary("multipart/form-data; boundary=abc123", b), 0);
    ck_assert_str_eq(b, "abc123");
    ck_assert_int_eq(multipart_boundary("multipart/form-data; charset=utf-8; boundary=\"a b\"", b), 0);
    ck_assert_str_eq(b, "a b");
    ck_assert_int_eq(multipart_boundary("multipart/form-data", b), -1);
    ck_assert_int_eq(multipart_boundary("text/plain; boundary=x", b), -1);
    ck_assert_int_eq(multipart_boundary("multipart/form-data; boundary=", b), -1);
    char longer[200] = "multipart/form-data; boundary=";
    memset(longer + strlen(longer), 'x', 71);
    ck_assert_int_eq(multipart_boundary(longer, b), -1);
}
END_TEST

/* ---- encodings ---- */

static char *to_utf8(const void *data, size_t n, const char **name, struct si_error *err, int *same)
{
    FILE *in = tmpfile();
    fwrite(data, 1, n, in);
    rewind(in);
    FILE *out = NULL;
    if (encoding_to_utf8(INGEST_SPOOL_DIR_DEFAULT, in, &out, name, err) != 0) {
        fclose(in);
        return NULL;
    }
    *same = out == in;
    char *buf = calloc(1, 4096);
    size_t got = fread(buf, 1, 4095, out);
    buf[got] = '\0';
    if (out != in)
        fclose(out);
    fclose(in);
    return buf;
}

static const struct {
    const char *bytes;
    size_t n;
    const char *utf8;
    const char *name;
} encodings[] = {
    { "Caf\xc3\xa9,1", 7, "Caf\xc3\xa9,1", "utf-8" },
    { "\xef\xbb\xbf" "a;b", 6, "a;b", "utf-8-bom" },
    { "\xff\xfe" "a\0,\0\xe9\0", 8, "a,\xc3\xa9", "utf-16le" },
    { "\xfe\xff" "\0a\0,\0\xe9", 8, "a,\xc3\xa9", "utf-16be" },
    { "Caf\xe9 \x80 10,00", 12, "Caf\xc3\xa9 \xe2\x82\xac 10,00", "windows-1252" },
    { "D\0a\0t\0e\0,\0A\0m\0t\0", 16, "Date,Amt", "utf-16le" },
};

START_TEST(text_in_any_common_encoding_becomes_utf8)
{
    const char *name = NULL;
    struct si_error err;
    int same = 0;
    char *out = to_utf8(encodings[_i].bytes, encodings[_i].n, &name, &err, &same);
    ck_assert_ptr_nonnull(out);
    ck_assert_str_eq(out, encodings[_i].utf8);
    ck_assert_str_eq(name, encodings[_i].name);
    ck_assert_int_eq(same, strcmp(name, "utf-8") == 0);
    free(out);
}
END_TEST

START_TEST(binary_content_is_refused)
{
    const char *name = NULL;
    struct si_error err;
    int same;
    ck_assert_ptr_null(to_utf8("PK\x03\x04\0\0binary", 12, &name, &err, &same));
    ck_assert_int_eq(err.status, 400);
    ck_assert_str_eq(err.code, "not_a_statement");
}
END_TEST

/* ---- dedup ---- */

START_TEST(identical_rows_of_one_file_get_successive_occurrences)
{
    struct dedup_occurrences o;
    struct dedup_hasher hs;
    ck_assert_int_eq(dedup_hasher_init(&hs), 0);
    dedup_occurrences_init(&o);
    char h1[DEDUP_HASH_LEN + 1], h2[DEDUP_HASH_LEN + 1], h3[DEDUP_HASH_LEN + 1];
    int occ;
    ck_assert_int_eq(dedup_hash(&hs, &o, "", NULL, "2024-01-15", -350, "EUR", "Coffee Shop", h1, &occ), 0);
    ck_assert_int_eq(occ, 1);
    ck_assert_int_eq(dedup_hash(&hs, &o, "", NULL, "2024-01-15", -350, "EUR", "COFFEE SHOP", h2, &occ), 0);
    ck_assert_int_eq(occ, 2);
    ck_assert_int_eq(strncmp(h1, h2, 64), 0);
    ck_assert_str_ne(h1, h2);
    ck_assert_int_eq(dedup_hash(&hs, &o, "", NULL, "2024-01-15", -351, "EUR", "Coffee Shop", h3, &occ), 0);
    ck_assert_int_eq(occ, 1);
    ck_assert_int_ne(strncmp(h1, h3, 64), 0);
    dedup_occurrences_cleanup(&o);

    /* a second import of the same file yields the same hashes */
    dedup_occurrences_init(&o);
    char again[DEDUP_HASH_LEN + 1];
    ck_assert_int_eq(dedup_hash(&hs, &o, "", NULL, "2024-01-15", -350, "EUR", "coffee shop", again, &occ), 0);
    ck_assert_str_eq(again, h1);
    dedup_occurrences_cleanup(&o);
    dedup_hasher_cleanup(&hs);
}
END_TEST

START_TEST(a_bank_id_alone_identifies_the_transaction)
{
    struct dedup_occurrences o;
    struct dedup_hasher hs;
    ck_assert_int_eq(dedup_hasher_init(&hs), 0);
    dedup_occurrences_init(&o);
    char a[DEDUP_HASH_LEN + 1], b[DEDUP_HASH_LEN + 1], c[DEDUP_HASH_LEN + 1];
    int occ;
    ck_assert_int_eq(dedup_hash(&hs, &o, "ACC1", "FIT123", "2024-01-15", -350, "EUR", "x", a, &occ), 0);
    ck_assert_int_eq(occ, 0);
    ck_assert_int_eq(strlen(a), 64);
    ck_assert_int_eq(dedup_hash(&hs, &o, "ACC1", "FIT123", "2024-01-16", -999, "EUR", "y", b, &occ), 0);
    ck_assert_str_eq(a, b);
    ck_assert_int_eq(dedup_hash(&hs, &o, "ACC2", "FIT123", "2024-01-15", -350, "EUR", "x", c, &occ), 0);
    ck_assert_str_ne(a, c);
    dedup_occurrences_cleanup(&o);
    dedup_hasher_cleanup(&hs);
}
END_TEST

START_TEST(the_occurrence_table_grows_without_losing_counts)
{
    struct dedup_occurrences o;
    dedup_occurrences_init(&o);
    /* Counted, then asserted once: each Check assertion reports its location to the
     * runner, and 200,000 of them took longer than Check's timeout on a loaded machine. */
    uint64_t first_wrong = 0, second_wrong = 0;
    for (uint64_t k = 1; k <= 100000; k++)
        if (dedup_occurrences_next(&o, k * 0x9E3779B97F4A7C15ULL) != 1 && first_wrong == 0)
            first_wrong = k;
    for (uint64_t k = 1; k <= 100000; k++)
        if (dedup_occurrences_next(&o, k * 0x9E3779B97F4A7C15ULL) != 2 && second_wrong == 0)
            second_wrong = k;
    ck_assert_msg(first_wrong == 0, "key %llu: not a first occurrence", (unsigned long long)first_wrong);
    ck_assert_msg(second_wrong == 0, "key %llu: not a second occurrence", (unsigned long long)second_wrong);
    ck_assert_uint_eq(o.used, 100000);
    dedup_occurrences_cleanup(&o);
}
END_TEST

/* ---- categories ---- */

START_TEST(the_users_rule_wins_then_the_longest_keyword)
{
    const char *kw[] = { "tesco", "tesco express", "uber", "uber eats", "coffee" };
    const char *cat[] = { "Groceries", "Convenience", "Transport", "Dining", "Treats" };
    int user[] = { 0, 0, 0, 0, 1 };
    struct categorizer *c = categorizer_new(kw, cat, user, 5);
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(categorizer_match(c, "TESCO STORES 3297"), "Groceries");
    ck_assert_str_eq(categorizer_match(c, "Tesco Express London"), "Convenience");
    ck_assert_str_eq(categorizer_match(c, "UBER *TRIP"), "Transport");
    ck_assert_str_eq(categorizer_match(c, "Uber Eats order"), "Dining");
    ck_assert_str_eq(categorizer_match(c, "Uber eats coffee"), "Treats");
    ck_assert_str_eq(categorizer_match(c, "Rent January"), "Other");
    ck_assert_str_eq(categorizer_match(c, ""), "Other");
    ck_assert_str_eq(categorizer_match(c, "x"), "Other");
    ck_assert_str_eq(categorizer_match(c, "end with tesco"), "Groceries");
    categorizer_free(c);
}
END_TEST

/* ---- file names: only a safe display form is kept ---- */

static const struct {
    const char *in, *want;
} file_names[] = {
    { "statement.csv", "statement.csv" },
    { "../../etc/passwd", "passwd" },
    { "C:\\Users\\me\\Downloads\\bank.ofx", "bank.ofx" },
    { "a/b\\c.qif", "c.qif" },
    { "evil\r\nX-Injected: 1.csv", "evilX-Injected: 1.csv" },
    { "\x1b[31mred\x1b[0m.csv", "red.csv" },
    { "\x1b]0;title\x07name.csv", "name.csv" },
    { "bell\x07tab\tdel\x7f.csv", "belltabdel.csv" },
    { "c1\xc2\x9b" "31m\xc2\x85.csv", "c131m.csv" },
    { "rtl\xe2\x80\xaegpj.exe", "rtlgpj.exe" },
    { "  spaced name.csv  ", "spaced name.csv" },
    { "caf\xc3\xa9 \xe2\x82\xac.csv", "caf\xc3\xa9 \xe2\x82\xac.csv" },
    { "bad\xff\xfeutf8.csv", "badutf8.csv" },
    { "", "statement" },
    { "../", "statement" },
    { "dir/..", "statement" },
    { "\x1b[2J", "statement" },
    { "  \r\n ", "statement" },
};

START_TEST(file_names_keep_only_a_safe_display_form)
{
    char out[FILE_NAME_MAX + 1], again[FILE_NAME_MAX + 1];
    const char *in = file_names[_i].in;
    ck_assert_str_eq(file_name_display(in, strlen(in), out), file_names[_i].want);
    ck_assert_str_eq(file_name_display(out, strlen(out), again), out);   /* idempotent */
}
END_TEST

START_TEST(long_file_names_are_cut_at_a_character_boundary)
{
    char in[1200], out[FILE_NAME_MAX + 1];
    size_t n = 0;
    in[n++] = 'x';
    while (n + 2 < sizeof in) {   /* 'x' then two-byte characters: byte 255 is a character's middle */
        in[n++] = (char)0xC3;
        in[n++] = (char)0xA9;
    }
    file_name_display(in, n, out);
    ck_assert_uint_eq(strlen(out), FILE_NAME_MAX);   /* 1 + 127 * 2 = 255 */
    ck_assert_int_eq((unsigned char)out[FILE_NAME_MAX - 1], 0xA9);
    file_name_display(in + 1, n - 1, out);
    ck_assert_uint_eq(strlen(out), FILE_NAME_MAX - 1);   /* 127 whole characters, not half of the 128th */
}
END_TEST

/* ---- the per-user cap on running uploads ---- */

START_TEST(a_user_gets_at_most_the_cap_and_others_are_unaffected)
{
    static struct upload_slots t = UPLOAD_SLOTS_INIT;
    const char *a = "00000000-0000-4000-8000-00000000000a", *b = "00000000-0000-4000-8000-00000000000b";
    ck_assert(upload_slots_take(&t, a, 2));
    ck_assert(upload_slots_take(&t, a, 2));
    ck_assert(!upload_slots_take(&t, a, 2));    /* the third of a: refused */
    ck_assert(upload_slots_take(&t, b, 2));     /* b still gets one */
    upload_slots_give(&t, a);
    ck_assert(upload_slots_take(&t, a, 2));     /* a slot given back can be taken again */
    upload_slots_give(&t, a);
    upload_slots_give(&t, a);
    upload_slots_give(&t, b);
    for (int i = 0; i < SI_THREADS_MAX; i++)
        ck_assert_str_eq(t.entry[i].user, "");   /* nothing left behind */
}
END_TEST

START_TEST(as_many_users_as_threads_each_get_a_slot)
{
    static struct upload_slots t = UPLOAD_SLOTS_INIT;
    char users[SI_THREADS_MAX][SI_UUID_LEN + 1];
    for (int i = 0; i < SI_THREADS_MAX; i++) {
        snprintf(users[i], sizeof users[i], "00000000-0000-4000-8000-%012d", i);
        ck_assert(upload_slots_take(&t, users[i], 1));
    }
    for (int i = 0; i < SI_THREADS_MAX; i++)
        upload_slots_give(&t, users[i]);
}
END_TEST

/* ---- the stage: the one bound on amounts, for every format ---- */

static const struct {
    long long amount, debit, credit;   /* the row, and the totals so far */
    const char *message;               /* NULL: accepted by the bound */
} amount_checks[] = {
    { STMT_AMOUNT_MAX + 1, 0, 0, "line 7: the amount is beyond the limit of 10000000000000 minor units per transaction" },
    { -STMT_AMOUNT_MAX - 1, 0, 0, "line 7: the amount is beyond the limit of 10000000000000 minor units per transaction" },
    { -STMT_AMOUNT_SATURATED, 0, 0, "line 7: the amount is beyond the limit of 10000000000000 minor units per transaction" },
    { -STMT_AMOUNT_MAX, LLONG_MAX - STMT_AMOUNT_MAX + 1, 0, "line 7: the file's debit total is beyond what 64-bit minor units hold" },
    { STMT_AMOUNT_MAX, 0, LLONG_MAX - 1, "line 7: the file's credit total is beyond what 64-bit minor units hold" },
};

START_TEST(the_stage_refuses_an_amount_beyond_the_bound_or_an_overflowing_total_with_its_line)
{
    struct stage s;
    memset(&s, 0, sizeof s);
    s.max_rows = 100;
    s.debit_minor = amount_checks[_i].debit;
    s.credit_minor = amount_checks[_i].credit;
    struct stmt_txn t;
    memset(&t, 0, sizeof t);
    t.amount_minor = amount_checks[_i].amount;
    t.line = 7;
    ck_assert_int_eq(stage_txn(&s, &t), 1);   /* stops the parser */
    ck_assert_int_eq(s.err.status, 422);
    ck_assert_str_eq(s.err.code, "amount_out_of_range");
    ck_assert_str_eq(s.err.message, amount_checks[_i].message);
    ck_assert_int_eq(s.rows, 0);
    ck_assert_int_eq(s.debit_minor, amount_checks[_i].debit);     /* totals untouched */
    ck_assert_int_eq(s.credit_minor, amount_checks[_i].credit);
}
END_TEST

/* ---- the spool: a full disk is its own error ---- */

START_TEST(a_full_disk_is_storage_full_and_other_write_errors_are_internal)
{
    struct si_error err;
    si_error_clear(&err);
    errno = ENOSPC;
    ck_assert_int_eq(spool_file_write_error(&err, "x"), -1);
    ck_assert_int_eq(err.status, 507);
    ck_assert_str_eq(err.code, "storage_full");
    si_error_clear(&err);
    errno = EDQUOT;
    spool_file_write_error(&err, "x");
    ck_assert_int_eq(err.status, 507);
    si_error_clear(&err);
    errno = EIO;
    spool_file_write_error(&err, "cannot write");
    ck_assert_int_eq(err.status, 500);
    FILE *f = spool_file_open(INGEST_SPOOL_DIR_DEFAULT, &err);   /* the default directory works */
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs("x", f) >= 0, 1);
    fclose(f);
}
END_TEST

/* ---- user settings: locales and the deployment's default currency ---- */

static const struct { const char *in, *canonical; int day_first; } locales[] = {
    { "en-US", "en-US", 0 }, { "en_us", "en-US", 0 }, { "es-US", "es-US", 0 }, { "en-PH", "en-PH", 0 },
    { "en-CA", "en-CA", 0 }, { "fr-CA", "fr-CA", 1 }, { "en-GB", "en-GB", 1 }, { "de-de", "de-DE", 1 },
    { "de", "de", 1 }, { "en", "en", -1 }, { "es-419", "es-419", 1 }, { "sr-latn-rs", "sr-Latn-RS", 1 },
    { "zh-Hant-TW", "zh-Hant-TW", -1 }, { "hu-HU", "hu-HU", -1 }, { "ko", "ko", -1 },
    { "english", NULL, -1 }, { "e", NULL, -1 }, { "en-", NULL, -1 }, { "-US", NULL, -1 }, { "en-US-x", NULL, -1 },
    { "en-U5", NULL, -1 }, { "en--US", NULL, -1 }, { "", NULL, -1 }, { "abcdefghijklmnopq", NULL, -1 },
};

START_TEST(locales_are_canonical_and_give_the_date_order)
{
    char out[USER_SETTINGS_LOCALE_MAX + 1];
    int rc = user_settings_locale_normalize(locales[_i].in, out, sizeof out);
    if (locales[_i].canonical == NULL) {
        ck_assert_msg(rc == -1, "%s accepted as %s", locales[_i].in, out);
    } else {
        ck_assert_msg(rc == 0, "%s refused", locales[_i].in);
        ck_assert_str_eq(out, locales[_i].canonical);
    }
    ck_assert_int_eq(user_settings_day_first(locales[_i].in), locales[_i].day_first);
}
END_TEST

START_TEST(the_deployments_default_currency_must_be_a_code)
{
    struct ingest_config cfg;
    struct si_error err;
    char *good[] = { "SMARTIMPORT_DEFAULT_CURRENCY=EUR", NULL }, *none[] = { NULL },
         *bad[] = { "SMARTIMPORT_DEFAULT_CURRENCY=usd", NULL }, *empty[] = { "SMARTIMPORT_DEFAULT_CURRENCY=", NULL };
    ck_assert_int_eq(ingest_config_load(&cfg, good, &err), 0);
    ck_assert_str_eq(cfg.default_currency, "EUR");
    ck_assert_int_eq(ingest_config_load(&cfg, none, &err), 0);
    ck_assert_str_eq(cfg.default_currency, "");
    ck_assert_int_eq(ingest_config_load(&cfg, empty, &err), 0);
    ck_assert_str_eq(cfg.default_currency, "");
    ck_assert_int_eq(ingest_config_load(&cfg, bad, &err), -1);
    ck_assert_int_eq(err.status, 500);
    ck_assert_ptr_nonnull(strstr(err.message, "SMARTIMPORT_DEFAULT_CURRENCY"));
}
END_TEST

/* ---- progress events: the upload id, the counted body ---- */

#define UPLOAD_UUID "7c9e6679-7425-40de-944b-e07fc1f90ae7"

static const struct {
    const char *header, *field_json, *query;
    int rc;
    const char *want;
} upload_ids[] = {
    { NULL, NULL, NULL, 0, "" },
    { UPLOAD_UUID, NULL, NULL, 0, UPLOAD_UUID },
    { NULL, "{\"uploadId\":\"" UPLOAD_UUID "\"}", NULL, 0, UPLOAD_UUID },
    { NULL, NULL, UPLOAD_UUID, 0, UPLOAD_UUID },
    { NULL, "{\"uploadId\":null}", NULL, 0, "" },
    { UPLOAD_UUID, "{\"uploadId\":\"not-a-uuid\"}", NULL, 0, UPLOAD_UUID },   /* the header wins */
    { "not-a-uuid", NULL, NULL, -1, "" },
    { NULL, "{\"uploadId\":12}", NULL, -1, "" },
    { NULL, "{\"uploadId\":\"7c9e6679-7425-40de-944b\"}", NULL, -1, "" },
    { NULL, NULL, "x' OR 1=1", -1, "" },
};

START_TEST(the_upload_id_is_a_uuid_from_the_header_a_field_or_the_query)
{
    struct progress p;
    progress_init(&p, NULL, 0.0);
    struct si_param header = { "x-upload-id", upload_ids[_i].header };
    struct si_param query = { "uploadId", upload_ids[_i].query };
    struct si_request req = { .headers = upload_ids[_i].header ? &header : NULL,
                              .n_headers = upload_ids[_i].header ? 1 : 0,
                              .params = upload_ids[_i].query ? &query : NULL,
                              .n_params = upload_ids[_i].query ? 1 : 0 };
    json_t *fields = upload_ids[_i].field_json ? json_loads(upload_ids[_i].field_json, 0, NULL) : NULL;
    struct si_error err;
    si_error_clear(&err);
    ck_assert_int_eq(progress_upload_id(&p, &req, fields, &err), upload_ids[_i].rc);
    if (upload_ids[_i].rc != 0) {
        ck_assert_int_eq(err.status, 400);
        ck_assert_str_eq(err.code, "bad_field");
    }
    ck_assert_str_eq(p.upload_id, upload_ids[_i].want);
    json_decref(fields);
    progress_cleanup(&p);
}
END_TEST

START_TEST(the_body_is_counted_as_it_is_read_and_the_reader_given_back)
{
    static const char body[] = "Date,Description,Amount\n2024-01-01,A,-1.00\n";
    struct mem_body mb = { body, sizeof body - 1, 0, 7 };
    struct si_request req = { .content_length = (long long)(sizeof body - 1), .body_read = mem_body_read,
                              .body_src = &mb };
    struct progress p;
    progress_init(&p, NULL, 0.0);   /* no caller known: counted, nothing sent, no connection */
    progress_watch_body(&p, &req);
    ck_assert_ptr_ne((void *)req.body_read, (void *)mem_body_read);
    progress_watch_body(&p, &req);   /* twice: still one wrapper */
    char buf[256];
    size_t got = 0;
    long n;
    while ((n = req.body_read(req.body_src, buf + got, sizeof buf - got)) > 0)
        got += (size_t)n;
    ck_assert_uint_eq(got, sizeof body - 1);
    ck_assert_mem_eq(buf, body, got);
    ck_assert_int_eq(p.body_read, (long long)got);
    ck_assert_int_eq(p.body_total, (long long)got);
    progress_rows(&p, "5a7d1b2c-0000-4000-8000-000000000001", PROGRESS_CHECK_ROWS * 100);
    ck_assert_int_eq(p.sent, 0);
    ck_assert(!p.db_open);
    progress_cleanup(&p);
    ck_assert_ptr_eq((void *)req.body_read, (void *)mem_body_read);
    ck_assert_ptr_eq(req.body_src, &mb);
}
END_TEST

static Suite *ingest_suite(void)
{
    Suite *s = suite_create("ingest");
    TCase *tc = tcase_create("multipart");
    tcase_add_loop_test(tc, multipart_parts_arrive_whole_however_the_body_is_chunked, 0, 6);
    tcase_add_loop_test(tc, malformed_multipart_bodies_are_400, 0, sizeof bad_bodies / sizeof bad_bodies[0]);
    tcase_add_test(tc, part_headers_over_the_limit_are_400);
    tcase_add_test(tc, more_than_the_allowed_number_of_parts_is_400);
    tcase_add_test(tc, the_boundary_comes_from_the_content_type);
    suite_add_tcase(s, tc);
    tc = tcase_create("encoding");
    tcase_add_loop_test(tc, text_in_any_common_encoding_becomes_utf8, 0, sizeof encodings / sizeof encodings[0]);
    tcase_add_test(tc, binary_content_is_refused);
    suite_add_tcase(s, tc);
    tc = tcase_create("dedup");
    tcase_add_test(tc, identical_rows_of_one_file_get_successive_occurrences);
    tcase_add_test(tc, a_bank_id_alone_identifies_the_transaction);
    tcase_add_test(tc, the_occurrence_table_grows_without_losing_counts);
    suite_add_tcase(s, tc);
    tc = tcase_create("uploads");
    tcase_add_loop_test(tc, file_names_keep_only_a_safe_display_form, 0, sizeof file_names / sizeof file_names[0]);
    tcase_add_test(tc, long_file_names_are_cut_at_a_character_boundary);
    tcase_add_test(tc, a_user_gets_at_most_the_cap_and_others_are_unaffected);
    tcase_add_test(tc, as_many_users_as_threads_each_get_a_slot);
    tcase_add_test(tc, a_full_disk_is_storage_full_and_other_write_errors_are_internal);
    tcase_add_loop_test(tc, the_stage_refuses_an_amount_beyond_the_bound_or_an_overflowing_total_with_its_line, 0,
                        sizeof amount_checks / sizeof amount_checks[0]);
    suite_add_tcase(s, tc);
    tc = tcase_create("progress");
    tcase_add_loop_test(tc, the_upload_id_is_a_uuid_from_the_header_a_field_or_the_query, 0,
                        sizeof upload_ids / sizeof upload_ids[0]);
    tcase_add_test(tc, the_body_is_counted_as_it_is_read_and_the_reader_given_back);
    suite_add_tcase(s, tc);
    tc = tcase_create("categorize");
    tcase_add_test(tc, the_users_rule_wins_then_the_longest_keyword);
    suite_add_tcase(s, tc);
    tc = tcase_create("settings");
    tcase_add_loop_test(tc, locales_are_canonical_and_give_the_date_order, 0, sizeof locales / sizeof locales[0]);
    tcase_add_test(tc, the_deployments_default_currency_must_be_a_code);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ingest_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

