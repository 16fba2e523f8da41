/* The server API (docs/api.md): HTTP/1.1 for application backends on its own listener,
 * api_listen. Every worker opens its own SO_REUSEPORT socket on it and serves the API
 * connections it accepts on its own loop, so a publish travels to the channel's owner
 * through the same mailboxes as a client's send_message (gateway/hub.h), and requests that
 * concern the whole node fan out to every worker (gateway/hub_api.h).
 *
 * Files: api.c (this contract: listener, connections, timers, replies), api_routes.c (the
 * endpoints), api_http.c and api_body.c (pure request checks), api_write.c (reply bodies).
 *
 * A connection reads one request at a time (head, then body), answers it, and then reads the
 * next one (keep-alive, at most API_REQUESTS_PER_CONN_MAX). While a request is with the hub
 * nothing more is read, so requests a client pipelines wait in the socket, in order. A
 * connection is freed once closed and no hub reply is awaited (a reply always finds it).
 *
 * Everything here runs on the worker thread that owns the struct api_worker.
 */
#ifndef TIDEGATE_GATEWAY_API_H
#define TIDEGATE_GATEWAY_API_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/timer_wheel.h"

struct api_conn;
struct hub;
struct hub_fan;
struct hub_req;
struct worker;

enum {
    API_REQUEST_TIMEOUT_MS = 10000, /* first byte of a request to its last */
    API_IDLE_TIMEOUT_MS = 30000,    /* between requests; also a reply the client stops reading */
    API_LINGER_MS = 5000,           /* after the last reply: waiting for the client's EOF */
    API_REQUESTS_PER_CONN_MAX = 1000,
    API_TICK_MS = 250, /* how often deadlines are checked; they fire up to this late */
};

/* The owner of an API operation on the worker's ring (tag WORKER_OP_API): the kind says
 * which object it is embedded in. 8-byte aligned, as loop_udata requires. */
enum api_op_kind { API_OP_ACCEPT = 1, API_OP_RECV, API_OP_SEND };
struct api_op {
    _Alignas(8) uint8_t kind; /* enum api_op_kind */
};

/* One worker's side of the API. */
struct api_worker {
    struct worker *worker;
    int listen_fd; /* owned; -1 when the API is off or the listener is closed */
    bool accept_armed;
    bool stopping;           /* the worker is stopping: no new requests are served */
    struct api_op accept_op; /* owner of the multishot accept */
    struct tw_timer tick;    /* armed while the API is on: deadlines, retries */
    struct api_conn *conns;  /* open and closing connections (doubly linked) */
    uint64_t conn_count;
};

/* Sets the API up on the worker's thread: with a->listen_fd >= 0 (set by worker_start) arms
 * the accept and the tick; with -1 does nothing else (the API is off). */
void api_worker_start(struct api_worker *a, struct worker *w);

/* A completion whose tag is WORKER_OP_API; `owner` is its struct api_op. */
void api_dispatch(struct api_worker *a, void *owner, const struct io_uring_cqe *cqe);

/* Returns true and handles the timer when `t` is the API's. */
bool api_on_timer(struct api_worker *a, struct tw_timer *t);

/* The worker is stopping: the listener closes, idle connections close, a request being read
 * gets 503 shutting_down once read, one with the hub gets its reply with Connection: close. */
void api_begin_stop(struct api_worker *a);

/* The stop deadline passed: every connection's socket is closed now. */
void api_abort_all(struct api_worker *a);

/* True when no connection is left and no accept is armed. */
bool api_idle(const struct api_worker *a);

/* True when every connection left is closed and only waits for hub replies that workers
 * which have stopped will never send. */
bool api_only_waiting(const struct api_worker *a);

/* At worker exit: frees what is left (connections waiting for replies that cannot come). */
void api_worker_destroy(struct api_worker *a);

/* The hub's reply to an API request (r->api set): takes ownership of `r`. */
void api_on_hub_reply(struct hub *h, struct hub_req *r);

/* One worker's part of a fan-out (gateway/hub_api.h): takes ownership of `f`. */
void api_on_fan_reply(struct hub *h, struct hub_fan *f);

#endif
