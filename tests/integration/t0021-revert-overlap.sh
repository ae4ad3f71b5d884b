#!/usr/bin/env bash
# t0021-revert-overlap: reverting one of several overlapping imports never takes away
# a row that another committed import still contains.  X = Jan rent, Feb rent, Feb
# salary; Y = Feb rent, Feb salary, Mar rent; Z = Jan, Feb, Mar, Apr rent.  After
# every step the ledger must be exactly the union of the rows of the imports still
# committed: revert X after Y, Y after X, all six orders of three imports, a
# reverted file uploaded and committed again, and reverts racing commits and
# other reverts (20 rounds of concurrent requests).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed to look at the database}"
D="$(cd "$(dirname "$0")" && pwd)/data"
TOKEN_BIN=./modules/token/smartimport-token
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
new_user() {
  USER_ID="$(cat /proc/sys/kernel/random/uuid)"
  AUTH=(-H "Authorization: Bearer $("$TOKEN_BIN" "$USER_ID")")
  default_currency "$USER_ID" USD
}
declare -A FILE_OF   # import id -> the fixture it was uploaded from
ingest() {  # ingest NAME (x, y or z) -> IMPORT
  request POST "/.netlify/functions/ingest-statement?fileName=revert-$1.csv" "${AUTH[@]}" \
    -H 'Content-Type: text/csv' --data-binary @"$D/revert-$1.csv"
  IMPORT="$(jq -r '.importId // empty' "$T/body")"
  [[ -n $IMPORT ]] && FILE_OF[$IMPORT]="$D/revert-$1.csv"
  return 0
}
commit() { request POST /.netlify/functions/commit-import "${AUTH[@]}" -H 'Content-Type: application/json' \
             --data-binary "{\"importId\":\"$1\"}"; }
revert() { request POST /.netlify/functions/revert-import "${AUTH[@]}" -H 'Content-Type: application/json' \
             --data-binary "{\"importId\":\"$1\"}"; }
# The ledger as "date description" lines, and the rows of statement files in the same form.
ledger() { sql "SELECT tx_date || ' ' || description FROM transactions WHERE user_id = '$USER_ID'" | LC_ALL=C sort; }
rows_of() { local f; for f in "$@"; do tail -n +2 "$f"; done | awk -F, '{ print $1 " " $2 }' | LC_ALL=C sort -u; }
# Rows whose import is not a committed import of the user, and rows stored twice.
orphans() {
  sql "SELECT count(*) FROM transactions t WHERE t.user_id = '$USER_ID' AND NOT EXISTS (
         SELECT 1 FROM imports i WHERE i.id = t.import_id AND i.user_id = t.user_id
           AND i.status IN ('committed', 'analyzed'))"
}
twice() { sql "SELECT count(*) - count(DISTINCT (tx_date, description)) FROM transactions WHERE user_id = '$USER_ID'"; }
# The files of the user's imports that are committed now.
committed_files() {
  local id
  for id in $(sql "SELECT id FROM imports WHERE user_id = '$USER_ID' AND status IN ('committed', 'analyzed')"); do
    echo "${FILE_OF[$id]}"
  done
}
# ledger_is WHAT FILES...: the ledger is exactly the union of these files' rows.
ledger_is() {
  local what=$1; shift
  check "$what" test "$(ledger)" = "$(if (( $# )); then rows_of "$@"; fi)"
}
# The invariant after any sequence of commits and reverts.
invariant() {
  local files; mapfile -t files < <(committed_files)
  ledger_is "$1: the ledger is the union of the committed imports' rows" "${files[@]}"
  check "$1: every row belongs to a committed import" test "$(orphans)" = 0
  check "$1: no row is stored twice" test "$(twice)" = 0
}
X="$D/revert-x.csv" Y="$D/revert-y.csv" Z="$D/revert-z.csv"

# --- X, then the overlapping Y, then revert X -----------------------------------------
new_user
ingest x; IX="$IMPORT"; commit "$IX"
check "X commits its 3 rows" body_jq '.committed == 3 and .duplicates == 0'
ingest y; IY="$IMPORT"; commit "$IY"
check "Y commits 1 row and finds 2 duplicates" body_jq '.committed == 1 and .duplicates == 2'
ledger_is "the ledger holds X and Y: 4 rows" "$X" "$Y"
revert "$IX"
check "reverting X is 200 (got $STATUS)" test "$STATUS" = 200
check "it removes only Jan rent and hands Feb rent and salary to Y" \
  body_jq '.ok and .removed == 1 and .handedOver == 2 and .status == "reverted"'
