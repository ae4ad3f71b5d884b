/* check_formats.c: format detection and the OFX/QFX, QIF, CAMT.053 and
 * MT940 parsers, against the fixtures in tests/fixtures/formats and small
 * inline statements. */
#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stmt.h"
#include "stmt_util.h"

#ifndef FORMAT_FIXTURES
#error "FORMAT_FIXTURES must name the fixture directory"
#endif

typedef int (*parser_fn)(FILE *, const struct stmt_sink *, struct stmt_error *);

/* ---- a sink that keeps copies of everything ---- */

struct got_txn {
    char date[11];
    long long amount;
    char currency[4];
    int exponent;
    char *description, *counterparty, *bank_id, *account;
    long line;
};

#define MAX_WARNINGS 32

struct collector {
    struct got_txn *t;
    size_t n, cap;
    size_t stop_after;              /* 0 = never stop */
    size_t warnings;
    long warning_line[MAX_WARNINGS];
    char warning[MAX_WARNINGS][256];
};

static char *dup_or_null(const char *s)
{
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    ck_assert_ptr_nonnull(d);
    return d;
}

static int collect_txn(void *ctx, const struct stmt_txn *t)
{
    struct collector *c = ctx;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        struct got_txn *grown = realloc(c->t, cap * sizeof *grown);
        ck_assert_ptr_nonnull(grown);
        c->t = grown;
        c->cap = cap;
    }
    struct got_txn *g = &c->t[c->n++];
    ck_assert_ptr_nonnull(t->description);
    memcpy(g->date, t->date, sizeof g->date);
    memcpy(g->currency, t->currency, sizeof g->currency);
    g->amount = t->amount_minor;
    g->exponent = t->exponent;
    g->description = dup_or_null(t->description);
    g->counterparty = dup_or_null(t->counterparty);
    g->bank_id = dup_or_null(t->bank_id);
    g->account = dup_or_null(t->account);
    g->line = t->line;
    return c->stop_after != 0 && c->n >= c->stop_after;
}

static void collect_warning(void *ctx, long line, const char *message)
{
    struct collector *c = ctx;
    if (c->warnings < MAX_WARNINGS) {
        c->warning_line[c->warnings] = line;
        snprintf(c->warning[c->warnings], sizeof c->warning[0], "%s", message);
    }
    c->warnings++;
}

static void collector_free(struct collector *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->t[i].description);
        free(c->t[i].counterparty);
        free(c->t[i].bank_id);
        free(c->t[i].account);
    }
    free(c->t);
    memset(c, 0, sizeof *c);
}

static int parse_file(const char *name, parser_fn parse, struct collector *c, struct stmt_error *err)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", FORMAT_FIXTURES, name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    struct stmt_sink sink = { collect_txn, collect_warning, c };
    memset(err, 0, sizeof *err);
    int rc = parse(f, &sink, err);
    fclose(f);
    return rc;
}

static int parse_text(const char *text, parser_fn parse, struct collector *c, struct stmt_error *err)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    ck_assert_ptr_nonnull(f);
    struct stmt_sink sink = { collect_txn, collect_warning, c };
    memset(err, 0, sizeof *err);
    int rc = parse(f, &sink, err);
    fclose(f);
    return rc;
}

static const char *str_or(const char *s)
{
    return s != NULL ? s : "(null)";
}

/* ---- detection ---- */

static const struct {
    const char *file;
    enum stmt_format format;
} detect_files[] = {
    { "ofx1_bank.ofx", STMT_FORMAT_OFX },
    { "ofx2_creditcard.ofx", STMT_FORMAT_OFX },
    { "qfx_bank.qfx", STMT_FORMAT_OFX },
    { "qif_bank_us.qif", STMT_FORMAT_QIF },
    { "qif_bank_dm.qif", STMT_FORMAT_QIF },
    { "camt053_v02.xml", STMT_FORMAT_CAMT053 },
    { "camt053_v08.xml", STMT_FORMAT_CAMT053 },
    { "mt940_two_statements.sta", STMT_FORMAT_MT940 },
    { "broken_ofx_truncated.ofx", STMT_FORMAT_OFX },
    { "broken_camt053_truncated.xml", STMT_FORMAT_CAMT053 },
    { "broken_camt053_xxe.xml", STMT_FORMAT_CAMT053 },
    { "broken_qif_investment.qif", STMT_FORMAT_QIF },
    { "broken_empty.txt", STMT_FORMAT_UNKNOWN },
    { "broken_binary.bin", STMT_FORMAT_UNKNOWN },
};

START_TEST(every_fixture_is_recognised_from_its_content)
{
    char path[512], head[4096];
    snprintf(path, sizeof path, "%s/%s", FORMAT_FIXTURES, detect_files[_i].file);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    ck_assert_msg(stmt_detect(head, n) == detect_files[_i].format, "%s detected as %s", detect_files[_i].file,
                  stmt_format_name(stmt_detect(head, n)));
}
END_TEST

