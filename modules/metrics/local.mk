# modules/metrics: GET /metrics (Prometheus text format) from every process's counter file
pkglibexec_PROGRAMS += modules/metrics/smartimport-metrics
modules_metrics_smartimport_metrics_SOURCES = modules/metrics/main_metrics.c modules/metrics/metrics.c \
	modules/metrics/metrics.h modules/metrics/metrics_files.c
modules_metrics_smartimport_metrics_LDADD = libsmartimport.la $(JANSSON_LIBS) $(PQ_LIBS) $(CRYPTO_LIBS)
EXTRA_DIST += modules/metrics/README.md
