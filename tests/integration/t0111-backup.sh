#!/usr/bin/env bash
# t0111-backup: scripts/backup and scripts/restore on a PostgreSQL cluster of the test's own (under $T,
# through scripts/pg with its own SMARTIMPORT_VAR; the shared test stack is never touched). Commits
# imports the way commit-import does (staged rows moved into transactions in one transaction), takes a
# base backup, commits more, notes a time T1, commits more, and restores to T1: into a new directory
# while the cluster runs, and in place of the cluster; the rows are exactly those committed before T1.
# A time before the backup, a malformed time and a time in the future are refused and change nothing.
# A second backup and --keep 1 delete the first and the WAL only it needed; the present is still restorable.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROOT="$(cd "$(dirname "$0")/../.." && pwd -P)"
S="$ROOT/scripts"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
if [[ -z $BIN || ! -x $BIN/pg_basebackup ]]; then echo "SKIP: no pg_basebackup"; exit 77; fi

# The postgres user (the server runs as it when we are root) must reach the cluster under $T.
chmod 755 "$T"
export SMARTIMPORT_VAR="$T/var" SMARTIMPORT_PG_PORT=$(( 10000 + RANDOM % 22000 ))
unset DATABASE_URL
BK="$T/backup" COPY="$T/copy"
as_pg() { if (( EUID == 0 )); then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }
stop_clusters() {
  if [[ -f $COPY/postmaster.pid ]]; then as_pg "$BIN/pg_ctl" stop -D "$COPY" -m immediate -w >/dev/null 2>&1 || true; fi
  "$S/pg" stop >/dev/null 2>&1 || true
}
at_exit stop_clusters

"$S/pg" start >/dev/null
URL="$("$S/pg" url)"
DATABASE_URL="$URL" "$S/migrate" >/dev/null
sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "${DB:-$URL}" -c "$1"; }

