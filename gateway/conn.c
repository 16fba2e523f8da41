/* Connection life cycle and I/O: accept, multishot receive, batched sends, timers, close,
 * free. The protocol halves live in conn_upgrade.c (HTTP) and conn_ws.c (frames).
 *
 * The rule to keep in mind: a struct conn may only be freed when it is CLOSED and no
 * submitted operation (recv, send) and no flush-list entry refers to it; conn_maybe_free
 * is the only place that frees, and every path that drops a reference calls it.
 */
#include "gateway/conn_internal.h"

#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/ip_limit.h"
#include "core/log.h"
#include "gateway/hub.h"
#include "gateway/session.h"

/* One in-flight sendmsg: the iovecs must live until its completion. */
struct send_ctx {
    struct conn *conn;
    struct send_ctx *next_free;
    struct msghdr msg;
    struct iovec iov[OUTQ_IOV_MAX];
};

static void conn_maybe_free(struct conn *c)
{
    if (c->state != CONN_CLOSED || c->recv_armed || c->send_inflight || c->flush_queued)
        return;
    struct worker *w = c->worker;
    if (session_busy(c) && !w->exiting)
        return; /* a reply from another worker is on its way: freed when it arrives */
    assert(c->fd >= 0 && !tw_armed(&c->timer));
    /* The descriptor is closed only now that no submitted operation refers to it: closed
     * earlier, its number could be reused by a new socket that a stale recv would read. */
    close(c->fd);
    c->fd = -1;
    conn_drop_rx(c);
    conn_drop_message(c);
    session_free(c);
    if (c->tls != NULL)
        conn_tls_free(c);
    gw_metric_sub(&w->metrics->send_queue_bytes, c->out.bytes);
    outq_clear(&c->out, &w->outq_pool);
    if (w->drain_next == c)
        w->drain_next = c->next; /* the drain's walk goes on from the next one */
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    w->conn_count--;
    free(c);
}

void conn_release(struct conn *c)
{
    conn_maybe_free(c);
}

/* The connection stops being OPEN: its channel subscriptions end now (nothing is delivered
 * after a close starts), and so does its count in user status. */
static void conn_leave_open(struct conn *c)
{
    if (c->state == CONN_OPEN && c->sess != NULL) {
        hub_conn_end(c);
        session_end(c);
    }
}

static void conn_arm_recv(struct conn *c)
{
    struct worker *w = c->worker;
    assert(!c->recv_armed && c->fd >= 0);
    struct io_uring_sqe *sqe = loop_sqe(&w->loop);
    io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = w->recv_buffers.group_id;
    io_uring_sqe_set_data64(sqe, loop_udata(c, WORKER_OP_RECV));
    c->recv_armed = true;
}

/* Refuses a connection over max_connections with a 503 written straight to the new
 * socket: it is non-blocking and the reply fits any socket buffer, so this cannot stall. A
 * wss client gets no reply (it is about to send a ClientHello, not HTTP). */
static void conn_reject_overloaded(struct worker *w, int fd, bool tls)
{
    char reply[1024];
    size_t n = ws_handshake_write_error(reply, sizeof reply, WS_HS_OVERLOADED);
    ssize_t sent = tls ? 0 : send(fd, reply, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)sent; /* best effort: the client learns of the refusal either way by the close */
    close(fd);
    gw_metric_add(&w->metrics->connections_rejected_limit, 1);
    gw_metric_add(&w->metrics->handshake_failures[WS_HS_OVERLOADED], 1);
}

/* The peer's address, for the trusted ranges, the per-IP limits and logs (the multishot
 * accept does not give it). False when the peer is already gone. */
static bool conn_peer_address(int fd, struct sockaddr_storage *peer)
{
    socklen_t len = sizeof *peer;
    if (getpeername(fd, (struct sockaddr *)peer, &len) == 0)
        return true;
    log_debug("conn", "the peer left before its connection was accepted", "errno=%d", errno);
    return false;
}

