#!/usr/bin/env bash
# t0019-import-progress: live progress events of an upload on the import-events stream.
# A 200,000-row CSV uploaded with X-Upload-Id while the caller's stream is open: at least two
# import:parse:progress events, rows rising, percent 0..100 not falling, at least 250 ms apart,
# each with the import's id (from the answer) and the upload's id, no id: line, all before
# import:parse:complete; another user's stream gets none; a resume from Last-Event-ID 0, the
# JSON page and the import_events table hold none (never stored, never replayed); a malformed
# X-Upload-Id is a 400 that stores nothing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is needed to look at the database}"
TOKEN_BIN="${SMARTIMPORT_BUILD:-.}/modules/token/smartimport-token"
[[ -x $TOKEN_BIN ]] || TOKEN_BIN=./modules/token/smartimport-token
FN=/.netlify/functions/import-events
USER_ID="$(cat /proc/sys/kernel/random/uuid)" OTHER_ID="$(cat /proc/sys/kernel/random/uuid)"
UPLOAD_ID="$(cat /proc/sys/kernel/random/uuid)"
AUTH=(-H "Authorization: Bearer $("$TOKEN_BIN" "$USER_ID")")
OTHER=(-H "Authorization: Bearer $("$TOKEN_BIN" "$OTHER_ID")")
SSE=(-H 'Accept: text/event-stream')
ROWS=200000
sql() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
BGS=()
stop_streams() { local p; for p in "${BGS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
at_exit stop_streams
stream_bg() {  # stream_bg OUT SECONDS QUERY [curl args...]
  local out=$1 secs=$2 query=$3; shift 3
  curl -sS -N --max-time "$secs" "${SSE[@]}" -o "$out" "$@" "$BASE$FN$query" 2>/dev/null &
  BGS+=($!)
}
# frames FILE: one line per SSE frame: event <TAB> id (or -) <TAB> data
frames() {
  awk 'BEGIN { RS = ""; FS = "\n" }
       { ev = ""; id = "-"; data = ""
         for (i = 1; i <= NF; i++) {
           if ($i ~ /^event: /) ev = substr($i, 8)
           else if ($i ~ /^id: /) id = substr($i, 5)
           else if ($i ~ /^data: /) data = substr($i, 7)
         }
         if (ev != "") print ev "\t" id "\t" data }' "$1"
}

# --- a file big enough to take more than a few quarter seconds to parse --------------
awk -v n="$ROWS" 'BEGIN { print "Date,Description,Amount,Balance"
  for (i = 1; i <= n; i++) printf "2024-%02d-%02d,Shop %d Market,-%d.%02d,%d.00\n", i % 12 + 1, i % 28 + 1, i, i % 500, i % 100, i }' \
  > "$T/big.csv"

# --- malformed upload ids -----------------------------------------------------------
request POST "/.netlify/functions/ingest-statement?fileName=x.csv" "${AUTH[@]}" -H 'Content-Type: text/csv' \
  -H 'X-Upload-Id: not-a-uuid' --data-binary 'Date,Description,Amount
2024-01-01,A,-1.00'
check "a malformed X-Upload-Id is 400 bad_field (got $STATUS)" test "$STATUS" = 400
check "  with the JSON error" body_jq '.code == "bad_field"'
request POST "/.netlify/functions/ingest-statement?fileName=x.csv&uploadId=12345" "${AUTH[@]}" -H 'Content-Type: text/csv' \
  --data-binary 'Date,Description,Amount
2024-01-01,A,-1.00'
check "a malformed uploadId parameter is 400 bad_field (got $STATUS)" test "$STATUS" = 400
check "  and nothing was imported" test "$(sql "SELECT count(*) FROM imports WHERE user_id = '$USER_ID'")" = 0

# --- subscribe (all of the caller's events: the import id comes later), then upload --
stream_bg "$T/mine" 300 "" "${AUTH[@]}"
stream_bg "$T/other" 300 "" "${OTHER[@]}"
check "both streams are open" wait_for_line "$T/mine" '^retry:' 5000
wait_for_line "$T/other" '^retry:' 5000 || true
MAX_TIME=240 request POST "/.netlify/functions/ingest-statement?fileName=big.csv&currency=USD" "${AUTH[@]}" \
  -H 'Content-Type: text/csv' -H "X-Upload-Id: $UPLOAD_ID" --data-binary @"$T/big.csv"
check "the $ROWS-row file is staged (got $STATUS in ${TIME}s)" test "$STATUS" = 200
IMPORT="$(jq -r '.importId // empty' "$T/body")"
check "  all its rows" body_jq ".rowsTotal == $ROWS"
check "import:parse:complete reaches the stream" wait_for_line "$T/mine" '^event: import:parse:complete' 5000
sleep 0.5   # anything late (there should be nothing) would show up in the other stream meanwhile
stop_streams; BGS=()

