# modules/logscrub: smartimport-logscrub, nginx's error log without query strings or tokens
pkglibexec_PROGRAMS += modules/logscrub/smartimport-logscrub
modules_logscrub_smartimport_logscrub_SOURCES = modules/logscrub/main_logscrub.c \
	modules/logscrub/scrub.c modules/logscrub/scrub.h
modules_logscrub_smartimport_logscrub_LDADD = libsmartimport.la $(JANSSON_LIBS) $(PQ_LIBS)

check_PROGRAMS += tests/unit/check_logscrub
TESTS += tests/unit/check_logscrub
tests_unit_check_logscrub_SOURCES = tests/unit/check_logscrub.c modules/logscrub/scrub.c \
	modules/logscrub/scrub.h
tests_unit_check_logscrub_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/modules/logscrub
tests_unit_check_logscrub_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_check_logscrub_LDADD = $(CHECK_LIBS)
