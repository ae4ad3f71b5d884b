#!/usr/bin/env bash
# t0010-ingest: POST /.netlify/functions/ingest-statement through nginx, as JSON,
# multipart and raw uploads; the same file twice; preview verdicts; events; bad
# input answered with a 4xx JSON error that changes nothing in the database.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed to look at the database}"
D="$(cd "$(dirname "$0")" && pwd)/data"
TOKEN_BIN="${SMARTIMPORT_BUILD:-.}/modules/token/smartimport-token"
[[ -x $TOKEN_BIN ]] || TOKEN_BIN=./modules/token/smartimport-token
FN=/.netlify/functions/ingest-statement
USER_ID="$(cat /proc/sys/kernel/random/uuid)"
OTHER_ID="$(cat /proc/sys/kernel/random/uuid)"
TOKEN="$("$TOKEN_BIN" "$USER_ID")"
default_currency "$USER_ID" USD; default_currency "$OTHER_ID" USD
AUTH=(-H "Authorization: Bearer $TOKEN")
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
counts() { sql "SELECT (SELECT count(*) FROM imports WHERE user_id = '$USER_ID') || '/' || (SELECT count(*) FROM transactions_staging WHERE user_id = '$USER_ID')"; }
json_upload() {  # json_upload FILE [extra jq object]
  jq -n --arg u "$USER_ID" --arg n "$(basename "$1")" --arg c "$(base64 -w0 "$1")" \
     "{userId: \$u, fileName: \$n, contentBase64: \$c} + (${2:-{\}})" > "$T/req.json"
  request POST "$FN" "${AUTH[@]}" -H 'Content-Type: application/json' --data-binary @"$T/req.json"
}

# --- a CSV as JSON/base64 --------------------------------------------------
json_upload "$D/basic.csv"
check "a CSV statement as JSON is 200 (got $STATUS)" test "$STATUS" = 200
check "it is recognised as csv with 5 rows" body_jq '.ok == true and .format == "csv" and .rowsTotal == 5 and .status == "parsed"'
check "totals are exact integer minor units" body_jq \
  '.totals == {"count":5,"debitMinor":6819,"creditMinor":250000,"netMinor":243181,"currency":"USD"}'
check "the date range spans the file" body_jq '.dateRange == {"from":"2024-01-15","to":"2024-01-20"}'
check "the first preview row is normalised and categorised" body_jq \
  '.preview[0] | .date == "2024-01-15" and .description == "TESCO STORES 3297" and .amountMinor == -4520 and .currency == "USD" and .category == "Groceries" and .verdict == "new"'
check "the second identical coffee is flagged but kept" body_jq \
  '.preview[2].verdict == "possible_duplicate" and .preview[1].verdict == "new"'
check "the salary is Income and Netflix a Subscription" body_jq \
  '.preview[3].category == "Income" and .preview[4].category == "Subscriptions"'
check "the inferred CSV mapping is returned" body_jq '.columns.amount == 2 and .columns.balance == 3 and (.columns.fingerprint | length) == 64'
IMPORT="$(jq -r .importId "$T/body")"
check "importId is a UUID" test "${#IMPORT}" = 36
check "a file without counterparties gets the normalised merchant as the counterparty" test \
  "$(sql "SELECT string_agg(coalesce(counterparty, 'NULL'), '|' ORDER BY row_no) FROM transactions_staging WHERE import_id = '$IMPORT' AND user_id = '$USER_ID'")" = \
  "TESCO|Coffee Corner|Coffee Corner|ACME PAYROLL|NETFLIX.COM"
check "5 rows are staged for the import" test "$(sql "SELECT count(*) FROM transactions_staging WHERE import_id = '$IMPORT' AND user_id = '$USER_ID'")" = 5
check "upload and parse events were recorded with the import" test \
  "$(sql "SELECT string_agg(event_type, ',' ORDER BY id) FROM import_events WHERE import_id = '$IMPORT'")" = \
  "import:upload:start,import:upload:complete,import:parse:start,import:parse:complete"
check "event payloads hold no descriptions" test \
  "$(sql "SELECT count(*) FROM import_events WHERE import_id = '$IMPORT' AND payload::text ~* 'tesco|coffee|payroll'")" = 0

# --- the same bytes again -----------------------------------------------------
json_upload "$D/basic.csv"
check "the same file again is 200 with the same importId" body_jq ".importId == \"$IMPORT\" and .duplicateUpload == true and .rowsTotal == 5"
check "and stages nothing new" test "$(counts)" = "1/5"

