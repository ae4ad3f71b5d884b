#!/usr/bin/env bash
# t0114-backup-cluster: scripts/backup and scripts/restore pointed at a Debian system cluster
# (--cluster VERSION/NAME and the --pg-* options, scripts/pgtarget.sh), without running one: a fake
# cluster's settings folder under $T (postgresql.conf naming a data directory, a port and a socket
# folder, include_dir = 'conf.d'; --pg-conf points there) whose server is not running.  What they read
# from it (the data directory, the port; the user from the data directory's owner) shows in their
# words; the options override it; every bad option is refused in words, before anything is touched;
# --list works on it; a backup of a cluster that is not running, and a restore to a time before the
# oldest backup, are refused and change nothing (the data directory stays, nothing moved aside,
# conf.d untouched).  A real system cluster is never started (t0111 does the real backup and
# restore on the project's cluster, through the same scripts).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../../scripts/lib.sh"   # ROOT, pg_bindir

S="$ROOT/scripts"
BIN="$(pg_bindir 2>/dev/null)" || { echo "SKIP: no PostgreSQL server tools"; exit 77; }
VER="$(basename "$(dirname "$BIN")")"
id -u postgres >/dev/null 2>&1 || { echo "SKIP: no postgres user"; exit 77; }
unset DATABASE_URL

# The fake cluster VER/t0114: settings in $T/conf, data in $T/data (owned by postgres, as Debian's).
chmod 755 "$T"
C="$T/conf" DATA="$T/data" BK="$T/backup"
mkdir -p "$C/conf.d" "$DATA" "$T/sock"
echo "$VER" > "$DATA/PG_VERSION"
(( EUID != 0 )) || chown -R postgres: "$DATA"
cat > "$C/postgresql.conf" <<EOF
data_directory = '$DATA'		# use data in another directory
port = 54914				# (change requires restart)
unix_socket_directories = '$T/sock'	# comma-separated list of directories
include_dir = 'conf.d'			# include files ending in '.conf' from
EOF
CL=(--cluster "$VER/t0114" --pg-conf "$C")

# refused WHAT PATTERN SCRIPT ARGS...: SCRIPT exits non-zero saying PATTERN (an ERE).
refused() {
  local what=$1 pattern=$2 script=$3 rc; shift 3
  "$S/$script" "$@" > "$T/out" 2>&1 && rc=0 || rc=$?
  if (( rc != 0 )) && grep -qE -- "$pattern" "$T/out"; then
    ok "$what: refused ($(grep -m1 -oE -- "$pattern" "$T/out"))"
  else
    not_ok "$what: refused saying /$pattern/ (exit $rc: $(tr '\n' ' ' < "$T/out" | head -c 300))"
  fi
}

# --- the options, refused in words ------------------------------------------------------------------
for script in backup restore; do
  to=()
  [[ $script == restore ]] && to=(--to "2026-01-01 10:00:00+00")
  refused "$script --pg-port without --cluster" "give the cluster too, --cluster VERSION/NAME" $script "${to[@]}" --pg-port 5433
  refused "$script --cluster main (no version)" "want VERSION/NAME" $script "${to[@]}" --cluster main
  refused "$script --cluster '15/main; rm'" "want VERSION/NAME" $script "${to[@]}" --cluster "15/main; rm"
  refused "$script --cluster 99/main (not installed)" "PostgreSQL 99 is not installed" $script "${to[@]}" --cluster 99/main
  refused "$script --cluster $VER/t0114-none (no such cluster)" "no /etc/postgresql/$VER/t0114-none/postgresql.conf" \
    $script "${to[@]}" --cluster "$VER/t0114-none"
  refused "$script --pg-port 70000" "--pg-port '70000': want a port" $script "${to[@]}" "${CL[@]}" --pg-port 70000
  refused "$script --pg-data relative/path" "--pg-data 'relative/path': want an absolute plain path" \
    $script "${to[@]}" "${CL[@]}" --pg-data relative/path
  refused "$script --pg-user t0114-nobody" "--pg-user 't0114-nobody': no such user" $script "${to[@]}" "${CL[@]}" --pg-user t0114-nobody
  refused "$script --pg-user root" "--pg-user root: PostgreSQL runs as its own user" $script "${to[@]}" "${CL[@]}" --pg-user root
  refused "$script --cluster without a value" "--cluster needs a value" $script "${to[@]}" --cluster
  "$S/$script" "${to[@]}" "${CL[@]}" --pg-nonsense x > "$T/out" 2>&1 && rc=0 || rc=$?
  check "$script with an unknown option: exit 2 and the usage names the cluster options" \
    bash -c "(( $rc == 2 )) && grep -q -- '--cluster VERSION/NAME' '$T/out'"
