/* ledger_sql.h: the statement of a GET transactions page, one text per "shape" (which
 * filters the request carries), built by ledger_sql.c.  transactions.c runs them prepared
 * and scripts/bench-read prints all of them for its Node.js peer
 * (tests/bench/node_ledger_peer.js), so both send the very same SQL for a request.
 *
 * Why shapes: one statement with every optional filter written `$n IS NULL OR ...` can
 * only be planned with its values, on every request (10-20 ms of planning against 2-30 ms
 * of execution on a 1M-row ledger).  A statement that names only the filters present has
 * one good plan whatever the values, so it is prepared once per connection and each
 * request only executes it.  There are LEDGER_SHAPES of them (6 bits), every one small
 * enough to prepare: the shapes a client really uses cost one prepare each per
 * connection.
 *
 * Parameters, numbered in this order and only for the filters present: $1 the user, $2 the
 * limit, then from and to (dates; an absent one is -infinity / infinity), q as an ILIKE
 * pattern, the category, the account (as stored, or "****" and its last 4), the import id,
 * the cursor's date and id.  One row: the page's rows as a JSON array (text), how many rows
 * were read (limit + 1 means there is a next page), "YYYY-MM-DD id" of the page's last row
 * when the page is full, and the totals as a JSON array (text; NULL after the first
 * page).  The first page without any filter reads its totals from ledger_totals. */
#ifndef LEDGER_SQL_H
#define LEDGER_SQL_H

#include <stddef.h>

#define LEDGER_SHAPE_DATES    0x01u  /* from and/or to */
#define LEDGER_SHAPE_Q        0x02u
#define LEDGER_SHAPE_CATEGORY 0x04u
#define LEDGER_SHAPE_ACCOUNT  0x08u
#define LEDGER_SHAPE_IMPORT   0x10u
#define LEDGER_SHAPE_CURSOR   0x20u  /* a page after the first: no totals */
#define LEDGER_SHAPES         64     /* every combination of the bits above */
#define LEDGER_SQL_MAX        4096   /* bytes of the longest statement (with its NUL) */
#define LEDGER_PARAMS_MAX     10     /* parameters of the longest statement */

/* One row's answer; t is transactions.  Accounts are masked by sql/0020's mask_account
 * ("****" and the last 4 characters), the one masking rule of every answer. */
#define ROW_JSON                                                                                        \
    "json_build_object('id', t.id, 'date', to_char(t.tx_date, 'YYYY-MM-DD'), 'amount_minor', t.amount_minor, " \
    "'currency', t.currency, 'description', t.description, 'counterparty', t.counterparty, 'memo', t.memo, "   \
    "'category', t.category, 'account', mask_account(t.account), "                                           \
    "'counterparty_account', mask_account(t.counterparty_account), 'import_id', t.import_id)"

/* Writes the statement of a shape (a combination of LEDGER_SHAPE_*) into out (cap bytes,
 * LEDGER_SQL_MAX is enough) and the number of its parameters into *n_params: 0, or -1 for
 * a shape that is not one or a buffer too small.  The same text for the same shape. */
int ledger_sql_page(unsigned shape, char *out, size_t cap, int *n_params);

#endif
