/* One TLS connection over memory: wolfSSL's I/O callbacks read the ciphertext the caller
 * lends to tls_session_feed and append what wolfSSL writes to an out_chunk the caller
 * takes for its outq. See tls.h for the contract.
 *
 * The one thing to know before changing it: the receive callback returns WANT_READ only
 * when the lent input is used up, and the send callback never refuses (except for lack of
 * memory or TLS_OUTPUT_BYTES_MAX), so a call that returns WANT_READ has taken every byte it
 * was given and no call ever waits for the network.
 */
#include "core/tls_internal.h"

#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

/* One wolfSSL_write call: a whole number of records, so output can be reserved exactly. */
enum { WRITE_PIECE_BYTES_MAX = 16 * TLS_RECORD_PLAIN_MAX };

/* Gathers small iovecs into full records for tls_session_writev; per thread, since a
 * session belongs to one thread and the buffer is only used within one call. */
static _Thread_local uint8_t writev_scratch[TLS_RECORD_PLAIN_MAX];

static char alpn_http11[] = "http/1.1";

/* ---- output ---- */

/* Makes room for `extra` more output bytes. The first reservation after a take is exact
 * (a whole write's records, computed in advance); growth beyond it doubles, so several
 * writes between takes cost amortised linear copying. */
static bool out_reserve(struct tls_session *s, size_t extra)
{
    size_t need = (size_t)s->out_len + extra;
    if (need > TLS_OUTPUT_BYTES_MAX) {
        s->out_full = true;
        return false;
    }
    size_t cap = s->out != NULL ? s->out->len : 0;
    if (need <= cap)
        return true;
    size_t grown = s->out_len == 0 ? need : (2 * cap > need ? 2 * cap : need);
    if (grown > TLS_OUTPUT_BYTES_MAX)
        grown = TLS_OUTPUT_BYTES_MAX;
    struct out_chunk *c = out_chunk_new(grown);
    if (c == NULL)
        return false;
    if (s->out_len > 0)
        memcpy(c->data, s->out->data, s->out_len);
    if (s->out != NULL)
        out_chunk_unref(s->out);
    s->out = c;
    return true;
}

static int io_send(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
    struct tls_session *s = arg;
    (void)ssl;
    assert(s != NULL && sz >= 0);
    if (!out_reserve(s, (size_t)sz)) {
        s->out_failed = true;
        return WOLFSSL_CBIO_ERR_GENERAL;
    }
    memcpy(s->out->data + s->out_len, buf, (size_t)sz);
    s->out_len += (uint32_t)sz;
    return sz;
}

static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
    struct tls_session *s = arg;
    (void)ssl;
    assert(s != NULL && sz >= 0);
    if (s->in_len == 0)
        return WOLFSSL_CBIO_ERR_WANT_READ;
    size_t n = (size_t)sz < s->in_len ? (size_t)sz : s->in_len;
    memcpy(buf, s->in, n);
    s->in += n;
    s->in_len -= n;
    return (int)n;
}

struct out_chunk *tls_session_output_take(struct tls_session *s)
{
    if (s->out_len == 0)
        return NULL;
    struct out_chunk *c = s->out;
    assert(c != NULL && c->refs == 1 && s->out_len <= c->len);
    c->len = s->out_len;
    s->out = NULL;
    s->out_len = 0;
    return c;
}

/* ---- errors ---- */

static int error_from_wolf(int wolf)
{
    switch (wolf) {
    case VERSION_ERROR:
    case UNSUPPORTED_PROTO_VERSION:
        return TLS_ERR_VERSION;
    case MATCH_SUITE_ERROR:
    case UNSUPPORTED_SUITE:
    case KEY_SHARE_ERROR:
    case ECC_CURVE_ERROR:
    case EXT_MISSING:
        return TLS_ERR_NEGOTIATION;
    case UNKNOWN_ALPN_PROTOCOL_NAME_E:
        return TLS_ERR_ALPN;
    case VERIFY_MAC_ERROR:
    case DECRYPT_ERROR:
    case AES_GCM_AUTH_E:
    case MAC_CMP_FAILED_E:
        return TLS_ERR_RECORD;
    case FATAL_ERROR:
        return TLS_ERR_PEER_ALERT;
    case MEMORY_ERROR:
    case MEMORY_E:
        return TLS_ERR_NOMEM;
    case BAD_FUNC_ARG:
    case NO_PRIVATE_KEY:
    case BUILD_MSG_ERROR:
    case ENCRYPT_ERROR:
    case RNG_FAILURE_E:
    case WOLFSSL_ERROR_WANT_WRITE:
        return TLS_ERR_INTERNAL;
    default:
        return TLS_ERR_PROTOCOL;
    }
}

/* Fails the session for good with `error` (wolfSSL's code `wolf` behind it, for logs). */
static int session_fail(struct tls_session *s, int error, int wolf)
{
    assert(error < 0 && error >= TLS_ERROR_MIN && error != TLS_PEER_CLOSED);
    s->wolf_error = wolf;
    s->error = (int8_t)error;
    s->state = TLS_STATE_FAILED;
    return error;
}

