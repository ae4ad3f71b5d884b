/* encoding.c: detect the text encoding of an upload and convert it to
 * UTF-8 with iconv, streaming (see encoding.h). */
#include "encoding.h"
#include "spool_file.h"

#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <string.h>

#define CHUNK 65536

/* The next UTF-8 sequence at p[0..avail): its length when valid (1..4),
 * -k when its first k bytes are not a valid sequence (a maximal bad
 * subpart, replaced by one U+FFFD), 0 when it is cut off by the end of avail
 * (more input may complete it).  Overlong forms and surrogates are invalid. */
static int utf8_next(const unsigned char *p, size_t avail)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    int need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return -1;
    }
    for (int k = 1; k <= need; k++) {
        if ((size_t)k >= avail)
            return 0;
        unsigned char b = p[k];
        if (k == 1 ? (b < lo || b > hi) : (b & 0xC0) != 0x80)
            return -k;
    }
    return need + 1;
}

/* Streaming UTF-8 statistics; carry holds an unfinished sequence. */
struct utf8_check {
    unsigned char carry[4];
    size_t ncarry;
    long multibyte;     /* valid sequences of 2-4 bytes */
    long invalid;       /* bad subparts */
    bool nul;
};

static void utf8_scan(struct utf8_check *u, const unsigned char *p, size_t n, bool last)
{
    unsigned char buf[CHUNK + 4];
    memcpy(buf, u->carry, u->ncarry);
    memcpy(buf + u->ncarry, p, n);
    size_t len = u->ncarry + n, i = 0;
    u->ncarry = 0;
    while (i < len) {
        if (buf[i] == 0)
            u->nul = true;
        int r = utf8_next(buf + i, len - i);
        if (r == 0 && !last) {
            u->ncarry = len - i;
            memcpy(u->carry, buf + i, u->ncarry);
            return;
        }
        if (r == 0) {               /* cut off by the end of the file */
            u->invalid++;
            return;
        }
        if (r < 0) {
            u->invalid++;
            i += (size_t)-r;
            continue;
        }
        if (r > 1)
            u->multibyte++;
        i += (size_t)r;
    }
}

/* Copies in to a new temp file as UTF-8, each bad subpart replaced by
 * U+FFFD and its line recorded. */
static int repair(const char *dir, FILE *in, FILE **out, struct encoding_repairs *rep, struct si_error *err)
{
    unsigned char inbuf[CHUNK + 4], outbuf[CHUNK * 3 + 16];
    FILE *f = spool_file_open(dir, err);
    if (f == NULL)
        return -1;
    rewind(in);
    size_t carry = 0;
    long line = 1, last_line = 0;
    int rc = -1;
    for (;;) {
        size_t n = fread(inbuf + carry, 1, CHUNK, in);
        size_t len = carry + n, i = 0, o = 0;
        bool last = n == 0;
        if (len == 0)
            break;
        carry = 0;
        while (i < len) {
            int r = utf8_next(inbuf + i, len - i);
            if (r == 0 && !last) {
                carry = len - i;
                memmove(inbuf, inbuf + i, carry);
                break;
            }
            if (r <= 0) {
                memcpy(outbuf + o, "\xEF\xBF\xBD", 3);
                o += 3;
                i += r == 0 ? len - i : (size_t)-r;
                if (line != last_line && rep != NULL) {
                    if (rep->n < ENCODING_MAX_REPAIRS)
                        rep->lines[rep->n++] = line;
                    rep->total++;
                }
                last_line = line;
                continue;
            }
            if (inbuf[i] == '\n')
                line++;
            memcpy(outbuf + o, inbuf + i, (size_t)r);
            o += (size_t)r;
            i += (size_t)r;
        }
        if (fwrite(outbuf, 1, o, f) != o) {
            spool_file_write_error(err, "cannot write a temporary file");
            goto out;
        }
        if (last)
            break;
    }
    if (fflush(f) != 0) {
        spool_file_write_error(err, "cannot write a temporary file");
        goto out;
    }
    rewind(f);
    *out = f;
    f = NULL;
    rc = 0;
out:
    if (f != NULL)
        fclose(f);
    rewind(in);
    return rc;
}

