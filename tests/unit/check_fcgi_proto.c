/* check_fcgi_proto.c: the FastCGI record layer of the import-events responder
 * (records split anywhere, padding, 1- and 4-byte pair lengths, oversized
 * params, garbage, management records) and its SSE framing. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "fcgi_proto.h"

/* --- helpers ----------------------------------------------------------------------- */

static void add_begin(struct si_buf *b, uint16_t id, uint16_t role, uint8_t flags)
{
    const uint8_t body[8] = { (uint8_t)(role >> 8), (uint8_t)role, flags, 0, 0, 0, 0, 0 };
    ck_assert_int_eq(fcgi_append_record(b, FCGI_REC_BEGIN_REQUEST, id, body, sizeof body), 0);
}

static void add_params(struct si_buf *b, uint16_t id, const char *const *pairs)
{
    struct si_buf p;
    si_buf_init(&p, 1 << 20);
    for (size_t i = 0; pairs[i] != NULL; i += 2)
        ck_assert_int_eq(fcgi_append_pair(&p, pairs[i], strlen(pairs[i]), pairs[i + 1], strlen(pairs[i + 1])), 0);
    ck_assert_int_eq(fcgi_append_stream(b, FCGI_REC_PARAMS, id, p.data, p.len), 0);
    ck_assert_int_eq(fcgi_append_record(b, FCGI_REC_PARAMS, id, NULL, 0), 0);
    si_buf_cleanup(&p);
}

static void add_stdin_end(struct si_buf *b, uint16_t id)
{
    ck_assert_int_eq(fcgi_append_record(b, FCGI_REC_STDIN, id, NULL, 0), 0);
}

static const char *const get_params[] = {
    "REQUEST_METHOD", "GET", "DOCUMENT_URI", "/.netlify/functions/import-events",
    "QUERY_STRING", "importId=x", "HTTP_ACCEPT", "text/event-stream", NULL
};

/* Feeds in[0..n) to a fresh connection `chunk` bytes at a time, as reads
 * would deliver it; returns the first event other than NONE (or NONE). */
static enum fcgi_event feed_in_chunks(struct fcgi_conn *c, const char *in, size_t n, size_t chunk,
                                      struct si_buf *reply)
{
    struct si_buf pending;
    si_buf_init(&pending, n + 1);
    enum fcgi_event ev = FCGI_EV_NONE;
    for (size_t off = 0; off < n && ev == FCGI_EV_NONE;) {
        size_t take = n - off < chunk ? n - off : chunk;
        /* No ck_assert on the byte-by-byte path: each passing one costs Check a write(2). */
        if (si_buf_append(&pending, in + off, take) != 0)
            ck_abort_msg("out of memory");
        off += take;
        size_t used = 0;
        ev = fcgi_conn_feed(c, (const uint8_t *)pending.data, pending.len, &used, reply);
        if (used > pending.len)
            ck_abort_msg("consumed %zu of %zu bytes", used, pending.len);
        if (used > 0) {
            memmove(pending.data, pending.data + used, pending.len - used);
            pending.len -= used;
        }
    }
    si_buf_cleanup(&pending);
    return ev;
}

/* --- records ----------------------------------------------------------------------- */

