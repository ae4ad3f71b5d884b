#!/usr/bin/env bash
# t0110-systemd: the install as services (dist/, README "Production").  `make install
# DESTDIR=tmp` installs a socket and a service per FastCGI function of nginx/routes, the
# daemons, smartimport-logscrub's socket and service, smartimport.target, the env file's
# example, the logrotate config, smartimport-migrate, the sysusers file, the nginx site and the web
# app; the site serves the installed web app (page, modules, vendored files, with the CSP);
# every socket unit lets nginx's user (www-data) connect; the nginx site passes `nginx -t` inside
# a Debian-like nginx.conf and names, for every function of nginx/routes, the socket its
# .socket unit creates (a unit moved elsewhere is caught); every service names the same
# SMARTIMPORT_METRICS_DIR, runs as the one system user the sysusers file creates, and may write
# it; `systemd-analyze verify` accepts every unit; `--check-config` of every
# installed binary says {"ok":true} (exit 0) with a good environment and names the variable
# (exit 1) with a bad one, and opens no socket; an installed responder started the way
# systemd starts it (the socket held by someone else, passed as fd 0) answers, ends on
# SIGTERM with exit 0, leaves the socket accepting (nothing refused while it is down) and the
# request that waited in the backlog is answered by the next start; SIGUSR1 reopens its
# SMARTIMPORT_LOG_FILE after a rename and does not end it, and the same in smartimport-worker,
# smartimport-cdc and smartimport-import-events; the installed smartimport-migrate runs
# against the stack's database (when there is one); smartimport-logscrub --socket - reads the
# socket it is given and keeps it across its restart; make uninstall leaves nothing.  Needs no stack otherwise: runs
# from the build directory (make check).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd -P)"
FAILS=0
ok()     { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; FAILS=$(( FAILS + 1 )); }
check()  { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
skip()   { echo "SKIP: $*"; exit 77; }

[[ -f Makefile && -f config.status ]] || skip "not run from a configured build directory (make check runs it)"
command -v python3 >/dev/null || skip "python3 is missing (scripts/deps --test installs it)"
command -v systemd-analyze >/dev/null || skip "systemd-analyze is missing (scripts/deps --test installs systemd)"

T="$(mktemp -d)"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
D="$T/root"
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make "$@"; }

# --- make install DESTDIR ---------------------------------------------------------------------
if ! mk -s install DESTDIR="$D" >"$T/install.log" 2>&1; then
  not_ok "make install DESTDIR=... succeeds"; tail -n 30 "$T/install.log"; exit 1
fi
ok "make install DESTDIR=... succeeds"
var() { mk -s --no-print-directory -f Makefile -f - print-var V="$1" <<<'print-var: ; @echo $($(V))'; }
prefix="$(var prefix)" libexec="$(var pkglibexecdir)" unitdir="$(var systemdsystemunitdir)"
sysconf="$(var sysconfdir)" bindir="$(var bindir)" pkglibdir="$(var pkglibdir)" pkgdata="$(var pkgdatadir)"
srcdir="$(var srcdir)" sitedir="$(var nginxsitedir)" sysusers="$(var sysusersdir)" accesslog="$(var SI_NGINX_ACCESS_LOG)"
U="$D$unitdir"
. "$srcdir/scripts/lib.sh"   # free_port, wait_for
mapfile -t FNS < <(awk '!/^[[:space:]]*#/ && NF { print $1 }' "$srcdir/nginx/routes" | sort -u)
missing=()
for fn in "${FNS[@]}"; do
  for f in "$U/smartimport-$fn.socket" "$U/smartimport-$fn.service" "$D$libexec/smartimport-$fn"; do
    [[ -e $f ]] || missing+=("$f")
  done
done
for f in "$U/smartimport-worker.service" "$U/smartimport-cdc.service" "$U/smartimport.target" \
         "$D$sysconf/smartimport/smartimport.env.example" "$D$sysconf/logrotate.d/smartimport" \
         "$D$bindir/smartimport-migrate" "$D$pkgdata/scripts/migrate" "$D$pkgdata/sql/0001_foundation.sql" \
         "$D$pkgdata/nginx/routes" "$D$pkgdata/nginx/fastcgi_params" "$D$pkgdata/nginx/sse.conf" \
         "$D$sitedir/smartimport.conf" "$D$sysusers/smartimport.conf" "$D$pkgdata/web/index.html" "$D$pkgdata/web/app/main.js"; do
  [[ -e $f ]] || missing+=("$f")
