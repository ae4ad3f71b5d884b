/* ofx.c: OFX 1.x (SGML), OFX 2.x (XML) and QFX bank and credit-card
 * statements.
 *
 * One hand-written streaming tokenizer reads all three.  Why not libxml2 for
 * 2.x: OFX 1.x is SGML with unclosed leaf elements, which no XML parser reads,
 * so a tokenizer is needed anyway; OFX 2.x is the same element vocabulary
 * with the leaves closed, which the same tokenizer handles by ignoring leaf
 * end tags; and banks' "2.x" files are often not well-formed XML (unclosed
 * leaves under an XML header, bad entities), which a strict parser rejects.
 * The tokenizer never resolves external entities or DTDs (it skips <!...>
 * and <?...?> declarations), so XXE cannot happen here.
 *
 * Memory is bounded: the FILE is read one character at a time; element text
 * is cut at OFX_TEXT_MAX bytes (on a UTF-8 boundary); only the aggregates
 * below (a fixed list) are kept on a stack of at most OFX_MAX_DEPTH entries;
 * every other start tag is a leaf whose value is the text that follows it,
 * up to the next '<' or the end of that line.  A transaction goes to the sink
 * at </STMTTRN>, and is forgotten.
 *
 * Truncated files are errors: the file must close </STMTTRN>,
 * </BANKTRANLIST> and </OFX> (OFX 1.x closes every aggregate too). */
#include "stmt.h"
#include "si_money.h"
#include "stmt_util.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OFX_NAME_MAX 64
#define OFX_TEXT_MAX 1024
#define OFX_MAX_DEPTH 32

enum tok { TOK_EOF, TOK_OPEN, TOK_CLOSE, TOK_TEXT, TOK_ERROR };

struct lexer {
    FILE *in;
    long line;                    /* line of the next character */
    long tok_line;                /* line where the last token started */
    bool self_close;              /* the last <X/> still owes a TOK_CLOSE */
    char name[OFX_NAME_MAX];      /* TOK_OPEN / TOK_CLOSE */
    char text[OFX_TEXT_MAX];      /* TOK_TEXT */
    const char *error;            /* TOK_ERROR */
};

/* The aggregates that are tracked; any other element is a leaf. */
static const char *const aggregates[] = {
    "OFX", "SIGNONMSGSRSV1", "SONRS", "STATUS", "FI", "BANKMSGSRSV1", "STMTTRNRS", "STMTRS",
    "BANKACCTFROM", "BANKACCTTO", "BANKTRANLIST", "STMTTRN", "PAYEE", "CCACCTFROM", "CCACCTTO",
    "LEDGERBAL", "AVAILBAL", "BALLIST", "BAL", "CURRENCY", "ORIGCURRENCY", "CREDITCARDMSGSRSV1",
    "CCSTMTTRNRS", "CCSTMTRS", "IMAGEDATA", "STMTENDRS", "STMTENDTRNRS", "CCSTMTENDRS",
    "CCSTMTENDTRNRS", "INVSTMTMSGSRSV1", "INVSTMTTRNRS", "INVSTMTRS", "SIGNUPMSGSRSV1",
};

static bool is_aggregate(const char *name)
{
    for (size_t i = 0; i < sizeof aggregates / sizeof aggregates[0]; i++)
        if (strcasecmp(name, aggregates[i]) == 0)
            return true;
    return false;
}

static int lx_getc(struct lexer *lx)
{
    int c = getc(lx->in);
    if (c == '\n')
        lx->line++;
    return c;
}

static void lx_ungetc(struct lexer *lx, int c)
{
    if (c == EOF)
        return;
    if (c == '\n')
        lx->line--;
    ungetc(c, lx->in);
}

/* Skips until the two-character terminator ("?>", "->"...) or EOF. */
static int skip_until(struct lexer *lx, const char *term)
{
    size_t k = strlen(term), matched = 0;
    for (;;) {
        int c = lx_getc(lx);
        if (c == EOF)
            return -1;
        if (c == (unsigned char)term[matched]) {
            if (++matched == k)
                return 0;
        } else {
            matched = c == (unsigned char)term[0] ? 1 : 0;
        }
    }
}

static bool is_name_char(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == ':';
}

