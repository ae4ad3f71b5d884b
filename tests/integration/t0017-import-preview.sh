#!/usr/bin/env bash
# t0017-import-preview: every staged row's verdict (sql/0019_import_verdicts.sql) through nginx:
# the ingest answer counts new / duplicate / possible duplicate over the whole file and scores
# each previewed possible duplicate with its reasons and the matched row; GET import-preview
# pages through any rows (cursor, limit, verdict filter, counts=false leaves the counts out), refuses bad parameters with 400, another
# user's or an unknown import with 404, and a committed import with 409; PATCH keep/skip decisions
# (refused whole when one is bad) and commit-import's own decisions keep skipped rows out.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed to look at the database}"
TOKEN_BIN=./modules/token/smartimport-token
USER_ID="$(cat /proc/sys/kernel/random/uuid)" OTHER_ID="$(cat /proc/sys/kernel/random/uuid)"
AUTH=(-H "Authorization: Bearer $("$TOKEN_BIN" "$USER_ID")")
OTHER=(-H "Authorization: Bearer $("$TOKEN_BIN" "$OTHER_ID")")
default_currency "$USER_ID" USD; default_currency "$OTHER_ID" USD
ingest() {  # ingest FILE -> IMPORT
  request POST "/.netlify/functions/ingest-statement?fileName=$(basename "$1")" "${AUTH[@]}" \
    -H 'Content-Type: text/csv' --data-binary @"$1"
  IMPORT="$(jq -r '.importId // empty' "$T/body")"
}
commit() { request POST /.netlify/functions/commit-import "${AUTH[@]}" -H 'Content-Type: application/json' \
             --data-binary "{\"importId\":\"$1\"}"; }
