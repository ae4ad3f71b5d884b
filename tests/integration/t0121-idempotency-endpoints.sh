#!/usr/bin/env bash
# t0121-idempotency-endpoints: every state-changing endpoint honours Idempotency-Key
# (modules/runtime/si_idempotency.c; the semantics in detail: t0120).  For each one a
# request with a fresh key has an effect (a witness query over its tables, or the fake
# model's and stand-in bank's call counts, changes), and its repeat answers the same status
# and body with Idempotent-Replayed: true while the witness stays as it was: the handler
# did not run again.  Endpoints: ingest-statement (multipart), import-preview PATCH,
# user-settings PUT/PATCH, commit-import, prime-handoff, crystal-analyze-import,
# approve-import, crystal-chat, transactions PATCH, category-rules POST/DELETE, workflow
# phase POST, truelayer connect and refresh, truelayer-import plan and start, merchants
# POST and PUT, bulk-import POST (raw body and multipart).  The commit's replay is counted in
# /metrics (smartimport_idempotent_replays_total).  Stand-ins that are not running
# (model, bank, workflow) skip their endpoints, saying so.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed to look at the database}"
uuid() { cat /proc/sys/kernel/random/uuid; }
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
USER_ID="$(uuid)"
AUTH=(-H "Authorization: Bearer $(fast_token "$USER_ID")")
JSON=(-H 'Content-Type: application/json')
default_currency "$USER_ID" USD
FN=/.netlify/functions
llm_count() { if [[ -n ${LLM:-} ]]; then curl -fsS --max-time 5 "$LLM/_count"; else echo -; fi; }
events() { sql "SELECT count(*) FROM import_events WHERE user_id = '$USER_ID'"; }

# replays FUNCTION: smartimport_idempotent_replays_total of FUNCTION on GET /metrics (the stack's
# metrics token), or "-" without one.
METRICS_TOKEN="${SMARTIMPORT_METRICS_TOKEN:-$(cat "${SMARTIMPORT_TEST_VAR:-/nonexistent}/metrics.token" 2>/dev/null || true)}"
replays() {
  [[ -n $METRICS_TOKEN ]] || { echo -; return; }
  curl -fsS --max-time 10 -H "Authorization: Bearer $METRICS_TOKEN" "$BASE/metrics" |
    awk -v k="smartimport_idempotent_replays_total{function=\"$1\"}" '$1 == k { v = $2; f = 1 } END { print f ? v : 0 }'
}
# twice NAME STATUS WITNESS METHOD PATH curl-args...: the request with a fresh key must answer
# STATUS and change what WITNESS (a shell command) prints; its repeat must replay the answer and
# leave the witness alone.  The first answer stays in $T/once.json.
twice() {
  local name=$1 want=$2 witness=$3 method=$4 path=$5 k w0 w1 w2 s1; shift 5
  k="$(uuid)"; w0="$(eval "$witness")"
  MAX_TIME=60 request "$method" "$path" "${AUTH[@]}" -H "Idempotency-Key: $k" "$@"
  s1=$STATUS; cp "$T/body" "$T/once.json"; w1="$(eval "$witness")"
  check "$name: the first request answers $want (got $s1) and has an effect ($w0 -> $w1)" \
    bash -c "[[ '$s1' == '$want' && '$w0' != '$w1' && -z '$(header idempotent-replayed)' ]]"
  MAX_TIME=60 request "$method" "$path" "${AUTH[@]}" -H "Idempotency-Key: $k" "$@"
  w2="$(eval "$witness")"
  check "$name: the repeat replays it (status $STATUS, same body, Idempotent-Replayed) with no second effect ($w2)" \
    bash -c "[[ '$STATUS' == '$s1' && '$(header idempotent-replayed)' == true && '$w1' == '$w2' ]] && cmp -s '$T/body' '$T/once.json'"
}

# --- statements: ingest, preview decisions, settings, commit --------------------------------------
printf '%s\n' 'Date,Description,Amount' '2024-03-02,TESCO STORES 1003,-150.25' '2024-03-16,WHOLE FOODS MARKET,-150.00' \
  '2024-03-05,STARBUCKS 78,-20.00' '2024-03-20,ACME PAYROLL,2500.00' > "$T/mar.csv"
# multipart() FILE FIELD=VALUE...: a multipart body with a fixed boundary into $T/multipart (curl -F
# draws a new boundary each time: another body, which a retry must not be).
multipart() {
  local f=$1 kv; shift
  { for kv in "$@"; do printf -- '--idem-boundary\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' "${kv%%=*}" "${kv#*=}"; done
    printf -- '--idem-boundary\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\nContent-Type: text/csv\r\n\r\n' "$(basename "$f")"
    cat "$f"; printf -- '\r\n--idem-boundary--\r\n'; } > "$T/multipart"
}
MULTI=(-H 'Content-Type: multipart/form-data; boundary=idem-boundary' --data-binary "@$T/multipart")
multipart "$T/mar.csv" currency=USD
twice "ingest-statement (multipart)" 200 "sql \"SELECT count(*) FROM imports WHERE user_id = '$USER_ID'\"" \
  POST "$FN/ingest-statement" "${MULTI[@]}"