void conn_accept(struct worker *w, int fd, bool tls)
{
    assert(fd >= 0);
    const struct gw_options *o = w->shared->opts;
    gw_metric_add(&w->metrics->connections_accepted, 1);
    uint64_t open = atomic_fetch_add(&w->shared->connections_open, 1) + 1;
    if (open > o->max_connections) {
        atomic_fetch_sub(&w->shared->connections_open, 1);
        conn_reject_overloaded(w, fd, tls);
        return;
    }
    struct sockaddr_storage peer;
    if (!conn_peer_address(fd, &peer)) {
        atomic_fetch_sub(&w->shared->connections_open, 1);
        close(fd);
        return;
    }
    enum proxy_expect expect = conn_edge_expect(w, (const struct sockaddr *)&peer);
    if (expect == PROXY_EXPECT_REFUSE) {
        atomic_fetch_sub(&w->shared->connections_open, 1);
        conn_edge_refuse_untrusted(w, fd, (const struct sockaddr *)&peer);
        return;
    }
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        log_debug("conn", "TCP_NODELAY refused", "errno=%d", errno);
    struct conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        atomic_fetch_sub(&w->shared->connections_open, 1);
        close(fd);
        log_warn("conn", "out of memory accepting a connection; closed it", NULL);
        return;
    }
    c->worker = w;
    c->fd = fd;
    c->state = CONN_HANDSHAKE;
    c->close_reason = GW_CLOSE_PEER_GONE;
    c->last_rx_ms = w->loop.now_ms;
    c->counted_open = true;
    c->proxy_expect = (uint8_t)expect;
    c->tls_listener = tls;
    c->ip_handle = IP_LIMIT_HANDLE_NONE;
    conn_addr_set(&c->client, (const struct sockaddr *)&peer);
    outq_init(&c->out);
    ws_reader_init(&c->reader, WS_ROLE_SERVER, o->max_message_bytes);
    tw_timer_init(&c->timer);
    c->next = w->conns;
    if (w->conns != NULL)
        w->conns->prev = c;
    w->conns = c;
    w->conn_count++;
    gw_metric_add(&w->metrics->connections_open, 1);
    conn_arm_recv(c);
    /* From accept: it covers the PROXY header, TLS and the HTTP upgrade together. */
    tw_arm(&w->loop.wheel, &c->timer, w->loop.now_ms + o->handshake_timeout_ms);
    if (expect == PROXY_EXPECT_NONE)
        conn_edge_admit(c); /* the peer is the client: its address counts now */
}

void conn_close_socket(struct conn *c)
{
    if (c->state == CONN_CLOSED)
        return;
    struct worker *w = c->worker;
    conn_leave_open(c);
    if (c->sess != NULL) {
        hub_conn_end(c); /* also covers CLOSING/LINGER, where it is already a no-op */
        session_end(c);
    }
    c->state = CONN_CLOSED;
    tw_cancel(&w->loop.wheel, &c->timer);
    if (c->recv_armed) {
        struct io_uring_sqe *sqe = loop_sqe(&w->loop);
        io_uring_prep_cancel64(sqe, loop_udata(c, WORKER_OP_RECV), 0);
        io_uring_sqe_set_data64(sqe, LOOP_UDATA_IGNORE);
    }
    /* FIN now; the descriptor itself is closed in conn_maybe_free. Buffers are freed there
     * too: a reader callback may be closing us while the reader still walks c->rx. */
    shutdown(c->fd, SHUT_RDWR);
    if (c->counted_open) {
        c->counted_open = false;
        /* Closed is counted before the open gauge drops: a scrape that sees no connection
         * open sees every close counted. */
        gw_metric_add(&w->metrics->connections_closed[c->close_reason], 1);
        atomic_fetch_sub(&w->shared->connections_open, 1);
        gw_metric_sub(&w->metrics->connections_open, 1);
    }
    conn_edge_release(c);
    if (!c->send_inflight) {
        gw_metric_sub(&w->metrics->send_queue_bytes, c->out.bytes);
        outq_clear(&c->out, &w->outq_pool);
    }
    conn_maybe_free(c);
}