ledger_is "the ledger is Y's 3 rows" "$Y"
check "Y holds all three rows now" test "$(sql "SELECT count(*) FROM transactions WHERE user_id = '$USER_ID' AND import_id = '$IY'")" = 3
check "the revert event says what was removed and what stayed" test \
  "$(sql "SELECT payload->>'removed' || '/' || (payload->>'handedOver') FROM import_events WHERE import_id = '$IX' AND event_type = 'import:revert:complete'")" = 1/2
ingest y
check "Y's file uploaded again is still the committed Y" test "$IMPORT" = "$IY"
# --- the reverted X uploaded again and committed ----------------------------------------
ingest x; IX2="$IMPORT"
check "X's file can be uploaded again after the revert: a new import" test -n "$IX2" -a "$IX2" != "$IX"
commit "$IX2"
check "committing it adds Jan rent back" body_jq '.committed == 1 and .duplicates == 2'
ledger_is "the ledger holds X and Y again" "$X" "$Y"
revert "$IY"
check "reverting Y then removes only Mar rent" body_jq '.removed == 1 and .handedOver == 2'
ledger_is "the ledger is X's 3 rows" "$X"
revert "$IX2"
check "reverting the new X removes its 3 rows" body_jq '.removed == 3 and .handedOver == 0'
ledger_is "the ledger is empty"
revert "$IX2"
check "reverting it again is 200 and removes nothing" body_jq '.removed == 0 and .alreadyReverted == true'

# --- the reverse order: revert Y first ----------------------------------------------------
new_user
ingest x; IX="$IMPORT"; commit "$IX"
ingest y; IY="$IMPORT"; commit "$IY"
revert "$IY"
check "reverting Y first removes only Mar rent" body_jq '.removed == 1 and .handedOver == 0'
ledger_is "the ledger is X's 3 rows" "$X"
revert "$IX"
check "then reverting X removes its 3 rows" body_jq '.removed == 3'
ledger_is "the ledger is empty"

# --- three overlapping imports reverted in every order -------------------------------------
for order in "x y z" "x z y" "y x z" "y z x" "z x y" "z y x"; do
  new_user
  declare -A ID=()
  for n in x y z; do ingest "$n"; ID[$n]="$IMPORT"; commit "$IMPORT"; done
  ledger_is "[$order] all three committed: the ledger is X, Y and Z" "$X" "$Y" "$Z"
  removed=0
  for n in $order; do
    revert "${ID[$n]}"
    check "[$order] reverting ${n^^} is 200 (got $STATUS)" test "$STATUS" = 200
    removed=$(( removed + $(jq -r '.removed // 0' "$T/body") ))
    invariant "[$order] after reverting ${n^^}"
  done
  ledger_is "[$order] after all three the ledger is empty"
  check "[$order] the three reverts removed each of the 5 rows once" test "$removed" = 5
  unset ID
done

# --- reverts racing commits and reverts --------------------------------------------------
# Each round: X committed; then revert X, commit Y and commit Z at once; then revert
# Y and revert Z at once.
bad_status=0
for round in $(seq 1 20); do
  new_user
  ingest x; IX="$IMPORT"; ingest y; IY="$IMPORT"; ingest z; IZ="$IMPORT"
  commit "$IX"
  call() { curl -sS -o /dev/null -w '%{http_code}\n' --max-time 30 "${AUTH[@]}" -H 'Content-Type: application/json' \
             --data-binary "{\"importId\":\"$2\"}" "$BASE/.netlify/functions/$1" >> "$T/race.status"; }
  : > "$T/race.status"
  call revert-import "$IX" & call commit-import "$IY" & call commit-import "$IZ" &
  wait
  [[ $(sort -u "$T/race.status") == 200 ]] || bad_status=$(( bad_status + 1 ))
  invariant "round $round, revert X racing commits of Y and Z"
  call revert-import "$IY" & call revert-import "$IZ" &
  wait
  [[ $(sort -u "$T/race.status") == 200 ]] || bad_status=$(( bad_status + 1 ))
  invariant "round $round, revert Y racing revert Z"
  ledger_is "round $round: nothing is left" 
done
check "every racing request answered 200 (rounds with another status: $bad_status)" test "$bad_status" = 0
finish
