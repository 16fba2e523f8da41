/* Building a TLS server from certificate files, and swapping servers on reload.
 *
 * Each certificate gets its own wolfSSL context with the same settings; sessions start on
 * the first and the SNI callback (tls_sni.c) moves them to another. A context holds the
 * certificate chain and key once: sessions point at them, they never copy them.
 *
 * The one thing to know before changing it: a server is immutable once built. Reload never
 * edits one; it builds another and swaps the pointer in tls_current, and the old one is
 * freed by whichever session drops its last reference.
 */
#include "core/tls_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* TLS 1.3 suites, then TLS 1.2 ECDHE with AEAD only: forward secrecy, no CBC, no RSA key
 * exchange, no SHA-1 MACs. ECDSA and RSA certificates both work. */
static const char TLS_CIPHER_LIST[] = "TLS13-AES128-GCM-SHA256:"
                                      "TLS13-CHACHA20-POLY1305-SHA256:"
                                      "TLS13-AES256-GCM-SHA384:"
                                      "ECDHE-ECDSA-AES128-GCM-SHA256:"
                                      "ECDHE-ECDSA-CHACHA20-POLY1305:"
                                      "ECDHE-ECDSA-AES256-GCM-SHA384:"
                                      "ECDHE-RSA-AES128-GCM-SHA256:"
                                      "ECDHE-RSA-CHACHA20-POLY1305:"
                                      "ECDHE-RSA-AES256-GCM-SHA384";

