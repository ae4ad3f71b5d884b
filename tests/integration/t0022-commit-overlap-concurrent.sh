#!/usr/bin/env bash
# t0022-commit-overlap-concurrent: one user's overlapping imports committed at the same
# time must all succeed, with the ledger exactly their union and nothing twice.  Each
# of 10 rounds commits three statements of a few thousand rows at once: A (rows
# 1..3000, oldest first), B (rows 1501..4500, newest first, as many banks export)
# and C (rows 1..4500, shuffled).  Inserted in file order these deadlock; the commit
# inserts in one stable order and retries a transaction PostgreSQL aborts anyway.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed to look at the database}"
TOKEN_BIN=./modules/token/smartimport-token
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
rows() {  # rows FIRST LAST: one CSV line per row number
  awk -v a="$1" -v b="$2" 'BEGIN { for (i = a; i <= b; i++)
    printf "2024-%02d-%02d,Overlap shop %d,-%d.%02d\n", i % 12 + 1, i % 28 + 1, i, i % 500, i % 100 }'
}
{ echo 'Date,Description,Amount'; rows 1 3000; } > "$T/a.csv"
{ echo 'Date,Description,Amount'; rows 1501 4500 | tac; } > "$T/b.csv"
{ echo 'Date,Description,Amount'; rows 1 4500 | shuf --random-source=<(yes); } > "$T/c.csv"
MAX_TIME=60

bad_status=0 bad_ledger=0 bad_counts=0
for round in $(seq 1 10); do
  USER_ID="$(cat /proc/sys/kernel/random/uuid)"
  AUTH=(-H "Authorization: Bearer $("$TOKEN_BIN" "$USER_ID")")
  default_currency "$USER_ID" USD
  ids=()
  for f in a b c; do
    request POST "/.netlify/functions/ingest-statement?fileName=$f.csv" "${AUTH[@]}" \
      -H 'Content-Type: text/csv' --data-binary @"$T/$f.csv"
    ids+=("$(jq -r '.importId // empty' "$T/body")")
  done
  for i in 0 1 2; do
    curl -sS -o "$T/r$i.json" -w '%{http_code}\n' --max-time 120 "${AUTH[@]}" -H 'Content-Type: application/json' \
      --data-binary "{\"importId\":\"${ids[$i]}\"}" "$BASE/.netlify/functions/commit-import" > "$T/r$i.status" &
  done
  wait
  statuses="$(cat "$T"/r[012].status | tr '\n' ' ')"
  if [[ $statuses != "200 200 200 " ]]; then
    bad_status=$(( bad_status + 1 ))
    echo "# round $round: statuses $statuses: $(cat "$T"/r[012].json | tr -d '\n' | head -c 300)"
  fi
  [[ $(sql "SELECT count(*) || '/' || count(DISTINCT description) FROM transactions WHERE user_id = '$USER_ID'") == 4500/4500 ]] \
    || bad_ledger=$(( bad_ledger + 1 ))
  # Each import accounts for each of its rows once: committed + duplicates = its rows,
  # and the three committed counts add up to the ledger.
  [[ $(jq -s '[.[].committed] | add' "$T"/r[012].json) == 4500 &&
     $(jq -s 'map(.committed + .duplicates) | join(",")' -r "$T"/r[012].json) == 3000,3000,4500 ]] \
    || bad_counts=$(( bad_counts + 1 ))
done
check "every concurrent commit answered 200 (rounds with another status: $bad_status of 10)" test "$bad_status" = 0
check "every round's ledger is the union of the three imports, 4500 rows, none twice (bad: $bad_ledger)" \
  test "$bad_ledger" = 0
check "every round's committed and duplicate counts add up (bad: $bad_counts)" test "$bad_counts" = 0
finish
