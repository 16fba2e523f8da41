/* JSON Web Token verification for client authentication (RFC 7519 tokens in the RFC 7515
 * compact serialization; docs/protocol.md section 3 is the user-facing rule list).
 *
 * The one thing to know before changing it: every key is bound to ONE algorithm when it is
 * added, and a token is only ever checked against keys bound to the algorithm its header
 * names. An HS256 token is therefore never checked with an RSA or EC public key's bytes as
 * an HMAC secret: algorithm confusion cannot happen by construction. Keep it that way.
 *
 * Token rules, checked in this order (the first failure is the error returned):
 *   1. At most policy->token_bytes_max bytes (JWT_ERR_TOO_LONG); exactly three parts
 *      joined by '.', the first two non-empty (JWT_ERR_MALFORMED). Every part is base64url
 *      without padding: only A-Z a-z 0-9 - _, no '=', no whitespace, and the unused low bits
 *      of the last character zero, so a byte string has one encoding (JWT_ERR_BAD_BASE64;
 *      the header is decoded and checked first, then the payload and the signature).
 *   2. Header: a JSON object (core/json.h: strict, depth <= JWT_JSON_DEPTH_MAX, at most
 *      JWT_JSON_MEMBERS_MAX members, no duplicate keys) with a string `alg`. `none` in any
 *      case is JWT_ERR_ALG_NONE; anything but exactly HS256, RS256, ES256 is
 *      JWT_ERR_ALG_UNSUPPORTED; a `crit` member is JWT_ERR_CRIT; `kid`, when present, is a
 *      string. `typ` and every other member are ignored (docs/protocol.md 3.2).
 *   3. Key selection: with a `kid`, the one key of that kid (none: JWT_ERR_NO_KEY; bound
 *      to another algorithm: JWT_ERR_ALG_MISMATCH); without, every key bound to `alg`, in
 *      the order added, until one verifies (none bound: JWT_ERR_NO_KEY).
 *   4. Signature over the ASCII "header.payload": HS256 is HMAC-SHA-256 compared in
 *      constant time; RS256 is RSASSA-PKCS1-v1_5 with SHA-256, the signature exactly as
 *      long as the modulus; ES256 is ECDSA P-256 with SHA-256, the signature the 64-byte
 *      R || S of RFC 7518 section 3.4 (a DER signature is refused; a high S is valid ECDSA
 *      and accepted, as RFC 7518 does not ask for low S).
 *   5. Payload: a JSON object under the same limits, parsed only after the signature holds.
 *   6. Claims, in this order: `sub` (required: a string of 1 to JWT_SUB_BYTES_MAX bytes
 *      after unescaping, no control characters U+0000-U+001F, U+007F-U+009F); `exp`, `nbf`,
 *      `iat` (when present, integers in seconds: "1.5" or "1e9" are JWT_ERR_BAD_CLAIM);
 *      `exp` present when policy->require_exp; `caps` (below); `iss` when the policy names
 *      an issuer (a string equal to it); `aud` when the policy names an audience (a string
 *      equal to it, or an array of strings containing it); then time, with L =
 *      policy->leeway_s: refused when now < nbf - L (not yet valid), when iat > now + L
 *      (issued in the future), when now >= exp + L (expired). Expiry is checked last so
 *      that JWT_ERR_EXPIRED, which tells a client to fetch a new token and reconnect at
 *      once, is only returned for a token that a newer copy would fix. Unknown claims are
 *      ignored; `aud` and `iss` are ignored when the policy does not name one.
 *
 * Capabilities (our own claim, optional; absent means none):
 *     "caps": {"join": ["chat:*", "news"], "publish": ["chat:room1"]}
 * An object whose `join` and `publish` members, when present, are arrays of at most
 * JWT_CAPS_MAX patterns; other members are ignored; any wrong type refuses the token. A
 * pattern is 1 to JWT_CAP_PATTERN_BYTES_MAX bytes of channel-name characters
 * (A-Z a-z 0-9 _ - . : @ / =, docs/protocol.md 4.1), optionally ending in one '*': without
 * it the pattern matches that exact name, with it every name starting with the part before
 * the '*' ("chat:*" matches "chat:room1", and also "chat:"). A lone "*" matches every
 * channel. '*' anywhere but last, or any other character, refuses the token.
 *
 * Memory and threads: nothing here allocates on the heap (wolfCrypt may inside its calls).
 * A key set is plain data; jwt_verify only reads it, so any number of threads may verify
 * against one key set at once. Public keys are kept as DER and decoded into a stack key on
 * each verification (wolfCrypt's key objects are not safe to share between threads), so
 * jwt_verify uses about 20 KiB of stack. wolfCrypt as Debian builds it (FP_ECC) also keeps a
 * per-thread table cache for ECDSA, about 1.6 MiB once a thread has verified ES256 tokens:
 * a thread that called jwt_verify calls jwt_thread_exit before it ends, or the cache leaks.
 * Tokens are never logged by this module.
 */
