/* An in-memory TLS client (wolfSSL) talking to a core/tls server session through byte
 * buffers, with no socket anywhere. Shared by tests/unit/test_tls*.c, tests/fuzz/fuzz_tls.c
 * and bench/tls_handshakes.c; everything here is static, and failures of the harness itself
 * abort with a message (it does not use cmocka, so the bench and the fuzzer can include it).
 *
 * Certificates: tls_pair_make_certs() runs tests/unit/tls_certs/make_certs.sh (found next to
 * this file through __FILE__, which CMake makes absolute) into a fresh temporary directory
 * and returns its path; tls_pair_remove_certs() deletes it. No key is ever committed.
 *
 * Memory: tls_pair_count_memory() routes wolfSSL's allocations through counters of live
 * bytes (malloc_usable_size, so blocks allocated before the switch are freed correctly).
 */
#ifndef TIDEGATE_TESTS_TLS_PAIR_H
#define TIDEGATE_TESTS_TLS_PAIR_H

#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/tls.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#define TLS_PAIR_DIE(...)                                                                          \
    do {                                                                                           \
        fprintf(stderr, "tls_pair: " __VA_ARGS__);                                                 \
        fputc('\n', stderr);                                                                       \
        abort();                                                                                   \
    } while (0)

enum {
    TLS_PAIR_PIPE_BYTES_MAX = 8 << 20, /* bytes in flight one way */
    TLS_PAIR_GOT_BYTES_MAX = 4 << 20,  /* plaintext the server collects */
    TLS_PAIR_TURNS_MAX = 200,          /* pump rounds before a handshake is declared stuck */
};

/* ---- certificates ---- */

static char tls_pair_dir[256];

static inline const char *tls_pair_make_certs(void)
{
    char script[1024];
    const char *here = __FILE__;
    const char *slash = strrchr(here, '/');
    if (slash == NULL)
        TLS_PAIR_DIE("__FILE__ (%s) is not a path; build with CMake", here);
    snprintf(script, sizeof script, "%.*s/tls_certs/make_certs.sh", (int)(slash - here), here);
    snprintf(tls_pair_dir, sizeof tls_pair_dir, "/tmp/tidegate-tls-XXXXXX");
    if (mkdtemp(tls_pair_dir) == NULL)
        TLS_PAIR_DIE("mkdtemp failed");
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "sh '%s' '%s'", script, tls_pair_dir);
    if (system(cmd) != 0)
        TLS_PAIR_DIE("%s failed (is the openssl CLI installed?)", cmd);
    return tls_pair_dir;
}

static inline void tls_pair_remove_certs(void)
{
    char cmd[400];
    if (tls_pair_dir[0] == '\0')
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tls_pair_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "tls_pair: could not remove %s\n", tls_pair_dir);
    tls_pair_dir[0] = '\0';
}

/* "<dir>/<name>" in a static ring of buffers: the last 32 paths returned stay valid. */
static inline const char *tls_pair_path(const char *name)
{
    static char paths[32][320];
    static unsigned next;
    char *p = paths[next++ % 32];
    snprintf(p, sizeof paths[0], "%s/%s", tls_pair_dir, name);
    return p;
}

/* ---- wolfSSL memory accounting ---- */

static atomic_llong tls_pair_live_bytes;
static atomic_llong tls_pair_alloc_calls;

static void *tls_pair_malloc(size_t size)
{
    void *p = malloc(size);
    if (p != NULL) {
        atomic_fetch_add(&tls_pair_live_bytes, (long long)malloc_usable_size(p));
        atomic_fetch_add(&tls_pair_alloc_calls, 1);
    }
    return p;
}

static void tls_pair_free(void *p)
{
    if (p != NULL)
        atomic_fetch_sub(&tls_pair_live_bytes, (long long)malloc_usable_size(p));
    free(p);
}

static void *tls_pair_realloc(void *p, size_t size)
{
    long long before = p != NULL ? (long long)malloc_usable_size(p) : 0;
    void *q = realloc(p, size);
    if (q != NULL) {
        atomic_fetch_add(&tls_pair_live_bytes, (long long)malloc_usable_size(q) - before);
        atomic_fetch_add(&tls_pair_alloc_calls, 1);
    }
    return q;
}

static inline void tls_pair_count_memory(void)
{
    if (wolfSSL_SetAllocators(tls_pair_malloc, tls_pair_free, tls_pair_realloc) != 0)
        TLS_PAIR_DIE("wolfSSL_SetAllocators failed");
}

static inline long long tls_pair_wolf_bytes(void)
{
    return atomic_load(&tls_pair_live_bytes);
}

/* ---- byte pipes ---- */

struct tls_pipe {
    uint8_t *data;
    size_t len, off, cap;
};

