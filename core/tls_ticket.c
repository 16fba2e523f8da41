/* Session ticket keys and the wolfSSL callback that seals and opens tickets: see
 * tls_ticket.h for why tickets and how keys rotate.
 *
 * Layout wolfSSL gives the callback: a 16-byte key name, a 16-byte IV and a 32-byte MAC
 * field travel in clear next to the encrypted ticket. We put the key's random name in the
 * first, a random nonce in the first 12 bytes of the second (the other 4 are random too and
 * authenticated, unused), and the 16-byte Poly1305 tag in the first half of the third (the
 * second half is zero and checked). The name and IV are the additional authenticated data.
 */
#include "core/tls_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
#include <wolfssl/wolfcrypt/random.h>

enum {
    TICKET_KEY_BYTES = CHACHA20_POLY1305_AEAD_KEYSIZE,      /* 32 */
    TICKET_NONCE_BYTES = CHACHA20_POLY1305_AEAD_IV_SIZE,    /* 12 */
    TICKET_TAG_BYTES = CHACHA20_POLY1305_AEAD_AUTHTAG_SIZE, /* 16 */
    TICKET_AAD_BYTES = WOLFSSL_TICKET_NAME_SZ + WOLFSSL_TICKET_IV_SZ,
    /* wolfSSL's own ticket is about 200 bytes; anything far bigger is not one of ours. */
    TICKET_BYTES_MAX = 2048,
};

struct ticket_key {
    uint8_t name[WOLFSSL_TICKET_NAME_SZ];
    uint8_t key[TICKET_KEY_BYTES];
    uint64_t created_s; /* monotonic seconds */
    bool valid;
};

struct tls_ticket_keys {
    pthread_mutex_t lock;
    WC_RNG rng;
    uint32_t lifetime_s;
    struct ticket_key current, previous;
};

static uint64_t now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec;
}

/* Makes a new current key and keeps the old one as previous. Lock held. */
static int keys_rotate_locked(struct tls_ticket_keys *k, uint64_t now)
{
    struct ticket_key fresh = {.created_s = now, .valid = true};
    if (wc_RNG_GenerateBlock(&k->rng, fresh.name, sizeof fresh.name) != 0 ||
        wc_RNG_GenerateBlock(&k->rng, fresh.key, sizeof fresh.key) != 0) {
        explicit_bzero(&fresh, sizeof fresh);
        return -1;
    }
    k->previous = k->current;
    k->current = fresh;
    explicit_bzero(&fresh, sizeof fresh);
    return 0;
}

/* Rotates when the current key has served a lifetime; drops a previous key that has
 * served two (its tickets have all expired). Lock held. A failed rotation keeps the old
 * key in use rather than refusing every handshake. */
static void keys_age_locked(struct tls_ticket_keys *k, uint64_t now)
{
    if (now - k->current.created_s >= k->lifetime_s)
        (void)keys_rotate_locked(k, now);
    if (k->previous.valid && now - k->previous.created_s >= 2 * (uint64_t)k->lifetime_s) {
        explicit_bzero(&k->previous, sizeof k->previous);
    }
}

struct tls_ticket_keys *tls_ticket_keys_new(uint32_t lifetime_s)
{
    if (lifetime_s < TLS_TICKET_LIFETIME_S_MIN || lifetime_s > TLS_TICKET_LIFETIME_S_MAX)
        return NULL;
    struct tls_ticket_keys *k = calloc(1, sizeof *k);
    if (k == NULL)
        return NULL;
    if (wc_InitRng(&k->rng) != 0) {
        free(k);
        return NULL;
    }
    k->lifetime_s = lifetime_s;
    if (keys_rotate_locked(k, now_s()) != 0 || pthread_mutex_init(&k->lock, NULL) != 0) {
        wc_FreeRng(&k->rng);
        explicit_bzero(k, sizeof *k);
        free(k);
        return NULL;
    }
    return k;
}

void tls_ticket_keys_free(struct tls_ticket_keys *k)
{
    if (k == NULL)
        return;
    pthread_mutex_destroy(&k->lock);
    wc_FreeRng(&k->rng);
    explicit_bzero(k, sizeof *k);
    free(k);
}

uint32_t tls_ticket_keys_lifetime_s(const struct tls_ticket_keys *k)
{
    return k->lifetime_s;
}

int tls_ticket_keys_rotate(struct tls_ticket_keys *k)
{
    pthread_mutex_lock(&k->lock);
    int rc = keys_rotate_locked(k, now_s());
    pthread_mutex_unlock(&k->lock);
    return rc;
}

