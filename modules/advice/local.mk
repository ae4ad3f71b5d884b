# modules/advice: prime-handoff, crystal-analyze-import and approve-import
# (libadvice: the steps, the analytics, the rules template and the model client on the
# runtime's si_http; it takes nothing from libstmt),
# their unit test, and the stand-in model server the integration tests talk to.
noinst_LTLIBRARIES += libadvice.la
libadvice_la_SOURCES = modules/advice/advice.h \
	modules/advice/analytics.c modules/advice/approve_import.c modules/advice/chat_prompt.c \
	modules/advice/crystal_analyze_import.c modules/advice/crystal_chat.c \
	modules/advice/derive.c modules/advice/llm.c modules/advice/prime_handoff.c \
	modules/advice/prompt.c modules/advice/reply.c modules/advice/rules.c modules/advice/startup.c \
	modules/advice/words.c
ADVICE_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/modules/advice -I$(top_srcdir)/modules/commit
libadvice_la_CPPFLAGS = $(ADVICE_CPPFLAGS)
libadvice_la_LIBADD = libcommit.la libsmartimport.la $(JANSSON_LIBS) $(PQ_LIBS)
ADVICE_LDADD = libadvice.la $(JANSSON_LIBS) $(PQ_LIBS)

pkglibexec_PROGRAMS += modules/advice/smartimport-prime-handoff \
	modules/advice/smartimport-crystal-analyze-import modules/advice/smartimport-approve-import \
	modules/advice/smartimport-crystal-chat
modules_advice_smartimport_prime_handoff_SOURCES = modules/advice/main_prime_handoff.c
modules_advice_smartimport_prime_handoff_CPPFLAGS = $(ADVICE_CPPFLAGS)
modules_advice_smartimport_prime_handoff_LDADD = $(ADVICE_LDADD)
modules_advice_smartimport_crystal_analyze_import_SOURCES = modules/advice/main_crystal_analyze_import.c
modules_advice_smartimport_crystal_analyze_import_CPPFLAGS = $(ADVICE_CPPFLAGS)
modules_advice_smartimport_crystal_analyze_import_LDADD = $(ADVICE_LDADD)
modules_advice_smartimport_crystal_chat_SOURCES = modules/advice/main_crystal_chat.c
modules_advice_smartimport_crystal_chat_CPPFLAGS = $(ADVICE_CPPFLAGS)
modules_advice_smartimport_crystal_chat_LDADD = $(ADVICE_LDADD)
modules_advice_smartimport_approve_import_SOURCES = modules/advice/main_approve_import.c
modules_advice_smartimport_approve_import_CPPFLAGS = $(ADVICE_CPPFLAGS)
modules_advice_smartimport_approve_import_LDADD = $(ADVICE_LDADD)

check_PROGRAMS += tests/unit/check_advice
TESTS += tests/unit/check_advice
tests_unit_check_advice_SOURCES = tests/unit/check_advice.c
tests_unit_check_advice_CPPFLAGS = $(ADVICE_CPPFLAGS)
tests_unit_check_advice_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_check_advice_LDADD = $(ADVICE_LDADD) $(CHECK_LIBS)

# The stand-in model server for tests/integration/t0030-advice.sh (started by scripts/test).
check_PROGRAMS += tests/fake-llm/fake_llm
tests_fake_llm_fake_llm_SOURCES = tests/fake-llm/fake_llm.c
tests_fake_llm_fake_llm_LDADD = $(JANSSON_LIBS) $(PTHREAD_LIBS)
EXTRA_DIST += tests/fake-llm/replies/good.json tests/fake-llm/replies/wrong-keys.json tests/fake-llm/replies/chat.txt \
	tests/fake-llm/replies/categories.tsv \
	tests/fake-llm/replies/garbage.txt tests/fake-llm/README.md modules/advice/README.md
