# dist: what a server install needs beside the binaries (README "Production"): the systemd
# units (a socket and a service per FastCGI function, the daemons, smartimport.target), the
# environment file's documented example, the logrotate config, smartimport-migrate with the
# migration script it runs, the sysusers.d file of the system user the units run as, and the
# nginx site of this layout (scripts/render-nginx --site).  Rendered at install time by dist/render with the install's paths
# (prefix, sysconfdir...), so `make install prefix=...` always gets units that name the
# binaries where they are.  Units go to $(systemdsystemunitdir), under the prefix by default
# (systemd reads /usr/lib/systemd/system and /usr/local/lib/systemd/system); override it on
# the command line: make install systemdsystemunitdir=/lib/systemd/system.
systemdsystemunitdir = $(prefix)/lib/systemd/system
# The system user the units run as (dist/sysusers/smartimport.conf; systemd-sysusers reads
# /usr/lib/sysusers.d and /etc/sysusers.d).
sysusersdir = $(prefix)/lib/sysusers.d
# The nginx site of the installed layout (scripts/render-nginx --site): where it goes, where it
# listens, where its access log goes.  The sockets are the .socket units' (dist/systemd).
nginxsitedir = $(sysconfdir)/nginx/sites-available
SI_NGINX_LISTEN = 127.0.0.1:8080
SI_NGINX_ACCESS_LOG = $(localstatedir)/log/nginx/smartimport-access.log
# The folder of the units' sockets (dist/systemd/*.socket.in name it): not a setting.
SI_RUNDIR = /run/smartimport

SI_DIST_FILES = dist/README.md dist/render dist/smartimport.env.example dist/smartimport-migrate.in \
	dist/logrotate/smartimport.in dist/systemd/hardening.conf dist/systemd/smartimport.target.in \
	dist/systemd/smartimport-function.socket.in dist/systemd/smartimport-function.service.in \
	dist/systemd/smartimport-daemon.service.in dist/systemd/smartimport-logscrub.socket.in \
	dist/systemd/smartimport-logscrub.service.in dist/sysusers/smartimport.conf
EXTRA_DIST += $(SI_DIST_FILES)

# smartimport-migrate runs the migration script from beside the installed sql/ folder; backup and
# restore work on a Debian system cluster from the installed tree (--cluster, scripts/pgtarget.sh).
nobase_dist_pkgdata_SCRIPTS = scripts/migrate scripts/backup scripts/restore
nobase_dist_pkgdata_DATA += scripts/lib.sh scripts/pgtarget.sh
dist_doc_DATA = README.md

install-data-local: install-si-dist
install-si-dist:
	$(AM_V_GEN)rm -rf dist-out && $(SHELL) $(srcdir)/dist/render "$(srcdir)" dist-out "$(pkglibexecdir)" \
	  "$(sysconfdir)" "$(docdir)" "$(pkgdatadir)"
	$(MKDIR_P) "$(DESTDIR)$(systemdsystemunitdir)" "$(DESTDIR)$(sysconfdir)/smartimport" \
	  "$(DESTDIR)$(sysconfdir)/logrotate.d" "$(DESTDIR)$(bindir)"
	$(INSTALL_DATA) dist-out/systemd/smartimport* "$(DESTDIR)$(systemdsystemunitdir)/"
	$(MKDIR_P) "$(DESTDIR)$(sysusersdir)"
	$(INSTALL_DATA) $(srcdir)/dist/sysusers/smartimport.conf "$(DESTDIR)$(sysusersdir)/smartimport.conf"
	$(INSTALL_DATA) dist-out/smartimport.env.example "$(DESTDIR)$(sysconfdir)/smartimport/smartimport.env.example"
	$(INSTALL_DATA) dist-out/logrotate/smartimport "$(DESTDIR)$(sysconfdir)/logrotate.d/smartimport"
	$(INSTALL_SCRIPT) dist-out/smartimport-migrate "$(DESTDIR)$(bindir)/smartimport-migrate"
	$(AM_V_GEN)bash $(srcdir)/scripts/render-nginx --site dist-out/smartimport.conf \
	  --sockets "$(SI_RUNDIR)" --parts "$(pkgdatadir)/nginx" --listen "$(SI_NGINX_LISTEN)" \
	  --access-log "$(SI_NGINX_ACCESS_LOG)" \
	  --error-log "syslog:server=unix:$(SI_RUNDIR)/nginx-log.sock,tag=nginx,nohostname" \
	  --web "$(webappdir)" >/dev/null
	$(MKDIR_P) "$(DESTDIR)$(nginxsitedir)"
	$(INSTALL_DATA) dist-out/smartimport.conf "$(DESTDIR)$(nginxsitedir)/smartimport.conf"

uninstall-local:
	rm -f "$(DESTDIR)$(systemdsystemunitdir)"/smartimport*.socket \
	  "$(DESTDIR)$(systemdsystemunitdir)"/smartimport*.service \
	  "$(DESTDIR)$(systemdsystemunitdir)"/smartimport.target \
	  "$(DESTDIR)$(sysconfdir)/smartimport/smartimport.env.example" \
	  "$(DESTDIR)$(sysconfdir)/logrotate.d/smartimport" "$(DESTDIR)$(bindir)/smartimport-migrate" \
	  "$(DESTDIR)$(nginxsitedir)/smartimport.conf" "$(DESTDIR)$(sysusersdir)/smartimport.conf"

clean-local: clean-si-dist
clean-si-dist:
	rm -rf dist-out

.PHONY: install-si-dist clean-si-dist
