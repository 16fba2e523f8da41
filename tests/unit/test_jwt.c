/* JWT verification (gateway/jwt.h): each algorithm, every way a token can be wrong, key
 * selection by alg and kid, the time window with and without leeway, audience, issuer, sub,
 * the capability claim, what a key set accepts, and threads verifying against one key set.
 *
 * Tokens that need the RSA or EC private key come from jwt_keys/tokens.h (written by
 * jwt_keys/make_tokens.py with Python and the openssl CLI). Tokens that only vary the JSON
 * are built here with HS256 (wolfCrypt's HMAC and a local base64url encoder), so each test
 * shows the header and payload it is about.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/jwt.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hmac.h>

#include "jwt_keys/tokens.h"

#define NOW       ((int64_t)JWT_TEST_NOW_S)
#define EXP       "\"exp\":1700003600" /* NOW + 3600 */
#define HS_HEADER "{\"alg\":\"HS256\"}"

enum { TOKEN_CHARS_MAX = 2 * JWT_TOKEN_BYTES_MAX };

static struct jwt_keyset all_keys; /* 0: HS256, 1: HS256 "k2", 2: RS256 "rsa-1", 3: ES256 "ec-1" */
static struct jwt_claims claims;
static char token_buf[TOKEN_CHARS_MAX];

/* The policy the standard claims satisfy. */
static const struct jwt_policy standard = {
    .audience = "chat.example.com", .issuer = "https://auth.example.com", .require_exp = true};

/* No audience or issuer: for tests about other claims. */
static const struct jwt_policy open_policy = {.require_exp = true};

/* ---- building tokens ---- */

static size_t b64url(const uint8_t *in, size_t len, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        v |= i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0;
        v |= i + 2 < len ? in[i + 2] : 0;
        size_t chars = len - i >= 3 ? 4 : len - i + 1;
        for (size_t k = 0; k < chars; k++) {
            out[n++] = alphabet[(v >> (18 - 6 * k)) & 63];
        }
    }
    out[n] = '\0';
    return n;
}

/* "b64(header).b64(payload)" into token_buf; returns its length. */
static size_t token_unsigned(const char *header, const char *payload)
{
    size_t n = b64url((const uint8_t *)header, strlen(header), token_buf);
    token_buf[n++] = '.';
    return n + b64url((const uint8_t *)payload, strlen(payload), token_buf + n);
}

static const char *token_with_secret(const char *header, const char *payload, const char *secret)
{
    size_t n = token_unsigned(header, payload);
    uint8_t mac[32];
    Hmac hmac;
    assert_int_equal(wc_HmacInit(&hmac, NULL, INVALID_DEVID), 0);
    assert_int_equal(wc_HmacSetKey(&hmac, WC_SHA256, (const byte *)secret, strlen(secret)), 0);
    assert_int_equal(wc_HmacUpdate(&hmac, (const byte *)token_buf, (word32)n), 0);
    assert_int_equal(wc_HmacFinal(&hmac, mac), 0);
    wc_HmacFree(&hmac);
    token_buf[n++] = '.';
    b64url(mac, sizeof(mac), token_buf + n);
    return token_buf;
}

static const char *hs256(const char *header, const char *payload)
{
    return token_with_secret(header, payload, JWT_TEST_HS_SECRET);
}

/* "b64(header).b64(payload)" and then `tail` as given (".sig", ".", or "" for two parts). */
static const char *with_tail(const char *header, const char *payload, const char *tail)
{
    size_t n = token_unsigned(header, payload);
    snprintf(token_buf + n, sizeof(token_buf) - n, "%s", tail);
    return token_buf;
}

static enum jwt_error check(const struct jwt_keyset *ks, const char *token,
                            const struct jwt_policy *policy)
{
    return jwt_verify(ks, token, strlen(token), policy, NOW, &claims);
}

static enum jwt_error check_payload(const char *payload)
{
    return check(&all_keys, hs256(HS_HEADER, payload), &open_policy);
}

static enum jwt_error check_header(const char *header)
{
    return check(&all_keys, hs256(header, "{\"sub\":\"alice\"," EXP "}"), &open_policy);
}

static enum jwt_error check_leeway(const char *token, uint32_t leeway_s)
{
    struct jwt_policy p = standard;
    p.leeway_s = leeway_s;
    return check(&all_keys, token, &p);
}

