/* What the two files of JWT verification share: gateway/jwt.c (the token: parsing, key
 * selection, claims) hands a signed input to gateway/jwt_keys.c (key sets and wolfCrypt).
 * Only those two include it; every other module uses gateway/jwt.h. */
#ifndef TIDEGATE_GATEWAY_JWT_INTERNAL_H
#define TIDEGATE_GATEWAY_JWT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/jwt.h"

enum {
    JWT_DIGEST_BYTES = 32, /* SHA-256 */
};

/* What a signature is checked over: the token's ASCII "header.payload", its SHA-256 (for
 * RS256 and ES256), and the decoded signature. Every pointer is borrowed from the caller's
 * token and scratch memory for one verification. */
struct jwt_signed {
    const char *input;
    size_t input_len;
    uint8_t digest[JWT_DIGEST_BYTES];
    const uint8_t *signature;
    size_t signature_len;
};

/* Writes the SHA-256 of s->input into s->digest. Returns JWT_OK, or JWT_ERR_INTERNAL when
 * wolfCrypt fails. */
enum jwt_error jwt_signed_digest(struct jwt_signed *s);

/* Checks s->signature with `key` by the algorithm the key was bound to when added (never the
 * token's `alg`: the caller chooses which keys to try). RS256 and ES256 keys read s->digest,
 * which jwt_signed_digest must have filled. Returns JWT_OK, JWT_ERR_BAD_SIGNATURE, or
 * JWT_ERR_INTERNAL when wolfCrypt fails (out of memory). Allocates nothing itself; a public
 * key is decoded into a stack key for the call. */
enum jwt_error jwt_key_verify(const struct jwt_key *key, const struct jwt_signed *s);

#endif