# --- multipart, raw, other formats ----------------------------------------------
request POST "$FN" "${AUTH[@]}" -F "file=@$D/bank.ofx;type=application/x-ofx" -F "userId=$USER_ID"
check "an OFX file as multipart is 200 (got $STATUS)" test "$STATUS" = 200
check "it is OFX with 3 rows in USD" body_jq '.format == "ofx" and .rowsTotal == 3 and .totals.currency == "USD" and .totals.netMinor == 144784'
check "the multipart file name is kept" test "$(sql "SELECT file_name FROM imports WHERE id = '$(jq -r .importId "$T/body")'")" = bank.ofx
request POST "$FN?fileName=overlap.csv&currency=EUR" "${AUTH[@]}" -H 'Content-Type: text/csv' --data-binary @"$D/overlap.csv"
check "a raw CSV body is 200 (got $STATUS)" test "$STATUS" = 200
check "the request's currency applies when the file has none" body_jq '.totals.currency == "EUR" and .preview[0].currency == "EUR"'

# --- verdicts against committed transactions --------------------------------------
sql "INSERT INTO transactions (user_id, import_id, tx_date, amount_minor, currency, description, category, dedup_hash)
     SELECT user_id, import_id, tx_date, amount_minor, currency, description, category, dedup_hash
     FROM transactions_staging WHERE import_id = '$IMPORT' AND user_id = '$USER_ID' AND row_no = 5" >/dev/null
printf 'Date,Description,Amount\n2024-01-20,NETFLIX.COM,-15.99\n2024-01-21,NETFLIX MONTHLY,-15.99\n2024-02-01,Bakery,-4.00\n' > "$T/verdicts.csv"
request POST "$FN?fileName=v.csv" "${AUTH[@]}" -H 'Content-Type: text/csv' --data-binary @"$T/verdicts.csv"
check "a row already committed is an exact duplicate" body_jq '.preview[0].verdict == "duplicate"'
check "the same amount a day later with other text is a possible duplicate" body_jq \
  '.preview[1].verdict == "possible_duplicate" and (.preview[1].reason | test("2024-01-20"))'
check "an unrelated row is new" body_jq '.preview[2].verdict == "new"'

# --- a corrected mapping is remembered for the next file of that layout ------------
printf 'Date,Description,Amount,Balance\n2024-05-01,CARD PURCHASE ONE,12.00,100.00\n' > "$T/card1.csv"
printf 'Date,Description,Amount,Balance\n2024-06-01,CARD PURCHASE TWO,30.00,70.00\n' > "$T/card2.csv"
json_upload "$T/card1.csv" '{mapping: {negate: true}}'
check "a mapping in the request overrides what was inferred" body_jq '.columns.negate == true and .preview[0].amountMinor == -1200'
json_upload "$T/card2.csv"
check "the next file with the same header layout uses the remembered mapping" body_jq \
  '.columns.negate == true and .preview[0].amountMinor == -3000'
check "one mapping is stored for the user" test "$(sql "SELECT count(*) FROM csv_mappings WHERE user_id = '$USER_ID'")" = 1

# --- the same file again with a corrected mapping, before commit: read anew ------------
printf 'Date,Description,Amount,Balance\n2024-07-01,CARD PURCHASE THREE,8.00,62.00\n' > "$T/card3.csv"
json_upload "$T/card3.csv" '{mapping: {negate: false}}'
FIRST="$(jq -r .importId "$T/body")"
check "a third file, read with negate false" body_jq '.preview[0].amountMinor == 800'
json_upload "$T/card3.csv" '{mapping: {negate: true}}'
check "sent again with a corrected mapping: a new import, read with it (not duplicateUpload)" body_jq \
  ".importId != \"$FIRST\" and (has(\"duplicateUpload\") | not) and .preview[0].amountMinor == -800"
check "the earlier preview is superseded and its staged rows are gone" test \
  "$(sql "SELECT status || '/' || failure_reason || '/' || (SELECT count(*) FROM transactions_staging WHERE import_id = '$FIRST') FROM imports WHERE id = '$FIRST'")" = "failed/superseded/0"
json_upload "$T/card3.csv"
check "the same file without a mapping answers the new import" body_jq '.duplicateUpload == true and .preview[0].amountMinor == -800'

# --- identity ---------------------------------------------------------------------
before="$(counts)"
request POST "$FN" -H 'Content-Type: text/csv' --data-binary @"$D/basic.csv"
check "no token is 401 (got $STATUS)" test "$STATUS" = 401
json_upload "$D/overlap.csv" "{userId: \"$OTHER_ID\"}"
check "a body userId that is not the token's user is 403 (got $STATUS)" test "$STATUS" = 403
request GET "$FN" "${AUTH[@]}"
check "GET is 405 (got $STATUS)" test "$STATUS" = 405