USER_ID="$(sql "select gen_random_uuid()")"
# commit NAME ROWS: one import of ROWS rows, staged and then committed as commit-import does it:
# staged rows into transactions (ON CONFLICT on the dedup hash), staging emptied, import committed.
commit() {
  psql -X -q -v ON_ERROR_STOP=1 -d "$URL" --single-transaction >/dev/null <<SQL
insert into imports (id, user_id, file_name, file_size, file_sha256, format, currency, status, rows_total)
values (md5('$1')::uuid, '$USER_ID', '$1.csv', 1000, encode(sha256('$1'::bytea), 'hex'), 'csv', 'EUR', 'parsed', $2);
insert into transactions_staging (import_id, user_id, row_no, line, tx_date, amount_minor, currency, description,
                                  category, dedup_hash)
select md5('$1')::uuid, '$USER_ID', g, g + 1, date '2026-01-01' + g % 300, -100 * g, 'EUR', '$1 row ' || g,
       'Other', encode(sha256(('$1-' || g)::bytea), 'hex')
from generate_series(1, $2) g;
insert into transactions (user_id, import_id, tx_date, amount_minor, currency, description, category, dedup_hash)
select user_id, import_id, tx_date, amount_minor, currency, description, category, dedup_hash
from transactions_staging where import_id = md5('$1')::uuid and user_id = '$USER_ID'
order by dedup_hash collate "C" on conflict (user_id, dedup_hash) do nothing;
delete from transactions_staging where import_id = md5('$1')::uuid and user_id = '$USER_ID';
update imports set status = 'committed', updated_at = now() where id = md5('$1')::uuid and user_id = '$USER_ID';
SQL
}
count() { sql "select count(*) from transactions where user_id = '$USER_ID'"; }
# A whole second on the server's clock after now, and a wait until it has passed (plus a pause), so
# that a restore to it, at whole seconds, keeps what committed before and drops what commits after.
next_second() {
  local t; t="$(sql "select to_char((date_trunc('second', clock_timestamp()) + interval '1 second') at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00'")"
  until [[ $(sql "select clock_timestamp() > timestamptz '$t' + interval '300 milliseconds'") == t ]]; do sleep 0.1; done
  echo "$t"
}

# time_it OUT COMMAND...: COMMAND's output into OUT, and how long it took as a comment line.
time_it() {
  local out=$1 start rc=0; shift
  start="$(date +%s%N)"
  "$@" > "$out" 2>&1 || rc=$?
  echo "# $(basename "$1") ${*:2}: $(( ($(date +%s%N) - start) / 1000000 )) ms"
  return "$rc"
}

commit before-backup 1000
T0="$(next_second)"
check "1000 rows committed before the backup (got $(count))" test "$(count)" = 1000

if time_it "$T/backup.out" "$S/backup" --dir "$BK"; then ok "scripts/backup succeeds"; else
  not_ok "scripts/backup succeeds"; sed 's/^/#   /' "$T/backup.out"; finish; fi
NAME="$(find "$BK/base" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | head -n 1)"
check "one base backup in DIR/base, named by its UTC time ($NAME)" \
  bash -c '[[ $0 =~ ^[0-9]{8}T[0-9]{6}Z$ && $(ls -d "$1"/base/*/ | wc -l) == 1 ]]' "$NAME" "$BK"
check "the backup is marked finished ($NAME.done) and has its SHA-256 manifest" \
  bash -c '[[ -f $0/base/$1.done ]] && grep -q SHA256 "$0/base/$1/backup_manifest"' "$BK" "$NAME"
check "pg_verifybackup finds the backup whole" as_pg "$BIN/pg_verifybackup" -q "$BK/base/$NAME"
check "scripts/backup says what it made" grep -q "made $BK/base/$NAME" "$T/backup.out"
check "archive_mode is on" test "$(sql "show archive_mode")" = on
check "finished WAL segments are archived into DIR/wal" \
  bash -c 'ls "$0"/wal | grep -qE "^[0-9A-F]{24}$"' "$BK"
check "the archiver has no failure" test "$(sql "select failed_count from pg_stat_archiver")" = 0

commit between-1 400
commit between-2 300
T1="$(next_second)"
commit after-1 500
check "2200 rows committed in all (got $(count))" test "$(count)" = 2200

"$S/backup" --dir "$BK" --list > "$T/list.out" 2>&1 || true
check "--list shows the backup, restorable from its end" grep -q "$NAME .*restorable from" "$T/list.out"
check "--list shows the archived WAL range" grep -qE "segment\(s\), [0-9A-F]{24} \.\. [0-9A-F]{24}" "$T/list.out"

# Refusals: nothing changes.
refused() {   # refused WHAT PATTERN ARGS...: scripts/restore exits non-zero saying PATTERN; the cluster runs on
  local what=$1 pattern=$2; shift 2
  if "$S/restore" --dir "$BK" "$@" > "$T/refused.out" 2>&1; then not_ok "$what is refused (it ran)"; return; fi
  check "$what is refused, in words" grep -qE "$pattern" "$T/refused.out"
  check "$what: the cluster still runs with its ${ROWS:-2200} rows" test "$(count)" = "${ROWS:-2200}"
}
refused "a time before the backup ended ($T0)" "before the oldest backup, $NAME, which ended at" --to "$T0"
refused "a malformed time" "want 'YYYY-MM-DD HH:MM:SS\+00'" --to "2026-01-01 10:00:00'; select 1; --"
refused "a time in the future" "in the future" --to "$(date -u -d '+1 day' '+%Y-%m-%d %H:%M:%S')+00"
refused "a time that does not exist" "not a real time" --to "2026-02-30 10:00:00+00"
check "no data directory was moved aside by a refused restore" \
  bash -c '! ls -d "$0"/var/pg/data.before-restore-* 2>/dev/null' "$T"

# Into a new directory while the cluster runs.
if time_it "$T/copy.out" "$S/restore" --dir "$BK" --to "$T1" --data "$COPY"; then ok "restore --data to T1 ($T1) succeeds"; else
  not_ok "restore --data to T1 ($T1) succeeds"; sed 's/^/#   /' "$T/copy.out"; fi
COPY_URL="postgresql://smartimport@/smartimport?host=$COPY&port=$SMARTIMPORT_PG_PORT"
got="$(DB="$COPY_URL" sql "select count(*) from transactions where user_id = '$USER_ID'" 2>&1 || true)"
check "the copy holds exactly the 1700 rows committed before T1 (got $got)" test "$got" = 1700
got="$(DB="$COPY_URL" sql "select string_agg(file_name, ',' order by file_name) from imports" 2>&1 || true)"
check "the copy holds the imports committed before T1, not the one after (got $got)" \
  test "$got" = "before-backup.csv,between-1.csv,between-2.csv"
check "the copy is a read-write server (recovery ended)" test "$(DB="$COPY_URL" sql "select pg_is_in_recovery()" 2>&1)" = f
check "restore --data names the backup it used" grep -q "restored from base backup $NAME" "$T/copy.out"
check "restore --data says the time it reached" grep -qE "reached: .*committed at [0-9]{4}-" "$T/copy.out"
check "the project's cluster kept running with its 2200 rows" test "$(count)" = 2200
as_pg "$BIN/pg_ctl" stop -D "$COPY" -m fast -w >/dev/null 2>&1 || true

# In place of the project's cluster (the default).
if time_it "$T/replace.out" "$S/restore" --dir "$BK" --to "$T1"; then ok "restore to T1 ($T1) in place succeeds"; else
  not_ok "restore to T1 ($T1) in place succeeds"; sed 's/^/#   /' "$T/replace.out"; fi
check "after the restore the cluster holds exactly the 1700 rows committed before T1 (got $(count 2>&1))" \
  test "$(count 2>&1)" = 1700
check "the imports restored are those committed before T1" \
  test "$(sql "select count(*) from imports where user_id = '$USER_ID' and status = 'committed'" 2>&1)" = 3
check "the old data directory is kept aside, whole" \
  bash -c 'f=$(ls -d "$0"/var/pg/data.before-restore-*/PG_VERSION 2>/dev/null); [[ -n $f ]]' "$T"
check "restore names the backup it used" grep -q "restored from base backup $NAME" "$T/replace.out"
commit after-restore 10
check "the restored cluster takes new commits (1710 rows, got $(count))" test "$(count)" = 1710
DB="$("$S/pg" admin-url)" sql "select pg_switch_wal()" >/dev/null
archived() { local i; for i in $(seq 1 50); do [[ -f $1 ]] && return 0; sleep 0.2; done; return 1; }
check "the restored cluster archives on its new timeline (00000002.history in DIR/wal)" archived "$BK/wal/00000002.history"

# A second backup, then --keep 1: the first backup and the WAL only it needed are deleted.
if time_it "$T/backup2.out" "$S/backup" --dir "$BK"; then ok "a second scripts/backup succeeds"; else
  not_ok "a second scripts/backup succeeds"; sed 's/^/#   /' "$T/backup2.out"; fi
NAME2="$(find "$BK/base" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort | tail -n 1)"
START2="$(sed -n 's/^start_wal=//p' "$BK/base/$NAME2.done")"
commit after-backup-2 5
if "$S/backup" --dir "$BK" --keep 1 > "$T/keep.out" 2>&1; then ok "--keep 1 succeeds"; else
  not_ok "--keep 1 succeeds"; sed 's/^/#   /' "$T/keep.out"; fi
check "--keep 1 deleted the first backup ($NAME) and kept the second ($NAME2)" \
  bash -c '[[ ! -e $0/base/$1 && ! -e $0/base/$1.done && -f $0/base/$2.done && $1 != "$2" ]]' "$BK" "$NAME" "$NAME2"
oldest_wal="$(ls "$BK/wal" | grep -E '^[0-9A-F]{24}$' | sort | head -n 1)"
check "--keep 1 deleted the WAL before the kept backup's start ($START2; oldest left $oldest_wal)" \
  test "${oldest_wal:8}" = "${START2:8}"
check "--keep 1 kept the timeline history" test -f "$BK/wal/00000002.history"
ROWS=1715 refused "T1 after --keep 1 (now before the oldest backup)" "before the oldest backup, $NAME2" --to "$T1"

# Restoring to now (nothing in the archive after it) gives every row: from the kept backup, across timelines.
NOW="$(next_second)"
if time_it "$T/now.out" "$S/restore" --dir "$BK" --to "$NOW" --data "$COPY.now"; then ok "restore --data to the present succeeds"; else
  not_ok "restore --data to the present succeeds"; sed 's/^/#   /' "$T/now.out"; fi
got="$(DB="postgresql://smartimport@/smartimport?host=$COPY.now&port=$SMARTIMPORT_PG_PORT" \
       sql "select count(*) from transactions where user_id = '$USER_ID'" 2>&1 || true)"
check "a restore to the present holds every row (1715, got $got)" test "$got" = 1715
check "restore to the present used the kept backup" grep -q "restored from base backup $NAME2" "$T/now.out"
as_pg "$BIN/pg_ctl" stop -D "$COPY.now" -m fast -w >/dev/null 2>&1 || true
finish
