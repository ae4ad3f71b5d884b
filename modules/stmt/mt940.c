/* mt940.c: SWIFT MT940 customer statements (one or more per file).
 *
 * Read line by line with a bounded buffer.  A field starts with a tag line
 * (":61:...") and goes on until the next tag or a message terminator ("-" or
 * "-}"); SWIFT block headers ("{1:...}{2:...}{4:") and lines before the first
 * field (some banks' "ABNANL2A" / "940" header lines) are skipped.
 *
 *   :20:  starts a statement          :25:  account
 *   :60F: / :60M: opening balance, whose currency the entries use
 *   :61:  statement line: value date YYMMDD, optional entry date MMDD, mark
 *         C / D / RC / RD, optional funds code letter, amount with ',' as the
 *         decimal separator, type code (N + 3), reference for the account
 *         owner, "//" bank reference (bank_id), and an optional second line
 *         of supplementary details
 *   :86:  information to the account owner for the :61: before it, read into
 *         counterparty, its account, memo and reference:
 *         - German structured form "GVC?00...?20...": ?20-?29 and ?60-?63 are
 *           the remittance text (a SEPA "SVWZ+" part is the memo, "EREF+" the
 *           reference, "ABWA+"/"ABWE+" a counterparty name when ?32/?33 give
 *           none; other keyword parts such as MREF+, CRED+, KREF+ are left
 *           out; text without keywords is the memo), ?32/?33 the
 *           counterparty name, ?31 its account, ?00 the posting text;
 *         - Dutch/SWIFT keyword form "/TRTP/.../IBAN/.../NAME/.../REMI/...":
 *           /NAME/ the counterparty, /IBAN/ its account, /REMI/ the memo
 *           (an "USTD//" or "STRD/CUR/" prefix dropped), /EREF/ the
 *           reference (not NOTPROVIDED), /TRTP/ the posting text, ING's
 *           /CNTP/account/BIC/name/city/ the counterparty; other keys
 *           (/BIC/, /MARF/, /CSID/, /SUM/...) are left out;
 *         - otherwise the raw text is the memo.
 *   :NS:  a bank's non-standard block ("22..." lines of a two-digit code
 *         and text): when :86: gave no memo, the texts without their codes
 *         are the memo (32/33 the counterparty).  It may come before or after
 *         the :86: of its entry.
 *   :62F: / :62M: closing balance; a statement without one gets a warning.
 *
 * The date is the entry date when given (its year taken from the value date,
 * across a December/January turn), else the value date.  A value date the
 * calendar lacks (banks emit 30 February) is only a warning when the entry
 * date is valid.  The description is the counterparty and the memo; when both
 * are empty, the posting text, the :61: supplementary details, the :61:
 * reference (not NONREF) or the reference, whichever the record has first.  RC (reversal of a
 * credit) is money out, RD money in.  Counterparty name pieces and remittance
 * pieces are fixed-width cuts of one text, so they are joined without adding
 * spaces (pieces of a remittance without SEPA keywords are joined with one). */
#include "stmt.h"
#include "si_money.h"
#include "stmt_util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MT_LINE_MAX 2048
#define MT_FIELD_MAX 8192
#define MT_TEXT_MAX 1024

static void set_text(char *dst, size_t cap, const char *src)
{
    dst[0] = '\0';
    stmt_append(dst, cap, src, strlen(src));
}

struct mt940 {
    struct stmt_lines r;
    char line_buf[MT_LINE_MAX];
    const struct stmt_sink *sink;
    struct stmt_error *err;
    /* The field being read. */
    bool have_field;
    char tag[8];
    long tag_line;
    char content[MT_FIELD_MAX];
    /* Statement. */
    long statements;
    bool in_stmt, closing_seen;
    long stmt_line;
    char account[256];
    char currency[4];
    /* The :61: waiting for its :86:. */
    bool pending, has_info;
    long txn_line;
    char date[11];
    long long amount;
    char bank_id[128], supplementary[128], owner_ref[64];
    char info[MT_FIELD_MAX];
    bool has_ns;
    char ns[MT_FIELD_MAX];
    /* Scratch for the description. */
    char party[MT_TEXT_MAX], remittance[MT_TEXT_MAX], posting[MT_TEXT_MAX];
    char party_account[128], reference[128];
    char desc[2 * MT_TEXT_MAX + 2];
};