static int keys_setup(void **state)
{
    (void)state;
    char err[JWT_KEY_ERROR_BYTES];
    jwt_keyset_init(&all_keys);
    const char *s1 = JWT_TEST_HS_SECRET, *s2 = JWT_TEST_HS_SECRET_2;
    const char *rsa = JWT_TEST_RSA_PUBLIC_PEM, *ec = JWT_TEST_EC_PUBLIC_PEM;
    if (jwt_keyset_add_hmac(&all_keys, NULL, (const uint8_t *)s1, strlen(s1), err) != 0 ||
        jwt_keyset_add_hmac(&all_keys, "k2", (const uint8_t *)s2, strlen(s2), err) != 0 ||
        jwt_keyset_add_pem(&all_keys, "rsa-1", JWT_ALG_RS256, rsa, strlen(rsa), err) != 0 ||
        jwt_keyset_add_pem(&all_keys, "ec-1", JWT_ALG_ES256, ec, strlen(ec), err) != 0) {
        fprintf(stderr, "key set: %s\n", err);
        return -1;
    }
    return 0;
}

static int keys_teardown(void **state)
{
    (void)state;
    jwt_keyset_free(&all_keys);
    jwt_thread_exit();
    return 0;
}

/* ---- valid tokens ---- */

static void an_hs256_token_verifies_and_yields_its_claims(void **state)
{
    (void)state;
    assert_int_equal(check(&all_keys, JWT_TOKEN_HS256_VALID, &standard), JWT_OK);
    assert_string_equal(claims.sub, "alice");
    assert_int_equal(claims.sub_len, 5);
    assert_true(claims.has_exp && claims.has_iat && !claims.has_nbf);
    assert_int_equal(claims.exp_s, NOW + 3600);
    assert_int_equal(claims.iat_s, NOW - 60);
    assert_int_equal(claims.key_index, 0);
    assert_int_equal(claims.caps[JWT_CAP_JOIN].count, 2);
    assert_int_equal(claims.caps[JWT_CAP_PUBLISH].count, 1);
}

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

/* Changes the character at `part`'s middle to another base64url character. */
static const char *flip_in_part(const char *token, unsigned part)
{
    snprintf(token_buf, sizeof(token_buf), "%s", token);
    char *start = token_buf;
    for (unsigned i = 0; i < part; i++) {
        start = strchr(start, '.') + 1;
    }
    char *end = strchr(start, '.');
    char *c = start + ((end != NULL ? (size_t)(end - start) : strlen(start)) / 2);
    *c = *c == 'A' ? 'B' : 'A';
    return token_buf;
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

/* ---- algorithms ---- */

static void alg_none_is_refused_with_or_without_a_signature(void **state)
{
    (void)state;
    const char *payload = "{\"sub\":\"alice\"," EXP "}";
    const char *nones[] = {"{\"alg\":\"none\"}", "{\"alg\":\"None\"}", "{\"alg\":\"NONE\"}",
                           "{\"alg\":\"none\",\"typ\":\"JWT\"}"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(check(&all_keys, with_tail(nones[i], payload, "."), &open_policy),
                         JWT_ERR_ALG_NONE);
        assert_int_equal(check(&all_keys, hs256(nones[i], payload), &open_policy),
                         JWT_ERR_ALG_NONE);
    }
    assert_int_equal(check(&all_keys, with_tail(nones[0], payload, ""), &open_policy),
                     JWT_ERR_MALFORMED); /* two parts: not a JWS */
}

static void algorithms_other_than_the_three_are_unsupported(void **state)
{
    (void)state;
    const char *headers[] = {
        "{\"alg\":\"HS384\"}", "{\"alg\":\"HS512\"}",  "{\"alg\":\"RS512\"}",
        "{\"alg\":\"PS256\"}", "{\"alg\":\"ES256K\"}", "{\"alg\":\"EdDSA\"}",
        "{\"alg\":\"hs256\"}", "{\"alg\":\"\"}",       "{\"alg\":\"HS256HS256HS256HS256\"}"};
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        assert_int_equal(check_header(headers[i]), JWT_ERR_ALG_UNSUPPORTED);
    }
}

