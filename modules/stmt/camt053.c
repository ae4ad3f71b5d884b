/* camt053.c: ISO 20022 camt.053 (bank to customer statement), versions
 * .001.02 to .001.08 and later, read with libxml2's streaming xmlTextReader;
 * camt.052 (account report, BkToCstmrAcctRpt/Rpt) and camt.054 (debit/credit
 * notification, BkToCstmrDbtCdtNtfctn/Ntfctn), old and new versions, are
 * read the same way: their two outer elements are taken for
 * BkToCstmrStmt/Stmt.  Entries whose status (Sts or Sts/Cd) is PDNG or INFO
 * are not booked: skipped with a warning.
 *
 * Only the current element path is kept (local names of elements in the
 * camt.053 namespace; elements of other namespaces are "#" and never match),
 * plus the fields of the current statement and entry: memory is bounded
 * however many entries the file has; libxml2 frees each subtree as the reader
 * moves past it.
 *
 * Safety: XML_PARSE_NONET, no XML_PARSE_NOENT, no DTD loading or validation,
 * and any DOCTYPE at all is refused (camt files never have one), so external
 * entities (XXE) and entity expansion bombs cannot happen.  The encoding
 * declaration is ignored (XML_PARSE_IGNORE_ENC): the caller already converted
 * the file to UTF-8.  Errors go to a per-reader structured error handler,
 * never libxml2's global one, so parsers can run in several threads.
 *
 * Per entry (Stmt/Ntry): Amt (Ccy attribute) with CdtDbtInd (DBIT negative,
 * CRDT positive); BookgDt/Dt or DtTm, else ValDt; bank_id from AcctSvcrRef,
 * else NtryRef, else the first TxDtls/Refs/EndToEndId that is not
 * NOTPROVIDED; counterparty from RltdPties/Cdtr (debits) or Dbtr (credits),
 * Nm or Pty/Nm, and its account from CdtrAcct / DbtrAcct (IBAN or Othr/Id);
 * remittance (the memo) from every RmtInf/Ustrd, joined with spaces; the
 * reference is the EndToEndId (not NOTPROVIDED);
 * description = counterparty + " " + remittance, or AddtlNtryInf when both are
 * empty.  A reversal (RvslInd true) keeps the booked sign and is reported as a
 * warning.  Stmt/Acct/Id/IBAN or Othr/Id is the account. */
#include "stmt.h"
#include "si_money.h"
#include "stmt_util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlreader.h>
#include <libxml/xmlversion.h>

#define CAMT_NS_PREFIX "urn:iso:std:iso:20022:tech:xsd:camt.05"
#define CAMT_MAX_DEPTH 64
#define CAMT_NAME_MAX 40
#define CAMT_PATH_MAX (CAMT_MAX_DEPTH * (CAMT_NAME_MAX + 1) + 1)
#define CAMT_FIELD_MAX 512
#define CAMT_LONG_FIELD_MAX 2048

#if LIBXML_VERSION >= 21200
typedef const xmlError *camt_error_ptr;
#else
typedef xmlErrorPtr camt_error_ptr;
#endif

#define DOCTYPE_REFUSED "DTDs are not allowed in CAMT.053 files (external entities refused)"
#define STMT_PATH "BkToCstmrStmt/Stmt"
#define NTRY_PATH STMT_PATH "/Ntry"
#define TXDTLS_PATH NTRY_PATH "/NtryDtls/TxDtls"