static bool digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int two(const char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

/* A SEPA keyword such as "SVWZ+" or "BIC+" at the start of s. */
static size_t sepa_keyword(const char *s)
{
    size_t i = 0;
    while (i < 4 && is_upper(s[i]))
        i++;
    return i >= 3 && s[i] == '+' ? i + 1 : 0;
}

/* Removes the line breaks of a field whose lines are fixed-width cuts of one text. */
static void join_lines(char *info)
{
    size_t w = 0;
    for (size_t r = 0; info[r]; r++)
        if (info[r] != '\n' && info[r] != '\r')
            info[w++] = info[r];
    info[w] = '\0';
}

/* German ?NN subfields. */
static void describe_german(struct mt940 *m, char *info)
{
    join_lines(info);
    /* The remittance: keyword parts ("SVWZ+...") are kept apart; text outside
     * any keyword part (before the first one) is the memo when there is no SVWZ. */
    char svwz[MT_TEXT_MAX] = "", plain[MT_TEXT_MAX] = "", eref[128] = "", alt_party[MT_TEXT_MAX] = "";
    enum { K_NONE, K_SVWZ, K_EREF, K_ABW, K_OTHER } kind = K_NONE;
    const char *p = strchr(info, '?');
    while (p != NULL) {
        if (!digits(p + 1, 2)) {
            p = strchr(p + 1, '?');
            continue;
        }
        int code = two(p + 1);
        const char *v = p + 3;
        const char *next = v;
        while ((next = strchr(next, '?')) != NULL && !digits(next + 1, 2))
            next++;
        size_t n = next != NULL ? (size_t)(next - v) : strlen(v);
        if (code == 0) {
            stmt_append(m->posting, sizeof m->posting, v, n);
        } else if (code == 32 || code == 33) {
            stmt_append(m->party, sizeof m->party, v, n);
        } else if (code == 31) {
            stmt_append(m->party_account, sizeof m->party_account, v, n);
        } else if ((code >= 20 && code <= 29) || (code >= 60 && code <= 63)) {
            size_t k = n >= 4 ? sepa_keyword(v) : 0;
            if (k > 0) {
                kind = strncmp(v, "SVWZ+", 5) == 0 ? K_SVWZ : strncmp(v, "EREF+", 5) == 0 ? K_EREF
                       : (strncmp(v, "ABWA+", 5) == 0 || strncmp(v, "ABWE+", 5) == 0) ? K_ABW : K_OTHER;
                v += k;
                n -= k;
            }
            if (kind == K_SVWZ)
                stmt_append(svwz, sizeof svwz, v, n);
            else if (kind == K_EREF)
                stmt_append(eref, sizeof eref, v, n);
            else if (kind == K_ABW)
                stmt_append(alt_party, sizeof alt_party, v, n);
            else if (kind == K_NONE) {
                if (plain[0] != '\0')
                    stmt_append(plain, sizeof plain, " ", 1);
                stmt_append(plain, sizeof plain, v, n);
            }
        }
        p = next;
    }
    set_text(m->remittance, sizeof m->remittance, svwz[0] ? svwz : plain);
    if (m->party[0] == '\0')
        set_text(m->party, sizeof m->party, alt_party);
    if (strcmp(eref, "NOTPROVIDED") != 0)
        set_text(m->reference, sizeof m->reference, eref);
}

/* The keys of the "/KEY/value" form that are read or known (so that their
 * values end where the next one starts). */
static const char *const slash_keys[] = {
    "TRTP", "IBAN", "BIC", "NAME", "REMI", "EREF", "MARF", "CSID", "ORDP", "BENM", "CNTP", "RTRN",
    "ADDR", "CITY", "ISDT", "PREF", "SUM", "KREF", "ACCW", "UDTL", "ULTC", "ULTD", "PURP", "OCMT",
    "FX", "CHGS", "ABWA", "ABWE", "SVWZ", "CREF", "ID", "NRTX", "BUSP", "EXCH", "TRCD", "ULTB",
};

/* A known "/KEY/" at s: the key's index, or -1. */
static int slash_key_at(const char *s)
{
    if (s[0] != '/')
        return -1;
    for (size_t i = 0; i < sizeof slash_keys / sizeof slash_keys[0]; i++) {
        size_t k = strlen(slash_keys[i]);
        if (strncmp(s + 1, slash_keys[i], k) == 0 && s[1 + k] == '/')
            return (int)i;
    }
    return -1;
}

static bool slash_form(const char *info)
{
    return slash_key_at(info) >= 0;
}

/* Copies v[0..n) into dst without slashes at its ends. */
static void slash_value(char *dst, size_t cap, const char *v, size_t n)
{
    while (n > 0 && v[0] == '/') {
        v++;
        n--;
    }
    while (n > 0 && v[n - 1] == '/')
        n--;
    dst[0] = '\0';
    stmt_append(dst, cap, v, n);
}

/* The "/KEY/value/KEY/value" form of Dutch banks and SWIFT's guidelines. */
static void describe_slashes(struct mt940 *m, char *info)
{
    join_lines(info);
    const char *p = info;
    while (*p) {
        int key = slash_key_at(p);
        if (key < 0)
            break;
        const char *name = slash_keys[key];
        const char *v = p + strlen(name) + 2;
        const char *next = v;
        while (*next && slash_key_at(next) < 0)
            next++;
        /* "/ORDP//NAME/x": the empty value of ORDP is followed by a key */
        size_t n = (size_t)(next - v);
        char val[MT_TEXT_MAX];
        slash_value(val, sizeof val, v, n);
        if (strcmp(name, "NAME") == 0 && m->party[0] == '\0') {
            set_text(m->party, sizeof m->party, val);
        } else if (strcmp(name, "IBAN") == 0 && m->party_account[0] == '\0') {
            set_text(m->party_account, sizeof m->party_account, val);
        } else if (strcmp(name, "REMI") == 0) {
            const char *r = val;
            if (strncmp(r, "USTD/", 5) == 0) {
                r += 5;
            } else if (strncmp(r, "STRD/", 5) == 0) {
                r += 5;
                const char *slash = strchr(r, '/');     /* issuer: CUR, ISO */
                if (slash != NULL)
                    r = slash + 1;
            }
            while (*r == '/')
                r++;
            set_text(m->remittance, sizeof m->remittance, r);
        } else if (strcmp(name, "EREF") == 0 && strcmp(val, "NOTPROVIDED") != 0) {
            set_text(m->reference, sizeof m->reference, val);
        } else if (strcmp(name, "TRTP") == 0) {
            set_text(m->posting, sizeof m->posting, val);
        } else if (strcmp(name, "CNTP") == 0) {
            /* account/BIC/name/city, parts may be empty */
            char part[4][MT_TEXT_MAX] = { "", "", "", "" };
            const char *q = v;
            while (*q == '/')
                q++;
            for (int k = 0; k < 4 && q < next; k++) {
                const char *e = q;
                while (e < next && *e != '/')
                    e++;
                stmt_append(part[k], sizeof part[k], q, (size_t)(e - q));
                q = e < next ? e + 1 : e;
            }
            if (part[0][0] && m->party_account[0] == '\0')
                set_text(m->party_account, sizeof m->party_account, part[0]);
            if (part[2][0] && m->party[0] == '\0')
                set_text(m->party, sizeof m->party, part[2]);
        }
        p = next;
    }
}

/* A :NS: block: "NNtext" lines. */
static void describe_ns(struct mt940 *m)
{
    char memo[MT_TEXT_MAX] = "", party[MT_TEXT_MAX] = "";
    char *line = m->ns;
    while (line != NULL && *line) {
        char *nl = strchr(line, '\n');
        size_t n = nl != NULL ? (size_t)(nl - line) : strlen(line);
        const char *v = line;
        int code = -1;
        if (n >= 2 && digits(line, 2)) {
            code = two(line);
            v += 2;
            n -= 2;
        }
        char *dst = code == 32 || code == 33 ? party : memo;
        if (n > 0) {
            if (dst[0] != '\0')
                stmt_append(dst, MT_TEXT_MAX, " ", 1);
            stmt_append(dst, MT_TEXT_MAX, v, n);
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
    if (m->party[0] == '\0')
        set_text(m->party, sizeof m->party, party);
    if (m->remittance[0] == '\0')
        set_text(m->remittance, sizeof m->remittance, memo);
}

/* Builds m->desc, m->party, m->party_account, m->remittance (the memo) and
 * m->reference from the :86: and :NS: text of the pending entry. */
static void describe(struct mt940 *m)
{
    m->party[0] = m->remittance[0] = m->posting[0] = m->party_account[0] = m->reference[0] = '\0';
    char *info = m->info;
    bool german = m->has_info && ((digits(info, 3) && info[3] == '?' && digits(info + 4, 2)) ||
                                  (info[0] == '?' && digits(info + 1, 2)));
    if (german)
        describe_german(m, info);
    else if (m->has_info && slash_form(info))
        describe_slashes(m, info);
    else if (m->has_info && !(strlen(info) <= 3 && digits(info, (int)strlen(info))))
        set_text(m->remittance, sizeof m->remittance, info);   /* (a bare GVC code says nothing) */
    if (m->has_ns)
        describe_ns(m);
    stmt_normalize_text(m->party);
    stmt_normalize_text(m->party_account);
    stmt_normalize_text(m->remittance);
    stmt_normalize_text(m->posting);
    stmt_normalize_text(m->reference);
    if (m->party[0] && m->remittance[0] && strcmp(m->party, m->remittance) != 0)
        snprintf(m->desc, sizeof m->desc, "%s %s", m->party, m->remittance);
    else if (m->party[0] || m->remittance[0])
        snprintf(m->desc, sizeof m->desc, "%s", m->party[0] ? m->party : m->remittance);
    else {
        /* nothing but codes: what the record has */
        const char *fallback[] = { m->posting, m->supplementary, m->owner_ref, m->reference };
        m->desc[0] = '\0';
        for (size_t i = 0; i < sizeof fallback / sizeof fallback[0] && m->desc[0] == '\0'; i++) {
            set_text(m->desc, sizeof m->desc, fallback[i]);
            stmt_normalize_text(m->desc);
        }
    }
}

static int flush(struct mt940 *m)
{
    if (!m->pending)
        return 0;
    m->pending = false;
    describe(m);
    struct stmt_txn t;
    memset(&t, 0, sizeof t);
    t.line = m->txn_line;
    memcpy(t.date, m->date, sizeof t.date);
    t.amount_minor = m->amount;
    memcpy(t.currency, m->currency, sizeof t.currency);
    t.exponent = si_currency_exponent(t.currency[0] ? t.currency : NULL);
    t.description = m->desc;
    t.counterparty = m->party[0] ? m->party : NULL;
    t.counterparty_account = m->party_account[0] ? m->party_account : NULL;
    t.memo = m->remittance[0] && strcmp(m->remittance, m->party) != 0 ? m->remittance : NULL;
    t.reference = m->reference[0] ? m->reference : NULL;
    t.bank_id = m->bank_id[0] ? m->bank_id : NULL;
    t.account = m->account[0] ? m->account : NULL;
    if (m->sink->txn(m->sink->ctx, &t) != 0)
        return stmt_fail(m->err, t.line, "stopped");
    return 0;
}

static void end_statement(struct mt940 *m, long line)
{
    if (m->in_stmt && !m->closing_seen)
        stmt_warn(m->sink, line, "statement has no closing balance (:62F:); it may be incomplete");
    m->in_stmt = false;
}

/* :60F: / :62F: "C240115EUR1234,56": the currency. */
static void balance_currency(struct mt940 *m, bool opening)
{
    const char *s = m->content;
    char code[4] = "";
    if ((s[0] == 'C' || s[0] == 'D') && digits(s + 1, 6) && is_upper(s[7]) && is_upper(s[8]) &&
        is_upper(s[9])) {
        memcpy(code, s + 7, 3);
        code[3] = '\0';
    }
    if (!si_currency_code_valid(code)) {
        stmt_warn(m->sink, m->tag_line, opening ? "opening balance is malformed" : "closing balance is malformed");
        return;
    }
    if (opening || m->currency[0] == '\0')
        memcpy(m->currency, code, 4);
}

/* :61: into the pending entry; a malformed line is a warning. */
static void statement_line(struct mt940 *m)
{
    const char *s = m->content;
    long line = m->tag_line;
    if (!m->in_stmt) {
        stmt_warn(m->sink, line, "statement line outside a statement (no :20:) skipped");
        return;
    }
    if (!digits(s, 6)) {
        stmt_warn(m->sink, line, "statement line has no valid value date; skipped");
        return;
    }
    int vy = two(s), vm = two(s + 2), vd = two(s + 4);
    char value_date[11];
    bool value_ok = stmt_make_date(vy, vm, vd, value_date) == 0;
    size_t i = 6;
    if (value_ok)
        memcpy(m->date, value_date, sizeof m->date);
    if (digits(s + i, 4)) {
        int em = two(s + i), ed = two(s + i + 2);
        int year = vy < 70 ? 2000 + vy : 1900 + vy;   /* as stmt_make_date */
        if (vm >= 1 && vm <= 12 && em - vm > 6)
            year--;
        else if (vm >= 1 && vm <= 12 && vm - em > 6)
            year++;
        char entry_date[11];
        if (stmt_make_date(year, em, ed, entry_date) == 0) {
            memcpy(m->date, entry_date, sizeof m->date);
            if (!value_ok) {
                stmt_warn(m->sink, line, "statement line value date is not a calendar date; booking date used");
                value_ok = true;
            }
        } else if (value_ok) {
            stmt_warn(m->sink, line, "statement line entry date is not valid; value date used");
        }
        i += 4;
    }
    if (!value_ok) {
        stmt_warn(m->sink, line, "statement line has no valid value date; skipped");
        return;
    }
    int sign;
    if (s[i] == 'R' && (s[i + 1] == 'C' || s[i + 1] == 'D')) {
        sign = s[i + 1] == 'C' ? -1 : 1;
        i += 2;
    } else if (s[i] == 'C' || s[i] == 'D') {
        sign = s[i] == 'C' ? 1 : -1;
        i++;
    } else {
        stmt_warn(m->sink, line, "statement line has no debit/credit mark; skipped");
        return;
    }
    if (is_upper(s[i]))
        i++;                    /* funds code */
    size_t a = i;
    while ((s[i] >= '0' && s[i] <= '9') || s[i] == ',')
        i++;
    long long amount;
    if (i == a || stmt_decimal_to_minor(s + a, i - a, ',', 0,
                                        si_currency_exponent(m->currency[0] ? m->currency : NULL),
                                        &amount) != 0) {
        stmt_warn(m->sink, line, "statement line amount is not a number; skipped");
        return;
    }
    if (!((s[i] == 'N' || s[i] == 'S' || s[i] == 'F') && s[i + 1] && s[i + 1] != '\n' && s[i + 2] &&
          s[i + 2] != '\n' && s[i + 3] && s[i + 3] != '\n')) {
        stmt_warn(m->sink, line, "statement line has no transaction type code; skipped");
        return;
    }
    i += 4;
    /* Reference for the account owner, then "//" and the bank's reference. */
    const char *eol = strchr(s + i, '\n');
    size_t end = eol != NULL ? (size_t)(eol - s) : strlen(s);
    m->bank_id[0] = m->supplementary[0] = m->owner_ref[0] = '\0';
    size_t ref_end = end;
    for (size_t k = i; k + 1 < end; k++) {
        if (s[k] == '/' && s[k + 1] == '/') {
            stmt_append(m->bank_id, sizeof m->bank_id, s + k + 2, end - k - 2);
            stmt_normalize_text(m->bank_id);
            ref_end = k;
            break;
        }
    }
    if (ref_end > i && !(ref_end - i == 6 && strncmp(s + i, "NONREF", 6) == 0)) {
        stmt_append(m->owner_ref, sizeof m->owner_ref, s + i, ref_end - i);
        stmt_normalize_text(m->owner_ref);
    }
    if (eol != NULL) {
        const char *sup = eol + 1;
        const char *sup_end = strchr(sup, '\n');
        stmt_append(m->supplementary, sizeof m->supplementary, sup,
                 sup_end != NULL ? (size_t)(sup_end - sup) : strlen(sup));
    }
    m->amount = sign * amount;
    m->pending = true;
    m->has_info = false;
    m->info[0] = '\0';
    m->has_ns = false;
    m->ns[0] = '\0';
    m->txn_line = line;
}

static int finish_field(struct mt940 *m)
{
    if (!m->have_field)
        return 0;
    m->have_field = false;
    const char *tag = m->tag;
    if (strcmp(tag, "86") == 0) {
        if (m->pending && !m->has_info) {
            snprintf(m->info, sizeof m->info, "%s", m->content);
            m->has_info = true;
        }
        return 0;
    }
    if (strcmp(tag, "34F") == 0 || strcmp(tag, "13D") == 0)
        return stmt_fail(m->err, m->tag_line, "this is an MT942 interim report, not an MT940 statement");
    if (strcmp(tag, "NS") == 0) {
        if (m->pending && !m->has_ns) {
            snprintf(m->ns, sizeof m->ns, "%s", m->content);
            m->has_ns = true;
        }
        return 0;
    }
    if (flush(m) != 0)
        return -1;
    if (strcmp(tag, "20") == 0) {
        end_statement(m, m->tag_line);
        m->in_stmt = true;
        m->closing_seen = false;
        m->statements++;
        m->stmt_line = m->tag_line;
        m->account[0] = m->currency[0] = '\0';
    } else if (strcmp(tag, "25") == 0) {
        set_text(m->account, sizeof m->account, m->content);
        stmt_normalize_text(m->account);
    } else if (strcmp(tag, "60F") == 0 || strcmp(tag, "60M") == 0) {
        balance_currency(m, true);
    } else if (strcmp(tag, "61") == 0) {
        statement_line(m);
    } else if (strcmp(tag, "62F") == 0 || strcmp(tag, "62M") == 0) {
        balance_currency(m, false);
        m->closing_seen = true;
    }
    return 0;
}

/* ":NN:", ":NNA:" or ":NS:" at the start of l: the tag's length including colons. */
static size_t tag_length(const char *l)
{
    if (strncmp(l, ":NS:", 4) == 0)
        return 4;
    if (l[0] != ':' || !digits(l + 1, 2))
        return 0;
    if (l[3] == ':')
        return 4;
    if (is_upper(l[3]) && l[4] == ':')
        return 5;
    return 0;
}

static int handle_line(struct mt940 *m, const char *l)
{
    if (l[0] == '{') {
        const char *b4 = strstr(l, "{4:");
        if (b4 == NULL)
            return finish_field(m);    /* {1:...}{2:...} alone, or a {5:...} trailer */
        l = b4 + 3;
        if (*l == '\0')
            return 0;
    }
    if (l[0] == '-' && (l[1] == '\0' || l[1] == '}')) {
        if (finish_field(m) != 0 || flush(m) != 0)
            return -1;
        end_statement(m, m->r.line);
        return 0;
    }
    size_t k = tag_length(l);
    if (k > 0) {
        if (finish_field(m) != 0)
            return -1;
        memcpy(m->tag, l + 1, k - 2);
        m->tag[k - 2] = '\0';
        m->tag_line = m->r.line;
        m->content[0] = '\0';
        stmt_append(m->content, sizeof m->content, l + k, strlen(l + k));
        m->have_field = true;
        return 0;
    }
    if (m->have_field) {
        stmt_append(m->content, sizeof m->content, "\n", 1);
        stmt_append(m->content, sizeof m->content, l, strlen(l));
    }
    return 0;   /* else a header line before the first field */
}

int stmt_parse_mt940(FILE *in, const struct stmt_sink *sink, struct stmt_error *err)
{
    int rc = -1;
    struct mt940 *m = calloc(1, sizeof *m);
    if (m == NULL) {
        err->line = 0;
        snprintf(err->message, sizeof err->message, "out of memory");
        return -1;
    }
    m->r.in = in;
    m->r.buf = m->line_buf;
    m->r.cap = sizeof m->line_buf;
    m->sink = sink;
    m->err = err;
    for (;;) {
        int got = stmt_read_line(&m->r, true);
        if (got < 0) {
            stmt_fail(m->err, m->r.line, "read error");
            goto out;
        }
        if (got == 0)
            break;
        if (m->r.buf[0] == '\0')
            continue;
        if (handle_line(m, m->r.buf) != 0)
            goto out;
    }
    if (finish_field(m) != 0 || flush(m) != 0)
        goto out;
    end_statement(m, m->r.line);
    if (m->statements == 0) {
        stmt_fail(m->err, 0, m->r.line == 0 ? "the file is empty" : "no MT940 statement (:20:) in the file");
        goto out;
    }
    rc = 0;
out:
    free(m);
    return rc;
}
