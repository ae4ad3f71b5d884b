/* csv_reader.c: the streaming RFC 4180 tokenizer of the CSV engine.
 *
 * One record at a time: quoted fields, doubled quotes, delimiters and
 * newlines inside quotes, LF / CRLF / CR line ends.  Lenient where banks are
 * sloppy: text after a closing quote is kept, a quote inside an unquoted
 * field is literal, spaces before an opening quote are dropped, a quote left
 * open at the end of the file ends the record (flagged).  Hard limits on the
 * size of a field, of a record and on the number of fields keep memory
 * bounded whatever the input. */
#include "csv.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void csv_set_error(struct stmt_error *err, long line, const char *fmt, ...)
{
    if (err == NULL)
        return;
    err->line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

int csv_reader_open(struct csv_reader *r, FILE *in, char delim, struct stmt_error *err)
{
    memset(r, 0, sizeof *r);
    r->in = in;
    r->delim = delim;
    r->start = ftell(in);
    if (r->start < 0) {
        csv_set_error(err, 0, "the input cannot be read twice (not seekable)");
        return -1;
    }
    r->buf_cap = CSV_MAX_RECORD_BYTES + CSV_MAX_FIELDS + 1;   /* the most a record can need */
    r->buf = malloc(r->buf_cap);
    if (r->buf == NULL) {
        csv_set_error(err, 0, "out of memory");
        return -1;
    }
    r->io_base = r->start;
    r->line = 1;
    r->ordinal = -1;
    return 0;
}

int csv_reader_rewind(struct csv_reader *r, char delim, struct stmt_error *err)
{
    if (fseek(r->in, r->start, SEEK_SET) != 0) {
        csv_set_error(err, 0, "the input cannot be read twice (not seekable)");
        return -1;
    }
    clearerr(r->in);
    r->delim = delim;
    r->io_len = r->io_pos = 0;
    r->io_base = r->start;
    r->io_eof = r->io_error = false;
    r->buf_len = 0;
    r->nfields = 0;
    r->line = 1;
    r->rec_line = 0;
    r->ordinal = -1;
    r->unterminated = false;
    return 0;
}

void csv_reader_close(struct csv_reader *r)
{
    free(r->buf);
    r->buf = NULL;
    r->buf_cap = r->buf_len = 0;
}

/* Next byte, or -1 at the end of the input (or on a read error, flagged). */
static int rd_get(struct csv_reader *r)
{
    if (r->io_pos == r->io_len) {
        if (r->io_eof)
            return -1;
        r->io_base += (long)r->io_len;
        r->io_len = fread(r->io, 1, sizeof r->io, r->in);
        r->io_pos = 0;
        if (r->io_len < sizeof r->io) {
            r->io_eof = true;
            if (ferror(r->in))
                r->io_error = true;
        }
        if (r->io_len == 0)
            return -1;
    }
    return r->io[r->io_pos++];
}

static int rd_peek(struct csv_reader *r)
{
    int c = rd_get(r);
    if (c >= 0)
        r->io_pos--;
    return c;
}

/* Makes room for one more byte in the record buffer. */
static int rd_reserve(struct csv_reader *r, struct stmt_error *err)
{
    if (r->buf_len + 1 <= r->buf_cap)
        return 0;
    size_t cap = r->buf_cap * 2;
    if (cap > CSV_MAX_RECORD_BYTES + CSV_MAX_FIELDS)
        cap = CSV_MAX_RECORD_BYTES + CSV_MAX_FIELDS;
    if (cap <= r->buf_len) {   /* not reached: rd_put stops earlier */
        csv_set_error(err, r->rec_line, "a record is longer than %d bytes",
                      CSV_MAX_RECORD_BYTES);
        return -1;
    }
    char *nb = realloc(r->buf, cap);
    if (nb == NULL) {
        csv_set_error(err, r->rec_line, "out of memory");
        return -1;
    }
    r->buf = nb;
    r->buf_cap = cap;
    return 0;
}

/* Appends one byte to the current field; fstart[nfields] is its start.  The
 * record holds at most CSV_MAX_RECORD_BYTES of content plus one NUL per
 * field. */
static int rd_put(struct csv_reader *r, char c, struct stmt_error *err)
{
    if (r->buf_len - r->fstart[r->nfields] >= CSV_MAX_FIELD_BYTES) {
        csv_set_error(err, r->rec_line, "a field is longer than %d bytes",
                      CSV_MAX_FIELD_BYTES);
        return -1;
    }
    if (r->buf_len - r->nfields >= CSV_MAX_RECORD_BYTES) {
        csv_set_error(err, r->rec_line, "a record is longer than %d bytes",
                      CSV_MAX_RECORD_BYTES);
        return -1;
    }
    if (rd_reserve(r, err) != 0)
        return -1;
    r->buf[r->buf_len++] = c == '\0' ? ' ' : c;
    return 0;
}

static int rd_end_field(struct csv_reader *r, struct stmt_error *err)
{
    if (rd_reserve(r, err) != 0)
        return -1;
    size_t i = r->nfields;
    r->flen[i] = r->buf_len - r->fstart[i];
    r->buf[r->buf_len++] = '\0';
    r->nfields++;
    return 0;
}

static int rd_start_field(struct csv_reader *r, struct stmt_error *err)
{
    if (r->nfields >= CSV_MAX_FIELDS) {
        csv_set_error(err, r->rec_line, "a record has more than %d fields",
                      CSV_MAX_FIELDS);
        return -1;
    }
    r->fstart[r->nfields] = r->buf_len;
    return 0;
}

/* Whether the current field holds only spaces so far. */
static bool rd_field_blank(const struct csv_reader *r)
{
    for (size_t i = r->fstart[r->nfields]; i < r->buf_len; i++)
        if (r->buf[i] != ' ' && r->buf[i] != '\t')
            return false;
    return true;
}

/* Consumes the LF of a CRLF pair after c == '\r' and counts the line. */
static void rd_newline(struct csv_reader *r, int c)
{
    if (c == '\r' && rd_peek(r) == '\n')
        (void)rd_get(r);
    r->line++;
}

enum { ST_START, ST_PLAIN, ST_QUOTED, ST_QUOTE };

/* Whether c ends a run of ordinary bytes outside quotes / inside quotes. */
static inline bool rd_special_plain(unsigned char c, unsigned char delim)
{
    return c == delim || c == '\n' || c == '\r' || c == '"' || c == '\0';
}
static inline bool rd_special_quoted(unsigned char c)
{
    return c == '\n' || c == '\r' || c == '"' || c == '\0';
}

/* Copies the run of ordinary bytes at the read position into the current
 * field (as many rd_put calls would), leaving the read position on the first
 * special byte or at the end of the read buffer.  0, or -1 on a limit (with
 * the error rd_put reports). */
static int rd_run(struct csv_reader *r, bool quoted, struct stmt_error *err)
{
    const unsigned char *p = r->io + r->io_pos, *e = r->io + r->io_len, *q = p;
    unsigned char d = (unsigned char)r->delim;
    if (quoted) {
        while (q < e && !rd_special_quoted(*q))
            q++;
    } else {
        while (q < e && !rd_special_plain(*q, d))
            q++;
    }
    size_t k = (size_t)(q - p);
    if (k == 0)
        return 0;
    size_t used_field = r->buf_len - r->fstart[r->nfields];
    size_t used_rec = r->buf_len - r->nfields;
    size_t room_field = used_field < CSV_MAX_FIELD_BYTES ? CSV_MAX_FIELD_BYTES - used_field : 0;
    size_t room_rec = used_rec < CSV_MAX_RECORD_BYTES ? CSV_MAX_RECORD_BYTES - used_rec : 0;
    size_t room = room_field < room_rec ? room_field : room_rec;
    if (k > room) {
        memcpy(r->buf + r->buf_len, p, room);
        r->buf_len += room;
        r->io_pos += room;
        return rd_put(r, (char)p[room], err);   /* reports the limit */
    }
    memcpy(r->buf + r->buf_len, p, k);
    r->buf_len += k;
    r->io_pos += k;
    return 0;
}


int csv_reader_next(struct csv_reader *r, struct stmt_error *err)
{
    r->buf_len = 0;
    r->nfields = 0;
    r->unterminated = false;
    r->rec_line = r->line;
    r->rec_start = r->io_base + (long)r->io_pos;
    int c = rd_get(r);
    if (c < 0) {
        if (r->io_error) {
            csv_set_error(err, r->line, "read error");
            return -1;
        }
        return 0;
    }
    r->ordinal++;
    int st = ST_START;
    if (rd_start_field(r, err) != 0)
        return -1;
    for (;; c = rd_get(r)) {
        bool end_record = false, end_field = false;
        if (c >= 0 && (st == ST_QUOTED ? !rd_special_quoted((unsigned char)c)
                                       : !rd_special_plain((unsigned char)c, (unsigned char)r->delim))) {
            /* an ordinary byte: it and the ordinary bytes after it */
            if (rd_put(r, (char)c, err) != 0)
                return -1;
            if (st != ST_QUOTED)
                st = ST_PLAIN;
            if (rd_run(r, st == ST_QUOTED, err) != 0)
                return -1;
            /* delimiter then an ordinary byte (the common case): next field */
            while (st == ST_PLAIN && r->io_pos + 1 < r->io_len &&
                   r->io[r->io_pos] == (unsigned char)r->delim &&
                   !rd_special_plain(r->io[r->io_pos + 1], (unsigned char)r->delim)) {
                if (rd_end_field(r, err) != 0 || rd_start_field(r, err) != 0)
                    return -1;
                r->io_pos++;
                if (rd_put(r, (char)r->io[r->io_pos++], err) != 0 || rd_run(r, false, err) != 0)
                    return -1;
            }
            continue;
        }
        if (c < 0) {
            if (r->io_error) {
                csv_set_error(err, r->line, "read error");
                return -1;
            }
            if (st == ST_QUOTED)
                r->unterminated = true;
            end_record = true;
        } else if (st == ST_QUOTED) {
            if (c == '"') {
                st = ST_QUOTE;
            } else if (c == '\r' || c == '\n') {
                rd_newline(r, c);
                if (rd_put(r, '\n', err) != 0)
                    return -1;
            } else if (rd_put(r, (char)c, err) != 0) {
                return -1;
            }
        } else if (c == (unsigned char)r->delim) {
            end_field = true;
        } else if (c == '\r' || c == '\n') {
            rd_newline(r, c);
            end_record = true;
        } else if (c == '"' && st == ST_QUOTE) {
            if (rd_put(r, '"', err) != 0)   /* doubled quote */
                return -1;
            st = ST_QUOTED;
        } else if (c == '"' && (st == ST_START || (st == ST_PLAIN && rd_field_blank(r)))) {
            r->buf_len = r->fstart[r->nfields];   /* drop spaces before the quote */
            st = ST_QUOTED;
        } else {
            if (rd_put(r, (char)c, err) != 0)
                return -1;
            st = ST_PLAIN;   /* after a closing quote: text kept as is */
        }
        if (end_field || end_record) {
            if (rd_end_field(r, err) != 0)
                return -1;
            if (end_record)
                return 1;
            if (rd_start_field(r, err) != 0)
                return -1;
            st = ST_START;
        }
    }
}
