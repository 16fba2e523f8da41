/* JWT key sets and signature checks: adding HMAC secrets and PEM public keys (checked and
 * kept as DER), and verifying a signature with wolfCrypt by the algorithm a key is bound to.
 * See jwt.h for the limits and the rules; gateway/jwt.c parses tokens and picks the keys.
 *
 * The one thing to know before changing it: a key is bound to one algorithm when it is
 * added, and jwt_key_verify dispatches on that binding (key->alg), never on the token's
 * `alg`: an RSA or EC public key's bytes are never used as an HMAC secret.
 *
 * Own header first: it pulls in glibc's features.h before wolfssl/options.h, which
 * redefines _FORTIFY_SOURCE (harmless then; first, it would warn in -O0 builds). options.h
 * must precede every wolfCrypt header.
 */
#include "gateway/jwt_internal.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum {
    JWT_ES256_SIGNATURE_BYTES = 64,       /* R || S, 32 bytes each */
    JWT_ECDSA_DER_BYTES_MAX = 2 + 2 * 35, /* SEQUENCE of two INTEGERs of up to 33 bytes */
};

/* RFC 8017 section 9.2, note 1: the DER DigestInfo prefix of a SHA-256 hash. An RS256
 * signature must decrypt to exactly this followed by the hash. */
static const uint8_t sha256_digest_info[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                             0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                             0x01, 0x05, 0x00, 0x04, 0x20};

/* ---- keys ---- */

void jwt_keyset_init(struct jwt_keyset *ks)
{
    assert(ks != NULL);
    memset(ks, 0, sizeof(*ks));
}

void jwt_keyset_free(struct jwt_keyset *ks)
{
    assert(ks != NULL);
    explicit_bzero(ks, sizeof(*ks));
}

