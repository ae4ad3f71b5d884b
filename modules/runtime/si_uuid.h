/* si_uuid.h: user and import ids are UUIDs; this checks and normalises them. */
#ifndef SI_UUID_H
#define SI_UUID_H

#include <stdbool.h>

#define SI_UUID_LEN 36

/* True when s is 8-4-4-4-12 hex digits (either case), nothing more. */
bool si_uuid_valid(const char *s);

/* Copies a valid uuid into out in lower case; returns -1 when s is not a uuid. */
int si_uuid_normalize(const char *s, char out[SI_UUID_LEN + 1]);

/* The 16 bytes of a valid uuid (PostgreSQL's binary form); -1 when s is not a uuid. */
int si_uuid_bytes(const char *s, unsigned char out[16]);

#endif