# --- bad input: 4xx JSON, nothing changes -------------------------------------------
bad() {  # bad DESCRIPTION STATUS CODE curl-args...
  local what=$1 want=$2 code=$3; shift 3
  request POST "$FN${QUERY:-}" "${AUTH[@]}" "$@"
  check "$what is $want (got $STATUS)" test "$STATUS" = "$want"
  check "$what has the error shape with code $code" body_jq ".ok == false and .code == \"$code\" and (.error | type) == \"string\""
}
bad "an empty file" 400 empty_file -H 'Content-Type: text/csv' --data-binary ''
: > "$T/empty"; bad "an empty multipart file" 400 empty_file -F "file=@$T/empty"
bad "a PNG image" 400 not_a_statement -H 'Content-Type: application/octet-stream' --data-binary @"$D/image.png"
bad "a header-only CSV" 400 parse_error -H 'Content-Type: text/csv' --data-binary @"$D/header-only.csv"
bad "a truncated OFX" 400 parse_error -H 'Content-Type: application/x-ofx' --data-binary @"$D/truncated.ofx"
check "the truncated OFX error names a line" body_jq '.error | test("line [0-9]+")'
bad "invalid base64" 400 bad_base64 -H 'Content-Type: application/json' --data-binary "{\"userId\":\"$USER_ID\",\"contentBase64\":\"@@@\"}"
bad "JSON without the file" 400 missing_file -H 'Content-Type: application/json' --data-binary "{\"userId\":\"$USER_ID\"}"
bad "broken JSON" 400 invalid_json -H 'Content-Type: application/json' --data-binary '{"userId":'
QUERY='?currency=euro' bad "a bad currency" 400 bad_field -H 'Content-Type: text/csv' --data-binary @"$D/basic.csv"
bad "a multipart body without a file" 400 missing_file -F "userId=$USER_ID"
bad "a truncated multipart body" 400 bad_multipart -H 'Content-Type: multipart/form-data; boundary=zz' --data-binary $'--zz\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc'
check "bad uploads changed no imports or staged rows" test "$(counts)" = "$before"
check "the failures were recorded as error events without an import" test \
  "$(sql "SELECT count(*) FROM import_events WHERE user_id = '$USER_ID' AND event_type IN ('import:upload:error','import:parse:error') AND import_id IS NULL")" -ge 5
# --- staged rows hold exactly what was parsed (binary COPY round trip) ---------
printf 'Date,Description,Amount,Reference\n1999-12-31,Caf\xc3\xa9 "M\xc3\xbcller"\tund S\xc3\xb6hne,-1234567.89,\n2000-01-01,Back\\slash,0.01,REF-1\n2024-02-29,LEAP DAY,-0.50,\n2100-03-01,FUTURE,42.00,REF-2\n' > "$T/edges.csv"
request POST "$FN?fileName=edges.csv&currency=EUR" "${AUTH[@]}" -H 'Content-Type: text/csv' --data-binary @"$T/edges.csv"
check "a CSV with edge dates is 200 (got $STATUS)" test "$STATUS" = 200
EDGES="$(jq -r .importId "$T/body")"
check "its staged rows read back exactly (dates, amounts, text, NULLs, line numbers)" test \
  "$(sql "SELECT string_agg(concat_ws('|', row_no, line, tx_date, amount_minor, currency, description,
                 coalesce(bank_id, 'NULL'), coalesce(counterparty, 'NULL'), length(dedup_hash)), ';' ORDER BY row_no)
          FROM transactions_staging WHERE import_id = '$EDGES' AND user_id = '$USER_ID'")" = \
  "1|2|1999-12-31|-123456789|EUR|Café \"Müller\" und Söhne|NULL|Café Müller und Söhne|66;2|3|2000-01-01|1|EUR|Back\\slash|REF-1|Back\\slash|64;3|4|2024-02-29|-50|EUR|LEAP DAY|NULL|LEAP DAY|66;4|5|2100-03-01|4200|EUR|FUTURE|REF-2|FUTURE|64"
check "the staged rows carry the import's user and the hash the preview used" test \
  "$(sql "SELECT count(*) FROM transactions_staging WHERE import_id = '$EDGES' AND user_id = '$USER_ID' AND dedup_hash ~ '^[0-9a-f]{64}(-[0-9]+)?$'")" = 4
finish
