# tests/integration/lib.sh: helpers for the shell integration tests (sourced, not a test).
# shellcheck shell=bash
# Tests run against a live stack at $SMARTIMPORT_TEST_URL (scripts/test starts one);
# without it they are skipped (exit 77).
set -euo pipefail

if [[ -z ${SMARTIMPORT_TEST_URL:-} ]]; then
  echo "SKIP: SMARTIMPORT_TEST_URL is not set (scripts/test sets it)"; exit 77
fi
if ! command -v curl >/dev/null || ! command -v jq >/dev/null; then
  echo "not ok - curl and jq are installed"; exit 1
fi

BASE="${SMARTIMPORT_TEST_URL%/}"
T="$(mktemp -d)"
FAILS=0 EXIT_HOOKS=()
at_exit() { EXIT_HOOKS+=("$1"); }
_on_exit() {
  local rc=$? hook
  for hook in "${EXIT_HOOKS[@]}"; do "$hook" || true; done
  rm -rf "$T"; exit "$rc"
}
trap _on_exit EXIT

ok()     { echo "ok - $*"; }
not_ok() {
  echo "not ok - $*"; FAILS=$(( FAILS + 1 ))
  if [[ -s $T/body ]]; then echo "#   last body: $(head -c 300 "$T/body" | tr -d '\0')"; fi
}
# check DESCRIPTION COMMAND...: ok/not ok line depending on COMMAND's status.
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