struct camt {
    xmlTextReaderPtr reader;
    FILE *in;
    /* What the read callback has seen: the line it is on, whether anything
     * but blanks came, how much of "<!DOCTYPE" it matched, and where that
     * started (then it feeds nothing more). */
    long in_line;
    bool nonblank;
    size_t doctype_match;
    long doctype_line;
    const struct stmt_sink *sink;
    struct stmt_error *err;
    /* First libxml2 error. */
    bool xml_failed;
    int xml_code;
    long xml_line;
    /* Element path relative to Document, with the length before each push. */
    char path[CAMT_PATH_MAX];
    size_t lens[CAMT_MAX_DEPTH];
    int depth;
    bool seen_root;
    /* Where the text of the current element goes (NULL: nowhere). */
    char *field;
    size_t field_cap;
    int field_depth;
    /* Statement. */
    char account[CAMT_FIELD_MAX];
    char acct_ccy[8];
    /* Entry. */
    bool in_entry;
    long entry_line;
    char amt[64], ccy[8], cdi[16], rvsl[16], sts[16];
    char bookg[40], val[40];
    char acct_svcr_ref[CAMT_FIELD_MAX], ntry_ref[CAMT_FIELD_MAX], e2e[CAMT_FIELD_MAX];
    char cdtr[CAMT_FIELD_MAX], dbtr[CAMT_FIELD_MAX];
    char cdtr_acct[CAMT_FIELD_MAX], dbtr_acct[CAMT_FIELD_MAX];
    char rmt[CAMT_LONG_FIELD_MAX], addtl[CAMT_LONG_FIELD_MAX];
    char desc[CAMT_FIELD_MAX + CAMT_LONG_FIELD_MAX + 2];
};

static void on_xml_error(void *arg, camt_error_ptr e)
{
    struct camt *c = arg;
    if (e == NULL || e->level < XML_ERR_ERROR || c->xml_failed)
        return;
    c->xml_failed = true;
    c->xml_code = e->code;
    c->xml_line = e->line;
}

/* Feeds libxml2 from the FILE, and stops at "<!DOCTYPE": the parser never
 * sees a DTD, so it cannot declare, load or expand an entity. */
static int read_cb(void *ctx, char *buf, int len)
{
    static const char doctype[] = "<!DOCTYPE";
    struct camt *c = ctx;
    if (len <= 0 || c->doctype_line > 0)
        return 0;
    size_t n = fread(buf, 1, (size_t)len, c->in);
    if (n == 0 && ferror(c->in))
        return -1;
    for (size_t i = 0; i < n; i++) {
        char ch = buf[i];
        if (ch == '\n')
            c->in_line++;
        else if (ch != ' ' && ch != '\t' && ch != '\r')
            c->nonblank = true;
        if (ch == doctype[c->doctype_match]) {
            if (++c->doctype_match == sizeof doctype - 1) {
                c->doctype_line = c->in_line;
                return i + 1 >= sizeof doctype - 1 ? (int)(i + 1 - (sizeof doctype - 1)) : 0;
            }
        } else {
            c->doctype_match = ch == '<' ? 1 : 0;
        }
    }
    return (int)n;
}

/* Appends src to dst (capacity cap), cutting on a UTF-8 boundary. */
static long node_line(struct camt *c)
{
    xmlNodePtr node = xmlTextReaderCurrentNode(c->reader);
    long line = node != NULL ? xmlGetLineNo(node) : -1;
    if (line <= 0)
        line = xmlTextReaderGetParserLineNumber(c->reader);
    return line;
}

static void start_entry(struct camt *c)
{
    c->in_entry = true;
    c->entry_line = node_line(c);
    c->amt[0] = c->ccy[0] = c->cdi[0] = c->rvsl[0] = c->sts[0] = c->bookg[0] = c->val[0] = '\0';
    c->acct_svcr_ref[0] = c->ntry_ref[0] = c->e2e[0] = '\0';
    c->cdtr[0] = c->dbtr[0] = c->rmt[0] = c->addtl[0] = '\0';
    c->cdtr_acct[0] = c->dbtr_acct[0] = '\0';
}

/* "YYYY-MM-DD" or "YYYY-MM-DDThh:mm:ss..." */
static int camt_date(const char *s, char out[11])
{
    for (int i = 0; i < 10; i++) {
        bool dash = i == 4 || i == 7;
        if (dash ? s[i] != '-' : (s[i] < '0' || s[i] > '9'))
            return -1;
    }
    if (s[10] != '\0' && s[10] != 'T' && s[10] != '+' && s[10] != '-' && s[10] != 'Z')
        return -1;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    return stmt_make_date(y, (s[5] - '0') * 10 + (s[6] - '0'), (s[8] - '0') * 10 + (s[9] - '0'), out);
}

