/* A client connection: its life from accept to free, as one state machine.
 *
 *   HANDSHAKE --101--> OPEN --close sent or received--> CLOSING --> CLOSED
 *       |               |                                              ^
 *       |               +--protocol error: close frame--+              |
 *       +--HTTP error reply-----------------------------+-> LINGER ----+
 *                                     (output written, FIN sent, input discarded until EOF)
 *
 * Memory contract: an idle OPEN connection holds only this struct (no receive buffer, no
 * send buffer). `rx` exists only while an HTTP head or a split frame header/control frame
 * is being received; `msg` only while a fragmented or multi-buffer message is assembled
 * (echo); the send queue only while output is unsent.
 *
 * Before HANDSHAKE proper, a connection may wait for a PROXY header (proxy_expect, see
 * docs/edge.md): the edge (conn_edge.c) reads it, learns the client's real address, applies the
 * per-IP limits, and hands the client's own bytes on. On the wss listener TLS comes next
 * (conn_tls.c): the connection's bytes are ciphertext, fed to its TLS session, and only the
 * plaintext reaches the states above; its output is encrypted when it is flushed.
 *
 * A connection is freed when it is CLOSED and nothing refers to it any more: no io_uring
 * operation (recv_armed and send_inflight both false) and no channel request awaiting its
 * reply from another worker (session_busy): completions and replies always find a live owner.
 * When the connection leaves OPEN, its channel subscriptions end (hub_conn_end).
 */
#ifndef TIDEGATE_GATEWAY_CONN_H
#define TIDEGATE_GATEWAY_CONN_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/outq.h"
#include "core/timer_wheel.h"
#include "core/ws_reader.h"
#include "gateway/metrics.h"

struct conn_tls;
struct session;
struct worker;

enum { CONN_ADDR_TEXT_BYTES = 64 }; /* "[ffff:...:ffff]:65535" and a NUL */

/* A client address in 18 bytes: IPv6, or IPv4 as its mapped form ::ffff:a.b.c.d. All zero
 * when unknown (a peer that is not IP). */
struct conn_addr {
    uint8_t ip[16]; /* network order */
    uint16_t port;  /* host order */
};

enum conn_state {
    CONN_HANDSHAKE, /* reading the HTTP upgrade request */
    CONN_OPEN,      /* WebSocket open */
    CONN_CLOSING,   /* close frame sent and/or received; waiting for the other half */
    CONN_LINGER,    /* final output queued (HTTP error or failing close frame); then FIN,
                       input discarded until EOF or close_timeout */
    CONN_CLOSED,    /* socket closed; waiting for in-flight operations to finish */
};

struct conn {
    struct worker *worker;    /* owner; the connection lives and dies on its thread */
    struct conn *prev, *next; /* worker->conns */
    struct conn *flush_next;  /* worker->flush_list, valid while flush_queued */
    struct tw_timer timer;    /* the one deadline that matters in the current state */
    struct ws_reader reader;
    struct outq out; /* frames and replies not yet written */
    uint8_t *rx;     /* owned, NULL when idle: HTTP head or carried frame bytes */
    uint32_t rx_len, rx_cap;
    struct session *sess; /* owned: the client protocol's state (NULL in echo mode) */
    struct conn_tls *tls; /* owned, wss only: the TLS session and the ciphertext queue, made
                             when the first bytes arrive (NULL before, and on plain ws) */
    uint8_t *msg;         /* owned, NULL when idle: data message being assembled */
    uint32_t msg_len, msg_cap;
    uint64_t last_rx_ms;     /* loop time of the last bytes received */
    int fd;                  /* shut down when CLOSED, closed when the struct is freed */
    uint8_t state;           /* enum conn_state */
    uint8_t close_reason;    /* enum gw_close_reason, set when the end began */
    bool recv_armed;         /* a multishot recv is in flight */
    bool send_inflight;      /* a sendmsg is in flight */
    bool flush_queued;       /* on worker->flush_list */
    bool close_sent;         /* our close frame is queued */
    bool close_received;     /* the peer's close frame arrived */
    bool counted_open;       /* included in connections_open */
    bool peer_eof;           /* the peer half-closed; close once what we owe it is written */
    uint8_t proxy_expect;    /* enum proxy_expect: a PROXY header may or must come first;
                                PROXY_EXPECT_NONE once read (or when none is expected) */
    bool tls_listener;       /* accepted on tls_listen: its bytes are TLS (wss) */
    struct conn_addr client; /* the real client: the PROXY header's source, else the peer's */
    uint32_t ip_handle;      /* counted by the per-IP limits; IP_LIMIT_HANDLE_NONE if not */
};

/* Takes a freshly accepted socket: allocates the connection, arms its receive and its
 * handshake deadline. `tls`: it came from the wss listener. On failure (out of memory)
 * closes `fd`. */
void conn_accept(struct worker *w, int fd, bool tls);

/* Completion handlers, called by the worker's dispatch. */
void conn_on_recv(struct conn *c, const struct io_uring_cqe *cqe);
void conn_on_send(void *send_ctx, const struct io_uring_cqe *cqe);
void conn_on_timer(struct conn *c);

/* Submits one send for everything queued on `c` (called from the worker's flush). */
void conn_flush(struct conn *c);

/* Server shutdown, first step: a connection still in its handshake (PROXY header or HTTP
 * upgrade) is closed at once; OPEN ones stay until conn_drain. */
void conn_begin_shutdown(struct conn *c);

/* Drain, one connection: an OPEN connection gets the `disconnect` notice (1001,
 * server_shutdown, reconnect true; echo mode has no protocol and gets none) and close 1001,
 * both after what is already queued. Returns false (and does nothing) when it was not OPEN. */
bool conn_drain(struct conn *c);

/* Closes the socket now, whatever the state (shutdown deadline passed). */
void conn_abort(struct conn *c, enum gw_close_reason reason);

static inline struct conn *conn_from_timer(struct tw_timer *t)
{
    return (struct conn *)((char *)t - offsetof(struct conn, timer));
}

/* Frees the connection if it is CLOSED and nothing refers to it any more: the session calls
 * it when the last reply it waited for has arrived, the worker at exit (w->exiting) for
 * connections whose replies can no longer come. */
void conn_release(struct conn *c);

/* Frees the send contexts a worker recycled (at worker exit). */
void conn_send_ctx_free_all(struct worker *w);

#endif
