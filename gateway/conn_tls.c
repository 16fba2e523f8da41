/* The TLS layer of a wss connection (docs/tls.md): between the bytes off the socket (after
 * any PROXY header) and the plaintext state machine, and between the plaintext send queue
 * and the socket.
 *
 *   recv -> [PROXY] -> tls_session_feed -> conn_on_plaintext (the HTTP upgrade, frames:
 *                                          the same code as plain ws)
 *   c->out (plaintext: shared frames, replies) -- conn_flush --> tls_session_writev
 *          -> c->tls->cipher (private ciphertext) -> sendmsg
 *
 * Output is encrypted when it is flushed, not when it is queued: fan-out frames stay shared
 * in the subscribers' queues, small frames share records, and only the batch about to be
 * written is encrypted (at most TLS_BATCH_PLAIN_BYTES, and only once less than that is
 * waiting in `cipher`), so a slow client holds one batch of private ciphertext at most and
 * nothing is encrypted that will never be sent.
 *
 * The one thing to know before changing it: ciphertext must reach the socket in the order
 * wolfSSL made it (record sequence numbers). Every output of the session is taken right
 * after the call that made it and appended to `cipher`, the only queue sendmsg reads on a
 * wss connection.
 */
#include "gateway/conn_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

enum {
    /* Plaintext encrypted per flush: enough for a turn of small frames and for bulk
     * throughput, little enough that a slow client holds no more private ciphertext. */
    TLS_BATCH_PLAIN_BYTES = 128 << 10,
};

/* Where the plaintext of a feed lands, one record at most at a time. Per thread: a worker
 * feeds one connection at a time and conn_on_plaintext is done with the bytes (copied or
 * consumed, as with a receive buffer) before the next piece is written here. */
static _Thread_local uint8_t tls_plain[TLS_RECORD_PLAIN_MAX];

/* Appends what the session produced to the ciphertext queue. Returns false when out of
 * memory (the connection is then closed). */
static bool tls_append_output(struct conn *c)
{
    struct out_chunk *chunk = tls_session_output_take(&c->tls->session);
    if (chunk == NULL)
        return true;
    struct worker *w = c->worker;
    uint32_t len = chunk->len;
    bool pushed = outq_push(&c->tls->cipher, &w->outq_pool, chunk);
    out_chunk_unref(chunk);
    if (!pushed) {
        log_warn("conn", "out of memory queueing TLS output; closing the connection", NULL);
        c->close_reason = GW_CLOSE_INTERNAL;
        conn_close_socket(c);
        return false;
    }
    gw_metric_add(&w->metrics->send_queue_bytes, len);
    return true;
}

/* The same, and schedules a flush to send it (outside conn_flush). */
static bool tls_push_output(struct conn *c)
{
    if (tls_session_output_bytes(&c->tls->session) == 0)
        return true;
    if (!tls_append_output(c))
        return false;
    conn_schedule_flush(c);
    return true;
}

/* Drops the plaintext queue: it can never be encrypted (the session failed or our
 * close_notify is out). */
static void tls_drop_plaintext(struct conn *c)
{
    struct worker *w = c->worker;
    gw_metric_sub(&w->metrics->send_queue_bytes, c->out.bytes);
    outq_clear(&c->out, &w->outq_pool);
}

/* Makes the session for a connection's first bytes, with the certificates new connections
 * get now. False when out of memory (the connection is then closed). */
static bool tls_begin(struct conn *c)
{
    struct worker *w = c->worker;
    assert(c->tls == NULL && c->tls_listener && w->shared->tls != NULL);
    struct conn_tls *t = calloc(1, sizeof *t);
    if (t == NULL) {
        log_warn("conn", "out of memory starting a TLS session; closing the connection", NULL);
        c->close_reason = GW_CLOSE_INTERNAL;
        conn_close_socket(c);
        return false;
    }
    struct tls_server *server = tls_current_acquire(w->shared->tls);
    tls_session_start(&t->session, server);
    tls_server_unref(server); /* the session holds its own reference */
    outq_init(&t->cipher);
    c->tls = t;
    gw_metric_add(&w->metrics->tls_sessions_open, 1);
    return true;
}

