/* Shared by core/tls_*.c only: the server's layout and the wolfSSL glue between the files.
 * Includes wolfSSL's headers (options.h first, as wolfSSL requires), which nothing outside
 * core/tls_*.c needs to see.
 */
#ifndef TIDEGATE_CORE_TLS_INTERNAL_H
#define TIDEGATE_CORE_TLS_INTERNAL_H

#include "core/tls.h"
#include "core/tls_ticket.h"

#include <stdatomic.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

/* One certificate/key pair and the wolfSSL context that serves it. */
struct tls_cert {
    WOLFSSL_CTX *ctx; /* owned: one reference; sessions switched to it hold their own */
    char *path;       /* the certificate file, for logs (owned) */
    char **names;     /* lowercase DNS names, "*.example.com" for wildcards (owned) */
    size_t name_count;
};

struct tls_server {
    atomic_uint refs;
    size_t cert_count;
    struct tls_cert certs[]; /* certs[0] is the default */
};

/* tls_ticket.c: makes `ctx` seal and open tickets with `k`. Returns 0 or -1. */
int tls_ticket_keys_attach(struct tls_ticket_keys *k, WOLFSSL_CTX *ctx);

/* tls_sni.c: reads the names certificate `x` serves into `c`. Returns 0, or -1 with a
 * sentence in err. */
int tls_sni_names_load(struct tls_cert *c, WOLFSSL_X509 *x, char *err, size_t err_bytes);

/* tls_keycheck.c: 1 when the private key in `key_pem` belongs to `cert`, 0 when it does
 * not, -1 when it is neither an ECC nor an RSA private key wolfCrypt can read. */
int tls_key_matches_cert(const uint8_t *key_pem, size_t key_len, WOLFSSL_X509 *cert);

/* tls_sni.c: the index of the certificate that serves `host` (`len` bytes, any case,
 * one trailing dot allowed): an exact name first, then a wildcard; 0 when none does. */
size_t tls_sni_pick(const struct tls_server *s, const char *host, size_t len);

/* tls_sni.c: does `pattern` (lowercase, "*.x.y" or "x.y") match `host`? A wildcard matches
 * exactly one non-empty leftmost label. Exposed for the unit tests. */
bool tls_sni_name_matches(const char *pattern, const char *host, size_t len);

/* tls_sni.c: the servername callback (CallbackSniRecv) installed on every context, with
 * the server as its argument: switches the session to the certificate picked by SNI. */
int tls_sni_switch(WOLFSSL *ssl, int *alert, void *server);

#endif
