# modules/commit: commit-import and revert-import.
noinst_LTLIBRARIES += libcommit.la
libcommit_la_SOURCES = modules/commit/commit_import.c modules/commit/commit.h modules/commit/revert_import.c \
	modules/commit/import_lock.c modules/commit/import_lock.h
libcommit_la_LIBADD = libsmartimport.la $(JANSSON_LIBS) $(PQ_LIBS)
pkglibexec_PROGRAMS += modules/commit/smartimport-commit-import modules/commit/smartimport-revert-import
modules_commit_smartimport_commit_import_SOURCES = modules/commit/main_commit_import.c
modules_commit_smartimport_commit_import_LDADD = libcommit.la $(JANSSON_LIBS) $(PQ_LIBS)
modules_commit_smartimport_revert_import_SOURCES = modules/commit/main_revert_import.c
modules_commit_smartimport_revert_import_LDADD = libcommit.la $(JANSSON_LIBS) $(PQ_LIBS)
EXTRA_DIST += modules/commit/README.md
