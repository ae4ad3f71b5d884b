/* si_uuid.c: UUID syntax check (see si_uuid.h). */
#include "si_uuid.h"

#include <ctype.h>
#include <string.h>

bool si_uuid_valid(const char *s)
{
    if (s == NULL || strlen(s) != SI_UUID_LEN)
        return false;
    for (int i = 0; i < SI_UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

static int hex_digit(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;   /* c is a hex digit: si_uuid_valid said so */
}

int si_uuid_bytes(const char *s, unsigned char out[16])
{
    if (!si_uuid_valid(s))
        return -1;
    for (int i = 0, k = 0; k < 16; k++) {
        if (s[i] == '-')
            i++;
        out[k] = (unsigned char)(hex_digit(s[i]) << 4 | hex_digit(s[i + 1]));
        i += 2;
    }
    return 0;
}

int si_uuid_normalize(const char *s, char out[SI_UUID_LEN + 1])
{
    if (!si_uuid_valid(s))
        return -1;
    for (int i = 0; i < SI_UUID_LEN; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[SI_UUID_LEN] = '\0';
    return 0;
}