static int end_entry(struct camt *c)
{
    c->in_entry = false;
    struct stmt_txn t;
    memset(&t, 0, sizeof t);
    t.line = c->entry_line;
    stmt_normalize_text(c->sts);
    if (strcmp(c->sts, "PDNG") == 0 || strcmp(c->sts, "INFO") == 0) {
        stmt_warn(c->sink, t.line, "entry is not booked yet (pending); skipped");
        return 0;
    }
    stmt_normalize_text(c->bookg);
    stmt_normalize_text(c->val);
    const char *date = c->bookg[0] ? c->bookg : c->val;
    if (date[0] == '\0') {
        stmt_warn(c->sink, t.line, "entry without a booking or value date skipped");
        return 0;
    }
    if (camt_date(date, t.date) != 0) {
        stmt_warn(c->sink, t.line, "entry date is not a valid date; skipped");
        return 0;
    }
    stmt_normalize_text(c->ccy);
    if (si_currency_code_valid(c->ccy))
        memcpy(t.currency, c->ccy, 4);
    else if (si_currency_code_valid(c->acct_ccy))
        memcpy(t.currency, c->acct_ccy, 4);
    t.exponent = si_currency_exponent(t.currency[0] ? t.currency : NULL);
    stmt_normalize_text(c->amt);
    if (c->amt[0] < '0' || c->amt[0] > '9' ||
        stmt_decimal_to_minor(c->amt, strlen(c->amt), '.', 0, t.exponent, &t.amount_minor) != 0) {
        stmt_warn(c->sink, t.line, "entry amount is not a number; skipped");
        return 0;
    }
    stmt_normalize_text(c->cdi);
    bool debit;
    if (strcmp(c->cdi, "DBIT") == 0)
        debit = true;
    else if (strcmp(c->cdi, "CRDT") == 0)
        debit = false;
    else {
        stmt_warn(c->sink, t.line, "entry has no credit/debit indicator; skipped");
        return 0;
    }
    if (debit)
        t.amount_minor = -t.amount_minor;
    stmt_normalize_text(c->rvsl);
    if (strcmp(c->rvsl, "true") == 0 || strcmp(c->rvsl, "1") == 0)
        stmt_warn(c->sink, t.line, "entry is a reversal; amount kept as booked");

    stmt_normalize_text(c->acct_svcr_ref);
    stmt_normalize_text(c->ntry_ref);
    stmt_normalize_text(c->e2e);
    if (c->acct_svcr_ref[0])
        t.bank_id = c->acct_svcr_ref;
    else if (c->ntry_ref[0])
        t.bank_id = c->ntry_ref;
    else if (c->e2e[0] && strcasecmp(c->e2e, "NOTPROVIDED") != 0)
        t.bank_id = c->e2e;

    char *party = debit ? c->cdtr : c->dbtr;
    stmt_normalize_text(party);
    stmt_normalize_text(c->rmt);
    stmt_normalize_text(c->addtl);
    if (party[0] && c->rmt[0])
        snprintf(c->desc, sizeof c->desc, "%s %s", party, c->rmt);
    else if (party[0] || c->rmt[0])
        snprintf(c->desc, sizeof c->desc, "%s", party[0] ? party : c->rmt);
    else
        snprintf(c->desc, sizeof c->desc, "%s", c->addtl);
    t.description = c->desc;
    t.counterparty = party[0] ? party : NULL;
    t.memo = c->rmt[0] ? c->rmt : NULL;
    char *party_acct = debit ? c->cdtr_acct : c->dbtr_acct;
    stmt_normalize_text(party_acct);
    t.counterparty_account = party_acct[0] ? party_acct : NULL;
    t.reference = c->e2e[0] && strcasecmp(c->e2e, "NOTPROVIDED") != 0 ? c->e2e : NULL;
    t.account = c->account[0] ? c->account : NULL;
    if (c->sink->txn(c->sink->ctx, &t) != 0)
        return stmt_fail(c->err, t.line, "stopped");
    return 0;
}

