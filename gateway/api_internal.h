/* Shared by the files of the server API (api.c: connections; api_routes.c: endpoints).
 * Other modules use api.h. */
#ifndef TIDEGATE_GATEWAY_API_INTERNAL_H
#define TIDEGATE_GATEWAY_API_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "gateway/api.h"
#include "gateway/api_http.h"
#include "gateway/worker.h"

enum { API_REPLY_HEAD_BYTES = 512 };

/* A connection's life:
 *
 *   READING --request complete--> WORKING --replies gathered--> WRITING --written--> READING
 *      |                                                            |
 *      +--refused at once (the head failed) ------------------------+
 *                                                   last reply written: FIN, LINGER --> CLOSED
 *
 * Any state may go to CLOSED at once (the peer left, a deadline, the stop deadline). */
enum api_conn_state {
    API_CONN_READING, /* receiving a request: its head, then its body */
    API_CONN_WORKING, /* the request is with the hub: replies awaited */
    API_CONN_WRITING, /* the reply is being written */
    API_CONN_LINGER,  /* the last reply is written and FIN sent; input discarded until EOF */
    API_CONN_CLOSED,  /* socket shut down; freed once no operation or reply refers to it */
};

enum api_continue { API_CONTINUE_NONE, API_CONTINUE_OWED, API_CONTINUE_DONE };

struct api_call; /* an endpoint's state while its request is with the hub (api_routes.c) */

struct api_conn {
    struct api_worker *api;
    struct api_conn *prev, *next; /* api->conns */
    struct api_op recv_op, send_op;
    int fd; /* shut down when CLOSED, closed when the struct is freed */
    uint8_t state;
    uint8_t continue_state; /* enum api_continue: the "100 Continue" of Expect */
    uint8_t continue_sent;  /* its bytes written */
    bool recv_armed, send_inflight;
    bool sending_continue; /* the send in flight is the 100 Continue */
    bool recv_retry;       /* a receive found no buffer: armed again on the next tick */
    bool head_checked;     /* `head` describes the request in rx */
    bool close_after;      /* close once the reply is written */
    bool dispatching;      /* a route is sending requests: replies must not finish it yet */
    bool counted;          /* included in api_connections_open */
    bool reply_ready;      /* out_head (and out_body) hold the reply to write */
    uint32_t pending;      /* hub replies awaited */
    uint32_t served;       /* replies written on this connection */
    uint64_t deadline_ms;  /* loop time; 0: none (WORKING) */
    struct api_head head;
    struct api_error head_error; /* the head failed but its body is read first, then this */
    char *rx;                    /* owned, NULL when idle: the request (head, body, more) */
    size_t rx_len, rx_cap;
    struct api_call *call; /* owned while the request is with the hub */
    /* The reply: out_head, then out_body (owned), then "\n". */
    char *out_body;
    size_t out_body_len, out_head_len, out_sent;
    struct msghdr msg;
    struct iovec iov[3];
    char out_head[API_REPLY_HEAD_BYTES];
};

/* ---- api.c, for the routes ---- */

/* Answers the current request with `code` and the JSON object `body` (ownership passes;
 * the "\n" is added), or with an error body when `body` is NULL (`message` then says why). */
void api_reply(struct api_conn *c, enum api_code code, char *body, size_t body_len);
void api_reply_error(struct api_conn *c, enum api_code code, const char *message);

/* Answers from the worker's scratch jbuf (copied), or 500 when it failed or out of memory. */
void api_reply_scratch(struct api_conn *c);

/* Frees the connection if it is CLOSED and nothing refers to it any more. The caller must not
 * touch it afterwards. */
void api_conn_release(struct api_conn *c);

static inline struct worker *api_worker_of(const struct api_conn *c)
{
    return c->api->worker;
}
static inline const struct gw_options *api_opts(const struct api_conn *c)
{
    return c->api->worker->shared->opts;
}

/* ---- api_routes.c, for the connections ---- */

/* The request in rx (head checked, body complete) is to be answered: c->state is WORKING. */
void api_route(struct api_conn *c);

/* Frees an endpoint's state (a connection freed while replies could not come). */
void api_call_free(struct api_call *call);

/* ---- api_user_status.c ---- */

/* GET /api/users/{id}/status: answered from Redis (counted in c->pending meanwhile). */
void api_route_user_status(struct api_conn *c);

#endif
