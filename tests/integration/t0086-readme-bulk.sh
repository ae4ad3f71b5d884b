#!/usr/bin/env bash
# t0086-readme-bulk: a new user follows the README's bulk purchase walkthrough, as written, from
# scripts/up to a completed batch with updated wallets.  A stack of its own (scripts/up with
# development auth, its own PostgreSQL, free ports, the build under test), the shell block under
# "### Bulk purchase import (a walkthrough)" run unchanged but for the address, then its answers
# checked: the dry run, the completed batch, the list, and C1's points, tier and mission progress
# applied by the CDC consumers.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
. "$ROOT/scripts/lib.sh"
[[ -n ${SMARTIMPORT_BUILD:-} ]] || { echo "SKIP: SMARTIMPORT_BUILD not set (scripts/test sets it)"; exit 77; }

W="$(mktemp -d "${TMPDIR:-/tmp}/t0086.XXXXXX")"
export SMARTIMPORT_VAR="$W/var" SMARTIMPORT_PORT="$(free_port)" SMARTIMPORT_PG_PORT="$(free_port)"
export SMARTIMPORT_AUTH=trust-body
unset DATABASE_URL
stack_down() { "$ROOT/scripts/down" >/dev/null 2>&1 || true; rm -rf "$W"; }
at_exit stack_down

if "$ROOT/scripts/up" --no-build >"$W/up.log" 2>&1; then ok "scripts/up brings a stack of its own up"; else
  not_ok "scripts/up brings a stack of its own up"; sed 's/^/#   /' "$W/up.log" | tail -n 20; exit 1; fi

# The README's block, unchanged but for the address it talks to.
awk '/^### Bulk purchase import \(a walkthrough\)/ { on = 1; next }
     on && /^```sh$/ { code = 1; next }
     code && /^```$/ { exit }
     code { print }' "$ROOT/README.md" > "$W/walkthrough.sh"
check "the README has the walkthrough's shell block" test "$(wc -l < "$W/walkthrough.sh")" -gt 20
sed -i "s/B=127\.0\.0\.1:8080/B=127.0.0.1:$SMARTIMPORT_PORT/" "$W/walkthrough.sh"
check "the block talks to this stack" grep -q "B=127.0.0.1:$SMARTIMPORT_PORT" "$W/walkthrough.sh"

# Run it in a scratch directory (it writes purchases.csv), each curl's answer on a line.
rc=0
(cd "$W" && timeout 120 bash -e walkthrough.sh) > "$W/out" 2>"$W/err" || rc=$?
check "the walkthrough runs to its end" test "$rc" = 0
mapfile -t A < <(jq -c . "$W/out")
answer() { local a; for a in "${A[@]}"; do jq -e "$1" <<<"$a" >/dev/null 2>&1 && { echo "$a"; return 0; }; done; return 1; }

check "PUT customers, skus, tiers, missions: 2, 2, 2 and 1 upserted" test \
  "$(printf '%s\n' "${A[@]}" | jq -r 'select(.kind != null) | "\(.kind)=\(.upserted)"' | paste -sd' ')" \
  = "customers=2 skus=2 tiers=2 missions=1"
check "the dry run: valid, 2 purchases, 3 items" \
  answer '.dry_run == true and .valid == true and .purchases == 2 and .items == 3'
check "the batch's status answer: completed, 2 purchases, 3 items, progress 100" \
  answer '.status == "completed" and .imported_purchases == 2 and .imported_items == 3 and .progress.percent == 100'
check "the list holds one batch (the dry run wrote none), completed" \
  answer '.batches | arrays | length == 1 and .[0].status == "completed" and .[0].imported_items == 3'
check "C1's loyalty: 8 points (850 minor units at 1 point a euro), tier silver, spend 850" \
  answer '.points == 8 and .tier == "silver" and .spend_minor == 850'
check "C1's mission coffee3: 2 of 3 coffees" \
  answer '.missions | arrays | map(select(.mission_id == "coffee3"))[0].progress == 2'
[[ $FAILS == 0 ]] || { echo "# walkthrough output:"; sed 's/^/#   /' "$W/out" "$W/err" | head -n 40; }
finish