static void a_header_without_a_string_alg_or_with_crit_is_refused(void **state)
{
    (void)state;
    assert_int_equal(check_header("{}"), JWT_ERR_BAD_HEADER);
    assert_int_equal(check_header("{\"typ\":\"JWT\"}"), JWT_ERR_BAD_HEADER);
    assert_int_equal(check_header("{\"alg\":256}"), JWT_ERR_BAD_HEADER);
    assert_int_equal(check_header("{\"alg\":null}"), JWT_ERR_BAD_HEADER);
    assert_int_equal(check_header("{\"alg\":[\"HS256\"]}"), JWT_ERR_BAD_HEADER);
    assert_int_equal(check_header("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}"), JWT_ERR_CRIT);
    assert_int_equal(check_header("{\"alg\":\"HS256\",\"crit\":[]}"), JWT_ERR_CRIT);
    assert_int_equal(check_header("{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}"), JWT_OK);
}

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

static void a_kid_selects_one_key_and_only_that_key(void **state)
{
    (void)state;
    const char *payload = "{\"sub\":\"alice\"," EXP "}";
    assert_int_equal(check(&all_keys, JWT_TOKEN_HS256_K2, &standard), JWT_OK);
    assert_int_equal(claims.key_index, 1);
    /* no kid: every HS256 key in order, the second verifies */
    assert_int_equal(
        check(&all_keys, token_with_secret(HS_HEADER, payload, JWT_TEST_HS_SECRET_2), &open_policy),
        JWT_OK);
    assert_int_equal(claims.key_index, 1);
    /* kid "k2" with key 0's secret: key 0 is never tried */
    assert_int_equal(
        check(&all_keys, hs256("{\"alg\":\"HS256\",\"kid\":\"k2\"}", payload), &open_policy),
        JWT_ERR_BAD_SIGNATURE);
    assert_int_equal(check_header("{\"alg\":\"HS256\",\"kid\":\"k9\"}"), JWT_ERR_NO_KEY);
    assert_int_equal(check_header("{\"alg\":\"HS256\",\"kid\":\"\"}"), JWT_ERR_NO_KEY);
    assert_int_equal(check_header("{\"alg\":\"HS256\",\"kid\":\"k2k2k2k2k2k2k2k2k2k2k2k2k2k2k2k2"
                                  "k2k2k2k2k2k2k2k2k2k2k2k2k2k2k2k2k\"}"),
                     JWT_ERR_NO_KEY);
    assert_int_equal(check_header("{\"alg\":\"HS256\",\"kid\":7}"), JWT_ERR_BAD_HEADER);
    assert_int_equal(check_header("{\"alg\":\"RS256\",\"kid\":\"ec-1\"}"), JWT_ERR_ALG_MISMATCH);
}

/* ---- token syntax ---- */

static void anything_but_three_parts_is_malformed(void **state)
{
    (void)state;
    const char *tokens[] = {"",        "abc",       "abc.def",
                            "a.b.c.d", ".eyJ9.sig", "eyJ9..sig",
                            "..",      "...",       JWT_TOKEN_HS256_VALID "."};
    for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++) {
        assert_int_equal(check(&all_keys, tokens[i], &standard), JWT_ERR_MALFORMED);
    }
}

static void each_part_must_be_strict_unpadded_base64url(void **state)
{
    (void)state;
    const char *payload = "{\"sub\":\"alice\"," EXP "}";
    char good[256];
    size_t n = token_unsigned(HS_HEADER, payload);
    assert_true(n < sizeof(good));
    memcpy(good, token_buf, n + 1);
    const char *bad[] = {
        "eyJhbGciOiJIUzI1NiJ9=.e30.AAAA", "eyJhbGciOiJIUzI1NiJ9 .e30.AAAA",
        "eyJhbGciOiJ+UzI1NiJ9.e30.AAAA",  "eyJhbGciOiJ/UzI1NiJ9.e30.AAAA",
        "eyJhbGciOiJIUzI1NiJ9X.e30.AAAA", "e31.e30.AAAA" /* "{}" with a stray low bit */,
        "eyJhbGciOiJIUzI1NiJ9\n.e30.AAAA"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(check(&all_keys, bad[i], &standard), JWT_ERR_BAD_BASE64);
    }
    const char *suffixes[] = {"=.AAAA", ".AAAA=", ".AA AA", ".AAA+", ".AB"};
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        snprintf(token_buf, sizeof(token_buf), "%s%s", good, suffixes[i]);
        assert_int_equal(check(&all_keys, token_buf, &standard), JWT_ERR_BAD_BASE64);
    }
}

