/* check_jwt.c: base64url and HS256 token verification, including the
 * classic attacks (alg none, algorithm swap, tampering, expiry). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "si_jwt.h"

#define SECRET "test-secret-of-reasonable-length-0123456789"
#define NOW 1700000000LL
#define USER "550e8400-e29b-41d4-a716-446655440000"

static const unsigned char *secret = (const unsigned char *)SECRET;
static const size_t secret_len = sizeof SECRET - 1;

static const struct {
    const char *plain;
    const char *encoded;
} b64_table[] = {
    { "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" }, { "foob", "Zm9vYg" },
    { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" }, { "\xfb\xff", "-_8" },
};

START_TEST(base64url_round_trips_the_rfc4648_vectors)
{
    struct si_buf out;
    si_buf_init(&out, 100);
    const char *plain = b64_table[_i].plain;
    ck_assert_int_eq(si_base64url_encode((const unsigned char *)plain, strlen(plain), &out), 0);
    ck_assert_str_eq(out.data ? out.data : "", b64_table[_i].encoded);
    unsigned char dec[64];
    size_t n = 99;
    const char *enc = b64_table[_i].encoded;
    ck_assert_int_eq(si_base64url_decode(enc, strlen(enc), dec, sizeof dec, &n), 0);
    ck_assert_uint_eq(n, strlen(plain));
    ck_assert_mem_eq(dec, plain, n);
    si_buf_cleanup(&out);
}
END_TEST

static const char *b64_bad[] = {
    "Zg==",    /* padding is not base64url-in-JWT */
    "Z",       /* length 1 mod 4 */
    "Zh",      /* non-zero trailing bits */
    "Zm9v+g",  /* standard alphabet */
    "Zm9v Yg", /* whitespace */
    "Zm\n9v",
};

START_TEST(base64url_rejects_padding_bad_characters_and_stray_bits)
{
    unsigned char dec[64];
    size_t n;
    ck_assert_int_eq(si_base64url_decode(b64_bad[_i], strlen(b64_bad[_i]), dec, sizeof dec, &n), -1);
}
END_TEST

START_TEST(base64url_refuses_output_larger_than_the_buffer)
{
    unsigned char dec[2];
    size_t n;
    ck_assert_int_eq(si_base64url_decode("Zm9vYmFy", 8, dec, sizeof dec, &n), -1);
}
END_TEST

/* Builds header.payload.signature from raw JSON texts and a secret. */
static char *make_token(const char *header, const char *payload, const char *key, int sign)
{
    struct si_buf b;
    si_buf_init(&b, 8192);
    si_base64url_encode((const unsigned char *)header, strlen(header), &b);
    si_buf_append(&b, ".", 1);
    si_base64url_encode((const unsigned char *)payload, strlen(payload), &b);
    si_buf_append(&b, ".", 1);
    if (sign) {
        /* an independent HMAC over our exact header.payload bytes */
        struct si_buf tmp;
        si_buf_init(&tmp, 8192);
        si_buf_append(&tmp, b.data, b.len - 1);
        unsigned char mac[32];
        unsigned int mac_len = 0;
        HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)tmp.data, tmp.len, mac, &mac_len);
        si_base64url_encode(mac, mac_len, &b);
        si_buf_cleanup(&tmp);
    }
    return b.data;
}

static char *claims_with(long long exp)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "{\"sub\":\"%s\",\"role\":\"authenticated\",\"exp\":%lld}", USER, exp);
    return buf;
}

START_TEST(a_valid_token_yields_its_claims)
{
    char *t = make_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", claims_with(NOW + 60), SECRET, 1);
    json_t *claims = NULL;
    struct si_error err;
    ck_assert_int_eq(si_jwt_verify_hs256(t, secret, secret_len, NOW, &claims, &err), 0);
    ck_assert_str_eq(json_string_value(json_object_get(claims, "sub")), USER);
    json_decref(claims);
    free(t);
}
END_TEST

START_TEST(an_expired_token_is_401_token_expired)
{
    char *t = make_token("{\"alg\":\"HS256\"}", claims_with(NOW), SECRET, 1);
    json_t *claims = NULL;
    struct si_error err;
    ck_assert_int_eq(si_jwt_verify_hs256(t, secret, secret_len, NOW, &claims, &err), -1);
    ck_assert_int_eq(err.status, 401);
    ck_assert_str_eq(err.code, "token_expired");
    ck_assert_ptr_null(claims);
    free(t);
}
END_TEST

