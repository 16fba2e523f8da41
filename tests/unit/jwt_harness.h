/* Test harness shared by test_jwt_keys.c (key sets, signatures, algorithm binding, threads)
 * and test_jwt.c (token syntax, the header, key selection, claims, capabilities, names): a
 * key set of the four test keys, the standard policy, and helpers that build and check
 * tokens. Included by exactly those two test files; everything here is static.
 *
 * Tokens that need the RSA or EC private key come from jwt_keys/tokens.h (written by
 * jwt_keys/make_tokens.py with Python and the openssl CLI). */
#ifndef TIDEGATE_TESTS_JWT_HARNESS_H
#define TIDEGATE_TESTS_JWT_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/jwt.h"

#include "jwt_keys/tokens.h"

#define NOW ((int64_t)JWT_TEST_NOW_S)

enum { TOKEN_CHARS_MAX = 2 * JWT_TOKEN_BYTES_MAX };

static struct jwt_keyset all_keys; /* 0: HS256, 1: HS256 "k2", 2: RS256 "rsa-1", 3: ES256 "ec-1" */
static struct jwt_claims claims;
static char token_buf[TOKEN_CHARS_MAX];

/* The policy the standard claims satisfy. */
static const struct jwt_policy standard = {
    .audience = "chat.example.com", .issuer = "https://auth.example.com", .require_exp = true};

/* ---- building tokens ---- */

static inline size_t b64url(const uint8_t *in, size_t len, char *out)
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
static inline size_t token_unsigned(const char *header, const char *payload)
{
    size_t n = b64url((const uint8_t *)header, strlen(header), token_buf);
    token_buf[n++] = '.';
    return n + b64url((const uint8_t *)payload, strlen(payload), token_buf + n);
}

/* "b64(header).b64(payload)" and then `tail` as given (".sig", ".", or "" for two parts). */
static inline const char *with_tail(const char *header, const char *payload, const char *tail)
{
    size_t n = token_unsigned(header, payload);
    snprintf(token_buf + n, sizeof(token_buf) - n, "%s", tail);
    return token_buf;
}

/* Changes the character at `part`'s middle to another base64url character. */
static inline const char *flip_in_part(const char *token, unsigned part)
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

/* ---- checking ---- */

/* Verifies `token` (NUL-terminated) at NOW against `ks`; the claims land in `claims`. */
static inline enum jwt_error check(const struct jwt_keyset *ks, const char *token,
                                   const struct jwt_policy *policy)
{
    return jwt_verify(ks, token, strlen(token), policy, NOW, &claims);
}

/* ---- the group fixture: all_keys holds the four test keys ---- */

static inline int keys_setup(void **state)
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

static inline int keys_teardown(void **state)
{
    (void)state;
    jwt_keyset_free(&all_keys);
    jwt_thread_exit();
    return 0;
}

#endif