/* Appends c to text if there is room; returns false when it did not fit. */
static bool text_put(char *text, size_t *len, int c)
{
    if (*len + 1 >= OFX_TEXT_MAX)
        return false;
    text[(*len)++] = (char)c;
    return true;
}

/* Adds c to a value being read: leading blanks skipped, first line only. */
struct value {
    size_t len;
    bool started, done, full;
};

static void value_put(struct lexer *lx, struct value *v, int c)
{
    if (v->done)
        return;
    if (!v->started) {
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f')
            return;
        v->started = true;
        lx->tok_line = lx->line;
    }
    if (c == '\n' || c == '\r') {
        v->done = true;
        return;
    }
    if (!v->full && !text_put(lx->text, &v->len, c))
        v->full = true;
}

static enum tok value_end(struct lexer *lx, struct value *v)
{
    if (v->full)
        v->len = stmt_utf8_trim_partial(lx->text, v->len);
    lx->text[v->len] = '\0';
    return v->started ? TOK_TEXT : TOK_EOF;   /* TOK_EOF here means "nothing": the caller goes on */
}

/* <![CDATA[ ... ]]> already past "<![": the content is text. */
static enum tok lex_cdata(struct lexer *lx)
{
    const char *open = "CDATA[";
    for (size_t i = 0; open[i]; i++) {
        int c = lx_getc(lx);
        if (c != open[i]) {
            lx_ungetc(lx, c);
            return skip_until(lx, ">") == 0 ? TOK_EOF : TOK_ERROR;
        }
    }
    struct value v = { 0, false, false, false };
    int brackets = 0;          /* ']' seen and not yet added */
    lx->tok_line = lx->line;
    for (;;) {
        int c = lx_getc(lx);
        if (c == EOF)
            return TOK_ERROR;
        if (c == ']') {
            if (++brackets > 2) {
                value_put(lx, &v, ']');
                brackets = 2;
            }
            continue;
        }
        if (c == '>' && brackets == 2)
            break;
        for (; brackets > 0; brackets--)
            value_put(lx, &v, ']');
        value_put(lx, &v, c);
    }
    return value_end(lx, &v);
}

/* Reads character data up to the next '<' (left unread).  The value is its
 * first non-blank line. */
static enum tok lex_text(struct lexer *lx, int c)
{
    struct value v = { 0, false, false, false };
    lx->tok_line = lx->line;
    for (; c != EOF && c != '<'; c = lx_getc(lx))
        value_put(lx, &v, c);
    lx_ungetc(lx, c);
    return value_end(lx, &v);
}

/* After '<': a start or end tag, or something to skip (TOK_EOF = skipped). */
static enum tok lex_markup(struct lexer *lx)
{
    lx->tok_line = lx->line;
    int c = lx_getc(lx);
    if (c == '?')
        return skip_until(lx, "?>") == 0 ? TOK_EOF : TOK_ERROR;
    if (c == '!') {
        c = lx_getc(lx);
        if (c == '-') {
            c = lx_getc(lx);
            if (c == '-')
                return skip_until(lx, "-->") == 0 ? TOK_EOF : TOK_ERROR;
        } else if (c == '[') {
            return lex_cdata(lx);
        }
        lx_ungetc(lx, c);
        return skip_until(lx, ">") == 0 ? TOK_EOF : TOK_ERROR;
    }
    bool close = c == '/';
    if (close)
        c = lx_getc(lx);
    size_t len = 0;
    while (is_name_char(c)) {
        if (len + 1 >= OFX_NAME_MAX) {
            lx->error = "element name too long";
            return TOK_ERROR;
        }
        lx->name[len++] = (char)c;
        c = lx_getc(lx);
    }
    lx->name[len] = '\0';
    if (len == 0) {
        if (c == EOF) {
            lx->error = NULL;
            return TOK_ERROR;
        }
        lx_ungetc(lx, c);
        return TOK_EOF;         /* a stray '<' in text ("A < B"): skipped */
    }
    /* Attributes (OFX 2.x may have xmlns...) up to '>', quotes respected. */
    int quote = 0, prev = 0;
    while (c != '>' || quote) {
        if (c == EOF || (c == '<' && !quote)) {
            lx->error = c == EOF ? NULL : "malformed tag";
            return TOK_ERROR;
        }
        if (quote && c == quote)
            quote = 0;
        else if (!quote && (c == '"' || c == '\''))
            quote = c;
        prev = c;
        c = lx_getc(lx);
    }
    if (!close && prev == '/')
        lx->self_close = true;
    return close ? TOK_CLOSE : TOK_OPEN;
}