static const struct {
    const char *what;
    const char *text;
    enum stmt_format format;
} detect_snippets[] = {
    { "comma CSV", "Date,Description,Amount\n2024-01-15,Coffee,-3.50\n2024-01-16,\"Rent, flat\",-900.00\n",
      STMT_FORMAT_CSV },
    { "semicolon CSV after a bank's preamble",
      "\"Konto:\";\"DE89370400440532013000\"\n\n\"Buchungstag\";\"Valuta\";\"Text\";\"Betrag\"\n"
      "\"15.01.2024\";\"15.01.2024\";\"Miete\";\"-900,00\"\n\"16.01.2024\";\"16.01.2024\";\"Gehalt\";\"2500,00\"\n",
      STMT_FORMAT_CSV },
    { "tab separated", "date\tamount\n2024-01-15\t-3.50\n", STMT_FORMAT_CSV },
    { "a header row alone", "Date;Amount;Description", STMT_FORMAT_CSV },
    { "prose", "Dear customer,\nthank you for banking with us. Your statement\nis attached to this mail.\n",
      STMT_FORMAT_UNKNOWN },
    { "OFX 1.x without OFXHEADER", "DATA:OFXSGML\nVERSION:102\n\n<OFX>\n<SIGNONMSGSRSV1>\n", STMT_FORMAT_OFX },
    { "OFX 2.x without the OFX processing instruction", "<?xml version=\"1.0\"?>\n<OFX>\n<SIGNONMSGSRSV1>",
      STMT_FORMAT_OFX },
    { "SGML <OFX> first", "<OFX>\n<BANKMSGSRSV1>\n", STMT_FORMAT_OFX },
    { "camt.053 with a prefix", "<?xml version=\"1.0\"?><!-- c --><c:Document xmlns:c=\"urn:iso:std:iso:20022:tech:xsd:"
      "camt.053.001.04\"><c:BkToCstmrStmt>", STMT_FORMAT_CAMT053 },
    { "camt.052 is read by the camt reader", "<?xml version=\"1.0\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:"
      "camt.052.001.02\"><BkToCstmrAcctRpt>", STMT_FORMAT_CAMT053 },
    { "camt.054 is read by the camt reader", "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.054.001.08\">",
      STMT_FORMAT_CAMT053 },
    { "camt.056 is not a statement", "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.056.001.01\">",
      STMT_FORMAT_UNKNOWN },
    { "other XML", "<?xml version=\"1.0\"?>\n<html><body>", STMT_FORMAT_UNKNOWN },
    { "QIF account header", "\n!Account\nNChecking\nTBank\n^\n!Type:Bank\n", STMT_FORMAT_QIF },
    { "QIF lower case", "!type:ccard\nD1/1/24\n", STMT_FORMAT_QIF },
    { "MT940 without SWIFT blocks", ":20:REF\r\n:25:123/456\r\n:28C:1\r\n:60F:C240101EUR1,00\r\n",
      STMT_FORMAT_MT940 },
    { "MT940 behind bank header lines", "ABNANL2A\n940\nABNANL2A\n:20:ABN AMRO BANK NV\n:25:417164300\n",
      STMT_FORMAT_MT940 },
    { "MT940 in SWIFT blocks", "{1:F01BANKDEFFAXXX0000000000}{2:O940}{4:\n:20:X\n:25:Y\n", STMT_FORMAT_MT940 },
    { "control characters", "a\x01\x02\x03\x04;b\x05\x06\x07\x08;c\n", STMT_FORMAT_UNKNOWN },
    { "whitespace only", " \n\t\r\n", STMT_FORMAT_UNKNOWN },
};

START_TEST(content_is_classified_the_way_a_person_would)
{
    const char *t = detect_snippets[_i].text;
    enum stmt_format got = stmt_detect(t, strlen(t));
    ck_assert_msg(got == detect_snippets[_i].format, "%s: detected as %s", detect_snippets[_i].what,
                  stmt_format_name(got));
}
END_TEST

START_TEST(format_names_are_the_ones_the_database_accepts)
{
    ck_assert_str_eq(stmt_format_name(STMT_FORMAT_CSV), "csv");
    ck_assert_str_eq(stmt_format_name(STMT_FORMAT_OFX), "ofx");
    ck_assert_str_eq(stmt_format_name(STMT_FORMAT_QIF), "qif");
    ck_assert_str_eq(stmt_format_name(STMT_FORMAT_CAMT053), "camt053");
    ck_assert_str_eq(stmt_format_name(STMT_FORMAT_MT940), "mt940");
    ck_assert_str_eq(stmt_format_name(STMT_FORMAT_UNKNOWN), "unknown");
    ck_assert_str_eq(stmt_format_name((enum stmt_format)99), "unknown");
    ck_assert_int_eq(stmt_detect(NULL, 0), STMT_FORMAT_UNKNOWN);
}
END_TEST

/* ---- good fixtures: every transaction exactly ---- */

struct want {
    const char *date;
    long long amount;
    const char *currency;
    const char *description;
    const char *bank_id;
    const char *account;
    const char *counterparty;
    long line;
};

static const struct want ofx1_bank[] = {
    { "2024-01-15", -1234, "USD", "COFFEE SHOP #12 POS PURCHASE", "2024011501", "1234567890", "COFFEE SHOP #12", 43 },
    { "2024-01-16", 250000, "USD", "ACME CORP PAYROLL", "2024011602", "1234567890", "ACME CORP PAYROLL", 51 },
    { "2024-01-18", -15000, "USD", "Check 1042", "2024011803", "1234567890", NULL, 59 },
    { "2024-01-20", -4560, "USD", "AT&T WIRELESS", "2024012004", "1234567890", "AT&T WIRELESS", 66 },
    { "2024-01-31", -20000, "USD", "TRANSFER TO SAVINGS", "2024013105", "1234567890", "TRANSFER TO SAVINGS", 74 },
};

static const struct want ofx2_creditcard[] = {
    { "2024-01-03", -8990, "EUR", "Müller Buchhandlung Card purchase", "CC-0001", "4111XXXXXXXX1111",
      "Müller Buchhandlung", 29 },
    { "2024-01-10", 1500, "EUR", "Online Shop Refund \xE2\x82\xAC order 77", "CC-0002", "4111XXXXXXXX1111",
      "Online Shop", 44 },
    { "2024-01-15", -123450, "EUR", "Hotel Example NYC", "CC-0003", "4111XXXXXXXX1111", "Hotel Example NYC", 52 },
    { "2024-01-31", -2500, "EUR", "Annual fee", "CC-0004", "4111XXXXXXXX1111", NULL, 63 },
};

static const struct want qfx_bank[] = {
    { "2024-02-03", -6412, "CAD", "GROCERY MART 0042 INTERAC PURCHASE", "QFX2024020301", "00123-4567890",
      "GROCERY MART 0042", 45 },
    { "2024-02-15", 315000, "CAD", "PROVINCE OF EXAMPLE PAYROLL DEP", "QFX2024021502", "00123-4567890",
      "PROVINCE OF EXAMPLE", 53 },
    { "2024-02-29", -99, "CAD", "MONTHLY FEE", "QFX2024022903", "00123-4567890", "MONTHLY FEE", 61 },
};

static const struct want qif_bank_us[] = {
    { "2024-01-15", -123456, "", "Landlord LLC Rent January", NULL, NULL, "Landlord LLC", 2 },
    { "2024-01-05", 250000, "", "ACME Payroll", NULL, NULL, "ACME Payroll", 10 },
    { "2023-12-31", -1500, "", "Coffee Bar", NULL, NULL, "Coffee Bar", 16 },
    { "2024-02-29", -4210, "", "Grocery run", NULL, NULL, NULL, 21 },
    { "2024-02-03", -7500, "", "Check 1002", NULL, NULL, NULL, 29 },
};

