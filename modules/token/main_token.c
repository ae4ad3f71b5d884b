/* main_token.c: smartimport-token -- prints an HS256 access token for a user id,
 * signed with SMARTIMPORT_JWT_SECRET, for trying the API in jwt mode and for
 * the tests.  Usage: smartimport-token <user-uuid> [seconds-valid]
 * smartimport-token --check-config: is SMARTIMPORT_JWT_SECRET set and not too long
 * (prints the verdict, exit 0 or 1; si_config.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "si_config.h"
#include "si_jwt.h"
#include "si_uuid.h"

extern char **environ;

/* seconds-valid: at most ten years either way (negative: an already expired
 * token, for tests), so now + valid cannot overflow. */
#define TOKEN_VALID_MAX 315360000

int main(int argc, char **argv)
{
    const char *secret = si_env_get(environ, "SMARTIMPORT_JWT_SECRET");
    if (si_check_config_asked(argc, argv)) {
        struct si_error e;
        si_error_clear(&e);
        int rc = secret == NULL || *secret == '\0'
                     ? si_error_set(&e, 500, "bad_config", "SMARTIMPORT_JWT_SECRET is not set")
                 : strlen(secret) > SI_MAX_JWT_SECRET
                     ? si_error_set(&e, 500, "bad_config", "SMARTIMPORT_JWT_SECRET is longer than %d bytes",
                                    SI_MAX_JWT_SECRET)
                     : 0;
        return si_check_config_report(rc, &e);
    }
    if (argc < 2 || argc > 3 || !si_uuid_valid(argv[1])) {
        fprintf(stderr, "usage: smartimport-token <user-uuid> [seconds-valid]\n");
        return 2;
    }
    if (secret == NULL || *secret == '\0') {
        fprintf(stderr, "smartimport-token: SMARTIMPORT_JWT_SECRET is not set\n");
        return 2;
    }
    long long valid = 3600;
    if (argc == 3) {
        char *end = NULL;
        errno = 0;
        valid = strtoll(argv[2], &end, 10);
        if (end == argv[2] || *end != '\0' || errno != 0 || valid < -TOKEN_VALID_MAX || valid > TOKEN_VALID_MAX) {
            fprintf(stderr, "smartimport-token: seconds-valid must be an integer in [-%d, %d]\n", TOKEN_VALID_MAX,
                    TOKEN_VALID_MAX);
            return 2;
        }
    }
    long long now = (long long)time(NULL);
    json_t *claims = json_pack("{s:s, s:s, s:I, s:I}", "sub", argv[1], "role", "authenticated",
                               "iat", (json_int_t)now, "exp", (json_int_t)(now + valid));
    struct si_buf out;
    si_buf_init(&out, 4096);
    int rc = claims != NULL &&
             si_jwt_sign_hs256(claims, (const unsigned char *)secret, strlen(secret), &out) == 0;
    if (rc)
        printf("%s\n", out.data);
    si_buf_cleanup(&out);
    json_decref(claims);
    return rc ? 0 : 1;
}
