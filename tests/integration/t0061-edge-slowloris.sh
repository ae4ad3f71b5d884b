#!/usr/bin/env bash
# t0061-edge-slowloris: one client address holding thousands of idle connections with
# unfinished headers (each one dropped is opened again at once) does not take the service
# from others: /health from another address keeps answering 200 within a second while
# 127.0.0.2 holds them (nginx has enough connections per worker, reuseport shares them,
# client_header_timeout drops the idle ones).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
CLIENT=./tests/integration/slowloris
[[ -x $CLIENT ]] || { not_ok "the attack client $CLIENT is built"; finish; }
PORT="${BASE##*:}"
CONNECTIONS="${SLOWLORIS_CONNECTIONS:-12000}" HOLD=14

"$CLIENT" "$PORT" 127.0.0.2 "$CONNECTIONS" "$HOLD" > "$T/attack.out" 2>&1 &
ATTACK=$!
stop_attack() { kill "$ATTACK" 2>/dev/null || true; wait "$ATTACK" 2>/dev/null || true; }
at_exit stop_attack
for _ in $(seq 1 100); do grep -q '^opened' "$T/attack.out" && break; sleep 0.1; done
opened="$(awk '/^opened/ { print $2 }' "$T/attack.out")"
echo "# the attacker (127.0.0.2) holds ${opened:-?} idle connections with unfinished headers"
check "the attacker opened thousands of connections (${opened:-none})" test "${opened:-0}" -ge 5000

# Probe /health from 127.0.0.1 while they are held (about 10 s, one probe each 0.25 s).
probes=0 failures=0 worst=0
end=$(( SECONDS + 10 ))
while (( SECONDS < end )); do
  out="$(curl -sS -o /dev/null -w '%{http_code} %{time_total}' --max-time 1 "$BASE/health" 2>/dev/null || true)"
  probes=$(( probes + 1 ))
  code="${out%% *}" t="${out##* }"
  [[ $code == 200 ]] || failures=$(( failures + 1 ))
  [[ $code == 200 ]] && awk -v a="$t" -v b="$worst" 'BEGIN { exit !(a > b) }' && worst=$t
  sleep 0.25
done
echo "# /health while attacked: $probes probes, $failures failed (not 200 within 1 s), slowest ${worst} s"
check "/health answered 200 within a second to every probe while attacked ($failures of $probes failed)" \
  test "$failures" = 0
check "the probes ran ($probes)" test "$probes" -ge 10

wait "$ATTACK" 2>/dev/null || true
closed="$(awk '/^closed_by_server/ { print $2 }' "$T/attack.out")"
echo "# nginx dropped ${closed:-?} of the idle connections (client_header_timeout) within ${HOLD} s"
check "nginx dropped the idle connections (client_header_timeout)" test "${closed:-0}" -ge $(( ${opened:-1} * 9 / 10 ))
request GET /health
check "/health is 200 after the attack (got $STATUS)" test "$STATUS" = 200
finish
