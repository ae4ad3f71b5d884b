/* si_base64.h: the one base64 codec (RFC 4648): the standard alphabet for uploads
 * (ingest's contentBase64: whitespace ignored, padding optional, decoded in chunks
 * into a sink) and base64url for tokens (JWT segments: no padding, no whitespace,
 * canonical: the unused low bits of the last character are zero). */
#ifndef SI_BASE64_H
#define SI_BASE64_H

#include <stddef.h>

#include "si_buf.h"

#define SI_BASE64_STD 0u   /* +/ and '=' padding (optional); spaces, tabs and line breaks skipped */
#define SI_BASE64_URL 1u   /* -_ only, strict */

enum si_base64_status {
    SI_BASE64_OK = 0,
    SI_BASE64_BAD_CHAR,        /* a character outside the alphabet */
    SI_BASE64_AFTER_PADDING,   /* data after '=' */
    SI_BASE64_TRUNCATED,       /* a length no encoder makes (one character over a group, or too much padding) */
    SI_BASE64_NONCANONICAL,    /* SI_BASE64_URL: unused bits set */
    SI_BASE64_SINK,            /* the sink returned non-zero */
};

/* Receives the decoded bytes in chunks (at most a few KiB each); 0 to go on. */
typedef int (*si_base64_sink)(void *arg, const unsigned char *data, size_t n);

enum si_base64_status si_base64_decode(const char *in, size_t n, unsigned flags, si_base64_sink sink, void *arg);

/* base64url text in[0..n) into out (capacity cap): 0 with *out_len, or -1 (bad text,
 * or more than cap bytes). */
int si_base64url_decode(const char *in, size_t n, unsigned char *out, size_t cap, size_t *out_len);

/* Appends data to out as unpadded base64url.  Returns 0 or -1. */
int si_base64url_encode(const unsigned char *data, size_t n, struct si_buf *out);

#endif