void conn_abort(struct conn *c, enum gw_close_reason reason)
{
    if (c->state != CONN_CLOSED && c->state != CONN_CLOSING && c->state != CONN_LINGER)
        c->close_reason = (uint8_t)reason;
    conn_close_socket(c);
}

/* The peer is gone (EOF, reset) or a socket call failed: nothing more can be said. */
static void conn_peer_gone(struct conn *c)
{
    if (c->state == CONN_OPEN || c->state == CONN_HANDSHAKE)
        c->close_reason = GW_CLOSE_PEER_GONE;
    conn_close_socket(c);
}

static bool conn_owes_output(const struct conn *c)
{
    return c->state != CONN_CLOSED && (c->send_inflight || !conn_output_empty(c));
}

/* The peer sent FIN while output is still queued (a refused request, our close echo):
 * stop reading (a re-armed recv would only see EOF again), finish writing, and close when
 * drained or when close_timeout runs out. */
static void conn_on_peer_eof(struct conn *c)
{
    struct worker *w = c->worker;
    c->peer_eof = true;
    if (c->state == CONN_OPEN || c->state == CONN_HANDSHAKE)
        c->close_reason = GW_CLOSE_PEER_GONE;
    tw_arm(&w->loop.wheel, &c->timer, w->loop.now_ms + conn_opts(c)->close_timeout_ms);
}

void conn_on_eof(struct conn *c)
{
    if (conn_owes_output(c))
        conn_on_peer_eof(c);
    else
        conn_peer_gone(c);
}

/* Plaintext from the client, by state. */
static void conn_on_bytes(struct conn *c, uint8_t *data, size_t len)
{
    switch ((enum conn_state)c->state) {
    case CONN_HANDSHAKE:
        conn_upgrade_on_bytes(c, data, len);
        break;
    case CONN_OPEN:
    case CONN_CLOSING:
        conn_ws_on_bytes(c, data, len);
        break;
    case CONN_LINGER: /* a refused client may still be sending; its bytes mean nothing */
    case CONN_CLOSED:
        break;
    }
}

void conn_on_plaintext(struct conn *c, uint8_t *data, size_t len)
{
    conn_on_bytes(c, data, len);
}

void conn_client_bytes(struct conn *c, uint8_t *data, size_t len)
{
    if (c->tls_listener)
        conn_tls_on_bytes(c, data, len);
    else
        conn_on_bytes(c, data, len);
}

/* Bytes as they came off the socket: a PROXY header first when one may come. */
static void conn_on_wire_bytes(struct conn *c, uint8_t *data, size_t len)
{
    if (c->state == CONN_HANDSHAKE && c->proxy_expect != PROXY_EXPECT_NONE)
        conn_edge_proxy_on_bytes(c, data, len);
    else
        conn_client_bytes(c, data, len);
}

void conn_on_recv(struct conn *c, const struct io_uring_cqe *cqe)
{
    struct worker *w = c->worker;
    assert(c->recv_armed);
    /* recv_armed stays true while the bytes are handled, so a close on the way cannot free
     * the connection under our feet. */
    bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    int res = cqe->res;
    if (res > 0) {
        assert(cqe->flags & IORING_CQE_F_BUFFER);
        uint16_t buffer_id = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        gw_metric_add(&w->metrics->bytes_received, (uint64_t)res);
        c->last_rx_ms = w->loop.now_ms;
        conn_on_wire_bytes(c, bufring_buffer(&w->recv_buffers, buffer_id), (size_t)res);
        bufring_recycle(&w->recv_buffers, buffer_id);
    } else if (res == -ENOBUFS) {
        gw_metric_add(&w->metrics->recv_buffers_exhausted, 1);
    } else if (res == 0 && conn_owes_output(c)) {
        conn_on_peer_eof(c); /* half-closed: write what we owe, then close */
    } else if (res != -ECANCELED || c->state != CONN_CLOSED) {
        conn_peer_gone(c); /* EOF (0) or a socket error */
    }
    if (!more)
        c->recv_armed = false;
    if (c->state == CONN_CLOSED) {
        conn_maybe_free(c);
        return;
    }
    if (!c->recv_armed && !c->peer_eof)
        conn_arm_recv(c);
}