/* Sends the current element's text to dst.  mode: 0 replace, 1 keep the
 * first value only, 2 append with a space. */
static void capture(struct camt *c, char *dst, size_t cap, int mode)
{
    if (mode == 1 && dst[0] != '\0')
        return;
    if (mode == 2 && dst[0] != '\0')
        stmt_append(dst, cap, " ", 1);
    else
        dst[0] = '\0';
    c->field = dst;
    c->field_cap = cap;
    c->field_depth = c->depth;
}

static void element_started(struct camt *c)
{
    const char *p = c->path;
    if (strcmp(p, STMT_PATH) == 0) {
        c->account[0] = c->acct_ccy[0] = '\0';
    } else if (strcmp(p, STMT_PATH "/Acct/Id/IBAN") == 0 || strcmp(p, STMT_PATH "/Acct/Id/Othr/Id") == 0) {
        capture(c, c->account, sizeof c->account, 0);
    } else if (strcmp(p, STMT_PATH "/Acct/Ccy") == 0) {
        capture(c, c->acct_ccy, sizeof c->acct_ccy, 0);
    } else if (strcmp(p, NTRY_PATH) == 0) {
        start_entry(c);
    } else if (!c->in_entry || strncmp(p, NTRY_PATH "/", sizeof NTRY_PATH) != 0) {
        return;
    } else if (strcmp(p, NTRY_PATH "/Amt") == 0) {
        capture(c, c->amt, sizeof c->amt, 0);
        xmlChar *ccy = xmlTextReaderGetAttribute(c->reader, BAD_CAST "Ccy");
        snprintf(c->ccy, sizeof c->ccy, "%s", ccy != NULL ? (const char *)ccy : "");
        xmlFree(ccy);
    } else if (strcmp(p, NTRY_PATH "/Sts") == 0 || strcmp(p, NTRY_PATH "/Sts/Cd") == 0) {
        capture(c, c->sts, sizeof c->sts, 0);
    } else if (strcmp(p, NTRY_PATH "/CdtDbtInd") == 0) {
        capture(c, c->cdi, sizeof c->cdi, 0);
    } else if (strcmp(p, NTRY_PATH "/RvslInd") == 0) {
        capture(c, c->rvsl, sizeof c->rvsl, 0);
    } else if (strcmp(p, NTRY_PATH "/BookgDt/Dt") == 0 || strcmp(p, NTRY_PATH "/BookgDt/DtTm") == 0) {
        capture(c, c->bookg, sizeof c->bookg, 0);
    } else if (strcmp(p, NTRY_PATH "/ValDt/Dt") == 0 || strcmp(p, NTRY_PATH "/ValDt/DtTm") == 0) {
        capture(c, c->val, sizeof c->val, 0);
    } else if (strcmp(p, NTRY_PATH "/AcctSvcrRef") == 0) {
        capture(c, c->acct_svcr_ref, sizeof c->acct_svcr_ref, 0);
    } else if (strcmp(p, NTRY_PATH "/NtryRef") == 0) {
        capture(c, c->ntry_ref, sizeof c->ntry_ref, 0);
    } else if (strcmp(p, NTRY_PATH "/AddtlNtryInf") == 0) {
        capture(c, c->addtl, sizeof c->addtl, 2);
    } else if (strcmp(p, TXDTLS_PATH "/Refs/EndToEndId") == 0) {
        if (c->e2e[0] == '\0' || strcasecmp(c->e2e, "NOTPROVIDED") == 0)
            capture(c, c->e2e, sizeof c->e2e, 0);
    } else if (strcmp(p, TXDTLS_PATH "/RltdPties/Cdtr/Nm") == 0 ||
               strcmp(p, TXDTLS_PATH "/RltdPties/Cdtr/Pty/Nm") == 0) {
        capture(c, c->cdtr, sizeof c->cdtr, 1);
    } else if (strcmp(p, TXDTLS_PATH "/RltdPties/Dbtr/Nm") == 0 ||
               strcmp(p, TXDTLS_PATH "/RltdPties/Dbtr/Pty/Nm") == 0) {
        capture(c, c->dbtr, sizeof c->dbtr, 1);
    } else if (strcmp(p, TXDTLS_PATH "/RltdPties/CdtrAcct/Id/IBAN") == 0 ||
               strcmp(p, TXDTLS_PATH "/RltdPties/CdtrAcct/Id/Othr/Id") == 0) {
        capture(c, c->cdtr_acct, sizeof c->cdtr_acct, 1);
    } else if (strcmp(p, TXDTLS_PATH "/RltdPties/DbtrAcct/Id/IBAN") == 0 ||
               strcmp(p, TXDTLS_PATH "/RltdPties/DbtrAcct/Id/Othr/Id") == 0) {
        capture(c, c->dbtr_acct, sizeof c->dbtr_acct, 1);
    } else if (strcmp(p, TXDTLS_PATH "/RmtInf/Ustrd") == 0) {
        capture(c, c->rmt, sizeof c->rmt, 2);
    }
}

