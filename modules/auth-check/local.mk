# modules/auth-check: the edge identity check nginx asks before reading a body (=/_si_auth)
pkglibexec_PROGRAMS += modules/auth-check/smartimport-auth-check
modules_auth_check_smartimport_auth_check_SOURCES = modules/auth-check/main.c \
	modules/auth-check/handler.c modules/auth-check/handler.h
modules_auth_check_smartimport_auth_check_LDADD = libsmartimport.la $(JANSSON_LIBS) $(PQ_LIBS)
