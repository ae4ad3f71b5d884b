#!/usr/bin/env bash
# t0100-web: the web app's browser test (tests/browser/web.test.mjs) in Debian's chromium,
# driven by playwright-core from web/node_modules, against the running stack (scripts/test's,
# JWT mode: a token minted like lib.sh's fast_token; without SMARTIMPORT_JWT_SECRET it signs
# in by user id, development mode). Skips (77) without a stack, without chromium or without
# the npm packages (scripts/deps --test installs both). Screenshots of each page go to
# $SMARTIMPORT_ARTIFACTS, by default test-artifacts/browser under the directory make check runs
# in (build-sanitize/ for scripts/test), kept after the run.
set -euo pipefail
. "$(dirname "$0")/../integration/lib.sh"
ROOT="$(cd "$(dirname "$0")/../.." && pwd -P)"
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
SI_BASE="$BASE" SI_ROOT="$ROOT" SI_ARTIFACTS="$ART" SI_CHROMIUM="$CHROMIUM" SI_TOKEN="$TOKEN" SI_USER="$USER_ID" SI_VAR="${SMARTIMPORT_TEST_VAR:-}" SI_LLM="${SMARTIMPORT_TEST_LLM:-}" \
  timeout 150 node "$ROOT/tests/browser/web.test.mjs" || rc=$?
ms=$(( $(now_ms) - start ))
echo "# browser test took $ms ms; screenshots in $ART"
check "the browser test passed (exit $rc)" test "$rc" = 0
check "the browser test ran under two minutes ($ms ms)" test "$ms" -lt 120000
finish