/* Pops the current element. */
static int element_ended(struct camt *c)
{
    if (c->field != NULL && c->field_depth == c->depth)
        c->field = NULL;
    int rc = 0;
    if (c->in_entry && strcmp(c->path, NTRY_PATH) == 0)
        rc = end_entry(c);
    c->depth--;
    if (c->depth >= 0 && c->depth < CAMT_MAX_DEPTH)
        c->path[c->lens[c->depth]] = '\0';
    return rc;
}

static int element_start(struct camt *c)
{
    const xmlChar *local = xmlTextReaderConstLocalName(c->reader);
    const xmlChar *ns = xmlTextReaderConstNamespaceUri(c->reader);
    long line = node_line(c);
    size_t nl = strlen(CAMT_NS_PREFIX);
    bool ours = ns != NULL && strncmp((const char *)ns, CAMT_NS_PREFIX, nl) == 0 &&
                (ns[nl] == '2' || ns[nl] == '3' || ns[nl] == '4');
    if (!c->seen_root) {
        c->seen_root = true;
        if (local == NULL || strcmp((const char *)local, "Document") != 0 || !ours)
            return stmt_fail(c->err, line, "not a CAMT document (root is not a camt.052/053/054 Document)");
        c->depth = 0;
        c->path[0] = '\0';
        return 0;   /* Document is the root of the path: "" */
    }
    if (c->depth + 1 >= CAMT_MAX_DEPTH)
        return stmt_fail(c->err, line, "elements nested too deeply");
    c->lens[c->depth] = strlen(c->path);
    const char *name = ours && local != NULL && strlen((const char *)local) <= CAMT_NAME_MAX - 1
                           ? (const char *)local : "#";
    /* camt.052 and camt.054: their report / notification is read as a statement */
    if (c->depth == 0 && (strcmp(name, "BkToCstmrAcctRpt") == 0 || strcmp(name, "BkToCstmrDbtCdtNtfctn") == 0))
        name = "BkToCstmrStmt";
    else if (c->depth == 1 && (strcmp(name, "Rpt") == 0 || strcmp(name, "Ntfctn") == 0))
        name = "Stmt";
    size_t len = c->lens[c->depth];
    snprintf(c->path + len, sizeof c->path - len, "%s%s", len ? "/" : "", name);
    c->depth++;
    element_started(c);
    return 0;
}

