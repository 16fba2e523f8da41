/* Picking a certificate by the name the client asked for (SNI, RFC 6066 section 3).
 *
 * A certificate serves the DNS names in its subjectAltName (its CN only when it has none,
 * as browsers no longer look at CN but some test certificates still rely on it). The
 * servername callback runs inside wolfSSL's ClientHello processing, before the server's
 * reply is built; it switches the session to the chosen certificate's context with
 * wolfSSL_set_SSL_CTX, which in wolfSSL 5.5.4 changes only the certificate, key and session
 * id context and keeps the reference count right. A name no certificate serves keeps the
 * default certificate (no alert): the client's own name check then decides, as with every
 * mainstream server.
 */
#include "core/tls_internal.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/wolfcrypt/asn.h>

bool tls_sni_name_matches(const char *pattern, const char *host, size_t len)
{
    assert(pattern != NULL && host != NULL);
    if (len > 0 && host[len - 1] == '.')
        len--;
    if (pattern[0] == '*' && pattern[1] == '.') {
        /* "*.a.test" matches "x.a.test": one non-empty label, then the rest exactly. */
        const char *dot = memchr(host, '.', len);
        if (dot == NULL || dot == host)
            return false;
        size_t rest = len - (size_t)(dot - host);
        const char *suffix = pattern + 1;
        return strlen(suffix) == rest && strncasecmp(suffix, dot, rest) == 0;
    }
    return strlen(pattern) == len && strncasecmp(pattern, host, len) == 0;
}

size_t tls_sni_pick(const struct tls_server *s, const char *host, size_t len)
{
    assert(s != NULL && s->cert_count > 0);
    if (host == NULL || len == 0 || len > TLS_NAME_BYTES_MAX + 1)
        return 0;
    for (int wildcard = 0; wildcard < 2; wildcard++) {
        for (size_t i = 0; i < s->cert_count; i++) {
            const struct tls_cert *c = &s->certs[i];
            for (size_t n = 0; n < c->name_count; n++) {
                if ((c->names[n][0] == '*') == (wildcard == 1) &&
                    tls_sni_name_matches(c->names[n], host, len))
                    return i;
            }
        }
    }
    return 0;
}

int tls_sni_switch(WOLFSSL *ssl, int *alert, void *server)
{
    const struct tls_server *s = server;
    (void)alert;
    void *name = NULL;
    unsigned short len = wolfSSL_SNI_GetRequest(ssl, WOLFSSL_SNI_HOST_NAME, &name);
    size_t i = tls_sni_pick(s, name, len);
    WOLFSSL_CTX *ctx = s->certs[i].ctx;
    if (wolfSSL_get_SSL_CTX(ssl) != ctx && wolfSSL_set_SSL_CTX(ssl, ctx) == NULL) {
        *alert = internal_error;
        return fatal_return;
    }
    return 0;
}

/* A DNS name as certificates write them: labels of letters, digits and '-', optionally
 * "*." first. Other subjectAltName kinds (IP, e-mail, URI) are not SNI names. */
static bool dns_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > TLS_NAME_BYTES_MAX)
        return false;
    const char *p = name;
    if (p[0] == '*' && p[1] == '.')
        p += 2;
    if (*p == '\0' || *p == '.')
        return false;
    for (; *p != '\0'; p++) {
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
            return false;
        if (*p == '.' && (p[1] == '.' || p[1] == '\0'))
            return false;
    }
    return true;
}

static int names_add(struct tls_cert *c, const char *name)
{
    char **grown = realloc(c->names, (c->name_count + 1) * sizeof *grown);
    if (grown == NULL)
        return -1;
    c->names = grown;
    char *copy = strdup(name);
    if (copy == NULL)
        return -1;
    for (char *p = copy; *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
    c->names[c->name_count++] = copy;
    return 0;
}

static int names_from_san(struct tls_cert *c, WOLFSSL_X509 *x, char *err, size_t err_bytes)
{
    const char *name;
    while ((name = wolfSSL_X509_get_next_altname(x)) != NULL) {
        if (!dns_name_valid(name))
            continue;
        if (c->name_count == TLS_NAMES_PER_CERT_MAX) {
            snprintf(err, err_bytes,
                     "tls_cert %s: more than %d DNS names in subjectAltName (split it)", c->path,
                     TLS_NAMES_PER_CERT_MAX);
            return -1;
        }
        if (names_add(c, name) != 0) {
            snprintf(err, err_bytes, "tls_cert %s: out of memory", c->path);
            return -1;
        }
    }
    return 0;
}

int tls_sni_names_load(struct tls_cert *c, WOLFSSL_X509 *x, char *err, size_t err_bytes)
{
    assert(c != NULL && c->path != NULL && x != NULL);
    int rc = names_from_san(c, x, err, err_bytes);
    if (rc == 0 && c->name_count == 0) {
        char cn[TLS_NAME_BYTES_MAX + 1];
        WOLFSSL_X509_NAME *subject = wolfSSL_X509_get_subject_name(x);
        int len = subject == NULL ? -1
                                  : wolfSSL_X509_NAME_get_text_by_NID(subject, NID_commonName, cn,
                                                                      (int)sizeof cn);
        if (len > 0 && dns_name_valid(cn) && names_add(c, cn) != 0) {
            snprintf(err, err_bytes, "tls_cert %s: out of memory", c->path);
            rc = -1;
        }
    }
    return rc;
}