static inline void tls_pipe_put(struct tls_pipe *p, const void *bytes, size_t len)
{
    if (p->off > 0 && p->off == p->len)
        p->off = p->len = 0;
    if (p->len + len > TLS_PAIR_PIPE_BYTES_MAX)
        TLS_PAIR_DIE("pipe over %d bytes", TLS_PAIR_PIPE_BYTES_MAX);
    if (p->len + len > p->cap) {
        size_t cap = p->cap ? p->cap : 4096;
        while (cap < p->len + len)
            cap *= 2;
        p->data = realloc(p->data, cap);
        if (p->data == NULL)
            TLS_PAIR_DIE("out of memory");
        p->cap = cap;
    }
    memcpy(p->data + p->len, bytes, len);
    p->len += len;
}

static inline size_t tls_pipe_pending(const struct tls_pipe *p)
{
    return p->len - p->off;
}

static inline void tls_pipe_free(struct tls_pipe *p)
{
    free(p->data);
    memset(p, 0, sizeof *p);
}

/* ---- the client ---- */

static int tls_pair_client_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
    struct tls_pipe *p = arg;
    (void)ssl;
    size_t n = tls_pipe_pending(p);
    if (n == 0)
        return WOLFSSL_CBIO_ERR_WANT_READ;
    if (n > (size_t)sz)
        n = (size_t)sz;
    memcpy(buf, p->data + p->off, n);
    p->off += n;
    return (int)n;
}

static int tls_pair_client_send(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
    (void)ssl;
    tls_pipe_put(arg, buf, (size_t)sz);
    return sz;
}

/* A client context that trusts the test CA. `method` picks the versions it offers. */
static inline WOLFSSL_CTX *tls_pair_client_ctx(WOLFSSL_METHOD *method)
{
    WOLFSSL_CTX *ctx = wolfSSL_CTX_new(method);
    if (ctx == NULL)
        TLS_PAIR_DIE("wolfSSL_CTX_new failed");
    if (wolfSSL_CTX_load_verify_locations(ctx, tls_pair_path("ca.pem"), NULL) != WOLFSSL_SUCCESS)
        TLS_PAIR_DIE("cannot load %s", tls_pair_path("ca.pem"));
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, NULL);
    /* TLS 1.2 clients ask for tickets only when told to (1.3 always takes them). */
    if (wolfSSL_CTX_UseSessionTicket(ctx) != WOLFSSL_SUCCESS)
        TLS_PAIR_DIE("wolfSSL_CTX_UseSessionTicket failed");
    wolfSSL_CTX_SetIORecv(ctx, tls_pair_client_recv);
    wolfSSL_CTX_SetIOSend(ctx, tls_pair_client_send);
    return ctx;
}

/* Server side of the pair: collects plaintext, passes output to the client. */
struct tls_pair {
    WOLFSSL *client;
    struct tls_session server;
    struct tls_pipe c2s, s2c;
    uint8_t *got; /* plaintext the server decrypted */
    size_t got_len;
    size_t feed_piece; /* feed the server this many bytes at a time (0: all at once) */
    size_t plain_cap;  /* the server's plaintext buffer size per feed (0: 16 KiB) */
    int server_result; /* the last negative feed result, 0 if none */
    int client_error;  /* wolfSSL_get_error of the client's last failure */
    /* wolfSSL heap bytes the server session holds: the sum of the live-byte changes
     * across every server call made through this harness (only with
     * tls_pair_count_memory; the client's allocations happen outside those calls). */
    long long server_heap_bytes;
};

/* Starts a client with SNI `sni` and ALPN list `alpn` ("h2,http/1.1"; NULL for none),
 * checking the server's certificate against `sni` when given, and a server session. */
static inline void tls_pair_start(struct tls_pair *p, WOLFSSL_CTX *client_ctx,
                                  struct tls_server *server, const char *sni, const char *alpn)
{
    memset(p, 0, sizeof *p);
    p->got = malloc(TLS_PAIR_GOT_BYTES_MAX);
    p->client = wolfSSL_new(client_ctx);
    if (p->got == NULL || p->client == NULL)
        TLS_PAIR_DIE("out of memory");
    wolfSSL_SetIOReadCtx(p->client, &p->s2c);
    wolfSSL_SetIOWriteCtx(p->client, &p->c2s);
    if (sni != NULL && (wolfSSL_UseSNI(p->client, WOLFSSL_SNI_HOST_NAME, sni,
                                       (unsigned short)strlen(sni)) != WOLFSSL_SUCCESS ||
                        wolfSSL_check_domain_name(p->client, sni) != WOLFSSL_SUCCESS))
        TLS_PAIR_DIE("client SNI %s refused", sni);
    if (alpn != NULL) {
        char list[64];
        snprintf(list, sizeof list, "%s", alpn);
        if (wolfSSL_UseALPN(p->client, list, (unsigned)strlen(list),
                            WOLFSSL_ALPN_CONTINUE_ON_MISMATCH) != WOLFSSL_SUCCESS)
            TLS_PAIR_DIE("client ALPN %s refused", alpn);
    }
    long long before = tls_pair_wolf_bytes();
    tls_session_start(&p->server, server);
    p->server_heap_bytes += tls_pair_wolf_bytes() - before;
}

