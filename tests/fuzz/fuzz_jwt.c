/* libFuzzer target for gateway/jwt: arbitrary tokens against a key set with an HS256, an
 * RS256 and an ES256 key (the test keys of tests/unit/jwt_keys).
 *
 * Byte 0 of the input picks the mode:
 *   even  the rest is a token, verified as it is: splitting, base64url, the header, key
 *         selection, and every signature check with keys that do not match.
 *   odd   the rest is "header NUL payload NUL channel": the two JSON texts are base64url-
 *         encoded and signed with the HS256 key here, so the claims parser sees arbitrary
 *         JSON behind a valid signature. Bit 1 of byte 0 turns policy.require_exp off.
 *
 * Checked on every input: the error is in range with a name and a sentence; after an error
 * the claims hold no user and no capabilities; after success `sub` is 1..JWT_SUB_BYTES_MAX
 * bytes without NUL, the time window holds, every capability pattern lies inside cap_bytes
 * and allows the channel it names; jwt_caps_allow on the input's channel does not crash.
 * Seeds: tests/fuzz/corpus/jwt/, written by tests/unit/jwt_keys/make_tokens.py.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/jwt.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hmac.h>

#include "../unit/jwt_keys/tokens.h"
#include "fuzz_check.h"

enum { FUZZ_TOKEN_BYTES_MAX = 2 * JWT_TOKEN_BYTES_MAX, FUZZ_LEEWAY_S = 30 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct jwt_keyset keys;
static struct jwt_claims claims;
static char token[FUZZ_TOKEN_BYTES_MAX];

static void keys_load(void)
{
    static bool loaded;
    if (loaded)
        return;
    char err[JWT_KEY_ERROR_BYTES];
    const char *secret = JWT_TEST_HS_SECRET;
    const char *rsa = JWT_TEST_RSA_PUBLIC_PEM, *ec = JWT_TEST_EC_PUBLIC_PEM;
    jwt_keyset_init(&keys);
    FUZZ_CHECK(jwt_keyset_add_hmac(&keys, NULL, (const uint8_t *)secret, strlen(secret), err) == 0);
    FUZZ_CHECK(jwt_keyset_add_pem(&keys, "rsa-1", JWT_ALG_RS256, rsa, strlen(rsa), err) == 0);
    FUZZ_CHECK(jwt_keyset_add_pem(&keys, "ec-1", JWT_ALG_ES256, ec, strlen(ec), err) == 0);
    loaded = true;
}

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
        for (size_t k = 0; k < chars; k++)
            out[n++] = alphabet[(v >> (18 - 6 * k)) & 63];
    }
    return n;
}

/* "b64(header).b64(payload).b64(HMAC)" into token; 0 when it would not fit. */
static size_t token_sign(const uint8_t *header, size_t header_len, const uint8_t *payload,
                         size_t payload_len)
{
    if (header_len + payload_len > JWT_TOKEN_BYTES_MAX)
        return 0; /* encoded it is over the limit anyway; raw mode covers too_long */
    size_t n = b64url(header, header_len, token);
    token[n++] = '.';
    n += b64url(payload, payload_len, token + n);
    uint8_t mac[32];
    Hmac hmac;
    const char *secret = JWT_TEST_HS_SECRET;
    FUZZ_CHECK(wc_HmacInit(&hmac, NULL, INVALID_DEVID) == 0);
    FUZZ_CHECK(wc_HmacSetKey(&hmac, WC_SHA256, (const byte *)secret, strlen(secret)) == 0);
    FUZZ_CHECK(wc_HmacUpdate(&hmac, (const byte *)token, (word32)n) == 0);
    FUZZ_CHECK(wc_HmacFinal(&hmac, mac) == 0);
    wc_HmacFree(&hmac);
    token[n++] = '.';
    return n + b64url(mac, sizeof(mac), token + n);
}

