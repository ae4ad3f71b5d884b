#!/usr/bin/env bash
# t0002-nginx-errors: errors nginx produces itself (unknown paths, too large bodies)
# are JSON {ok:false, error, code} with Content-Type application/json, never HTML.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# expect_json_error STATUS WHAT: checks the last response.
expect_json_error() {
  local want=$1 what=$2
  check "$what: answers $want (got $STATUS)" test "$STATUS" = "$want"
  check "$what: Content-Type application/json" is_json_ct
  check "$what: JSON with ok:false, string error and string code" \
    body_jq '.ok == false and (.error | type) == "string" and (.code | type) == "string"'
  check "$what: no HTML body" not_html
}

request GET /.netlify/functions/nope
expect_json_error 404 "unknown function /.netlify/functions/nope"

# An unknown path under /api/v1/ (no route for it) is nginx's JSON 404.
request GET /api/v1/no-such-api/1
expect_json_error 404 "/api/v1/no-such-api/1 (no route)"

request GET /x
expect_json_error 404 "unknown path /x"

# 80 MB is over nginx's client_max_body_size (64m): nginx answers 413 itself.
# curl may report a send error; only the status and the body matter.
head -c 80000000 /dev/zero > "$T/big"
request POST /.netlify/functions/health --data-binary @"$T/big" -H 'Content-Type: application/octet-stream'
rm -f "$T/big"
expect_json_error 413 "80 MB POST to /.netlify/functions/health"

# Functions that move a whole import (nginx/routes kind json-long) get a read timeout
# above SMARTIMPORT_DB_BULK_TIMEOUT_MS; the others keep the 60 s default.
if [[ -n ${SMARTIMPORT_TEST_VAR:-} && -f $SMARTIMPORT_TEST_VAR/nginx/nginx.conf ]]; then
  conf="$SMARTIMPORT_TEST_VAR/nginx/nginx.conf"
  location_has() { awk -v loc="location = $1 {" -v want="$2" 'index($0, loc) { inside = 1 } inside && index($0, want) { found = 1 } inside && /^ *}/ { inside = 0 } END { exit !found }' "$conf"; }
  for fn in commit-import revert-import approve-import; do
    check "nginx waits 330 s for $fn" location_has "/.netlify/functions/$fn" "fastcgi_read_timeout 330s"
  done
  location_lacks() { ! location_has "$@"; }
  check "but not for ingest-statement" location_lacks /.netlify/functions/ingest-statement "fastcgi_read_timeout 330s"
fi

finish
