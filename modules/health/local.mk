# modules/health: GET /health
pkglibexec_PROGRAMS += modules/health/smartimport-health
modules_health_smartimport_health_SOURCES = modules/health/main_health.c modules/health/health.c modules/health/health.h \
	modules/health/functions.c
modules_health_smartimport_health_LDADD = libsmartimport.la $(JANSSON_LIBS) $(PQ_LIBS)
EXTRA_DIST += modules/health/README.md
