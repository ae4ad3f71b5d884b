#!/usr/bin/env bash
# tests/browser/run.sh NAME.test.mjs: runs one browser test (tests/browser/harness.mjs says what
# it gets) in Debian's chromium, driven by playwright-core from web/node_modules, against the
# running stack (scripts/test's, JWT mode: a token minted like lib.sh's fast_token for a new
# user; without SMARTIMPORT_JWT_SECRET it signs in by user id, development mode). Sourced by
# the t01NN-*.sh wrappers make check runs. Skips (77) without a stack, without chromium or
# without the npm packages (scripts/deps --test installs both). Screenshots go to
# $SMARTIMPORT_ARTIFACTS, by default test-artifacts/browser under the directory make check runs
# in (build-sanitize/ for scripts/test), kept after the run.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
CHROMIUM="${SMARTIMPORT_CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x $CHROMIUM ]]; then echo "SKIP: no chromium at $CHROMIUM (scripts/deps --test installs it)"; exit 77; fi
if ! command -v node >/dev/null || [[ ! -d $ROOT/web/node_modules/playwright-core || ! -d $ROOT/web/node_modules/axe-core ]]; then
  echo "SKIP: node or web/node_modules is missing (scripts/deps installs them)"; exit 77
fi
ART="${SMARTIMPORT_ARTIFACTS:-$PWD/test-artifacts/browser}"
mkdir -p "$ART"
USER_ID="$(cat /proc/sys/kernel/random/uuid)"
TOKEN=""
[[ -n ${SMARTIMPORT_JWT_SECRET:-} ]] && TOKEN="$(fast_token "$USER_ID")"
start="$(now_ms)"
rc=0
SI_BASE="$BASE" SI_ROOT="$ROOT" SI_ARTIFACTS="$ART" SI_CHROMIUM="$CHROMIUM" SI_TOKEN="$TOKEN" SI_USER="$USER_ID" \
  SI_VAR="${SMARTIMPORT_TEST_VAR:-}" SI_LLM="${SMARTIMPORT_TEST_LLM:-}" SI_BANK="${SMARTIMPORT_TEST_TRUELAYER:-}" \
  timeout 150 node "$ROOT/tests/browser/$1" || rc=$?
ms=$(( $(now_ms) - start ))
echo "# browser test $1 took $ms ms; screenshots in $ART"
check "the browser test $1 passed (exit $rc)" test "$rc" = 0
check "the browser test $1 ran under two minutes ($ms ms)" test "$ms" -lt 120000
finish