static int process(struct camt *c)
{
    int type = xmlTextReaderNodeType(c->reader);
    switch (type) {
    case XML_READER_TYPE_DOCUMENT_TYPE:
        return stmt_fail(c->err, node_line(c), DOCTYPE_REFUSED);
    case XML_READER_TYPE_ENTITY_REFERENCE:
    case XML_READER_TYPE_ENTITY:
        return stmt_fail(c->err, node_line(c), "entity references are not allowed");
    case XML_READER_TYPE_ELEMENT: {
        bool empty = xmlTextReaderIsEmptyElement(c->reader) == 1;
        bool root = !c->seen_root;
        if (element_start(c) != 0)
            return -1;
        if (empty && !root)
            return element_ended(c);
        return 0;
    }
    case XML_READER_TYPE_END_ELEMENT:
        if (c->depth == 0)
            return 0;   /* </Document> */
        return element_ended(c);
    case XML_READER_TYPE_TEXT:
    case XML_READER_TYPE_CDATA:
    case XML_READER_TYPE_SIGNIFICANT_WHITESPACE:
    case XML_READER_TYPE_WHITESPACE:
        if (c->field != NULL && c->field_depth == c->depth) {
            const xmlChar *v = xmlTextReaderConstValue(c->reader);
            if (v != NULL)
                stmt_append(c->field, c->field_cap, (const char *)v, strlen((const char *)v));
        }
        return 0;
    default:
        return 0;
    }
}

static int xml_failure(struct camt *c)
{
    long line = c->xml_failed && c->xml_line > 0 ? c->xml_line : xmlTextReaderGetParserLineNumber(c->reader);
    if (c->doctype_line > 0)
        return stmt_fail(c->err, c->doctype_line, DOCTYPE_REFUSED);
    if (!c->nonblank)
        return stmt_fail(c->err, 0, "the file is empty");
    if (!c->xml_failed)
        return stmt_fail(c->err, line, "malformed XML");
    if (c->xml_code == XML_ERR_DOCUMENT_EMPTY)
        return stmt_fail(c->err, line, "not an XML document");
    if (c->xml_code == XML_ERR_DOCUMENT_END || c->xml_code == XML_ERR_TAG_NOT_FINISHED ||
        c->xml_code == XML_ERR_LTSLASH_REQUIRED || c->xml_code == XML_ERR_GT_REQUIRED)
        return stmt_fail(c->err, line, "the XML ends early (truncated?)");
    char msg[128];
    snprintf(msg, sizeof msg, "malformed XML (libxml2 error %d)", c->xml_code);
    return stmt_fail(c->err, line, msg);
}

int stmt_parse_camt053(FILE *in, const struct stmt_sink *sink, struct stmt_error *err)
{
    int rc = -1;
    struct camt *c = calloc(1, sizeof *c);
    if (c == NULL) {
        err->line = 0;
        snprintf(err->message, sizeof err->message, "out of memory");
        return -1;
    }
    c->sink = sink;
    c->err = err;
    c->in = in;
    c->in_line = 1;
    xmlInitParser();
    c->reader = xmlReaderForIO(read_cb, NULL, c, NULL, "UTF-8",
                               XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                   XML_PARSE_IGNORE_ENC | XML_PARSE_BIG_LINES | XML_PARSE_NOCDATA);
    if (c->reader == NULL) {
        stmt_fail(c->err, 0, "cannot start the XML reader");
        goto out;
    }
    xmlTextReaderSetStructuredErrorHandler(c->reader, on_xml_error, c);
    for (;;) {
        int r = xmlTextReaderRead(c->reader);
        if (r < 0 || c->xml_failed) {
            xml_failure(c);
            goto out;
        }
        if (r == 0)
            break;
        if (process(c) != 0)
            goto out;
    }
    if (c->doctype_line > 0) {
        stmt_fail(c->err, c->doctype_line, DOCTYPE_REFUSED);
        goto out;
    }
    if (!c->seen_root) {
        stmt_fail(c->err, 0, c->nonblank ? "no XML document in the file" : "the file is empty");
        goto out;
    }
    rc = 0;
out:
    if (c->reader != NULL)
        xmlFreeTextReader(c->reader);
    free(c);
    return rc;
}
