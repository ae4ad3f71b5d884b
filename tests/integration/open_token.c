/* open_token.c: opens a sealed bank token the way the bank module stores it, for
 * t0070-bank-connect.sh (built by make check, not a test itself).
 *
 *   SMARTIMPORT_TOKEN_KEY=<64 hex> open_token HEX AAD
 *
 * HEX is encode(access_token_enc, 'hex'), AAD "<connection>/<user>/access".  Prints the
 * token and exits 0, or exits 1 when it does not open (wrong key, wrong row, altered). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "si_crypt.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: open_token HEX AAD\n");
        return 2;
    }
    struct si_crypt_key key;
    struct si_error err;
    if (si_crypt_key_parse(getenv("SMARTIMPORT_TOKEN_KEY"), &key, &err) != 0) {
        fprintf(stderr, "open_token: %s\n", err.message);
        return 2;
    }
    size_t hl = strlen(argv[1]);
    unsigned char *blob = malloc(hl / 2 + 1);
    char *plain = NULL;
    size_t len = 0;
    int rc = 1;
    if (blob != NULL && hl % 2 == 0 && si_crypt_unhex(argv[1], blob, hl / 2) == 0 &&
        si_crypt_open(&key, blob, hl / 2, argv[2], strlen(argv[2]), &plain, &len, &err) == 0) {
        printf("%s\n", plain);
        rc = 0;
    }
    si_crypt_free_secret(plain);
    free(blob);
    si_crypt_key_clear(&key);
    return rc;
}
