/* stmt.h: what every statement parser produces, and how.
 *
 * A parser reads a statement that has already been converted to UTF-8 (BOM
 * removed) from a seekable FILE, and hands each transaction to a sink as it
 * goes, so memory stays bounded however long the file is.  Amounts are signed
 * integer minor units (negative = money out of the account), never floating
 * point; a parser reads amounts of any length without overflowing (magnitudes
 * beyond STMT_AMOUNT_SATURATED saturate, stmt_util.h) and the sink bounds them.  Dates are ISO "YYYY-MM-DD".  Strings in a struct stmt_txn are only
 * valid during the sink call.  Problems with single rows become warnings with
 * the line number; a file that cannot be parsed at all is an error with a
 * line number (struct stmt_error). */
#ifndef STMT_H
#define STMT_H

#include <stdbool.h>
#include <stdio.h>

enum stmt_format {
    STMT_FORMAT_UNKNOWN = 0,
    STMT_FORMAT_CSV,
    STMT_FORMAT_OFX,      /* OFX 1.x SGML, OFX 2.x XML and QFX */
    STMT_FORMAT_QIF,
    STMT_FORMAT_CAMT053,  /* ISO 20022 camt.053, and camt.052 / camt.054 read the same way */
    STMT_FORMAT_MT940,
    STMT_FORMAT_MT942,    /* recognised to be refused by name: an interim report, not a statement */
};

struct stmt_txn {
    char date[11];              /* "YYYY-MM-DD" (booking date) */
    long long amount_minor;     /* signed minor units of currency */
    char currency[4];           /* ISO 4217 from the file, or "" if it does not say */
    bool currency_assumed;      /* currency is the caller's default, not the file's (CSV only) */
    int exponent;               /* minor-unit digits used for amount_minor (2 for EUR/USD, 0 for JPY...) */
    const char *description;    /* trimmed, whitespace collapsed, never NULL (may be "") */
    const char *counterparty;   /* the payee or payer's name, or NULL */
    const char *counterparty_account;  /* their IBAN or account number as the file gives it, or NULL */
    const char *memo;           /* remittance text apart from the counterparty, or NULL */
    const char *reference;      /* the end-to-end / customer reference (EREF), or NULL */
    const char *bank_id;        /* the bank's own id (OFX FITID, CAMT AcctSvcrRef/NtryRef), or NULL */
    const char *account;        /* the statement's account id as the file gives it, or NULL */
    long line;                  /* 1-based line where the transaction starts */
};

struct stmt_error {
    long line;                  /* 0 when not tied to a line */
    char message[256];          /* human, safe to show: never quotes row contents, and never
                                 * starts with the line (the caller puts "line N: " in front) */
};

struct stmt_sink {
    /* Returns 0 to go on, non-zero to stop parsing (the parser then returns -1
     * with message "stopped"). */
    int (*txn)(void *ctx, const struct stmt_txn *t);
    /* A row that was skipped or fixed up ("opening balance row skipped"). */
    void (*warning)(void *ctx, long line, const char *message);
    void *ctx;
};

/* Guesses the format from the first bytes of the (UTF-8) content. */
enum stmt_format stmt_detect(const char *head, size_t n);
const char *stmt_format_name(enum stmt_format f);   /* "csv", "ofx", ... */

/* The format parsers: 0 on success, -1 with err filled. */
int stmt_parse_ofx(FILE *in, const struct stmt_sink *sink, struct stmt_error *err);
int stmt_parse_qif(FILE *in, const struct stmt_sink *sink, struct stmt_error *err);
int stmt_parse_camt053(FILE *in, const struct stmt_sink *sink, struct stmt_error *err);
int stmt_parse_mt940(FILE *in, const struct stmt_sink *sink, struct stmt_error *err);
/* CSV: see csv.h (it also reports the column mapping it inferred or was given). */

#endif
