/* JWT key sets and signatures (gateway/jwt.h, gateway/jwt_keys.c): RS256 and ES256 tokens,
 * a PKCS#1 RSA key, high-S ECDSA, every way a signature can be wrong for each algorithm, a
 * key bound to one algorithm (no HS256 with an RSA public key as secret), threads verifying
 * against one key set, and what a key set accepts. Token rules and claims: test_jwt.c.
 *
 * Tokens that need the RSA or EC private key come from jwt_keys/tokens.h (see
 * jwt_harness.h).
 */
#include <pthread.h>

#include "jwt_harness.h"

/* ---- valid tokens ---- */

static void rs256_and_es256_tokens_verify_by_kid_and_without(void **state)
{
    (void)state;
    assert_int_equal(check(&all_keys, JWT_TOKEN_RS256_VALID, &standard), JWT_OK);
    assert_int_equal(claims.key_index, 2);
    assert_int_equal(check(&all_keys, JWT_TOKEN_ES256_VALID, &standard), JWT_OK);
    assert_int_equal(claims.key_index, 3);
    assert_string_equal(claims.sub, "alice");
    assert_int_equal(check(&all_keys, JWT_TOKEN_RS256_NO_KID, &standard), JWT_OK);
    assert_int_equal(claims.key_index, 2);
    assert_int_equal(check(&all_keys, JWT_TOKEN_ES256_NO_KID, &standard), JWT_OK);
    assert_int_equal(claims.key_index, 3);
}

static void a_pkcs1_rsa_public_key_verifies_rs256(void **state)
{
    (void)state;
    struct jwt_keyset ks;
    char err[JWT_KEY_ERROR_BYTES];
    const char *pem = JWT_TEST_RSA_PKCS1_PEM;
    jwt_keyset_init(&ks);
    assert_int_equal(jwt_keyset_add_pem(&ks, "rsa-1", JWT_ALG_RS256, pem, strlen(pem), err), 0);
    assert_int_equal(check(&ks, JWT_TOKEN_RS256_VALID, &standard), JWT_OK);
    jwt_keyset_free(&ks);
}

static void a_high_s_es256_signature_is_accepted_as_ecdsa_allows(void **state)
{
    (void)state;
    assert_int_equal(check(&all_keys, JWT_TOKEN_ES256_HIGH_S, &standard), JWT_OK);
}

/* ---- signatures ---- */

static void a_header_or_payload_changed_after_signing_fails_for_every_alg(void **state)
{
    (void)state;
    const char *tampered[] = {JWT_TOKEN_HS256_HEADER_TAMPERED,  JWT_TOKEN_RS256_HEADER_TAMPERED,
                              JWT_TOKEN_ES256_HEADER_TAMPERED,  JWT_TOKEN_HS256_PAYLOAD_TAMPERED,
                              JWT_TOKEN_RS256_PAYLOAD_TAMPERED, JWT_TOKEN_ES256_PAYLOAD_TAMPERED};
    for (size_t i = 0; i < sizeof(tampered) / sizeof(tampered[0]); i++) {
        assert_int_equal(check(&all_keys, tampered[i], &standard), JWT_ERR_BAD_SIGNATURE);
        assert_int_equal(claims.sub_len, 0);
    }
}

static void a_flipped_character_in_any_part_fails_for_every_alg(void **state)
{
    (void)state;
    const char *valid[] = {JWT_TOKEN_HS256_VALID, JWT_TOKEN_RS256_VALID, JWT_TOKEN_ES256_VALID};
    for (size_t i = 0; i < 3; i++) {
        assert_int_not_equal(check(&all_keys, flip_in_part(valid[i], 0), &standard), JWT_OK);
        assert_int_equal(check(&all_keys, flip_in_part(valid[i], 1), &standard),
                         JWT_ERR_BAD_SIGNATURE);
        assert_int_equal(check(&all_keys, flip_in_part(valid[i], 2), &standard),
                         JWT_ERR_BAD_SIGNATURE);
    }
}

static void a_signature_of_the_wrong_length_or_form_fails(void **state)
{
    (void)state;
    const char *valid[] = {JWT_TOKEN_HS256_VALID, JWT_TOKEN_RS256_VALID, JWT_TOKEN_ES256_VALID};
    for (size_t i = 0; i < 3; i++) {
        snprintf(token_buf, sizeof(token_buf), "%s", valid[i]);
        char *sig = strrchr(token_buf, '.') + 1;
        memmove(sig + 4, sig + 8, strlen(sig + 8) + 1); /* three bytes short */
        assert_int_equal(check(&all_keys, token_buf, &standard), JWT_ERR_BAD_SIGNATURE);
        *sig = '\0'; /* no signature at all */
        assert_int_equal(check(&all_keys, token_buf, &standard), JWT_ERR_BAD_SIGNATURE);
    }
    assert_int_equal(check(&all_keys, JWT_TOKEN_ES256_DER_SIGNATURE, &standard),
                     JWT_ERR_BAD_SIGNATURE);
    assert_int_equal(check(&all_keys, JWT_TOKEN_ES256_ZERO_R, &standard), JWT_ERR_BAD_SIGNATURE);
    char huge[800];
    memset(huge, 'A', sizeof(huge) - 1);
    huge[0] = '.';
    huge[sizeof(huge) - 1] = '\0';
    assert_int_equal(check(&all_keys, with_tail("{\"alg\":\"RS256\"}", "{}", huge), &standard),
                     JWT_ERR_BAD_SIGNATURE);
}

