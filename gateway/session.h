/* The client protocol on one connection (docs/protocol.md): authentication, the order of
 * checks of section 2.5, rate and error limits, replies, disconnect notices. Requests about
 * channels are handed to the hub (hub.h); its replies come back through the functions
 * below.
 *
 * A session exists from the 101 response (unless the gateway runs with `echo`) until the
 * connection is freed. It counts the hub requests still waiting for a reply: the connection
 * is not freed while any is pending, so a reply always finds it (it may be closed by then;
 * the reply is then dropped).
 */
#ifndef TIDEGATE_GATEWAY_SESSION_H
#define TIDEGATE_GATEWAY_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/json.h"
#include "core/token_bucket.h"
#include "gateway/jwt.h"
#include "gateway/proto.h"

struct conn;
struct sub;
struct user_status_check;

/* The capabilities a token granted, compacted: patterns[0..join_count) are `caps.join`, the
 * rest `caps.publish`; each points into bytes. */
struct session_caps {
    uint16_t join_count, publish_count;
    struct jwt_cap_pattern *patterns;
    char *bytes;
};

struct session {
    bool connected;
    bool authenticated;        /* a token was accepted (false: anonymous or not yet) */
    uint8_t user_id_len;       /* 0 when anonymous */
    char *user_id;             /* owned, NUL-terminated; NULL when anonymous */
    struct session_caps *caps; /* owned; NULL when the token had none */
    uint64_t deadline_ms;      /* loop time: connect_timeout, then token expiry; 0 = none */
    int64_t expires_at_ms;     /* wall clock: exp + leeway, for `connected`; -1 = none */
    struct token_bucket messages;
    struct token_bucket errors;
    struct token_bucket typing;
    struct sub *subs; /* joined and joining channels */
    uint32_t sub_count;
    uint32_t pending; /* hub requests awaiting a reply */
    uint64_t serial;  /* for the client id */
    /* User status (redis_url): an authenticated connection is counted once admitted. */
    struct user_status_check *status_check; /* the limit check in flight: `connected` waits */
    char *admit_id;                         /* owned while it waits: the connect's raw id */
    uint8_t admit_id_len;
    bool has_admit_id;
    bool status_counted; /* counted: user_status_disconnect is owed when the session ends */
};

/* Creates the session right after the 101 (conn_upgrade.c). `token` is the raw `token` query
 * parameter (percent-encoded as sent; len 0 when absent or empty). Verifies it at once when
 * present: `connected` is sent, or `disconnect` 4001/4002 and the close. Without a token, arms
 * the connect deadline. With user_max_connections, `connected` of an authenticated user waits
 * for Redis's verdict (at most its command timeout): 4007 when over the limit. Returns false
 * when out of memory (the connection is then closed). */
bool session_open(struct conn *c, const char *token, size_t token_len);

/* A whole text message arrived (UTF-8 already validated by the WebSocket layer). */
void session_on_message(struct conn *c, const uint8_t *data, size_t len);

/* A binary message arrived: `disconnect` 1003 and close. */
void session_on_binary(struct conn *c);

/* The connection's timer fired in OPEN state at or after session->deadline_ms: connect
 * timeout (4005) or token expiry (4002). Returns true when it acted. */
bool session_on_deadline(struct conn *c);

/* The connection leaves OPEN or closes (conn.c; idempotent): a counted connection is
 * uncounted in user status, a limit check in flight is cancelled. */
void session_end(struct conn *c);

/* Frees the session (when the connection is freed). */
void session_free(struct conn *c);

/* True while hub requests of this connection await replies (the connection must stay). */
bool session_busy(const struct conn *c);

/* ---- for the hub ---- */

/* Copies the user id (JWT_SUB_BYTES_MAX + 1 bytes of room) and its length (0: anonymous). */
void session_user_copy(const struct conn *c, char *out, uint8_t *len);

/* Counts a hub request as pending / answered (the last answer of a closed connection may
 * free it). */
void session_request_sent(struct conn *c);
void session_request_done(struct conn *c);

/* Queues a reply or notice (one JSON object) as a text frame. Replies are never skipped: a
 * connection whose send queue is over send_queue_bytes_max gets `disconnect` 1008 instead.
 * Returns false when nothing was queued (closed, or closed now). */
bool session_send_json(struct conn *c, const char *json, size_t len);

/* Sends an `error` reply (and counts a strike when the code strikes; the strike that empties
 * the error bucket closes with 4004 instead). `channel` may be NULL. */
void session_send_error(struct conn *c, const struct json_span *id, enum proto_error code,
                        const char *message, enum proto_type type, const char *channel);

/* Ends the connection as a slow consumer: `disconnect` 1008 (queued past the limit) and
 * close 1008. */
void session_slow_consumer(struct conn *c);

/* Sends `disconnect` with `code` and closes with it. */
void session_disconnect(struct conn *c, uint16_t code, const char *reason, const char *message,
                        bool reconnect);

#endif