/* Seals `len` bytes of `ticket` in place under the current key. */
static int ticket_seal(struct tls_ticket_keys *k, uint8_t *name, uint8_t *iv, uint8_t *mac,
                       uint8_t *ticket, int len, int *out_len)
{
    uint8_t key[TICKET_KEY_BYTES];
    pthread_mutex_lock(&k->lock);
    keys_age_locked(k, now_s());
    memcpy(name, k->current.name, WOLFSSL_TICKET_NAME_SZ);
    memcpy(key, k->current.key, sizeof key);
    int rc = wc_RNG_GenerateBlock(&k->rng, iv, WOLFSSL_TICKET_IV_SZ);
    pthread_mutex_unlock(&k->lock);

    uint8_t aad[TICKET_AAD_BYTES];
    memcpy(aad, name, WOLFSSL_TICKET_NAME_SZ);
    memcpy(aad + WOLFSSL_TICKET_NAME_SZ, iv, WOLFSSL_TICKET_IV_SZ);
    memset(mac, 0, WOLFSSL_TICKET_MAC_SZ);
    if (rc == 0)
        rc =
            wc_ChaCha20Poly1305_Encrypt(key, iv, aad, sizeof aad, ticket, (word32)len, ticket, mac);
    explicit_bzero(key, sizeof key);
    if (rc != 0)
        return WOLFSSL_TICKET_RET_FATAL;
    *out_len = len;
    return WOLFSSL_TICKET_RET_OK;
}

/* Opens a ticket in place. REJECT (a full handshake, not an error) for an unknown key
 * name or a ticket that does not authenticate; CREATE when the previous key opened it. */
static int ticket_open(struct tls_ticket_keys *k, const uint8_t *name, const uint8_t *iv,
                       const uint8_t *mac, uint8_t *ticket, int len, int *out_len)
{
    if (len <= 0 || len > TICKET_BYTES_MAX)
        return WOLFSSL_TICKET_RET_REJECT;
    for (size_t i = TICKET_TAG_BYTES; i < WOLFSSL_TICKET_MAC_SZ; i++) {
        if (mac[i] != 0)
            return WOLFSSL_TICKET_RET_REJECT;
    }
    uint8_t key[TICKET_KEY_BYTES];
    int found = 0; /* 1 current, 2 previous */
    pthread_mutex_lock(&k->lock);
    keys_age_locked(k, now_s());
    if (memcmp(name, k->current.name, WOLFSSL_TICKET_NAME_SZ) == 0) {
        memcpy(key, k->current.key, sizeof key);
        found = 1;
    } else if (k->previous.valid && memcmp(name, k->previous.name, WOLFSSL_TICKET_NAME_SZ) == 0) {
        memcpy(key, k->previous.key, sizeof key);
        found = 2;
    }
    pthread_mutex_unlock(&k->lock);
    if (found == 0)
        return WOLFSSL_TICKET_RET_REJECT;

    uint8_t aad[TICKET_AAD_BYTES];
    memcpy(aad, name, WOLFSSL_TICKET_NAME_SZ);
    memcpy(aad + WOLFSSL_TICKET_NAME_SZ, iv, WOLFSSL_TICKET_IV_SZ);
    /* Into a separate buffer: the one-shot decrypt is not documented to work in place. */
    uint8_t plain[TICKET_BYTES_MAX];
    int rc = wc_ChaCha20Poly1305_Decrypt(key, iv, aad, sizeof aad, ticket, (word32)len, mac, plain);
    explicit_bzero(key, sizeof key);
    if (rc != 0) {
        explicit_bzero(plain, (size_t)len);
        return WOLFSSL_TICKET_RET_REJECT;
    }
    memcpy(ticket, plain, (size_t)len);
    explicit_bzero(plain, (size_t)len);
    *out_len = len;
    return found == 1 ? WOLFSSL_TICKET_RET_OK : WOLFSSL_TICKET_RET_CREATE;
}

static int ticket_callback(WOLFSSL *ssl, unsigned char key_name[WOLFSSL_TICKET_NAME_SZ],
                           unsigned char iv[WOLFSSL_TICKET_IV_SZ],
                           unsigned char mac[WOLFSSL_TICKET_MAC_SZ], int enc, unsigned char *ticket,
                           int in_len, int *out_len, void *arg)
{
    (void)ssl;
    struct tls_ticket_keys *k = arg;
    assert(k != NULL && out_len != NULL);
    if (enc)
        return ticket_seal(k, key_name, iv, mac, ticket, in_len, out_len);
    return ticket_open(k, key_name, iv, mac, ticket, in_len, out_len);
}

int tls_ticket_keys_attach(struct tls_ticket_keys *k, WOLFSSL_CTX *ctx)
{
    assert(k != NULL && ctx != NULL);
    if (wolfSSL_CTX_set_TicketEncCb(ctx, ticket_callback) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_set_TicketEncCtx(ctx, k) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_set_TicketHint(ctx, (int)k->lifetime_s) != WOLFSSL_SUCCESS)
        return -1;
    /* The session timeout is also the oldest ticket wolfSSL accepts. With
     * WOLFSSL_ERROR_CODE_OPENSSL (Debian's build) it returns the previous timeout, else
     * WOLFSSL_SUCCESS; only a negative value is an error. */
    if (wolfSSL_CTX_set_timeout(ctx, k->lifetime_s) < 0)
        return -1;
    return 0;
}
