/* csv_parse.c: the driver of the CSV engine (csv_parse).
 *
 * 1. csv_sniff: delimiter, header row, where the data starts (a sample).
 * 2. The header names and the fingerprint; the override's column indexes.
 * 3. Statistics pass over every data row, then csv_infer: the mapping.
 *    A large file's second half is counted by a second thread meanwhile
 *    (see stats_pass).
 * 4. Emit pass: transactions to the sink, skipped rows as warnings (with the
 *    line, never the contents).  When more than CSV_MAX_BAD_PERCENT of the
 *    data rows could not be read the file is refused at the end: the sink
 *    has then seen rows, and the caller discards them (the stage rolls its
 *    transaction back).
 * Memory: one record, one buffer each for the description, reference,
 * counterparty and its account, and per-column counters. */
#include "csv.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "si_money.h"
#include "stmt_util.h"

struct run {
    struct csv_reader *r;
    const struct stmt_sink *sink;
    struct csv_layout lay;
    struct csv_mapping m;
    struct csv_stats st;
    json_t *names;              /* ncols header names ("columnN" when unnamed) */
    char default_currency[4];
    char header_code[4];        /* a currency the money column's header names: "Betrag (EUR)" */
    bool ambiguous_dates;
    long warnings;
    long ok, bad, first_bad_line;
    char first_bad[128];
    long preamble_first, preamble_last;
    bool preamble_reported;
    char *text;                 /* description being built */
    char *ref;                  /* reference being built */
    char *party;                /* counterparty being built */
    char *party_account;        /* its account being built */
    char exp_code[4];           /* exponent_of's memo: the last code and its exponent */
    int exp_value;
    char date_text[32];         /* the last date cell parsed (statements repeat dates) ... */
    size_t date_n;
    char date_iso[11];          /* ... and its ISO date */
};