static const struct {
    const char *name;
    const char *bytes;
    size_t n;
    long want;          /* record size, 0 = need more, -1 = garbage */
    uint8_t type;
    uint16_t id, content;
} record_cases[] = {
    { "nothing yet", "", 0, 0, 0, 0, 0 },
    { "half a header", "\x01\x06\x00\x01", 4, 0, 0, 0, 0 },
    { "header without its content", "\x01\x06\x00\x01\x00\x05\x03\x00" "ab", 10, 0, 0, 0, 0 },
    { "content without its padding", "\x01\x06\x00\x01\x00\x05\x03\x00" "abcde\0", 14, 0, 0, 0, 0 },
    { "content and padding", "\x01\x06\x00\x01\x00\x05\x03\x00" "abcde\0\0\0", 16, 16, 6, 1, 5 },
    { "an empty record", "\x01\x05\x01\x02\x00\x00\x00\x00", 8, 8, 5, 258, 0 },
    { "a record and the start of the next", "\x01\x05\x00\x07\x00\x00\x00\x00\x01\x04", 10, 8, 5, 7, 0 },
    { "version 0 is garbage", "\x00\x06\x00\x01\x00\x00\x00\x00", 8, -1, 0, 0, 0 },
    { "version 2 is garbage from the first byte", "\x02", 1, -1, 0, 0, 0 },
    { "HTTP is garbage", "GET / HTTP/1.1\r\n", 16, -1, 0, 0, 0 },
    { "type 0 is garbage", "\x01\x00", 2, -1, 0, 0, 0 },
};

START_TEST(records_are_found_only_when_complete)
{
    struct fcgi_record r;
    memset(&r, 0, sizeof r);
    long got = fcgi_record_parse((const uint8_t *)record_cases[_i].bytes, record_cases[_i].n, &r);
    ck_assert_msg(got == record_cases[_i].want, "%s: got %ld", record_cases[_i].name, got);
    if (got > 0) {
        ck_assert_uint_eq(r.type, record_cases[_i].type);
        ck_assert_uint_eq(r.request_id, record_cases[_i].id);
        ck_assert_uint_eq(r.content_length, record_cases[_i].content);
    }
}
END_TEST

START_TEST(records_are_padded_to_eight_bytes_and_parse_back)
{
    for (size_t n = 0; n <= 17; n++) {
        struct si_buf b;
        si_buf_init(&b, 1024);
        char content[17];
        memset(content, 'x', sizeof content);
        ck_assert_int_eq(fcgi_append_record(&b, FCGI_REC_STDOUT, 513, content, n), 0);
        ck_assert_uint_eq(b.len % 8, 0);
        struct fcgi_record r;
        ck_assert_int_eq(fcgi_record_parse((const uint8_t *)b.data, b.len, &r), (long)b.len);
        ck_assert_uint_eq(r.content_length, n);
        ck_assert_uint_eq(r.request_id, 513);
        si_buf_cleanup(&b);
    }
}
END_TEST

START_TEST(a_long_stream_is_split_into_records_of_at_most_65535_bytes)
{
    size_t n = 200000;
    char *data = malloc(n);
    ck_assert_ptr_nonnull(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)(i % 251);
    struct si_buf b;
    si_buf_init(&b, 1 << 20);
    ck_assert_int_eq(fcgi_append_stream(&b, FCGI_REC_STDOUT, 1, data, n), 0);
    ck_assert_uint_eq(b.len, fcgi_stream_size(n));
    size_t off = 0, got = 0, records = 0;
    while (off < b.len) {
        struct fcgi_record r;
        long size = fcgi_record_parse((const uint8_t *)b.data + off, b.len - off, &r);
        ck_assert_int_gt(size, 0);
        ck_assert_uint_eq(r.type, FCGI_REC_STDOUT);
        ck_assert_int_eq(memcmp(r.content, data + got, r.content_length), 0);
        got += r.content_length;
        off += (size_t)size;
        records++;
    }
    ck_assert_uint_eq(got, n);
    ck_assert_uint_eq(records, 4);
    si_buf_cleanup(&b);
    free(data);
}
END_TEST

