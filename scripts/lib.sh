#!/usr/bin/env bash
# scripts/lib.sh: helpers shared by the scripts in this directory (source it, don't run it).
# Sets ROOT (repo root) and SMARTIMPORT_VAR (runtime state; default $ROOT/var).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
# nginx, runuser live in sbin, which a normal user's PATH may lack.
PATH="$PATH:/usr/sbin:/sbin"
SMARTIMPORT_VAR="$(realpath -m "${SMARTIMPORT_VAR:-$ROOT/var}")"
export SMARTIMPORT_VAR

say()  { echo "==> $*"; }
warn() { echo "==> WARNING: $*" >&2; }
die()  { echo "==> ERROR: $*" >&2; exit 1; }

# The var path ends up in nginx.conf, libpq URLs and socket paths: keep it plain.
[[ $SMARTIMPORT_VAR =~ ^[A-Za-z0-9._/+-]+$ ]] ||
  die "SMARTIMPORT_VAR='$SMARTIMPORT_VAR' has unusual characters; set SMARTIMPORT_VAR to a plain path"

# Newest installed PostgreSQL server bin dir, e.g. /usr/lib/postgresql/15/bin.
pg_bindir() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [[ -n $d && -x $d/pg_ctl ]] || die "PostgreSQL server not found under /usr/lib/postgresql (run scripts/deps)"
  echo "$d"
}

# The PostgreSQL settings every cluster of ours runs with, NAME<TAB>VALUE a line: scripts/pg writes
# them into smartimport.conf, scripts/pg-ha into Patroni's configuration.
# Logical decoding for smartimport-cdc (modules/cdc): a slot on the publication smartimport_purchases
# read over the replication protocol.  wal_level needs a restart (scripts/down && scripts/up).  A slot
# keeps WAL until its reader confirms; max_slot_wal_keep_size bounds that when the reader is gone.
# The log never quotes row values (ids, hashes, descriptions, account numbers): no DETAIL,
# HINT, CONTEXT or statement text (log_error_verbosity, log_min_error_statement), no bind
# parameters, and no ERROR or WARNING lines at all (log_min_messages = log), since their
# primary message can quote a value ('invalid input syntax for type uuid: "..."'). A
# statement's error is logged by the responder that got it, with its SQLSTATE.
pg_shared_settings() {
  printf '%s\t%s\n' \
    fsync on  max_connections 100 \
    wal_level logical  max_replication_slots 10  max_wal_senders 10  max_slot_wal_keep_size 4GB \
    log_line_prefix '%m [%p] %q%u@%d ' \
    log_error_verbosity terse  log_min_messages log  log_min_error_statement panic \
    log_parameter_max_length 0  log_parameter_max_length_on_error 0 \
    log_statement none  log_min_duration_statement -1 \
    tcp_keepalives_idle 10  tcp_keepalives_interval 5  tcp_keepalives_count 3  tcp_user_timeout 20000
}

# A TCP port on 127.0.0.1 that nothing listens on (nothing answers a connect), below the kernel's
# ephemeral range (ip_local_port_range), which outgoing connections take their ports from: a port
# free now in that range can be some client's source port by the time a server binds it.
free_port() {
  local port _ lo=32768
  read -r lo _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
  (( lo > 12000 )) || lo=32768
  for _ in $(seq 1 200); do
    port=$(( 10000 + RANDOM % (lo - 10000) ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return 0; fi
  done
  die "no free port found on 127.0.0.1"
}

# wait_for SECONDS DESCRIPTION COMMAND...: retry COMMAND every 0.2 s until it succeeds.
wait_for() {
  local timeout=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + timeout ))
  until "$@" >/dev/null 2>&1; do
    if (( $(date +%s) >= deadline )); then
      echo "==> timed out after ${timeout}s waiting for $what" >&2; return 1
    fi
    sleep 0.2
  done
}

