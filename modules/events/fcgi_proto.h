/* fcgi_proto.h: the FastCGI wire format (records, name-value pairs) without I/O.
 *
 * The import-events responder speaks FastCGI itself instead of through
 * libfcgi, so that one thread can hold hundreds of open requests (see
 * events.h).  This file is the protocol only: a connection state machine that
 * is fed bytes and says when a request is complete, and encoders that append
 * records to a bounded buffer.  Nothing here reads or writes a socket, so the
 * unit tests drive it with byte strings (tests/unit/check_fcgi_proto.c).
 *
 * One request per connection at a time (FCGI_MPXS_CONNS is 0), role
 * RESPONDER only.  Limits: the params stream is bounded by max_params (an
 * oversized one is refused, not truncated); stdin is counted and discarded,
 * and refused past max_stdin. */
#ifndef FCGI_PROTO_H
#define FCGI_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "si_arena.h"
#include "si_buf.h"

#define FCGI_PROTO_VERSION     1
#define FCGI_HEADER_LEN        8
#define FCGI_MAX_CONTENT       65535
#define FCGI_MAX_RECORD        (FCGI_HEADER_LEN + FCGI_MAX_CONTENT + 255)

enum fcgi_record_type {
    FCGI_REC_BEGIN_REQUEST = 1,
    FCGI_REC_ABORT_REQUEST = 2,
    FCGI_REC_END_REQUEST = 3,
    FCGI_REC_PARAMS = 4,
    FCGI_REC_STDIN = 5,
    FCGI_REC_STDOUT = 6,
    FCGI_REC_STDERR = 7,
    FCGI_REC_DATA = 8,
    FCGI_REC_GET_VALUES = 9,
    FCGI_REC_GET_VALUES_RESULT = 10,
    FCGI_REC_UNKNOWN_TYPE = 11
};

#define FCGI_ROLE_RESPONDER    1
#define FCGI_FLAG_KEEP_CONN    1

enum fcgi_protocol_status {
    FCGI_STATUS_REQUEST_COMPLETE = 0,
    FCGI_STATUS_CANT_MPX_CONN = 1,
    FCGI_STATUS_OVERLOADED = 2,
    FCGI_STATUS_UNKNOWN_ROLE = 3
};

/* One record found in an input buffer; content points into that buffer. */
struct fcgi_record {
    uint8_t type;
    uint16_t request_id;
    const uint8_t *content;
    uint16_t content_length;
    uint8_t padding_length;
};

/* Looks for one complete record at the start of in[0..n).  Returns its whole
 * size (header + content + padding) and fills rec; 0 when more bytes are
 * needed; -1 when the bytes are not FastCGI version 1. */
long fcgi_record_parse(const uint8_t *in, size_t n, struct fcgi_record *rec);

/* One name-value pair of a params stream; pointers into the input. */
struct fcgi_pair {
    const uint8_t *name;
    size_t name_len;
    const uint8_t *value;
    size_t value_len;
};

/* Decodes the pair at in[*pos..n) (1- or 4-byte lengths) and advances *pos.
 * Returns 1 for a pair, 0 at the end (*pos == n), -1 when truncated. */
int fcgi_pair_next(const uint8_t *in, size_t n, size_t *pos, struct fcgi_pair *out);

/* Turns a complete params stream into a NULL-terminated "NAME=value" array
 * in arena (what si_request_from_env() takes).  Refuses (-1) truncated
 * pairs, empty names, names holding '=' or NUL, values holding NUL, and more
 * than max_pairs pairs. */
int fcgi_params_to_envp(struct si_arena *arena, const uint8_t *in, size_t n, size_t max_pairs,
                        char ***out_envp, size_t *out_n);

/* What feeding bytes to a connection produced. */
enum fcgi_event {
    FCGI_EV_NONE,      /* every complete record was consumed; feed more bytes */
    FCGI_EV_REQUEST,   /* BEGIN_REQUEST, the whole params stream and the end of stdin arrived */
    FCGI_EV_ABORT,     /* the web server aborted the active request */
    FCGI_EV_ERROR      /* not FastCGI or a limit exceeded: flush the reply, then close */
};

enum fcgi_conn_state {
    FCGI_S_BEGIN,      /* waiting for FCGI_BEGIN_REQUEST */
    FCGI_S_PARAMS,     /* reading the params stream */
    FCGI_S_STDIN,      /* params complete, discarding stdin until its end */
    FCGI_S_ACTIVE      /* the request was handed over; later stdin is ignored */
};

struct fcgi_conn {
    enum fcgi_conn_state state;
    uint16_t request_id;
    uint16_t role;
    uint8_t flags;
    struct si_buf params;             /* the params stream, bounded */
    unsigned long long stdin_bytes;   /* counted and discarded */
    unsigned long long max_stdin;
    unsigned max_conns;               /* FCGI_MAX_CONNS answered to GET_VALUES (default 1) */
    const char *error;                /* static text, set with FCGI_EV_ERROR */
};

void fcgi_conn_init(struct fcgi_conn *c, size_t max_params, unsigned long long max_stdin);
void fcgi_conn_cleanup(struct fcgi_conn *c);   /* safe to call twice */

/* Consumes complete records from in[0..n) and reports in *consumed how many
 * bytes it used; an incomplete record at the end is left for the next call.
 * Management records (request id 0) and records the application must
 * refuse (a second BEGIN_REQUEST, an unknown role) are answered by appending
 * to reply.  Stops at the first event other than FCGI_EV_NONE. */
enum fcgi_event fcgi_conn_feed(struct fcgi_conn *c, const uint8_t *in, size_t n, size_t *consumed,
                               struct si_buf *reply);

/* Encoders.  Each appends whole records to out or nothing at all: they
 * return -1, leaving out unchanged, when the records would not fit its
 * maximum.  Content is padded to a multiple of 8 bytes. */
int fcgi_append_record(struct si_buf *out, uint8_t type, uint16_t request_id, const void *content,
                       size_t n);
/* data split into as many records as needed (n may be 0: then nothing is
 * appended; the empty record that ends a stream is fcgi_append_record(.., 0)). */
int fcgi_append_stream(struct si_buf *out, uint8_t type, uint16_t request_id, const void *data,
                       size_t n);
int fcgi_append_end_request(struct si_buf *out, uint16_t request_id, uint32_t app_status,
                            uint8_t protocol_status);
/* One encoded name-value pair (no record header), for GET_VALUES_RESULT and tests. */
int fcgi_append_pair(struct si_buf *out, const char *name, size_t name_len, const char *value,
                     size_t value_len);

/* Bytes that fcgi_append_stream(n) would append. */
size_t fcgi_stream_size(size_t n);

#endif
