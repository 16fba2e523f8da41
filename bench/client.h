/* The harness's WebSocket client engine: one per thread, on that thread's io_uring loop.
 *
 * It takes a connection from socket() to an open RFC 6455 stream (TCP connect bound to a
 * source address, upgrade request, 101 and Sec-WebSocket-Accept checked) and then turns
 * received bytes into messages (core/ws_reader, client role) and queued frames into sends
 * (masked, batched: at most one send in flight per connection, submitted once per loop
 * turn). What the connection is for (subscriber, publisher, echo) is the caller's: the
 * engine reports through hooks and never decides anything about the scenario.
 *
 * Memory per connection is what lets one process hold its whole share of a million: the
 * struct (about 300 bytes, the caller's array), no receive buffer (multishot recv into the
 * thread's provided-buffer ring), a send buffer only while something is queued (kept by
 * connections marked `sender`), a handshake buffer only during the upgrade, and a small
 * head buffer only for messages that arrive in pieces.
 *
 * Lifecycle: FREE -> CONNECTING -> HANDSHAKE -> OPEN [-> CLOSING] -> TEARDOWN -> FREE.
 * Every end goes through TEARDOWN, which waits until no io_uring operation refers to the
 * connection, closes the descriptor and then calls on_end exactly once; after on_end the
 * struct may be connected again.
 */
#ifndef TIDEGATE_BENCH_CLIENT_H
#define TIDEGATE_BENCH_CLIENT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bufring.h"
#include "core/loop.h"
#include "core/timer_wheel.h"
#include "core/ws_reader.h"

enum {
    CLIENT_HEAD_BYTES = 512,     /* bytes of a message kept for the adapter to read */
    CLIENT_HS_BYTES = 4096,      /* largest upgrade response accepted */
    CLIENT_OUT_FRAMES = 256,     /* data frames queued per connection at most */
    CLIENT_OUT_MIN_BYTES = 2048, /* first send buffer */
    CLIENT_REQUEST_BYTES = 1024, /* upgrade request */
    CLIENT_MESSAGE_BYTES_MAX = 64 * 1024 * 1024, /* largest message accepted from a server */
};

enum client_state {
    CLIENT_FREE,
    CLIENT_CONNECTING,
    CLIENT_HANDSHAKE,
    CLIENT_OPEN,
    CLIENT_CLOSING,  /* we sent a close frame and wait for the server's */
    CLIENT_TEARDOWN, /* waiting for operations in flight before close(fd) */
};

/* Why a connection (or an attempt) ended. */
enum client_end {
    CLIENT_END_LOCAL,             /* the caller closed or aborted it */
    CLIENT_END_SOCKET,            /* socket() failed */
    CLIENT_END_BIND,              /* bind() to the source address failed */
    CLIENT_END_NO_PORT,           /* EADDRNOTAVAIL: no local port left */
    CLIENT_END_REFUSED,           /* ECONNREFUSED */
    CLIENT_END_CONNECT_OTHER,     /* connect() failed otherwise */
    CLIENT_END_TIMEOUT,           /* a deadline passed (connect, upgrade, setup, close) */
    CLIENT_END_HTTP_STATUS,       /* upgrade answered with another status (in `code`) */
    CLIENT_END_BAD_HANDSHAKE,     /* malformed 101, wrong accept, response too large */
    CLIENT_END_SERVER_CLOSE,      /* a close frame from the server (code in `code`) */
    CLIENT_END_EOF,               /* TCP EOF without a close frame */
    CLIENT_END_ERROR,             /* socket error: reset, broken pipe */
    CLIENT_END_PROTOCOL,          /* the server broke RFC 6455 */
    CLIENT_END_REFUSED_BY_SERVER, /* the adapter's protocol refused us */
};

struct client_out; /* send buffer, client.c */
struct client_hs;  /* upgrade state, client.c */

struct client_conn {
    struct tw_timer timer;   /* engine deadlines; while OPEN, the caller's (on_timer) */
    struct ws_reader reader; /* valid while OPEN or CLOSING */
    struct client_out *out;  /* send buffer or NULL */
    struct client_hs *hs;    /* during CONNECTING and HANDSHAKE */
    uint8_t *head;           /* first CLIENT_HEAD_BYTES of a message arriving in pieces */
    void *user;              /* the caller's per-connection state */
    uint64_t started_ns;     /* when the attempt began (caller may reset it) */
    uint64_t message_bytes;  /* payload bytes of the message being received */
    int fd;
    uint32_t index; /* the caller's id: global connection index */
    uint16_t head_len;
    uint16_t end_code;  /* close code or HTTP status for on_end */
    uint8_t state;      /* enum client_state */
    uint8_t end_reason; /* enum client_end, set when teardown begins */
    uint8_t ops;        /* io_uring operations in flight */
    uint8_t carry_len;
    uint8_t role;        /* the caller's */
    uint8_t proto_state; /* the adapter's */
    bool sender;         /* keeps its send buffer between sends */
    bool recv_armed;
    bool dirty;            /* on the flush list */
    bool close_after_send; /* tear down once the queued bytes are written */
    bool ready;            /* the caller's: set up and counted as ready */
    bool closing_by_us;    /* the caller asked for the end */
    struct client_conn *dirty_next;
    uint8_t carry[WS_READER_CARRY_BYTES_MAX];
};

