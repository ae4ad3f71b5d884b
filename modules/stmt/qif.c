/* qif.c: Quicken Interchange Format, !Type:Bank, !Type:CCard and !Type:Cash.
 *
 * Two passes over the (seekable) FILE, both line by line with a bounded line
 * buffer.  The first only looks at the dates and amounts to decide, over the
 * whole file, what a human would: whether dates are month/day (Quicken's US
 * default) or day/month (some date's first component is > 12; or, with no
 * such evidence either way, every date uses '.' as in 15.01.2024), and
 * whether amounts use '.' or ',' as the decimal separator.  It also fails
 * early on an unsupported section (!Type:Invst...), so nothing reaches the
 * sink from a file that is then refused.  The second pass emits.
 *
 * Records: D date (1/15/2024, 1/15'24 = 2024, 01/15/24, 15/01/2024,
 * 2024-01-15, " 1/ 5'24"), T or U amount, P payee, M memo, N check number;
 * L category, A address, C cleared, split lines (S, E, $, %) and anything
 * else are ignored; ^ ends a record.  An !Account block's N names the
 * account.  Category/class/memorized lists (!Type:Cat, !Type:Class,
 * !Type:Memorized) are skipped with a warning.  Amounts have no currency in
 * QIF: currency is "" and the exponent 2. */
#include "stmt.h"
#include "stmt_util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define QIF_LINE_MAX 4096
#define QIF_FIELD_MAX 1024

enum section { SEC_NONE, SEC_TXN, SEC_ACCOUNT, SEC_SKIP };
enum order { ORDER_MD, ORDER_DM };

struct qif {
    struct stmt_lines r;
    char line_buf[QIF_LINE_MAX];
    const struct stmt_sink *sink;
    struct stmt_error *err;
    bool emit;                  /* second pass */
    enum section section;
    /* First-pass evidence and the decisions taken from it. */
    long dm_votes, md_votes, dates, dotted_dates, comma_votes, dot_votes;
    enum order order;
    char decimal, thousands;
    /* Current record. */
    bool in_record, has_date, has_amount, has_t;
    long rec_line;
    char date[64], amount[64], checknum[64];
    char payee[QIF_FIELD_MAX], memo[QIF_FIELD_MAX];
    char desc[2 * QIF_FIELD_MAX + 16];
    char account[QIF_FIELD_MAX], account_pending[QIF_FIELD_MAX];
};

/* Warnings are given once, in the second pass. */
static void warn(struct qif *q, long line, const char *message)
{
    if (q->emit)
        stmt_warn(q->sink, line, message);
}

static void trim_copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src);
    stmt_normalize_text(dst);
}

/* Splits a QIF date into up to three numbers.  Returns how many were found
 * (3 for a usable date); *apostrophe tells whether the year followed a "'"
 * (Quicken's mark for 20xx), *dotted whether '.' separated the parts. */
static int split_date(const char *s, int v[3], int digits[3], bool *apostrophe, bool *dotted)
{
    int n = 0;
    *apostrophe = *dotted = false;
    const char *p = s;
    while (*p == ' ')
        p++;
    while (*p && n < 3) {
        if (*p < '0' || *p > '9')
            return -1;
        int val = 0, d = 0;
        while (*p >= '0' && *p <= '9') {
            if (d >= 4)
                return -1;
            val = val * 10 + (*p - '0');
            d++;
            p++;
        }
        v[n] = val;
        digits[n] = d;
        n++;
        if (*p == '\0')
            break;
        if (n == 3)
            return -1;        /* something after the year */
        if (*p == '\'') {
            if (n != 2)
                return -1;
            *apostrophe = true;
        } else if (*p == '.') {
            *dotted = true;
        } else if (*p != '/' && *p != '-') {
            return -1;
        }
        p++;
        while (*p == ' ')
            p++;
    }
    while (*p == ' ')
        p++;
    return *p == '\0' ? n : -1;
}

static void date_evidence(struct qif *q, const char *s)
{
    int v[3], digits[3];
    bool apostrophe, dotted;
    if (split_date(s, v, digits, &apostrophe, &dotted) != 3 || digits[0] == 4)
        return;
    q->dates++;
    if (dotted)
        q->dotted_dates++;
    if (v[0] > 12 && v[0] <= 31)
        q->dm_votes++;
    if (v[1] > 12 && v[1] <= 31)
        q->md_votes++;
}

