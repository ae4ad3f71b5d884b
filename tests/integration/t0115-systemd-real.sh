#!/usr/bin/env bash
# t0115-systemd-real: the installed units run by a real systemd (issue 17; t0110 checks the
# files, this runs them).  A systemd boots as PID 1 of a new PID, mount and cgroup namespace
# (its own cgroup2 hierarchy below the machine's, `container=` set: what systemd-nspawn does,
# without a rootfs of its own); in that namespace the tree of `make install DESTDIR=...` is
# mounted at the prefix, /etc/passwd and /etc/group are the host's plus the user the installed
# sysusers.d file makes (systemd-sysusers --root), /run, /var/log and /var/lib/systemd are
# fresh tmpfs, and the test stack's PostgreSQL socket folder is at /run/postgresql.  systemd
# reads only the installed units and a few empty stand-ins for the boot targets (sysinit,
# basic, network-online, ...) from a scratch folder, so nothing of the host is started.
# Checks: `systemctl start smartimport.target` brings every unit it wants up, unchanged (the
# hardening of dist/systemd/hardening.conf, User=smartimport, StandardInput=socket); every
# socket unit listens on /run/smartimport/<fn>.sock (root:www-data 0660); a request through
# the installed nginx site (nginx's workers as www-data) answers from the database; a request
# that waits on the socket while its function is stopped is answered across `systemctl restart`
# (a new main process); `systemctl kill -s USR1` makes a function and the worker reopen
# SMARTIMPORT_LOG_FILE and live on; `systemctl stop smartimport.target` stops every unit
# cleanly (none failed, sockets removed, no process left) and systemd exits.
# SKIP (77) with the reason when the machine does not allow it (not root, no systemd binary,
# no writable cgroup2 hierarchy, systemd does not boot) or there is no test stack.
# Everything it makes (the namespace, its cgroups, the scratch folder) is removed at exit.
HERE="$(cd "$(dirname "$0")" && pwd -P)"
# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"   # T, ok/not_ok/check, at_exit, finish; skips without the test stack
skip() { echo "SKIP: $*"; exit 77; }

[[ -f Makefile && -f config.status ]] || skip "not run from a configured build directory (make check runs it)"
[[ -n ${DATABASE_URL:-} ]] || skip "no DATABASE_URL: needs the test stack's PostgreSQL (scripts/test)"
(( EUID == 0 )) || skip "not root: booting systemd in a namespace needs root"
SYSTEMD=""
for f in /lib/systemd/systemd /usr/lib/systemd/systemd; do [[ -x $f ]] && { SYSTEMD=$f; break; }; done
[[ -n $SYSTEMD ]] || skip "no systemd binary (/lib/systemd/systemd)"
for c in unshare nsenter systemctl systemd-sysusers python3 ss; do
  command -v "$c" >/dev/null || skip "$c is missing"