/* Tokens that must all be refused with 401 invalid_token. */
static char *bad_token(int i)
{
    switch (i) {
    case 0: return make_token("{\"alg\":\"HS256\"}", claims_with(NOW + 60), "wrong-secret", 1);
    case 1: return make_token("{\"alg\":\"none\"}", claims_with(NOW + 60), SECRET, 0);
    case 2: return make_token("{\"alg\":\"none\"}", claims_with(NOW + 60), SECRET, 1);
    case 3: return make_token("{\"alg\":\"HS512\"}", claims_with(NOW + 60), SECRET, 1);
    case 4: return make_token("{\"alg\":\"RS256\"}", claims_with(NOW + 60), SECRET, 1);
    case 5: return make_token("{\"typ\":\"JWT\"}", claims_with(NOW + 60), SECRET, 1);
    case 6: return make_token("{\"alg\":\"HS256\"}", "{\"sub\":\"x\"}", SECRET, 1);        /* no exp */
    case 7: return make_token("{\"alg\":\"HS256\"}", "[1,2]", SECRET, 1);                  /* not an object */
    case 8: return make_token("[\"HS256\"]", claims_with(NOW + 60), SECRET, 1);
    case 9: return make_token("{\"alg\":\"HS256\"}", "{\"sub\":\"x\",\"exp\":9999999999,\"nbf\":9999999990}", SECRET, 1);
    case 10: return make_token("{\"alg\":\"HS256\",\"crit\":[\"x\"]}", claims_with(NOW + 60), SECRET, 1);
    case 11: return make_token("{\"alg\":\"HS256\"}", "{\"exp\":\"soon\"}", SECRET, 1);
    case 12: { /* payload tampered after signing */
        char *t = make_token("{\"alg\":\"HS256\"}", claims_with(NOW + 60), SECRET, 1);
        char *dot = strchr(t, '.');
        dot[3] = dot[3] == 'A' ? 'B' : 'A';
        return t;
    }
    case 13: return strdup("only.two");
    case 14: return strdup("a.b.c.d");
    case 15: return strdup("..");
    case 16: return strdup("");
    case 17: return strdup("eyJhbGciOiJIUzI1NiJ9.e30.!!!!");
    case 18: { /* duplicate alg keys: none wins in naive parsers */
        return make_token("{\"alg\":\"HS256\",\"alg\":\"none\"}", claims_with(NOW + 60), SECRET, 1);
    }
    }
    return NULL;
}

START_TEST(forged_malformed_or_unsigned_tokens_are_401)
{
    char *t = bad_token(_i);
    json_t *claims = NULL;
    struct si_error err;
    si_error_clear(&err);
    ck_assert_int_eq(si_jwt_verify_hs256(t, secret, secret_len, NOW, &claims, &err), -1);
    ck_assert_int_eq(err.status, 401);
    ck_assert_str_eq(err.code, "invalid_token");
    ck_assert_ptr_null(claims);
    free(t);
}
END_TEST

START_TEST(an_oversized_token_is_refused)
{
    char *t = malloc(SI_MAX_TOKEN + 10);
    memset(t, 'a', SI_MAX_TOKEN + 9);
    t[SI_MAX_TOKEN + 9] = '\0';
    json_t *claims = NULL;
    struct si_error err;
    ck_assert_int_eq(si_jwt_verify_hs256(t, secret, secret_len, NOW, &claims, &err), -1);
    ck_assert_int_eq(err.status, 401);
    free(t);
}
END_TEST

START_TEST(signing_then_verifying_round_trips)
{
    json_t *claims = json_pack("{s:s, s:I}", "sub", USER, "exp", (json_int_t)(NOW + 5));
    struct si_buf out;
    si_buf_init(&out, 4096);
    ck_assert_int_eq(si_jwt_sign_hs256(claims, secret, secret_len, &out), 0);
    json_t *back = NULL;
    struct si_error err;
    ck_assert_int_eq(si_jwt_verify_hs256(out.data, secret, secret_len, NOW, &back, &err), 0);
    ck_assert(json_equal(claims, back));
    json_decref(back);
    /* and with no secret configured nothing verifies */
    ck_assert_int_eq(si_jwt_verify_hs256(out.data, secret, 0, NOW, &back, &err), -1);
    ck_assert_int_eq(err.status, 500);
    json_decref(claims);
    si_buf_cleanup(&out);
}
END_TEST

static Suite *jwt_suite(void)
{
    Suite *s = suite_create("jwt");
    TCase *tc = tcase_create("base64url");
    tcase_add_loop_test(tc, base64url_round_trips_the_rfc4648_vectors, 0,
                        sizeof b64_table / sizeof b64_table[0]);
    tcase_add_loop_test(tc, base64url_rejects_padding_bad_characters_and_stray_bits, 0,
                        sizeof b64_bad / sizeof b64_bad[0]);
    tcase_add_test(tc, base64url_refuses_output_larger_than_the_buffer);
    suite_add_tcase(s, tc);
    tc = tcase_create("verify");
    tcase_add_test(tc, a_valid_token_yields_its_claims);
    tcase_add_test(tc, an_expired_token_is_401_token_expired);
    tcase_add_loop_test(tc, forged_malformed_or_unsigned_tokens_are_401, 0, 19);
    tcase_add_test(tc, an_oversized_token_is_refused);
    tcase_add_test(tc, signing_then_verifying_round_trips);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(jwt_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