/* Turns a failed wolfSSL call into our result: 0 for "needs input", TLS_PEER_CLOSED, or
 * an error that fails the session for good. */
static int session_result(struct tls_session *s, int ret)
{
    int wolf = wolfSSL_get_error(s->ssl, ret);
    if (wolf == WOLFSSL_ERROR_WANT_READ)
        return 0;
    if (wolf == WOLFSSL_ERROR_ZERO_RETURN) {
        /* close_notify before the handshake finished: the peer gave up; the session never
         * opened, so it fails (reading it as "peer closed" would make it look established) */
        if (s->state == TLS_STATE_HANDSHAKE)
            return session_fail(s, TLS_ERR_PEER_ALERT, wolf);
        s->state = TLS_STATE_PEER_CLOSED;
        return TLS_PEER_CLOSED;
    }
    int error = error_from_wolf(wolf);
    if (s->out_failed)
        error = s->out_full ? TLS_ERR_OUTPUT_FULL : TLS_ERR_NOMEM;
    return session_fail(s, error, wolf);
}

/* ---- life ---- */

void tls_session_start(struct tls_session *s, struct tls_server *server)
{
    assert(s != NULL && server != NULL && server->cert_count > 0);
    memset(s, 0, sizeof *s);
    tls_server_ref(server);
    s->server = server;
    s->state = TLS_STATE_HANDSHAKE;
}

/* Creates the wolfSSL side when the first bytes arrive: about 58 KB with Debian's
 * wolfSSL (docs/tls.md), which a connection that never sends a ClientHello does not hold. */
static int session_create(struct tls_session *s)
{
    WOLFSSL *ssl = wolfSSL_new(s->server->certs[0].ctx);
    if (ssl == NULL)
        return TLS_ERR_NOMEM;
    wolfSSL_SSLSetIORecv(ssl, io_recv);
    wolfSSL_SSLSetIOSend(ssl, io_send);
    wolfSSL_SetIOReadCtx(ssl, s);
    wolfSSL_SetIOWriteCtx(ssl, s);
    /* Refuse clients whose ALPN list lacks http/1.1 (RFC 7301 section 3.2); clients that
     * send no ALPN at all are served. */
    if (wolfSSL_UseALPN(ssl, alpn_http11, sizeof alpn_http11 - 1,
                        WOLFSSL_ALPN_FAILED_ON_MISMATCH) != WOLFSSL_SUCCESS) {
        wolfSSL_free(ssl);
        return TLS_ERR_NOMEM;
    }
    s->ssl = ssl;
    return 0;
}

void tls_session_end(struct tls_session *s)
{
    if (s->ssl != NULL)
        wolfSSL_free(s->ssl);
    if (s->out != NULL)
        out_chunk_unref(s->out);
    tls_server_unref(s->server);
    memset(s, 0, sizeof *s);
}

/* ---- input ---- */

static ssize_t feed_step(struct tls_session *s, uint8_t *plain, size_t plain_cap)
{
    if (s->ssl == NULL) {
        int rc = session_create(s);
        if (rc != 0)
            return session_fail(s, rc, 0);
    }
    if (s->state == TLS_STATE_HANDSHAKE) {
        int rc = wolfSSL_accept(s->ssl);
        if (rc != WOLFSSL_SUCCESS)
            return session_result(s, rc);
        s->state = TLS_STATE_OPEN;
    }
    int n = wolfSSL_read(s->ssl, plain, plain_cap > INT_MAX ? INT_MAX : (int)plain_cap);
    if (n > 0)
        return n;
    return session_result(s, n);
}

ssize_t tls_session_feed(struct tls_session *s, const uint8_t *in, size_t in_len, size_t *in_used,
                         uint8_t *plain, size_t plain_cap)
{
    assert(s->server != NULL && in_used != NULL && plain != NULL && plain_cap > 0);
    assert(in != NULL || in_len == 0);
    *in_used = 0;
    if (s->state == TLS_STATE_FAILED)
        return s->error;
    if (s->state == TLS_STATE_PEER_CLOSED)
        return TLS_PEER_CLOSED;
    if (s->ssl == NULL && in_len == 0)
        return 0;
    s->in = in;
    s->in_len = in_len;
    ssize_t r = feed_step(s, plain, plain_cap);
    assert(r != 0 || s->in_len == 0);
    *in_used = in_len - s->in_len;
    s->in = NULL;
    s->in_len = 0;
    return r;
}

/* ---- output of plaintext ---- */

static int write_allowed(const struct tls_session *s)
{
    if (s->state == TLS_STATE_FAILED)
        return s->error;
    if (s->state == TLS_STATE_HANDSHAKE || (wolfSSL_get_shutdown(s->ssl) & WOLFSSL_SENT_SHUTDOWN))
        return TLS_ERR_STATE;
    return 0;
}