done
check "installed: a socket + service per function (${#FNS[@]}), worker, cdc, the target, env example, logrotate, migrate, sql, nginx snippets, the nginx site, the sysusers file${missing[*]:+ (missing: ${missing[*]})}" \
  test ${#missing[@]} -eq 0
check "the units name the install's paths (ExecStart=$libexec/..., EnvironmentFile=$sysconf/smartimport/smartimport.env)" \
  bash -c "grep -qx 'ExecStart=$libexec/smartimport-health' '$U/smartimport-health.service' &&
           grep -qx 'EnvironmentFile=$sysconf/smartimport/smartimport.env' '$U/smartimport-worker.service' &&
           ! grep -l '@[a-z]*@' '$U'/smartimport* '$D$sysconf/smartimport/smartimport.env.example' '$D$bindir/smartimport-migrate'"
check "every function's service takes its socket as standard input, hardened (User=smartimport, ProtectSystem=strict, NoNewPrivileges, PrivateTmp, MemoryMax, RestrictAddressFamilies)" \
  bash -c "for f in ${FNS[*]}; do s='$U'/smartimport-\$f.service
             grep -qx 'StandardInput=socket' \$s && grep -qx 'ListenStream=/run/smartimport/'\$f'.sock' '$U'/smartimport-\$f.socket &&
             grep -qx 'User=smartimport' \$s && grep -qx 'ProtectSystem=strict' \$s && grep -qx 'NoNewPrivileges=yes' \$s &&
             grep -qx 'PrivateTmp=yes' \$s && grep -q '^MemoryMax=[0-9]' \$s &&
             grep -qx 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' \$s || exit 1; done"

# The installed backup and restore run from the installed tree (lib.sh, pgtarget.sh beside them),
# for a system cluster only (t0114 checks their options): without --cluster they say so.
out="$("$D$pkgdata/scripts/backup" --list 2>&1)" && rc=0 || rc=$?
out2="$("$D$pkgdata/scripts/restore" --to "2026-01-01 10:00:00+00" --cluster 99/main --dir "$T/bk" 2>&1)" && rc2=0 || rc2=$?
if (( rc != 0 && rc2 != 0 )) && grep -q 'the installed tree has none): give --cluster VERSION/NAME' <<<"$out" &&
   grep -q 'PostgreSQL 99 is not installed' <<<"$out2"; then
  ok "the installed scripts/backup and scripts/restore run from the installed tree (no project cluster there: --cluster)"
else
  not_ok "the installed scripts/backup and scripts/restore run from the installed tree ($rc: $out; $rc2: $out2)"
fi

# --- nginx's access to the sockets ---------------------------------------------------------------
# unit_value FILE KEY: the last KEY= of a unit file (systemd: the last assignment wins).
unit_value() { awk -v k="$2" -F= '$1 == k { sub(/^[^=]*=/, ""); v = $0 } END { print v }' "$1"; }
NGINX_USER=www-data   # Debian's nginx runs its workers as www-data (group www-data)
sock_fail=()
for f in "${FNS[@]}"; do
  u="$U/smartimport-$f.socket"
  mode="$(unit_value "$u" SocketMode)" owner="$(unit_value "$u" SocketUser)" group="$(unit_value "$u" SocketGroup)"
  dmode="$(unit_value "$u" DirectoryMode)"
  [[ $mode =~ ^0?[0-7]{3,4}$ && $dmode =~ ^0?[0-7]{3,4}$ ]] || { sock_fail+=("$f:mode=$mode,dir=$dmode"); continue; }
  # nginx connects (write permission on the socket) as the owner, the group or the others,
  # and reaches it through /run/smartimport (owned by root: search permission for the others).
  if [[ $owner == "$NGINX_USER" ]]; then need=$(( 8#200 )); elif [[ $group == "$NGINX_USER" ]]; then need=$(( 8#020 )); else need=$(( 8#002 )); fi
  (( (8#$mode & need) == need && (8#$dmode & 8#001) == 8#001 )) ||
    sock_fail+=("$f:SocketMode=$mode,SocketUser=$owner,SocketGroup=$group,DirectoryMode=$dmode")
done
check "every socket unit lets nginx's user ($NGINX_USER) connect (SocketGroup=$NGINX_USER, SocketMode 0660, DirectoryMode searchable)${sock_fail[*]:+ (${sock_fail[*]})}" \
  test ${#sock_fail[@]} -eq 0

# --- the nginx site of the installed layout ---------------------------------------------------------
SITE="$D$sitedir/smartimport.conf"
# site_mismatches SITE UNITDIR: for every function of nginx/routes, its upstream's server in SITE
# must be the socket its UNITDIR/smartimport-<fn>.socket listens on; prints each that is not.
site_mismatches() {
  local site=$1 dir=$2 f up want got
  for f in "${FNS[@]}"; do
    up="si_${f//-/_}"
    want="$(unit_value "$dir/smartimport-$f.socket" ListenStream)"
    got="$(awk -v u="$up" '$1 == "upstream" && $2 == u {
             for (i = 3; i <= NF; i++) if ($i == "server") { s = $(i + 1); sub(/^unix:/, "", s); sub(/;$/, "", s); print s; exit } }' "$site")"
    [[ -n $want && $got == "$want" ]] || echo "$f: upstream $up at '${got:-none}', socket unit at '${want:-none}'"
  done
}
if [[ -s $SITE ]]; then
  bad="$(site_mismatches "$SITE" "$U")"
  check "the installed site has an upstream per function (${#FNS[@]}) at the socket its .socket unit names${bad:+ ($bad)}" test -z "$bad"
  # The comparison must see a mismatch: one socket unit moved elsewhere.
  M="$T/moved-units"; mkdir -p "$M"; cp "$U"/smartimport-*.socket "$M/"
  sed -i 's|^ListenStream=.*|ListenStream=/run/elsewhere/health.sock|' "$M/smartimport-health.socket"
  bad="$(site_mismatches "$SITE" "$M")"
  check "and a socket unit that names another path is caught ($bad)" grep -q '^health: ' <<<"$bad"
  check "the site routes every route of nginx/routes, with fastcgi params, SSE settings, the identity check, the body limits, the JSON errors" \
    bash -c "grep -q 'location = /_si_auth' '$SITE' && grep -q 'auth_request /_si_auth;' '$SITE' &&
             grep -q 'include $pkgdata/nginx/fastcgi_params;' '$SITE' && grep -q 'include $pkgdata/nginx/sse.conf;' '$SITE' &&
             grep -q 'client_max_body_size 101m;' '$SITE' && grep -q 'client_max_body_size 64m;' '$SITE' &&
             grep -q 'error_page 502 = /_si_error/502;' '$SITE' && grep -q 'location = /metrics' '$SITE' &&
             [[ \$(grep -c '^    location [=^]' '$SITE') -ge \$(grep -cvE '^[[:space:]]*(#|\$)' '$srcdir/nginx/routes') ]] &&
             ! grep -v '^[[:space:]]*#' '$SITE' | grep -q '@[A-Z_]*@'"
  NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
  if [[ -x $NGINX ]]; then
    # nginx -t on the installed site inside a main config like Debian's /etc/nginx/nginx.conf (its
    # http{} settings included, so the site must not repeat one of them).  The site names its
    # includes and its log where the install puts them: here under DESTDIR and in $T.
    N="$T/nginx"; mkdir -p "$N/tmp"
    WPORT="$(free_port)"
    sed -e "s|$pkgdata/nginx/|$D$pkgdata/nginx/|g" -e "s|$pkgdata/web/|$D$pkgdata/web/|g" -e "s|root $pkgdata/web;|root $D$pkgdata/web;|" \
        -e "s|$accesslog|$N/smartimport-access.log|" -e "s|listen 127.0.0.1:8080 |listen 127.0.0.1:$WPORT |" "$SITE" > "$N/smartimport.conf"
    user_line=""; (( EUID != 0 )) || user_line="user root;"   # workers must read under $T (0700)
    cat > "$N/nginx.conf" <<NGINX_CONF
$user_line
pid $N/nginx.pid;
error_log $N/error.log;
events { worker_connections 768; }
http {
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    default_type application/octet-stream;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers on;
    access_log $N/access.log;
    error_log $N/error.log;
    gzip on;
    client_body_temp_path $N/tmp/body;
    fastcgi_temp_path $N/tmp/fastcgi;
    proxy_temp_path $N/tmp/proxy;
    uwsgi_temp_path $N/tmp/uwsgi;
    scgi_temp_path $N/tmp/scgi;
    include $N/smartimport.conf;
}
NGINX_CONF
    out="$("$NGINX" -t -q -p "$N" -c "$N/nginx.conf" -e "$N/error.log" 2>&1)" && rc=0 || rc=$?
    check "nginx -t accepts the installed site inside a Debian-like nginx.conf's http{} block${out:+ ($(head -n 3 <<<"$out" | tr '\n' ' '))}" \
      test "$rc" -eq 0
    # The web app as installed (web/local.mk), served by that nginx: the page, a module, a
    # vendored file, byte for byte, with the CSP; anything else is the JSON 404.
    if (( rc == 0 )) && "$NGINX" -p "$N" -c "$N/nginx.conf" -e "$N/error.log" 2>"$T/nginx-start.err"; then
      PIDS+=("$(cat "$N/nginx.pid" 2>/dev/null || echo 0)")
      served() { [[ $(curl -s -o "$T/got" -D "$T/hdr" -w '%{http_code}' "http://127.0.0.1:$WPORT$1") == 200 ]] && cmp -s "$T/got" "$2" &&
                 grep -qi '^content-security-policy: default-src .self.' "$T/hdr"; }
      wait_for 10 "the installed site's nginx" curl -s -o /dev/null "http://127.0.0.1:$WPORT/" || true
      check "the installed site serves the web app: / is index.html, with the CSP" served / "$srcdir/web/index.html"
      check "and its modules under /app/ (main.js, app.css)" bash -c "$(declare -f served); T='$T' WPORT='$WPORT'; served /app/main.js '$srcdir/web/app/main.js' && served /app/app.css '$srcdir/web/app/app.css'"
      if [[ -f $srcdir/web/node_modules/preact/dist/preact.mjs ]]; then
        check "and the vendored files it imports under /vendor/ (preact.mjs, installed from web/node_modules)" \
          bash -c "$(declare -f served); T='$T' WPORT='$WPORT'; served /vendor/preact/preact.mjs '$srcdir/web/node_modules/preact/dist/preact.mjs'"
      else
        echo "# web/node_modules is missing (scripts/deps): the vendored files are not checked"
      fi
      code="$(curl -s --path-as-is -o "$T/nf.json" -w '%{http_code}' "http://127.0.0.1:$WPORT/app/../../etc/passwd" || true)"
      check "a path outside the app is refused in JSON ($code)" bash -c "[[ $code == 40[04] ]] && grep -q '\"ok\":false' '$T/nf.json'"
      "$NGINX" -p "$N" -c "$N/nginx.conf" -e "$N/error.log" -s stop 2>/dev/null || true
    else
      not_ok "nginx starts with the installed site ($(head -c 300 "$T/nginx-start.err" 2>/dev/null))"
    fi
  else
    echo "# nginx is missing: the installed site is not checked with nginx -t"
  fi
else
  not_ok "the nginx site is installed at $SITE"
fi

# --- one writable metrics directory for every unit ----------------------------------------------------
# Every service names the same SMARTIMPORT_METRICS_DIR and runs as the same user, who owns it: the
# directory is the units' RuntimeDirectory (owned by User=, kept across stops) or a tmpfiles.d
# line for that user; the user is a system user of the installed sysusers.d file.
SERVICES=("$U"/smartimport-*.service)
metrics_fail=() mdirs=() musers=()
for s in "${SERVICES[@]}"; do
  n="$(basename "$s")"
  mdir="$(awk '/^Environment=SMARTIMPORT_METRICS_DIR=/ { sub(/^Environment=SMARTIMPORT_METRICS_DIR=/, ""); v = $0 } END { print v }' "$s")"
  user="$(unit_value "$s" User)"
  [[ -n $mdir ]] || { metrics_fail+=("$n: no SMARTIMPORT_METRICS_DIR"); continue; }
  [[ -n $user && $(unit_value "$s" DynamicUser) != yes ]] || metrics_fail+=("$n: no static User=")
  mdirs+=("$mdir") musers+=("$user")
  rdir="$(unit_value "$s" RuntimeDirectory)" rmode="$(unit_value "$s" RuntimeDirectoryMode)"
  if [[ -n $rdir && " $rdir " == *" ${mdir#/run/} "* ]]; then
    # systemd makes a RuntimeDirectory owned by User=; it must stay while other units use it
    [[ $(unit_value "$s" RuntimeDirectoryPreserve) == yes ]] ||
      metrics_fail+=("$n: RuntimeDirectory without RuntimeDirectoryPreserve=yes")
    [[ -z $rmode ]] || (( (8#$rmode & 8#700) == 8#700 )) || metrics_fail+=("$n: RuntimeDirectoryMode=$rmode")
  elif ! cat "$D$prefix"/lib/tmpfiles.d/*.conf "$D$sysconf"/tmpfiles.d/*.conf 2>/dev/null |
       awk -v d="$mdir" -v u="$user" '$1 == "d" && $2 == d && $4 == u && substr($3, 2, 1) ~ /[2367]/ { f = 1 } END { exit !f }'; then
    metrics_fail+=("$n: $mdir is neither its RuntimeDirectory nor a tmpfiles.d directory of $user")
  fi
done
same_dir="$(printf '%s\n' "${mdirs[@]}" | sort -u | wc -l)" same_user="$(printf '%s\n' "${musers[@]}" | sort -u | wc -l)"
(( same_dir == 1 && same_user == 1 )) || metrics_fail+=("${same_dir} metrics dirs, ${same_user} users")
# the user is made by the installed sysusers.d file (systemd-sysusers into a scratch root)
SU="$T/sysusers-root"; mkdir -p "$SU/etc"
if systemd-sysusers --root="$SU" "$D$sysusers/smartimport.conf" >"$T/sysusers.log" 2>&1; then
  grep -q "^${musers[0]:-none}:" "$SU/etc/passwd" || metrics_fail+=("sysusers does not create the units' user '${musers[0]:-}'")
else
  metrics_fail+=("systemd-sysusers failed: $(head -c 200 "$T/sysusers.log")")
fi
! grep -q '^SMARTIMPORT_METRICS_DIR=' "$D$sysconf/smartimport/smartimport.env.example" ||
  metrics_fail+=("the env example sets SMARTIMPORT_METRICS_DIR (the units set it)")
check "every service (${#SERVICES[@]}) names the same SMARTIMPORT_METRICS_DIR (${mdirs[0]:-none}), runs as the same system user (${musers[0]:-none}) who can write it${metrics_fail[*]:+ (${metrics_fail[*]})}" \
  test ${#metrics_fail[@]} -eq 0

# --- systemd-analyze verify -------------------------------------------------------------------
# The units name the binaries at their installed place, which is under DESTDIR here: --root,
# with the host's own units beside them (sysinit.target & co.).  Any line it prints (an
# unknown key is only a warning to it) counts as a failure.
V="$T/vroot"
units=()
if cp -al "$D" "$V" 2>/dev/null || cp -a "$D" "$V"; then
  mkdir -p "$V/usr/lib/systemd/system"
  cp -rn /usr/lib/systemd/system/. "$V/usr/lib/systemd/system/" 2>/dev/null || true
  # systemd looks for units in its own folders only: a prefix outside them (make distcheck's
  # _inst) would leave the target's Wants= "not found", so the units are verified from
  # /etc/systemd/system of the root, where an admin would link them.
  mkdir -p "$V/etc/systemd/system"
  cp -a "$V$unitdir"/smartimport* "$V/etc/systemd/system/" 2>/dev/null || true
  units=("$V/etc/systemd/system"/smartimport*)
fi
if (( ${#units[@]} == 0 )); then
  not_ok "systemd-analyze verify: could not make its root"
elif systemd-analyze verify --man=no --root="$V" "${units[@]}" >"$T/verify.log" 2>&1 && [[ ! -s $T/verify.log ]]; then
  ok "systemd-analyze verify --root: every unit (${#units[@]}) is valid, not a warning"
elif grep -qiE 'Failed to (initialize|connect|create .*(bus|cgroup))|System has not been booted' "$T/verify.log" &&
     ! grep -qiE 'Unknown|Invalid|Failed to parse|not executable|bad unit file|Refusing|ignoring' "$T/verify.log"; then
  echo "# systemd-analyze verify cannot run here: $(head -n 3 "$T/verify.log" | tr '\n' ' ')"
else
  not_ok "systemd-analyze verify: every unit is valid"; sed 's/^/#   /' "$T/verify.log" | head -n 40
fi
rm -rf "$V"
[[ $(cat /proc/1/comm 2>/dev/null) == systemd ]] &&
  echo "# PID 1 is systemd: a real install could be tried with systemctl (not done by this test)" ||
  echo "# PID 1 is '$(cat /proc/1/comm 2>/dev/null)', not systemd: the units are verified, not run"

# --- --check-config of every installed binary -------------------------------------------------
export LD_LIBRARY_PATH="$D$pkglibdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
BARE=(env -i PATH="$PATH" LD_LIBRARY_PATH="$LD_LIBRARY_PATH" ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}")
GOOD=("${BARE[@]}" DATABASE_URL="postgresql://nobody@127.0.0.1:1/none" SMARTIMPORT_AUTH=jwt SMARTIMPORT_JWT_SECRET=t0110-secret
      SMARTIMPORT_TOKEN_KEY="$(printf '%064d' 7)" SMARTIMPORT_LOG_FILE="$T/check.log" SMARTIMPORT_LISTEN="$T/nope.sock")
BIN=()
for f in "$D$libexec"/smartimport-* "$D$bindir"/smartimport-*; do
  [[ -x $f && ! -d $f ]] && BIN+=("$f")
done
args_of() {   # the arguments --check-config takes after it, per binary
  case $(basename "$1") in
    smartimport-supervise) echo "$T/spec" ;;
    smartimport-logscrub) echo "--socket $T/scrub.sock --out $T/scrub.log" ;;
  esac
}
echo "health 3 TERM 10 - /bin/true" > "$T/spec"
good_fail=() bad_fail=() checked=0
for b in "${BIN[@]}"; do
  n="$(basename "$b")"
  [[ $n == smartimport-migrate ]] && continue
  checked=$(( checked + 1 ))
  # shellcheck disable=SC2046
  out="$("${GOOD[@]}" "$b" --check-config $(args_of "$b") 2>"$T/err")" && rc=0 || rc=$?
  [[ $rc == 0 && $out == '{"ok":true}' ]] || good_fail+=("$n:rc=$rc:$out:$(head -c 200 "$T/err")")
  # The bad environment: for each binary the variable it must name.
  case $n in
    smartimport-supervise) bad=("${BARE[@]}"); want="$T/no-such-spec"; extra="$T/no-such-spec" ;;
    smartimport-logscrub) bad=("${GOOD[@]}"); want="--out"; extra="--socket $T/scrub.sock --out $T/no/such/dir/scrub.log" ;;
    smartimport-token) bad=("${GOOD[@]}" SMARTIMPORT_JWT_SECRET=); want=SMARTIMPORT_JWT_SECRET; extra="" ;;
    *) bad=("${GOOD[@]}" SMARTIMPORT_THREADS=0); want=SMARTIMPORT_THREADS; extra="" ;;
  esac
  # shellcheck disable=SC2086
  out="$("${bad[@]}" "$b" --check-config $extra 2>"$T/err")" && rc=0 || rc=$?
  [[ $rc == 1 ]] && jq -e --arg w "$want" '.ok == false and (.error | contains($w))' <<<"$out" >/dev/null ||
    bad_fail+=("$n:rc=$rc:$out")
done
check "--check-config with a good environment: {\"ok\":true}, exit 0, for all $checked installed binaries${good_fail[*]:+ (${good_fail[*]})}" \
  test ${#good_fail[@]} -eq 0
check "--check-config with a bad one: exit 1, the error names the variable, for all $checked${bad_fail[*]:+ (${bad_fail[*]})}" \
  test ${#bad_fail[@]} -eq 0
check "--check-config with DATABASE_URL unset names DATABASE_URL (worker, a function)" \
  bash -c "for b in '$D$libexec/smartimport-worker' '$D$libexec/smartimport-health'; do
             out=\$(${BARE[*]} \$b --check-config 2>/dev/null); [[ \$? == 1 ]] &&
             jq -e '.error | contains(\"DATABASE_URL\")' <<<\"\$out\" >/dev/null || exit 1; done"
check "--check-config opened no socket (SMARTIMPORT_LISTEN's path was never created) and wrote no log" \
  bash -c "[[ ! -e '$T/nope.sock' && ! -e '$T/check.log' && ! -e '$T/scrub.sock' ]]"

# --- the socket contract: fd 0 from a holder, SIGTERM, the next start ------------------------
FC="$HERE/fcgi_client.py"
health="$D$libexec/smartimport-health"
S="$T/health.sock"
db="${DATABASE_URL:-postgresql://nobody@127.0.0.1:1/none}"
env -u SMARTIMPORT_LISTEN DATABASE_URL="$db" SMARTIMPORT_AUTH=jwt SMARTIMPORT_THREADS=2 SMARTIMPORT_LOG_FILE="$T/health.log" \
  SMARTIMPORT_DB_CONNECT_TIMEOUT_MS=500 python3 "$FC" --hold "$S" 2 "$health" &
PIDS+=($!)
up=0
for _ in $(seq 1 100); do
  if [[ -S $S ]] && python3 "$FC" "$S" /health >"$T/r1" 2>/dev/null; then up=1; break; fi
  sleep 0.1
done
check "the installed responder answers on the socket it was given as fd 0 ($(head -n 1 "$T/r1" 2>/dev/null | tr -d '\r'))" \
  bash -c "(( $up )) && grep -qE '^Status: (200|503)' '$T/r1'"

# SIGUSR1 after a rename (logrotate without copytruncate): a new file, the process lives on.
pid="$(cat "$S.pid")"
mv "$T/health.log" "$T/health.log.1"
kill -USR1 "$pid"
for _ in $(seq 1 50); do [[ -s $T/health.log ]] && break; sleep 0.1; done
python3 "$FC" "$S" /health >/dev/null 2>&1 || true
sleep 0.5   # the request line is buffered (SMARTIMPORT_LOG_FLUSH_MS, 200 ms)
check "SIGUSR1: the responder lives on and writes to a new SMARTIMPORT_LOG_FILE (reopened, then the next request's line); the old file kept the lines before" \
  bash -c "kill -0 $pid && grep -q 'log file reopened' '$T/health.log' && grep -q '\"msg\":\"request\"' '$T/health.log' &&
           grep -q '\"msg\":\"started\"' '$T/health.log.1' && ! grep -q 'log file reopened' '$T/health.log.1'"

kill -TERM "$pid"
for _ in $(seq 1 100); do [[ -s $S.exits ]] && break; sleep 0.1; done
check "SIGTERM: the responder exits 0 ($(head -n 1 "$S.exits" 2>/dev/null))" bash -c "[[ \$(head -n 1 '$S.exits') == 0 ]]"
check "while no process runs, the socket still accepts connections (never shut down: nothing refused)" \
  python3 "$FC" --connect "$S"
python3 "$FC" "$S" /health >"$T/r2" 2>/dev/null &
waiting=$!
sleep 0.3
touch "$S.go"
wait "$waiting" && got=0 || got=$?
check "a request that waited in the backlog is answered by the next start ($(head -n 1 "$T/r2" | tr -d '\r'))" \
  bash -c "[[ $got == 0 ]] && grep -qE '^Status: (200|503)' '$T/r2'"
for _ in $(seq 1 50); do [[ $(cat "$S.pid" 2>/dev/null) != "$pid" ]] && break; sleep 0.1; done
kill -TERM "$(cat "$S.pid")" 2>/dev/null || true

# --- SIGUSR1 in the daemons and the SSE responder ----------------------------------------------
# smartimport-worker and smartimport-cdc (a reopener thread) and smartimport-import-events (its
# signalfd: the stats line too) reopen SMARTIMPORT_LOG_FILE and live on.  No database needed:
# they keep retrying one that does not answer.
reopen_fail=()
usr1() {   # usr1 NAME PID LOG READY: once LOG has a line matching READY, rename LOG, SIGUSR1;
           # the new LOG must say it reopened and PID must live on
  local name=$1 pid=$2 log=$3 ready=$4 i
  for i in $(seq 1 100); do grep -qE "$ready" "$log" 2>/dev/null && break; sleep 0.1; done
  mv "$log" "$log.1"
  kill -USR1 "$pid"
  for i in $(seq 1 50); do grep -q 'log file reopened' "$log" 2>/dev/null && break; sleep 0.1; done
  grep -q 'log file reopened' "$log" 2>/dev/null && kill -0 "$pid" 2>/dev/null || reopen_fail+=("$name")
}
DAEMON_ENV=("${GOOD[@]}" SMARTIMPORT_LISTEN= SMARTIMPORT_LOG_FLUSH_MS=0)
for d in worker cdc; do
  "${DAEMON_ENV[@]}" SMARTIMPORT_LOG_FILE="$T/$d.log" "$D$libexec/smartimport-$d" &
  pid=$!; PIDS+=("$pid")
  # the worker says "started"; cdc's first line is its failed connection (after the reopener started)
  usr1 "$d" "$pid" "$T/$d.log" '"msg":"started"|"level":"(warn|error)"' 
  kill -TERM "$pid" 2>/dev/null; wait "$pid" || reopen_fail+=("$d:exit=$?")
done
"${DAEMON_ENV[@]}" SMARTIMPORT_LOG_FILE="$T/events.log" python3 "$FC" --hold "$T/events.sock" 1 "$D$libexec/smartimport-import-events" &
PIDS+=($!)
for _ in $(seq 1 100); do [[ -s $T/events.sock.pid ]] && break; sleep 0.1; done
epid="$(cat "$T/events.sock.pid" 2>/dev/null || echo 0)"
usr1 import-events "$epid" "$T/events.log" '"msg":"started"' 
grep -q '"msg":"stats"' "$T/events.log.1" || reopen_fail+=("import-events: no stats line before the reopen")
kill -TERM "$epid" 2>/dev/null || true
check "SIGUSR1: smartimport-worker, smartimport-cdc and smartimport-import-events reopen their log and live on${reopen_fail[*]:+ (failed: ${reopen_fail[*]})}" \
  test ${#reopen_fail[@]} -eq 0

# --- smartimport-logscrub on the socket systemd gives it (--socket -) ------------------------------
# As smartimport-logscrub.service runs it: a datagram socket bound by someone else as standard
# input.  A message with a token in its request line is written scrubbed; SIGTERM ends it (exit
# 0) and leaves the socket; a message sent while it is down waits there for the next start.
out="$(python3 - "$D$libexec/smartimport-logscrub" "$T/logscrub" <<'PY' 2>&1
import os, socket, subprocess, sys, time
binary, d = sys.argv[1], sys.argv[2]
os.makedirs(d, exist_ok=True)
path, log = d + "/nginx-log.sock", d + "/nginx-error.log"
held = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
held.bind(path)
client = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
def line(n):
    return ('<28>Dec  3 14:00:00 nginx: 2026/12/03 14:00:00 [warn] 7#7: *%d upstream timed out, client: '
            '127.0.0.1, request: "GET /.netlify/functions/import-events?access_token=t0110SECRETtoken%d HTTP/1.1"' % (n, n)).encode()
def wait_for(text):
    for _ in range(100):
        if os.path.exists(log) and text in open(log).read():
            return True
        time.sleep(0.1)
    return False
p = subprocess.Popen([binary, "--socket", "-", "--out", log], stdin=held.fileno())
client.sendto(line(1), path)
assert wait_for("*1 upstream timed out"), "the first message was not written"
p.terminate()
assert p.wait(timeout=10) == 0, "SIGTERM: exit %s" % p.returncode
assert os.path.exists(path), "the socket was removed"
client.sendto(line(2), path)          # nobody reads: it waits in the socket
p = subprocess.Popen([binary, "--socket", "-", "--out", log], stdin=held.fileno())
assert wait_for("*2 upstream timed out"), "the message sent while it was down was lost"
p.terminate()
p.wait(timeout=10)
text = open(log).read()
assert "SECRET" not in text and "[scrubbed]" in text, "not scrubbed: " + text
print("ok")
PY
)" || true
check "smartimport-logscrub --socket - reads the socket it is given, scrubs the token, exits 0 on SIGTERM leaving the socket, and the next start reads what waited (${out//$'\n'/ })" \
  test "$out" = ok

# --- smartimport-migrate against the stack's database ----------------------------------------
if [[ -n ${DATABASE_URL:-} ]]; then
  sed "s|$pkgdata|$D$pkgdata|" "$D$bindir/smartimport-migrate" > "$T/migrate" && chmod +x "$T/migrate"
  out="$(DATABASE_URL="$DATABASE_URL" "$T/migrate" 2>&1)" && rc=0 || rc=$?
  check "the installed smartimport-migrate runs the installed migrations: $(tail -n 1 <<<"$out")" \
    bash -c "[[ $rc == 0 ]] && grep -q 'schema up to date' <<<'$out'"
  out="$(env -u DATABASE_URL "$D$bindir/smartimport-migrate" 2>&1)" && rc=0 || rc=$?
  check "smartimport-migrate without DATABASE_URL: exit 2, says so" bash -c "[[ $rc == 2 ]] && grep -q DATABASE_URL <<<'$out'"
else
  echo "# no DATABASE_URL: smartimport-migrate not run"
fi

mk -s uninstall DESTDIR="$D" >"$T/uninstall.log" 2>&1 && left="$(find "$D" -type f | head -n 5)" || left="make uninstall failed"
check "make uninstall removes every installed file${left:+ (left: $left)}" test -z "$left"

(( FAILS == 0 ))
