#!/usr/bin/env bash
# t0080-bulk-import: bulk purchase imports through nginx (modules/bulk): merchants and their
# reference data (POST /api/merchants, PUT skus/customers/tiers/missions: limits, bad input 400
# writing nothing, another user's merchant 404); a good file (multipart and raw body) ->
# completed with exact purchases, items, minor units and UTC times; one failing file per
# validation rule (the batch failed with line, column and reason; nothing written); every
# problem counted, the first 100 listed; dry run (the report, nothing written); the same file
# again (the existing batch); list; another merchant's batch 404; bad multipart / binary /
# empty / header-only / missing columns -> 4xx JSON writing nothing; retry after fixing the
# reference data; two imports of one merchant run one after the other (the lane); kill -9 of
# the worker inside the insert transaction (nothing written, then completed once).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed to look at the database}"
USER_ID="$(cat /proc/sys/kernel/random/uuid)" OTHER_ID="$(cat /proc/sys/kernel/random/uuid)"
AUTH=(-H "Authorization: Bearer $(fast_token "$USER_ID")")
OTHER=(-H "Authorization: Bearer $(fast_token "$OTHER_ID")")
JSON=(-H 'Content-Type: application/json')
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
post() { local path=$1 body=$2; shift 2; request POST "$path" "$@" "${JSON[@]}" --data-binary "$body"; }
put() { local path=$1 body=$2; shift 2; request PUT "$path" "$@" "${JSON[@]}" --data-binary "$body"; }
is_error() {   # is_error STATUS CODE: the last answer was that JSON error
  [[ $STATUS == "$1" ]] && is_json_ct && jq -e --arg c "$2" '.ok == false and .code == $c and (.error | length > 0)' \
    "$T/body" >/dev/null
}

# --- merchants and reference data ----------------------------------------------------------
post /api/merchants '{"name":"Corner Shop","currency":"EUR","points_per_unit":2}' "${AUTH[@]}"
M="$(jq -r '.id // empty' "$T/body")"
check "POST /api/merchants -> 201 with its id ($STATUS)" bash -c "[[ $STATUS == 201 && -n '$M' ]]"
check "the caller is the merchant's admin" test "$(sql "SELECT count(*) FROM merchant_admins WHERE merchant_id = '$M' AND user_id = '$USER_ID'")" = 1
post /api/merchants '{"name":"Other Shop","currency":"JPY"}' "${OTHER[@]}"
M2="$(jq -r '.id // empty' "$T/body")"
post /api/merchants '{"name":"x","currency":"XYZ"}' "${AUTH[@]}"
check "a merchant with a currency that is not ISO 4217 -> 400" is_error 400 bad_field
post /api/merchants '{"currency":"EUR"}' "${AUTH[@]}"
check "a merchant without a name -> 400" is_error 400 bad_field
request POST /api/merchants "${JSON[@]}" --data-binary '{"name":"x","currency":"EUR"}'
check "no token -> 401 ($STATUS)" bash -c "[[ $STATUS == 401 ]]"

put "/api/merchants/$M/skus" '[{"sku_id":"S1","name":"Coffee","price_minor":250},{"sku_id":"S2","name":"Cake"},
  {"sku_id":"S3"},{"sku_id":"S4"},{"sku_id":"S1","name":"Coffee beans","price_minor":900}]' "${AUTH[@]}"
check "PUT skus -> 200, 4 upserted (S1 twice: the last wins)" jqf '.upserted == 4 and .received == 5' "$T/body"
check "S1 holds the last of its two elements" test "$(sql "SELECT name || price_minor FROM merchant_skus WHERE merchant_id = '$M' AND sku_id = 'S1'")" = "Coffee beans900"
put "/api/merchants/$M/customers" '{"items":[{"customer_id":"C1","name":"Ann","email":"ann@example.com"},
  {"customer_id":"C2","name":"Bob"},{"customer_id":"C3"}]}' "${AUTH[@]}"
