/* Does a private key belong to a certificate? Checked when a server is built, so a reload
 * with a mismatched pair fails with a sentence instead of failing every handshake.
 *
 * Why not wolfSSL_CTX_check_private_key: in Debian's wolfSSL 5.5.4 it accepts any P-256
 * key for a P-256 certificate (it imports the private scalar next to the certificate's
 * public point and checks only that the point is on the curve). So we derive the public key
 * from the private key and compare it with the certificate's: the point for ECC, the
 * modulus and exponent for RSA.
 */
#include "core/tls_internal.h"

#include <assert.h>
#include <string.h>

#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/rsa.h>

enum {
    KEY_DER_BYTES_MAX = 8192,     /* a 4096-bit RSA private key is about 2.4 KB */
    PUB_BYTES_MAX = 1100,         /* SubjectPublicKeyInfo of a 4096-bit RSA key is 550 bytes */
    POINT_BYTES_MAX = 1 + 2 * 66, /* uncompressed P-521 point */
};

/* 1 when the ECC private key in `der` has the public point of the certificate, 0 when not,
 * -1 when `der` is not an ECC private key. */
static int ecc_matches(const uint8_t *der, size_t der_len, const uint8_t *pub, size_t pub_len)
{
    ecc_key priv, cert;
    if (wc_ecc_init(&priv) != 0)
        return -1;
    if (wc_ecc_init(&cert) != 0) {
        wc_ecc_free(&priv);
        return -1;
    }
    word32 idx = 0, cert_idx = 0;
    uint8_t a[POINT_BYTES_MAX], b[POINT_BYTES_MAX];
    word32 a_len = sizeof a, b_len = sizeof b;
    int rc = -1;
    if (wc_EccPrivateKeyDecode(der, &idx, &priv, (word32)der_len) == 0) {
        rc = 0;
        /* The public point from the scalar, not the (optional, unchecked) copy in the file. */
        if (wc_ecc_make_pub(&priv, NULL) == 0 &&
            wc_EccPublicKeyDecode(pub, &cert_idx, &cert, (word32)pub_len) == 0 &&
            wc_ecc_export_x963(&priv, a, &a_len) == 0 && wc_ecc_export_x963(&cert, b, &b_len) == 0)
            rc = a_len == b_len && memcmp(a, b, a_len) == 0;
    }
    wc_ecc_free(&priv);
    wc_ecc_free(&cert);
    return rc;
}

/* The same for RSA: modulus and public exponent. */
static int rsa_matches(const uint8_t *der, size_t der_len, const uint8_t *pub, size_t pub_len)
{
    RsaKey priv, cert;
    if (wc_InitRsaKey(&priv, NULL) != 0)
        return -1;
    if (wc_InitRsaKey(&cert, NULL) != 0) {
        wc_FreeRsaKey(&priv);
        return -1;
    }
    word32 idx = 0, cert_idx = 0;
    uint8_t n1[512], e1[8], n2[512], e2[8];
    word32 n1_len = sizeof n1, e1_len = sizeof e1, n2_len = sizeof n2, e2_len = sizeof e2;
    int rc = -1;
    if (wc_RsaPrivateKeyDecode(der, &idx, &priv, (word32)der_len) == 0) {
        rc = 0;
        if (wc_RsaPublicKeyDecode(pub, &cert_idx, &cert, (word32)pub_len) == 0 &&
            wc_RsaFlattenPublicKey(&priv, e1, &e1_len, n1, &n1_len) == 0 &&
            wc_RsaFlattenPublicKey(&cert, e2, &e2_len, n2, &n2_len) == 0)
            rc = n1_len == n2_len && e1_len == e2_len && memcmp(n1, n2, n1_len) == 0 &&
                 memcmp(e1, e2, e1_len) == 0;
    }
    wc_FreeRsaKey(&priv);
    wc_FreeRsaKey(&cert);
    return rc;
}

int tls_key_matches_cert(const uint8_t *key_pem, size_t key_len, WOLFSSL_X509 *cert)
{
    assert(key_pem != NULL && cert != NULL);
    uint8_t pub[PUB_BYTES_MAX];
    int pub_len = (int)sizeof pub;
    if (wolfSSL_X509_get_pubkey_buffer(cert, pub, &pub_len) != WOLFSSL_SUCCESS || pub_len <= 0)
        return -1;
    uint8_t der[KEY_DER_BYTES_MAX];
    int der_len = wc_KeyPemToDer(key_pem, (int)key_len, der, (int)sizeof der, NULL);
    if (der_len <= 0)
        return -1;
    int rc = ecc_matches(der, (size_t)der_len, pub, (size_t)pub_len);
    if (rc < 0)
        rc = rsa_matches(der, (size_t)der_len, pub, (size_t)pub_len);
    explicit_bzero(der, sizeof der);
    return rc;
}