static void a_token_over_the_length_limit_is_refused_unread(void **state)
{
    (void)state;
    memset(token_buf, 'A', JWT_TOKEN_BYTES_MAX + 1);
    token_buf[JWT_TOKEN_BYTES_MAX + 1] = '\0';
    assert_int_equal(check(&all_keys, token_buf, &standard), JWT_ERR_TOO_LONG);
    token_buf[JWT_TOKEN_BYTES_MAX] = '\0';
    assert_int_equal(check(&all_keys, token_buf, &standard), JWT_ERR_MALFORMED);
    struct jwt_policy p = standard;
    p.token_bytes_max = strlen(JWT_TOKEN_HS256_VALID);
    assert_int_equal(check(&all_keys, JWT_TOKEN_HS256_VALID, &p), JWT_OK);
    p.token_bytes_max--;
    assert_int_equal(check(&all_keys, JWT_TOKEN_HS256_VALID, &p), JWT_ERR_TOO_LONG);
}

static void a_header_or_payload_that_is_not_a_json_object_is_bad_json(void **state)
{
    (void)state;
    assert_int_equal(check_header("{\"alg\":\"HS256\",}"), JWT_ERR_BAD_JSON);
    assert_int_equal(check_header("[\"HS256\"]"), JWT_ERR_BAD_JSON);
    assert_int_equal(check_header("{\"alg\":\"HS256\",\"alg\":\"none\"}"), JWT_ERR_BAD_JSON);
    assert_int_equal(check_header("{\"alg\":\"HS256\",\"x\":[[[[[[[[1]]]]]]]]}"),
                     JWT_ERR_BAD_JSON); /* depth 9 */
    assert_int_equal(check_header("{\"alg\":\"HS256\",\"x\":[[[[[[[1]]]]]]]}"), JWT_OK);
    assert_int_equal(check_header("{\"alg\":\"HS256\",\"x\":\"\xff\"}"), JWT_ERR_BAD_JSON);
    assert_int_equal(check_payload("not json"), JWT_ERR_BAD_JSON);
    assert_int_equal(check_payload("[{\"sub\":\"alice\"}]"), JWT_ERR_BAD_JSON);
    assert_int_equal(check_payload("{\"sub\":\"alice\"," EXP ",\"sub\":\"root\"}"),
                     JWT_ERR_BAD_JSON);
    char many[1024] = "{\"sub\":\"alice\"," EXP;
    for (int i = 0; i < 31; i++) {
        snprintf(many + strlen(many), sizeof(many) - strlen(many), ",\"c%d\":%d", i, i);
    }
    strcat(many, "}"); /* 33 members */
    assert_int_equal(check_payload(many), JWT_ERR_BAD_JSON);
}

/* ---- claims ---- */

static void sub_must_be_a_short_string_without_control_characters(void **state)
{
    (void)state;
    char payload[512], sub[200];
    assert_int_equal(check_payload("{" EXP "}"), JWT_ERR_MISSING_SUB);
    assert_int_equal(check_payload("{\"sub\":42," EXP "}"), JWT_ERR_BAD_SUB);
    assert_int_equal(check_payload("{\"sub\":null," EXP "}"), JWT_ERR_BAD_SUB);
    assert_int_equal(check_payload("{\"sub\":\"\"," EXP "}"), JWT_ERR_BAD_SUB);
    assert_int_equal(check_payload("{\"sub\":\"a\\u0007\"," EXP "}"), JWT_ERR_BAD_SUB);
    assert_int_equal(check_payload("{\"sub\":\"a\\u0000\"," EXP "}"), JWT_ERR_BAD_SUB);
    assert_int_equal(check_payload("{\"sub\":\"a\\u007f\"," EXP "}"), JWT_ERR_BAD_SUB);
    assert_int_equal(check_payload("{\"sub\":\"a\\u0085\"," EXP "}"), JWT_ERR_BAD_SUB);
    assert_int_equal(check_payload("{\"sub\":\"\\u00e5lice\\ud83d\\ude00\"," EXP "}"), JWT_OK);
    assert_string_equal(claims.sub, "\xc3\xa5lice\xf0\x9f\x98\x80");
    memset(sub, 'u', JWT_SUB_BYTES_MAX);
    sub[JWT_SUB_BYTES_MAX] = '\0';
    snprintf(payload, sizeof(payload), "{\"sub\":\"%s\"," EXP "}", sub);
    assert_int_equal(check_payload(payload), JWT_OK);
    assert_int_equal(claims.sub_len, JWT_SUB_BYTES_MAX);
    snprintf(payload, sizeof(payload), "{\"sub\":\"%su\"," EXP "}", sub);
    assert_int_equal(check_payload(payload), JWT_ERR_BAD_SUB);
}

