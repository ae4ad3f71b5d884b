#!/usr/bin/env bash
# t0025-reupload-large: a user commits a 40,000-row statement and uploads it again at once,
# before autovacuum has analysed the new rows (sql/0027).  The verdict counts used to join each
# staged row with all of the user's rows (the planner thought the new user had none): the
# re-upload answered 504 db_timeout after 30 s.  Now the re-upload answers with every row a
# duplicate, and a second file with the same amounts and dates but other texts (every row has
# dozens of near rows: the worst case of the near-match join) answers with every row a
# possible duplicate; nothing of it reaches the ledger.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed to look at the database}"
FN=/.netlify/functions/ingest-statement
USER_ID="$(cat /proc/sys/kernel/random/uuid)"
AUTH=(-H "Authorization: Bearer $(fast_token "$USER_ID")")
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
ROWS=40000
# ROWS rows over 2024, ten amounts, about 110 rows a day: each amount about 11 times a day.
statement() {  # statement TEXT-PREFIX
  awk -v n="$ROWS" -v p="$1" 'BEGIN { print "Date,Description,Amount"
    split("-4.50 -12.99 -25.00 -9.99 -60.00 -3.20 -15.00 -100.00 -7.75 1500.00", a, " ")
    for (i = 1; i <= n; i++)
      printf "%s,%s %d,%s\n", strftime("%Y-%m-%d", 1704067200 + int((i - 1) * 365 / n) * 86400, 1), p, i, a[i % 10 + 1] }'
}
upload() {  # upload NAME FILE
  MAX_TIME=120 request POST "$FN?fileName=$1&currency=USD" "${AUTH[@]}" -H 'Content-Type: text/csv' --data-binary @"$2"
}
statement SHOP > "$T/a.csv"
sed 's/$/\r/' "$T/a.csv" > "$T/a-again.csv"          # the same rows in other bytes
statement STORE > "$T/b.csv"                            # same amounts and dates, other texts

upload a.csv "$T/a.csv"
check "the statement is staged (got $STATUS)" test "$STATUS" = 200
IMPORT="$(jq -r .importId "$T/body")"
MAX_TIME=120 request POST /.netlify/functions/commit-import "${AUTH[@]}" -H 'Content-Type: application/json' \
  --data "{\"importId\":\"$IMPORT\"}"
check "it is committed whole (got $STATUS)" body_jq ".committed == $ROWS"

upload a-again.csv "$T/a-again.csv"
check "the re-upload right after the commit answers (got $STATUS, not a 504)" test "$STATUS" = 200
check "  every row of it is a duplicate" body_jq \
  ".verdicts == {\"total\":$ROWS,\"new\":0,\"duplicate\":$ROWS,\"possible_duplicate\":0,\"replaces_pending\":0}"
check "  its first page says so, with the committed row as match" body_jq \
  '.preview[0].verdict == "duplicate" and .preview[0].score == 100 and (.preview[0].match.id | type) == "number"'

upload b.csv "$T/b.csv"
check "the file of the same amounts and dates answers (got $STATUS)" test "$STATUS" = 200
check "  every row of it is a possible duplicate" body_jq \
  ".verdicts == {\"total\":$ROWS,\"new\":0,\"duplicate\":0,\"possible_duplicate\":$ROWS,\"replaces_pending\":0}"
check "  scored as the same amount on the same day (70)" body_jq \
  '.preview[0].verdict == "possible_duplicate" and .preview[0].score == 70 and (.preview[0].reasons | index("same day") != null)'
check "the ledger holds the first statement once" test \
  "$(sql "SELECT count(*) FROM transactions WHERE user_id = '$USER_ID'")" = "$ROWS"
finish