IMPORT="$(jq -r '.importId // empty' "$T/once.json")"
twice "import-preview PATCH" 200 "sql \"SELECT count(*) FILTER (WHERE decision IS NOT NULL) || ' ' || max(xmin::text) FROM transactions_staging WHERE import_id = '$IMPORT'\"" \
  PATCH "$FN/import-preview" "${JSON[@]}" --data-binary "{\"importId\":\"$IMPORT\",\"decisions\":[{\"row\":2,\"action\":\"skip\"}]}"
twice "user-settings PUT" 200 "sql \"SELECT default_currency || ' ' || updated_at FROM user_settings WHERE user_id = '$USER_ID'\"" \
  PUT "$FN/user-settings" "${JSON[@]}" --data '{"defaultCurrency":"USD","locale":"en-GB"}'
twice "user-settings PATCH" 200 "sql \"SELECT coalesce(locale, '-') || ' ' || updated_at FROM user_settings WHERE user_id = '$USER_ID'\"" \
  PATCH "$FN/user-settings" "${JSON[@]}" --data '{"locale":"en-US"}'
R0="$(replays commit-import)"
twice "commit-import" 200 "sql \"SELECT count(*) FROM transactions WHERE user_id = '$USER_ID'\"" \
  POST "$FN/commit-import" "${JSON[@]}" --data-binary "{\"importId\":\"$IMPORT\"}"

if [[ $R0 != - ]]; then
  check "the replay is counted in /metrics (smartimport_idempotent_replays_total, commit-import: $R0 -> $(replays commit-import))" \
    test "$(replays commit-import)" = $(( R0 + 1 ))
fi

# --- the advice chain (the fake model) ------------------------------------------------------------
if [[ -n ${SMARTIMPORT_TEST_LLM:-} ]]; then
  LLM="${SMARTIMPORT_TEST_LLM%/}"; llm_mode good
  twice "prime-handoff" 200 "events" POST "$FN/prime-handoff" "${JSON[@]}" --data-binary "{\"importId\":\"$IMPORT\"}"
  HANDOFF="$(jq -r '.handoffId // empty' "$T/once.json")"
  twice "crystal-analyze-import" 200 "echo \$(events)/\$(llm_count)" \
    POST "$FN/crystal-analyze-import" "${JSON[@]}" --data-binary "{\"handoffId\":\"$HANDOFF\"}"
  twice "crystal-chat POST" 200 "echo \$(sql \"SELECT count(*) FROM chat_messages WHERE user_id = '$USER_ID'\")/\$(llm_count)" \
    POST "$FN/crystal-chat" "${JSON[@]}" --data-binary "{\"handoffId\":\"$HANDOFF\",\"message\":\"Where did my money go?\"}"
  printf '%s\n' 'Date,Description,Amount' '2024-04-02,TESCO STORES 1005,-80.00' '2024-04-20,ACME PAYROLL,2500.00' > "$T/apr.csv"
  request POST "$FN/ingest-statement?fileName=apr.csv&currency=USD" "${AUTH[@]}" -H 'Content-Type: text/csv' --data-binary @"$T/apr.csv"
  APR="$(jq -r '.importId // empty' "$T/body")"
  twice "approve-import" 200 "echo \$(events)/\$(llm_count)" \
    POST "$FN/approve-import" "${JSON[@]}" --data-binary "{\"importId\":\"$APR\"}"
else
  echo "# the fake model is not running: prime-handoff, crystal-analyze-import, crystal-chat, approve-import skipped"
fi

# --- the ledger: a transaction's category, rules ------------------------------------------------
ROW="$(sql "SELECT id FROM transactions WHERE user_id = '$USER_ID' ORDER BY id LIMIT 1")"
twice "transactions PATCH" 200 "sql \"SELECT category || ' ' || xmin FROM transactions WHERE id = $ROW\"" \
  PATCH "$FN/transactions" "${JSON[@]}" --data-binary "{\"id\":$ROW,\"category\":\"Health\"}"
twice "category-rules POST" 201 "sql \"SELECT count(*) || ' ' || coalesce(max(xmin::text), '-') FROM category_rules WHERE user_id = '$USER_ID'\"" \
  POST "$FN/category-rules" "${JSON[@]}" --data-binary '{"match":"idem corner shop","category":"Dining"}'
