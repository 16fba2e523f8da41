/* The client protocol's output side: each builder appends one complete server message of
 * docs/protocol.md section 7 to a jbuf, as one JSON object without whitespace, with the
 * fields in the order that section lists.
 *
 * Builders never fail on their own: errors (out of memory, the buffer's byte limit) are the
 * jbuf's sticky `failed`, checked once by the caller after the whole message.
 *
 * Strings from callers (channel names, user ids, epochs, sentences) are escaped with
 * jbuf_str and must be valid UTF-8. The `id` of a reply is the client's raw JSON, copied
 * byte for byte as sent right after "type"; NULL means the request had none. Replies that
 * carry lists are written in three parts (head, elements, tail) so that elements (stored
 * `message` objects, presence members) are appended straight into the buffer without an
 * intermediate copy.
 */
#ifndef TIDEGATE_GATEWAY_PROTO_WRITE_H
#define TIDEGATE_GATEWAY_PROTO_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/jbuf.h"
#include "core/json.h"
#include "gateway/proto.h"

/* The `protocol` number in `connected` (protocol.md 2.4, 7.1). */
enum { PROTO_WRITE_PROTOCOL_VERSION = 1 };

/* The `limits` object of `connected`, as advertised to the client. */
struct proto_limits {
    uint64_t max_publish_bytes;
    uint64_t max_channels_per_connection;
    uint64_t messages_per_s;
    uint64_t messages_burst;
    uint64_t typing_per_s;
    uint64_t history_page_max;
};

/* error (7.6): `code` is written by proto_error_name(code) and must not be PROTO_OK;
 * `message` a sentence; `request_type` and `channel` are omitted when NULL, retry_after_ms
 * when negative. */
void proto_write_error(struct jbuf *jb, const struct json_span *id, enum proto_error code,
                       const char *message, const char *request_type, const char *channel,
                       int64_t retry_after_ms);

/* pong (7.11). */
void proto_write_pong(struct jbuf *jb, const struct json_span *id);

/* connected (7.1): `client_id` NUL-terminated; user_id NULL for an anonymous connection
 * (written as null, user_id_len ignored); expires_at_ms negative for no expiry (null). */
void proto_write_connected(struct jbuf *jb, const struct json_span *id, const char *client_id,
                           const char *user_id, size_t user_id_len, int64_t expires_at_ms,
                           uint64_t ping_interval_ms, const struct proto_limits *limits);

/* A list element separator: "," before every element but the first. For the `messages` of
 * joined and history, whose elements are whole `message` objects. */
void proto_write_list_sep(struct jbuf *jb, bool first);

/* joined (7.2) up to and including `"messages":[`; then for each replayed message
 * proto_write_list_sep and the message object; then proto_write_joined_tail (`]}`). */
void proto_write_joined_head(struct jbuf *jb, const struct json_span *id, const char *channel,
                             size_t channel_len, const char *epoch, uint64_t offset,
                             bool recovered);
void proto_write_joined_tail(struct jbuf *jb);

/* left (7.3): reason "client" (a reply, with the request's id) or "epoch_changed" (an
 * event: id NULL). */
void proto_write_left(struct jbuf *jb, const struct json_span *id, const char *channel,
                      size_t channel_len, const char *reason);

/* ack (7.5) of a published message. */
void proto_write_ack(struct jbuf *jb, const struct json_span *id, const char *channel,
                     size_t channel_len, uint64_t offset, const char *epoch, uint64_t timestamp_ms);

/* message (7.4) up to and including `"data":`; the caller appends the publisher's raw `data`
 * with jbuf_raw and then proto_write_message_tail (`}`). user_id NULL is written as null. */
void proto_write_message_head(struct jbuf *jb, const char *channel, size_t channel_len,
                              uint64_t offset, const char *epoch, uint64_t timestamp_ms,
                              const char *user_id, size_t user_id_len);
void proto_write_message_tail(struct jbuf *jb);

/* user_online (online true) or user_offline (7.7). */
void proto_write_presence_event(struct jbuf *jb, bool online, const char *channel,
                                size_t channel_len, const char *user_id, size_t user_id_len,
                                uint64_t timestamp_ms);

/* user_typing (7.8), the relayed event. */
void proto_write_typing(struct jbuf *jb, const char *channel, size_t channel_len,
                        const char *user_id, size_t user_id_len, bool typing,
                        uint64_t timestamp_ms);

/* presence (7.9) up to and including `"members":[`; then one proto_write_presence_member
 * per member (first true for the first one: it writes its own separator); then
 * proto_write_presence_tail (`],"truncated":X}`). */
void proto_write_presence_head(struct jbuf *jb, const struct json_span *id, const char *channel,
                               size_t channel_len, uint64_t count);
void proto_write_presence_member(struct jbuf *jb, bool first, const char *user_id,
                                 size_t user_id_len, uint64_t connections, uint64_t joined_at_ms);
void proto_write_presence_tail(struct jbuf *jb, bool truncated);

/* history (7.10) up to and including `"messages":[`; elements as for joined; then
 * proto_write_history_tail (`],"more":X}`). */
void proto_write_history_head(struct jbuf *jb, const struct json_span *id, const char *channel,
                              size_t channel_len, const char *epoch, uint64_t offset,
                              uint64_t oldest);
void proto_write_history_tail(struct jbuf *jb, bool more);

/* gap (7.12): messages from..to (inclusive, from <= to) were not delivered; reason
 * "slow_consumer" or "dropped". */
void proto_write_gap(struct jbuf *jb, const char *channel, size_t channel_len, const char *epoch,
                     uint64_t from, uint64_t to, const char *reason);

/* disconnect (7.13): the notice before a close the server starts. `reason` is the close
 * code's name (proto_close_reason, or "server_shutdown"/"idle_timeout" for 1001). */
void proto_write_disconnect(struct jbuf *jb, uint16_t code, const char *reason, const char *message,
                            bool reconnect);

/* The snake_case `reason` of a close code (protocol.md 10.1), for the codes that have exactly
 * one: 1000 1002 1003 1007 1008 1009 1011 4001-4007. NULL for 1001, which has two
 * (server_shutdown, idle_timeout: the caller knows which and passes it itself), and for
 * codes the protocol does not define. */
const char *proto_close_reason(uint16_t code);

#endif