/* The next token.  TOK_ERROR with lx->error NULL means the file ended inside
 * markup (the caller reports truncation). */
static enum tok lex_next(struct lexer *lx)
{
    if (lx->self_close) {
        lx->self_close = false;
        return TOK_CLOSE;
    }
    for (;;) {
        int c = lx_getc(lx);
        if (c == EOF) {
            if (ferror(lx->in)) {
                lx->error = "read error";
                return TOK_ERROR;
            }
            lx->tok_line = lx->line;
            return TOK_EOF;
        }
        enum tok t = c == '<' ? lex_markup(lx) : lex_text(lx, c);
        if (t != TOK_EOF)
            return t;
    }
}

/* Decodes &amp; &lt; &gt; &quot; &apos; &nbsp; (any case) and &#NN; / &#xHH;
 * in place; anything else is left as it is.  Returns whether an "&amp;"
 * was decoded (text a bank escaped twice, "&amp;lt;", needs a second pass). */
static bool decode_entities_once(char *s)
{
    bool amp = false;
    char *w = s;
    for (char *r = s; *r;) {
        if (*r != '&') {
            *w++ = *r++;
            continue;
        }
        char *semi = strchr(r, ';');
        if (semi == NULL || semi - r > 10) {
            *w++ = *r++;
            continue;
        }
        size_t n = (size_t)(semi - r - 1);
        const char *e = r + 1;
        static const struct { const char *name; const char *value; } named[] = {
            { "amp", "&" }, { "lt", "<" }, { "gt", ">" }, { "quot", "\"" }, { "apos", "'" },
            { "nbsp", "\xC2\xA0" },
        };
        const char *rep = NULL;
        char utf8[5];
        for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
            if (strlen(named[i].name) == n && strncasecmp(e, named[i].name, n) == 0)
                rep = named[i].value;
        if (rep != NULL && rep[0] == '&')
            amp = true;
        if (rep == NULL && n >= 2 && e[0] == '#') {
            bool hex = e[1] == 'x' || e[1] == 'X';
            unsigned long cp = 0;
            size_t k = hex ? 2 : 1;
            bool ok = k < n;
            for (; k < n && ok; k++) {
                char ch = e[k];
                int d = ch >= '0' && ch <= '9' ? ch - '0'
                        : hex && ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                        : hex && ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
                if (d < 0 || cp > 0x10FFFF)
                    ok = false;
                else
                    cp = cp * (hex ? 16 : 10) + (unsigned long)d;
            }
            if (ok && cp > 0 && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF)) {
                /* Never longer than the entity text it replaces ("&#N;" >= 4 bytes
                 * for one UTF-8 byte, "&#NNNNN;" >= 8 for four). */
                if (cp < 0x80) {
                    utf8[0] = (char)cp;
                    utf8[1] = '\0';
                } else if (cp < 0x800) {
                    utf8[0] = (char)(0xC0 | (cp >> 6));
                    utf8[1] = (char)(0x80 | (cp & 0x3F));
                    utf8[2] = '\0';
                } else if (cp < 0x10000) {
                    utf8[0] = (char)(0xE0 | (cp >> 12));
                    utf8[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    utf8[2] = (char)(0x80 | (cp & 0x3F));
                    utf8[3] = '\0';
                } else {
                    utf8[0] = (char)(0xF0 | (cp >> 18));
                    utf8[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
                    utf8[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    utf8[3] = (char)(0x80 | (cp & 0x3F));
                    utf8[4] = '\0';
                }
                if (strlen(utf8) <= n + 2)
                    rep = utf8;
            }
        }
        if (rep == NULL) {
            *w++ = *r++;
            continue;
        }
        size_t rl = strlen(rep);
        memmove(w, rep, rl);
        w += rl;
        r = semi + 1;
    }
    *w = '\0';
    return amp;
}

/* Entities in element text, as above; twice-escaped ones ("&amp;lt;", a
 * common bank bug) are decoded fully, "&amp;amp;" to "&". */
static void decode_entities(char *s)
{
    if (decode_entities_once(s) && strchr(s, '&') != NULL)
        decode_entities_once(s);
}

struct ofx {
    struct lexer lx;
    const struct stmt_sink *sink;
    struct stmt_error *err;
    char stack[OFX_MAX_DEPTH][OFX_NAME_MAX];
    int depth;
    bool seen_ofx, seen_stmt, seen_invst, bad_currency_warned;
    char account[OFX_TEXT_MAX];
    char currency[4];
    /* The open STMTTRN. */
    long trn_line;
    char dtposted[OFX_TEXT_MAX], dtuser[OFX_TEXT_MAX], trnamt[OFX_TEXT_MAX], checknum[OFX_TEXT_MAX];
    char fitid[OFX_TEXT_MAX], name[OFX_TEXT_MAX], memo[OFX_TEXT_MAX];
    char desc[2 * OFX_TEXT_MAX + 16];
};

static int stack_find(const struct ofx *o, const char *name)
{
    for (int i = o->depth - 1; i >= 0; i--)
        if (strcasecmp(o->stack[i], name) == 0)
            return i;
    return -1;
}

static bool top_is(const struct ofx *o, int below, const char *name)
{
    return o->depth > below && strcasecmp(o->stack[o->depth - 1 - below], name) == 0;
}

/* Copies a token (always shorter than OFX_TEXT_MAX) into a field. */
static void copy_field(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = stmt_utf8_trim_partial(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* The first 8 characters of an OFX date (YYYYMMDD...) as "YYYY-MM-DD". */
static int ofx_date(const char *s, char out[11])
{
    int v[8];
    for (int i = 0; i < 8; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v[i] = s[i] - '0';
    }
    if (s[8] != '\0' && !(s[8] >= '0' && s[8] <= '9') && s[8] != '.' && s[8] != '[')
        return -1;
    int year = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3];
    return stmt_make_date(year, v[4] * 10 + v[5], v[6] * 10 + v[7], out);
}

/* TRNAMT: sign as given, '.' or ',' as the decimal separator (when both
 * appear the last one is the decimal separator, the other groups thousands). */
static int ofx_amount(const char *s, int exponent, long long *out)
{
    const char *dot = strrchr(s, '.'), *comma = strrchr(s, ',');
    char dec = '.', thousands = 0;
    if (dot != NULL && comma != NULL) {
        dec = dot > comma ? '.' : ',';
        thousands = dot > comma ? ',' : '.';
    } else if (comma != NULL) {
        dec = ',';
    }
    return stmt_decimal_to_minor(s, strlen(s), dec, thousands, exponent, out);
}

static void start_trn(struct ofx *o)
{
    o->trn_line = o->lx.tok_line;
    o->dtposted[0] = o->dtuser[0] = o->trnamt[0] = o->checknum[0] = '\0';
    o->fitid[0] = o->name[0] = o->memo[0] = '\0';
}

static int end_trn(struct ofx *o)
{
    struct stmt_txn t;
    memset(&t, 0, sizeof t);
    t.line = o->trn_line;
    const char *date = o->dtposted[0] ? o->dtposted : o->dtuser;
    if (date[0] == '\0') {
        stmt_warn(o->sink, t.line, "transaction without a date skipped");
        return 0;
    }
    if (ofx_date(date, t.date) != 0) {
        stmt_warn(o->sink, t.line, "transaction date is not a valid date; skipped");
        return 0;
    }
    memcpy(t.currency, o->currency, sizeof t.currency);
    t.exponent = si_currency_exponent(t.currency[0] ? t.currency : NULL);
    if (o->trnamt[0] == '\0') {
        stmt_warn(o->sink, t.line, "transaction without an amount skipped");
        return 0;
    }
    if (ofx_amount(o->trnamt, t.exponent, &t.amount_minor) != 0) {
        stmt_warn(o->sink, t.line, "transaction amount is not a number; skipped");
        return 0;
    }
    stmt_normalize_text(o->name);
    stmt_normalize_text(o->memo);
    stmt_normalize_text(o->checknum);
    if (o->name[0] && o->memo[0] && strcmp(o->name, o->memo) != 0)
        snprintf(o->desc, sizeof o->desc, "%s %s", o->name, o->memo);
    else if (o->name[0] || o->memo[0])
        snprintf(o->desc, sizeof o->desc, "%s", o->name[0] ? o->name : o->memo);
    else if (o->checknum[0])
        snprintf(o->desc, sizeof o->desc, "Check %s", o->checknum);
    else
        o->desc[0] = '\0';
    t.description = o->desc;
    t.counterparty = o->name[0] ? o->name : NULL;
    t.memo = o->memo[0] && strcmp(o->name, o->memo) != 0 ? o->memo : NULL;
    stmt_normalize_text(o->fitid);
    t.bank_id = o->fitid[0] ? o->fitid : NULL;
    t.account = o->account[0] ? o->account : NULL;
    if (o->sink->txn(o->sink->ctx, &t) != 0)
        return stmt_fail(o->err, t.line, "stopped");
    return 0;
}

/* A leaf element with its value; the parent is the innermost aggregate. */
static void leaf(struct ofx *o, const char *name, const char *value)
{
    if (top_is(o, 0, "STMTTRN")) {
        if (strcasecmp(name, "DTPOSTED") == 0)
            copy_field(o->dtposted, sizeof o->dtposted, value);
        else if (strcasecmp(name, "DTUSER") == 0)
            copy_field(o->dtuser, sizeof o->dtuser, value);
        else if (strcasecmp(name, "TRNAMT") == 0)
            copy_field(o->trnamt, sizeof o->trnamt, value);
        else if (strcasecmp(name, "FITID") == 0)
            copy_field(o->fitid, sizeof o->fitid, value);
        else if (strcasecmp(name, "NAME") == 0 || (strcasecmp(name, "PAYEE") == 0 && o->name[0] == '\0'))
            copy_field(o->name, sizeof o->name, value);
        else if (strcasecmp(name, "MEMO") == 0)
            copy_field(o->memo, sizeof o->memo, value);
        else if (strcasecmp(name, "CHECKNUM") == 0)
            copy_field(o->checknum, sizeof o->checknum, value);
    } else if (top_is(o, 0, "PAYEE") && top_is(o, 1, "STMTTRN")) {
        if (strcasecmp(name, "NAME") == 0)
            copy_field(o->name, sizeof o->name, value);
    } else if ((top_is(o, 0, "BANKACCTFROM") && top_is(o, 1, "STMTRS")) ||
               (top_is(o, 0, "CCACCTFROM") && top_is(o, 1, "CCSTMTRS"))) {
        if (strcasecmp(name, "ACCTID") == 0) {
            copy_field(o->account, sizeof o->account, value);
        }
    } else if (top_is(o, 0, "STMTRS") || top_is(o, 0, "CCSTMTRS")) {
        if (strcasecmp(name, "CURDEF") == 0) {
            char code[4] = "";
            if (strlen(value) == 3)
                for (int i = 0; i < 4; i++)
                    code[i] = (char)toupper((unsigned char)value[i]);
            if (si_currency_code_valid(code)) {
                memcpy(o->currency, code, 4);
            } else {
                o->currency[0] = '\0';
                if (!o->bad_currency_warned)
                    stmt_warn(o->sink, o->lx.tok_line, "statement currency is not an ISO 4217 code; ignored");
                o->bad_currency_warned = true;
            }
        }
    }
}

static int open_tag(struct ofx *o)
{
    const char *name = o->lx.name;
    if (strcasecmp(name, "OFX") == 0)
        o->seen_ofx = true;
    if (!is_aggregate(name))
        return 0;
    if (o->depth == 0 && strcasecmp(name, "OFX") != 0)
        return stmt_fail(o->err, o->lx.tok_line, o->seen_ofx ? "element outside <OFX>" : "not an OFX file (no <OFX> element)");
    if (o->depth >= OFX_MAX_DEPTH)
        return stmt_fail(o->err, o->lx.tok_line, "elements nested too deeply");
    if (strcasecmp(name, "STMTTRN") == 0) {
        if (stack_find(o, "STMTTRN") >= 0)
            return stmt_fail(o->err, o->lx.tok_line, "a transaction starts before the previous one is closed");
        start_trn(o);
    } else if (strcasecmp(name, "STMTRS") == 0 || strcasecmp(name, "CCSTMTRS") == 0) {
        o->seen_stmt = true;
        o->account[0] = '\0';
        o->currency[0] = '\0';
    } else if (strcasecmp(name, "INVSTMTRS") == 0) {
        o->seen_invst = true;
    }
    copy_field(o->stack[o->depth++], OFX_NAME_MAX, name);
    return 0;
}

static int close_tag(struct ofx *o)
{
    int at = stack_find(o, o->lx.name);
    if (at < 0)
        return 0;            /* a leaf's end tag (OFX 2.x) or a stray one */
    for (int i = o->depth - 1; i > at; i--)
        if (strcasecmp(o->stack[i], "STMTTRN") == 0 || strcasecmp(o->stack[i], "BANKTRANLIST") == 0)
            return stmt_fail(o->err, o->lx.tok_line,
                        i == at + 1 && strcasecmp(o->stack[i], "STMTTRN") == 0
                            ? "a transaction is not closed" : "the transaction list is not closed");
    o->depth = at;
    if (strcasecmp(o->lx.name, "STMTTRN") == 0)
        return end_trn(o);
    return 0;
}

/* line: where the last token was (a file cut after a newline still points
 * at its last line of content). */
static int at_eof(struct ofx *o, long line)
{
    if (stack_find(o, "STMTTRN") >= 0)
        return stmt_fail(o->err, line, "the file ends inside a transaction (truncated?)");
    if (stack_find(o, "BANKTRANLIST") >= 0)
        return stmt_fail(o->err, line, "the file ends before the transaction list is closed (truncated?)");
    if (o->depth > 0)
        return stmt_fail(o->err, line, "the file ends before </OFX> (truncated?)");
    if (!o->seen_ofx)
        return stmt_fail(o->err, 0, "not an OFX file (no <OFX> element)");
    if (!o->seen_stmt)
        return stmt_fail(o->err, 0, o->seen_invst ? "investment statements are not supported"
                                        : "no bank or credit card statement in the file");
    return 0;
}

int stmt_parse_ofx(FILE *in, const struct stmt_sink *sink, struct stmt_error *err)
{
    int rc = -1;
    struct ofx *o = calloc(1, sizeof *o);
    if (o == NULL) {
        err->line = 0;
        snprintf(err->message, sizeof err->message, "out of memory");
        return -1;
    }
    o->lx.in = in;
    o->lx.line = 1;
    o->sink = sink;
    o->err = err;
    enum tok prev = TOK_EOF;
    long last_line = 0;
    char opened[OFX_NAME_MAX] = "";   /* the start tag just before, for leaf values */
    for (;;) {
        enum tok t = lex_next(&o->lx);
        if (t == TOK_ERROR) {
            if (o->lx.error != NULL) {
                stmt_fail(o->err, o->lx.tok_line, o->lx.error);
                goto out;
            }
            t = TOK_EOF;   /* cut inside markup: reported as truncation */
            last_line = o->lx.line;
        }
        if (t == TOK_EOF) {
            rc = at_eof(o, last_line);
            goto out;
        }
        last_line = o->lx.tok_line;
        if (t == TOK_OPEN) {
            if (open_tag(o) != 0)
                goto out;
            copy_field(opened, sizeof opened, o->lx.name);
        } else if (t == TOK_CLOSE) {
            if (close_tag(o) != 0)
                goto out;
        } else if (t == TOK_TEXT && prev == TOK_OPEN && opened[0] != '\0') {
            /* A leaf; <PAYEE> is an aggregate or, in some files, a leaf. */
            if (is_aggregate(opened)) {
                if (strcasecmp(opened, "PAYEE") != 0)
                    goto next;    /* stray text after an aggregate's start tag */
                if (top_is(o, 0, "PAYEE"))
                    o->depth--;
            }
            decode_entities(o->lx.text);
            stmt_normalize_text(o->lx.text);
            leaf(o, opened, o->lx.text);
        }
    next:
        prev = t;
    }
out:
    free(o);
    return rc;
}