frames "$T/mine" > "$T/mine.frames"
grep -P '^import:parse:progress\t' "$T/mine.frames" | cut -f3 > "$T/parse.json" || true
NPARSE="$(wc -l < "$T/parse.json")"
check "at least two import:parse:progress events ($NPARSE)" test "$NPARSE" -ge 2
check "  every one before import:parse:complete" \
  test "$(awk -F'\t' '$1 == "import:parse:complete" { c = NR } $1 == "import:parse:progress" { p = NR } END { print (p > 0 && p < c) }' "$T/mine.frames")" = 1
check "  none carries an id: line (never a resume point)" \
  test "$(grep -P '^import:(parse|upload):progress\t' "$T/mine.frames" | cut -f2 | sort -u)" = "-"
check "  each is {id:null, importId, type, payload:{importId, uploadId, rows, rowsParsed, percent}, createdAt}" \
  jqf -s --arg imp "$IMPORT" --arg up "$UPLOAD_ID" --argjson n "$ROWS" 'all(.[];
    .id == null and .importId == $imp and .type == "import:parse:progress"
    and (.payload | keys) == ["importId","percent","rows","rowsParsed","uploadId"]
    and .payload.importId == $imp and .payload.uploadId == $up and .payload.rows == .payload.rowsParsed
    and .payload.rows > 0 and .payload.rows <= $n and .payload.percent >= 0 and .payload.percent <= 100
    and (.createdAt | test("^[0-9-]{10}T[0-9:.]{12}Z$")))' "$T/parse.json"
check "  rows rise ($(jq -r '.payload.rows' "$T/parse.json" | paste -sd' '))" \
  jqf -s '[.[].payload.rows] as $r | all(range(1; $r | length); $r[.] > $r[. - 1])' "$T/parse.json"
check "  percent does not fall ($(jq -r '.payload.percent' "$T/parse.json" | paste -sd' '))" \
  jqf -s '[.[].payload.percent] as $r | all(range(1; $r | length); $r[.] >= $r[. - 1])' "$T/parse.json"
ms() { jq -r '.createdAt' "$1" | while read -r t; do date -d "$t" +%s%3N; done; }
GAPS="$(ms "$T/parse.json" | awk 'NR > 1 { printf "%d ", $1 - prev } { prev = $1 }')"
check "  at least 250 ms apart (gaps: $GAPS)" awk -v g="$GAPS" 'BEGIN { n = split(g, a, " "); for (i = 1; i <= n; i++) if (a[i] < 245) exit 1 }'
grep -P '^import:upload:progress\t' "$T/mine.frames" | cut -f3 > "$T/upload.json" || true
check "upload progress, when the hand-off from nginx lasted long enough to send any ($(wc -l < "$T/upload.json")), carries bytes and the upload id" \
  jqf -s --arg up "$UPLOAD_ID" 'all(.[]; .id == null and .payload.uploadId == $up and .payload.bytes > 0
    and .payload.bytes <= .payload.totalBytes and .payload.percent <= 100)' "$T/upload.json"

frames "$T/other" > "$T/other.frames"
check "another user's stream gets no progress events (nor anything of this user's)" \
  test "$(grep -c -e progress -e "$IMPORT" "$T/other.frames" || true)" = 0

# --- never stored, never replayed -----------------------------------------------------
check "import_events holds no progress rows" \
  test "$(sql "SELECT count(*) FROM import_events WHERE user_id = '$USER_ID' AND event_type LIKE '%:progress'")" = 0
curl -sS -N --max-time 2 "${SSE[@]}" -H 'Last-Event-ID: 0' -o "$T/resume" "${AUTH[@]}" "$BASE$FN" 2>/dev/null || true
frames "$T/resume" > "$T/resume.frames"
check "a resume from Last-Event-ID 0 replays the import's stored events" grep -qP '^import:parse:complete\t' "$T/resume.frames"
check "  and no progress event" test "$(grep -c progress "$T/resume.frames" || true)" = 0
LAST_ID="$(grep -P '^import:parse:start\t' "$T/mine.frames" | cut -f2 | tail -n 1)"
curl -sS -N --max-time 2 "${SSE[@]}" -H "Last-Event-ID: $LAST_ID" -o "$T/resume2" "${AUTH[@]}" "$BASE$FN" 2>/dev/null || true
check "a resume from import:parse:start's id ($LAST_ID) sends import:parse:complete and no progress" \
  test "$(frames "$T/resume2" | cut -f1 | paste -sd,)" = "import:parse:complete"
request GET "$FN?after=0" "${AUTH[@]}"
check "the JSON page has the stored events and no progress" \
  body_jq '(.events | length) >= 4 and all(.events[]; (.type | endswith(":progress")) | not)'

finish