static void times_must_be_integers_and_exp_present_when_required(void **state)
{
    (void)state;
    assert_int_equal(check_payload("{\"sub\":\"a\"}"), JWT_ERR_MISSING_EXP);
    struct jwt_policy no_exp = open_policy;
    no_exp.require_exp = false;
    assert_int_equal(check(&all_keys, hs256(HS_HEADER, "{\"sub\":\"a\"}"), &no_exp), JWT_OK);
    assert_false(claims.has_exp);
    const char *bad[] = {"{\"sub\":\"a\",\"exp\":1700003600.5}",
                         "{\"sub\":\"a\",\"exp\":\"1\"}",
                         "{\"sub\":\"a\",\"exp\":17e8}",
                         "{\"sub\":\"a\"," EXP ",\"nbf\":true}",
                         "{\"sub\":\"a\"," EXP ",\"iat\":99999999999999999999}",
                         "{\"sub\":\"a\",\"exp\":null}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(check_payload(bad[i]), JWT_ERR_BAD_CLAIM);
    }
}

static void expiry_counts_leeway_and_is_exact_at_the_boundary(void **state)
{
    (void)state;
    /* exp = NOW - 10: expired when NOW >= exp + leeway */
    assert_int_equal(check_leeway(JWT_TOKEN_HS256_EXPIRED, 0), JWT_ERR_EXPIRED);
    assert_int_equal(check_leeway(JWT_TOKEN_HS256_EXPIRED, 10), JWT_ERR_EXPIRED);
    assert_int_equal(check_leeway(JWT_TOKEN_HS256_EXPIRED, 11), JWT_OK);
    assert_int_equal(check_leeway(JWT_TOKEN_RS256_EXPIRED, 0), JWT_ERR_EXPIRED);
    assert_int_equal(check_leeway(JWT_TOKEN_ES256_EXPIRED, 0), JWT_ERR_EXPIRED);
    assert_int_equal(check_payload("{\"sub\":\"a\",\"exp\":1700000000}"), JWT_ERR_EXPIRED);
    assert_int_equal(check_payload("{\"sub\":\"a\",\"exp\":1700000001}"), JWT_OK);
    assert_int_equal(check_payload("{\"sub\":\"a\",\"exp\":-9223372036854775808}"),
                     JWT_ERR_EXPIRED);
    assert_int_equal(check_payload("{\"sub\":\"a\",\"exp\":9223372036854775807}"), JWT_OK);
}

static void nbf_and_iat_in_the_future_count_leeway(void **state)
{
    (void)state;
    const char *nbf = hs256(HS_HEADER, "{\"sub\":\"a\"," EXP ",\"nbf\":1700000020}");
    char token[512];
    snprintf(token, sizeof(token), "%s", nbf);
    struct jwt_policy p = open_policy;
    assert_int_equal(check(&all_keys, token, &p), JWT_ERR_NOT_YET_VALID);
    p.leeway_s = 19;
    assert_int_equal(check(&all_keys, token, &p), JWT_ERR_NOT_YET_VALID);
    p.leeway_s = 20;
    assert_int_equal(check(&all_keys, token, &p), JWT_OK);
    assert_true(claims.has_nbf);
    assert_int_equal(check_payload("{\"sub\":\"a\"," EXP ",\"nbf\":1700000000}"), JWT_OK);
    snprintf(token, sizeof(token), "%s",
             hs256(HS_HEADER, "{\"sub\":\"a\"," EXP ",\"iat\":1700000100}"));
    p.leeway_s = 60;
    assert_int_equal(check(&all_keys, token, &p), JWT_ERR_ISSUED_IN_FUTURE);
    p.leeway_s = 100;
    assert_int_equal(check(&all_keys, token, &p), JWT_OK);
}

