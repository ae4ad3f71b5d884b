# web: the web app (web/README.md).  The dev/test stack serves it from the source tree
# (scripts/render-nginx); `make install` copies it under $(pkgdatadir)/web, with the three
# vendored npm files it imports under vendor/, and the installed nginx site serves it there
# (render-nginx --site ... --web).  The vendored files come from web/node_modules (scripts/deps
# runs npm); a tarball carries them with their packages' licences (dist-hook), so installing
# from one needs no npm.
SI_WEB_APP_FILES = web/app/advice.js web/app/api.js web/app/bank.js web/app/bulk.js web/app/chat.js \
	web/app/app.css web/app/categories.js web/app/format.js web/app/import.js web/app/main.js \
	web/app/settings.js web/app/signin.js web/app/transactions.js web/app/ui.js web/app/workflow.js
SI_WEB_VENDORED = $(shell grep -v '^\#' $(srcdir)/web/vendored)
EXTRA_DIST += web/vendored web/index.html web/package.json web/package-lock.json web/README.md $(SI_WEB_APP_FILES)
webappdir = $(pkgdatadir)/web

install-data-local: install-si-web
install-si-web:
	$(MKDIR_P) "$(DESTDIR)$(webappdir)/app"
	$(INSTALL_DATA) $(srcdir)/web/index.html "$(DESTDIR)$(webappdir)/index.html"
	for f in $(SI_WEB_APP_FILES); do $(INSTALL_DATA) "$(srcdir)/$$f" "$(DESTDIR)$(webappdir)/app/" || exit 1; done
	@missing=""; for v in $(SI_WEB_VENDORED); do \
	  pkg=$${v%%/*}; name=$${v##*/}; \
	  if test -f "$(srcdir)/web/node_modules/$$v"; then \
	    $(MKDIR_P) "$(DESTDIR)$(webappdir)/vendor/$$pkg" && \
	    $(INSTALL_DATA) "$(srcdir)/web/node_modules/$$v" "$(DESTDIR)$(webappdir)/vendor/$$pkg/$$name" || exit 1; \
	    for l in "$(srcdir)/web/node_modules/$$pkg"/LICENSE*; do \
	      test ! -f "$$l" || $(INSTALL_DATA) "$$l" "$(DESTDIR)$(webappdir)/vendor/$$pkg/" || exit 1; \
	    done; \
	  else missing="$$missing $$v"; fi; \
	done; \
	if test -n "$$missing"; then echo "warning: web/node_modules lacks$$missing (run scripts/deps): the installed web app will not load" >&2; fi

uninstall-local: uninstall-si-web
uninstall-si-web:
	rm -rf "$(DESTDIR)$(webappdir)"

# The vendored files go into the tarball where npm put them, when it has.
dist-hook: dist-si-web
dist-si-web:
	for v in $(SI_WEB_VENDORED); do \
	  if test -f "$(srcdir)/web/node_modules/$$v"; then \
	    $(MKDIR_P) "$(distdir)/web/node_modules/$${v%/*}" && \
	    cp -p "$(srcdir)/web/node_modules/$$v" "$(distdir)/web/node_modules/$$v" || exit 1; \
	    for l in "$(srcdir)/web/node_modules/$${v%%/*}"/LICENSE*; do \
	      test ! -f "$$l" || cp -p "$$l" "$(distdir)/web/node_modules/$${v%%/*}/" || exit 1; \
	    done; \
	  fi; \
	done

.PHONY: install-si-web uninstall-si-web dist-si-web