check "PUT customers ({items}) -> 200, 3 upserted" jqf '.upserted == 3' "$T/body"
put "/api/merchants/$M/tiers" '[{"tier":"silver","min_spend_minor":0},{"tier":"gold","min_spend_minor":10000}]' "${AUTH[@]}"
check "PUT tiers -> 200" jqf '.upserted == 2' "$T/body"
put "/api/merchants/$M/missions" '[{"mission_id":"m1","kind":"spend","target":5000},
  {"mission_id":"m2","kind":"sku_quantity","target":3,"sku_id":"S1"}]' "${AUTH[@]}"
check "PUT missions -> 200" jqf '.upserted == 2' "$T/body"
for bad in '[{"sku_id":""}]' '[{"sku_id":"S9","price_minor":-1}]' '[{"sku_id":"S9","price_minor":1.5}]' '[1]' \
           '{"items":"x"}' '[{"sku_id":"S9"},{"name":"no id"}]'; do
  put "/api/merchants/$M/skus" "$bad" "${AUTH[@]}"
  check "PUT skus $bad -> 400 JSON" bash -c "[[ $STATUS == 400 ]] && jq -e '.ok == false' '$T/body' >/dev/null"
done
put "/api/merchants/$M/missions" '[{"mission_id":"m3","kind":"spend","target":5,"sku_id":"S1"}]' "${AUTH[@]}"
check "a spend mission with a sku_id -> 400" is_error 400 bad_field
put "/api/merchants/$M/skus" '[{"sku_id":"S9"},' "${AUTH[@]}"
check "PUT skus with broken JSON -> 400 invalid_json" is_error 400 invalid_json
check "the bad PUTs wrote nothing" test "$(sql "SELECT count(*) FROM merchant_skus WHERE merchant_id = '$M' AND sku_id = 'S9'")" = 0
put "/api/merchants/$M/skus" '[{"sku_id":"S9"}]' "${OTHER[@]}"
check "another user's PUT on the merchant -> 404" is_error 404 not_found
check "... and wrote nothing" test "$(sql "SELECT count(*) FROM merchant_skus WHERE sku_id = 'S9'")" = 0
request GET "/api/merchants/$M" "${OTHER[@]}"
check "another user's GET of the merchant -> 404" is_error 404 not_found
request GET "/api/merchants/$M" "${AUTH[@]}"
check "GET /api/merchants/{id} counts its reference data" jqf '.skus == 4 and .customers == 3 and .tiers == 2 and .missions == 2' "$T/body"
seq 1 10001 | awk 'BEGIN { printf "[" } { printf "%s{\"sku_id\":\"B%d\"}", (NR > 1 ? "," : ""), $1 } END { printf "]" }' > "$T/big.json"
request PUT "/api/merchants/$M/skus" "${AUTH[@]}" "${JSON[@]}" --data-binary "@$T/big.json"
check "more than 10,000 items in one PUT -> 413" is_error 413 too_many_items

