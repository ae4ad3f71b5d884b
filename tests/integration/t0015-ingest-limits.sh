#!/usr/bin/env bash
# t0015-ingest-limits: the limits of ingest-statement through nginx: amounts bounded per
# row in every format (422 naming the line, nothing stored) with exact totals at the bound;
# Crystal over a ledger holding amounts near the bigint limits; one "line N:" prefix on
# errors; safe display file names; no account number or token in the URL; a full spool
# directory (507, then 200 once there is room); at most SMARTIMPORT_UPLOADS_PER_USER (2)
# uploads of one user at a time (429 + Retry-After) while other users go on.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed to look at the database}"
TOKEN_BIN="${SMARTIMPORT_BUILD:-.}/modules/token/smartimport-token"
[[ -x $TOKEN_BIN ]] || TOKEN_BIN=./modules/token/smartimport-token
F=/.netlify/functions
FN=$F/ingest-statement
USER_ID="$(cat /proc/sys/kernel/random/uuid)"
OTHER_ID="$(cat /proc/sys/kernel/random/uuid)"
AUTH=(-H "Authorization: Bearer $("$TOKEN_BIN" "$USER_ID")")
OTHER=(-H "Authorization: Bearer $("$TOKEN_BIN" "$OTHER_ID")")
default_currency "$USER_ID" USD; default_currency "$OTHER_ID" USD
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
stored() { sql "SELECT (SELECT count(*) FROM imports WHERE user_id = '$USER_ID') || '/' || (SELECT count(*) FROM transactions_staging WHERE user_id = '$USER_ID')"; }
raw() {  # raw FILE [query] [curl args...]: a raw upload by USER_ID
  local file=$1 query=${2:-}; shift 2 || shift $#
  request POST "$FN?fileName=$(basename "$file")$query" "${AUTH[@]}" -H 'Content-Type: application/octet-stream' \
    --data-binary @"$file" "$@"
}
error_is() { body_jq ".ok == false and .code == \"$1\" and .error == \"$2\""; }

# --- amounts: the overflowing CSV of the report, refused with its line, nothing stored ---------
{ echo 'Date,Description,Amount'
  for i in $(seq 1 120); do echo "2024-01-01,OUT $i,-900000000000000.00"; done
  for i in $(seq 1 120); do echo "2024-01-02,IN $i,900000000000000.00"; done; } > "$T/overflow.csv"
raw "$T/overflow.csv"
check "120 x -900000000000000.00 and 120 x 900000000000000.00 is 422 (got $STATUS)" test "$STATUS" = 422
check "  amount_out_of_range naming line 2" \
  error_is amount_out_of_range "line 2: the amount is beyond the limit of 10000000000000 minor units per transaction"
check "  nothing is stored" test "$(stored)" = "0/0"

# --- a 30-digit amount in every format: 422 naming its line --------------------------------
BIG=123456789012345678901234567890
printf 'Date,Description,Amount\n2024-01-01,Small,-1.00\n2024-01-02,Big,-%s.00\n' "$BIG" > "$T/big.csv"
printf 'OFXHEADER:100\n\n<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>EUR\n<BANKTRANLIST>\n<STMTTRN>\n<DTPOSTED>20240101\n<TRNAMT>-%s.00\n<FITID>1\n<NAME>Big\n</STMTTRN>\n</BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n' "$BIG" > "$T/big.ofx"
printf '!Type:Bank\nD1/1/2024\nT-%s.00\nPBig\n^\n' "$BIG" > "$T/big.qif"
printf '<?xml version="1.0"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><Stmt>\n<Ntry><Amt Ccy="EUR">%s.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><BookgDt><Dt>2024-01-01</Dt></BookgDt></Ntry>\n</Stmt></BkToCstmrStmt></Document>\n' "$BIG" > "$T/big.xml"
printf ':20:X\n:25:Y\n:60F:C240101EUR0,\n:61:240101D%s,00NTRFNONREF\n:86:Big\n:62F:C240101EUR0,\n-\n' "$BIG" > "$T/big.sta"
for f in big.csv:3 big.ofx:5 big.qif:2 big.xml:3 big.sta:4; do
  raw "$T/${f%%:*}"
  check "a 30-digit amount in ${f%%:*} is 422 amount_out_of_range at line ${f##*:} (got $STATUS)" \
    body_jq ".code == \"amount_out_of_range\" and (.error | startswith(\"line ${f##*:}: the amount is beyond\"))"