static int qif_date(const struct qif *q, const char *s, char out[11])
{
    int v[3], digits[3];
    bool apostrophe, dotted;
    if (split_date(s, v, digits, &apostrophe, &dotted) != 3)
        return -1;
    if (digits[0] == 4)                        /* 2024-01-15 */
        return apostrophe ? -1 : stmt_make_date(v[0], v[1], v[2], out);
    if (digits[2] != 2 && digits[2] != 4)
        return -1;
    int year = v[2];
    if (digits[2] == 2 && apostrophe)
        year += 2000;
    int month = q->order == ORDER_MD ? v[0] : v[1];
    int day = q->order == ORDER_MD ? v[1] : v[0];
    return stmt_make_date(year, month, day, out);
}

/* The separator that ends an amount's last group: '.' or ',' as decimal
 * when not followed by exactly three digits. */
static void amount_evidence(struct qif *q, const char *s)
{
    const char *dot = strrchr(s, '.'), *comma = strrchr(s, ',');
    const char *last = dot == NULL ? comma : comma == NULL ? dot : dot > comma ? dot : comma;
    if (last == NULL)
        return;
    size_t after = strlen(last + 1);
    if ((dot != NULL && comma != NULL) || after != 3)
        *(*last == '.' ? &q->dot_votes : &q->comma_votes) += 1;
}

static int qif_amount(const struct qif *q, const char *s, long long *out)
{
    char buf[64];
    size_t n = 0;
    for (const char *p = s; *p && n + 1 < sizeof buf; p++)
        if (*p != ' ' && *p != '$')
            buf[n++] = *p;
    buf[n] = '\0';
    return stmt_decimal_to_minor(buf, n, q->decimal, q->thousands, 2, out);
}

static void clear_record(struct qif *q)
{
    q->in_record = q->has_date = q->has_amount = q->has_t = false;
    q->date[0] = q->amount[0] = q->checknum[0] = q->payee[0] = q->memo[0] = '\0';
}

static int end_record(struct qif *q)
{
    if (!q->in_record)
        return 0;
    if (q->section == SEC_ACCOUNT) {
        snprintf(q->account, sizeof q->account, "%s", q->account_pending);
        q->account_pending[0] = '\0';
        clear_record(q);
        return 0;
    }
    if (!q->emit) {
        clear_record(q);
        return 0;
    }
    struct stmt_txn t;
    memset(&t, 0, sizeof t);
    t.line = q->rec_line;
    t.exponent = 2;
    if (!q->has_date) {
        warn(q, t.line, "record without a date (D) skipped");
    } else if (!q->has_amount) {
        warn(q, t.line, "record without an amount (T) skipped");
    } else if (qif_date(q, q->date, t.date) != 0) {
        warn(q, t.line, "date is not a valid date; record skipped");
    } else if (qif_amount(q, q->amount, &t.amount_minor) != 0) {
        warn(q, t.line, "amount is not a number; record skipped");
    } else {
        if (q->payee[0] && q->memo[0] && strcmp(q->payee, q->memo) != 0)
            snprintf(q->desc, sizeof q->desc, "%s %s", q->payee, q->memo);
        else if (q->payee[0] || q->memo[0])
            snprintf(q->desc, sizeof q->desc, "%s", q->payee[0] ? q->payee : q->memo);
        else if (q->checknum[0])
            snprintf(q->desc, sizeof q->desc, "Check %s", q->checknum);
        else
            q->desc[0] = '\0';
        t.description = q->desc;
        t.counterparty = q->payee[0] ? q->payee : NULL;
        t.memo = q->memo[0] && strcmp(q->payee, q->memo) != 0 ? q->memo : NULL;
        t.account = q->account[0] ? q->account : NULL;
        if (q->sink->txn(q->sink->ctx, &t) != 0) {
            clear_record(q);
            return stmt_fail(q->err, t.line, "stopped");
        }
    }
    clear_record(q);
    return 0;
}

static int header(struct qif *q, const char *l)
{
    if (strncasecmp(l, "!Type:", 6) == 0) {
        char type[32];
        trim_copy(type, sizeof type, l + 6);
        static const char *const txn[] = { "Bank", "CCard", "Cash" };
        static const char *const lists[] = { "Cat", "Class", "Memorized" };
        for (size_t i = 0; i < sizeof txn / sizeof txn[0]; i++)
            if (strcasecmp(type, txn[i]) == 0) {
                q->section = SEC_TXN;
                return 0;
            }
        for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
            if (strcasecmp(type, lists[i]) == 0) {
                q->section = SEC_SKIP;
                warn(q, q->r.line, "QIF list section (categories, classes or memorized) skipped");
                return 0;
            }
        return stmt_fail(q->err, q->r.line, "unsupported QIF type (only Bank, CCard and Cash are read)");
    }
    if (strncasecmp(l, "!Account", 8) == 0) {
        q->section = SEC_ACCOUNT;
        return 0;
    }
    if (strncasecmp(l, "!Option:", 8) == 0 || strncasecmp(l, "!Clear:", 7) == 0)
        return 0;
    if (q->section == SEC_NONE)
        return stmt_fail(q->err, q->r.line, "not a QIF file (no !Type header)");
    return 0;
}