# request METHOD PATH [curl args...]: sets STATUS and TIME (seconds);
# the body goes to $T/body, the headers to $T/headers. MAX_TIME (default 10) caps it.
request() {
  local method=$1 path=$2 out; shift 2
  : > "$T/body"; : > "$T/headers"
  out="$(curl -sS -X "$method" -o "$T/body" -D "$T/headers" --max-time "${MAX_TIME:-10}" \
           -w '%{http_code} %{time_total}' "$@" "$BASE$path" 2>"$T/curl.err")" || true
  STATUS="${out%% *}" TIME="${out##* }"
}
header()     { grep -i "^$1:" "$T/headers" | tail -n 1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//'; }
is_json_ct() { [[ $(header content-type) == application/json* ]]; }
body_jq()    { jq -e "$1" "$T/body" >/dev/null 2>&1; }
not_html()   { ! grep -qi '<html' "$T/body"; }
less_than()  { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'; }

# need_fake_llm: the fake model server scripts/test started (tests/fake-llm) for a test that talks
# to it: sets LLM to its URL, or skips (77) without it.  llm_mode MODE switches its answers.
need_fake_llm() {
  if [[ -z ${SMARTIMPORT_TEST_LLM:-} ]]; then
    echo "SKIP: SMARTIMPORT_TEST_LLM is not set (scripts/test starts the fake model server)"; exit 77
  fi
  LLM="${SMARTIMPORT_TEST_LLM%/}"
}
llm_mode() { curl -fsS -o /dev/null --max-time 5 --data-binary "$1" "$LLM/_control"; }

# fast_token USER_ID: an HS256 access token for USER_ID signed with $SMARTIMPORT_JWT_SECRET,
# made with openssl (the same claims as modules/token/smartimport-token, whose sanitizer build
# takes most of a second to start: too slow for a test that needs a hundred users).
fast_token() {
  local b64url='openssl base64 -A | tr "+/" "-_" | tr -d "="' now head claims sig
  now=$(date +%s)
  head="$(printf '{"alg":"HS256","typ":"JWT"}' | eval "$b64url")"
  claims="$(printf '{"sub":"%s","role":"authenticated","iat":%d,"exp":%d}' "$1" "$now" $(( now + 3600 )) | eval "$b64url")"
  sig="$(printf '%s.%s' "$head" "$claims" | openssl dgst -sha256 -hmac "${SMARTIMPORT_JWT_SECRET:?}" -binary | eval "$b64url")"
  echo "$head.$claims.$sig"
}

# default_currency USER_ID CODE...: each user's default currency set through user-settings
# (sql/0022), as a user who chose one has it: files that name no currency are read in it
# (with no default anywhere such a file is a 422, t0023).  Fails the test when it cannot.
default_currency() {
  local user=$1 code=${2:-USD} got
  got="$(curl -sS -o /dev/null -w '%{http_code}' -X PUT --max-time 10 -H "Authorization: Bearer $(fast_token "$user")" \
           -H 'Content-Type: application/json' --data "{\"defaultCurrency\":\"$code\"}" \
           "$BASE/.netlify/functions/user-settings" || true)"
  [[ $got == 200 ]] || { echo "not ok - setup: $user's default currency $code (got $got)"; exit 1; }
}

# retention_purge: enqueues the task retention.purge (modules/retention) with a fresh job key in
# its lane and waits for it (120 s); prints its result (t0112, t0120).  Needs DATABASE_URL.
retention_purge() {
  local id deadline=$(( $(date +%s) + 120 )) q=(psql -X -q -t -A -v ON_ERROR_STOP=1 "${DATABASE_URL:?}" -c)
  id="$("${q[@]}" "SELECT id FROM jobs_add('retention.purge', '{}', p_job_key => 'test-$(cat /proc/sys/kernel/random/uuid)', p_queue => 'retention')")"
  until [[ $("${q[@]}" "SELECT state FROM jobs WHERE id = $id") == succeeded ]]; do
    if (( $(date +%s) > deadline )); then echo "not ok - the purge job $id did not finish: $("${q[@]}" "SELECT state, error FROM jobs WHERE id = $id")" >&2; return 1; fi
    sleep 0.2
  done
  "${q[@]}" "SELECT result FROM jobs WHERE id = $id"
}
# worker_refuses TOKEN_KEY VAR=VALUE...: for each setting, a check that smartimport-worker started
# with it exits 2 at once, naming the variable in its log.
worker_refuses() {
  local key=$1 bad rc; shift
  for bad in "$@"; do
    rc=0; timeout -s KILL 20 env -u SMARTIMPORT_LOG_FILE SMARTIMPORT_TOKEN_KEY="$key" "$bad" ./modules/jobs/smartimport-worker > "$T/bad.log" 2>&1 || rc=$?
    check "$bad stops the worker at start (exit 2), naming the variable" \
      bash -c "[[ $rc == 2 ]] && grep -q '${bad%%=*}' '$T/bad.log'"
  done
}
now_ms() { date +%s%3N; }
jqf()    { jq -e "$@" >/dev/null; }
# wait_for_line FILE REGEX MS: wait until a line of FILE matches; sets WAITED (ms).
wait_for_line() {
  local start; start="$(now_ms)"
  while ! grep -qE "$2" "$1" 2>/dev/null; do
    if (( $(now_ms) - start > $3 )); then WAITED=$3; return 1; fi
    sleep 0.01
  done
  WAITED=$(( $(now_ms) - start ))
}

# within SECONDS COMMAND...: COMMAND succeeds before SECONDS pass (tried every 0.2 s; by the clock,
# not by a count of tries, since a loaded machine makes each try slow).
within() {
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@"; do (( $(date +%s) < deadline )) || return 1; sleep 0.2; done
}

# A database tier and a stack of the test's own (t0131, t0132), next to scripts/test's, which they
# never touch.  pgha_tier NAME: skips (77) when Patroni or etcd cannot be installed (scripts/deps
# --ha); starts scripts/pg-ha under $SMARTIMPORT_TEST_VAR/NAME, both stopped at exit, and sets S
# (scripts/), HAVAR and HA (the env prefix of every command on it); a failed start fails the test.
# pgha_stack VAR=VALUE...: scripts/up on the tier on a free port, with those settings; sets BASE.
pgha_tier() {
  [[ -n ${SMARTIMPORT_TEST_VAR:-} ]] || { echo "SKIP: SMARTIMPORT_TEST_VAR is not set (scripts/test sets it)"; exit 77; }
  S="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../scripts" && pwd -P)"
  if ! command -v patroni >/dev/null || ! command -v etcd >/dev/null; then
    "$S/deps" --ha >/dev/null 2>&1 || true
  fi
  if ! command -v patroni >/dev/null || ! command -v etcd >/dev/null; then
    echo "SKIP: patroni and etcd are not installed and could not be (scripts/deps --ha)"; exit 77
  fi
  HAVAR="$SMARTIMPORT_TEST_VAR/$1"
  mkdir -p "$HAVAR" && chmod 755 "$HAVAR"
  HA=(env SMARTIMPORT_VAR="$HAVAR")
  at_exit pgha_teardown
  if ! "${HA[@]}" "$S/pg-ha" up > "$T/pgha-up.out" 2>&1; then
    not_ok "scripts/pg-ha up"; tail -n 30 "$T/pgha-up.out" | sed 's/^/#   /'; finish
  fi
}
pgha_teardown() {
  "${HA[@]}" "$S/down" >/dev/null 2>&1 || true
  "${HA[@]}" "$S/pg-ha" down >/dev/null 2>&1 || true
}
pgha_stack() {
  local port
  port="$(bash -c '. "$0/lib.sh" && free_port' "$S")"
  while [[ $BASE == *":$port" ]]; do port="$(bash -c '. "$0/lib.sh" && free_port' "$S")"; done
  mkdir -p "$HAVAR/spool"
  if ! "${HA[@]}" SMARTIMPORT_PORT="$port" SMARTIMPORT_SPOOL_DIR="$HAVAR/spool" "$@" "$S/up" --no-build > "$T/up.out" 2>&1; then
    not_ok "scripts/up on the tier"; tail -n 30 "$T/up.out" | sed 's/^/#   /'; finish
  fi
  BASE="http://127.0.0.1:$port"
}

# imports_once USER RUN ACKED: the checks of a failover test whose client committed one-row imports
# described "HA-RUN-I" and recorded each acknowledged one as "I IMPORT ..." in the file ACKED
# (t0131, t0133): each is present exactly once, no row is doubled, each import is committed.
# Uses the test's sql function (psql on the new primary).
imports_once() {
  local user=$1 run=$2 acked=$3 bad
  bad="$(while read -r i _; do
    n="$(sql "SELECT count(*) FROM transactions WHERE user_id = '$user' AND description = 'HA-$run-$i'")"
    [[ $n == 1 ]] || echo "HA-$run-$i:$n"
  done < "$acked")"
  check "every acknowledged commit is present exactly once (counted on the new primary)" test -z "$bad"
  [[ -z $bad ]] || echo "#   $bad"
  check "no statement row was committed twice, acknowledged or not" test \
    "$(sql "SELECT count(*) FROM (SELECT description FROM transactions WHERE user_id = '$user' AND description LIKE 'HA-$run-%'
            GROUP BY description HAVING count(*) > 1) d")" = 0
  check "each acknowledged import is committed" test \
    "$(sql "SELECT count(*) FROM imports WHERE user_id = '$user' AND status = 'committed'
            AND id = ANY('{$(cut -d' ' -f2 "$acked" | paste -sd,)}'::uuid[])")" = "$(wc -l < "$acked")"
}

finish() {
  if (( FAILS > 0 )); then echo "# $FAILS check(s) failed"; exit 1; fi
  echo "# all checks passed"; exit 0
}