struct client;
struct client_hooks {
    /* The upgrade succeeded; the connection is OPEN. */
    void (*on_open)(void *ctx, struct client_conn *c);
    /* A whole data message: `head` holds its first min(len, CLIENT_HEAD_BYTES) bytes. */
    void (*on_message)(void *ctx, struct client_conn *c, uint8_t opcode, const uint8_t *head,
                       size_t head_len, uint64_t len);
    /* The send in flight completed: `frames` data frames and `bytes` bytes fully written. */
    void (*on_sent)(void *ctx, struct client_conn *c, uint32_t frames, uint64_t bytes);
    /* The connection's timer fired while OPEN. */
    void (*on_timer)(void *ctx, struct client_conn *c);
    /* The attempt or connection is over (see end_reason, end_code); the struct is FREE.
     * It may be connected again, but not from inside this call (the engine may still be
     * looking at it): queue the reconnect and start it from the loop's next turn. */
    void (*on_end)(void *ctx, struct client_conn *c);
};

struct client {
    struct loop *loop;
    struct bufring recv_buffers;
    struct sockaddr_in target;
    char host[32];         /* Host header: "IP:PORT" */
    uint32_t source_first; /* host byte order; 0: let the kernel choose */
    uint32_t source_count;
    uint32_t port_first; /* local ports first attempts bind to (with source addresses) */
    uint32_t port_count; /* 0: the kernel chooses */
    uint64_t connect_timeout_ms;
    const struct client_hooks *hooks;
    void *ctx;
    struct client_conn *dirty; /* connections with bytes to send, flushed once per turn */
    uint64_t rng;
    uint64_t pings_answered;
    uint64_t recv_rearms; /* multishot recv re-armed after running out of buffers */
    uint64_t ports_taken; /* chosen local ports found in use (then the kernel chose) */
};

struct client_params {
    struct sockaddr_in target;
    uint32_t source_first, source_count;
    uint32_t port_first, port_count; /* see struct client */
    uint64_t connect_timeout_ms;
    uint32_t recv_buffer_count; /* power of two */
    uint32_t recv_buffer_bytes;
    uint64_t seed;
};

/* Registers the receive buffers on `loop`. Returns 0 or a negative errno. */
int client_init(struct client *cl, struct loop *loop, const struct client_params *params,
                const struct client_hooks *hooks, void *ctx);
void client_destroy(struct client *cl);

/* Handles one completion whose owner is a client_conn (tags below). */
void client_dispatch(struct client *cl, const struct io_uring_cqe *cqe);
enum { CLIENT_TAG_CONNECT = 1, CLIENT_TAG_SEND = 2, CLIENT_TAG_RECV = 3 };
/* Submits the sends queued this turn. Call once per loop turn (the loop's flush). */
void client_flush(struct client *cl);
/* The engine's own timer work for `c` (deadlines); call from the wheel's expiry callback
 * for connection timers. Calls on_timer when the connection is OPEN. */
void client_timer_expired(struct client *cl, struct client_conn *c);

/* Starts an attempt on a FREE connection to the target, upgrading with `path`. With
 * source addresses, `own_port` binds to the port the connection's index gives (first
 * attempts; the range must hold every connection) instead of letting the kernel search.
 * Failures that happen at once (socket, bind) end through on_end before this returns. */
void client_connect(struct client *cl, struct client_conn *c, const char *path, bool own_port);

/* Queues a frame with a `len`-byte payload: returns where to write the payload, or NULL
 * when the connection is not open or its buffer is full (try again after on_sent). Commit
 * it with client_frame_commit before queuing another. */
uint8_t *client_frame_reserve(struct client *cl, struct client_conn *c, uint8_t opcode, size_t len);
/* Masks the reserved payload and queues the frame; `data` frames are counted in on_sent. */
void client_frame_commit(struct client *cl, struct client_conn *c, bool data);
/* Reserve, copy, commit. Returns false when it could not be queued. */
bool client_send(struct client *cl, struct client_conn *c, uint8_t opcode, const void *payload,
                 size_t len, bool data);

/* Starts the closing handshake (close 1000) and ends the connection when the server
 * answers, or after `timeout_ms`; aborts when the close cannot be queued. */
void client_close(struct client *cl, struct client_conn *c, uint64_t timeout_ms);
/* Ends the connection now with `why` (and `code` for on_end). */
void client_abort(struct client *cl, struct client_conn *c, enum client_end why, uint16_t code);

/* Arms the connection's timer at `at_ms` (loop time). */
void client_timer_arm(struct client *cl, struct client_conn *c, uint64_t at_ms);

/* Monotonic clock in nanoseconds. */
uint64_t client_clock_ns(void);

#endif