#ifndef TIDEGATE_GATEWAY_JWT_H
#define TIDEGATE_GATEWAY_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    JWT_TOKEN_BYTES_MAX = 8192,      /* hard limit; policy->token_bytes_max may lower it */
    JWT_PART_BYTES_MAX = 6144,       /* decoded header + payload never exceed 3/4 of a token */
    JWT_SIGNATURE_BYTES_MAX = 512,   /* an RSA-4096 signature */
    JWT_JSON_DEPTH_MAX = 8,          /* nesting in the header, the payload and `caps` */
    JWT_JSON_MEMBERS_MAX = 32,       /* top-level members of the header, payload and `caps` */
    JWT_KEYS_MAX = 16,               /* keys in one key set (docs/protocol.md: jwt_keys) */
    JWT_KID_BYTES_MAX = 64,          /* a key id */
    JWT_SECRET_BYTES_MIN = 32,       /* HS256: RFC 7518 section 3.2 */
    JWT_SECRET_BYTES_MAX = 512,      /* HS256 */
    JWT_KEY_DER_BYTES_MAX = 1024,    /* RS256/ES256 public key as DER (RSA-4096 needs 550) */
    JWT_PEM_BYTES_MAX = 16384,       /* PEM text handed to jwt_keyset_add_pem */
    JWT_RSA_BITS_MIN = 2048,         /* RS256 modulus */
    JWT_RSA_BITS_MAX = 4096,         /* the largest wolfCrypt (Debian build) verifies */
    JWT_SUB_BYTES_MAX = 128,         /* the user id, as docs/protocol.md 3.3 allows */
    JWT_CAPS_MAX = 64,               /* patterns in one capability list */
    JWT_CAP_PATTERN_BYTES_MAX = 256, /* one pattern: a 255-byte channel name and '*' */
    JWT_LEEWAY_S_MAX = 300,          /* clock skew allowance, seconds */
    JWT_KEY_ERROR_BYTES = 256,       /* room for a jwt_keyset_add_* error sentence */
};

enum jwt_alg { JWT_ALG_HS256, JWT_ALG_RS256, JWT_ALG_ES256, JWT_ALG_COUNT };

/* One configured key. Plain data, copied by value. */
struct jwt_key {
    enum jwt_alg alg;                        /* the only algorithm this key verifies */
    char kid[JWT_KID_BYTES_MAX + 1];         /* NUL-terminated; "" when the key has no id */
    size_t material_len;                     /* bytes used in material */
    uint8_t material[JWT_KEY_DER_BYTES_MAX]; /* HS256: the secret; RS256 and ES256: the public
                                                key as DER (SubjectPublicKeyInfo or PKCS#1),
                                                checked when added */
};

/* Up to JWT_KEYS_MAX keys, in the order added. Initialize with jwt_keyset_init; release
 * with jwt_keyset_free, which wipes the secrets (the struct holds no other resource). */
struct jwt_keyset {
    size_t count;
    struct jwt_key keys[JWT_KEYS_MAX];
};

