/* Functions shared by the three files of the connection module (conn.c: life cycle and I/O,
 * conn_upgrade.c: the HTTP handshake, conn_ws.c: WebSocket frames). Not for other modules:
 * they use conn.h. */
#ifndef TIDEGATE_GATEWAY_CONN_INTERNAL_H
#define TIDEGATE_GATEWAY_CONN_INTERNAL_H

#include <stdlib.h>
#include <sys/socket.h>

#include "core/proxy_proto.h"
#include "core/tls.h"
#include "gateway/conn.h"
#include "gateway/worker.h"

/* Queues a frame (header + copy of payload). Refuses when the send queue is over
 * send_queue_bytes_max: the connection is then closed as a slow consumer and false is
 * returned. Returns false too when the connection is not OPEN or CLOSING. */
bool conn_send_frame(struct conn *c, uint8_t opcode, const uint8_t *payload, size_t len);

/* The same without the send-queue limit, for the notice that precedes a close (`disconnect`
 * of a slow consumer is queued past the limit). False when not OPEN or CLOSING, or out of
 * memory (then the connection is closed). */
bool conn_send_frame_unbounded(struct conn *c, uint8_t opcode, const uint8_t *payload, size_t len);

/* Puts the connection on the worker's flush list (once) for this turn's sends. */
void conn_schedule_flush(struct conn *c);

/* Queues a ready-made chunk (takes a reference) and schedules a flush. Returns false (after
 * closing the connection with internal_error) when out of memory. */
bool conn_queue_chunk(struct conn *c, struct out_chunk *chunk);

/* Starts the closing handshake: queues a close frame with `code` and `reason`, moves to
 * CLOSING with the close_timeout deadline. Only from OPEN; from other states it closes the
 * socket. */
void conn_start_close(struct conn *c, uint16_t code, const char *reason, enum gw_close_reason why);

/* The same with a ready payload (code + reason, at most 125 bytes), e.g. the peer's own close
 * payload echoed back. */
void conn_start_close_payload(struct conn *c, const uint8_t *payload, size_t len,
                              enum gw_close_reason why);

/* Fails the connection (RFC 6455 7.1.7): queues a close frame with `code` unless one was
 * sent already, then stops reading frames and lingers: once the frame is written, FIN; what
 * the peer still sends is discarded until its EOF or close_timeout. Closing at once would
 * make the kernel answer the unread bytes with a reset that can destroy the close frame. */
void conn_fail(struct conn *c, uint16_t code, const char *reason, enum gw_close_reason why);

/* Closes the socket and moves to CLOSED (counted once under c->close_reason). The struct is
 * freed once no operation refers to it; the caller must not touch it after this returns
 * unless it knows an operation is still in flight (the completion handlers do). */
void conn_close_socket(struct conn *c);

/* Moves to LINGER with what is queued as the final output (no close frame: a wss connection
 * whose TLS failed and has only its alert to send): leaves OPEN, drops the receive buffers,
 * arms close_timeout; once the output is written, FIN. */
void conn_linger(struct conn *c);

/* The peer will send nothing more (a wss client's close_notify): write what is still owed,
 * then close; close at once when nothing is. */
void conn_on_eof(struct conn *c);

/* Plaintext from the client, by state: the HTTP upgrade, then frames (conn.c). */
void conn_on_plaintext(struct conn *c, uint8_t *data, size_t len);

/* Arms the OPEN-state timer: the earlier of the next ping and the idle deadline. */
void conn_arm_open_timer(struct conn *c);

/* The client's own byte stream, after any PROXY header (conn.c). A wss connection's bytes
 * are ciphertext here, fed to its TLS session (conn_tls_on_bytes), and the plaintext goes on
 * to the upgrade parser and the frame reader; a plain ws connection's bytes go on as they
 * are. `data` is writable (frames are unmasked in place). */
void conn_client_bytes(struct conn *c, uint8_t *data, size_t len);

/* conn_edge.c: what a connection meets before the HTTP upgrade (docs/edge.md). */

/* What to expect of a socket accepted from `peer`: proxy_protocol applied to whether the peer
 * is in proxy_trusted. */
enum proxy_expect conn_edge_expect(const struct worker *w, const struct sockaddr *peer);

/* A socket refused at accept (an untrusted peer where a PROXY header is required): counted,
 * closed at once, nothing read. */
void conn_edge_refuse_untrusted(struct worker *w, int fd, const struct sockaddr *peer);

/* The client's address is known: counts the connection against it (per-IP limits). Returns
 * false when refused: the connection then lingers with a 429 (503 when the table is full),
 * and its bytes are discarded. */
bool conn_edge_admit(struct conn *c);

/* Bytes received while c->proxy_expect is not PROXY_EXPECT_NONE. */
void conn_edge_proxy_on_bytes(struct conn *c, uint8_t *data, size_t len);