# pid_alive PIDFILE [PATTERN]: the pid in PIDFILE is a live process (whose command line
# contains PATTERN, so a stale pid file never makes us signal an unrelated process).
pid_alive() {
  local file=$1 pattern=${2:-} pid cmd
  [[ -f $file ]] || return 1
  pid="$(tr -dc '0-9' < "$file")"
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  cmd="$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ -z $pattern || $cmd == *"$pattern"* ]]
}

# wal_archive_command DIR: PostgreSQL's archive_command that archives into DIR/wal (scripts/pg for the
# project's cluster, scripts/pgtarget.sh for a system one).  A finished segment is copied to a .part
# name, fsynced, renamed and the folder fsynced, so a crash never leaves a torn file under a segment's
# name; an existing segment is never overwritten (test -f): the same bytes again count as archived
# (cmp), different ones fail loudly and the segment stays in pg_wal until someone looks.  DIR must be
# a checked plain path (no quotes, no spaces).
wal_archive_command() {
  local w="$1/wal"
  [[ $1 =~ ^/[A-Za-z0-9._/+-]+$ ]] || die "bad backup folder '$1': want an absolute plain path"
  echo "if test -f $w/%f; then cmp -s %p $w/%f; else cp %p $w/%f.part && sync $w/%f.part && mv $w/%f.part $w/%f && sync $w; fi"
}

# Path of a function's binary (libtool wrapper) in a build dir: modules/<folder>/smartimport-<fn>,
# where one folder may build several related functions (modules/commit/ builds commit-import
# and revert-import).
fn_binary() {
  local build="${SMARTIMPORT_BUILD:-$ROOT/build}" f
  for f in "$build"/modules/*/"smartimport-$1"; do
    [[ -x $f ]] && { echo "$f"; return 0; }
  done
  echo "$build/modules/$1/smartimport-$1"
}

# Distinct function names listed in nginx/routes.
route_functions() {
  awk '!/^[[:space:]]*(#|$)/ { print $1 }' "$ROOT/nginx/routes" | awk '!seen[$0]++'
}

# fn_tcp_port FN: the TCP port function FN listens on on every responder host of a cluster
# (scripts/cluster, scripts/render-nginx --hosts): SMARTIMPORT_CLUSTER_BASE_PORT (9100) + its
# place in nginx/routes (1 for the first function listed), the same on every host.
fn_tcp_port() {
  local base="${SMARTIMPORT_CLUSTER_BASE_PORT:-9100}" i=0 f
  [[ $base =~ ^[0-9]+$ ]] && (( base >= 1024 && base <= 65000 )) || die "bad SMARTIMPORT_CLUSTER_BASE_PORT '$base'"
  for f in $(route_functions); do
    i=$(( i + 1 ))
    [[ $f == "$1" ]] && { echo $(( base + i )); return 0; }
  done
  die "$1 is not a function listed in nginx/routes"
}

# bench_nginx_limits PORT NAME=VALUE...: a benchmark that opens more connections from
# 127.0.0.1 than nginx's per-address defaults allow (scripts/render-nginx) raises them for
# the stack it uses: exported for a stack scripts/up starts next, and when nginx already
# runs, its config is rendered again with them and reloaded (until the next scripts/up).
bench_nginx_limits() {
  local port=$1 kv; shift
  for kv in "$@"; do export "${kv?}"; done
  if pid_alive "$SMARTIMPORT_VAR/run/nginx.pid" nginx; then
    "$ROOT/scripts/render-nginx" "$SMARTIMPORT_VAR" "$port" >/dev/null &&
      nginx -p "$SMARTIMPORT_VAR/nginx" -c "$SMARTIMPORT_VAR/nginx/nginx.conf" -e "$SMARTIMPORT_VAR/log/nginx-error.log" -s reload ||
      die "could not raise nginx's limits for the benchmark"
    say "nginx limits raised for this benchmark: $*"
    sleep 1   # the reload's new workers take over
  fi
}