done
check "  nothing is stored for any of them" test "$(stored)" = "0/0"

# --- the largest allowed amounts: 200 with exact totals ----------------------------------------
{ echo 'Date,Description,Amount'
  for i in $(seq 1 120); do echo "2024-01-01,OUT $i,-100000000000.00"; done
  for i in $(seq 1 120); do echo "2024-01-02,IN $i,100000000000.00"; done; } > "$T/bound.csv"
raw "$T/bound.csv"
check "120 x 10^13 minor units each way is 200 (got $STATUS)" test "$STATUS" = 200
check "  with exact totals" body_jq \
  '.totals == {"count":240,"debitMinor":1200000000000000,"creditMinor":1200000000000000,"netMinor":0,"currency":"USD"}'
check "  and they are stored so" test \
  "$(sql "SELECT debit_minor || '/' || credit_minor FROM imports WHERE user_id = '$USER_ID'")" = "1200000000000000/1200000000000000"

# --- one line prefix on errors ----------------------------------------------------------------
{ printf 'Date'; for i in $(seq 1 300); do printf ',c%s' "$i"; done; echo; } > "$T/wide.csv"
raw "$T/wide.csv"
check "a record with too many fields is 400 (got $STATUS)" test "$STATUS" = 400
check "  the message has one line prefix" error_is parse_error "line 1: a record has more than 256 fields"

# --- Crystal over a ledger with amounts near the bigint limits --------------------------------
printf 'Date,Description,Amount\n2024-03-02,TESCO STORES,-150.25\n2024-03-20,ACME PAYROLL,2500.00\n' > "$T/mar.csv"
raw "$T/mar.csv"
MAR="$(jq -r '.importId // empty' "$T/body")"
request POST "$F/commit-import" "${AUTH[@]}" -H 'Content-Type: application/json' \
  --data-binary "{\"userId\":\"$USER_ID\",\"importId\":\"$MAR\"}"
check "the March import is committed (got $STATUS)" test "$STATUS" = 200
sql "INSERT INTO transactions (user_id, import_id, tx_date, amount_minor, currency, description, category, dedup_hash)
     SELECT '$USER_ID', '$MAR', date '2024-03-01' + (i % 28), a, 'USD', 'HUGE ' || i, c, 'huge-' || i
     FROM (VALUES (1, -9000000000000000000, 'Shopping'), (2, -9000000000000000000, 'Shopping'),
                  (3, -9000000000000000000, 'Travel'), (4, -9223372036854775808, 'Travel'),
                  (5, 9000000000000000000, 'Income'), (6, 9223372036854775807, 'Income'),
                  (7, -9000000000000000000, 'Shopping')) AS v(i, a, c)" >/dev/null
sql "INSERT INTO transactions (user_id, import_id, tx_date, amount_minor, currency, description, category, dedup_hash)
     SELECT '$USER_ID', '$MAR', date '2024-01-05' + i, -9000000000000000000, 'USD', 'EARLIER ' || i, 'Shopping', 'early-' || i
     FROM generate_series(1, 3) i" >/dev/null
request POST "$F/prime-handoff" "${AUTH[@]}" -H 'Content-Type: application/json' \
  --data-binary "{\"userId\":\"$USER_ID\",\"importId\":\"$MAR\"}"
HANDOFF="$(jq -r '.handoffId // empty' "$T/body")"
check "prime-handoff is 200 for that ledger (got $STATUS)" test "$STATUS" = 200
MAX_TIME=30 request POST "$F/crystal-analyze-import" "${AUTH[@]}" -H 'Content-Type: application/json' \
  --data-binary "{\"userId\":\"$USER_ID\",\"handoffId\":\"$HANDOFF\"}"
check "crystal-analyze-import is 200 over amounts near the bigint limits (got $STATUS)" test "$STATUS" = 200
check "  its figures are capped at 10^15 minor units, never negative from an overflow" body_jq \
  '.ok and (.summary | length > 0) and ([.categories[].amountMinor] | max) == 1000000000000000 and ([.categories[].amountMinor] | min) >= 0'