static void tls_on_established(struct conn *c)
{
    const struct tls_session *s = &c->tls->session;
    const char *version = tls_session_version(s);
    bool v13 = version != NULL && strcmp(version, "TLSv1.3") == 0;
    bool resumed = tls_session_resumed(s);
    gw_metric_add(&c->worker->metrics->tls_handshakes[v13][resumed], 1);
    if (!log_enabled(LOG_DEBUG))
        return;
    char client[CONN_ADDR_TEXT_BYTES];
    conn_addr_format(&c->client, client);
    const char *sni = tls_session_server_name(s);
    log_debug("conn", "TLS handshake done",
              "version=%s cipher=%s resumed=%s alpn_http11=%s sni=\"%s\" client=%s",
              version != NULL ? version : "?", tls_session_cipher(s), resumed ? "true" : "false",
              tls_session_alpn_http11(s) ? "true" : "false", sni != NULL ? sni : "", client);
}

static void tls_count_failure(struct conn *c, int slot, const char *why)
{
    gw_metric_add(&c->worker->metrics->tls_failures[slot], 1);
    if (!log_enabled(LOG_DEBUG))
        return;
    char client[CONN_ADDR_TEXT_BYTES], detail[256] = "";
    conn_addr_format(&c->client, client);
    if (c->tls != NULL)
        tls_session_error_detail(&c->tls->session, detail, sizeof detail);
    log_debug("conn", "TLS failed; closing", "reason=%s why=\"%s\" client=%s %s",
              gw_tls_failure_name(slot), why, client, detail);
}

/* The session failed with `error`: counted; its alert, if it made one, is written before
 * the FIN; nothing else is (no HTTP reply, no close frame: the session cannot carry them). */
static void tls_fail(struct conn *c, int error)
{
    assert(error < 0 && error != TLS_PEER_CLOSED);
    tls_count_failure(c, gw_tls_failure_slot(error), tls_error_sentence(error));
    c->tls->failed = true;
    if (c->state == CONN_HANDSHAKE || c->state == CONN_OPEN)
        c->close_reason = GW_CLOSE_TLS;
    tls_drop_plaintext(c);
    if (tls_session_output_bytes(&c->tls->session) == 0 || c->peer_eof) {
        conn_close_socket(c);
        return;
    }
    if (tls_push_output(c))
        conn_linger(c);
}

/* The client sent close_notify: it sends nothing more. What we owe it goes out, then our
 * close_notify, then the FIN (conn.c's drain does the last two). */
static void tls_on_peer_closed(struct conn *c)
{
    if (conn_output_empty(c) && !c->send_inflight)
        conn_tls_close_notify(c);
    conn_on_eof(c);
}

void conn_tls_on_bytes(struct conn *c, const uint8_t *data, size_t len)
{
    if (c->state == CONN_LINGER || c->state == CONN_CLOSED || c->peer_eof)
        return; /* what still arrives means nothing: no need to decrypt it */
    if (c->tls == NULL && !tls_begin(c))
        return;
    struct tls_session *s = &c->tls->session;
    bool established = tls_session_established(s);
    size_t off = 0;
    ssize_t n;
    do {
        size_t used;
        n = tls_session_feed(s, data + off, len - off, &used, tls_plain, sizeof tls_plain);
        off += used;
        if (!established && tls_session_established(s)) {
            established = true;
            tls_on_established(c);
        }
        if (n > 0)
            conn_on_plaintext(c, tls_plain, (size_t)n);
    } while (n > 0 && c->state != CONN_CLOSED && c->state != CONN_LINGER);
    if (c->state == CONN_CLOSED)
        return;
    if (n == TLS_PEER_CLOSED) {
        if (tls_push_output(c))
            tls_on_peer_closed(c);
    } else if (n < 0) {
        tls_fail(c, (int)n);
    } else {
        tls_push_output(c); /* handshake flights, tickets, key updates */
    }
}