done
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
[[ -x $NGINX ]] || skip "nginx is missing"
# The PostgreSQL socket folder of the stack (scripts/pg url: ...?host=RUN&port=PORT).
PGRUN="$(sed -n 's/.*[?&]host=\([^&]*\).*/\1/p' <<<"$DATABASE_URL")"
PGPORT="$(sed -n 's/.*[?&]port=\([0-9]*\).*/\1/p' <<<"$DATABASE_URL")"
[[ $PGRUN == /* && -d $PGRUN ]] || skip "DATABASE_URL names no unix socket folder (host=...)"
# A cgroup2 hierarchy to give systemd a subtree of: /sys/fs/cgroup itself (unified) or the
# unified part of a hybrid layout.
CG_ROOT="$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)"
[[ -n $CG_ROOT ]] || skip "no cgroup2 hierarchy mounted"

CG="$CG_ROOT/smartimport-t0115-$$"
UNSHARE_PID="" SD_PID=""
cleanup() {
  if [[ -n $SD_PID ]] && kill -0 "$SD_PID" 2>/dev/null; then kill -KILL "$SD_PID" 2>/dev/null || true; fi
  if [[ -n $UNSHARE_PID ]]; then wait "$UNSHARE_PID" 2>/dev/null || true; fi
  # every process of the namespace died with its PID 1: the cgroups are empty, remove them
  if [[ -d $CG ]]; then find "$CG" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
}
at_exit cleanup
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make "$@"; }
mkdir "$CG" 2>/dev/null || skip "cannot make a cgroup in $CG_ROOT (not writable here)"

# --- make install DESTDIR, the users, the environment file -------------------------------------
D="$T/root"
if ! mk -s install DESTDIR="$D" >"$T/install.log" 2>&1; then
  not_ok "make install DESTDIR=... succeeds"; tail -n 30 "$T/install.log"; exit 1
fi
var() { mk -s --no-print-directory -f Makefile -f - print-var V="$1" <<<'print-var: ; @echo $($(V))'; }
prefix="$(var prefix)" libexec="$(var pkglibexecdir)" unitdir="$(var systemdsystemunitdir)"
sysconf="$(var sysconfdir)" sitedir="$(var nginxsitedir)" sysusers="$(var sysusersdir)"
pkgdata="$(var pkgdatadir)" accesslog="$(var SI_NGINX_ACCESS_LOG)"
# The install is shown at its real place by mounting DESTDIR's prefix over the prefix, which
# must exist and hold everything (the default /usr/local, or make distcheck's _inst).
[[ -d $prefix && $prefix != / && $prefix != /usr ]] || skip "prefix '$prefix' cannot be mounted over"
for p in "$libexec" "$unitdir" "$sysconf" "$sitedir" "$sysusers" "$pkgdata"; do
  [[ $p == "$prefix"/* ]] || skip "$p is outside the prefix $prefix"
done
mapfile -t FNS < <(awk '!/^[[:space:]]*#/ && NF { print $1 }' "$(var srcdir)/nginx/routes" | sort -u)

E="$T/etc"; mkdir -p "$E/etc"
cp -a /etc/passwd /etc/group "$E/etc/"
for f in shadow gshadow; do if [[ -e /etc/$f ]]; then cp -a "/etc/$f" "$E/etc/"; fi; done
systemd-sysusers --root="$E" "$D$sysusers/smartimport.conf" >"$T/sysusers.log" 2>&1 ||
  { not_ok "systemd-sysusers makes the installed user: $(head -c 300 "$T/sysusers.log")"; exit 1; }

NSDB="postgresql://smartimport@/smartimport?host=/run/postgresql${PGPORT:+&port=$PGPORT}"
ENVF="$D$sysconf/smartimport/smartimport.env"
{
  echo "# t0115: the test stack's database (its socket folder mounted at /run/postgresql)"
  echo "DATABASE_URL=$NSDB"
  echo "SMARTIMPORT_AUTH=jwt"
  echo "SMARTIMPORT_JWT_SECRET=t0115-secret-t0115-secret-t0115-secret"
  echo "SMARTIMPORT_TOKEN_KEY=$(printf '%064d' 5)"
  echo "SMARTIMPORT_THREADS=2"
  echo "SMARTIMPORT_LOG_FILE=/var/log/smartimport/smartimport.log"
  echo "SMARTIMPORT_LOG_FLUSH_MS=0"
} >"$ENVF"
chmod 0640 "$ENVF"

# --- the nginx of the test: the installed site, listening on a free port -------------------------
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
N="$T/nginx"; mkdir -p "$N"
sed -e "s|^\([[:space:]]*listen[[:space:]]\+\)[^;]*;|\1127.0.0.1:$PORT;|" -e "s|$accesslog|$N/access.log|" \
  "$D$sitedir/smartimport.conf" >"$N/smartimport.conf"
cat >"$N/nginx.conf" <<NGINX_CONF
user www-data;
pid $N/nginx.pid;
error_log $N/error.log;
events { worker_connections 256; }
http { access_log $N/access.log; include $N/smartimport.conf; }
NGINX_CONF

# --- the units systemd reads: the installed ones, and empty stand-ins for the boot targets --------
UD="$T/units"; mkdir -p "$UD"
for t in sysinit basic sockets timers paths slices local-fs swap network network-online network-pre \
         multi-user shutdown umount t0115-idle; do
  printf '[Unit]\nDescription=%s (t0115 stand-in)\n' "$t" >"$UD/$t.target"
done
cat >"$UD/t0115-nginx.service" <<UNIT
[Unit]
Description=nginx with the installed smartimport site (t0115)
After=smartimport.target
[Service]
ExecStart=$NGINX -g 'daemon off;' -p $N -c $N/nginx.conf -e $N/error.log
UNIT

# --- boot ----------------------------------------------------------------------------------
cat >"$T/boot.sh" <<BOOT
#!/bin/bash
# runs as PID 1 of the new namespaces until it becomes systemd
set -e
mount --make-rprivate /
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/postgresql
mount --bind '$PGRUN' /run/postgresql
mount -t tmpfs -o mode=0755 tmpfs /var/log
mount -t tmpfs -o mode=0755 tmpfs /var/lib/systemd
# nginx's temporary folders (Debian's are in /var/lib/nginx)
if [ -d /var/lib/nginx ]; then mount -t tmpfs -o mode=0755 tmpfs /var/lib/nginx; fi
mount --bind '$D$prefix' '$prefix'
for f in passwd group shadow gshadow; do
  if [ -e '$E'/etc/\$f ]; then mount --bind '$E'/etc/\$f /etc/\$f; fi
done
mount -t cgroup2 cgroup2 /sys/fs/cgroup
exec env -i container=smartimport-t0115 SYSTEMD_UNIT_PATH='$UD:$unitdir' \
  '$SYSTEMD' --unit=t0115-idle.target --log-target=console --log-level=notice
BOOT
chmod +x "$T/boot.sh"
# the shell that becomes the namespace's PID 1 first moves into the test's cgroup
nice -n 19 bash -c 'echo $$ > "$1/cgroup.procs" && exec unshare --cgroup --pid --fork --mount --mount-proc "$2"' \
  t0115 "$CG" "$T/boot.sh" </dev/null >"$T/systemd.log" 2>&1 &
UNSHARE_PID=$!
for _ in $(seq 1 50); do
  SD_PID="$(awk '{ print $1 }' "/proc/$UNSHARE_PID/task/$UNSHARE_PID/children" 2>/dev/null || true)"
  [[ -n $SD_PID ]] && break; sleep 0.1
done
inns() { nsenter -t "$SD_PID" -m -p -C -- "$@"; }
state=""
for _ in $(seq 1 150); do
  [[ -n $SD_PID ]] && kill -0 "$SD_PID" 2>/dev/null || break
  state="$(inns systemctl is-system-running 2>/dev/null || true)"
  [[ $state == running || $state == degraded ]] && break
  sleep 0.2
done
[[ $state == running || $state == degraded ]] ||
  skip "systemd does not boot in a PID+mount+cgroup namespace here (state '${state:-none}'): $(tail -n 3 "$T/systemd.log" | tr '\n' ' ')"
ok "systemd boots as PID 1 of a new PID+mount+cgroup namespace ($(inns systemctl --version | head -n 1))"

# --- start ----------------------------------------------------------------------------------
# A sanitizer build's leak check at exit needs ptrace, which SystemCallFilter= refuses: off for
# every unit (the manager's environment; the units are not changed).
inns systemctl set-environment ASAN_OPTIONS=detect_leaks=0
out="$(inns systemctl start smartimport.target 2>&1)" && rc=0 || rc=$?
check "systemctl start smartimport.target succeeds${out:+ ($out)}" test "$rc" -eq 0
mapfile -t UNITS < <(inns systemctl show -p Wants --value smartimport.target | tr ' ' '\n' | grep . | sort)
SOCKETS=() SERVICES=()
for u in "${UNITS[@]}"; do case $u in *.socket) SOCKETS+=("$u") ;; *.service) SERVICES+=("$u") ;; esac; done
# a unit that crashes at start is restarted: all of them must be up, and stay up a moment
down=()
for _ in $(seq 1 100); do
  down=()
  for u in "${UNITS[@]}"; do
    [[ $(inns systemctl show -p ActiveState --value "$u") == active ]] || down+=("$u")
  done
  (( ${#down[@]} == 0 )) && break
  sleep 0.2
done
sleep 1
for u in "${UNITS[@]}"; do
  s="$(inns systemctl show -p ActiveState -p NRestarts "$u" | sort | tr '\n' ' ')"
  [[ $s == "ActiveState=active "* && ( $u != *.service || $s == *" NRestarts=0 " ) ]] || down+=("$u:$s")
done
check "every unit smartimport.target wants (${#SOCKETS[@]} sockets, ${#SERVICES[@]} services) is active, no service restarted${down[*]:+ (not: ${down[*]})}" \
  test ${#down[@]} -eq 0
if (( ${#down[@]} )); then
  inns systemctl status --no-pager -n 5 "${down[@]%%:*}" 2>&1 | sed 's/^/#   /' | head -n 40 || true
fi

# every function's socket listens where the nginx site looks, owned as nginx needs
sock_fail=()
for fn in "${FNS[@]}"; do
  s="/run/smartimport/$fn.sock"
  # listening, or running: its service has it
  sub="$(inns systemctl show -p SubState --value "smartimport-$fn.socket")"
  [[ $sub == listening || $sub == running ]] || { sock_fail+=("$fn:$sub"); continue; }
  perm="$(inns stat -c '%U:%G:%a' "$s" 2>/dev/null || echo none)"
  [[ $perm == root:www-data:660 ]] || sock_fail+=("$fn:$perm")
  inns python3 "$HERE/fcgi_client.py" --connect "$s" || sock_fail+=("$fn:refused")
done
check "every function's socket unit (${#FNS[@]}) listens at /run/smartimport/<fn>.sock, root:www-data 0660, and accepts${sock_fail[*]:+ (${sock_fail[*]})}" \
  test ${#sock_fail[@]} -eq 0
check "the services run as the installed system user smartimport (health: $(inns ps -o user= -p "$(inns systemctl show -p MainPID --value smartimport-health.service)" 2>/dev/null || echo none))" \
  bash -c "[[ \$(nsenter -t $SD_PID -m -p -C -- ps -o user= -p \$(nsenter -t $SD_PID -m -p -C -- systemctl show -p MainPID --value smartimport-health.service)) == smartimport ]]"

# --- a request through the installed nginx site ----------------------------------------------
out="$(inns systemctl start t0115-nginx.service 2>&1)" || not_ok "nginx with the installed site starts ($out)"
code=000
for _ in $(seq 1 50); do
  code="$(curl -s -o "$T/health.json" -w '%{http_code}' "http://127.0.0.1:$PORT/health" || true)"
  [[ $code == 200 ]] && break; sleep 0.2
done
check "GET /health through the installed nginx site (workers as www-data) answers 200 from the database ($code: $(head -c 200 "$T/health.json" 2>/dev/null))" \
  test "$code" = 200
code="$(curl -s -o "$T/no-token.json" -w '%{http_code}' "http://127.0.0.1:$PORT/.netlify/functions/user-settings" || true)"
check "a route behind the edge identity check without a token: 401 from auth-check's socket ($code)" test "$code" = 401

# --- restart of a function while a request waits on its socket -----------------------------------
H=smartimport-health.service
pid0="$(inns systemctl show -p MainPID --value "$H")"
inns systemctl kill -s SIGSTOP --kill-who=main "$H" || true
inns python3 "$HERE/fcgi_client.py" /run/smartimport/health.sock /health >"$T/waited" 2>&1 &
waiting=$!
# the connection waits in the listening socket's backlog (ss: Recv-Q of a listener)
queued=0
for _ in $(seq 1 100); do
  queued="$(ss -xlH | awk '$5 == "/run/smartimport/health.sock" { q = $3 } END { print q + 0 }' || true)"
  (( ${queued:-0} >= 1 )) && break; sleep 0.1
done
check "a request to the stopped function waits in its socket's backlog (${queued:-0} queued; not refused, not answered)" \
  bash -c "(( ${queued:-0} >= 1 )) && kill -0 $waiting"
out="$(inns systemctl restart "$H" 2>&1)" && rc=0 || rc=$?
wait "$waiting" && got=0 || got=$?
pid1="$(inns systemctl show -p MainPID --value "$H")"
check "systemctl restart $H while it waits: the request is answered ($(head -n 1 "$T/waited" | tr -d '\r')), a new process ($pid0 -> $pid1)${out:+ ($out)}" \
  bash -c "[[ $rc == 0 && $got == 0 && $pid1 != 0 && $pid1 != $pid0 ]] && grep -q '^Status: 200' '$T/waited'"
check "the health service ended with exit 0 on the restart's SIGTERM (Result=$(inns systemctl show -p Result --value "$H"))" \
  test "$(inns systemctl show -p Result --value "$H")" = success

# --- SIGUSR1 through systemctl kill: the log is reopened -----------------------------------------
L=/var/log/smartimport/smartimport.log
W=smartimport-worker.service
hpid="$(inns systemctl show -p MainPID --value "$H")" wpid="$(inns systemctl show -p MainPID --value "$W")"
inns mv "$L" "$L.1" || true
inns systemctl kill -s SIGUSR1 --kill-who=main "$H" "$W" || true
reopened=""
for _ in $(seq 1 50); do
  reopened="$(inns grep -h 'log file reopened' "$L" 2>/dev/null | grep -o '"fn":"[a-z-]*"' | sort -u | tr '\n' ' ' || true)"
  [[ $reopened == *'"fn":"health"'* && $reopened == *'"fn":"worker"'* ]] && break
  sleep 0.1
done
check "systemctl kill -s SIGUSR1 $H $W: both reopen SMARTIMPORT_LOG_FILE after a rename (${reopened:-nothing}) and live on" \
  bash -c "[[ '$reopened' == *'\"fn\":\"health\"'* && '$reopened' == *'\"fn\":\"worker\"'* &&
             \$(nsenter -t $SD_PID -m -p -C -- systemctl show -p MainPID --value $H) == $hpid &&
             \$(nsenter -t $SD_PID -m -p -C -- systemctl show -p MainPID --value $W) == $wpid ]]"

# --- stop --------------------------------------------------------------------------------------
inns systemctl stop t0115-nginx.service || true
out="$(inns systemctl stop smartimport.target 2>&1)" && rc=0 || rc=$?
left=()
for u in "${UNITS[@]}"; do
  s="$(inns systemctl show -p ActiveState --value "$u")"
  [[ $s == inactive ]] || left+=("$u:$s")
done
socks="$(inns find /run/smartimport -name '*.sock' 2>/dev/null | head -n 3 | tr '\n' ' ')"
procs="$(find "$CG" -name cgroup.procs -path '*system.slice*' -exec cat {} + 2>/dev/null | wc -l)"
for u in "${left[@]%%:*}"; do
  echo "#   $u: $(inns systemctl show -p Result -p ExecMainCode -p ExecMainStatus "$u" | tr '\n' ' ')"
done
check "systemctl stop smartimport.target: every unit inactive, none failed, the sockets removed, no process left${out:+ ($out)}${left[*]:+ (${left[*]})}${socks:+ (sockets: $socks)}" \
  bash -c "[[ $rc == 0 && ${#left[@]} == 0 && -z '$socks' && $procs == 0 ]]"
inns systemctl --force exit >/dev/null 2>&1 || true
ended=0
for _ in $(seq 1 100); do kill -0 "$UNSHARE_PID" 2>/dev/null || { ended=1; break; }; sleep 0.1; done
check "systemctl exit ends systemd and its namespace" test "$ended" -eq 1

finish