/* Writes "<alg> key <kid>: <sentence>" into err and returns -1. */
__attribute__((format(printf, 4, 5))) static int key_fail(char *err, enum jwt_alg alg,
                                                          const char *kid, const char *fmt, ...)
{
    assert(err != NULL && (unsigned)alg < JWT_ALG_COUNT);
    int n = snprintf(err, JWT_KEY_ERROR_BYTES, "%s key %.*s: ", jwt_alg_name(alg),
                     JWT_KID_BYTES_MAX, kid != NULL && kid[0] != '\0' ? kid : "(no kid)");
    assert(n > 0 && n < JWT_KEY_ERROR_BYTES); /* at most 10 + JWT_KID_BYTES_MAX + 2 */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, JWT_KEY_ERROR_BYTES - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* The set has room, and `kid` is NULL, "", or printable, short and new. */
static int key_id_check(const struct jwt_keyset *ks, const char *kid, enum jwt_alg alg, char *err)
{
    assert(ks->count <= JWT_KEYS_MAX);
    size_t kid_len = kid != NULL ? strlen(kid) : 0;
    if (ks->count == JWT_KEYS_MAX)
        return key_fail(err, alg, kid, "at most %d JWT keys can be configured", JWT_KEYS_MAX);
    if (kid_len > JWT_KID_BYTES_MAX)
        return key_fail(err, alg, kid, "the key id is longer than %d bytes", JWT_KID_BYTES_MAX);
    for (size_t i = 0; i < kid_len; i++) {
        if (kid[i] <= ' ' || kid[i] > '~')
            return key_fail(err, alg, kid, "a key id is printable ASCII without spaces");
    }
    for (size_t i = 0; kid_len > 0 && i < ks->count; i++) {
        if (strcmp(ks->keys[i].kid, kid) == 0)
            return key_fail(err, alg, kid, "the key id is configured twice");
    }
    return 0;
}

/* The next slot with alg and kid filled in (not yet counted), or NULL with err. */
static struct jwt_key *key_slot(struct jwt_keyset *ks, const char *kid, enum jwt_alg alg, char *err)
{
    assert((unsigned)alg < JWT_ALG_COUNT);
    if (key_id_check(ks, kid, alg, err) != 0)
        return NULL;
    struct jwt_key *key = &ks->keys[ks->count];
    memset(key, 0, sizeof(*key));
    key->alg = alg;
    snprintf(key->kid, sizeof(key->kid), "%s", kid != NULL ? kid : "");
    return key;
}

int jwt_keyset_add_hmac(struct jwt_keyset *ks, const char *kid, const uint8_t *secret, size_t len,
                        char err[JWT_KEY_ERROR_BYTES])
{
    assert(ks != NULL && err != NULL);
    assert(secret != NULL || len == 0);
    struct jwt_key *key = key_slot(ks, kid, JWT_ALG_HS256, err);
    if (key == NULL)
        return -1;
    if (len < JWT_SECRET_BYTES_MIN || len > JWT_SECRET_BYTES_MAX) {
        return key_fail(err, JWT_ALG_HS256, kid,
                        "the secret has %zu bytes; it needs %d to %d (e.g. head -c 32 "
                        "/dev/urandom)",
                        len, JWT_SECRET_BYTES_MIN, JWT_SECRET_BYTES_MAX);
    }
    memcpy(key->material, secret, len);
    key->material_len = len;
    ks->count++;
    return 0;
}

/* An RS256 key: JWT_RSA_BITS_MIN..MAX bits, odd exponent >= 3 (with e = 1 every message
 * would be its own signature). */
static int key_check_rsa(const uint8_t *der, size_t len, const char *kid, char *err)
{
    RsaKey rsa;
    if (wc_InitRsaKey(&rsa, NULL) != 0)
        return key_fail(err, JWT_ALG_RS256, kid, "wolfCrypt could not set up an RSA key");
    uint8_t n[JWT_KEY_DER_BYTES_MAX], e[16];
    word32 idx = 0, n_len = sizeof(n), e_len = sizeof(e);
    int ret = wc_RsaPublicKeyDecode(der, &idx, &rsa, (word32)len);
    if (ret == 0)
        ret = idx == len ? wc_RsaFlattenPublicKey(&rsa, e, &e_len, n, &n_len) : -1;
    if (wc_FreeRsaKey(&rsa) != 0 || ret != 0 || n_len == 0 || e_len == 0 || n[0] == 0)
        return key_fail(err, JWT_ALG_RS256, kid, "the key is not an RSA public key");
    unsigned bits = (unsigned)(n_len - 1) * 8 + (unsigned)(32 - __builtin_clz(n[0]));
    if (bits < JWT_RSA_BITS_MIN || bits > JWT_RSA_BITS_MAX) {
        return key_fail(err, JWT_ALG_RS256, kid, "the RSA key has %u bits; %d to %d are accepted",
                        bits, JWT_RSA_BITS_MIN, JWT_RSA_BITS_MAX);
    }
    if ((e[e_len - 1] & 1) == 0 || (e_len == 1 && e[0] < 3))
        return key_fail(err, JWT_ALG_RS256, kid, "the RSA exponent must be odd and at least 3");
    return 0;
}

/* An ES256 key: a valid point on P-256. */
static int key_check_ec(const uint8_t *der, size_t len, const char *kid, char *err)
{
    ecc_key ecc;
    if (wc_ecc_init(&ecc) != 0)
        return key_fail(err, JWT_ALG_ES256, kid, "wolfCrypt could not set up an EC key");
    word32 idx = 0;
    int ret = wc_EccPublicKeyDecode(der, &idx, &ecc, (word32)len);
    bool decoded = ret == 0 && idx == len;
    bool p256 = decoded && wc_ecc_get_curve_id(ecc.idx) == ECC_SECP256R1;
    bool valid = p256 && wc_ecc_check_key(&ecc) == 0;
    if (wc_ecc_free(&ecc) != 0 || !decoded)
        return key_fail(err, JWT_ALG_ES256, kid, "the key is not an EC public key");
    if (!valid) {
        return key_fail(err, JWT_ALG_ES256, kid, "the EC key is %s",
                        p256 ? "not a valid P-256 point" : "not on curve P-256 (prime256v1)");
    }
    return 0;
}

/* Checks the DER public key in key->material (len bytes) for `alg` and counts the key in.
 * Returns 0, or -1 with err (the slot stays free). */
static int key_commit(struct jwt_keyset *ks, struct jwt_key *key, enum jwt_alg alg, const char *kid,
                      size_t len, char *err)
{
    int ret = alg == JWT_ALG_RS256 ? key_check_rsa(key->material, len, kid, err)
                                   : key_check_ec(key->material, len, kid, err);
    if (ret != 0)
        return -1;
    key->material_len = len;
    ks->count++;
    return 0;
}

int jwt_keyset_add_pem(struct jwt_keyset *ks, const char *kid, enum jwt_alg alg, const char *pem,
                       size_t len, char err[JWT_KEY_ERROR_BYTES])
{
    assert(ks != NULL && err != NULL && (unsigned)alg < JWT_ALG_COUNT);
    assert(pem != NULL || len == 0);
    if (alg == JWT_ALG_HS256)
        return key_fail(err, alg, kid, "HS256 takes a secret, not a PEM key");
    struct jwt_key *key = key_slot(ks, kid, alg, err);
    if (key == NULL)
        return -1;
    if (len > JWT_PEM_BYTES_MAX) {
        return key_fail(err, alg, kid, "the PEM text has %zu bytes; at most %d are read", len,
                        JWT_PEM_BYTES_MAX);
    }
    int der_len = wc_PubKeyPemToDer((const unsigned char *)pem, (int)len, key->material,
                                    sizeof(key->material));
    if (der_len <= 0) {
        return key_fail(err, alg, kid,
                        "no \"BEGIN PUBLIC KEY\" block found (of a private key or a "
                        "certificate, give the public key: openssl pkey -pubout, openssl x509 "
                        "-pubkey -noout)");
    }
    return key_commit(ks, key, alg, kid, (size_t)der_len, err);
}

int jwt_keyset_add_der(struct jwt_keyset *ks, const char *kid, enum jwt_alg alg, const uint8_t *der,
                       size_t len, char err[JWT_KEY_ERROR_BYTES])
{
    assert(ks != NULL && err != NULL && (unsigned)alg < JWT_ALG_COUNT);
    assert(der != NULL || len == 0);
    if (alg == JWT_ALG_HS256)
        return key_fail(err, alg, kid, "HS256 takes a secret, not a public key");
    struct jwt_key *key = key_slot(ks, kid, alg, err);
    if (key == NULL)
        return -1;
    if (len == 0 || len > sizeof(key->material)) {
        return key_fail(err, alg, kid, "the DER key has %zu bytes; expected 1 to %zu", len,
                        sizeof(key->material));
    }
    memcpy(key->material, der, len);
    return key_commit(ks, key, alg, kid, len, err);
}

/* ---- signatures ---- */

/* Constant time in `len`: a forger learns nothing from how long a wrong MAC took. */
static bool bytes_equal_ct(const uint8_t *a, const uint8_t *b, size_t len)
{
    uint8_t diff = 0;
    for (size_t i = 0; i < len; i++)
        diff |= (uint8_t)(a[i] ^ b[i]);
    return diff == 0;
}

static enum jwt_error hs256_verify(const struct jwt_key *key, const struct jwt_signed *s)
{
    assert(key->alg == JWT_ALG_HS256 && key->material_len >= JWT_SECRET_BYTES_MIN);
    if (s->signature_len != JWT_DIGEST_BYTES)
        return JWT_ERR_BAD_SIGNATURE;
    Hmac hmac;
    uint8_t mac[JWT_DIGEST_BYTES];
    if (wc_HmacInit(&hmac, NULL, INVALID_DEVID) != 0)
        return JWT_ERR_INTERNAL;
    int ret = wc_HmacSetKey(&hmac, WC_SHA256, key->material, (word32)key->material_len);
    if (ret == 0)
        ret = wc_HmacUpdate(&hmac, (const byte *)s->input, (word32)s->input_len);
    if (ret == 0)
        ret = wc_HmacFinal(&hmac, mac);
    wc_HmacFree(&hmac);
    if (ret != 0)
        return JWT_ERR_INTERNAL;
    return bytes_equal_ct(mac, s->signature, sizeof(mac)) ? JWT_OK : JWT_ERR_BAD_SIGNATURE;
}

static enum jwt_error rs256_check(RsaKey *rsa, const struct jwt_signed *s)
{
    int modulus_bytes = wc_RsaEncryptSize(rsa);
    assert(modulus_bytes <= JWT_SIGNATURE_BYTES_MAX);
    if (modulus_bytes <= 0 || s->signature_len != (size_t)modulus_bytes)
        return JWT_ERR_BAD_SIGNATURE; /* RFC 8017 8.2.2 step 1: exactly k bytes */
    uint8_t plain[JWT_SIGNATURE_BYTES_MAX];
    int n = wc_RsaSSL_Verify(s->signature, (word32)s->signature_len, plain, sizeof(plain), rsa);
    if (n == MEMORY_E)
        return JWT_ERR_INTERNAL;
    size_t prefix = sizeof(sha256_digest_info);
    if (n != (int)(prefix + JWT_DIGEST_BYTES) ||
        !bytes_equal_ct(plain, sha256_digest_info, prefix) ||
        !bytes_equal_ct(plain + prefix, s->digest, JWT_DIGEST_BYTES)) {
        return JWT_ERR_BAD_SIGNATURE;
    }
    return JWT_OK;
}

static enum jwt_error rs256_verify(const struct jwt_key *key, const struct jwt_signed *s)
{
    assert(key->alg == JWT_ALG_RS256 && key->material_len > 0);
    RsaKey rsa;
    if (wc_InitRsaKey(&rsa, NULL) != 0)
        return JWT_ERR_INTERNAL;
    word32 idx = 0;
    enum jwt_error err = JWT_ERR_INTERNAL; /* the DER was checked when the key was added */
    if (wc_RsaPublicKeyDecode(key->material, &idx, &rsa, (word32)key->material_len) == 0)
        err = rs256_check(&rsa, s);
    if (wc_FreeRsaKey(&rsa) != 0)
        return JWT_ERR_INTERNAL;
    return err;
}

static enum jwt_error es256_verify(const struct jwt_key *key, const struct jwt_signed *s)
{
    assert(key->alg == JWT_ALG_ES256 && key->material_len > 0);
    if (s->signature_len != JWT_ES256_SIGNATURE_BYTES)
        return JWT_ERR_BAD_SIGNATURE;
    const uint8_t *sig_r = s->signature, *sig_s = s->signature + 32;
    uint8_t der[JWT_ECDSA_DER_BYTES_MAX];
    word32 der_len = sizeof(der);
    if (wc_ecc_rs_raw_to_sig(sig_r, 32, sig_s, 32, der, &der_len) != 0)
        return JWT_ERR_BAD_SIGNATURE; /* R or S is zero */
    ecc_key ecc;
    if (wc_ecc_init(&ecc) != 0)
        return JWT_ERR_INTERNAL;
    word32 idx = 0;
    int verified = 0;
    enum jwt_error err = JWT_ERR_INTERNAL; /* the DER was checked when the key was added */
    if (wc_EccPublicKeyDecode(key->material, &idx, &ecc, (word32)key->material_len) == 0) {
        int ret = wc_ecc_verify_hash(der, der_len, s->digest, JWT_DIGEST_BYTES, &verified, &ecc);
        err = ret == MEMORY_E             ? JWT_ERR_INTERNAL
              : ret == 0 && verified == 1 ? JWT_OK
                                          : JWT_ERR_BAD_SIGNATURE;
    }
    if (wc_ecc_free(&ecc) != 0)
        return JWT_ERR_INTERNAL;
    return err;
}

enum jwt_error jwt_signed_digest(struct jwt_signed *s)
{
    assert(s->input != NULL || s->input_len == 0);
    if (wc_Sha256Hash((const byte *)s->input, (word32)s->input_len, s->digest) != 0)
        return JWT_ERR_INTERNAL;
    return JWT_OK;
}

enum jwt_error jwt_key_verify(const struct jwt_key *key, const struct jwt_signed *s)
{
    switch (key->alg) {
    case JWT_ALG_HS256:
        return hs256_verify(key, s);
    case JWT_ALG_RS256:
        return rs256_verify(key, s);
    case JWT_ALG_ES256:
        return es256_verify(key, s);
    case JWT_ALG_COUNT:
        break;
    }
    assert(!"a key bound to no algorithm");
    return JWT_ERR_INTERNAL;
}

void jwt_thread_exit(void)
{
    wc_ecc_fp_free(); /* frees this thread's FP_ECC cache; a no-op when it is empty */
}