/* ---- algorithm binding ---- */

static void an_hs256_token_signed_with_the_rsa_public_key_pem_is_refused(void **state)
{
    (void)state;
    struct jwt_keyset rsa_only;
    char err[JWT_KEY_ERROR_BYTES];
    const char *pem = JWT_TEST_RSA_PUBLIC_PEM;
    jwt_keyset_init(&rsa_only);
    assert_int_equal(jwt_keyset_add_pem(&rsa_only, "rsa-1", JWT_ALG_RS256, pem, strlen(pem), err),
                     0);
    assert_int_equal(check(&rsa_only, JWT_TOKEN_HS256_CONFUSION, &standard), JWT_ERR_NO_KEY);
    assert_int_equal(check(&rsa_only, JWT_TOKEN_HS256_CONFUSION_KID, &standard),
                     JWT_ERR_ALG_MISMATCH);
    assert_int_equal(check(&all_keys, JWT_TOKEN_HS256_CONFUSION, &standard), JWT_ERR_BAD_SIGNATURE);
    assert_int_equal(check(&all_keys, JWT_TOKEN_HS256_CONFUSION_KID, &standard),
                     JWT_ERR_ALG_MISMATCH);
    assert_int_equal(check(&rsa_only, JWT_TOKEN_ES256_NO_KID, &standard), JWT_ERR_NO_KEY);
    jwt_keyset_free(&rsa_only);
}

/* ---- threads ---- */

enum { THREADS = 4, THREAD_ROUNDS = 25 };

/* Verifies the three valid tokens THREAD_ROUNDS times; returns the number of failures. */
static void *verify_many(void *arg)
{
    (void)arg;
    static _Thread_local struct jwt_claims mine;
    const char *tokens[] = {JWT_TOKEN_RS256_VALID, JWT_TOKEN_ES256_VALID, JWT_TOKEN_HS256_VALID};
    uintptr_t failures = 0;
    for (int round = 0; round < THREAD_ROUNDS; round++) {
        for (size_t i = 0; i < 3; i++) {
            enum jwt_error err =
                jwt_verify(&all_keys, tokens[i], strlen(tokens[i]), &standard, NOW, &mine);
            failures += err != JWT_OK || strcmp(mine.sub, "alice") != 0;
        }
    }
    jwt_thread_exit(); /* LeakSanitizer reports wolfCrypt's ECC cache without it */
    return (void *)failures;
}

static void threads_verify_against_one_key_set_at_once(void **state)
{
    (void)state;
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, verify_many, NULL), 0);
    for (int i = 0; i < THREADS; i++) {
        void *failures = NULL;
        assert_int_equal(pthread_join(threads[i], &failures), 0);
        assert_int_equal((uintptr_t)failures, 0);
    }
}

/* ---- key sets ---- */

static int add_pem(struct jwt_keyset *ks, const char *kid, enum jwt_alg alg, const char *pem,
                   char *err)
{
    return jwt_keyset_add_pem(ks, kid, alg, pem, strlen(pem), err);
}

static void hmac_secrets_shorter_than_32_bytes_are_refused(void **state)
{
    (void)state;
    struct jwt_keyset ks;
    char err[JWT_KEY_ERROR_BYTES];
    uint8_t secret[JWT_SECRET_BYTES_MAX + 1];
    memset(secret, 's', sizeof(secret));
    jwt_keyset_init(&ks);
    assert_int_equal(jwt_keyset_add_hmac(&ks, "short", secret, 31, err), -1);
    assert_non_null(strstr(err, "31 bytes"));
    assert_int_equal(jwt_keyset_add_hmac(&ks, "long", secret, sizeof(secret), err), -1);
    assert_int_equal(ks.count, 0);
    assert_int_equal(jwt_keyset_add_hmac(&ks, "min", secret, 32, err), 0);
    assert_int_equal(jwt_keyset_add_hmac(&ks, "max", secret, JWT_SECRET_BYTES_MAX, err), 0);
    assert_int_equal(ks.count, 2);
    assert_int_equal(jwt_keyset_add_pem(&ks, "pem", JWT_ALG_HS256, "x", 1, err), -1);
    assert_non_null(strstr(err, "secret"));
    jwt_keyset_free(&ks);
}