/* Reads a whole file of at most TLS_PEM_BYTES_MAX bytes into a NUL-terminated buffer. */
static uint8_t *pem_read(const char *option, const char *path, size_t *len, char *err,
                         size_t err_bytes)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, err_bytes, "%s %s: cannot read: %s", option, path, strerror(errno));
        return NULL;
    }
    uint8_t *buf = malloc(TLS_PEM_BYTES_MAX + 1);
    size_t n = buf == NULL ? 0 : fread(buf, 1, TLS_PEM_BYTES_MAX + 1, f);
    bool failed = buf == NULL || ferror(f);
    fclose(f);
    if (failed) {
        snprintf(err, err_bytes, "%s %s: cannot read: %s", option, path,
                 buf == NULL ? "out of memory" : strerror(errno));
        free(buf);
        return NULL;
    }
    if (n > TLS_PEM_BYTES_MAX || n == 0) {
        snprintf(err, err_bytes, "%s %s: %s", option, path,
                 n == 0 ? "the file is empty" : "bigger than 256 KiB, not a PEM file");
        explicit_bzero(buf, n);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void wolf_reason(int code, char *out, size_t out_bytes)
{
    char text[WOLFSSL_MAX_ERROR_SZ];
    wolfSSL_ERR_error_string_n((unsigned long)code, text, sizeof text);
    snprintf(out, out_bytes, "%s (wolfSSL %d)", text, code);
}

/* The settings every context shares. */
static int ctx_configure(WOLFSSL_CTX *ctx, const struct tls_options *o,
                         struct tls_ticket_keys *keys, struct tls_server *server)
{
    int groups[] = {WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1, WOLFSSL_ECC_SECP384R1};
    int min = o->min_version == 13 ? WOLFSSL_TLSV1_3 : WOLFSSL_TLSV1_2;
    if (wolfSSL_CTX_SetMinVersion(ctx, min) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_set_cipher_list(ctx, TLS_CIPHER_LIST) != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_set_groups(ctx, groups, 3) != WOLFSSL_SUCCESS)
        return -1;
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
    /* wolfSSL's session cache is a small process-wide table behind a lock; tickets replace
     * it (tls_ticket.h). */
    wolfSSL_CTX_set_session_cache_mode(ctx, WOLFSSL_SESS_CACHE_OFF);
    if (o->tickets) {
        if (keys == NULL || tls_ticket_keys_attach(keys, ctx) != 0)
            return -1;
    } else if (wolfSSL_CTX_NoTicketTLSv12(ctx) != WOLFSSL_SUCCESS ||
               wolfSSL_CTX_no_ticket_TLSv13(ctx) != 0 /* a TLS 1.3 call: 0 is success */) {
        return -1;
    }
    wolfSSL_CTX_set_servername_callback(ctx, tls_sni_switch);
    if (wolfSSL_CTX_set_servername_arg(ctx, server) != WOLFSSL_SUCCESS)
        return -1;
    return 0;
}

/* Loads the chain and key of `files` into the certificate's context, reads the names the
 * certificate serves and checks that the key belongs to it. */
static int ctx_load(struct tls_cert *c, const struct tls_cert_files *files, char *err,
                    size_t err_bytes)
{
    size_t cert_len = 0, key_len = 0;
    uint8_t *cert = pem_read("tls_cert", files->cert_path, &cert_len, err, err_bytes);
    if (cert == NULL)
        return -1;
    uint8_t *key = pem_read("tls_key", files->key_path, &key_len, err, err_bytes);
    if (key == NULL) {
        free(cert);
        return -1;
    }
    char why[160];
    WOLFSSL_X509 *x = NULL;
    int rc = wolfSSL_CTX_use_certificate_chain_buffer(c->ctx, cert, (long)cert_len);
    if (rc != WOLFSSL_SUCCESS) {
        wolf_reason(rc, why, sizeof why);
        snprintf(err, err_bytes, "tls_cert %s: not a PEM certificate chain: %s", files->cert_path,
                 why);
    } else if ((x = wolfSSL_X509_load_certificate_buffer(cert, (int)cert_len,
                                                         WOLFSSL_FILETYPE_PEM)) == NULL) {
        snprintf(err, err_bytes, "tls_cert %s: its first certificate cannot be read",
                 files->cert_path);
        rc = -1;
    } else if ((rc = wolfSSL_CTX_use_PrivateKey_buffer(c->ctx, key, (long)key_len,
                                                       WOLFSSL_FILETYPE_PEM)) != WOLFSSL_SUCCESS) {
        wolf_reason(rc, why, sizeof why);
        snprintf(err, err_bytes, "tls_key %s: not an unencrypted PEM private key: %s",
                 files->key_path, why);
    } else if ((rc = tls_key_matches_cert(key, key_len, x)) != 1) {
        snprintf(err, err_bytes, "tls_key %s: %s %s", files->key_path,
                 rc == 0 ? "does not match the certificate in"
                         : "is neither an ECDSA nor an RSA key usable with",
                 files->cert_path);
        rc = -1;
    } else {
        rc = tls_sni_names_load(c, x, err, err_bytes) == 0 ? WOLFSSL_SUCCESS : -1;
    }
    wolfSSL_X509_free(x);
    explicit_bzero(key, key_len);
    free(key);
    free(cert);
    return rc == WOLFSSL_SUCCESS ? 0 : -1;
}

static void server_free(struct tls_server *s)
{
    for (size_t i = 0; i < s->cert_count; i++) {
        struct tls_cert *c = &s->certs[i];
        if (c->ctx != NULL)
            wolfSSL_CTX_free(c->ctx);
        for (size_t n = 0; n < c->name_count; n++)
            free(c->names[n]);
        free(c->names);
        free(c->path);
    }
    free(s);
}

static bool options_valid(const struct tls_options *o, char *err, size_t err_bytes)
{
    if (o->cert_count == 0 || o->certs == NULL) {
        snprintf(err, err_bytes, "tls: no certificate given (set tls_cert and tls_key)");
        return false;
    }
    if (o->cert_count > TLS_CERTS_MAX) {
        snprintf(err, err_bytes, "tls: %zu certificates given, at most %d are supported",
                 o->cert_count, TLS_CERTS_MAX);
        return false;
    }
    if (o->min_version != 12 && o->min_version != 13) {
        snprintf(err, err_bytes, "tls_min_version %u: must be 1.2 or 1.3", o->min_version);
        return false;
    }
    return true;
}

struct tls_server *tls_server_new(const struct tls_options *o, struct tls_ticket_keys *keys,
                                  char *err, size_t err_bytes)
{
    assert(o != NULL && err != NULL && err_bytes > 0);
    err[0] = '\0';
    if (!options_valid(o, err, err_bytes))
        return NULL;
    struct tls_server *s = calloc(1, sizeof *s + o->cert_count * sizeof s->certs[0]);
    if (s == NULL) {
        snprintf(err, err_bytes, "tls: out of memory");
        return NULL;
    }
    atomic_init(&s->refs, 1);
    for (size_t i = 0; i < o->cert_count; i++) {
        struct tls_cert *c = &s->certs[i];
        s->cert_count = i + 1;
        c->path = strdup(o->certs[i].cert_path);
        c->ctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
        if (c->path == NULL || c->ctx == NULL) {
            snprintf(err, err_bytes, "tls: out of memory");
            break;
        }
        if (ctx_configure(c->ctx, o, keys, s) != 0) {
            snprintf(err, err_bytes, "tls: wolfSSL refused the protocol settings");
            break;
        }
        if (ctx_load(c, &o->certs[i], err, err_bytes) != 0)
            break;
    }
    if (err[0] != '\0') {
        server_free(s);
        return NULL;
    }
    return s;
}

void tls_server_ref(struct tls_server *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void tls_server_unref(struct tls_server *s)
{
    if (s == NULL)
        return;
    unsigned before = atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel);
    assert(before > 0);
    if (before == 1)
        server_free(s);
}

size_t tls_server_cert_count(const struct tls_server *s)
{
    return s->cert_count;
}

size_t tls_server_cert_describe(const struct tls_server *s, size_t i, char *out, size_t out_bytes)
{
    assert(i < s->cert_count && out_bytes > 0);
    const struct tls_cert *c = &s->certs[i];
    size_t used = 0;
    int n = snprintf(out, out_bytes, "%s names=", c->path);
    used = n < 0 ? 0 : (size_t)n;
    for (size_t k = 0; k < c->name_count && used < out_bytes; k++) {
        n = snprintf(out + used, out_bytes - used, "%s%s", k ? "," : "", c->names[k]);
        used += n < 0 ? 0 : (size_t)n;
    }
    return used < out_bytes ? used : out_bytes - 1;
}

bool tls_current_init(struct tls_current *c, const struct tls_options *o,
                      uint32_t ticket_lifetime_s, char *err, size_t err_bytes)
{
    memset(c, 0, sizeof *c);
    if (o->tickets) {
        c->keys = tls_ticket_keys_new(ticket_lifetime_s);
        if (c->keys == NULL) {
            snprintf(err, err_bytes,
                     "tls_ticket_lifetime %u: must be %d..%d seconds (or out of memory)",
                     ticket_lifetime_s, TLS_TICKET_LIFETIME_S_MIN, TLS_TICKET_LIFETIME_S_MAX);
            return false;
        }
    }
    c->server = tls_server_new(o, c->keys, err, err_bytes);
    if (c->server == NULL || pthread_mutex_init(&c->lock, NULL) != 0) {
        tls_server_unref(c->server);
        tls_ticket_keys_free(c->keys);
        c->server = NULL;
        c->keys = NULL;
        return false;
    }
    c->generation = 1;
    return true;
}

struct tls_server *tls_current_acquire(struct tls_current *c)
{
    pthread_mutex_lock(&c->lock);
    struct tls_server *s = c->server;
    assert(s != NULL);
    tls_server_ref(s);
    pthread_mutex_unlock(&c->lock);
    return s;
}

bool tls_current_reload(struct tls_current *c, const struct tls_options *o, char *err,
                        size_t err_bytes)
{
    if (o->tickets && c->keys == NULL) {
        snprintf(err, err_bytes, "tls_tickets: can only be turned on by a restart");
        return false;
    }
    struct tls_server *fresh = tls_server_new(o, c->keys, err, err_bytes);
    if (fresh == NULL)
        return false;
    pthread_mutex_lock(&c->lock);
    struct tls_server *old = c->server;
    c->server = fresh;
    c->generation++;
    pthread_mutex_unlock(&c->lock);
    tls_server_unref(old);
    return true;
}

void tls_current_destroy(struct tls_current *c)
{
    tls_server_unref(c->server);
    c->server = NULL;
    pthread_mutex_destroy(&c->lock);
    tls_ticket_keys_free(c->keys);
    c->keys = NULL;
}