RULE="$(jq -r '.rule.id // empty' "$T/once.json")"
twice "category-rules DELETE" 204 "sql \"SELECT count(*) FROM category_rules WHERE user_id = '$USER_ID'\"" \
  DELETE "$FN/category-rules?id=$RULE"

# --- the workflow ---------------------------------------------------------------------------------
if [[ -n ${SMARTIMPORT_TEST_WORKFLOW_STUB:-} ]]; then
  SYNC="idem_$(date +%s%N)"
  twice "workflow phase POST" 202 "sql \"SELECT count(*) FROM jobs WHERE user_id = '$USER_ID' AND task = 'workflow.phase1'\"" \
    POST /api/v1/workflow/phase/1 "${JSON[@]}" --data-binary "{\"user_id\":\"$USER_ID\",\"sync_id\":\"$SYNC\",\"seller_id\":\"s\"}"
else
  echo "# the workflow stand-in is not running: workflow skipped"
fi

# --- the bank (the TrueLayer stand-in) ------------------------------------------------------------
if [[ -n ${SMARTIMPORT_TEST_TRUELAYER:-} ]]; then
  TL="$SMARTIMPORT_TEST_TRUELAYER"
  curl -fsS -X POST -d '{}' "$TL/_stub/reset" >/dev/null 2>&1 || true
  curl -fsS -X POST -H 'Content-Type: application/json' --data-binary '{"accounts":2,"tx_per_day":1}' "$TL/_stub/script" >/dev/null 2>&1 || true
  twice "truelayer connect" 201 "sql \"SELECT count(*) FROM truelayer_connections WHERE user_id = '$USER_ID'\"" \
    POST /api/truelayer/connect "${JSON[@]}" --data-binary "{\"code\":\"code-$RANDOM$RANDOM\",\"redirect_uri\":\"http://localhost/cb\"}"
  CONN="$(jq -r '.connection_id // empty' "$T/once.json")"
  twice "truelayer connection refresh" 200 "sql \"SELECT max(xmin::text) FROM truelayer_accounts WHERE connection_id = '$CONN'\"" \
    POST "/api/truelayer/connections/$CONN/refresh" "${JSON[@]}" --data-binary '{}'
  twice "truelayer-import plan" 200 "sql \"SELECT count(*) FROM truelayer_import_jobs WHERE user_id = '$USER_ID'\"" \
    POST /api/truelayer/import/plan "${JSON[@]}" --data-binary "{\"connection_id\":\"$CONN\",\"from_date\":\"2024-01-01\",\"to_date\":\"2024-01-31\"}"
  JOB="$(jq -r '.job_id // empty' "$T/once.json")"
  twice "truelayer-import start" 202 "sql \"SELECT count(*) FROM jobs WHERE user_id = '$USER_ID' AND task = 'bank.sync_account'\"" \
    POST /api/truelayer/import/start "${JSON[@]}" --data-binary "{\"job_id\":\"$JOB\"}"
else
  echo "# the TrueLayer stand-in is not running: the bank endpoints skipped"
fi

# --- merchants and bulk imports -------------------------------------------------------------------
twice "merchants POST" 201 "sql \"SELECT count(*) FROM merchant_admins WHERE user_id = '$USER_ID'\"" \
  POST /api/merchants "${JSON[@]}" --data-binary '{"name":"Idem Shop","currency":"EUR"}'
M="$(jq -r '.id // empty' "$T/once.json")"
twice "merchants PUT skus" 200 "sql \"SELECT count(*) || ' ' || coalesce(max(xmin::text), '-') FROM merchant_skus WHERE merchant_id = '$M'\"" \
  PUT "/api/merchants/$M/skus" "${JSON[@]}" --data-binary '[{"sku_id":"S1","name":"Coffee","price_minor":250},{"sku_id":"S2","name":"Cake"}]'
printf 'Order ID;Customer;Date;SKU;Qty;Price\nR1;C1;2024-02-01;S1;1;3.00\nR2;C2;2024-02-02;S2;2;1\n' > "$T/raw.csv"
twice "bulk-import POST (raw body)" 202 "sql \"SELECT count(*) FROM bulk_import_batches WHERE merchant_id = '$M'\"" \
  POST "/api/import/purchases?merchant_id=$M&batch_name=raw" -H 'Content-Type: text/csv' --data-binary "@$T/raw.csv"
printf 'transaction_number,customer_id,purchased_at,sku_id,quantity,unit_price\nM1,C1,2024-03-01,S1,1,1.00\n' > "$T/multi.csv"
multipart "$T/multi.csv" "merchant_id=$M"
twice "bulk-import POST (multipart)" 202 "sql \"SELECT count(*) FROM bulk_import_batches WHERE merchant_id = '$M'\"" \
  POST /api/import/purchases "${MULTI[@]}"
finish