static const struct want qif_bank_dm[] = {
    { "2024-01-03", -2000, "", "Bäckerei Sonnenschein", NULL, "Giro Konto", "Bäckerei Sonnenschein", 6 },
    { "2024-01-15", -123450, "", "Autohaus Schmidt Inspektion", NULL, "Giro Konto", "Autohaus Schmidt", 10 },
    { "2024-01-31", 300000, "", "Arbeitgeber GmbH Gehalt Januar", NULL, "Giro Konto", "Arbeitgeber GmbH", 15 },
    { "2024-02-07", -999, "", "Streaming Dienst", NULL, "Giro Konto", "Streaming Dienst", 20 },
};

static const struct want camt053_v02[] = {
    { "2024-01-15", -12345, "EUR", "Stadtwerke Musterstadt Strom Abschlag Januar Kundennr 4711", "2024011500001",
      "DE89370400440532013000", "Stadtwerke Musterstadt", 31 },
    { "2024-01-31", 250000, "EUR", "Arbeitgeber AG Gehalt 01/2024", "NREF-0002", "DE89370400440532013000",
      "Arbeitgeber AG", 75 },
    { "2024-01-20", -999, "EUR", "Kartenzahlung Tankstelle", "E2E-0777", "DE89370400440532013000", NULL, 102 },
    { "2024-01-31", 50, "EUR", "Zinsgutschrift & Co", NULL, "DE89370400440532013000", "Zinsgutschrift & Co", 118 },
};

static const struct want camt053_v08[] = {
    { "2024-03-01", -150000, "CHF", "Immobilien Zürich AG Miete März", "CH-REF-1", "CH9300762011623852957",
      "Immobilien Zürich AG", 16 },
    { "2024-03-05", 7525, "CHF", "Hans Muster Rückzahlung <Auslagen>", "CH-REF-2", "CH9300762011623852957",
      "Hans Muster", 47 },
    { "2024-03-10", -3000, "JPY", "Tokyo Example KK Invoice 55", "JP-REF-1", "0532013000", "Tokyo Example KK", 91 },
};

static const struct want mt940_two[] = {
    { "2024-01-15", -12345, "EUR", "Elektro Meier GmbH & Co. KG Rechnung 4711 vom 01.01.2024", "BANKREF0001",
      "37040044/0532013000", "Elektro Meier GmbH & Co. KG", 6 },
    { "2024-01-16", 250000, "EUR", "ARBEITGEBER AG Gehalt Januar Personalnr. 12", "BANKREF0002",
      "37040044/0532013000", "ARBEITGEBER AG", 9 },
    { "2024-01-17", -999, "EUR", "Lastschrift Streaming Dienst Abo Januar", "BANKREF0003", "37040044/0532013000",
      NULL, 11 },
    { "2024-01-02", 10000, "EUR", "Year end interest", "B-YE-1", "NL91ABNA0417164300", NULL, 20 },
    { "2023-12-31", -2000, "EUR", "Account fee December", "B-YE-2", "NL91ABNA0417164300", NULL, 22 },
    { "2024-01-03", 5000, "EUR", "Reversal of direct debit", "B-REV-1", "NL91ABNA0417164300", NULL, 24 },
    { "2024-01-04", 50, "EUR", "Interest", NULL, "NL91ABNA0417164300", NULL, 26 },
};

#define CASE(file, parser, table, warnings) { file, parser, table, sizeof table / sizeof table[0], warnings }

static const struct {
    const char *file;
    parser_fn parse;
    const struct want *want;
    size_t count;
    size_t warnings;
} good[] = {
    CASE("ofx1_bank.ofx", stmt_parse_ofx, ofx1_bank, 0),
    CASE("ofx2_creditcard.ofx", stmt_parse_ofx, ofx2_creditcard, 0),
    CASE("qfx_bank.qfx", stmt_parse_ofx, qfx_bank, 0),
    CASE("qif_bank_us.qif", stmt_parse_qif, qif_bank_us, 0),
    CASE("qif_bank_dm.qif", stmt_parse_qif, qif_bank_dm, 0),
    CASE("camt053_v02.xml", stmt_parse_camt053, camt053_v02, 0),
    CASE("camt053_v08.xml", stmt_parse_camt053, camt053_v08, 1),   /* the reversal */
    CASE("mt940_two_statements.sta", stmt_parse_mt940, mt940_two, 0),
};

START_TEST(a_good_statement_yields_exactly_its_transactions)
{
    struct collector c = { 0 };
    struct stmt_error err;
    int rc = parse_file(good[_i].file, good[_i].parse, &c, &err);
    ck_assert_msg(rc == 0, "%s: line %ld: %s", good[_i].file, err.line, err.message);
    ck_assert_msg(c.n == good[_i].count, "%s: %zu transactions, want %zu", good[_i].file, c.n, good[_i].count);
    ck_assert_msg(c.warnings == good[_i].warnings, "%s: %zu warnings (first: line %ld %s)", good[_i].file,
                  c.warnings, c.warnings ? c.warning_line[0] : 0L, c.warnings ? c.warning[0] : "");
    for (size_t k = 0; k < c.n; k++) {
        const struct want *w = &good[_i].want[k];
        const struct got_txn *g = &c.t[k];
        ck_assert_msg(strcmp(g->date, w->date) == 0, "%s #%zu date %s", good[_i].file, k, g->date);
        ck_assert_msg(g->amount == w->amount, "%s #%zu amount %lld", good[_i].file, k, g->amount);
        ck_assert_msg(strcmp(g->currency, w->currency) == 0, "%s #%zu currency %s", good[_i].file, k, g->currency);
        ck_assert_msg(strcmp(g->description, w->description) == 0, "%s #%zu description [%s]", good[_i].file, k,
                      g->description);
        ck_assert_msg((g->bank_id == NULL) == (w->bank_id == NULL) &&
                          (g->bank_id == NULL || strcmp(g->bank_id, w->bank_id) == 0),
                      "%s #%zu bank_id %s", good[_i].file, k, str_or(g->bank_id));
        ck_assert_msg((g->account == NULL) == (w->account == NULL) &&
                          (g->account == NULL || strcmp(g->account, w->account) == 0),
                      "%s #%zu account %s", good[_i].file, k, str_or(g->account));
        ck_assert_msg((g->counterparty == NULL) == (w->counterparty == NULL) &&
                          (g->counterparty == NULL || strcmp(g->counterparty, w->counterparty) == 0),
                      "%s #%zu counterparty %s", good[_i].file, k, str_or(g->counterparty));
        ck_assert_msg(g->line == w->line, "%s #%zu line %ld, want %ld", good[_i].file, k, g->line, w->line);
        int exponent = strcmp(g->currency, "JPY") == 0 ? 0 : 2;
        ck_assert_msg(g->exponent == exponent, "%s #%zu exponent %d", good[_i].file, k, g->exponent);
    }
    collector_free(&c);
}
END_TEST