# --- helpers for imports -------------------------------------------------------------------
HEAD="transaction_number,customer_id,purchased_at,currency,sku_id,quantity,unit_price,discount,store,note"
upload() {   # upload FILE [merchant] [auth...]: multipart; sets BATCH
  local file=$1 merchant=${2:-$M}; shift 2 || shift $#
  local auth=("$@"); (( ${#auth[@]} )) || auth=("${AUTH[@]}")
  MAX_TIME=60 request POST /api/import/purchases "${auth[@]}" -F "file=@$file;type=text/csv" -F "merchant_id=$merchant" \
    -F "batch_name=$(basename "$file")"
  BATCH="$(jq -r '.batch_id // empty' "$T/body")"
}
wait_batch() {   # wait_batch ID [seconds]: until completed or failed
  local i
  for (( i = 0; i < ${2:-30} * 10; i++ )); do
    [[ $(sql "SELECT status FROM bulk_import_batches WHERE id = '$1'") == @(completed|failed) ]] && return 0
    sleep 0.1
  done
  return 1
}
status() { request GET "/api/import/status/$1" "${AUTH[@]}"; }
purchases() { sql "SELECT count(*) FROM purchases WHERE merchant_id = '$M'"; }
items() { sql "SELECT count(*) FROM purchase_items WHERE merchant_id = '$M'"; }

# --- a good file ----------------------------------------------------------------------------
cat > "$T/good.csv" <<EOF
$HEAD
T1,C1,2024-01-15T10:00:00+01:00,EUR,S1,2,2.50,,Main St,first
T1,C1,2024-01-15T10:00:00+01:00,EUR,S2,1,0.29,0.09,Main St,first
T1,C1,2024-01-15T10:00:00+01:00,EUR,S3,3,1234567.89,,Main St,first
T2,C2,2024-01-16,EUR,S1,1,9.99,,,
T2,C2,2024-01-16,EUR,S4,10,0.10,1.00,,
"T3",C3,"2024-01-17 08:30:00Z",JPY,S2,4,150,,"Shop, ""B""",
EOF
upload "$T/good.csv"
check "a good file -> 202 {success, batch_id, message} ($STATUS)" \
  bash -c "[[ $STATUS == 202 ]] && jq -e '.success == true and (.batch_id | length == 36) and (.message | length > 0)' '$T/body' >/dev/null"
GOOD="$BATCH"
wait_batch "$GOOD"
status "$GOOD"
check "its status: completed, 3 purchases, 6 items, timestamps, 100 percent" jqf '.status == "completed"
  and .imported_purchases == 3 and .imported_items == 6 and (.started_at | length > 0) and (.completed_at | length > 0)
  and .progress.percent == 100 and .progress.rows_total == 6 and .progress.rows_validated == 6
  and .progress.rows_inserted == 6 and .errors == [] and .error_message == null and has("cdc")' "$T/body"
check "its status sums what it imported per currency, in minor units (totals)" jqf '.totals == [
  {"currency": "EUR", "total_minor": 370371886, "purchases": 2}, {"currency": "JPY", "total_minor": 600, "purchases": 1}]' "$T/body"
check "purchases hold the exact totals in minor units" test "$(sql "SELECT string_agg(transaction_number || '=' || total_minor || currency, ' ' ORDER BY id) FROM purchases WHERE batch_id = '$GOOD'")" = "T1=370370887EUR T2=999EUR T3=600JPY"
check "the time with an offset is stored in UTC; without a zone it is UTC" test "$(sql "SELECT string_agg(to_char(purchased_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), ' ' ORDER BY id) FROM purchases WHERE batch_id = '$GOOD'")" = "2024-01-15 09:00 2024-01-16 00:00 2024-01-17 08:30"
check "items: quantities, prices, discounts and line totals exact" test "$(sql "SELECT string_agg(sku_id || ':' || quantity || 'x' || unit_price_minor || '-' || discount_minor || '=' || line_total_minor, ' ' ORDER BY id) FROM purchase_items WHERE purchase_id IN (SELECT id FROM purchases WHERE batch_id = '$GOOD')")" = "S1:2x250-0=500 S2:1x29-9=20 S3:3x123456789-0=370370367 S1:1x999-0=999 S4:10x10-100=0 S2:4x150-0=600"
check "store and note are kept (quoted cells read)" test "$(sql "SELECT coalesce(store, '-') || '|' || coalesce(note, '-') FROM purchases WHERE batch_id = '$GOOD' ORDER BY id" | tr '\n' ' ')" = 'Main St|first -|- Shop, "B"|- '
check "every row carries the merchant" test "$(sql "SELECT count(*) FROM purchase_items i JOIN purchases p ON p.id = i.purchase_id WHERE p.batch_id = '$GOOD' AND i.merchant_id = p.merchant_id AND p.merchant_id = '$M'")" = 6
check "the staged rows of a completed batch are gone" test "$(sql "SELECT count(*) FROM bulk_import_staging WHERE batch_id = '$GOOD'")" = 0
check "the job ran in the merchant's lane" test "$(sql "SELECT queue || ':' || state FROM jobs WHERE task = 'bulk.import' AND job_key = '$GOOD'")" = "$M:succeeded"

# the raw CSV as the body, fields as query parameters, header aliases, ; delimiter
printf 'Order ID;Customer;Date;SKU;Qty;Price\nR1;C1;2024-02-01;S1;1;3,00\n' > "$T/raw-bad.csv"
printf 'Order ID;Customer;Date;SKU;Qty;Price\nR1;C1;2024-02-01;S1;1;3.00\nR2;C2;2024-02-02;S2;2;1\n' > "$T/raw.csv"
MAX_TIME=60 request POST "/api/import/purchases?merchant_id=$M&batch_name=raw" "${AUTH[@]}" -H 'Content-Type: text/csv' \
  --data-binary "@$T/raw.csv"
RAW="$(jq -r '.batch_id // empty' "$T/body")"
check "the raw CSV as the body -> 202 ($STATUS)" bash -c "[[ $STATUS == 202 && -n '$RAW' ]]"
wait_batch "$RAW"
status "$RAW"
check "... completed: aliases and ; read, the merchant's currency taken" jqf '.status == "completed" and .imported_purchases == 2
  and .columns.transaction_number == "Order ID" and .batch_name == "raw"' "$T/body"
check "... R1 = 300 EUR" test "$(sql "SELECT total_minor || currency FROM purchases WHERE merchant_id = '$M' AND transaction_number = 'R1'")" = 300EUR

# a mapping names columns the aliases do not know
printf 'Beleg,Kunde,Zeit,Artikel,Menge,Preis\nMAP1,C1,2024-03-01,S1,1,1.00\n' > "$T/mapped.csv"
MAX_TIME=60 request POST /api/import/purchases "${AUTH[@]}" -F "file=@$T/mapped.csv" -F "merchant_id=$M" \
  -F 'mapping={"transaction_number":"Beleg","customer_id":"Kunde","purchased_at":"Zeit","sku_id":"Artikel","quantity":"Menge","unit_price":5}'
MAPPED="$(jq -r '.batch_id // empty' "$T/body")"
wait_batch "$MAPPED"
check "a mapping field maps the columns -> completed" test "$(sql "SELECT status FROM bulk_import_batches WHERE id = '$MAPPED'")" = completed
printf 'MAP2,C1,2024-03-01,S1,1,1.00\n' >> "$T/mapped.csv"
MAX_TIME=60 request POST /api/import/purchases "${AUTH[@]}" -F "file=@$T/mapped.csv" -F "merchant_id=$M" -F 'mapping={"quantity":"Nope"}'
check "a mapping naming a header that is not there -> 400 bad_mapping" is_error 400 bad_mapping

# --- each validation rule fails the batch, writing nothing but it ---------------------------
P0="$(purchases)" I0="$(items)"
bad_file() {   # bad_file WHAT LINE COLUMN REASON-REGEX ROWS...
  local what=$1 line=$2 col=$3 re=$4; shift 4
  { echo "$HEAD"; printf '%s\n' "$@"; } > "$T/bad.csv"
  upload "$T/bad.csv"
  local id="$BATCH"
  if [[ $STATUS != 202 ]] || ! wait_batch "$id"; then not_ok "$what: queued and ended ($STATUS)"; return; fi
  status "$id"
  check "$what -> failed at line $line, column $col" jqf --argjson l "$line" --arg c "$col" --arg re "$re" '.status == "failed"
    and .error_code == "validation_failed" and (.error_message | length > 0) and .problems_total >= 1
    and (.errors[0] | .line == $l and .column == $c and (.reason | test($re)))' "$T/body"
  check "$what: nothing written" test "$(purchases):$(items)" = "$P0:$I0"
}
OK="V1,C1,2024-01-01,EUR,S1,1,1.00,,,"
bad_file "an unknown customer" 3 customer_id "not a customer" "$OK" "V2,C9,2024-01-01,EUR,S1,1,1.00,,,"
bad_file "an unknown SKU" 2 sku_id "not a SKU" "V1,C1,2024-01-01,EUR,S7,1,1.00,,," "V2,C1,2024-01-01,EUR,S1,1,1.00,,,"
bad_file "a quantity of 0" 2 quantity "whole number" "V1,C1,2024-01-01,EUR,S1,0,1.00,,,"
bad_file "a fractional quantity" 2 quantity "whole number" "V1,C1,2024-01-01,EUR,S1,1.5,1.00,,,"
bad_file "a negative price" 2 unit_price "negative" "V1,C1,2024-01-01,EUR,S1,1,-1.00,,,"
bad_file "a price with too many decimals" 2 unit_price "decimals" "V1,C1,2024-01-01,EUR,S1,1,1.001,,,"
bad_file "a currency that is not ISO 4217" 3 currency "ISO 4217" "V1,C1,2024-01-01,EUR,S1,1,1.00,,," "V1,C1,2024-01-01,EUX,S2,1,1.00,,,"
bad_file "a date that is not ISO 8601" 2 purchased_at "ISO 8601" "V1,C1,01/02/2024,EUR,S1,1,1.00,,,"
bad_file "rows of one purchase that disagree (customer)" 3 customer_id "differs from line 2" "$OK" "V1,C2,2024-01-01,EUR,S2,1,1.00,,,"
bad_file "rows of one purchase that disagree (time)" 3 purchased_at "differs from line 2" "$OK" "V1,C1,2024-01-02,EUR,S2,1,1.00,,,"
bad_file "a transaction number already imported" 3 transaction_number "already imported" "$OK" "T2,C2,2024-01-16,EUR,S1,1,9.99,,,"
bad_file "an empty customer" 2 customer_id "empty" "V1,,2024-01-01,EUR,S1,1,1.00,,,"
bad_file "a discount above the line" 2 discount "more than" "V1,C1,2024-01-01,EUR,S1,1,1.00,2.00,,"

{ echo "$HEAD"; for i in $(seq 1 150); do echo "W$i,C9,2024-01-01,EUR,S1,1,1.00,,,"; done; echo "W151,C1,2024-01-01,EUR,S1,1,1.00,,,"; } > "$T/many.csv"
upload "$T/many.csv"; MANY="$BATCH"
wait_batch "$MANY"; status "$MANY"
check "150 problems: all counted, the first 100 listed in line order" jqf '.status == "failed" and .problems_total == 150
  and (.errors | length == 100) and .errors[0].line == 2 and .errors[99].line == 101 and (.error_message | test("150 problems"))
  and .totals == []' "$T/body"
check "... nothing written" test "$(purchases):$(items)" = "$P0:$I0"

# --- dry run --------------------------------------------------------------------------------
B0="$(sql "SELECT count(*) FROM bulk_import_batches WHERE merchant_id = '$M'")"
printf '%s\nD1,C1,2024-05-01,EUR,S1,2,1.00,,,\nD1,C1,2024-05-01,EUR,S2,1,1.00,,,\nD2,C2,2024-05-01,EUR,S1,1,1.00,,,\n' "$HEAD" > "$T/dry.csv"
MAX_TIME=60 request POST "/api/import/purchases?dry_run=true" "${AUTH[@]}" -F "file=@$T/dry.csv" -F "merchant_id=$M"
check "dry run of a valid file -> 200 the report" jqf '.success == true and .dry_run == true and .valid == true
  and .purchases == 2 and .items == 3 and .problems_total == 0 and .errors == []' "$T/body"
printf '%s\nD1,C1,2024-05-01,EUR,S1,2,1.00,,,\nD1,C2,2024-05-01,EUR,S9,1,1.00,,,\n' "$HEAD" > "$T/dry-bad.csv"
MAX_TIME=60 request POST /api/import/purchases "${AUTH[@]}" -F "file=@$T/dry-bad.csv" -F "merchant_id=$M" -F dry_run=true
check "dry run of an invalid file -> 200 with its problems" jqf '.dry_run == true and .valid == false and .problems_total == 2
  and ([.errors[].column] == ["customer_id", "sku_id"])' "$T/body"
check "the dry runs wrote nothing (no batch, no staged row, no purchase)" test \
  "$(sql "SELECT count(*) FROM bulk_import_batches WHERE merchant_id = '$M'"):$(sql "SELECT count(*) FROM bulk_import_staging WHERE merchant_id = '$M' AND batch_id NOT IN (SELECT id FROM bulk_import_batches)"):$(purchases)" = "$B0:0:$P0"

# --- the same file again --------------------------------------------------------------------
upload "$T/good.csv"
check "the same file again -> 200 the existing batch" bash -c "[[ $STATUS == 200 ]] && jq -e --arg b '$GOOD' '.duplicate == true
  and .batch_id == \$b and .batch.status == \"completed\"' '$T/body' >/dev/null"
check "... and no new batch" test "$(sql "SELECT count(*) FROM bulk_import_batches WHERE merchant_id = '$M'")" = "$B0"

# --- list, and another merchant's batch -----------------------------------------------------
request GET "/api/import/list/$M" "${AUTH[@]}"
check "list: the merchant's batches, newest first" jqf --argjson n "$B0" --arg g "$GOOD" '(.batches | length) == ([$n, 50] | min)
  and ([.batches[].created_at] == ([.batches[].created_at] | sort | reverse)) and (.batches | map(.id) | index($g) != null)' "$T/body"
request GET "/api/import/list/$M" "${OTHER[@]}"
check "another user's list of the merchant -> 404" is_error 404 not_found
status "$GOOD"; request GET "/api/import/status/$GOOD" "${OTHER[@]}"
check "another merchant's admin asking for the batch -> 404" is_error 404 not_found
request POST "/api/import/retry/$MANY" "${OTHER[@]}"
check "another merchant's admin retrying the batch -> 404" is_error 404 not_found
request GET "/api/import/status/$(cat /proc/sys/kernel/random/uuid)" "${AUTH[@]}"
check "an unknown batch -> the same 404" is_error 404 not_found
request GET "/api/import/status/42" "${AUTH[@]}"
check "a batch id that is not a UUID -> 404" is_error 404 not_found
upload "$T/dry.csv" "$M2"
check "an upload to another user's merchant -> 404" is_error 404 not_found

# --- bad uploads: 4xx JSON, nothing written ----------------------------------------------------
B1="$(sql "SELECT count(*) FROM bulk_import_batches")"
printf -- '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\nabc' > "$T/broken.mp"
request POST /api/import/purchases "${AUTH[@]}" -H 'Content-Type: multipart/form-data; boundary=XyZ' --data-binary "@$T/broken.mp"
check "a broken multipart body -> 400 JSON ($STATUS)" bash -c "[[ $STATUS == 400 ]] && jq -e '.ok == false and .code == \"bad_multipart\"' '$T/body' >/dev/null"
request POST /api/import/purchases "${AUTH[@]}" -H 'Content-Type: multipart/form-data' --data-binary 'x'
check "multipart without a boundary -> 400 JSON" is_error 400 bad_multipart
head -c 3000 /dev/urandom > "$T/random.bin"; printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR' | cat - "$T/random.bin" > "$T/image.png"
upload "$T/image.png"
check "a binary file -> 415 not_text JSON" is_error 415 not_text
: > "$T/empty.csv"
upload "$T/empty.csv"
check "an empty file -> 422 empty_file JSON" is_error 422 empty_file
echo "$HEAD" > "$T/header.csv"
upload "$T/header.csv"
check "a header without rows -> 422 no_rows JSON" is_error 422 no_rows
printf 'a,b,c\n1,2,3\n' > "$T/nocols.csv"
upload "$T/nocols.csv"
check "a file without the purchase columns -> 422 missing_columns naming them" bash -c "[[ $STATUS == 422 ]] && jq -e '.code == \"missing_columns\" and (.error | test(\"transaction_number\"))' '$T/body' >/dev/null"
printf '%s\nQ1,C1,2024-01-01,EUR,S1,1,"open\n' "$HEAD" > "$T/quote.csv"
upload "$T/quote.csv"
check "an unterminated quote -> 422 bad_csv naming the line" bash -c "[[ $STATUS == 422 ]] && jq -e '.code == \"bad_csv\" and (.error | test(\"line 2\"))' '$T/body' >/dev/null"
MAX_TIME=60 request POST /api/import/purchases "${AUTH[@]}" -F "file=@$T/good.csv"
check "no merchant_id -> 400 missing_field" is_error 400 missing_field
MAX_TIME=60 request POST /api/import/purchases "${AUTH[@]}" -F "file=@$T/good.csv" -F merchant_id=nope
check "a merchant_id that is not a UUID -> 400 invalid_id" is_error 400 invalid_id
MAX_TIME=60 request POST /api/import/purchases -F "file=@$T/good.csv" -F "merchant_id=$M"
check "no token -> 401" bash -c "[[ $STATUS == 401 ]]"
check "the bad uploads wrote nothing" test "$(sql "SELECT count(*) FROM bulk_import_batches")" = "$B1"

# --- retry after fixing the reference data -----------------------------------------------------
printf '%s\nRT1,C7,2024-06-01,EUR,S1,1,5.00,,,\nRT1,C7,2024-06-01,EUR,S8,2,1.00,,,\n' "$HEAD" > "$T/retry.csv"
upload "$T/retry.csv"; RETRY="$BATCH"
wait_batch "$RETRY"
check "a file with an unknown customer and SKU fails" test "$(sql "SELECT status || problems_total FROM bulk_import_batches WHERE id = '$RETRY'")" = failed3
request POST "/api/import/retry/$RETRY" "${AUTH[@]}"
check "a retry before the fix -> 202" bash -c "[[ $STATUS == 202 ]]"
wait_batch "$RETRY"
check "... fails again, retries = 1" test "$(sql "SELECT status || retries FROM bulk_import_batches WHERE id = '$RETRY'")" = failed1
put "/api/merchants/$M/customers" '[{"customer_id":"C7"}]' "${AUTH[@]}"
put "/api/merchants/$M/skus" '[{"sku_id":"S8"}]' "${AUTH[@]}"
request POST "/api/import/retry/$RETRY" "${AUTH[@]}"
check "a retry after the fix -> 202 pending" jqf '.success == true and .status == "pending" and .retries == 2' "$T/body"
wait_batch "$RETRY"; status "$RETRY"
check "... completed without uploading again" jqf '.status == "completed" and .imported_purchases == 1 and .imported_items == 2
  and .errors == [] and .retries == 2' "$T/body"
request POST "/api/import/retry/$RETRY" "${AUTH[@]}"
check "retrying a completed batch -> 409 not_failed" is_error 409 not_failed

# --- two imports of one merchant run one after the other ------------------------------------------
gen() {   # gen FILE PREFIX PURCHASES: 3 items per purchase
  awk -v p="$2" -v n="$3" -v h="$HEAD" 'BEGIN { print h; for (i = 1; i <= n; i++) for (k = 1; k <= 3; k++)
    printf "%s%d,C%d,2024-07-01T10:00:00Z,EUR,S%d,%d,1.%02d,,,\n", p, i, i % 3 + 1, k, k, i % 100 }' > "$1"
}
gen "$T/lane-a.csv" LA 4000; gen "$T/lane-b.csv" LB 4000
upload "$T/lane-a.csv"; LA="$BATCH"
upload "$T/lane-b.csv"; LB="$BATCH"
wait_batch "$LA" 60; wait_batch "$LB" 60
check "both imports of the merchant completed (12,000 items each)" test "$(sql "SELECT string_agg(status || imported_items, ' ' ORDER BY created_at) FROM bulk_import_batches WHERE id IN ('$LA', '$LB')")" = "completed12000 completed12000"
check "... one after the other: the second started after the first completed" test "$(sql "SELECT (b.started_at >= a.completed_at OR a.started_at >= b.completed_at) FROM bulk_import_batches a, bulk_import_batches b WHERE a.id = '$LA' AND b.id = '$LB'")" = t

# --- kill -9 of the worker inside the insert transaction ------------------------------------------
PIDFILE="$SMARTIMPORT_TEST_VAR/run/worker.pid"
gen "$T/crash.csv" KX 2000
P1="$(purchases)"
# Hold the merchant's row (as an UPDATE of it would): the import's transaction inserts every
# purchase and item, then waits at its FOR SHARE of the merchant, uncommitted.  (The upload's
# foreign-key check takes FOR KEY SHARE, which this lock lets through.)
psql -X -q "$DATABASE_URL" -c "SET application_name = 't0080-locker'" -c "BEGIN" \
  -c "SELECT 1 FROM merchants WHERE id = '$M' FOR NO KEY UPDATE" -c "SELECT pg_sleep(60)" -c "COMMIT" >/dev/null 2>&1 &
LOCKER=$!
at_exit stop_locker
stop_locker() { sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 't0080-locker'" >/dev/null; kill "$LOCKER" 2>/dev/null || true; }
for (( i = 0; i < 50; i++ )); do
  [[ $(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 't0080-locker' AND query LIKE '%pg_sleep%'") == 1 ]] && break
  sleep 0.1
done
upload "$T/crash.csv"; CRASH="$BATCH"
waiting=0
for (( i = 0; i < 300; i++ )); do
  XID="$(sql "SELECT backend_xid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'SELECT 1 FROM merchants WHERE id = \$1 FOR SHARE%'")"
  if [[ -n $XID ]]; then waiting=1; break; fi
  sleep 0.1
done
check "the import reached its insert and waits, uncommitted" test "$waiting" = 1
OLD_PID="$(cat "$PIDFILE")"
echo "$OLD_PID" >> "$SMARTIMPORT_TEST_VAR/log/expected-crashes"   # scripts/test: a kill on purpose
kill -9 "$OLD_PID"
sleep 0.3
stop_locker
wait "$LOCKER" 2>/dev/null || true
for (( i = 0; i < 50; i++ )); do
  [[ $(sql "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT 1 FROM merchants WHERE id = \$1 FOR SHARE%'") == 0 ]] && break
  sleep 0.1
done
# (The restarted worker may already be running the job again: judge the killed transaction itself.)
check "after kill -9 mid-insert: the insert transaction was rolled back" test "$(sql "SELECT pg_xact_status('$XID'::xid8)")" = aborted
check "... none of its purchases or items is there" test "$(sql "SELECT (SELECT count(*) FROM purchases WHERE xmin = '$XID'::xid) + (SELECT count(*) FROM purchase_items WHERE xmin = '$XID'::xid)")" = 0
wait_batch "$CRASH" 60
check "the restarted worker completes it once: 2,000 purchases, 6,000 items" test "$(sql "SELECT status || imported_purchases || '/' || imported_items FROM bulk_import_batches WHERE id = '$CRASH'"):$(sql "SELECT count(*) FROM purchases WHERE batch_id = '$CRASH'")" = "completed2000/6000:2000"
check "... a new worker process did it" bash -c "[[ \$(cat '$PIDFILE') != '$OLD_PID' ]]"
check "the merchant's purchases grew by exactly the batch" test "$(purchases)" = $(( P1 + 2000 ))

# --- the file limit is the bulk import's own 100 MB, not the stack's 64 MB body limit ---------
# (raw body: 66 MB of binary passes nginx and the responder's body limit, then is refused as
# not text; 102 MB is refused by nginx at its Content-Length, before anything is read)
head -c $(( 66 * 1024 * 1024 )) /dev/urandom > "$T/big.bin"
before="$(sql "SELECT count(*) FROM bulk_import_batches WHERE merchant_id = '$M'")"
MAX_TIME=60 request POST "/api/import/purchases?merchant_id=$M&batch_name=big" "${AUTH[@]}" \
  -H 'Content-Type: text/csv' --data-binary "@$T/big.bin"
check "a 66 MB upload passes the body limits (the route's 101m, the responder's 101 MB): $STATUS, not 413" \
  bash -c "[[ $STATUS != 413 && $STATUS == 4* || $STATUS == 507 ]] && jq -e '.ok == false' '$T/body' >/dev/null"
rm -f "$T/big.bin"
truncate -s $(( 102 * 1024 * 1024 )) "$T/huge.csv"
MAX_TIME=60 request POST "/api/import/purchases?merchant_id=$M&batch_name=huge" "${AUTH[@]}" \
  -H 'Content-Type: text/csv' --data-binary "@$T/huge.csv"
check "a 102 MB upload -> 413 JSON" bash -c "[[ $STATUS == 413 ]] && jq -e '.ok == false' '$T/body' >/dev/null"
rm -f "$T/huge.csv"
check "... and neither left a batch" test "$(sql "SELECT count(*) FROM bulk_import_batches WHERE merchant_id = '$M'")" = "$before"

finish