static void public_keys_must_be_strong_enough_and_of_their_algs_type(void **state)
{
    (void)state;
    struct jwt_keyset ks;
    char err[JWT_KEY_ERROR_BYTES];
    jwt_keyset_init(&ks);
    assert_int_equal(add_pem(&ks, "r", JWT_ALG_RS256, JWT_TEST_RSA1024_PUBLIC_PEM, err), -1);
    assert_non_null(strstr(err, "1024 bits"));
    assert_int_equal(add_pem(&ks, "e", JWT_ALG_ES256, JWT_TEST_EC384_PUBLIC_PEM, err), -1);
    assert_non_null(strstr(err, "P-256"));
    assert_int_equal(add_pem(&ks, "r", JWT_ALG_RS256, JWT_TEST_EC_PUBLIC_PEM, err), -1);
    assert_non_null(strstr(err, "RSA"));
    assert_int_equal(add_pem(&ks, "e", JWT_ALG_ES256, JWT_TEST_RSA_PUBLIC_PEM, err), -1);
    assert_non_null(strstr(err, "EC"));
    assert_int_equal(add_pem(&ks, "p", JWT_ALG_RS256, JWT_TEST_RSA_PRIVATE_PEM, err), -1);
    assert_non_null(strstr(err, "BEGIN PUBLIC KEY"));
    assert_int_equal(add_pem(&ks, "g", JWT_ALG_ES256,
                             "-----BEGIN PUBLIC KEY-----\nAAAA\n"
                             "-----END PUBLIC KEY-----\n",
                             err),
                     -1);
    assert_int_equal(add_pem(&ks, "z", JWT_ALG_ES256, "", err), -1);
    assert_int_equal(ks.count, 0);
    jwt_keyset_free(&ks);
}

static void key_ids_are_unique_printable_and_short_and_sets_are_bounded(void **state)
{
    (void)state;
    struct jwt_keyset ks;
    char err[JWT_KEY_ERROR_BYTES], kid[JWT_KID_BYTES_MAX + 2];
    const uint8_t *secret = (const uint8_t *)JWT_TEST_HS_SECRET;
    size_t len = strlen(JWT_TEST_HS_SECRET);
    jwt_keyset_init(&ks);
    assert_int_equal(jwt_keyset_add_hmac(&ks, "a", secret, len, err), 0);
    assert_int_equal(jwt_keyset_add_hmac(&ks, "a", secret, len, err), -1);
    assert_non_null(strstr(err, "twice"));
    assert_int_equal(add_pem(&ks, "a", JWT_ALG_ES256, JWT_TEST_EC_PUBLIC_PEM, err), -1);
    assert_int_equal(jwt_keyset_add_hmac(&ks, "a b", secret, len, err), -1);
    assert_int_equal(jwt_keyset_add_hmac(&ks, "a\n", secret, len, err), -1);
    memset(kid, 'k', JWT_KID_BYTES_MAX + 1);
    kid[JWT_KID_BYTES_MAX + 1] = '\0';
    assert_int_equal(jwt_keyset_add_hmac(&ks, kid, secret, len, err), -1);
    kid[JWT_KID_BYTES_MAX] = '\0';
    assert_int_equal(jwt_keyset_add_hmac(&ks, kid, secret, len, err), 0);
    while (ks.count < JWT_KEYS_MAX) {
        assert_int_equal(jwt_keyset_add_hmac(&ks, "", secret, len, err), 0); /* no kid: many */
    }
    assert_int_equal(add_pem(&ks, "last", JWT_ALG_ES256, JWT_TEST_EC_PUBLIC_PEM, err), -1);
    assert_non_null(strstr(err, "at most 16"));
    jwt_keyset_free(&ks);
    assert_int_equal(ks.count, 0);
    assert_int_equal(ks.keys[0].material[0], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rs256_and_es256_tokens_verify_by_kid_and_without),
        cmocka_unit_test(a_pkcs1_rsa_public_key_verifies_rs256),
        cmocka_unit_test(a_high_s_es256_signature_is_accepted_as_ecdsa_allows),
        cmocka_unit_test(a_header_or_payload_changed_after_signing_fails_for_every_alg),
        cmocka_unit_test(a_flipped_character_in_any_part_fails_for_every_alg),
        cmocka_unit_test(a_signature_of_the_wrong_length_or_form_fails),
        cmocka_unit_test(an_hs256_token_signed_with_the_rsa_public_key_pem_is_refused),
        cmocka_unit_test(threads_verify_against_one_key_set_at_once),
        cmocka_unit_test(hmac_secrets_shorter_than_32_bytes_are_refused),
        cmocka_unit_test(public_keys_must_be_strong_enough_and_of_their_algs_type),
        cmocka_unit_test(key_ids_are_unique_printable_and_short_and_sets_are_bounded),
    };
    return cmocka_run_group_tests(tests, keys_setup, keys_teardown);
}