/* ---- broken files ---- */

static const struct {
    const char *file;
    parser_fn parse;
    long line;
    const char *message;            /* a substring of the error */
    size_t before;                  /* transactions already handed over */
} broken[] = {
    { "broken_ofx_truncated.ofx", stmt_parse_ofx, 69, "truncated", 3 },
    { "broken_camt053_truncated.xml", stmt_parse_camt053, 62, "truncated", 0 },
    { "broken_camt053_xxe.xml", stmt_parse_camt053, 2, "DTD", 0 },
    { "broken_qif_investment.qif", stmt_parse_qif, 1, "unsupported QIF type", 0 },
    { "broken_empty.txt", stmt_parse_ofx, 0, "not an OFX file", 0 },
    { "broken_empty.txt", stmt_parse_qif, 0, "empty", 0 },
    { "broken_empty.txt", stmt_parse_camt053, 0, "empty", 0 },
    { "broken_empty.txt", stmt_parse_mt940, 0, "empty", 0 },
    { "broken_binary.bin", stmt_parse_ofx, -1, "", 0 },
    { "broken_binary.bin", stmt_parse_qif, 1, "not a QIF file", 0 },
    { "broken_binary.bin", stmt_parse_camt053, 1, "", 0 },
    { "broken_binary.bin", stmt_parse_mt940, 0, "no MT940 statement", 0 },
    { "ofx1_bank.ofx", stmt_parse_camt053, 1, "", 0 },
    { "camt053_v02.xml", stmt_parse_ofx, -1, "not an OFX file", 0 },
};

START_TEST(a_broken_file_is_refused_with_a_line_number)
{
    struct collector c = { 0 };
    struct stmt_error err;
    int rc = parse_file(broken[_i].file, broken[_i].parse, &c, &err);
    ck_assert_msg(rc == -1, "%s (#%d) was accepted", broken[_i].file, _i);
    ck_assert_msg(err.message[0] != '\0', "%s (#%d): no message", broken[_i].file, _i);
    ck_assert_msg(strstr(err.message, broken[_i].message) != NULL, "%s (#%d): message [%s]", broken[_i].file, _i,
                  err.message);
    if (broken[_i].line >= 0)
        ck_assert_msg(err.line == broken[_i].line, "%s (#%d): line %ld, want %ld", broken[_i].file, _i, err.line,
                      broken[_i].line);
    ck_assert_msg(c.n == broken[_i].before, "%s (#%d): %zu transactions", broken[_i].file, _i, c.n);
    collector_free(&c);
}
END_TEST

START_TEST(an_external_entity_is_never_read)
{
    /* Even if it were expanded, nothing from /etc/passwd may show. */
    struct collector c = { 0 };
    struct stmt_error err;
    ck_assert_int_eq(parse_file("broken_camt053_xxe.xml", stmt_parse_camt053, &c, &err), -1);
    ck_assert_ptr_null(strstr(err.message, "root"));
    for (size_t i = 0; i < c.n; i++)
        ck_assert_ptr_null(strstr(c.t[i].description, "root:"));
    collector_free(&c);

    /* An internal entity (a billion-laughs seed) is refused the same way. */
    const char *laughs = "<?xml version=\"1.0\"?>\n<!DOCTYPE Document [<!ENTITY a \"aaaaaaaaaa\">"
                         "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>\n"
                         "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\"><BkToCstmrStmt><Stmt>"
                         "<Ntry><Amt Ccy=\"EUR\">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2024-01-01</Dt>"
                         "</BookgDt><AddtlNtryInf>&b;</AddtlNtryInf></Ntry></Stmt></BkToCstmrStmt></Document>\n";
    ck_assert_int_eq(parse_text(laughs, stmt_parse_camt053, &c, &err), -1);
    ck_assert_int_eq(c.n, 0);
    ck_assert_ptr_nonnull(strstr(err.message, "DTD"));
    collector_free(&c);
}
END_TEST

/* ---- rows with problems: warnings, never quoting contents ---- */

