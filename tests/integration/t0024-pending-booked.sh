#!/usr/bin/env bash
# t0024-pending-booked: a statement's booked row replaces the pending row a bank sync put in
# the ledger (issue 15, sql/0024): the preview scores the pair (verdict replaces_pending,
# its reasons, the pending row as match, counted apart), commit-import turns the pending row
# into the booked one (same id, pending false, the statement's date and text) instead of
# adding the money twice; a weak pair (2 days, other text) stays a possible duplicate; a
# 'keep' decision makes the booked row a row of its own; another user's pending rows are
# never matched.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed to look at the database}"
FN=/.netlify/functions/ingest-statement PV=/.netlify/functions/import-preview
USER_ID="$(cat /proc/sys/kernel/random/uuid)" OTHER="$(cat /proc/sys/kernel/random/uuid)"
AUTH=(-H "Authorization: Bearer $(fast_token "$USER_ID")")
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
# pending USER DATE AMOUNT DESCRIPTION: a pending row as the bank sync writes it; prints its id
pending() {
  sql "INSERT INTO transactions (user_id, tx_date, amount_minor, currency, description, bank_id, account, category,
         dedup_hash, provider_transaction_id, pending)
       VALUES ('$1', '$2', $3, 'GBP', '$4', 'p-' || md5(random()::text), 'tl-acc-1', 'Other',
               md5(random()::text), 'p-' || md5(random()::text), true) RETURNING id"
}
csv() { request POST "$FN?fileName=$1" "${AUTH[@]}" -H 'Content-Type: text/csv' --data-binary "$2"; }
commit() { request POST /.netlify/functions/commit-import "${AUTH[@]}" -H 'Content-Type: application/json' --data "$1"; }

P1="$(pending "$USER_ID" 2024-09-02 -1250 'COSTA COFFEE')"       # booked a day later, same text
P2="$(pending "$USER_ID" 2024-09-03 -4999 'AMAZON MKTPLACE PMTS')" # booked 2 days later, other text: too weak
P3="$(pending "$USER_ID" 2024-09-05 -800 'PRET A MANGER')"          # booked the same day
POTHER="$(pending "$OTHER" 2024-09-02 -1250 'COSTA COFFEE')"        # another user's twin of P1
csv booked1.csv $'Date,Description,Amount,Currency\n2024-09-03,COSTA COFFEE,-12.50,GBP\n2024-09-05,AMZN Mktp UK,-49.99,GBP\n2024-09-05,Pret,-8.00,GBP\n2024-09-06,Rent,-900.00,GBP\n'
check "the statement is staged (got $STATUS)" test "$STATUS" = 200
IMPORT="$(jq -r .importId "$T/body")"
check "the counts set the two bookings apart" body_jq \
  '.verdicts == {"total":4,"new":1,"duplicate":0,"possible_duplicate":1,"replaces_pending":2}'
check "row 1 replaces pending row P1 (same amount, a day later, same description: 80)" body_jq \
  ".preview[0].verdict == \"replaces_pending\" and .preview[0].score == 80 and .preview[0].match.id == $P1 and
   .preview[0].match.date == \"2024-09-02\" and (.preview[0].reasons | index(\"booked 1 day later\") != null)"
check "row 2 (2 days later, other text: 50) is only a possible duplicate of P2" body_jq \
  ".preview[1].verdict == \"possible_duplicate\" and .preview[1].match.id == $P2 and .preview[1].score == 50"
check "row 3 replaces P3 (same day: 70)" body_jq ".preview[2].verdict == \"replaces_pending\" and .preview[2].score == 70 and .preview[2].match.id == $P3"
request GET "$PV?importId=$IMPORT&verdict=replaces_pending" "${AUTH[@]}"
check "import-preview filters on replaces_pending (got $STATUS)" body_jq '[.rows[].row] == [1,3]'

before="$(sql "SELECT count(*) FROM transactions WHERE user_id = '$USER_ID'")"
commit "{\"importId\":\"$IMPORT\"}"
check "commit answers 2 replaced, 2 inserted (got $STATUS)" body_jq '.committed == 2 and .replacedPending == 2 and .duplicates == 0'
check "the ledger grew by 2, not 4" test "$(sql "SELECT count(*) FROM transactions WHERE user_id = '$USER_ID'")" = $(( before + 2 ))
check "P1 is now the booked row, in place" test \
  "$(sql "SELECT tx_date || ' ' || pending || ' ' || account || ' ' || (import_id IS NULL) FROM transactions WHERE id = $P1")" = "2024-09-03 false tl-acc-1 true"
check "P3 is booked too; P2 is still pending, next to its possible duplicate" test \
  "$(sql "SELECT string_agg(id || ':' || pending, ',' ORDER BY id) FROM transactions WHERE id IN ($P2, $P3)")" = "$P2:true,$P3:false"
check "another user's pending twin is untouched" test "$(sql "SELECT pending FROM transactions WHERE id = $POTHER")" = t
request GET /.netlify/functions/transactions?limit=10 "${AUTH[@]}"
check "the ledger shows one COSTA COFFEE of -12.50" body_jq '[.transactions[] | select(.description == "COSTA COFFEE")] | length == 1 and .[0].amount_minor == -1250'

# 'keep': the user says the booking is a row of its own
P4="$(pending "$USER_ID" 2024-10-01 -300 'BUS FARE')"
csv booked2.csv $'Date,Description,Amount,Currency\n2024-10-01,BUS FARE,-3.00,GBP\n'
IMPORT="$(jq -r .importId "$T/body")"
check "the bus fare replaces P4 in the preview" body_jq ".preview[0].verdict == \"replaces_pending\" and .preview[0].match.id == $P4"
commit "{\"importId\":\"$IMPORT\",\"decisions\":[{\"row\":1,\"action\":\"keep\"}]}"
check "kept: inserted as its own row, nothing replaced" body_jq '.committed == 1 and .replacedPending == 0'
check "P4 stays pending" test "$(sql "SELECT pending FROM transactions WHERE id = $P4")" = t
finish