void conn_schedule_flush(struct conn *c)
{
    if (c->flush_queued)
        return;
    c->flush_queued = true;
    c->flush_next = c->worker->flush_list;
    c->worker->flush_list = c;
}

bool conn_queue_chunk(struct conn *c, struct out_chunk *chunk)
{
    struct worker *w = c->worker;
    if (!outq_push(&c->out, &w->outq_pool, chunk)) {
        log_warn("conn", "out of memory queueing output; closing the connection", NULL);
        c->close_reason = GW_CLOSE_INTERNAL;
        conn_close_socket(c);
        return false;
    }
    gw_metric_add(&w->metrics->send_queue_bytes, chunk->len);
    conn_schedule_flush(c);
    return true;
}

static bool conn_push_frame(struct conn *c, uint8_t opcode, const uint8_t *payload, size_t len)
{
    uint8_t header[WS_FRAME_HEADER_BYTES_MAX];
    size_t header_len = ws_frame_header_encode(header, opcode, true, len, NULL);
    struct out_chunk *chunk = out_chunk_new(header_len + len);
    if (chunk == NULL) {
        log_warn("conn", "out of memory building a frame; closing the connection", "bytes=%zu",
                 len);
        c->close_reason = GW_CLOSE_INTERNAL;
        conn_close_socket(c);
        return false;
    }
    memcpy(chunk->data, header, header_len);
    if (len > 0)
        memcpy(chunk->data + header_len, payload, len);
    bool queued = conn_queue_chunk(c, chunk);
    out_chunk_unref(chunk);
    if (queued)
        gw_metric_add(&c->worker->metrics->frames_sent, 1);
    return queued;
}

bool conn_send_frame_unbounded(struct conn *c, uint8_t opcode, const uint8_t *payload, size_t len)
{
    if (c->state != CONN_OPEN && c->state != CONN_CLOSING)
        return false;
    return conn_push_frame(c, opcode, payload, len);
}

bool conn_send_frame(struct conn *c, uint8_t opcode, const uint8_t *payload, size_t len)
{
    if (c->state != CONN_OPEN && c->state != CONN_CLOSING)
        return false;
    if (c->out.bytes > conn_opts(c)->send_queue_bytes_max) {
        conn_start_close(c, WS_CLOSE_POLICY_VIOLATION, "send queue full", GW_CLOSE_SLOW_CONSUMER);
        return false;
    }
    return conn_push_frame(c, opcode, payload, len);
}

void conn_start_close_payload(struct conn *c, const uint8_t *payload, size_t len,
                              enum gw_close_reason why)
{
    assert(len <= WS_CONTROL_PAYLOAD_BYTES_MAX);
    if (c->state != CONN_OPEN) {
        if (c->state == CONN_HANDSHAKE)
            c->close_reason = (uint8_t)why;
        if (c->state != CONN_CLOSING)
            conn_close_socket(c);
        return;
    }
    struct worker *w = c->worker;
    conn_leave_open(c);
    c->state = CONN_CLOSING;
    c->close_reason = (uint8_t)why;
    c->close_sent = true;
    conn_drop_message(c);
    if (!conn_push_frame(c, WS_OP_CLOSE, payload, len))
        return;
    tw_arm(&w->loop.wheel, &c->timer, w->loop.now_ms + conn_opts(c)->close_timeout_ms);
}

void conn_start_close(struct conn *c, uint16_t code, const char *reason, enum gw_close_reason why)
{
    uint8_t payload[WS_CONTROL_PAYLOAD_BYTES_MAX];
    size_t len = ws_close_payload_encode(payload, code, reason);
    conn_start_close_payload(c, payload, len, why);
}