static const struct {
    const char *what;
    parser_fn parse;
    const char *text;
    size_t count;
    size_t warnings;
    long warning_line;
} bad_rows[] = {
    { "OFX amount", stmt_parse_ofx,
      "<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>USD\n<BANKTRANLIST>\n"
      "<STMTTRN><DTPOSTED>20240101<TRNAMT>SECRET123<FITID>1<NAME>A</STMTTRN>\n"
      "<STMTTRN><DTPOSTED>20240102<TRNAMT>1.00<FITID>2<NAME>SECRET123</STMTTRN>\n"
      "</BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n",
      1, 1, 3 },
    { "OFX date", stmt_parse_ofx,
      "<OFX><CREDITCARDMSGSRSV1><CCSTMTTRNRS><CCSTMTRS><CURDEF>SECRET123\n<BANKTRANLIST>\n"
      "<STMTTRN><DTPOSTED>20240230SECRET123<TRNAMT>-1<FITID>1</STMTTRN>\n"
      "<STMTTRN><TRNAMT>-1<FITID>1</STMTTRN>\n"
      "<STMTTRN><DTPOSTED>20240229<TRNAMT>-1.5<FITID>3</STMTTRN>\n"
      "</BANKTRANLIST></CCSTMTRS></CCSTMTTRNRS></CREDITCARDMSGSRSV1></OFX>\n",
      1, 3, 1 },
    { "OFX stray '<' in a memo", stmt_parse_ofx,
      "<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>USD\n<BANKTRANLIST>\n"
      "<STMTTRN><DTPOSTED>20240101<TRNAMT>-1<FITID>1<NAME>A < B<MEMO>SECRET123</STMTTRN>\n"
      "<STMTTRN><DTPOSTED>2024<TRNAMT>1.00<FITID>2</STMTTRN>\n"
      "</BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n",
      1, 1, 4 },
    { "QIF amount and missing fields", stmt_parse_qif,
      "!Type:CCard\nD1/2/2024\nTSECRET123\n^\nD1/3/2024\nPSECRET123\n^\nTSECRET123\n^\nD1/4/2024\nT-1.00\n^\n"
      "DSECRET123\nT1\n^\n",
      1, 4, 2 },
    { "CAMT amount and indicator", stmt_parse_camt053,
      "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\"><BkToCstmrStmt><Stmt>\n"
      "<Ntry><Amt Ccy=\"EUR\">SECRET123</Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2024-01-01</Dt></BookgDt></Ntry>\n"
      "<Ntry><Amt Ccy=\"EUR\">1.00</Amt><CdtDbtInd>SECRET123</CdtDbtInd><BookgDt><Dt>2024-01-01</Dt></BookgDt></Ntry>\n"
      "<Ntry><Amt Ccy=\"EUR\">1.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><BookgDt><Dt>SECRET123</Dt></BookgDt></Ntry>\n"
      "<Ntry><Amt Ccy=\"EUR\">1.001</Amt><CdtDbtInd>DBIT</CdtDbtInd><BookgDt><Dt>2024-01-01</Dt></BookgDt></Ntry>\n"
      "<Ntry><Amt Ccy=\"EUR\">1.5</Amt><CdtDbtInd>DBIT</CdtDbtInd><BookgDt><Dt>2024-01-01</Dt></BookgDt></Ntry>\n"
      "</Stmt></BkToCstmrStmt></Document>\n",
      1, 4, 2 },
    { "MT940 statement lines", stmt_parse_mt940,
      ":20:X\n:25:SECRET123\n:60F:C240101EUR0,00\n:61:240101DSECRET123NTRF\n:86:SECRET123\n"
      ":61:SECRET123\n:61:240102C1,NTRFNONREF\n:86:ok\n:62F:C240102EUR1,00\n-\n",
      1, 2, 4 },
    { "MT940 without a closing balance", stmt_parse_mt940,
      ":20:X\n:25:A\n:60F:C240101EUR0,00\n:61:240102C1,NTRFNONREF\n", 1, 1, 4 },
};

START_TEST(a_bad_row_is_a_warning_and_the_rest_is_read)
{
    struct collector c = { 0 };
    struct stmt_error err;
    int rc = parse_text(bad_rows[_i].text, bad_rows[_i].parse, &c, &err);
    ck_assert_msg(rc == 0, "%s: line %ld: %s", bad_rows[_i].what, err.line, err.message);
    ck_assert_msg(c.n == bad_rows[_i].count, "%s: %zu transactions", bad_rows[_i].what, c.n);
    ck_assert_msg(c.warnings == bad_rows[_i].warnings, "%s: %zu warnings", bad_rows[_i].what, c.warnings);
    ck_assert_msg(c.warning_line[0] == bad_rows[_i].warning_line, "%s: first warning on line %ld",
                  bad_rows[_i].what, c.warning_line[0]);
    for (size_t k = 0; k < c.warnings && k < MAX_WARNINGS; k++)
        ck_assert_msg(strstr(c.warning[k], "SECRET") == NULL, "%s: a warning quotes the row: %s",
                      bad_rows[_i].what, c.warning[k]);
    collector_free(&c);
}
END_TEST