/* What a token must satisfy beyond its signature. The strings are borrowed for the call. */
struct jwt_policy {
    const char *audience;   /* NUL-terminated; NULL or "" = `aud` is not checked */
    const char *issuer;     /* NUL-terminated; NULL or "" = `iss` is not checked */
    uint32_t leeway_s;      /* clock skew allowed on exp, nbf, iat: 0..JWT_LEEWAY_S_MAX */
    bool require_exp;       /* a token without `exp` is JWT_ERR_MISSING_EXP */
    size_t token_bytes_max; /* 0 = JWT_TOKEN_BYTES_MAX; larger values count as that */
};

enum jwt_cap {
    JWT_CAP_JOIN,    /* `caps.join`: channels the user may join */
    JWT_CAP_PUBLISH, /* `caps.publish`: channels the user may publish to */
    JWT_CAP_COUNT
};

/* One pattern: `len` bytes at jwt_claims.cap_bytes + offset, not NUL-terminated, the
 * trailing '*' (if any) included. */
struct jwt_cap_pattern {
    uint16_t offset;
    uint16_t len;
};

struct jwt_cap_list {
    size_t count; /* 0..JWT_CAPS_MAX */
    struct jwt_cap_pattern patterns[JWT_CAPS_MAX];
};

/* A verified token's claims, written by jwt_verify into the caller's struct (about 7 KiB:
 * a per-verification result; copy out what a connection keeps). After any error it reads
 * as "no user, no capabilities": sub_len 0, every count 0, every has_* false. */
struct jwt_claims {
    char sub[JWT_SUB_BYTES_MAX + 1]; /* `sub`, unescaped UTF-8, NUL-terminated (holds no NUL) */
    size_t sub_len;                  /* 1..JWT_SUB_BYTES_MAX after success */
    bool has_exp, has_nbf, has_iat;  /* whether each claim was present */
    int64_t exp_s, nbf_s, iat_s;     /* seconds since the epoch; 0 when absent */
    size_t key_index;                /* the key set entry that verified the signature */
    struct jwt_cap_list caps[JWT_CAP_COUNT];
    size_t cap_bytes_used;
    char cap_bytes[JWT_PART_BYTES_MAX]; /* every pattern, back to back; a payload can never
                                           hold more than fits here */
};

/* Stable names: each is a metrics label and its own jwt_error_name (in parentheses). */
enum jwt_error {
    JWT_OK = 0,               /* ok */
    JWT_ERR_TOO_LONG,         /* too_long: over policy->token_bytes_max */
    JWT_ERR_MALFORMED,        /* malformed: not three parts, or an empty header or payload */
    JWT_ERR_BAD_BASE64,       /* bad_base64: a part is not strict unpadded base64url */
    JWT_ERR_BAD_JSON,         /* bad_json: header or payload is not a valid JSON object */
    JWT_ERR_BAD_HEADER,       /* bad_header: no string `alg`, or a `kid` that is not a string */
    JWT_ERR_ALG_NONE,         /* alg_none: an unsigned token */
    JWT_ERR_ALG_UNSUPPORTED,  /* alg_unsupported: not HS256, RS256 or ES256 */
    JWT_ERR_CRIT,             /* crit: the header has `crit` */
    JWT_ERR_NO_KEY,           /* no_key: no key of that kid, or none bound to that alg */
    JWT_ERR_ALG_MISMATCH,     /* alg_mismatch: the kid's key is bound to another alg */
    JWT_ERR_BAD_SIGNATURE,    /* bad_signature */
    JWT_ERR_MISSING_SUB,      /* missing_sub */
    JWT_ERR_BAD_SUB,          /* bad_sub: not a string, empty, too long, control characters */
    JWT_ERR_BAD_CLAIM,        /* bad_claim: exp/nbf/iat not an integer, aud of a wrong type */
    JWT_ERR_MISSING_EXP,      /* missing_exp: policy->require_exp and no `exp` */
    JWT_ERR_BAD_CAPS,         /* bad_caps: `caps` of a wrong shape or with a bad pattern */
    JWT_ERR_TOO_MANY_CAPS,    /* too_many_caps: a list longer than JWT_CAPS_MAX */
    JWT_ERR_BAD_ISSUER,       /* bad_issuer: `iss` absent or not the policy's */
    JWT_ERR_BAD_AUDIENCE,     /* bad_audience: `aud` absent or without the policy's */
    JWT_ERR_NOT_YET_VALID,    /* not_yet_valid: before nbf - leeway */
    JWT_ERR_ISSUED_IN_FUTURE, /* issued_in_future: iat after now + leeway */
    JWT_ERR_EXPIRED,          /* expired: at or after exp + leeway */
    JWT_ERR_INTERNAL,         /* internal: wolfCrypt failed (out of memory) */
    JWT_ERROR_COUNT
};