static int field(struct qif *q, const char *l)
{
    char code = l[0];
    const char *v = l + 1;
    if (q->section == SEC_ACCOUNT) {
        q->in_record = true;
        if (code == 'N')
            trim_copy(q->account_pending, sizeof q->account_pending, v);
        return 0;
    }
    if (!q->in_record) {
        q->in_record = true;
        q->rec_line = q->r.line;
    }
    switch (code) {
    case 'D':
        trim_copy(q->date, sizeof q->date, v);
        q->has_date = true;
        if (!q->emit)
            date_evidence(q, q->date);
        break;
    case 'T':
    case 'U':
        if (code == 'U' && q->has_t)
            break;
        trim_copy(q->amount, sizeof q->amount, v);
        q->has_amount = q->amount[0] != '\0';
        q->has_t = code == 'T';
        if (!q->emit)
            amount_evidence(q, q->amount);
        break;
    case 'P':
        trim_copy(q->payee, sizeof q->payee, v);
        break;
    case 'M':
        trim_copy(q->memo, sizeof q->memo, v);
        break;
    case 'N':
        trim_copy(q->checknum, sizeof q->checknum, v);
        break;
    default:
        break;   /* L category, A address, C cleared, S/E/$/% splits... */
    }
    return 0;
}

/* One pass over the file. */
static int run(struct qif *q)
{
    q->section = SEC_NONE;
    q->r.line = 0;
    q->account[0] = q->account_pending[0] = '\0';
    clear_record(q);
    bool any = false;
    for (;;) {
        int got = stmt_read_line(&q->r, false);
        if (got < 0)
            return stmt_fail(q->err, q->r.line, "read error");
        if (got == 0)
            break;
        const char *l = q->r.buf;
        while (*l == ' ' || *l == '\t')
            l++;
        if (*l == '\0')
            continue;
        any = true;
        if (*l == '!') {
            if (end_record(q) != 0)
                return -1;
            if (header(q, l) != 0)
                return -1;
            continue;
        }
        if (q->section == SEC_NONE)
            return stmt_fail(q->err, q->r.line, "not a QIF file (no !Type header)");
        if (q->section == SEC_SKIP)
            continue;
        if (*l == '^') {
            if (end_record(q) != 0)
                return -1;
            continue;
        }
        if (field(q, l) != 0)
            return -1;
    }
    if (!any)
        return stmt_fail(q->err, 0, "the file is empty");
    if (q->in_record && q->section == SEC_TXN)
        warn(q, q->rec_line, "the last record has no end marker (^)");
    return end_record(q);
}

int stmt_parse_qif(FILE *in, const struct stmt_sink *sink, struct stmt_error *err)
{
    int rc = -1;
    struct qif *q = calloc(1, sizeof *q);
    if (q == NULL) {
        err->line = 0;
        snprintf(err->message, sizeof err->message, "out of memory");
        return -1;
    }
    q->r.in = in;
    q->r.buf = q->line_buf;
    q->r.cap = sizeof q->line_buf;
    q->sink = sink;
    q->err = err;
    long start = ftell(in);
    if (start < 0) {
        stmt_fail(q->err, 0, "the input is not seekable");
        goto out;
    }
    /* Pass 1: evidence only. */
    q->order = ORDER_MD;
    q->decimal = '.';
    q->thousands = ',';
    if (run(q) != 0)
        goto out;
    if (q->dm_votes > q->md_votes || (q->dm_votes == 0 && q->md_votes == 0 && q->dates > 0 &&
                                       q->dotted_dates == q->dates))
        q->order = ORDER_DM;
    if (q->comma_votes > q->dot_votes) {
        q->decimal = ',';
        q->thousands = '.';
    }
    /* Pass 2: emit. */
    clearerr(in);
    if (fseek(in, start, SEEK_SET) != 0) {
        stmt_fail(q->err, 0, "the input is not seekable");
        goto out;
    }
    q->emit = true;
    rc = run(q);
out:
    free(q);
    return rc;
}