/* UTF-16 without a BOM, from the pattern of zero bytes and line breaks in
 * the head: "LE", "BE" or NULL. */
static const char *utf16_without_bom(const unsigned char *head, size_t n)
{
    n -= n % 2;
    if (n < 16)
        return NULL;
    size_t zero_even = 0, zero_odd = 0, nl_le = 0, nl_be = 0, pairs = n / 2;
    for (size_t i = 0; i < n; i += 2) {
        zero_even += head[i] == 0;
        zero_odd += head[i + 1] == 0;
        nl_le += head[i] == '\n' && head[i + 1] == 0;
        nl_be += head[i] == 0 && head[i + 1] == '\n';
    }
    /* Every character Latin-1 (the high bytes all zero), or: line breaks of
     * one byte order only, a zero in at least one pair of eight (digits,
     * separators, spaces and line breaks are ASCII in any script), and zeros
     * at the other offset rare (U+xx00 characters are). */
    if (zero_odd == pairs && zero_even == 0)
        return "UTF-16LE";
    if (zero_even == pairs && zero_odd == 0)
        return "UTF-16BE";
    if (nl_le > 0 && nl_be == 0 && zero_odd * 8 >= pairs && zero_even * 16 <= zero_odd)
        return "UTF-16LE";
    if (nl_be > 0 && nl_le == 0 && zero_even * 8 >= pairs && zero_odd * 16 <= zero_even)
        return "UTF-16BE";
    return NULL;
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

int encoding_to_utf8_repairs(const char *dir, FILE *in, FILE **out, const char **out_name,
                             struct encoding_repairs *repairs, struct si_error *err)
{
    unsigned char head[4096];
    rewind(in);
    size_t n = fread(head, 1, sizeof head, in);
    rewind(in);
    *out = NULL;
    if (repairs != NULL)
        memset(repairs, 0, sizeof *repairs);
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
    const char *utf16 = utf16_without_bom(head, n);
    if (utf16 != NULL) {
        *out_name = strcmp(utf16, "UTF-16LE") == 0 ? "utf-16le" : "utf-16be";
        return convert(dir, in, 0, utf16, out, err);
    }
    struct utf8_check u;
    memset(&u, 0, sizeof u);
    unsigned char buf[CHUNK];
    size_t got;
    while (!u.nul && (got = fread(buf, 1, sizeof buf, in)) > 0)
        utf8_scan(&u, buf, got, false);
    if (!u.nul)
        utf8_scan(&u, buf, 0, true);
    rewind(in);
    if (u.nul)
        return si_error_set(err, 400, "not_a_statement", "the file is binary, not a bank statement");
    if (u.invalid == 0) {
        *out_name = "utf-8";
        *out = in;
        return 0;
    }
    /* UTF-8 with a few bad bytes (a cut-and-pasted character, a truncated
     * name): keep UTF-8 and mark only those. */
    if (u.multibyte > 0 && u.invalid <= u.multibyte) {
        *out_name = "utf-8-repaired";
        return repair(dir, in, out, repairs, err);
    }
    /* Not UTF-8: Windows-1252, the superset of Latin-1 that banks use;
     * Latin-1 for the five bytes 1252 leaves undefined. */
    *out_name = "windows-1252";
    if (convert(dir, in, 0, "WINDOWS-1252", out, err) == 0)
        return 0;
    *out_name = "latin-1";
    return convert(dir, in, 0, "ISO-8859-1", out, err);
}

int encoding_to_utf8(const char *dir, FILE *in, FILE **out, const char **out_name, struct si_error *err)
{
    return encoding_to_utf8_repairs(dir, in, out, out_name, NULL, err);
}