/* The handshake deadline passed with the PROXY header incomplete: counted, closed without a
 * reply. In optional mode with nothing received at all it is the client's upgrade that timed
 * out: 408, as without a balancer. */
void conn_edge_proxy_timeout(struct conn *c);

/* The connection ends: its count goes back to the per-IP limits. Idempotent. */
void conn_edge_release(struct conn *c);

void conn_addr_set(struct conn_addr *a, const struct sockaddr *sa);
/* The address as a sockaddr (AF_INET for a mapped IPv4 one); returns its length. */
socklen_t conn_addr_to_sockaddr(const struct conn_addr *a, struct sockaddr_storage *out);
/* "1.2.3.4:5678" or "[2001:db8::1]:5678", "unknown" when unset. */
void conn_addr_format(const struct conn_addr *a, char out[CONN_ADDR_TEXT_BYTES]);

/* conn_tls.c: a wss connection's TLS layer (docs/tls.md). */

/* What a wss connection holds from its first bytes on: 96 bytes here, plus wolfSSL's state
 * inside the session. */
struct conn_tls {
    struct tls_session session;
    struct outq cipher;       /* ciphertext for the socket, in the order wolfSSL made it: on
                                 wss the only queue sendmsg reads */
    bool close_notify_queued; /* our close_notify is in `cipher` (or went out) */
    bool failed;              /* the session failed: only its alert may still go out */
};

/* Ciphertext from the socket (after any PROXY header): fed to the session (made on the first
 * call), the plaintext handed to conn_on_plaintext, the session's own output (handshake,
 * alerts, key updates) queued. A failed session is counted and closed (after its alert). */
void conn_tls_on_bytes(struct conn *c, const uint8_t *data, size_t len);

/* conn_flush on a wss connection with no send in flight: encrypts the next batch of the
 * plaintext queue into `cipher` (only once less than a batch is waiting there). Returns the
 * queue to write from, or NULL when the connection was closed. */
struct outq *conn_tls_flush(struct conn *c);

/* Queues our close_notify, once, on an established session. Returns true when it was queued
 * now (the caller waits until it is written before its FIN), false when there is none to
 * send (handshake unfinished, session failed, already queued). */
bool conn_tls_queue_close_notify(struct conn *c);

/* The same, false at once on plain ws. */
static inline bool conn_tls_close_notify(struct conn *c)
{
    return c->tls != NULL && conn_tls_queue_close_notify(c);
}

/* handshake_timeout passed before the TLS handshake finished: counted, closed without a
 * reply (no HTTP answer can reach a client that is not speaking TLS with us yet). */
void conn_tls_timeout(struct conn *c);

/* Frees the session and the ciphertext still queued (conn_maybe_free). */
void conn_tls_free(struct conn *c);

static inline bool conn_tls_established(const struct conn *c)
{
    return c->tls != NULL && tls_session_established(&c->tls->session);
}

/* Nothing left to write: no plaintext queued and, on wss, no ciphertext either. */
static inline bool conn_output_empty(const struct conn *c)
{
    return outq_empty(&c->out) && (c->tls == NULL || outq_empty(&c->tls->cipher));
}

/* conn_upgrade.c: bytes received in HANDSHAKE. */
void conn_upgrade_on_bytes(struct conn *c, const uint8_t *data, size_t len);
/* conn_upgrade.c: refuses the upgrade with the HTTP error for `error` and lingers. */
void conn_upgrade_fail(struct conn *c, enum ws_handshake_error error);
/* conn_upgrade.c: queues `reply` (a whole HTTP response with Connection: close) on a
 * connection in HANDSHAKE, counts the close under `why`, and lingers: once it is written,
 * FIN; what the client still sends is discarded until its EOF or close_timeout. */
void conn_upgrade_refuse(struct conn *c, const char *reply, size_t len, enum gw_close_reason why);

/* conn_ws.c: bytes received in OPEN or CLOSING (unmasked in place). */
void conn_ws_on_bytes(struct conn *c, uint8_t *data, size_t len);

/* Frees the receive-side buffer (handshake head or frame carry), if any. */
static inline void conn_drop_rx(struct conn *c)
{
    free(c->rx);
    c->rx = NULL;
    c->rx_len = c->rx_cap = 0;
}

/* Frees the message being assembled, if any. */
static inline void conn_drop_message(struct conn *c)
{
    free(c->msg);
    c->msg = NULL;
    c->msg_len = c->msg_cap = 0;
}

static inline const struct gw_options *conn_opts(const struct conn *c)
{
    return c->worker->shared->opts;
}
static inline uint64_t conn_now_ms(const struct conn *c)
{
    return c->worker->loop.now_ms;
}

#endif