/* Plaintext queued before TLS is up: every refusal of that stage closes without a reply, so
 * this is a bug; closing is the only safe answer (never send it in clear). */
static void tls_plaintext_too_early(struct conn *c)
{
    assert(!"plaintext queued on a wss connection before its TLS handshake");
    log_error("conn", "plaintext queued before the TLS handshake; closing", NULL);
    c->close_reason = GW_CLOSE_INTERNAL;
    conn_close_socket(c);
}

/* The plaintext iovecs of the next batch: at most TLS_BATCH_PLAIN_BYTES. Returns their
 * count; *bytes is their total. */
static unsigned tls_batch(const struct conn *c, struct iovec iov[OUTQ_IOV_MAX], size_t *bytes)
{
    unsigned n = outq_iov(&c->out, iov, OUTQ_IOV_MAX);
    size_t total = 0;
    unsigned used = 0;
    while (used < n && total < TLS_BATCH_PLAIN_BYTES) {
        size_t room = TLS_BATCH_PLAIN_BYTES - total;
        if (iov[used].iov_len > room)
            iov[used].iov_len = room;
        total += iov[used].iov_len;
        used++;
    }
    *bytes = total;
    return used;
}

struct outq *conn_tls_flush(struct conn *c)
{
    assert(c->tls_listener && !c->send_inflight);
    struct conn_tls *t = c->tls;
    if (outq_empty(&c->out))
        return t != NULL ? &t->cipher : &c->out;
    if (t == NULL) {
        tls_plaintext_too_early(c);
        return NULL;
    }
    if (t->close_notify_queued || t->failed) {
        tls_drop_plaintext(c); /* late frames after our close_notify: never sent */
        return &t->cipher;
    }
    if (!tls_session_established(&t->session)) {
        tls_plaintext_too_early(c);
        return NULL;
    }
    if (t->cipher.bytes >= TLS_BATCH_PLAIN_BYTES)
        return &t->cipher; /* the client is slow: encrypt more once this is written */
    struct iovec iov[OUTQ_IOV_MAX];
    size_t bytes;
    unsigned count = tls_batch(c, iov, &bytes);
    int rc = tls_session_writev(&t->session, iov, count);
    struct worker *w = c->worker;
    gw_metric_sub(&w->metrics->send_queue_bytes, bytes);
    outq_consume(&c->out, &w->outq_pool, bytes);
    if (rc != 0) {
        tls_fail(c, rc);
        return c->state == CONN_CLOSED ? NULL : &t->cipher;
    }
    return tls_append_output(c) ? &t->cipher : NULL; /* sent by the caller, now */
}

bool conn_tls_queue_close_notify(struct conn *c)
{
    struct conn_tls *t = c->tls;
    assert(t != NULL);
    if (t->close_notify_queued || !tls_session_established(&t->session))
        return false;
    t->close_notify_queued = true;
    int rc = tls_session_close(&t->session);
    if (rc != 0 || tls_session_output_bytes(&t->session) == 0)
        return false; /* failed on the way: the FIN goes out without it */
    return tls_push_output(c);
}

void conn_tls_timeout(struct conn *c)
{
    assert(c->state == CONN_HANDSHAKE && c->tls_listener);
    tls_count_failure(c, GW_TLS_FAIL_TIMEOUT, "no TLS handshake within handshake_timeout");
    c->close_reason = GW_CLOSE_TLS;
    conn_close_socket(c);
}

void conn_tls_free(struct conn *c)
{
    struct conn_tls *t = c->tls;
    struct worker *w = c->worker;
    assert(t != NULL && !c->send_inflight);
    gw_metric_sub(&w->metrics->send_queue_bytes, t->cipher.bytes);
    outq_clear(&t->cipher, &w->outq_pool);
    tls_session_end(&t->session);
    free(t);
    c->tls = NULL;
    gw_metric_sub(&w->metrics->tls_sessions_open, 1);
}
