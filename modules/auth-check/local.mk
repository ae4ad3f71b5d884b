# modules/auth-check: the edge identity check nginx asks before reading a body (=/_si_auth)
pkglibexec_PROGRAMS += modules/auth-check/smartimport-auth-check
modules_auth_check_smartimport_auth_check_SOURCES = modules/auth-check/main_auth_check.c \
	modules/auth-check/auth_check.c modules/auth-check/auth_check.h
modules_auth_check_smartimport_auth_check_LDADD = libsmartimport.la $(JANSSON_LIBS) $(PQ_LIBS)