check "  the stored advice has the capped spend" test \
  "$(sql "SELECT period_spend_minor FROM advice_messages WHERE user_id = '$USER_ID' AND handoff_id = '$HANDOFF' ORDER BY id DESC LIMIT 1")" = 1000000000000000

# --- safe display file names, every upload form ------------------------------------------------
name_of() { sql "SELECT file_name FROM imports WHERE id = '$(jq -r '.importId // empty' "$T/body")' AND user_id = '$USER_ID'"; }
printf 'Date,Description,Amount\n2024-04-01,Name test one,-1.00\n' > "$T/n1.csv"
jq -n --arg u "$USER_ID" --arg c "$(base64 -w0 "$T/n1.csv")" \
  '{userId: $u, fileName: "../../etc/passwd\r\n\u001b[31mevil\u0007.csv", contentBase64: $c}' > "$T/n1.json"
request POST "$FN" "${AUTH[@]}" -H 'Content-Type: application/json' --data-binary @"$T/n1.json"
check "a JSON fileName with a path, CR/LF and escapes is 200 (got $STATUS)" test "$STATUS" = 200
check "  only its safe display form is stored" test "$(name_of)" = "passwdevil.csv"
printf 'Date,Description,Amount\n2024-04-02,Name test two,-1.00\n' > "$T/n2.csv"
request POST "$FN" "${AUTH[@]}" -F "file=@$T/n2.csv;filename=..\\..\\Windows\\win.ini" -F "userId=$USER_ID"
check "a multipart filename with a Windows path is stored without it" test "$(name_of)" = "win.ini"
printf 'Date,Description,Amount\n2024-04-03,Name test three,-1.00\n' > "$T/n3.csv"
request POST "$FN?fileName=%2e%2e%2f%1b%5b2J%0d%0a" "${AUTH[@]}" -H 'Content-Type: text/csv' --data-binary @"$T/n3.csv"
check "a raw ?fileName= of nothing but a path and controls becomes 'statement'" test "$(name_of)" = "statement"
long="$(printf 'é%.0s' $(seq 1 200)).csv"
jq -n --arg u "$USER_ID" --arg n "x$long" --arg c "$(printf 'Date,Description,Amount\n2024-04-04,Long,-1.00\n' | base64 -w0)" \
  '{userId: $u, fileName: $n, contentBase64: $c}' > "$T/n4.json"
request POST "$FN" "${AUTH[@]}" -H 'Content-Type: application/json' --data-binary @"$T/n4.json"
check "a long fileName is cut to 255 bytes at a character boundary (x and 127 of the 200 'é')" test \
  "$(sql "SELECT file_name FROM imports WHERE id = '$(jq -r .importId "$T/body")'")" = "x$(printf 'é%.0s' $(seq 1 127))"

# --- no account number or token in the URL -------------------------------------------------------
printf 'Date,Description,Amount\n2024-05-01,Account test,-1.00\n' > "$T/acct.csv"
raw "$T/acct.csv" "&accountId=DE89370400440532013000"
check "?accountId= is refused with 400 secret_in_url (got $STATUS)" test "$STATUS" = 400
check "  telling where to send it" body_jq '.code == "secret_in_url" and (.error | test("X-Account-Id"))'
raw "$T/acct.csv" "&access_token=x.y.z"
check "?access_token= is refused with 400 token_in_url, like every other function (got $STATUS)" \
  eval 'test "$STATUS" = 400 && body_jq ".code == \"token_in_url\""'
raw "$T/acct.csv" "" -H 'X-Account-Id: DE89370400440532013000'
check "the account id in the X-Account-Id header is 200 (got $STATUS)" test "$STATUS" = 200
check "  and stored with the import" test \
  "$(sql "SELECT account_id FROM imports WHERE id = '$(jq -r .importId "$T/body")'")" = DE89370400440532013000