/* Splits "a NUL b NUL c" (missing pieces are empty). */
static void split3(const uint8_t *p, size_t len, const uint8_t *piece[3], size_t piece_len[3])
{
    for (int i = 0; i < 3; i++) {
        const uint8_t *nul = i < 2 ? memchr(p, 0, len) : NULL;
        piece[i] = p;
        piece_len[i] = nul != NULL ? (size_t)(nul - p) : len;
        p += piece_len[i] + (nul != NULL);
        len -= piece_len[i] + (nul != NULL);
    }
}

static void check_claims(enum jwt_error err, const struct jwt_policy *policy, int64_t now_s)
{
    FUZZ_CHECK((unsigned)err < JWT_ERROR_COUNT);
    FUZZ_CHECK(jwt_error_name(err) != NULL && strlen(jwt_error_text(err)) > 0);
    if (err != JWT_OK) {
        FUZZ_CHECK(claims.sub_len == 0 && claims.sub[0] == '\0');
        FUZZ_CHECK(claims.caps[JWT_CAP_JOIN].count == 0 && claims.caps[JWT_CAP_PUBLISH].count == 0);
        return;
    }
    FUZZ_CHECK(claims.sub_len >= 1 && claims.sub_len <= JWT_SUB_BYTES_MAX);
    FUZZ_CHECK(strlen(claims.sub) == claims.sub_len);
    FUZZ_CHECK(claims.key_index < keys.count);
    FUZZ_CHECK(!policy->require_exp || claims.has_exp);
    FUZZ_CHECK(!claims.has_exp || now_s - policy->leeway_s < claims.exp_s);
    FUZZ_CHECK(!claims.has_nbf || now_s + policy->leeway_s >= claims.nbf_s);
    FUZZ_CHECK(claims.cap_bytes_used <= sizeof(claims.cap_bytes));
    for (unsigned cap = 0; cap < JWT_CAP_COUNT; cap++) {
        const struct jwt_cap_list *list = &claims.caps[cap];
        FUZZ_CHECK(list->count <= JWT_CAPS_MAX);
        for (size_t i = 0; i < list->count; i++) {
            struct jwt_cap_pattern p = list->patterns[i];
            FUZZ_CHECK(p.len >= 1 && p.len <= JWT_CAP_PATTERN_BYTES_MAX);
            FUZZ_CHECK((size_t)p.offset + p.len <= claims.cap_bytes_used);
            const char *text = claims.cap_bytes + p.offset;
            size_t name_len = text[p.len - 1] == '*' ? p.len - 1u : p.len;
            FUZZ_CHECK(memchr(text, '*', name_len) == NULL);
            FUZZ_CHECK(jwt_caps_allow(&claims, (enum jwt_cap)cap, text, name_len));
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    keys_load();
    const int64_t now_s = JWT_TEST_NOW_S;
    struct jwt_policy policy = {.audience = "chat.example.com",
                                .issuer = "https://auth.example.com",
                                .leeway_s = FUZZ_LEEWAY_S,
                                .require_exp = (data[0] & 2) == 0};
    const uint8_t *channel = (const uint8_t *)"chat:room1";
    size_t channel_len = 10, len = size - 1;
    if ((data[0] & 1) == 0) {
        if (len > sizeof(token))
            return 0;
        memcpy(token, data + 1, len);
    } else {
        const uint8_t *piece[3];
        size_t piece_len[3];
        split3(data + 1, size - 1, piece, piece_len);
        len = token_sign(piece[0], piece_len[0], piece[1], piece_len[1]);
        if (len == 0)
            return 0;
        channel = piece[2];
        channel_len = piece_len[2];
    }
    enum jwt_error err = jwt_verify(&keys, token, len, &policy, now_s, &claims);
    check_claims(err, &policy, now_s);
    for (unsigned cap = 0; cap < JWT_CAP_COUNT; cap++) {
        bool allowed =
            jwt_caps_allow(&claims, (enum jwt_cap)cap, (const char *)channel, channel_len);
        FUZZ_CHECK(!allowed || err == JWT_OK);
    }
    return 0;
}