START_TEST(an_error_never_quotes_the_file)
{
    static const struct {
        parser_fn parse;
        const char *text;
    } cases[] = {
        { stmt_parse_ofx, "<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><BANKTRANLIST><STMTTRN><NAME>SECRET123" },
        { stmt_parse_ofx, "<OFX><SECRET123SECRET123SECRET123SECRET123SECRET123SECRET123SECRET123SECRET123>" },
        { stmt_parse_qif, "!Type:SECRET123\n" },
        { stmt_parse_qif, "SECRET123\n" },
        { stmt_parse_camt053, "<SECRET123 xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\"/>" },
        { stmt_parse_camt053, "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\"><SECRET123>" },
        { stmt_parse_camt053, "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\">&SECRET123;" },
        { stmt_parse_mt940, "SECRET123\n" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct collector c = { 0 };
        struct stmt_error err;
        ck_assert_int_eq(parse_text(cases[i].text, cases[i].parse, &c, &err), -1);
        ck_assert_msg(strstr(err.message, "SECRET") == NULL, "case %zu: %s", i, err.message);
        ck_assert_msg(err.message[0] != '\0', "case %zu: no message", i);
        collector_free(&c);
    }
}
END_TEST

/* ---- format specifics ---- */

static const struct {
    const char *what;
    const char *text;
    const char *dates[3];
} qif_orders[] = {
    { "month first by default", "!Type:Bank\nD01/02/2024\nT1\n^\nD03/04/24\nT1\n^\n", { "2024-01-02", "2024-03-04" } },
    { "a day above 12 anywhere settles day first",
      "!Type:Bank\nD01/02/2024\nT1\n^\nD03/04/2024\nT1\n^\nD25/04/2024\nT1\n^\n",
      { "2024-02-01", "2024-04-03", "2024-04-25" } },
    { "dotted dates are day first", "!Type:Cash\nD01.02.2024\nT1\n^\nD03.04.2024\nT1\n^\n",
      { "2024-02-01", "2024-04-03" } },
    { "apostrophe years are 20xx, slash years follow the 70 rule",
      "!Type:Bank\nD1/2'05\nT1\n^\nD1/2/99\nT1\n^\nD 1/ 2/2024\nT1\n^\n",
      { "2005-01-02", "1999-01-02", "2024-01-02" } },
    { "ISO dates are read as they are", "!Type:Bank\nD2024-12-01\nT1\n^\nD13/01/2024\nT1\n^\n",
      { "2024-12-01", "2024-01-13" } },
};

START_TEST(qif_dates_follow_the_order_of_the_whole_file)
{
    struct collector c = { 0 };
    struct stmt_error err;
    ck_assert_int_eq(parse_text(qif_orders[_i].text, stmt_parse_qif, &c, &err), 0);
    size_t want = 0;
    while (want < 3 && qif_orders[_i].dates[want] != NULL)
        want++;
    ck_assert_msg(c.n == want, "%s: %zu transactions", qif_orders[_i].what, c.n);
    for (size_t k = 0; k < c.n; k++)
        ck_assert_msg(strcmp(c.t[k].date, qif_orders[_i].dates[k]) == 0, "%s: #%zu is %s", qif_orders[_i].what, k,
                      c.t[k].date);
    collector_free(&c);
}
END_TEST

START_TEST(qif_skips_lists_and_reads_every_transaction_section)
{
    const char *text = "!Type:Cat\nNFood\nE\n^\nNSalary\nI\n^\n!Type:Bank\nD1/2/24\nT-1.00\nPShop\n^\n"
                       "!Type:CCard\nD1/3/24\nT-2.00\nPCafe\n";
    struct collector c = { 0 };
    struct stmt_error err;
    ck_assert_int_eq(parse_text(text, stmt_parse_qif, &c, &err), 0);
    ck_assert_int_eq(c.n, 2);
    ck_assert_int_eq(c.t[0].amount, -100);
    ck_assert_str_eq(c.t[1].description, "Cafe");
    ck_assert_int_eq(c.warnings, 2);   /* the list section; the last record without ^ */
    collector_free(&c);
}
END_TEST

START_TEST(ofx_amounts_follow_the_statement_currency)
{
    const char *text = "OFXHEADER:100\n\n<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>JPY\n"
                       "<BANKACCTFROM><ACCTID>X1</BANKACCTFROM><BANKTRANLIST>\n"
                       "<STMTTRN><DTPOSTED>20240101<TRNAMT>-1500<FITID>a</STMTTRN>\n"
                       "<STMTTRN><DTPOSTED>20240102<TRNAMT>-1500.00<FITID>b</STMTTRN>\n"
                       "<STMTTRN><DTPOSTED>20240103<TRNAMT>-1500.5<FITID>c</STMTTRN>\n"
                       "</BANKTRANLIST></STMTRS><STMTRS><CURDEF>kwd<BANKACCTFROM><ACCTID>X2</BANKACCTFROM>"
                       "<BANKTRANLIST><STMTTRN><DTPOSTED>20240104<TRNAMT>1.234<FITID>d</STMTTRN>\n"
                       "</BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>";
    struct collector c = { 0 };
    struct stmt_error err;
    ck_assert_int_eq(parse_text(text, stmt_parse_ofx, &c, &err), 0);
    ck_assert_int_eq(c.n, 3);
    ck_assert_int_eq(c.t[0].amount, -1500);
    ck_assert_int_eq(c.t[0].exponent, 0);
    ck_assert_int_eq(c.t[1].amount, -1500);
    ck_assert_int_eq(c.warnings, 1);   /* -1500.5 yen would need rounding */
    ck_assert_int_eq(c.t[2].amount, 1234);
    ck_assert_int_eq(c.t[2].exponent, 3);
    ck_assert_str_eq(c.t[2].currency, "KWD");
    ck_assert_str_eq(c.t[2].account, "X2");
    collector_free(&c);
}
END_TEST

START_TEST(ofx_structure_damage_is_an_error)
{
    static const struct {
        const char *text;
        const char *message;
        long line;
    } cases[] = {
        { "<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><BANKTRANLIST><STMTTRN><TRNAMT>1\n<STMTTRN>",
          "before the previous one is closed", 2 },
        { "<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><BANKTRANLIST><STMTTRN><TRNAMT>1\n</BANKTRANLIST>",
          "not closed", 2 },
        { "<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><BANKTRANLIST></BANKTRANLIST></STMTRS>", "before </OFX>", 1 },
        { "<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><BANKTRANLIST>\n\n", "transaction list", 1 },
        { "<OFX><SIGNONMSGSRSV1></SIGNONMSGSRSV1></OFX>", "no bank or credit card statement", 0 },
        { "<OFX><INVSTMTMSGSRSV1><INVSTMTTRNRS><INVSTMTRS></INVSTMTRS></INVSTMTTRNRS></INVSTMTMSGSRSV1></OFX>",
          "investment", 0 },
        { "<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><BANKTRANLIST><STMTTRN><NAME>x</STMTTRN></BANKTRANLIST></STMTRS>"
          "</STMTTRNRS></BANKMSGSRSV1></OFX><OFX><OFX><OFX><OFX><OFX><OFX><OFX><OFX><OFX><OFX><OFX><OFX><OFX><OFX>"
          "<OFX><OFX><OFX><OFX><OFX><OFX><OFX><OFX><OFX><OFX><OFX><OFX><OFX><OFX><OFX><OFX><OFX><OFX><OFX>",
          "nested too deeply", 1 },
        { "<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><BANKTRANLIST><STMTTRN><NAME>x<!-- cut", "truncated", 1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct collector c = { 0 };
        struct stmt_error err;
        ck_assert_int_eq(parse_text(cases[i].text, stmt_parse_ofx, &c, &err), -1);
        ck_assert_msg(strstr(err.message, cases[i].message) != NULL, "case %zu: %s", i, err.message);
        ck_assert_msg(err.line == cases[i].line, "case %zu: line %ld", i, err.line);
        collector_free(&c);
    }
}
END_TEST

START_TEST(camt_reads_only_camt053_documents)
{
    const char *text = "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.001.001.03\"><CstmrCdtTrfInitn/></Document>";
    struct collector c = { 0 };
    struct stmt_error err;
    ck_assert_int_eq(parse_text(text, stmt_parse_camt053, &c, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.message, "not a CAMT document"));
    ck_assert_int_eq(err.line, 1);
    collector_free(&c);
}
END_TEST

START_TEST(mt940_reads_structured_and_free_information)
{
    const char *text =
        ":20:A\n:25:ACC\n:60M:C240101USD0,\n"
        ":61:240105C12,NTRFREF//BID1\n:86:?20only keyword less?21pieces\n"
        ":61:240106D1,5NTRFREF\n:86:005?00DAUERAUFTRAG?20EREF+X?21MREF+Y\n"
        ":61:240107CR0,01NTRF\n:86:NONSTRUCTURED ?20 TEXT\n"
        ":62M:C240107USD0,00\n:20:B\n:25:ACC2\n:60F:D240101JPY100,\n:61:240102D100,NCHGX//Y\n:62F:C240102JPY0,\n";
    struct collector c = { 0 };
    struct stmt_error err;
    ck_assert_int_eq(parse_text(text, stmt_parse_mt940, &c, &err), 0);
    ck_assert_int_eq(c.n, 4);
    ck_assert_str_eq(c.t[0].description, "only keyword less pieces");
    ck_assert_int_eq(c.t[0].amount, 1200);
    ck_assert_str_eq(c.t[0].currency, "USD");
    ck_assert_str_eq(c.t[1].description, "DAUERAUFTRAG");   /* keyword parts only: the posting text */
    ck_assert_ptr_null(c.t[1].counterparty);
    ck_assert_int_eq(c.t[1].amount, -150);
    ck_assert_ptr_null(c.t[1].bank_id);
    ck_assert_str_eq(c.t[2].description, "NONSTRUCTURED ?20 TEXT");
    ck_assert_int_eq(c.t[2].amount, 1);
    ck_assert_str_eq(c.t[3].currency, "JPY");
    ck_assert_int_eq(c.t[3].amount, -100);
    ck_assert_str_eq(c.t[3].account, "ACC2");
    ck_assert_str_eq(c.t[3].bank_id, "Y");
    ck_assert_int_eq(c.warnings, 0);
    collector_free(&c);
}
END_TEST

static const struct {
    const char *file;
    parser_fn parse;
} stoppable[] = {
    { "ofx1_bank.ofx", stmt_parse_ofx },
    { "qif_bank_us.qif", stmt_parse_qif },
    { "camt053_v02.xml", stmt_parse_camt053 },
    { "mt940_two_statements.sta", stmt_parse_mt940 },
};

START_TEST(the_sink_can_stop_any_parser)
{
    struct collector c = { 0 };
    c.stop_after = 2;
    struct stmt_error err;
    ck_assert_int_eq(parse_file(stoppable[_i].file, stoppable[_i].parse, &c, &err), -1);
    ck_assert_str_eq(err.message, "stopped");
    ck_assert_int_eq(c.n, 2);
    ck_assert_int_eq(err.line, c.t[1].line);
    collector_free(&c);
}
END_TEST

/* ---- amounts at and beyond the bound ---- */

/* One debit of AMOUNT (digits, then ".00" or ",00"), then one credit of
 * 1.00, in each format. */
static char *statement_with_amount(int format, const char *digits)
{
    char *text = NULL;
    int n = -1;
    switch (format) {
    case 0:
        n = asprintf(&text, "OFXHEADER:100\n\n<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>EUR\n<BANKTRANLIST>\n"
                            "<STMTTRN>\n<DTPOSTED>20240101\n<TRNAMT>-%s.00\n<FITID>1\n<NAME>Big\n</STMTTRN>\n"
                            "<STMTTRN>\n<DTPOSTED>20240102\n<TRNAMT>1.00\n<FITID>2\n<NAME>Small\n</STMTTRN>\n"
                            "</BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n", digits);
        break;
    case 1:
        n = asprintf(&text, "!Type:Bank\nD1/1/2024\nT-%s.00\nPBig\n^\nD1/2/2024\nT1.00\nPSmall\n^\n", digits);
        break;
    case 2:
        n = asprintf(&text, "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\"><BkToCstmrStmt><Stmt>\n"
                            "<Ntry><Amt Ccy=\"EUR\">%s.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><BookgDt><Dt>2024-01-01</Dt>"
                            "</BookgDt></Ntry>\n"
                            "<Ntry><Amt Ccy=\"EUR\">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2024-01-02</Dt>"
                            "</BookgDt></Ntry>\n</Stmt></BkToCstmrStmt></Document>\n", digits);
        break;
    default:
        n = asprintf(&text, ":20:X\n:25:Y\n:60F:C240101EUR0,\n:61:240101D%s,00NTRFNONREF\n:86:Big\n"
                            ":61:240102C1,00NTRFNONREF\n:86:Small\n:62F:C240102EUR0,\n-\n", digits);
        break;
    }
    ck_assert_int_ge(n, 0);
    return text;
}

static const parser_fn amount_parsers[] = { stmt_parse_ofx, stmt_parse_qif, stmt_parse_camt053, stmt_parse_mt940 };

/* 10^11.00 is exactly STMT_AMOUNT_MAX minor units: read exactly. */
START_TEST(an_amount_at_the_bound_is_read_exactly_in_every_format)
{
    char *text = statement_with_amount(_i, "100000000000");
    struct collector c = { 0 };
    struct stmt_error err;
    ck_assert_msg(parse_text(text, amount_parsers[_i], &c, &err) == 0, "format %d: %s", _i, err.message);
    ck_assert_int_eq(c.n, 2);
    ck_assert_int_eq(c.warnings, 0);
    ck_assert_int_eq(c.t[0].amount, -STMT_AMOUNT_MAX);
    ck_assert_int_eq(c.t[1].amount, 100);
    collector_free(&c);
    free(text);
}
END_TEST

/* A 30-digit amount is still a number: the row reaches the sink with a
 * magnitude beyond STMT_AMOUNT_MAX (so the stage refuses it with its line),
 * saturated rather than overflowed, and is not skipped as unreadable. */
START_TEST(a_thirty_digit_amount_reaches_the_sink_beyond_the_bound_in_every_format)
{
    char *text = statement_with_amount(_i, "123456789012345678901234567890");
    struct collector c = { 0 };
    struct stmt_error err;
    ck_assert_msg(parse_text(text, amount_parsers[_i], &c, &err) == 0, "format %d: %s", _i, err.message);
    ck_assert_int_eq(c.n, 2);
    ck_assert_msg(c.warnings == 0, "format %d: warning %s", _i, c.warning[0]);
    ck_assert_int_eq(c.t[0].amount, -STMT_AMOUNT_SATURATED);
    ck_assert(c.t[0].amount < -STMT_AMOUNT_MAX);
    ck_assert_int_eq(c.t[1].amount, 100);
    collector_free(&c);
    free(text);
}
END_TEST

/* ---- large files stream ---- */

static FILE *generated(int format, int rows)
{
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    switch (format) {
    case 0:
        fputs("OFXHEADER:100\n\n<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>EUR\n<BANKTRANLIST>\n", f);
        for (int i = 0; i < rows; i++)
            fprintf(f, "<STMTTRN>\n<DTPOSTED>20240101\n<TRNAMT>-%d.%02d\n<FITID>%d\n<NAME>Shop %d\n</STMTTRN>\n",
                    i / 100, i % 100, i, i);
        fputs("</BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n", f);
        break;
    case 1:
        fputs("!Type:Bank\n", f);
        for (int i = 0; i < rows; i++)
            fprintf(f, "D1/1/2024\nT-%d.%02d\nPShop %d\n^\n", i / 100, i % 100, i);
        break;
    case 2:
        fputs("<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\"><BkToCstmrStmt><Stmt>\n", f);
        for (int i = 0; i < rows; i++)
            fprintf(f, "<Ntry><Amt Ccy=\"EUR\">%d.%02d</Amt><CdtDbtInd>DBIT</CdtDbtInd><BookgDt><Dt>2024-01-01</Dt>"
                       "</BookgDt><AcctSvcrRef>%d</AcctSvcrRef></Ntry>\n", i / 100, i % 100, i);
        fputs("</Stmt></BkToCstmrStmt></Document>\n", f);
        break;
    default:
        fputs(":20:X\n:25:Y\n:60F:C240101EUR0,\n", f);
        for (int i = 0; i < rows; i++)
            fprintf(f, ":61:240101D%d,%02dNTRFNONREF//%d\n:86:Shop %d\n", i / 100, i % 100, i, i);
        fputs(":62F:C240101EUR0,\n-\n", f);
        break;
    }
    ck_assert_int_eq(fflush(f), 0);
    rewind(f);
    return f;
}

static int count_txn(void *ctx, const struct stmt_txn *t)
{
    long long *sums = ctx;
    sums[0]++;
    sums[1] += t->amount_minor;
    return 0;
}

START_TEST(a_long_statement_is_read_to_the_end)
{
    static const parser_fn parsers[] = { stmt_parse_ofx, stmt_parse_qif, stmt_parse_camt053, stmt_parse_mt940 };
    const int rows = 20000;
    FILE *f = generated(_i, rows);
    long long sums[2] = { 0, 0 };
    struct stmt_sink sink = { count_txn, NULL, sums };
    struct stmt_error err;
    int rc = parsers[_i](f, &sink, &err);
    fclose(f);
    ck_assert_msg(rc == 0, "format %d: line %ld: %s", _i, err.line, err.message);
    ck_assert_int_eq(sums[0], rows);
    ck_assert_int_eq(sums[1], -(long long)rows * (rows - 1) / 2);
}
END_TEST

/* ---- several threads at once ---- */

static void *parse_all(void *arg)
{
    long *failures = arg;
    for (int round = 0; round < 10; round++) {
        for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
            char path[512];
            snprintf(path, sizeof path, "%s/%s", FORMAT_FIXTURES, good[i].file);
            FILE *f = fopen(path, "rb");
            if (f == NULL) {
                (*failures)++;
                continue;
            }
            long long sums[2] = { 0, 0 };
            struct stmt_sink sink = { count_txn, NULL, sums };
            struct stmt_error err;
            if (good[i].parse(f, &sink, &err) != 0 || sums[0] != (long long)good[i].count)
                (*failures)++;
            fclose(f);
        }
        for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
            char path[512];
            snprintf(path, sizeof path, "%s/%s", FORMAT_FIXTURES, broken[i].file);
            FILE *f = fopen(path, "rb");
            if (f == NULL) {
                (*failures)++;
                continue;
            }
            long long sums[2] = { 0, 0 };
            struct stmt_sink sink = { count_txn, NULL, sums };
            struct stmt_error err;
            if (broken[i].parse(f, &sink, &err) != -1 ||
                (broken[i].line >= 0 && err.line != broken[i].line))
                (*failures)++;
            fclose(f);
        }
    }
    return NULL;
}

