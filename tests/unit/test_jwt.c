/* JWT tokens and claims (gateway/jwt.h, gateway/jwt.c): every way a token can be wrong,
 * the header, key selection by alg and kid, the time window with and without leeway,
 * audience, issuer, sub, the capability claim, and the names of errors and algorithms. Key
 * sets, signatures and threads: test_jwt_keys.c.
 *
 * Tokens that only vary the JSON are built here with HS256 (wolfCrypt's HMAC and the
 * harness's base64url encoder), so each test shows the header and payload it is about;
 * tokens signed with the RSA or EC private key come from jwt_keys/tokens.h.
 */
#include "jwt_harness.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hmac.h>

#define EXP       "\"exp\":1700003600" /* NOW + 3600 */
#define HS_HEADER "{\"alg\":\"HS256\"}"

/* No audience or issuer: for tests about other claims. */
static const struct jwt_policy open_policy = {.require_exp = true};

/* ---- HS256 tokens built here, and checking them ---- */

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

/* ---- algorithms and the header ---- */

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

/* ---- key selection ---- */

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
        cmocka_unit_test(alg_none_is_refused_with_or_without_a_signature),
        cmocka_unit_test(algorithms_other_than_the_three_are_unsupported),
        cmocka_unit_test(a_header_without_a_string_alg_or_with_crit_is_refused),
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
        cmocka_unit_test(every_error_has_a_distinct_name_and_a_sentence),
        cmocka_unit_test(algorithm_names_parse_in_any_case),
    };
    return cmocka_run_group_tests(tests, keys_setup, keys_teardown);
}