static inline void tls_pair_end(struct tls_pair *p)
{
    tls_session_end(&p->server);
    wolfSSL_free(p->client);
    tls_pipe_free(&p->c2s);
    tls_pipe_free(&p->s2c);
    free(p->got);
    memset(p, 0, sizeof *p);
}

/* Moves the server's output to the client's pipe. */
static inline void tls_pair_take_output(struct tls_pair *p)
{
    struct out_chunk *c = tls_session_output_take(&p->server);
    if (c != NULL) {
        if (c->refs != 1 || c->len == 0)
            TLS_PAIR_DIE("output chunk with refs %u len %u", c->refs, c->len);
        tls_pipe_put(&p->s2c, c->data, c->len);
        out_chunk_unref(c);
    }
}

/* Feeds everything the client sent to the server (in feed_piece pieces), collecting the
 * plaintext, then passes the server's output on. Returns the first negative result (and
 * keeps it in server_result), or 0. */
static inline int tls_pair_serve(struct tls_pair *p)
{
    uint8_t plain[TLS_RECORD_PLAIN_MAX];
    size_t cap = p->plain_cap ? p->plain_cap : sizeof plain;
    int result = 0;
    long long before = tls_pair_wolf_bytes();
    while (tls_pipe_pending(&p->c2s) > 0 && result == 0) {
        size_t n = tls_pipe_pending(&p->c2s);
        if (p->feed_piece > 0 && n > p->feed_piece)
            n = p->feed_piece;
        const uint8_t *in = p->c2s.data + p->c2s.off;
        size_t off = 0;
        for (;;) {
            size_t used = 0;
            ssize_t r = tls_session_feed(&p->server, in + off, n - off, &used, plain, cap);
            off += used;
            if (r < 0) {
                result = (int)r;
                break;
            }
            if (r == 0) {
                if (off != n)
                    TLS_PAIR_DIE("feed returned 0 with %zu of %zu bytes left", n - off, n);
                break;
            }
            if (p->got_len + (size_t)r > TLS_PAIR_GOT_BYTES_MAX)
                TLS_PAIR_DIE("server got more than %d bytes", TLS_PAIR_GOT_BYTES_MAX);
            memcpy(p->got + p->got_len, plain, (size_t)r);
            p->got_len += (size_t)r;
        }
        p->c2s.off += n; /* bytes after an error are dropped, as a connection would */
    }
    tls_pair_take_output(p);
    p->server_heap_bytes += tls_pair_wolf_bytes() - before;
    if (result < 0 && p->server_result == 0)
        p->server_result = result;
    return result;
}

/* Runs the handshake to its end. Returns 0 when both sides finished, the server's
 * negative result when it failed, or 1 when the client failed (client_error says why). */
static inline int tls_pair_handshake(struct tls_pair *p)
{
    for (int turn = 0; turn < TLS_PAIR_TURNS_MAX; turn++) {
        int rc = wolfSSL_connect(p->client);
        if (rc != WOLFSSL_SUCCESS) {
            int e = wolfSSL_get_error(p->client, rc);
            if (e != WOLFSSL_ERROR_WANT_READ) {
                p->client_error = e;
                tls_pair_serve(p); /* let the server see the client's alert */
                return p->server_result < 0 ? p->server_result : 1;
            }
        }
        int served = tls_pair_serve(p);
        if (served < 0)
            return served;
        if (rc == WOLFSSL_SUCCESS && tls_session_established(&p->server) &&
            tls_pipe_pending(&p->c2s) == 0)
            return 0;
    }
    TLS_PAIR_DIE("handshake stuck after %d turns", TLS_PAIR_TURNS_MAX);
}

/* Server -> client: encrypts `len` bytes and passes them on. Returns tls_session_write's
 * result. */
static inline int tls_pair_server_send(struct tls_pair *p, const void *data, size_t len)
{
    long long before = tls_pair_wolf_bytes();
    int rc = tls_session_write(&p->server, data, len);
    tls_pair_take_output(p);
    p->server_heap_bytes += tls_pair_wolf_bytes() - before;
    return rc;
}

/* Client -> server: writes `len` bytes and serves them. Returns the serve result. */
static inline int tls_pair_client_send_text(struct tls_pair *p, const void *data, size_t len)
{
    if (wolfSSL_write(p->client, data, (int)len) != (int)len)
        TLS_PAIR_DIE("client write failed");
    return tls_pair_serve(p);
}

/* Lets the client read what the server sent: returns the plaintext length (0 when none),
 * or -1 with client_error set. Also processes tickets and alerts. */
static inline int tls_pair_client_read(struct tls_pair *p, void *buf, size_t cap)
{
    int n = wolfSSL_read(p->client, buf, (int)cap);
    if (n > 0)
        return n;
    int e = wolfSSL_get_error(p->client, n);
    if (e == WOLFSSL_ERROR_WANT_READ)
        return 0;
    p->client_error = e;
    return -1;
}

#endif
