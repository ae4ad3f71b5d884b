/* encoding.c: detect the text encoding of an upload and convert it to
 * UTF-8 with iconv, streaming (see encoding.h). */
#include "encoding.h"
#include "spool_file.h"

#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <string.h>

#define CHUNK 65536

/* Streaming UTF-8 validation; state carries an unfinished sequence. */
struct utf8_check {
    int need;       /* continuation bytes still expected */
    bool valid;
    bool nul;
};

static void utf8_feed(struct utf8_check *u, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c == 0)
            u->nul = true;
        if (!u->valid)
            continue;   /* keep looking for NUL bytes: binary is refused either way */
        if (u->need > 0) {
            if ((c & 0xC0) != 0x80)
                u->valid = false;
            u->need--;
        } else if (c < 0x80) {
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            u->need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            u->need = 2;
        } else if (c >= 0xF0 && c <= 0xF4) {
            u->need = 3;
        } else {
            u->valid = false;
        }
    }
}

/* Copies in from offset `skip` to a new temp file, converting from `from`
 * (NULL = copy as is). */
static int convert(const char *dir, FILE *in, long skip, const char *from, FILE **out, struct si_error *err)
{
    char inbuf[CHUNK + 8], outbuf[CHUNK * 4];
    iconv_t cd = (iconv_t)-1;
    FILE *f = spool_file_open(dir, err);
    int rc = -1;
    if (f == NULL)
        goto out;
    if (fseek(in, skip, SEEK_SET) != 0) {
        si_error_set(err, 500, "internal", "cannot read the upload back");
        goto out;
    }
    if (from != NULL && (cd = iconv_open("UTF-8", from)) == (iconv_t)-1) {
        si_error_set(err, 500, "internal", "text conversion is not available");
        goto out;
    }
    size_t carry = 0;
    for (;;) {
        size_t n = fread(inbuf + carry, 1, CHUNK, in);
        size_t avail = carry + n;
        if (avail == 0)
            break;
        if (cd == (iconv_t)-1) {
            if (fwrite(inbuf, 1, avail, f) != avail)
                goto write_error;
            carry = 0;
        } else {
            char *ip = inbuf, *op = outbuf;
            size_t il = avail, ol = sizeof outbuf;
            size_t r = iconv(cd, &ip, &il, &op, &ol);
            if (r == (size_t)-1 && errno == EILSEQ) {
                si_error_set(err, 400, "bad_encoding", "the file's text encoding could not be read");
                goto out;
            }
            if (r == (size_t)-1 && errno == EINVAL && n == 0) {
                si_error_set(err, 400, "bad_encoding", "the file ends in the middle of a character");
                goto out;
            }
            size_t produced = sizeof outbuf - ol;
            if (fwrite(outbuf, 1, produced, f) != produced)
                goto write_error;
            carry = il;                 /* an incomplete character waits for more input */
            memmove(inbuf, ip, carry);
        }
        if (n == 0)
            break;
    }
    if (fflush(f) != 0)
        goto write_error;
    rewind(f);
    *out = f;
    f = NULL;
    rc = 0;
    goto out;
write_error:
    spool_file_write_error(err, "cannot write a temporary file");
out:
    if (cd != (iconv_t)-1)
        iconv_close(cd);
    if (f != NULL)
        fclose(f);
    rewind(in);
    return rc;
}

int encoding_to_utf8(const char *dir, FILE *in, FILE **out, const char **out_name, struct si_error *err)
{
    unsigned char head[4096];
    rewind(in);
    size_t n = fread(head, 1, sizeof head, in);
    rewind(in);
    *out = NULL;
    if (n >= 2 && head[0] == 0xFF && head[1] == 0xFE) {
        *out_name = "utf-16le";
        return convert(dir, in, 2, "UTF-16LE", out, err);
    }
    if (n >= 2 && head[0] == 0xFE && head[1] == 0xFF) {
        *out_name = "utf-16be";
        return convert(dir, in, 2, "UTF-16BE", out, err);
    }
    if (n >= 3 && head[0] == 0xEF && head[1] == 0xBB && head[2] == 0xBF) {
        *out_name = "utf-8-bom";
        return convert(dir, in, 3, NULL, out, err);
    }
    /* UTF-16 without a BOM: text whose odd or even bytes are all zero. */
    if (n >= 16 && n % 2 == 0) {
        size_t zero_even = 0, zero_odd = 0;
        for (size_t i = 0; i < n; i += 2) {
            zero_even += head[i] == 0;
            zero_odd += head[i + 1] == 0;
        }
        if (zero_odd == n / 2 && zero_even == 0) {
            *out_name = "utf-16le";
            return convert(dir, in, 0, "UTF-16LE", out, err);
        }
        if (zero_even == n / 2 && zero_odd == 0) {
            *out_name = "utf-16be";
            return convert(dir, in, 0, "UTF-16BE", out, err);
        }
    }
    struct utf8_check u = { 0, true, false };
    unsigned char buf[CHUNK];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, in)) > 0 && !u.nul)
        utf8_feed(&u, buf, got);
    rewind(in);
    if (u.nul)
        return si_error_set(err, 400, "not_a_statement", "the file is binary, not a bank statement");
    if (u.valid && u.need == 0) {
        *out_name = "utf-8";
        *out = in;
        return 0;
    }
    /* Not UTF-8: Windows-1252, the superset of Latin-1 that banks use;
     * Latin-1 for the five bytes 1252 leaves undefined. */
    *out_name = "windows-1252";
    if (convert(dir, in, 0, "WINDOWS-1252", out, err) == 0)
        return 0;
    *out_name = "latin-1";
    return convert(dir, in, 0, "ISO-8859-1", out, err);
}
