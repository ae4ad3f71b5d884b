# modules/runtime: libsmartimport, the runtime linked by every responder.
pkglib_LTLIBRARIES += libsmartimport.la
libsmartimport_la_SOURCES = \
	modules/runtime/si_arena.c modules/runtime/si_arena.h \
	modules/runtime/si_auth.c modules/runtime/si_auth.h \
	modules/runtime/si_buf.c modules/runtime/si_buf.h \
	modules/runtime/si_clock.c modules/runtime/si_clock.h \
	modules/runtime/si_config.c modules/runtime/si_config.h \
	modules/runtime/si_crypt.c modules/runtime/si_crypt.h \
	modules/runtime/si_db.c modules/runtime/si_db.h \
	modules/runtime/si_db_get.c \
	modules/runtime/si_db_retry.c modules/runtime/si_db_retry.h \
	modules/runtime/si_error.c modules/runtime/si_error.h \
	modules/runtime/si_event.c modules/runtime/si_event.h \
	modules/runtime/si_function.c modules/runtime/si_function.h \
	modules/runtime/si_import.c modules/runtime/si_import.h modules/runtime/si_import_decisions.c \
	modules/runtime/si_http.c modules/runtime/si_http.h \
	modules/runtime/si_idempotency.c modules/runtime/si_idempotency.h \
	modules/runtime/si_json.c modules/runtime/si_json.h \
	modules/runtime/si_jwt.c modules/runtime/si_jwt.h \
	modules/runtime/si_llm.c modules/runtime/si_llm.h \
	modules/runtime/si_base64.c modules/runtime/si_base64.h \
	modules/runtime/si_limits.h \
	modules/runtime/si_listen.c modules/runtime/si_listen.h \
	modules/runtime/si_log.c modules/runtime/si_log.h \
	modules/runtime/si_metrics.c modules/runtime/si_metrics.h \
	modules/runtime/si_money.c modules/runtime/si_money.h \
	modules/runtime/si_request.c modules/runtime/si_request.h \
	modules/runtime/si_response.c modules/runtime/si_response.h \
	modules/runtime/si_server.c modules/runtime/si_server.h \
	modules/runtime/si_text.c modules/runtime/si_text.h \
	modules/runtime/si_uuid.c modules/runtime/si_uuid.h
libsmartimport_la_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS)
libsmartimport_la_LDFLAGS = -avoid-version $(AM_LDFLAGS)
libsmartimport_la_LIBADD = $(FCGI_LIBS) $(PQ_LIBS) $(CURL_LIBS) $(JANSSON_LIBS) $(CRYPTO_LIBS) $(PTHREAD_LIBS) -lm
EXTRA_DIST += modules/runtime/README.md
