# modules/events: the import-events responder (Server-Sent Events).  Not an
# si_server responder: its own single-threaded epoll loop speaking FastCGI
# (see modules/events/events.h for why and how).
EVENTS_SOURCES = modules/events/events.h modules/events/events_limits.h \
	modules/events/fcgi_proto.c modules/events/fcgi_proto.h \
	modules/events/events_format.c
pkglibexec_PROGRAMS += modules/events/smartimport-import-events
modules_events_smartimport_import_events_SOURCES = $(EVENTS_SOURCES) \
	modules/events/main_import_events.c modules/events/events_loop.c \
	modules/events/events_conn.c modules/events/import_events.c modules/events/events_bus.c \
	modules/events/events_replay.c modules/events/events_live.c modules/events/events_pool.c
modules_events_smartimport_import_events_LDADD = libsmartimport.la $(JANSSON_LIBS) $(PQ_LIBS) $(PTHREAD_LIBS)
EXTRA_DIST += modules/events/README.md tests/bench/sse_bench.c tests/bench/bare_fcgi.c tests/bench/node_peer.js

# The FastCGI record layer and the SSE framing, without sockets or a database.
check_PROGRAMS += tests/unit/check_fcgi_proto
TESTS += tests/unit/check_fcgi_proto
tests_unit_check_fcgi_proto_SOURCES = tests/unit/check_fcgi_proto.c $(EVENTS_SOURCES)
tests_unit_check_fcgi_proto_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/modules/events
tests_unit_check_fcgi_proto_LDADD = libsmartimport.la $(CHECK_LIBS) $(JANSSON_LIBS) $(PQ_LIBS)
tests_unit_check_fcgi_proto_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)

# The query threads (lanes, ordering, answers through the eventfd), without a database.
check_PROGRAMS += tests/unit/check_events_pool
TESTS += tests/unit/check_events_pool
tests_unit_check_events_pool_SOURCES = tests/unit/check_events_pool.c $(EVENTS_SOURCES) \
	modules/events/events_loop.c modules/events/events_conn.c modules/events/import_events.c \
	modules/events/events_bus.c modules/events/events_replay.c modules/events/events_live.c \
	modules/events/events_pool.c
tests_unit_check_events_pool_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/modules/events
tests_unit_check_events_pool_LDADD = libsmartimport.la $(CHECK_LIBS) $(JANSSON_LIBS) $(PQ_LIBS) $(PTHREAD_LIBS)
tests_unit_check_events_pool_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)

# Live (non-durable) events: the progress rate limit, the notification, the frame.
check_PROGRAMS += tests/unit/check_live_events
TESTS += tests/unit/check_live_events
tests_unit_check_live_events_SOURCES = tests/unit/check_live_events.c $(EVENTS_SOURCES)
tests_unit_check_live_events_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/modules/events
tests_unit_check_live_events_LDADD = libsmartimport.la $(CHECK_LIBS) $(JANSSON_LIBS) $(PQ_LIBS)
tests_unit_check_live_events_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