void conn_fail(struct conn *c, uint16_t code, const char *reason, enum gw_close_reason why)
{
    if (c->state == CONN_OPEN) {
        conn_leave_open(c);
        c->close_reason = (uint8_t)why;
        uint8_t payload[WS_CONTROL_PAYLOAD_BYTES_MAX];
        size_t len = ws_close_payload_encode(payload, code, reason);
        if (!conn_push_frame(c, WS_OP_CLOSE, payload, len))
            return;
        c->close_sent = true;
    } else if (c->state != CONN_CLOSING) {
        conn_close_socket(c);
        return;
    }
    conn_linger(c);
    if (conn_output_empty(c) && !c->send_inflight && !conn_tls_close_notify(c))
        shutdown(c->fd, SHUT_WR);
}

void conn_linger(struct conn *c)
{
    struct worker *w = c->worker;
    conn_leave_open(c);
    c->state = CONN_LINGER;
    conn_drop_message(c);
    conn_drop_rx(c);
    tw_arm(&w->loop.wheel, &c->timer, w->loop.now_ms + conn_opts(c)->close_timeout_ms);
}

void conn_flush(struct conn *c)
{
    assert(!c->flush_queued);
    if (c->state == CONN_CLOSED) {
        conn_maybe_free(c);
        return;
    }
    if (c->send_inflight)
        return;
    struct outq *wire = &c->out;
    if (c->tls_listener && (wire = conn_tls_flush(c)) == NULL)
        return; /* wss: the next batch is encrypted into its own queue (or it failed) */
    if (outq_empty(wire))
        return;
    struct worker *w = c->worker;
    struct send_ctx *s = w->send_free;
    if (s != NULL) {
        w->send_free = s->next_free;
    } else {
        s = malloc(sizeof *s);
        if (s == NULL) {
            log_warn("conn", "out of memory for a send; closing the connection", NULL);
            c->close_reason = GW_CLOSE_INTERNAL;
            conn_close_socket(c);
            return;
        }
        w->send_ctx_count++;
    }
    memset(&s->msg, 0, sizeof s->msg);
    s->conn = c;
    s->msg.msg_iov = s->iov;
    s->msg.msg_iovlen = outq_iov(wire, s->iov, OUTQ_IOV_MAX);
    struct io_uring_sqe *sqe = loop_sqe(&w->loop);
    io_uring_prep_sendmsg(sqe, c->fd, &s->msg, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, loop_udata(s, WORKER_OP_SEND));
    c->send_inflight = true;
}

/* Everything queued is written: finish whatever was waiting for that. */
static void conn_on_drained(struct conn *c)
{
    bool ending = c->peer_eof || c->state == CONN_LINGER ||
                  (c->state == CONN_CLOSING && c->close_sent && c->close_received);
    if (ending && conn_tls_close_notify(c))
        return; /* wss: our close_notify goes out before the FIN */
    if (c->peer_eof)
        conn_close_socket(c); /* everything owed is written and the peer has gone */
    else if (c->state == CONN_CLOSING && c->close_sent && c->close_received)
        conn_close_socket(c); /* RFC 6455 7.1.1: the server closes the TCP connection first */
    else if (c->state == CONN_LINGER)
        shutdown(c->fd, SHUT_WR); /* the reply is out; wait for the client's EOF */
}

void conn_on_send(void *send_ctx, const struct io_uring_cqe *cqe)
{
    struct send_ctx *s = send_ctx;
    struct conn *c = s->conn;
    struct worker *w = c->worker;
    assert(c->send_inflight);
    s->conn = NULL;
    s->next_free = w->send_free;
    w->send_free = s;
    c->send_inflight = false;
    if (cqe->res > 0) {
        gw_metric_add(&w->metrics->bytes_sent, (uint64_t)cqe->res);
        gw_metric_sub(&w->metrics->send_queue_bytes, (uint64_t)cqe->res);
        outq_consume(c->tls != NULL ? &c->tls->cipher : &c->out, &w->outq_pool, (size_t)cqe->res);
    }
    if (c->state == CONN_CLOSED) {
        gw_metric_sub(&w->metrics->send_queue_bytes, c->out.bytes);
        outq_clear(&c->out, &w->outq_pool);
        conn_maybe_free(c);
        return;
    }
    if (cqe->res < 0) {
        conn_peer_gone(c);
        return;
    }
    if (c->sess != NULL && c->state == CONN_OPEN && cqe->res > 0 &&
        c->out.bytes <= conn_opts(c)->send_queue_bytes_max / 2)
        hub_conn_send_gaps(c); /* a skipping subscriber has room again */
    if (!conn_output_empty(c))
        conn_schedule_flush(c);
    else
        conn_on_drained(c);
}

