#!/usr/bin/env bash
# scripts/pgtarget.sh: the PostgreSQL cluster scripts/backup and scripts/restore work on (source it after
# lib.sh; don't run it).  Either
#   - the project's own cluster (scripts/pg, $SMARTIMPORT_VAR/pg): the default; or
#   - a Debian system cluster, --cluster VERSION/NAME (as pg_lsclusters lists them, e.g. 15/main), started
#     and stopped with pg_ctlcluster, its settings in /etc/postgresql/VERSION/NAME (--pg-conf DIR), its
#     data directory, port and socket read from there (--pg-data DIR, --pg-port N, --pg-socket DIR override
#     them), run by the owner of its data directory, postgres (--pg-user USER), whose superuser role of the
#     same name is reached by peer authentication.  Archiving is set in CONF/conf.d/smartimport-archive.conf.
# The caller's option loop hands every --cluster / --pg-* option to pgt_set, then calls pgt_setup once.
# After it: BIN (the server's tools), PGT_KIND (project|system) and the pgt_* functions below.

PGT_KIND=project PGT_CLUSTER="" PGT_CONF="" PGT_DATA="" PGT_PORT="" PGT_USER="" PGT_SOCKET="" PGT_GIVEN=""
PGT_OPTIONS="[--cluster VERSION/NAME [--pg-conf DIR] [--pg-data DIR] [--pg-port N] [--pg-user USER] [--pg-socket DIR]]"

# pgt_set OPTION VALUE: one cluster option of the command line.
pgt_set() {
  case $1 in
    --cluster)   PGT_CLUSTER=$2 ;;
    --pg-conf)   PGT_CONF=$2 ;;
    --pg-data)   PGT_DATA=$2 ;;
    --pg-port)   PGT_PORT=$2 ;;
    --pg-user)   PGT_USER=$2 ;;
    --pg-socket) PGT_SOCKET=$2 ;;
    *) die "unknown cluster option $1" ;;
  esac
  [[ $1 == --cluster ]] || PGT_GIVEN+=" $1"
}

# pgt_conf_value KEY FILE: the last uncommented `KEY = value` of a postgresql.conf, quotes removed.
pgt_conf_value() {
  sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" "$2" 2>/dev/null | tail -n 1 |
    sed -e "s/[[:space:]]*#.*//" -e "s/^'\(.*\)'\$/\1/"
}

# pgt_setup: checks the options and finds the cluster; refuses, in words, anything it cannot use.
pgt_setup() {
  local plain='^/[A-Za-z0-9._/+-]+$' ver name v
  if [[ -z $PGT_CLUSTER ]]; then
    [[ -z $PGT_GIVEN ]] || die "${PGT_GIVEN# } name(s) a system cluster's settings: give the cluster too, --cluster VERSION/NAME (e.g. 15/main)"
    [[ -x $ROOT/scripts/pg ]] ||
      die "no project cluster here ($ROOT/scripts/pg: the installed tree has none): give --cluster VERSION/NAME (e.g. 15/main)"
    BIN="$(pg_bindir)"
    PGT_USER=postgres
    return 0
  fi
  PGT_KIND=system
  [[ $PGT_CLUSTER =~ ^([0-9]{1,2}(\.[0-9]+)?)/([A-Za-z0-9_-]+)$ ]] ||
    die "--cluster '$PGT_CLUSTER': want VERSION/NAME as pg_lsclusters lists it, e.g. 15/main"
  ver="${BASH_REMATCH[1]}" name="${BASH_REMATCH[3]}"
  BIN="/usr/lib/postgresql/$ver/bin"
  [[ -x $BIN/pg_ctl && -x $BIN/pg_basebackup ]] || die "--cluster $PGT_CLUSTER: PostgreSQL $ver is not installed ($BIN/pg_ctl)"
  PGT_CONF="${PGT_CONF:-/etc/postgresql/$ver/$name}"
  [[ $PGT_CONF =~ $plain ]] || die "--pg-conf '$PGT_CONF': want an absolute plain path"
  [[ -f $PGT_CONF/postgresql.conf ]] ||
    die "--cluster $PGT_CLUSTER: no $PGT_CONF/postgresql.conf (pg_lsclusters lists this machine's clusters)"
  grep -Eq "^[[:space:]]*include_dir[[:space:]]*=[[:space:]]*'conf\.d'" "$PGT_CONF/postgresql.conf" ||
    die "$PGT_CONF/postgresql.conf does not include conf.d (include_dir = 'conf.d'), where the archive settings go"
  PGT_DATA="${PGT_DATA:-$(pgt_conf_value data_directory "$PGT_CONF/postgresql.conf")}"
  [[ -n $PGT_DATA ]] || die "$PGT_CONF/postgresql.conf names no data_directory: give --pg-data DIR"
  [[ $PGT_DATA =~ $plain ]] || die "--pg-data '$PGT_DATA': want an absolute plain path"
  PGT_PORT="${PGT_PORT:-$(pgt_conf_value port "$PGT_CONF/postgresql.conf")}"
  PGT_PORT="${PGT_PORT:-5432}"
  [[ $PGT_PORT =~ ^[0-9]{1,5}$ ]] && (( PGT_PORT >= 1 && PGT_PORT <= 65535 )) || die "--pg-port '$PGT_PORT': want a port, 1..65535"
  v="$(pgt_conf_value unix_socket_directories "$PGT_CONF/postgresql.conf")"
  PGT_SOCKET="${PGT_SOCKET:-${v%%,*}}"
  PGT_SOCKET="${PGT_SOCKET:-/var/run/postgresql}"
  [[ $PGT_SOCKET =~ $plain ]] || die "--pg-socket '$PGT_SOCKET': want an absolute plain path"
  if [[ -z $PGT_USER ]]; then
    PGT_USER="$(stat -c %U "$PGT_DATA" 2>/dev/null || true)"
    [[ -n $PGT_USER && $PGT_USER != UNKNOWN ]] || PGT_USER=postgres
  fi
  [[ $PGT_USER =~ ^[a-z_][a-z0-9_-]*$ ]] && id -u "$PGT_USER" >/dev/null 2>&1 ||
    die "--pg-user '$PGT_USER': no such user on this machine"
  [[ $PGT_USER != root ]] || die "--pg-user root: PostgreSQL runs as its own user (postgres)"
  (( EUID == 0 )) || [[ $(id -un) == "$PGT_USER" ]] || die "--cluster $PGT_CLUSTER: run this as root or as $PGT_USER"
}