START_TEST(encoders_append_whole_records_or_nothing)
{
    struct si_buf b;
    si_buf_init(&b, 40);
    ck_assert_int_eq(fcgi_append_end_request(&b, 1, 0, FCGI_STATUS_REQUEST_COMPLETE), 0);
    ck_assert_uint_eq(b.len, 16);
    ck_assert_int_eq(memcmp(b.data, "\x01\x03\x00\x01\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 16), 0);
    char big[64] = { 0 };
    ck_assert_int_eq(fcgi_append_record(&b, FCGI_REC_STDOUT, 1, big, sizeof big), -1);
    ck_assert_int_eq(fcgi_append_stream(&b, FCGI_REC_STDOUT, 1, big, 17), -1);
    ck_assert_uint_eq(b.len, 16);
    ck_assert_int_eq(fcgi_append_record(&b, FCGI_REC_STDOUT, 1, big, FCGI_MAX_CONTENT + 1), -1);
    ck_assert_int_eq(fcgi_append_stream(&b, FCGI_REC_STDOUT, 1, big, 16), 0);
    ck_assert_uint_eq(b.len, 40);
    si_buf_cleanup(&b);
}
END_TEST

/* --- name-value pairs ------------------------------------------------------------- */

START_TEST(pair_lengths_use_one_byte_below_128_and_four_bytes_from_128)
{
    static const size_t lengths[] = { 0, 1, 127, 128, 255, 70000 };
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        size_t nl = lengths[i], vl = lengths[sizeof lengths / sizeof lengths[0] - 1 - i];
        char *name = malloc(nl + 1), *value = malloc(vl + 1);
        memset(name, 'N', nl);
        memset(value, 'v', vl);
        struct si_buf b;
        si_buf_init(&b, 1 << 20);
        ck_assert_int_eq(fcgi_append_pair(&b, name, nl, value, vl), 0);
        ck_assert_uint_eq(b.len, (nl < 128 ? 1 : 4) + (vl < 128 ? 1 : 4) + nl + vl);
        if (nl >= 128)
            ck_assert_uint_eq((uint8_t)b.data[0] & 0x80, 0x80);
        size_t pos = 0;
        struct fcgi_pair p;
        ck_assert_int_eq(fcgi_pair_next((const uint8_t *)b.data, b.len, &pos, &p), 1);
        ck_assert_uint_eq(p.name_len, nl);
        ck_assert_uint_eq(p.value_len, vl);
        ck_assert_int_eq(memcmp(p.value, value, vl), 0);
        ck_assert_int_eq(fcgi_pair_next((const uint8_t *)b.data, b.len, &pos, &p), 0);
        si_buf_cleanup(&b);
        free(name);
        free(value);
    }
}
END_TEST

static const struct {
    const char *name;
    const char *bytes;
    size_t n;
} truncated_pairs[] = {
    { "no value length", "\x04", 1 },
    { "a 4-byte name length cut short", "\x80\x00\x01", 3 },
    { "a 4-byte value length cut short", "\x01\x80\x00", 3 },
    { "name longer than the input", "\x05\x01" "ab", 4 },
    { "value longer than the input", "\x01\x05" "ab", 4 },
    { "a 4-byte length far beyond the input", "\x01\xff\xff\xff\xff" "a", 6 },
};

START_TEST(truncated_pairs_are_refused)
{
    size_t pos = 0;
    struct fcgi_pair p;
    ck_assert_msg(fcgi_pair_next((const uint8_t *)truncated_pairs[_i].bytes, truncated_pairs[_i].n, &pos, &p) == -1,
                  "%s", truncated_pairs[_i].name);
}
END_TEST

static const struct {
    const char *name;
    const char *bytes;
    size_t n;
    size_t max_pairs;
    int want;
    size_t pairs;
} envp_cases[] = {
    { "two pairs", "\x01\x01" "ab" "\x02\x00" "cd", 8, 10, 0, 2 },
    { "no pairs", "", 0, 10, 0, 0 },
    { "an empty value", "\x01\x00" "a", 3, 10, 0, 1 },
    { "an empty name", "\x00\x01" "b", 3, 10, -1, 0 },
    { "'=' in a name", "\x03\x01" "a=b" "c", 6, 10, -1, 0 },
    { "NUL in a name", "\x02\x01" "a\0" "c", 5, 10, -1, 0 },
    { "NUL in a value", "\x01\x02" "a" "c\0", 5, 10, -1, 0 },
    { "more pairs than allowed", "\x01\x01" "ab" "\x01\x01" "cd", 8, 1, -1, 0 },
    { "a truncated last pair", "\x01\x01" "ab" "\x01\x05" "cd", 8, 10, -1, 0 },
};

START_TEST(params_become_an_envp_array_or_are_refused)
{
    struct si_arena arena;
    si_arena_init(&arena, SI_ARENA_MAX);
    char **envp = NULL;
    size_t n = 99;
    int rc = fcgi_params_to_envp(&arena, (const uint8_t *)envp_cases[_i].bytes, envp_cases[_i].n,
                                 envp_cases[_i].max_pairs, &envp, &n);
    ck_assert_msg(rc == envp_cases[_i].want, "%s: rc %d", envp_cases[_i].name, rc);
    if (rc == 0) {
        ck_assert_uint_eq(n, envp_cases[_i].pairs);
        ck_assert_ptr_null(envp[n]);
        if (n == 2) {
            ck_assert_str_eq(envp[0], "a=b");
            ck_assert_str_eq(envp[1], "cd=");
        }
    }
    si_arena_cleanup(&arena);
}
END_TEST

/* --- the connection state machine ------------------------------------------------- */

static const size_t chunk_sizes[] = { 1, 2, 3, 7, 8, 9, 100, 100000 };

START_TEST(a_request_is_complete_at_the_end_of_stdin_however_the_bytes_are_split)
{
    struct si_buf in;
    si_buf_init(&in, 1 << 20);
    add_begin(&in, 1, FCGI_ROLE_RESPONDER, 0);
    add_params(&in, 1, get_params);
    add_stdin_end(&in, 1);
    struct fcgi_conn c;
    struct si_buf reply;
    fcgi_conn_init(&c, EV_MAX_PARAMS, EV_MAX_STDIN);
    si_buf_init(&reply, 4096);
    ck_assert_int_eq(feed_in_chunks(&c, in.data, in.len, chunk_sizes[_i], &reply), FCGI_EV_REQUEST);
    ck_assert_uint_eq(reply.len, 0);
    ck_assert_uint_eq(c.request_id, 1);
    ck_assert_int_eq(c.state, FCGI_S_ACTIVE);

    struct si_arena arena;
    si_arena_init(&arena, SI_ARENA_MAX);
    char **envp = NULL;
    size_t n = 0;
    ck_assert_int_eq(fcgi_params_to_envp(&arena, (const uint8_t *)c.params.data, c.params.len, 64, &envp, &n), 0);
    ck_assert_uint_eq(n, 4);
    ck_assert_str_eq(envp[0], "REQUEST_METHOD=GET");
    ck_assert_str_eq(envp[3], "HTTP_ACCEPT=text/event-stream");
    si_arena_cleanup(&arena);
    si_buf_cleanup(&reply);
    si_buf_cleanup(&in);
    fcgi_conn_cleanup(&c);
}
END_TEST

START_TEST(params_with_four_byte_lengths_spread_over_several_records_are_joined)
{
    char *big = malloc(70000 + 1);
    memset(big, 'q', 70000);
    big[70000] = '\0';
    const char *const pairs[] = { "QUERY_STRING", big, "REQUEST_METHOD", "GET", NULL };
    struct si_buf in;
    si_buf_init(&in, 1 << 20);
    add_begin(&in, 7, FCGI_ROLE_RESPONDER, 0);
    add_params(&in, 7, pairs);
    add_stdin_end(&in, 7);
    struct fcgi_conn c;
    struct si_buf reply;
    fcgi_conn_init(&c, 128 * 1024, EV_MAX_STDIN);
    si_buf_init(&reply, 4096);
    ck_assert_int_eq(feed_in_chunks(&c, in.data, in.len, 4096, &reply), FCGI_EV_REQUEST);
    struct si_arena arena;
    si_arena_init(&arena, SI_ARENA_MAX);
    char **envp = NULL;
    size_t n = 0;
    ck_assert_int_eq(fcgi_params_to_envp(&arena, (const uint8_t *)c.params.data, c.params.len, 64, &envp, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(strlen(envp[0]), strlen("QUERY_STRING=") + 70000);
    si_arena_cleanup(&arena);
    si_buf_cleanup(&reply);
    si_buf_cleanup(&in);
    fcgi_conn_cleanup(&c);
    free(big);
}
END_TEST

START_TEST(params_over_the_limit_are_refused)
{
    char *big = malloc(EV_MAX_PARAMS + 1);
    memset(big, 'h', EV_MAX_PARAMS);
    big[EV_MAX_PARAMS] = '\0';
    const char *const pairs[] = { "HTTP_X_BIG", big, NULL };
    struct si_buf in;
    si_buf_init(&in, 1 << 20);
    add_begin(&in, 1, FCGI_ROLE_RESPONDER, 0);
    add_params(&in, 1, pairs);
    add_stdin_end(&in, 1);
    struct fcgi_conn c;
    struct si_buf reply;
    fcgi_conn_init(&c, EV_MAX_PARAMS, EV_MAX_STDIN);
    si_buf_init(&reply, 4096);
    ck_assert_int_eq(feed_in_chunks(&c, in.data, in.len, 65536, &reply), FCGI_EV_ERROR);
    ck_assert_str_eq(c.error, "params stream larger than the limit");
    ck_assert_uint_le(c.params.len, EV_MAX_PARAMS);
    si_buf_cleanup(&reply);
    si_buf_cleanup(&in);
    fcgi_conn_cleanup(&c);
    free(big);
}
END_TEST

/* Byte sequences and what the connection must make of them. */
enum script_step { BEGIN1, BEGIN2, BEGIN_AUTHORIZER, PARAMS1, PARAMS_END1, STDIN_DATA1, STDIN_END1,
                   ABORT1, GET_VALUES, MGMT_UNKNOWN, STDOUT_ID9, GARBAGE, SHORT_BEGIN, BIG_STDIN1, END };

static const struct {
    const char *name;
    enum script_step steps[8];
    enum fcgi_event want;
    uint8_t reply_type;     /* type of the first reply record, 0 = no reply */
    uint8_t reply_status;   /* protocol status of an END_REQUEST reply */
} scripts[] = {
    { "a request with a small body", { BEGIN1, PARAMS1, PARAMS_END1, STDIN_DATA1, STDIN_END1, END }, FCGI_EV_REQUEST, 0, 0 },
    { "an abort while reading params", { BEGIN1, PARAMS1, ABORT1, END }, FCGI_EV_ABORT, 0, 0 },
    { "records of another request are ignored", { BEGIN1, STDOUT_ID9, PARAMS1, PARAMS_END1, STDIN_END1, END }, FCGI_EV_REQUEST, 0, 0 },
    { "a second request on the connection is refused", { BEGIN1, PARAMS1, BEGIN2, PARAMS_END1, STDIN_END1, END },
      FCGI_EV_REQUEST, FCGI_REC_END_REQUEST, FCGI_STATUS_CANT_MPX_CONN },
    { "a role other than responder is refused", { BEGIN_AUTHORIZER, END }, FCGI_EV_ERROR, FCGI_REC_END_REQUEST,
      FCGI_STATUS_UNKNOWN_ROLE },
    { "GET_VALUES is answered", { GET_VALUES, END }, FCGI_EV_NONE, FCGI_REC_GET_VALUES_RESULT, 0 },
    { "an unknown management record is answered", { MGMT_UNKNOWN, END }, FCGI_EV_NONE, FCGI_REC_UNKNOWN_TYPE, 0 },
    { "garbage", { GARBAGE, END }, FCGI_EV_ERROR, 0, 0 },
    { "garbage after a begin", { BEGIN1, GARBAGE, END }, FCGI_EV_ERROR, 0, 0 },
    { "a BEGIN_REQUEST too short", { SHORT_BEGIN, END }, FCGI_EV_ERROR, 0, 0 },
    { "stdin before the end of params", { BEGIN1, PARAMS1, STDIN_DATA1, END }, FCGI_EV_ERROR, 0, 0 },
    { "params after their end", { BEGIN1, PARAMS1, PARAMS_END1, PARAMS1, END }, FCGI_EV_ERROR, 0, 0 },
    { "a body over the limit", { BEGIN1, PARAMS1, PARAMS_END1, BIG_STDIN1, BIG_STDIN1, END }, FCGI_EV_ERROR, 0, 0 },
    { "stdin without a request", { STDIN_END1, END }, FCGI_EV_NONE, 0, 0 },
};

static void add_step(struct si_buf *b, enum script_step s)
{
    static char big[60000];
    const char *const params[] = { "REQUEST_METHOD", "GET", NULL };
    struct si_buf p;
    switch (s) {
    case BEGIN1: add_begin(b, 1, FCGI_ROLE_RESPONDER, 0); break;
    case BEGIN2: add_begin(b, 2, FCGI_ROLE_RESPONDER, 0); break;
    case BEGIN_AUTHORIZER: add_begin(b, 1, 2, 0); break;
    case PARAMS1:
        si_buf_init(&p, 1024);
        ck_assert_int_eq(fcgi_append_pair(&p, params[0], strlen(params[0]), params[1], strlen(params[1])), 0);
        ck_assert_int_eq(fcgi_append_record(b, FCGI_REC_PARAMS, 1, p.data, p.len), 0);
        si_buf_cleanup(&p);
        break;
    case PARAMS_END1: ck_assert_int_eq(fcgi_append_record(b, FCGI_REC_PARAMS, 1, NULL, 0), 0); break;
    case STDIN_DATA1: ck_assert_int_eq(fcgi_append_record(b, FCGI_REC_STDIN, 1, "body", 4), 0); break;
    case STDIN_END1: add_stdin_end(b, 1); break;
    case ABORT1: ck_assert_int_eq(fcgi_append_record(b, FCGI_REC_ABORT_REQUEST, 1, NULL, 0), 0); break;
    case GET_VALUES:
        si_buf_init(&p, 1024);
        ck_assert_int_eq(fcgi_append_pair(&p, "FCGI_MPXS_CONNS", 15, "", 0), 0);
        ck_assert_int_eq(fcgi_append_pair(&p, "FCGI_MAX_CONNS", 14, "", 0), 0);
        ck_assert_int_eq(fcgi_append_pair(&p, "SOMETHING_ELSE", 14, "", 0), 0);
        ck_assert_int_eq(fcgi_append_record(b, FCGI_REC_GET_VALUES, 0, p.data, p.len), 0);
        si_buf_cleanup(&p);
        break;
    case MGMT_UNKNOWN: ck_assert_int_eq(fcgi_append_record(b, 42, 0, "x", 1), 0); break;
    case STDOUT_ID9: ck_assert_int_eq(fcgi_append_record(b, FCGI_REC_STDOUT, 9, "x", 1), 0); break;
    case GARBAGE: ck_assert_int_eq(si_buf_appends(b, "GET / HTTP/1.0\r\n\r\n"), 0); break;
    case SHORT_BEGIN: ck_assert_int_eq(fcgi_append_record(b, FCGI_REC_BEGIN_REQUEST, 1, "\0\1", 2), 0); break;
    case BIG_STDIN1: ck_assert_int_eq(fcgi_append_record(b, FCGI_REC_STDIN, 1, big, sizeof big), 0); break;
    case END: break;
    }
}

START_TEST(record_sequences_give_the_expected_event_and_reply)
{
    for (size_t k = 0; k < sizeof chunk_sizes / sizeof chunk_sizes[0]; k++) {
        struct si_buf in, reply;
        si_buf_init(&in, 1 << 20);
        si_buf_init(&reply, 4096);
        for (size_t i = 0; scripts[_i].steps[i] != END; i++)
            add_step(&in, scripts[_i].steps[i]);
        struct fcgi_conn c;
        fcgi_conn_init(&c, EV_MAX_PARAMS, EV_MAX_STDIN);
        c.max_conns = 300;
        enum fcgi_event ev = feed_in_chunks(&c, in.data, in.len, chunk_sizes[k], &reply);
        ck_assert_msg(ev == scripts[_i].want, "%s (chunks of %zu): event %d", scripts[_i].name, chunk_sizes[k], ev);
        if (scripts[_i].reply_type == 0) {
            ck_assert_msg(reply.len == 0, "%s: unexpected reply", scripts[_i].name);
        } else {
            struct fcgi_record r;
            ck_assert_int_gt(fcgi_record_parse((const uint8_t *)reply.data, reply.len, &r), 0);
            ck_assert_uint_eq(r.type, scripts[_i].reply_type);
            if (r.type == FCGI_REC_END_REQUEST)
                ck_assert_uint_eq(r.content[4], scripts[_i].reply_status);
            if (r.type == FCGI_REC_GET_VALUES_RESULT) {
                size_t pos = 0;
                struct fcgi_pair p;
                ck_assert_int_eq(fcgi_pair_next(r.content, r.content_length, &pos, &p), 1);
                ck_assert_int_eq(memcmp(p.name, "FCGI_MPXS_CONNS", 15), 0);
                ck_assert_int_eq(memcmp(p.value, "0", p.value_len), 0);
                ck_assert_int_eq(fcgi_pair_next(r.content, r.content_length, &pos, &p), 1);
                ck_assert_int_eq(memcmp(p.value, "300", p.value_len), 0);
                ck_assert_int_eq(fcgi_pair_next(r.content, r.content_length, &pos, &p), 0);
            }
            if (r.type == FCGI_REC_UNKNOWN_TYPE)
                ck_assert_uint_eq(r.content[0], 42);
        }
        si_buf_cleanup(&in);
        si_buf_cleanup(&reply);
        fcgi_conn_cleanup(&c);
    }
}
END_TEST

START_TEST(stdin_and_an_abort_after_the_request_are_reported_or_ignored)
{
    struct si_buf in, reply;
    si_buf_init(&in, 1 << 16);
    si_buf_init(&reply, 4096);
    add_begin(&in, 1, FCGI_ROLE_RESPONDER, 0);
    add_params(&in, 1, get_params);
    add_stdin_end(&in, 1);
    struct fcgi_conn c;
    fcgi_conn_init(&c, EV_MAX_PARAMS, EV_MAX_STDIN);
    size_t used = 0;
    ck_assert_int_eq(fcgi_conn_feed(&c, (const uint8_t *)in.data, in.len, &used, &reply), FCGI_EV_REQUEST);
    ck_assert_uint_eq(used, in.len);
    si_buf_reset(&in);
    ck_assert_int_eq(fcgi_append_record(&in, FCGI_REC_STDIN, 1, "late", 4), 0);
    add_stdin_end(&in, 1);
    ck_assert_int_eq(fcgi_conn_feed(&c, (const uint8_t *)in.data, in.len, &used, &reply), FCGI_EV_NONE);
    ck_assert_uint_eq(used, in.len);
    si_buf_reset(&in);
    ck_assert_int_eq(fcgi_append_record(&in, FCGI_REC_ABORT_REQUEST, 1, NULL, 0), 0);
    ck_assert_int_eq(fcgi_conn_feed(&c, (const uint8_t *)in.data, in.len, &used, &reply), FCGI_EV_ABORT);
    si_buf_cleanup(&in);
    si_buf_cleanup(&reply);
    fcgi_conn_cleanup(&c);
}
END_TEST

/* --- SSE frames and cursors ---------------------------------------------------------- */

START_TEST(an_event_becomes_one_sse_frame_with_its_json)
{
    struct si_buf b;
    si_buf_init(&b, 4096);
    struct ev_row row = { 42, "6f1c1d3e-0000-4000-8000-000000000001", "6f1c1d3e-0000-4000-8000-0000000000aa",
                          "import:commit:complete", "{\"committed\": 5}", "2024-05-01T10:00:00.123Z" };
    ck_assert_int_eq(ev_sse_frame(&b, 42, &row), 0);
    ck_assert_str_eq(b.data, "id: 42\nevent: import:commit:complete\n"
                             "data: {\"id\":42,\"importId\":\"6f1c1d3e-0000-4000-8000-0000000000aa\","
                             "\"type\":\"import:commit:complete\",\"payload\":{\"committed\": 5},"
                             "\"createdAt\":\"2024-05-01T10:00:00.123Z\"}\n\n");
    si_buf_reset(&b);
    row.import_id = NULL;
    ck_assert_int_eq(ev_sse_frame(&b, 50, &row), 0);
    ck_assert_ptr_nonnull(strstr(b.data, "id: 50\n"));
    ck_assert_ptr_nonnull(strstr(b.data, "\"importId\":null"));
    si_buf_cleanup(&b);

    struct si_buf small;
    si_buf_init(&small, 20);
    ck_assert_int_eq(ev_sse_frame(&small, 1, &row), -1);
    ck_assert_uint_eq(small.len, 0);
    si_buf_cleanup(&small);
}
END_TEST

static const struct {
    const char *text;
    int rc;
    long long value;
} cursors[] = {
    { "0", 0, 0 }, { "17", 0, 17 }, { "9223372036854775807", 0, 9223372036854775807LL },
    { "9223372036854775808", -1, 0 }, { "-1", -1, 0 }, { "+1", -1, 0 }, { " 1", -1, 0 }, { "1a", -1, 0 },
    { "", -1, 0 }, { "12345678901234567890", -1, 0 },
};

START_TEST(cursors_are_plain_non_negative_integers)
{
    long long v = -5;
    ck_assert_int_eq(ev_parse_cursor(cursors[_i].text, &v), cursors[_i].rc);
    if (cursors[_i].rc == 0)
        ck_assert_int_eq(v, cursors[_i].value);
}
END_TEST

#define N(a) (sizeof(a) / sizeof((a)[0]))

static Suite *fcgi_suite(void)
{
    Suite *s = suite_create("fcgi_proto");
    TCase *tc = tcase_create("records");
    tcase_add_loop_test(tc, records_are_found_only_when_complete, 0, N(record_cases));
    tcase_add_test(tc, records_are_padded_to_eight_bytes_and_parse_back);
    tcase_add_test(tc, a_long_stream_is_split_into_records_of_at_most_65535_bytes);
    tcase_add_test(tc, encoders_append_whole_records_or_nothing);
    suite_add_tcase(s, tc);

    tc = tcase_create("pairs");
    tcase_add_test(tc, pair_lengths_use_one_byte_below_128_and_four_bytes_from_128);
    tcase_add_loop_test(tc, truncated_pairs_are_refused, 0, N(truncated_pairs));
    tcase_add_loop_test(tc, params_become_an_envp_array_or_are_refused, 0, N(envp_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("connection");
    tcase_add_loop_test(tc, a_request_is_complete_at_the_end_of_stdin_however_the_bytes_are_split, 0,
                        N(chunk_sizes));
    tcase_add_test(tc, params_with_four_byte_lengths_spread_over_several_records_are_joined);
    tcase_add_test(tc, params_over_the_limit_are_refused);
    tcase_add_loop_test(tc, record_sequences_give_the_expected_event_and_reply, 0, N(scripts));
    tcase_add_test(tc, stdin_and_an_abort_after_the_request_are_reported_or_ignored);
    suite_add_tcase(s, tc);

    tc = tcase_create("sse");
    tcase_add_test(tc, an_event_becomes_one_sse_frame_with_its_json);
    tcase_add_loop_test(tc, cursors_are_plain_non_negative_integers, 0, N(cursors));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fcgi_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
