/* check_crypt.c: secrets sealed at rest (si_crypt.h): AES-256-GCM with a
 * fresh nonce per seal and the owning row as additional authenticated data. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "si_crypt.h"

static const char KEY_HEX[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
static const char OTHER_HEX[] = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
static const char TOKEN[] = "tlat_0123456789abcdef0123456789abcdef";
static const char AAD[] = "4f6b1c2e-0000-4000-8000-000000000001/9a1b2c3d-0000-4000-8000-000000000002";

static void key(const char *hex, struct si_crypt_key *k)
{
    struct si_error err;
    ck_assert_int_eq(si_crypt_key_parse(hex, k, &err), 0);
}

static void seal(const struct si_crypt_key *k, const char *aad, unsigned char **blob, size_t *len)
{
    struct si_error err;
    ck_assert_int_eq(si_crypt_seal(k, TOKEN, strlen(TOKEN), aad, strlen(aad), blob, len, &err), 0);
}

START_TEST(a_sealed_secret_opens_with_the_same_key_and_row)
{
    struct si_crypt_key k;
    struct si_error err;
    unsigned char *blob;
    size_t len, plen;
    char *plain;
    key(KEY_HEX, &k);
    seal(&k, AAD, &blob, &len);
    ck_assert_uint_eq(len, strlen(TOKEN) + SI_CRYPT_OVERHEAD);
    ck_assert_int_eq(si_crypt_open(&k, blob, len, AAD, strlen(AAD), &plain, &plen, &err), 0);
    ck_assert_uint_eq(plen, strlen(TOKEN));
    ck_assert_str_eq(plain, TOKEN);
    si_crypt_free_secret(plain);
    free(blob);
}
END_TEST

START_TEST(the_blob_does_not_hold_the_secret_and_two_seals_differ)
{
    struct si_crypt_key k;
    unsigned char *a, *b;
    size_t la, lb;
    key(KEY_HEX, &k);
    seal(&k, AAD, &a, &la);
    seal(&k, AAD, &b, &lb);
    ck_assert_ptr_null(memmem(a, la, TOKEN, strlen(TOKEN)));
    ck_assert_ptr_null(memmem(a, la, "0123456789abcdef", 16));
    ck_assert_uint_eq(la, lb);
    /* A fresh nonce per seal: the same secret never gives the same blob. */
    ck_assert_int_ne(memcmp(a, b, SI_CRYPT_NONCE_LEN), 0);
    ck_assert_int_ne(memcmp(a, b, la), 0);
    free(a);
    free(b);
}
END_TEST

START_TEST(a_wrong_key_a_wrong_row_or_an_altered_blob_is_refused)
{
    struct si_crypt_key k, other;
    struct si_error err;
    unsigned char *blob;
    size_t len, plen;
    char *plain = (char *)"untouched";
    key(KEY_HEX, &k);
    key(OTHER_HEX, &other);
    seal(&k, AAD, &blob, &len);
    ck_assert_int_eq(si_crypt_open(&other, blob, len, AAD, strlen(AAD), &plain, &plen, &err), -1);
    ck_assert_str_eq(err.code, "sealed_value_unreadable");
    ck_assert_ptr_null(plain);
    const char moved[] = "4f6b1c2e-0000-4000-8000-000000000099/9a1b2c3d-0000-4000-8000-000000000002";
    ck_assert_int_eq(si_crypt_open(&k, blob, len, moved, strlen(moved), &plain, &plen, &err), -1);
    ck_assert_int_eq(si_crypt_open(&k, blob, len, NULL, 0, &plain, &plen, &err), -1);
    for (size_t i = 0; i < len; i += 7) {
        blob[i] ^= 0x01;
        ck_assert_int_eq(si_crypt_open(&k, blob, len, AAD, strlen(AAD), &plain, &plen, &err), -1);
        blob[i] ^= 0x01;
    }
    ck_assert_int_eq(si_crypt_open(&k, blob, len - 1, AAD, strlen(AAD), &plain, &plen, &err), -1);
    ck_assert_int_eq(si_crypt_open(&k, blob, SI_CRYPT_OVERHEAD - 1, AAD, strlen(AAD), &plain, &plen, &err), -1);
    ck_assert_int_eq(si_crypt_open(&k, blob, len, AAD, strlen(AAD), &plain, &plen, &err), 0);
    si_crypt_free_secret(plain);
    free(blob);
}
END_TEST

static const char *const bad_keys[] = {
    "", "00", KEY_HEX + 2,
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f00",
    "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    " 00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
};

START_TEST(a_key_is_exactly_64_hex_digits)
{
    struct si_crypt_key k;
    struct si_error err;
    ck_assert_int_eq(si_crypt_key_parse(bad_keys[_i], &k, &err), -1);
    ck_assert_str_eq(err.code, "invalid_token_key");
    ck_assert(!k.set);
    ck_assert_ptr_null(strstr(err.message, bad_keys[_i][0] != '\0' ? bad_keys[_i] : "\x01"));
}
END_TEST

START_TEST(no_key_or_null_key_text_is_refused)
{
    struct si_crypt_key k;
    struct si_error err;
    unsigned char *blob;
    size_t len;
    ck_assert_int_eq(si_crypt_key_parse(NULL, &k, &err), -1);
    ck_assert_int_eq(si_crypt_seal(&k, TOKEN, strlen(TOKEN), NULL, 0, &blob, &len, &err), -1);
    key("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", &k);
    ck_assert(k.set);
    si_crypt_key_clear(&k);
    ck_assert(!k.set);
    ck_assert_int_eq(si_crypt_seal(&k, TOKEN, strlen(TOKEN), NULL, 0, &blob, &len, &err), -1);
}
END_TEST

START_TEST(hex_round_trips_and_refuses_bad_text)
{
    const unsigned char in[] = { 0x00, 0x7f, 0x80, 0xff };
    char hex[9];
    unsigned char out[4];
    si_crypt_hex(in, sizeof in, hex);
    ck_assert_str_eq(hex, "007f80ff");
    ck_assert_int_eq(si_crypt_unhex(hex, out, sizeof out), 0);
    ck_assert_int_eq(memcmp(in, out, sizeof in), 0);
    ck_assert_int_eq(si_crypt_unhex("007f80f", out, sizeof out), -1);
    ck_assert_int_eq(si_crypt_unhex("007f80fg", out, sizeof out), -1);
    ck_assert_int_eq(si_crypt_unhex(NULL, out, sizeof out), -1);
}
END_TEST

static Suite *crypt_suite(void)
{
    Suite *s = suite_create("crypt");
    TCase *t = tcase_create("seal");
    tcase_add_test(t, a_sealed_secret_opens_with_the_same_key_and_row);
    tcase_add_test(t, the_blob_does_not_hold_the_secret_and_two_seals_differ);
    tcase_add_test(t, a_wrong_key_a_wrong_row_or_an_altered_blob_is_refused);
    suite_add_tcase(s, t);
    TCase *k = tcase_create("key");
    tcase_add_loop_test(k, a_key_is_exactly_64_hex_digits, 0, (int)(sizeof bad_keys / sizeof bad_keys[0]));
    tcase_add_test(k, no_key_or_null_key_text_is_refused);
    tcase_add_test(k, hex_round_trips_and_refuses_bad_text);
    suite_add_tcase(s, k);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(crypt_suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
