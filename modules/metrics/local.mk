# modules/metrics: GET /metrics (Prometheus text format) from every process's counter file
pkglibexec_PROGRAMS += modules/metrics/smartimport-metrics
modules_metrics_smartimport_metrics_SOURCES = modules/metrics/main_metrics.c modules/metrics/metrics.c \
	modules/metrics/metrics.h modules/metrics/metrics_files.c
modules_metrics_smartimport_metrics_LDADD = libsmartimport.la $(JANSSON_LIBS) $(PQ_LIBS) $(CRYPTO_LIBS)
EXTRA_DIST += modules/metrics/README.md
check_PROGRAMS += tests/unit/check_metrics
TESTS += tests/unit/check_metrics
tests_unit_check_metrics_SOURCES = tests/unit/check_metrics.c modules/metrics/metrics_files.c modules/metrics/metrics.c \
	modules/metrics/metrics.h
tests_unit_check_metrics_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/modules/metrics
tests_unit_check_metrics_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_check_metrics_LDADD = libsmartimport.la $(JANSSON_LIBS) $(PQ_LIBS) $(CRYPTO_LIBS) $(CHECK_LIBS)
# The counters' cost per request (built by make check, run by hand: modules/metrics/README.md "Cost").
check_PROGRAMS += tests/bench/bench_metrics
tests_bench_bench_metrics_SOURCES = tests/bench/bench_metrics.c
tests_bench_bench_metrics_LDADD = libsmartimport.la $(PTHREAD_LIBS)