# --- a full spool directory: 507 storage_full, then 200 once there is room ------------------------
SPOOL="${SMARTIMPORT_SPOOL_DIR:-}"
if [[ -n $SPOOL && -w $SPOOL && $(stat -f -c %T "$SPOOL" 2>/dev/null) == tmpfs ]]; then
  { echo 'Date,Description,Amount'
    for i in $(seq 1 40000); do echo "2024-06-01,SPOOL TEST ROW NUMBER $i PADDING PADDING,-1.00"; done; } > "$T/two-mb.csv"
  avail=$(( $(stat -f -c '%a * %S' "$SPOOL") ))
  if (( avail > 1024 * 1024 )); then
    dd if=/dev/zero of="$SPOOL/filler" bs=64k count=$(( (avail - 512 * 1024) / 65536 )) status=none 2>/dev/null || true
  fi
  raw "$T/two-mb.csv"
  check "a 2 MB upload into a full spool is 507 (got $STATUS)" test "$STATUS" = 507
  check "  storage_full, as JSON" error_is storage_full "the server's temporary storage is full; try again later"
  check "  and nothing is stored" test "$(sql "SELECT count(*) FROM imports WHERE user_id = '$USER_ID' AND file_name = 'two-mb.csv'")" = 0
  rm -f "$SPOOL/filler"
  MAX_TIME=60 raw "$T/two-mb.csv"
  check "the same upload once there is room is 200 (got $STATUS)" test "$STATUS" = 200
else
  echo "# skipped the full-spool checks: SMARTIMPORT_SPOOL_DIR is not a tmpfs this test can fill"
fi

# --- at most 2 uploads of one user at a time ------------------------------------------------------
# A transaction holding an imports row with the file's hash makes the user's uploads of that
# file wait inside their INSERT (the unique index), so two of them stay running.
printf 'Date,Description,Amount\n2024-07-01,Held upload,-1.00\n' > "$T/held.csv"
SHA="$(sha256sum "$T/held.csv" | cut -d' ' -f1)"
HOLDER="si-t0015-holder-$$"
PGAPPNAME="$HOLDER" psql -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "BEGIN" \
  -c "INSERT INTO imports (user_id, file_name, file_size, file_sha256, format, currency, status)
      VALUES ('$USER_ID', 'held', 1, '$SHA', 'csv', 'USD', 'uploaded')" -c "SELECT pg_sleep(120)" >/dev/null 2>&1 &
HOLDER_PID=$!
release() {
  sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '$HOLDER'" >/dev/null || true
  wait "$HOLDER_PID" 2>/dev/null || true
}
at_exit release
waits() {  # waits N QUERY-LIKE: until N backends match, up to 20 s
  for _ in $(seq 1 200); do
    [[ $(sql "SELECT count(*) FROM pg_stat_activity WHERE $2") -ge $1 ]] && return 0
    sleep 0.1
  done
  return 1
}
check "the holding transaction is in place" waits 1 "application_name = '$HOLDER' AND query LIKE 'SELECT pg_sleep%'"
for k in 1 2; do
  curl -sS -o "$T/held$k.json" -w '%{http_code}' --max-time 60 "${AUTH[@]}" -H 'Content-Type: text/csv' \
    --data-binary @"$T/held.csv" "$BASE$FN?fileName=held.csv" > "$T/held$k.status" 2>/dev/null &
done
check "two uploads of the user are running (waiting in the database)" \
  waits 2 "wait_event_type = 'Lock' AND query LIKE 'INSERT INTO imports%'"
printf 'Date,Description,Amount\n2024-07-02,Third upload,-1.00\n' > "$T/third.csv"
raw "$T/third.csv"
check "the user's third upload at once is 429 (got $STATUS)" test "$STATUS" = 429
check "  too_many_uploads as JSON" body_jq '.ok == false and .code == "too_many_uploads"'
check "  with Retry-After: 1" test "$(header retry-after)" = 1
check "  answered at once" less_than "$TIME" 2
request POST "$FN?fileName=other.csv" "${OTHER[@]}" -H 'Content-Type: text/csv' --data-binary @"$T/third.csv"
check "another user's upload meanwhile is 200 (got $STATUS)" test "$STATUS" = 200
release
wait
check "the two held uploads finish with 200 once the database lets them" \
  test "$(cat "$T/held1.status")/$(cat "$T/held2.status")" = "200/200"
raw "$T/third.csv"
check "the user's slots are free again: the third file is 200 now (got $STATUS)" test "$STATUS" = 200

finish
