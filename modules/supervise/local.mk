# modules/supervise: smartimport-supervise, which starts and restarts every
# process of a stack (scripts/up runs it), and its unit test.
bin_PROGRAMS += modules/supervise/smartimport-supervise
SUPERVISE_SOURCES = modules/supervise/supervise.h modules/supervise/sv_spec.c \
	modules/supervise/sv_child.c modules/supervise/sv_state.c
modules_supervise_smartimport_supervise_SOURCES = modules/supervise/main_supervise.c $(SUPERVISE_SOURCES)
modules_supervise_smartimport_supervise_LDADD = libsmartimport.la $(JANSSON_LIBS)
# tests/bench/cluster_load.py: the load of scripts/bench-cluster (a cluster of supervised hosts).
EXTRA_DIST += modules/supervise/README.md tests/bench/cluster_load.py

check_PROGRAMS += tests/unit/check_supervise
TESTS += tests/unit/check_supervise
tests_unit_check_supervise_SOURCES = tests/unit/check_supervise.c $(SUPERVISE_SOURCES) modules/health/functions.c
tests_unit_check_supervise_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/modules/supervise -I$(top_srcdir)/modules/health
tests_unit_check_supervise_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_check_supervise_LDADD = libsmartimport.la $(JANSSON_LIBS) $(CHECK_LIBS)