static void warn(struct run *u, long line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void warn(struct run *u, long line, const char *fmt, ...)
{
    if (u->sink->warning == NULL)
        return;
    if (u->warnings < CSV_MAX_WARNINGS) {
        char msg[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        u->sink->warning(u->sink->ctx, line, msg);
    } else if (u->warnings == CSV_MAX_WARNINGS) {
        u->sink->warning(u->sink->ctx, 0, "more rows were skipped; their warnings are not listed");
    }
    u->warnings++;
}

/* A data row that cannot be read: counted, with a warning. */
static void bad_row(struct run *u, long line, const char *why)
{
    if (u->bad == 0) {
        u->first_bad_line = line;
        snprintf(u->first_bad, sizeof u->first_bad, "%s", why);
    }
    u->bad++;
    warn(u, line, "line %ld: %s; row skipped", line, why);
}

static const char *cell(const struct csv_reader *r, int col, size_t *n)
{
    const char *s = csv_field(r, (size_t)col);
    *n = csv_field_len(r, (size_t)col);
    csv_trim(&s, n);
    return s;
}

typedef int (*row_fn)(struct run *u, struct stmt_error *err);

/* Calls fn for every record from the top of the file. */
static int each_record(struct run *u, row_fn fn, struct stmt_error *err)
{
    if (csv_reader_rewind(u->r, u->lay.delimiter, err) != 0)
        return -1;
    for (;;) {
        int rc = csv_reader_next(u->r, err);
        if (rc < 0)
            return -1;
        if (rc == 0)
            return 0;
        if (fn(u, err) != 0)
            return -1;
    }
}

/* ---- Header ---------------------------------------------------------------- */

/* Moves r to the record with the given ordinal. */
static int seek_record(struct csv_reader *r, char delim, long ordinal, struct stmt_error *err)
{
    if (csv_reader_rewind(r, delim, err) != 0)
        return -1;
    do {
        int got = csv_reader_next(r, err);
        if (got < 0)
            return -1;
        if (got == 0) {   /* not reached: the sniffer saw it */
            csv_set_error(err, 0, "the header row disappeared");
            return -1;
        }
    } while (r->ordinal < ordinal);
    return 0;
}

/* The fingerprint of a sniffed layout: of its header, else of its shape. */
static int layout_fingerprint(struct csv_reader *r, const struct csv_layout *lay, char out[65],
                              struct stmt_error *err)
{
    int rc = -1;
    const char **raw = NULL;
    if (lay->header_ordinal < 0) {
        rc = csv_fingerprint(NULL, 0, lay->ncols, lay->delimiter, out);
    } else {
        if (seek_record(r, lay->delimiter, lay->header_ordinal, err) != 0)
            return -1;
        size_t named = csv_trimmed_count(r);
        raw = calloc(named + 1, sizeof *raw);
        if (raw == NULL) {
            csv_set_error(err, 0, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < named; i++)
            raw[i] = csv_field(r, i);
        rc = csv_fingerprint(raw, named, lay->ncols, lay->delimiter, out);
    }
    if (rc != 0)
        csv_set_error(err, 0, "could not compute the header fingerprint");
    free(raw);
    return rc;
}

/* The fingerprint the file gets with no override, so that a mapping the
 * user saved (even one that moved the header or changed the delimiter) is
 * found again for the next file of the same layout. */
static int auto_fingerprint(struct csv_reader *r, char out[65], struct stmt_error *err)
{
    struct csv_override none;
    struct csv_layout lay;
    if (csv_override_parse(NULL, &none, err) != 0 || csv_sniff(r, &none, &lay, err) != 0)
        return -1;
    return layout_fingerprint(r, &lay, out, err);
}

/* The column names ("columnN" when unnamed) and the fingerprint. */
static int read_header(struct run *u, const struct csv_override *ov, struct stmt_error *err)
{
    struct csv_reader *r = u->r;
    size_t ncols = u->lay.ncols;
    int rc = -1;
    char *copy = NULL;
    struct stmt_error ignored;
    bool forced = ov->has_delimiter || ov->has_header_line;
    if ((!forced || auto_fingerprint(r, u->m.fingerprint, &ignored) != 0) &&
        layout_fingerprint(r, &u->lay, u->m.fingerprint, err) != 0)
        return -1;
    u->names = json_array();
    if (u->names == NULL)
        goto oom;
    if (u->lay.header_ordinal >= 0 && seek_record(r, u->lay.delimiter, u->lay.header_ordinal, err) != 0)
        goto out;
    for (size_t i = 0; i < ncols; i++) {
        char gen[32];
        free(copy);
        copy = NULL;
        if (u->lay.header_ordinal >= 0 && i < r->nfields) {
            copy = strdup(csv_field(r, i));
            if (copy == NULL)
                goto oom;
            stmt_normalize_text(copy);
        }
        snprintf(gen, sizeof gen, "column%zu", i + 1);
        if (json_array_append_new(u->names, json_string(copy != NULL && copy[0] ? copy : gen)) != 0 &&
            json_array_append_new(u->names, json_string(gen)) != 0)
            goto oom;   /* json_string refuses invalid UTF-8: the generated name then */
    }
    rc = 0;
    goto out;
oom:
    csv_set_error(err, 0, "out of memory");
out:
    free(copy);
    return rc;
}

int csv_layout_fingerprint(FILE *in, char out[65], struct stmt_error *err)
{
    struct stmt_error scratch;
    struct csv_reader *r = malloc(sizeof *r);
    int rc = -1;
    if (err == NULL)
        err = &scratch;
    memset(err, 0, sizeof *err);
    if (r == NULL) {
        csv_set_error(err, 0, "out of memory");
        return -1;
    }
    if (in == NULL || csv_reader_open(r, in, ',', err) != 0) {
        if (in == NULL)
            csv_set_error(err, 0, "no input");
        free(r);
        return -1;
    }
    rc = auto_fingerprint(r, out, err);
    if (fseek(in, r->start, SEEK_SET) != 0 && rc == 0) {
        csv_set_error(err, 0, "the input cannot be read twice (not seekable)");
        rc = -1;
    }
    csv_reader_close(r);
    free(r);
    return rc;
}

/* A currency the header of a money column names: "Bedrag (EUR)", "Betrag in €",
 * "출금액(원)". */
static void header_currency(struct run *u)
{
    const int cols[] = { u->m.col[CSV_ROLE_AMOUNT], u->m.col[CSV_ROLE_DEBIT], u->m.col[CSV_ROLE_CREDIT] };
    for (size_t k = 0; k < 3 && u->lay.header_ordinal >= 0; k++) {
        const char *name = cols[k] >= 0 ? json_string_value(json_array_get(u->names, (size_t)cols[k])) : NULL;
        if (name == NULL)
            continue;
        size_t n = strlen(name);
        for (size_t i = 0; i + 3 <= n; i++) {
            bool left = i == 0 || !((name[i - 1] >= 'A' && name[i - 1] <= 'Z') ||
                                    (name[i - 1] >= 'a' && name[i - 1] <= 'z'));
            bool right = i + 3 == n || !((name[i + 3] >= 'A' && name[i + 3] <= 'Z') ||
                                         (name[i + 3] >= 'a' && name[i + 3] <= 'z'));
            if (left && right && csv_is_common_currency(name + i, 3)) {
                memcpy(u->header_code, name + i, 3);
                u->header_code[3] = '\0';
                return;
            }
        }
        if (strstr(name, "\xE2\x82\xAC") != NULL)
            snprintf(u->header_code, sizeof u->header_code, "EUR");
        else if (strstr(name, "\xC2\xA3") != NULL)
            snprintf(u->header_code, sizeof u->header_code, "GBP");
        else if (strstr(name, "\xEC\x9B\x90") != NULL || strstr(name, "\xE2\x82\xA9") != NULL)
            snprintf(u->header_code, sizeof u->header_code, "KRW");   /* "출금액(원)", ₩ */
        if (u->header_code[0] != '\0')
            return;
    }
}

/* ---- Passes ----------------------------------------------------------------- */

static bool in_table(const struct run *u)
{
    return u->r->ordinal >= u->lay.data_ordinal;
}

static int stats_row(struct run *u, struct stmt_error *err)
{
    (void)err;
    if (!in_table(u) || csv_nonempty_fields(u->r) < 2)
        return 0;
    if (u->st.rows == 0)
        u->st.first_row_line = u->r->rec_line;
    csv_stats_add(&u->st, u->r);
    return 0;
}

/* ---- The statistics pass, in two halves for large files ----------------------
 *
 * The statistics are sums over rows (plus one pair of consecutive rows at
 * the seam, see csv_stats_merge), so a second thread can count the rows of
 * the file's second half while this one counts the first: the second half
 * starts after the first newline past the middle.  That newline may be
 * inside a quoted field; the first thread finds out when it gets there: the
 * halves are joined only when a record of the first thread starts exactly
 * where the second half started, and otherwise (or when the second thread
 * met an error: its line numbers would be wrong) the first thread simply
 * goes on to the end.  The outcome is the same statistics either way.
 * SMARTIMPORT_CSV_SERIAL_STATS=1 turns the second thread off. */
#define CSV_PARALLEL_STATS_MIN (8L << 20)   /* bytes of content */

static atomic_long halves_joined;   /* how often two halves were joined (tests read it) */

long csv_stats_halves_joined(void)
{
    return atomic_load(&halves_joined);
}

struct half {
    FILE *in;
    struct csv_reader r;
    struct csv_stats st;
    long start;                 /* file offset of its first record */
    pthread_t thread;
    bool running;
    bool ok;                    /* read to the end without an error */
    atomic_bool stop;           /* the first thread no longer needs it */
};

static void *half_main(void *arg)
{
    struct half *h = arg;
    struct stmt_error err;
    long n = 0;
    for (;;) {
        if ((++n & 4095) == 0 && atomic_load(&h->stop))
            return NULL;
        int rc = csv_reader_next(&h->r, &err);
        if (rc <= 0) {
            h->ok = rc == 0;
            return NULL;
        }
        if (csv_nonempty_fields(&h->r) >= 2)   /* stats_row, every record being in the table */
            csv_stats_add(&h->st, &h->r);
    }
}

static void half_cleanup(struct half *h)
{
    if (h->running) {
        atomic_store(&h->stop, true);
        pthread_join(h->thread, NULL);
        h->running = false;
    }
    csv_stats_free(&h->st);
    csv_reader_close(&h->r);
    if (h->in != NULL)
        fclose(h->in);
    h->in = NULL;
}

/* Starts the second thread on the second half; false when the file is small,
 * cannot be opened a second time, or has no newline past its middle. */
static bool half_start(struct run *u, struct half *h)
{
    memset(h, 0, sizeof *h);
    const char *serial = getenv("SMARTIMPORT_CSV_SERIAL_STATS");
    struct stat sb;
    int fd = fileno(u->r->in);
    if ((serial != NULL && strcmp(serial, "1") == 0) || fd < 0 || fstat(fd, &sb) != 0 ||
        sb.st_size - u->r->start < CSV_PARALLEL_STATS_MIN)
        return false;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);   /* an offset of its own */
    h->in = fopen(path, "rb");
    if (h->in == NULL || fseek(h->in, u->r->start + (sb.st_size - u->r->start) / 2, SEEK_SET) != 0)
        goto no;
    int c;
    long scanned = 0;
    while ((c = getc(h->in)) != EOF && c != '\n')
        if (++scanned > CSV_MAX_RECORD_BYTES)
            goto no;
    if (c == EOF)
        goto no;
    struct stmt_error err;
    if (csv_reader_open(&h->r, h->in, u->lay.delimiter, &err) != 0)
        goto no;
    h->start = h->r.start;
    if (csv_stats_init(&h->st, u->lay.ncols) != 0 || pthread_create(&h->thread, NULL, half_main, h) != 0)
        goto no;
    h->running = true;
    return true;
no:
    half_cleanup(h);
    return false;
}

static int stats_pass(struct run *u, struct stmt_error *err)
{
    struct half h;
    bool split = half_start(u, &h);
    int rc = -1;
    if (csv_reader_rewind(u->r, u->lay.delimiter, err) != 0)
        goto out;
    for (;;) {
        int got = csv_reader_next(u->r, err);
        if (got < 0)
            goto out;
        if (got == 0)
            break;
        if (split && u->r->rec_start >= h.start) {
            split = false;   /* decided here, one way or the other */
            bool seam = u->r->rec_start == h.start && u->r->ordinal >= u->lay.data_ordinal && u->st.rows > 0;
            if (seam) {
                pthread_join(h.thread, NULL);
                h.running = false;
                if (h.ok) {
                    csv_stats_merge(&u->st, &h.st);
                    atomic_fetch_add(&halves_joined, 1);
                    break;
                }
            }
        }
        if (stats_row(u, err) != 0)
            goto out;
    }
    rc = 0;
out:
    half_cleanup(&h);   /* safe after a half_start that failed: it cleaned up already */
    return rc;
}

static bool repeated_header(const struct run *u)
{
    if (u->lay.header_ordinal < 0)
        return false;
    for (size_t i = 0; i < u->lay.ncols; i++) {
        size_t n;
        const char *s = cell(u->r, (int)i, &n);
        const char *name = json_string_value(json_array_get(u->names, i));
        char buf[256];
        if (name == NULL || n >= sizeof buf)
            return false;
        /* quick refusal: the first byte stmt_normalize_text would keep */
        size_t k = 0;
        while (k < n) {
            unsigned char c = (unsigned char)s[k];
            if (c == 0xC2 && k + 1 < n && (unsigned char)s[k + 1] == 0xA0)
                k += 2;
            else if (c < 0x20 || c == ' ' || c == 0x7f)
                k++;
            else
                break;
        }
        if (k < n && s[k] != name[0])
            return false;
        memcpy(buf, s, n);
        buf[n] = '\0';
        stmt_normalize_text(buf);
        if (strcmp(buf, name) != 0 && !(buf[0] == '\0' && strncmp(name, "column", 6) == 0))
            return false;
    }
    return true;
}

/* The currency a cell or the currency column names into code (if not set). */
static void set_code(char code[4], const char *from)
{
    if (code[0] == '\0' && from != NULL && from[0] != '\0') {
        size_t i = 0;
        for (; i < 3 && from[i] != '\0'; i++)
            code[i] = from[i];
        code[i] = '\0';
    }
}

/* si_currency_exponent(code or NULL for ""), remembering the last answer:
 * a file mostly has one currency. */
static int exponent_of(struct run *u, const char code[4])
{
    if (code[0] == '\0')
        return 2;
    if (memcmp(code, u->exp_code, 4) != 0) {
        memcpy(u->exp_code, code, 4);
        u->exp_value = si_currency_exponent(code);
    }
    return u->exp_value;
}

/* Reads one money cell; 0, or -1 with *why. */
static int money(struct run *u, const struct csv_amount *a, const char *code,
                 long long *out, const char **why, const char *what_nan, const char *what_dec)
{
    int exp = exponent_of(u, code);
    long long v;
    if (csv_amount_value(a, u->m.decimal, u->m.thousands, exp, out) == 0)
        return 0;
    if (exp < 4 && csv_amount_value(a, u->m.decimal, u->m.thousands, 4, &v) == 0)
        *why = what_dec;
    else
        *why = what_nan;
    return -1;
}

static long long magnitude(long long v)
{
    return v < 0 ? -v : v;
}

static int data_row(struct run *u, struct stmt_error *err)
{
    struct csv_reader *r = u->r;
    const struct csv_mapping *m = &u->m;
    long line = r->rec_line;
    size_t nonempty = csv_nonempty_fields(r);
    size_t n;
    const char *s;

    if (!in_table(u)) {
        if (nonempty > 0 && r->ordinal != u->lay.header_ordinal) {
            if (u->preamble_first == 0)
                u->preamble_first = line;
            u->preamble_last = line;
        }
        return 0;
    }
    if (!u->preamble_reported) {
        u->preamble_reported = true;
        if (u->preamble_first > 0 && u->preamble_first == u->preamble_last)
            warn(u, u->preamble_first, "line %ld before the table was skipped", u->preamble_first);
        else if (u->preamble_first > 0)
            warn(u, u->preamble_first, "lines %ld to %ld before the table were skipped",
                 u->preamble_first, u->preamble_last);
    }
    if (r->unterminated)
        warn(u, line, "line %ld: a quoted field is not closed before the end of the file", line);
    if (nonempty == 0)
        return 0;
    if (nonempty == 1) {
        warn(u, line, "line %ld: not a transaction row (a single value); skipped", line);
        return 0;
    }
    if (repeated_header(u)) {
        warn(u, line, "line %ld: repeated header row skipped", line);
        return 0;
    }
    bool total = false;
    for (size_t i = 0; i < m->ncols; i++) {
        if ((int)i == m->col[CSV_ROLE_AMOUNT] || (int)i == m->col[CSV_ROLE_BALANCE])
            continue;
        s = cell(r, (int)i, &n);
        int kind = csv_summary_kind(s, n);
        if (kind == CSV_SUMMARY_BALANCE) {
            warn(u, line, "line %ld: balance row skipped", line);
            return 0;
        }
        total |= kind == CSV_SUMMARY_TOTAL;
    }
    char why_buf[96];
    for (size_t i = m->ncols; i < r->nfields; i++) {
        s = cell(r, (int)i, &n);
        if (n > 0) {
            snprintf(why_buf, sizeof why_buf, "the row has %zu fields, the table %zu", r->nfields,
                     m->ncols);
            bad_row(u, line, why_buf);
            return 0;
        }
    }

    /* date */
    struct stmt_txn t;
    memset(&t, 0, sizeof t);
    s = cell(r, m->col[CSV_ROLE_DATE], &n);
    if (n > 0 && n == u->date_n && memcmp(s, u->date_text, n) == 0) {
        memcpy(t.date, u->date_iso, sizeof t.date);
    } else if (n == 0 || csv_date_parse(s, n, m->date_format, t.date) != 0) {
        if (total) {
            warn(u, line, "line %ld: total row skipped", line);
            return 0;
        }
        if (n == 0) {
            bad_row(u, line, "no date");
        } else {
            const char *fmt = csv_date_format_name(m->date_format);
            snprintf(why_buf, sizeof why_buf, "the date is not in the format %s",
                     fmt != NULL ? fmt : "of the date column");
            bad_row(u, line, why_buf);
        }
        return 0;
    } else if (n <= sizeof u->date_text) {
        memcpy(u->date_text, s, n);
        u->date_n = n;
        memcpy(u->date_iso, t.date, sizeof u->date_iso);
    }

    /* currency: the currency column, else the amount cell, else the header,
     * else the caller's default (then the row says so) */
    char code[4] = "";
    bool assumed = false;
    if (m->col[CSV_ROLE_CURRENCY] >= 0) {
        s = cell(r, m->col[CSV_ROLE_CURRENCY], &n);
        if (n == 3) {
            char c3[4] = { s[0], s[1], s[2], 0 };
            if (si_currency_code_valid(c3))
                set_code(code, c3);
        }
    }

    /* amount */
    const char *why = NULL;
    long long amount = 0;
    if (m->col[CSV_ROLE_AMOUNT] >= 0) {
        struct csv_amount a;
        s = cell(r, m->col[CSV_ROLE_AMOUNT], &n);
        if (n == 0) {
            bad_row(u, line, "no amount");
            return 0;
        }
        if (csv_amount_scan(s, n, &a) != 0) {
            bad_row(u, line, "the amount is not a number");
            return 0;
        }
        set_code(code, a.code);
        set_code(code, u->header_code);
        assumed = code[0] == '\0' && u->default_currency[0] != '\0';
        set_code(code, u->default_currency);
        if (money(u, &a, code, &amount, &why, "the amount is not a number",
                  "the amount has more decimals than its currency allows") != 0) {
            bad_row(u, line, why);
            return 0;
        }
        if (m->col[CSV_ROLE_INDICATOR] >= 0) {
            s = cell(r, m->col[CSV_ROLE_INDICATOR], &n);
            int sign = csv_indicator_sign(s, n);
            if (sign == 0) {
                bad_row(u, line, "the debit/credit marker is missing or not recognised");
                return 0;
            }
            amount = sign < 0 ? -magnitude(amount) : magnitude(amount);
        }
    } else {
        struct csv_amount a[2];
        bool has[2] = { false, false };
        const int cols[2] = { m->col[CSV_ROLE_DEBIT], m->col[CSV_ROLE_CREDIT] };
        const char *names[2] = { "the debit is not a number", "the credit is not a number" };
        for (int k = 0; k < 2; k++) {
            if (cols[k] < 0)
                continue;
            s = cell(r, cols[k], &n);
            if (n == 0)
                continue;
            if (csv_amount_scan(s, n, &a[k]) != 0) {
                bad_row(u, line, names[k]);
                return 0;
            }
            has[k] = true;
            set_code(code, a[k].code);
        }
        if (!has[0] && !has[1]) {
            bad_row(u, line, "no amount");
            return 0;
        }
        set_code(code, u->header_code);
        assumed = code[0] == '\0' && u->default_currency[0] != '\0';
        set_code(code, u->default_currency);
        for (int k = 0; k < 2; k++) {
            long long v;
            if (!has[k])
                continue;
            if (money(u, &a[k], code, &v, &why, names[k],
                      k == 0 ? "the debit has more decimals than its currency allows"
                             : "the credit has more decimals than its currency allows") != 0) {
                bad_row(u, line, why);
                return 0;
            }
            amount += k == 0 ? -magnitude(v) : v;
        }
    }
    if (m->negate)
        amount = -amount;

    u->ok++;

    /* description: the description columns joined with " " */
    size_t w = 0;
    for (size_t k = 0; k < m->ndesc; k++) {
        s = cell(r, m->desc[k], &n);
        if (n == 0)
            continue;
        if (w > 0)
            u->text[w++] = ' ';
        memcpy(u->text + w, s, n);
        w += n;
    }
    u->text[w] = '\0';
    stmt_normalize_text(u->text);
    t.bank_id = NULL;
    if (m->col[CSV_ROLE_REFERENCE] >= 0) {
        s = cell(r, m->col[CSV_ROLE_REFERENCE], &n);
        memcpy(u->ref, s, n);
        u->ref[n] = '\0';
        stmt_normalize_text(u->ref);
        if (u->ref[0] != '\0')
            t.bank_id = u->ref;
    }
    /* the other party, its account; a row with no description text is described
     * by its counterparty */
    t.counterparty = NULL;
    t.counterparty_account = NULL;
    if (m->col[CSV_ROLE_COUNTERPARTY] >= 0) {
        s = cell(r, m->col[CSV_ROLE_COUNTERPARTY], &n);
        memcpy(u->party, s, n);
        u->party[n] = '\0';
        stmt_normalize_text(u->party);
        if (u->party[0] != '\0')
            t.counterparty = u->party;
    }
    if (m->col[CSV_ROLE_COUNTERPARTY_ACCOUNT] >= 0) {
        s = cell(r, m->col[CSV_ROLE_COUNTERPARTY_ACCOUNT], &n);
        memcpy(u->party_account, s, n);
        u->party_account[n] = '\0';
        stmt_normalize_text(u->party_account);
        if (u->party_account[0] != '\0')
            t.counterparty_account = u->party_account;
    }
    if (u->text[0] == '\0' && t.counterparty != NULL)
        t.description = t.counterparty;
    else
        t.description = u->text;
    t.amount_minor = amount;
    memcpy(t.currency, code, sizeof code);
    t.currency_assumed = assumed;
    t.exponent = exponent_of(u, code);
    t.account = NULL;
    t.line = line;
    if (u->sink->txn(u->sink->ctx, &t) != 0) {
        csv_set_error(err, line, "stopped");
        return -1;
    }
    return 0;
}

/* ---- Entry point ------------------------------------------------------------- */

int csv_parse(FILE *in, const json_t *override, const char *default_currency,
              json_t **out_columns, const struct stmt_sink *sink, struct stmt_error *err)
{
    struct stmt_error scratch;
    struct csv_override ov;
    struct run *u = NULL;
    bool layout = false, reader_open = false, stats = false;
    int rc = -1;
    if (err == NULL)
        err = &scratch;
    memset(err, 0, sizeof *err);
    if (out_columns != NULL)
        *out_columns = NULL;
    if (in == NULL || sink == NULL || sink->txn == NULL) {
        csv_set_error(err, 0, "no input or no sink");
        return -1;
    }
    if (default_currency == NULL)
        default_currency = "";
    if (default_currency[0] != '\0' && !si_currency_code_valid(default_currency)) {
        csv_set_error(err, 0, "the default currency is not an ISO 4217 code");
        return -1;
    }
    if (csv_override_parse(override, &ov, err) != 0)
        return -1;

    u = calloc(1, sizeof *u);
    if (u == NULL || (u->r = malloc(sizeof *u->r)) == NULL) {
        csv_set_error(err, 0, "out of memory");
        goto out;
    }
    u->sink = sink;
    snprintf(u->default_currency, sizeof u->default_currency, "%s", default_currency);
    for (int k = 0; k < CSV_ROLE_COUNT; k++)
        u->m.col[k] = -1;
    u->m.date_format = -1;
    u->m.decimal = '.';
    if (csv_reader_open(u->r, in, ',', err) != 0)
        goto out;
    reader_open = true;

    if (csv_sniff(u->r, &ov, &u->lay, err) != 0)
        goto out;
    u->m.delimiter = u->lay.delimiter;
    u->m.header_line = u->lay.header_ordinal >= 0 ? u->lay.header_line : 0;
    u->m.ncols = u->lay.ncols;
    if (read_header(u, &ov, err) != 0)
        goto out;
    layout = true;
    if (csv_override_check_columns(&ov, u->lay.ncols, err) != 0)
        goto out;

    if (csv_stats_init(&u->st, u->lay.ncols) != 0) {
        csv_set_error(err, 0, "out of memory");
        goto out;
    }
    stats = true;
    if (stats_pass(u, err) != 0)
        goto out;
    if (u->st.rows == 0) {
        if (u->lay.header_ordinal >= 0)
            csv_set_error(err, u->lay.header_line, "the file has a header row but no data rows");
        else
            csv_set_error(err, 0, "no transaction rows were found");
        goto out;
    }
    struct csv_infer_ctx ic = { .st = &u->st,
                                .names = u->lay.header_ordinal >= 0 ? u->names : NULL,
                                .ov = &ov,
                                .ambiguous_dates = &u->ambiguous_dates };
    if (csv_infer(&ic, &u->m, err) != 0)
        goto out;
    header_currency(u);

    u->text = malloc(CSV_MAX_RECORD_BYTES + CSV_MAX_DESC_COLUMNS + 1);
    u->ref = malloc(CSV_MAX_FIELD_BYTES + 1);
    u->party = malloc(CSV_MAX_FIELD_BYTES + 1);
    u->party_account = malloc(CSV_MAX_FIELD_BYTES + 1);
    if (u->text == NULL || u->ref == NULL || u->party == NULL || u->party_account == NULL) {
        csv_set_error(err, 0, "out of memory");
        goto out;
    }

    /* emit pass; a file most of whose rows cannot be read is refused at its
     * end (the caller discards what the sink received) */
    if (u->ambiguous_dates && ov.has_day_first)
        warn(u, 0, "the day/month order of the dates is ambiguous; read as %s, the order of your locale",
             csv_date_format_name(u->m.date_format));
    else if (u->ambiguous_dates)
        warn(u, 0, "the day/month order of the dates is ambiguous; guessed %s from the file's language and "
             "decimal mark (set your locale, or send dateFormat in the mapping, if that is wrong)",
             csv_date_format_name(u->m.date_format));
    if (each_record(u, data_row, err) != 0)
        goto out;
    long candidates = u->ok + u->bad;
    if (candidates == 0) {
        csv_set_error(err, 0, "no transaction rows were found");
        goto out;
    }
    if (u->bad * 100 > (long)CSV_MAX_BAD_PERCENT * candidates || u->ok == 0) {
        csv_set_error(err, u->first_bad_line,
                      "%ld of %ld data rows could not be read (this one: %s); check the column mapping",
                      u->bad, candidates, u->first_bad);
        goto out;
    }
    rc = 0;
out:
    if (layout && out_columns != NULL)
        *out_columns = csv_mapping_json(&u->m, u->names);
    if (u != NULL) {
        if (stats)
            csv_stats_free(&u->st);
        if (reader_open)
            csv_reader_close(u->r);
        json_decref(u->names);
        free(u->text);
        free(u->ref);
        free(u->party);
        free(u->party_account);
        free(u->r);
        free(u);
    }
    return rc;
}
