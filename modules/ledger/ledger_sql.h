/* ledger_sql.h: the ledger's statements, as macros: transactions.c runs them and
 * scripts/bench-read prints LEDGER_SQL_FIRST_PAGE for its Node.js peer
 * (tests/bench/node_ledger_peer.js), so both run the very same SQL.
 *
 * LEDGER_SQL_*_PAGE parameters: $1 user, $2 from, $3 to (dates), $4 q as an ILIKE pattern,
 * $5 category, $6 account, $7 import id, $8 $9 the cursor's date and id, $10 the limit.
 * One row: the page's rows as a JSON array (text), how many rows were read (limit + 1
 * means there is a next page), "YYYY-MM-DD id" of the page's last row when the page is
 * full, and the totals as a JSON array (text; NULL for LEDGER_SQL_NEXT_PAGE).
 * LEDGER_SQL_FIRST_PAGE_ALL is LEDGER_SQL_FIRST_PAGE for a request without any filter. */
#ifndef LEDGER_SQL_H
#define LEDGER_SQL_H

/* One row's answer; t is transactions.  Accounts are masked by sql/0020's mask_account
 * ("****" and the last 4 characters), the one masking rule of every answer. */
#define ROW_JSON                                                                                        \
    "json_build_object('id', t.id, 'date', to_char(t.tx_date, 'YYYY-MM-DD'), 'amount_minor', t.amount_minor, " \
    "'currency', t.currency, 'description', t.description, 'counterparty', t.counterparty, 'memo', t.memo, "   \
    "'category', t.category, 'account', mask_account(t.account), "                                           \
    "'counterparty_account', mask_account(t.counterparty_account), 'import_id', t.import_id)"

/* $1 user, $2 from, $3 to, $4 q as an ILIKE pattern, $5 category, $6 account, $7 import id;
 * NULL: no such filter.  Each is planned with its value (unnamed statements), so an absent
 * filter costs nothing. */
#define FILTER                                                                                          \
    "t.user_id = $1::uuid AND ($2::date IS NULL OR t.tx_date >= $2::date) "                             \
    "AND ($3::date IS NULL OR t.tx_date <= $3::date) "                                                  \
    "AND ($4::text IS NULL OR t.description ILIKE $4::text OR t.counterparty ILIKE $4::text) "          \
    "AND ($5::text IS NULL OR t.category = $5::text) "                                                  \
    "AND ($6::text IS NULL OR t.account = $6::text OR (left($6::text, 4) = '****' "                     \
    "AND length(t.account) > 4 AND right(t.account, 4) = substr($6::text, 5))) "                        \
    "AND ($7::uuid IS NULL OR t.import_id = $7::uuid)"

/* $8 $9: the cursor's date and id; $10 the limit.  One more row than the page tells
 * whether there is a next one. */
#define PAGE                                                                                            \
    "WITH page AS (SELECT t.tx_date, t.id, row_number() OVER (ORDER BY t.tx_date DESC, t.id DESC) AS n, " \
    ROW_JSON " AS j FROM (SELECT * FROM transactions t WHERE " FILTER " "                               \
    "AND ($8::date IS NULL OR (t.tx_date, t.id) < ($8::date, $9::bigint)) "                             \
    "ORDER BY t.tx_date DESC, t.id DESC LIMIT $10::int + 1) t) "                                        \
    "SELECT coalesce(json_agg(j ORDER BY n) FILTER (WHERE n <= $10::int), '[]')::text, count(*), "      \
    "max(to_char(tx_date, 'YYYY-MM-DD') || ' ' || id) FILTER (WHERE n = $10::int), "

#define TOTALS                                                                                          \
    "(SELECT coalesce(json_agg(json_build_object('currency', c.currency, 'income_minor', c.inc, "       \
    "'expense_minor', c.exp, 'net_minor', c.inc - c.exp, 'count', c.n) ORDER BY c.currency), '[]')::text " \
    "FROM (SELECT t.currency, coalesce(sum(t.amount_minor) FILTER (WHERE t.amount_minor > 0), 0) AS inc, " \
    "coalesce(-sum(t.amount_minor) FILTER (WHERE t.amount_minor < 0), 0) AS exp, count(*) AS n "        \
    "FROM transactions t WHERE " FILTER " GROUP BY t.currency) c) "

/* Without any filter the totals are the whole ledger's, kept by triggers in ledger_totals
 * (sql/0017_ledger.sql): a row per currency instead of every transaction. */
#define TOTALS_ALL                                                                                      \
    "(SELECT coalesce(json_agg(json_build_object('currency', c.currency, 'income_minor', c.income_minor, " \
    "'expense_minor', c.expense_minor, 'net_minor', c.income_minor - c.expense_minor, 'count', c.tx_count) " \
    "ORDER BY c.currency), '[]')::text FROM ledger_totals c WHERE c.user_id = $1::uuid AND c.tx_count > 0) "

/* The first page carries the totals; the pages after it do not. */
#define LEDGER_SQL_FIRST_PAGE PAGE TOTALS "FROM page"
#define LEDGER_SQL_NEXT_PAGE PAGE "NULL FROM page"
/* The first page when no filter is given ($2..$7 all NULL). */
#define LEDGER_SQL_FIRST_PAGE_ALL PAGE TOTALS_ALL "FROM page"


#endif