/* The stable short name of an error ("bad_signature"), and a sentence for the client that
 * never quotes the token ("the token's signature does not verify"). */
const char *jwt_error_name(enum jwt_error error);
const char *jwt_error_text(enum jwt_error error);

/* "HS256", "RS256", "ES256". */
const char *jwt_alg_name(enum jwt_alg alg);

/* Parses an algorithm name in any case ("hs256", as the config writes it). False when it is
 * not one of the three; *alg is then unchanged. */
bool jwt_alg_parse(const char *name, size_t len, enum jwt_alg *alg);

/* An empty key set. */
void jwt_keyset_init(struct jwt_keyset *ks);

/* Wipes every key's material and empties the set. Safe to call again. */
void jwt_keyset_free(struct jwt_keyset *ks);

/* Adds an HS256 secret of JWT_SECRET_BYTES_MIN..JWT_SECRET_BYTES_MAX raw bytes. `kid` is NULL
 * or "" for a key without id, else 1..JWT_KID_BYTES_MAX printable ASCII characters (no
 * space), unique in the set. Returns 0, or -1 with a sentence in err (the set unchanged). */
int jwt_keyset_add_hmac(struct jwt_keyset *ks, const char *kid, const uint8_t *secret, size_t len,
                        char err[JWT_KEY_ERROR_BYTES]);

/* Adds an RS256 or ES256 public key from PEM text ("BEGIN PUBLIC KEY", or "BEGIN RSA PUBLIC
 * KEY" for RS256), at most JWT_PEM_BYTES_MAX bytes. RS256 needs an RSA key of
 * JWT_RSA_BITS_MIN..JWT_RSA_BITS_MAX bits with an odd exponent >= 3; ES256 an EC key on
 * P-256 that is a valid point. Private keys and certificates are refused. `kid` as above.
 * Returns 0, or -1 with a sentence in err (the set unchanged). */
int jwt_keyset_add_pem(struct jwt_keyset *ks, const char *kid, enum jwt_alg alg, const char *pem,
                       size_t len, char err[JWT_KEY_ERROR_BYTES]);

/* The same from the DER bytes of the public key (SubjectPublicKeyInfo, or PKCS#1
 * RSAPublicKey for RS256), at most JWT_KEY_DER_BYTES_MAX. */
int jwt_keyset_add_der(struct jwt_keyset *ks, const char *kid, enum jwt_alg alg, const uint8_t *der,
                       size_t len, char err[JWT_KEY_ERROR_BYTES]);

/* Verifies `token` (`len` bytes, no NUL needed) against the key set and the policy at time
 * now_s (seconds since the epoch, >= 0) and fills *out. Returns JWT_OK or the first rule
 * broken, in the order of the list at the top of this file. */
enum jwt_error jwt_verify(const struct jwt_keyset *ks, const char *token, size_t len,
                          const struct jwt_policy *policy, int64_t now_s, struct jwt_claims *out);

/* Releases what wolfCrypt keeps per thread for verification (the ECDSA table cache). Call
 * it on every thread that called jwt_verify, before the thread ends. */
void jwt_thread_exit(void);

/* True when one of the token's `cap` patterns matches the channel name (`len` bytes).
 * False for everything when the token had no `caps` or no list for `cap`. */
bool jwt_caps_allow(const struct jwt_claims *claims, enum jwt_cap cap, const char *channel,
                    size_t len);

#endif