/* Reserves the exact ciphertext size of writing `len` bytes (records of 16 KiB). */
static bool reserve_for_plain(struct tls_session *s, size_t len)
{
    int full = wolfSSL_GetOutputSize(s->ssl, TLS_RECORD_PLAIN_MAX);
    size_t rest = len % TLS_RECORD_PLAIN_MAX;
    int last = rest > 0 ? wolfSSL_GetOutputSize(s->ssl, (int)rest) : 0;
    if (full <= 0 || last < 0)
        return true; /* unknown: io_send grows the buffer as records come */
    return out_reserve(s, (len / TLS_RECORD_PLAIN_MAX) * (size_t)full + (size_t)last);
}

int tls_session_write(struct tls_session *s, const void *plain, size_t len)
{
    int allowed = write_allowed(s);
    if (allowed != 0)
        return allowed;
    const uint8_t *p = plain;
    while (len > 0) {
        size_t piece = len < WRITE_PIECE_BYTES_MAX ? len : WRITE_PIECE_BYTES_MAX;
        if (!reserve_for_plain(s, piece))
            return session_fail(s, s->out_full ? TLS_ERR_OUTPUT_FULL : TLS_ERR_NOMEM, 0);
        int n = wolfSSL_write(s->ssl, p, (int)piece);
        if (n != (int)piece) {
            /* Output is never refused, so a short write is a failure: wanting input or
             * seeing close_notify here would be wolfSSL misbehaving. */
            int r = session_result(s, n);
            if (r == 0 || r == TLS_PEER_CLOSED)
                r = session_fail(s, TLS_ERR_INTERNAL, wolfSSL_get_error(s->ssl, n));
            return r;
        }
        p += piece;
        len -= piece;
    }
    return 0;
}

int tls_session_writev(struct tls_session *s, const struct iovec *iov, unsigned iov_count)
{
    int rc = write_allowed(s);
    size_t fill = 0;
    for (unsigned i = 0; i < iov_count && rc == 0; i++) {
        const uint8_t *p = iov[i].iov_base;
        size_t len = iov[i].iov_len;
        while (len > 0 && rc == 0) {
            if (fill == 0 && len >= TLS_RECORD_PLAIN_MAX) {
                /* Whole records straight from the caller's memory. */
                size_t whole = len - len % TLS_RECORD_PLAIN_MAX;
                rc = tls_session_write(s, p, whole);
                p += whole;
                len -= whole;
                continue;
            }
            size_t take = TLS_RECORD_PLAIN_MAX - fill < len ? TLS_RECORD_PLAIN_MAX - fill : len;
            memcpy(writev_scratch + fill, p, take);
            fill += take;
            p += take;
            len -= take;
            if (fill == TLS_RECORD_PLAIN_MAX) {
                rc = tls_session_write(s, writev_scratch, fill);
                fill = 0;
            }
        }
    }
    if (rc == 0 && fill > 0)
        rc = tls_session_write(s, writev_scratch, fill);
    return rc;
}

int tls_session_close(struct tls_session *s)
{
    if (s->state == TLS_STATE_FAILED)
        return s->error;
    if (s->state == TLS_STATE_HANDSHAKE)
        return TLS_ERR_STATE;
    if (wolfSSL_get_shutdown(s->ssl) & WOLFSSL_SENT_SHUTDOWN)
        return 0;
    int rc = wolfSSL_shutdown(s->ssl);
    if (rc == WOLFSSL_SUCCESS || rc == WOLFSSL_SHUTDOWN_NOT_DONE)
        return 0;
    int r = session_result(s, rc);
    return r == TLS_PEER_CLOSED ? 0 : r;
}

/* ---- facts for logs ---- */

const char *tls_session_version(const struct tls_session *s)
{
    return s->ssl != NULL ? wolfSSL_get_version(s->ssl) : NULL;
}

const char *tls_session_cipher(const struct tls_session *s)
{
    return s->ssl != NULL ? wolfSSL_get_cipher_name(s->ssl) : NULL;
}

const char *tls_session_server_name(const struct tls_session *s)
{
    return s->ssl != NULL ? wolfSSL_get_servername(s->ssl, WOLFSSL_SNI_HOST_NAME) : NULL;
}

bool tls_session_resumed(const struct tls_session *s)
{
    return s->ssl != NULL && wolfSSL_session_reused(s->ssl) == 1;
}

bool tls_session_alpn_http11(const struct tls_session *s)
{
    char *name = NULL;
    unsigned short len = 0;
    if (s->ssl == NULL || wolfSSL_ALPN_GetProtocol(s->ssl, &name, &len) != WOLFSSL_SUCCESS)
        return false;
    return len == sizeof alpn_http11 - 1 && memcmp(name, alpn_http11, len) == 0;
}

void tls_session_error_detail(const struct tls_session *s, char *out, size_t out_bytes)
{
    char text[WOLFSSL_MAX_ERROR_SZ] = "";
    if (s->wolf_error != 0)
        wolfSSL_ERR_error_string_n((unsigned long)s->wolf_error, text, sizeof text);
    WOLFSSL_ALERT_HISTORY h = {0};
    if (s->ssl != NULL)
        (void)wolfSSL_get_alert_history(s->ssl, &h);
    snprintf(out, out_bytes, "wolfssl_error=%d (%s) alert_received=%d alert_sent=%d", s->wolf_error,
             text, h.last_rx.code, h.last_tx.code);
}