done
refused "backup --cluster without --dir (no default folder for a system cluster)" "say where the backups are, --dir DIR" \
  backup "${CL[@]}"
refused "restore --cluster without --dir" "say where the backups are, --dir DIR" restore "${CL[@]}" --to "2026-01-01 10:00:00+00"
sed 's/^include_dir.*//' "$C/postgresql.conf" > "$T/conf-noinclude.conf"
mkdir -p "$T/conf2"; mv "$T/conf-noinclude.conf" "$T/conf2/postgresql.conf"
refused "backup of a cluster whose postgresql.conf does not include conf.d" "does not include conf.d" \
  backup --cluster "$VER/t0114" --pg-conf "$T/conf2" --dir "$BK"

# --- what it reads from the cluster's settings ---------------------------------------------------
refused "backup of a cluster that is not running, named from its settings (data directory, port)" \
  "PostgreSQL $VER/t0114 \\($DATA, port 54914\\) is not running \\(systemctl start postgresql@$VER-t0114\\)" backup "${CL[@]}" --dir "$BK"
refused "the options override the settings (--pg-port 54915)" "\\($DATA, port 54915\\) is not running" \
  backup "${CL[@]}" --pg-port 54915 --dir "$BK"
"$S/backup" "${CL[@]}" --dir "$BK" --list > "$T/out" 2>&1 && rc=0 || rc=$?
check "backup --list on it: exit 0, no backups, no archiver state (not running)" \
  bash -c "(( $rc == 0 )) && grep -q 'scripts/backup makes one' '$T/out' && grep -q 'PostgreSQL is not running' '$T/out'"

# --- a restore refused changes nothing -------------------------------------------------------------
refused "restore with no backups" "no backups in $BK" restore "${CL[@]}" --dir "$BK" --to "2026-01-01 10:00:00+00"
# One finished backup that ended a minute ago: an hour ago is before it.
mkdir -p "$BK/base/20260101T000000Z" "$BK/wal"
printf '%s\n' "start=$(date -u -d '-2 min' '+%Y-%m-%d %H:%M:%S')+00" "start_epoch=$(date -d '-2 min' +%s)" \
  "end=$(date -u -d '-1 min' '+%Y-%m-%d %H:%M:%S')+00" "end_epoch=$(date -d '-1 min' +%s)" > "$BK/base/20260101T000000Z.done"
refused "restore to a time before the oldest backup" "before the oldest backup, 20260101T000000Z" \
  restore "${CL[@]}" --dir "$BK" --to "$(date -u -d '-1 hour' '+%Y-%m-%d %H:%M:%S')+00"
refused "restore to a malformed time" "want 'YYYY-MM-DD HH:MM:SS\\+00'" restore "${CL[@]}" --dir "$BK" --to "yesterday"
check "nothing was touched: the data directory is where it was, nothing moved aside, conf.d empty" \
  bash -c "[[ -f '$DATA/PG_VERSION' ]] && ! ls -d '$DATA'.before-restore-* >/dev/null 2>&1 && [[ -z \$(ls -A '$C/conf.d') ]]"

(( FAILS == 0 ))