static void audience_must_be_the_policys_string_or_in_its_array(void **state)
{
    (void)state;
    struct jwt_policy p = open_policy;
    p.audience = "chat.example.com";
    const char *ok[] = {"{\"sub\":\"a\"," EXP ",\"aud\":\"chat.example.com\"}",
                        "{\"sub\":\"a\"," EXP ",\"aud\":[\"x\",\"chat.example.com\"]}",
                        "{\"sub\":\"a\"," EXP ",\"aud\":\"chat.ex\\u0061mple.com\"}"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(check(&all_keys, hs256(HS_HEADER, ok[i]), &p), JWT_OK);
    }
    const char *wrong[] = {
        "{\"sub\":\"a\"," EXP "}", "{\"sub\":\"a\"," EXP ",\"aud\":\"Chat.example.com\"}",
        "{\"sub\":\"a\"," EXP ",\"aud\":\"chat.example.com.evil\"}",
        "{\"sub\":\"a\"," EXP ",\"aud\":[\"x\",\"y\"]}", "{\"sub\":\"a\"," EXP ",\"aud\":[]}"};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(check(&all_keys, hs256(HS_HEADER, wrong[i]), &p), JWT_ERR_BAD_AUDIENCE);
    }
    const char *mistyped[] = {"{\"sub\":\"a\"," EXP ",\"aud\":42}",
                              "{\"sub\":\"a\"," EXP ",\"aud\":[\"chat.example.com\",1]}"};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(check(&all_keys, hs256(HS_HEADER, mistyped[i]), &p), JWT_ERR_BAD_CLAIM);
        assert_int_equal(check(&all_keys, token_buf, &open_policy), JWT_OK); /* aud unchecked */
    }
}

static void issuer_must_equal_the_policys_when_it_names_one(void **state)
{
    (void)state;
    struct jwt_policy p = open_policy;
    p.issuer = "https://auth.example.com";
    assert_int_equal(check(&all_keys,
                           hs256(HS_HEADER, "{\"sub\":\"a\"," EXP ",\"iss\":\"https:\\/\\/auth."
                                            "example.com\"}"),
                           &p),
                     JWT_OK);
    const char *wrong[] = {"{\"sub\":\"a\"," EXP "}",
                           "{\"sub\":\"a\"," EXP ",\"iss\":\"https://evil.example.com\"}",
                           "{\"sub\":\"a\"," EXP ",\"iss\":[\"https://auth.example.com\"]}"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(check(&all_keys, hs256(HS_HEADER, wrong[i]), &p), JWT_ERR_BAD_ISSUER);
    }
    assert_int_equal(check(&all_keys, JWT_TOKEN_HS256_VALID, &open_policy), JWT_OK);
}

static void the_first_broken_rule_decides_and_expiry_comes_last(void **state)
{
    (void)state;
    struct jwt_policy p = standard;
    p.audience = "other.example.com";
    assert_int_equal(check(&all_keys, JWT_TOKEN_HS256_EXPIRED, &p), JWT_ERR_BAD_AUDIENCE);
    assert_int_equal(check_payload("{\"exp\":1}"), JWT_ERR_MISSING_SUB);
    assert_int_equal(check_payload("{\"sub\":\"a\",\"exp\":1,\"caps\":7}"), JWT_ERR_BAD_CAPS);
    assert_int_equal(check_header("{\"alg\":\"none\",\"crit\":[\"x\"]}"), JWT_ERR_ALG_NONE);
    assert_int_equal(check(&all_keys, flip_in_part(JWT_TOKEN_HS256_EXPIRED, 2), &standard),
                     JWT_ERR_BAD_SIGNATURE);
}

static void a_failed_verification_leaves_no_user_and_no_caps(void **state)
{
    (void)state;
    assert_int_equal(check(&all_keys, JWT_TOKEN_HS256_VALID, &standard), JWT_OK);
    assert_int_equal(check(&all_keys, JWT_TOKEN_HS256_EXPIRED, &standard), JWT_ERR_EXPIRED);
    assert_int_equal(claims.sub_len, 0);
    assert_string_equal(claims.sub, "");
    assert_false(claims.has_exp);
    assert_false(jwt_caps_allow(&claims, JWT_CAP_JOIN, "news", 4));
    assert_int_equal(claims.caps[JWT_CAP_PUBLISH].count, 0);
}

/* ---- capabilities ---- */

static bool allows(enum jwt_cap cap, const char *channel)
{
    return jwt_caps_allow(&claims, cap, channel, strlen(channel));
}