void conn_arm_open_timer(struct conn *c)
{
    const struct gw_options *o = conn_opts(c);
    uint64_t now = conn_now_ms(c);
    uint64_t next = UINT64_MAX;
    if (o->idle_timeout_ms != 0)
        next = c->last_rx_ms + o->idle_timeout_ms;
    if (c->sess != NULL && c->sess->deadline_ms != 0 && c->sess->deadline_ms < next)
        next = c->sess->deadline_ms; /* connect timeout or token expiry */
    if (o->ping_interval_ms != 0) {
        uint64_t quiet = now - c->last_rx_ms;
        /* Quiet long enough that we just pinged: the next ping is an interval from now. */
        uint64_t ping_at = quiet >= o->ping_interval_ms ? now + o->ping_interval_ms
                                                        : c->last_rx_ms + o->ping_interval_ms;
        if (ping_at < next)
            next = ping_at;
    }
    if (next != UINT64_MAX)
        tw_arm(&c->worker->loop.wheel, &c->timer, next);
}

static void conn_on_open_timer(struct conn *c)
{
    const struct gw_options *o = conn_opts(c);
    if (session_on_deadline(c))
        return;
    uint64_t quiet = conn_now_ms(c) - c->last_rx_ms;
    if (o->idle_timeout_ms != 0 && quiet >= o->idle_timeout_ms) {
        conn_start_close(c, WS_CLOSE_GOING_AWAY, "idle timeout", GW_CLOSE_IDLE_TIMEOUT);
        return;
    }
    if (o->ping_interval_ms != 0 && quiet >= o->ping_interval_ms) {
        if (!conn_send_frame(c, WS_OP_PING, NULL, 0))
            return;
        gw_metric_add(&c->worker->metrics->pings_sent, 1);
    }
    conn_arm_open_timer(c);
}

void conn_on_timer(struct conn *c)
{
    if (c->peer_eof) {
        conn_close_socket(c); /* a half-closed peer did not read what we owed in time */
        return;
    }
    switch ((enum conn_state)c->state) {
    case CONN_HANDSHAKE:
        if (c->proxy_expect != PROXY_EXPECT_NONE)
            conn_edge_proxy_timeout(c); /* the header never came whole (conn_edge.c) */
        else if (c->tls_listener && !conn_tls_established(c))
            conn_tls_timeout(c); /* no HTTP answer before TLS is up */
        else
            conn_upgrade_fail(c, WS_HS_TIMEOUT);
        break;
    case CONN_OPEN:
        conn_on_open_timer(c);
        break;
    case CONN_CLOSING: /* the peer never finished the closing handshake */
    case CONN_LINGER:  /* the refused client never closed */
        conn_close_socket(c);
        break;
    case CONN_CLOSED:
        assert(!"timer of a closed connection");
        break;
    }
}

void conn_begin_shutdown(struct conn *c)
{
    if (c->state == CONN_HANDSHAKE)
        conn_abort(c, GW_CLOSE_SHUTDOWN);
}

bool conn_drain(struct conn *c)
{
    if (c->state != CONN_OPEN)
        return false;
    if (c->sess != NULL)
        session_disconnect(c, WS_CLOSE_GOING_AWAY, "server_shutdown",
                           "the server is shutting down; reconnect", true);
    else
        conn_start_close(c, WS_CLOSE_GOING_AWAY, "server_shutdown", GW_CLOSE_SHUTDOWN);
    return true;
}

void conn_send_ctx_free_all(struct worker *w)
{
    while (w->send_free != NULL) {
        struct send_ctx *s = w->send_free;
        w->send_free = s->next_free;
        free(s);
    }
    w->send_ctx_count = 0;
}