preview() { local q=$1; shift; (( $# )) || set -- "${AUTH[@]}"; request GET "/.netlify/functions/import-preview?$q" "$@"; }
is_error() {   # is_error STATUS CODE: the last answer was that JSON error
  [[ $STATUS == "$1" ]] && is_json_ct && jq -e --arg c "$2" '.ok == false and .code == $c' "$T/body" >/dev/null
}

cat > "$T/a.csv" <<'CSV'
Date,Description,Amount
2024-03-01,SAINSBURYS 0123,-20.00
2024-03-02,Gym Membership,-30.00
2024-03-05,Book Shop,-12.00
2024-03-08,Rent March,-800.00
CSV
cat > "$T/b.csv" <<'CSV'
Date,Description,Amount
2024-03-01,SAINSBURYS 0123,-20.00
2024-03-03,Gym Membership,-30.00
2024-03-05,Bookshop Online,-12.00
2024-03-10,Cinema,-9.00
2024-03-10,Cinema,-9.00
2024-03-11,Bakery,-4.00
2024-03-12,Bakery,-5.00
CSV
ingest "$T/a.csv"; A="$IMPORT"
commit "$A"
check "the first statement is committed ($STATUS)" body_jq '.ok and .committed == 4'

ingest "$T/b.csv"; B="$IMPORT"
check "the second statement is parsed ($STATUS)" test "$STATUS" = 200
check "the answer counts every row's verdict: 3 new, 1 duplicate, 3 possible" \
  body_jq '.verdicts == {"total":7,"new":3,"duplicate":1,"possible_duplicate":3,"replaces_pending":0}'
check "row 1: duplicate, score 100, matched to the committed row of 2024-03-01" \
  body_jq '.preview[0] | .verdict == "duplicate" and .score == 100 and .match.date == "2024-03-01" and (.match.id | type) == "number"'
check "row 2: possible, 1 day apart with the same description: 40 + 20 + 20 = 80" \
  body_jq '.preview[1] | .verdict == "possible_duplicate" and .score == 80 and .reasons == ["same amount and currency as the committed row of 2024-03-02","1 day apart","same description"] and .match.date == "2024-03-02"'
check "row 3: possible, same day, another description: 40 + 30 = 70" \
  body_jq '.preview[2] | .verdict == "possible_duplicate" and .score == 70 and .reasons == ["same amount and currency as the committed row of 2024-03-05","same day"] and .reason == .reasons[0]'
check "row 4: new; row 5, identical to row 4: possible (50), both kept" \
  body_jq '(.preview[3] | .verdict == "new" and .score == 0 and .match == null) and (.preview[4] | .verdict == "possible_duplicate" and .score == 50 and (.reason | test("identical")))'
check "rows 6, 7: new" body_jq '[.preview[5,6].verdict] == ["new","new"]'

preview "importId=$B&verdict=possible_duplicate"
check "GET import-preview?verdict=possible_duplicate: 200, rows 2, 3, 5" \
  body_jq '.ok and [.rows[].row] == [2,3,5] and .counts.total == 7 and .nextCursor == null'
preview "importId=$B&verdict=new"
check "verdict=new: rows 4, 6, 7" body_jq '[.rows[].row] == [4,6,7]'

rows="" cursor="" pages=0
while :; do
  preview "importId=$B&limit=2${cursor:+&cursor=$cursor}"
  [[ $STATUS == 200 ]] || break
  rows+="$(jq -r '[.rows[].row | tostring] | join(" ")' "$T/body") "
  cursor="$(jq -r '.nextCursor // empty' "$T/body")"
  pages=$(( pages + 1 ))
  [[ -n $cursor && $pages -lt 10 ]] || break
done
check "pages of 2 walk every row once, in order, in 4 pages" test "$rows:$pages" = "1 2 3 4 5 6 7 :4"
preview "importId=$B&limit=2&cursor=2"; cp "$T/body" "$T/with-counts.json"
preview "importId=$B&limit=2&cursor=2&counts=false"
check "counts=false: the same page and cursor, without the counts" \
  bash -c "jq -e --slurpfile w '$T/with-counts.json' '(has(\"counts\") | not) and .rows == \$w[0].rows and .nextCursor == \$w[0].nextCursor and (\$w[0].counts.total == 7)' '$T/body' >/dev/null"
preview "importId=$B&limit=2&counts=true"; check "counts=true: with the counts" body_jq '.counts.total == 7'
preview "importId=$B&counts=no";        check "counts=no -> 400" is_error 400 bad_param

preview "importId=$B&limit=0";          check "limit=0 -> 400" is_error 400 bad_param
preview "importId=$B&limit=201";        check "limit=201 -> 400" is_error 400 bad_param
preview "importId=$B&cursor=-1";        check "cursor=-1 -> 400" is_error 400 bad_param
preview "importId=$B&cursor=2147483646"; check "the last possible cursor -> 200, no rows" body_jq '.rows == [] and .nextCursor == null'
preview "importId=$B&cursor=2147483647"; check "a cursor past the last row number -> 400" is_error 400 bad_param
preview "importId=$B&cursor=99999999999999999999"; check "a cursor beyond 64 bits -> 400" is_error 400 bad_param
preview "importId=$B&verdict=maybe";    check "an unknown verdict -> 400" is_error 400 bad_param
preview "importId=not-a-uuid";          check "a bad importId -> 400" is_error 400 bad_param
preview "verdict=new";                  check "no importId -> 400" is_error 400 bad_param
preview "importId=$B" "${OTHER[@]}";    check "another user's import -> 404" is_error 404 not_found
preview "importId=$(cat /proc/sys/kernel/random/uuid)"; check "an unknown import -> 404" is_error 404 not_found
request GET "/.netlify/functions/import-preview?importId=$B"
check "no token -> 401 JSON" bash -c "[[ $STATUS == 401 ]]"

# --- keep/skip decisions (PATCH), honoured by commit ------------------------------------------
decide() { local body=$1; shift; (( $# )) || set -- "${AUTH[@]}"
           request PATCH /.netlify/functions/import-preview "$@" -H 'Content-Type: application/json' --data-binary "$body"; }
decide "{\"importId\":\"$B\",\"decisions\":[{\"row\":2,\"action\":\"skip\"},{\"row\":3,\"action\":\"keep\"}]}"
check "PATCH: skip row 2, keep row 3 -> 200, 2 decided, 1 skipped, 1 kept" \
  body_jq '.ok and .decided == 2 and .skipped == 1 and .kept == 1'
preview "importId=$B&limit=3"
check "the preview shows the decisions" body_jq '[.rows[].decision] == [null,"skip","keep"]'
decide "{\"importId\":\"$B\",\"decisions\":[{\"row\":2,\"action\":\"keep\"},{\"row\":99,\"action\":\"skip\"}]}"
check "a row that is not the import's -> 400" is_error 400 bad_decisions
decide "{\"importId\":\"$B\",\"decisions\":[{\"row\":4,\"action\":\"skip\"},{\"row\":4,\"action\":\"keep\"}]}"
check "one row decided twice -> 400" is_error 400 bad_decisions
decide "{\"importId\":\"$B\",\"decisions\":[{\"row\":4,\"action\":\"maybe\"}]}"
check "an unknown action -> 400" is_error 400 bad_decisions
decide "{\"importId\":\"$B\",\"decisions\":[]}"
check "no decisions -> 400" is_error 400 bad_decisions
# one more than SI_IMPORT_DECISIONS_MAX (100,000) decisions: refused before any is looked at
jq -cn --arg id "$B" '{importId: $id, decisions: [range(1; 100002) | {row: ., action: "skip"}]}' > "$T/many.json"
MAX_TIME=60 request PATCH /.netlify/functions/import-preview "${AUTH[@]}" -H 'Content-Type: application/json' \
  --data-binary @"$T/many.json"
check "100,001 decisions -> 400 naming the limit (got $STATUS)" body_jq '.code == "bad_decisions" and (.error | test("100000"))'
decide "{\"importId\":\"$B\",\"decisions\":[{\"row\":4,\"action\":\"skip\"}]}" "${OTHER[@]}"
check "another user's import -> 404" is_error 404 not_found
preview "importId=$B&limit=4"
check "... and none of the refused ones changed anything" body_jq '[.rows[].decision] == [null,"skip","keep",null]'

request POST /.netlify/functions/commit-import "${AUTH[@]}" -H 'Content-Type: application/json' \
  --data-binary "{\"importId\":\"$B\",\"decisions\":[{\"row\":5,\"action\":\"skip\"}]}"
check "commit with decisions: 4 committed, 1 duplicate, 2 skipped (rows 2 and 5)" \
  body_jq '.committed == 4 and .duplicates == 1 and .skipped == 2'
check "the skipped rows are not in the ledger" test \
  "$(psql -X -q -t -A "$DATABASE_URL" -c "SELECT count(*) FILTER (WHERE tx_date = '2024-03-03') || ':' || count(*) FILTER (WHERE description = 'Cinema')
       FROM transactions WHERE user_id = '$USER_ID'")" = "0:1"
preview "importId=$B"
check "a committed import has no preview: 409" is_error 409 not_in_preview
decide "{\"importId\":\"$B\",\"decisions\":[{\"row\":4,\"action\":\"skip\"}]}"
check "nor decisions: 409" is_error 409 not_in_preview
finish