static void caps_match_exact_names_and_star_prefixes(void **state)
{
    (void)state;
    assert_int_equal(check(&all_keys, JWT_TOKEN_HS256_VALID, &standard), JWT_OK);
    assert_true(allows(JWT_CAP_JOIN, "news"));
    assert_false(allows(JWT_CAP_JOIN, "news2"));
    assert_false(allows(JWT_CAP_JOIN, "new"));
    assert_true(allows(JWT_CAP_JOIN, "chat:room1"));
    assert_true(allows(JWT_CAP_JOIN, "chat:"));
    assert_false(allows(JWT_CAP_JOIN, "chat"));
    assert_false(allows(JWT_CAP_JOIN, "chatroom"));
    assert_true(allows(JWT_CAP_PUBLISH, "chat:room1"));
    assert_false(allows(JWT_CAP_PUBLISH, "chat:room2"));
    assert_false(allows(JWT_CAP_PUBLISH, "news"));
    assert_int_equal(check_payload("{\"sub\":\"a\"," EXP "}"), JWT_OK);
    assert_false(allows(JWT_CAP_JOIN, "news"));
    assert_int_equal(check_payload("{\"sub\":\"a\"," EXP ",\"caps\":{\"join\":[\"*\"]}}"), JWT_OK);
    assert_true(allows(JWT_CAP_JOIN, "anything:at/all"));
    assert_false(allows(JWT_CAP_PUBLISH, "anything"));
    assert_int_equal(
        check_payload("{\"sub\":\"a\"," EXP ",\"caps\":{\"publish\":[\"a\\u003ab\"],\"x\":1}}"),
        JWT_OK);
    assert_true(allows(JWT_CAP_PUBLISH, "a:b"));
}

static void caps_of_a_wrong_shape_or_with_bad_patterns_refuse_the_token(void **state)
{
    (void)state;
    const char *bad[] = {"[]",
                         "\"chat:*\"",
                         "{\"join\":\"chat:*\"}",
                         "{\"join\":[1]}",
                         "{\"join\":null}",
                         "{\"join\":[\"a*b\"]}",
                         "{\"join\":[\"**\"]}",
                         "{\"join\":[\"\"]}",
                         "{\"join\":[\"chat room\"]}",
                         "{\"publish\":[\"ch\\u00e5t\"]}",
                         "{\"join\":[\"a?\"]}",
                         "{\"join\":[\"a\"],\"join\":[\"b\"]}",
                         "{\"publish\":[[\"a\"]]}"};
    char payload[256];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(payload, sizeof(payload), "{\"sub\":\"a\"," EXP ",\"caps\":%s}", bad[i]);
        assert_int_equal(check_payload(payload), JWT_ERR_BAD_CAPS);
    }
}

/* A payload whose caps.join holds `count` patterns of `len` bytes each. */
static enum jwt_error check_join_patterns(size_t count, size_t len)
{
    static char payload[JWT_TOKEN_BYTES_MAX];
    size_t n = (size_t)snprintf(payload, sizeof(payload),
                                "{\"sub\":\"a\"," EXP ",\"caps\":{"
                                "\"join\":[");
    for (size_t i = 0; i < count; i++) {
        payload[n++] = i > 0 ? ',' : '"';
        if (i > 0) {
            payload[n++] = '"';
        }
        memset(payload + n, 'a' + (char)(i % 26), len - 1);
        n += len - 1;
        payload[n++] = '*';
        payload[n++] = '"';
    }
    snprintf(payload + n, sizeof(payload) - n, "]}}");
    return check_payload(payload);
}