# pgt_as CMD...: CMD as the cluster's user (as root: runuser; else we are that user already).
pgt_as() { if (( EUID == 0 )); then (cd / && runuser -u "$PGT_USER" -- "$@"); else "$@"; fi; }

# pgt_admin_url: the superuser's URL (backups, restores).
pgt_admin_url() {
  if [[ $PGT_KIND == project ]]; then "$ROOT/scripts/pg" admin-url
  else echo "postgresql://$PGT_USER@/postgres?host=$PGT_SOCKET&port=$PGT_PORT"; fi
}

# pgt_psql ARGS...: psql as the superuser (the system cluster's: as its user, peer authentication).
pgt_psql() {
  if [[ $PGT_KIND == project ]]; then "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$(pgt_admin_url)" "$@"
  else pgt_as "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$(pgt_admin_url)" "$@"; fi
}

pgt_running() {
  if [[ $PGT_KIND == project ]]; then "$ROOT/scripts/pg" status >/dev/null 2>&1
  else [[ -f $PGT_DATA/PG_VERSION ]] && pgt_as "$BIN/pg_ctl" status -D "$PGT_DATA" >/dev/null 2>&1; fi
}

# pgt_name: the cluster in words.
pgt_name() {
  if [[ $PGT_KIND == project ]]; then echo "the project's PostgreSQL ($("$ROOT/scripts/pg" dir))"
  else echo "PostgreSQL $PGT_CLUSTER ($PGT_DATA, port $PGT_PORT)"; fi
}

# pgt_start_hint: how to start it.
pgt_start_hint() {
  if [[ $PGT_KIND == project ]]; then echo "scripts/up or scripts/pg start"
  else echo "systemctl start postgresql@${PGT_CLUSTER/\//-}"; fi
}

# pgt_archive DIR: archive every finished WAL segment into DIR/wal from now on.  The project's cluster:
# scripts/pg archive (restarted once when archive_mode is off).  A system cluster: CONF/conf.d/
# smartimport-archive.conf and a reload; one running without archive_mode is never restarted from here
# (a production server): refused with the command to run.  A stopped one gets the file only.
pgt_archive() {
  local dir=$1 file cmd
  if [[ $PGT_KIND == project ]]; then "$ROOT/scripts/pg" archive "$dir"; return; fi
  file="$PGT_CONF/conf.d/smartimport-archive.conf"
  cmd="$(wal_archive_command "$dir")"
  pgt_as tee "$file.new" >/dev/null <<CONF || die "cannot write $file (run as root or $PGT_USER)"
# written by smartimport's scripts/backup: continuous WAL archiving into $dir/wal (README "Backups and
# restore").  archive_mode needs a restart; the command and the timeout a reload.
archive_mode = on
archive_command = '$cmd'
archive_timeout = 300
CONF
  pgt_as mv "$file.new" "$file" || die "cannot write $file"
  pgt_running || return 0
  [[ $(pgt_psql -At -c "show archive_mode") == on ]] ||
    die "$file is written, but archive_mode = on needs a restart of $(pgt_name), which scripts/backup" \
        "does not do to a system cluster: systemctl restart postgresql@${PGT_CLUSTER/\//-}, then run it again"
  pgt_psql -At -c "select pg_reload_conf()" >/dev/null
  # The reload is asynchronous: wait (10 s at most) until the server shows the new command.
  local i
  for i in $(seq 1 50); do
    [[ $(pgt_psql -At -c "show archive_command") == "$cmd" ]] && return 0
    sleep 0.2
  done
  die "$(pgt_name) did not take the archive_command of $file (a later file of conf.d overrides it? see its log)"
}

# pgt_stop / pgt_start: a system cluster through pg_ctlcluster (systemd's postgresql@ unit under systemd).
pgt_stop() {
  if [[ $PGT_KIND == project ]]; then "$ROOT/scripts/pg" stop; return; fi
  pg_ctlcluster "${PGT_CLUSTER%/*}" "${PGT_CLUSTER#*/}" stop -m fast
}
pgt_start_cluster() {
  pg_ctlcluster "${PGT_CLUSTER%/*}" "${PGT_CLUSTER#*/}" start
}

# pgt_log: the system cluster's log file (pg_lsclusters' last column; Debian's default otherwise).
pgt_log() {
  local f
  f="$(pg_lsclusters -h "${PGT_CLUSTER%/*}" "${PGT_CLUSTER#*/}" 2>/dev/null | awk '{ print $NF }' | head -n 1)"
  [[ $f == /* ]] || f="/var/log/postgresql/postgresql-${PGT_CLUSTER/\//-}.log"
  echo "$f"
}