START_TEST(parsers_run_in_several_threads_at_once)
{
    enum { THREADS = 4 };
    pthread_t th[THREADS];
    long failures[THREADS] = { 0 };
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, parse_all, &failures[i]), 0);
    for (int i = 0; i < THREADS; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert_int_eq(failures[i], 0);
    }
}
END_TEST

static Suite *formats_suite(void)
{
    Suite *s = suite_create("formats");
    TCase *tc = tcase_create("detection");
    tcase_add_loop_test(tc, every_fixture_is_recognised_from_its_content, 0,
                        sizeof detect_files / sizeof detect_files[0]);
    tcase_add_loop_test(tc, content_is_classified_the_way_a_person_would, 0,
                        sizeof detect_snippets / sizeof detect_snippets[0]);
    tcase_add_test(tc, format_names_are_the_ones_the_database_accepts);
    suite_add_tcase(s, tc);

    tc = tcase_create("good statements");
    tcase_add_loop_test(tc, a_good_statement_yields_exactly_its_transactions, 0, sizeof good / sizeof good[0]);
    suite_add_tcase(s, tc);

    tc = tcase_create("broken files");
    tcase_add_loop_test(tc, a_broken_file_is_refused_with_a_line_number, 0, sizeof broken / sizeof broken[0]);
    tcase_add_test(tc, an_external_entity_is_never_read);
    tcase_add_test(tc, ofx_structure_damage_is_an_error);
    tcase_add_test(tc, camt_reads_only_camt053_documents);
    suite_add_tcase(s, tc);

    tc = tcase_create("messages");
    tcase_add_loop_test(tc, a_bad_row_is_a_warning_and_the_rest_is_read, 0, sizeof bad_rows / sizeof bad_rows[0]);
    tcase_add_test(tc, an_error_never_quotes_the_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("format details");
    tcase_add_loop_test(tc, qif_dates_follow_the_order_of_the_whole_file, 0, sizeof qif_orders / sizeof qif_orders[0]);
    tcase_add_test(tc, qif_skips_lists_and_reads_every_transaction_section);
    tcase_add_test(tc, ofx_amounts_follow_the_statement_currency);
    tcase_add_test(tc, mt940_reads_structured_and_free_information);
    tcase_add_loop_test(tc, the_sink_can_stop_any_parser, 0, sizeof stoppable / sizeof stoppable[0]);
    tcase_add_loop_test(tc, an_amount_at_the_bound_is_read_exactly_in_every_format, 0, 4);
    tcase_add_loop_test(tc, a_thirty_digit_amount_reaches_the_sink_beyond_the_bound_in_every_format, 0, 4);
    suite_add_tcase(s, tc);

    tc = tcase_create("scale");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, a_long_statement_is_read_to_the_end, 0, 4);
    tcase_add_test(tc, parsers_run_in_several_threads_at_once);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(formats_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