static void caps_lists_and_patterns_have_limits(void **state)
{
    (void)state;
    assert_int_equal(check_join_patterns(JWT_CAPS_MAX, 2), JWT_OK);
    assert_int_equal(claims.caps[JWT_CAP_JOIN].count, JWT_CAPS_MAX);
    assert_int_equal(check_join_patterns(JWT_CAPS_MAX + 1, 2), JWT_ERR_TOO_MANY_CAPS);
    assert_int_equal(check_join_patterns(1, JWT_CAP_PATTERN_BYTES_MAX), JWT_OK);
    assert_int_equal(check_join_patterns(1, JWT_CAP_PATTERN_BYTES_MAX + 1), JWT_ERR_BAD_CAPS);
    assert_int_equal(check_join_patterns(20, JWT_CAP_PATTERN_BYTES_MAX), JWT_OK);
    assert_int_equal(claims.cap_bytes_used, 20 * JWT_CAP_PATTERN_BYTES_MAX);
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

/* ---- names ---- */

static void every_error_has_a_distinct_name_and_a_sentence(void **state)
{
    (void)state;
    for (int i = 0; i < JWT_ERROR_COUNT; i++) {
        const char *name = jwt_error_name((enum jwt_error)i);
        assert_non_null(name);
        assert_true(strlen(jwt_error_text((enum jwt_error)i)) > 10);
        assert_null(strchr(name, ' '));
        for (int j = 0; j < i; j++) {
            assert_string_not_equal(name, jwt_error_name((enum jwt_error)j));
        }
    }
    assert_string_equal(jwt_error_name(JWT_ERR_EXPIRED), "expired");
    assert_string_equal(jwt_error_name(JWT_ERROR_COUNT), "unknown");
}

static void algorithm_names_parse_in_any_case(void **state)
{
    (void)state;
    enum jwt_alg alg = JWT_ALG_COUNT;
    assert_true(jwt_alg_parse("rs256", 5, &alg));
    assert_int_equal(alg, JWT_ALG_RS256);
    assert_true(jwt_alg_parse("Es256", 5, &alg));
    assert_string_equal(jwt_alg_name(alg), "ES256");
    assert_false(jwt_alg_parse("hs2566", 6, &alg));
    assert_false(jwt_alg_parse("none", 4, &alg));
    assert_false(jwt_alg_parse("", 0, &alg));
    assert_int_equal(alg, JWT_ALG_ES256);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_hs256_token_verifies_and_yields_its_claims),
        cmocka_unit_test(rs256_and_es256_tokens_verify_by_kid_and_without),
        cmocka_unit_test(a_pkcs1_rsa_public_key_verifies_rs256),
        cmocka_unit_test(a_high_s_es256_signature_is_accepted_as_ecdsa_allows),
        cmocka_unit_test(a_header_or_payload_changed_after_signing_fails_for_every_alg),
        cmocka_unit_test(a_flipped_character_in_any_part_fails_for_every_alg),
        cmocka_unit_test(a_signature_of_the_wrong_length_or_form_fails),
        cmocka_unit_test(alg_none_is_refused_with_or_without_a_signature),
        cmocka_unit_test(algorithms_other_than_the_three_are_unsupported),
        cmocka_unit_test(a_header_without_a_string_alg_or_with_crit_is_refused),
        cmocka_unit_test(an_hs256_token_signed_with_the_rsa_public_key_pem_is_refused),
        cmocka_unit_test(a_kid_selects_one_key_and_only_that_key),
        cmocka_unit_test(anything_but_three_parts_is_malformed),
        cmocka_unit_test(each_part_must_be_strict_unpadded_base64url),
        cmocka_unit_test(a_token_over_the_length_limit_is_refused_unread),
        cmocka_unit_test(a_header_or_payload_that_is_not_a_json_object_is_bad_json),
        cmocka_unit_test(sub_must_be_a_short_string_without_control_characters),
        cmocka_unit_test(times_must_be_integers_and_exp_present_when_required),
        cmocka_unit_test(expiry_counts_leeway_and_is_exact_at_the_boundary),
        cmocka_unit_test(nbf_and_iat_in_the_future_count_leeway),
        cmocka_unit_test(audience_must_be_the_policys_string_or_in_its_array),
        cmocka_unit_test(issuer_must_equal_the_policys_when_it_names_one),
        cmocka_unit_test(the_first_broken_rule_decides_and_expiry_comes_last),
        cmocka_unit_test(a_failed_verification_leaves_no_user_and_no_caps),
        cmocka_unit_test(caps_match_exact_names_and_star_prefixes),
        cmocka_unit_test(caps_of_a_wrong_shape_or_with_bad_patterns_refuse_the_token),
        cmocka_unit_test(caps_lists_and_patterns_have_limits),
        cmocka_unit_test(threads_verify_against_one_key_set_at_once),
        cmocka_unit_test(hmac_secrets_shorter_than_32_bytes_are_refused),
        cmocka_unit_test(public_keys_must_be_strong_enough_and_of_their_algs_type),
        cmocka_unit_test(key_ids_are_unique_printable_and_short_and_sets_are_bounded),
        cmocka_unit_test(every_error_has_a_distinct_name_and_a_sentence),
        cmocka_unit_test(algorithm_names_parse_in_any_case),
    };
    return cmocka_run_group_tests(tests, keys_setup, keys_teardown);
}
