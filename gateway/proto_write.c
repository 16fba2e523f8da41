/* Server message builders: see proto_write.h. Each function is the field list of one
 * message of protocol.md section 7, in that order; keys are literals, values go through the
 * jbuf appenders, so escaping is decided in one place (jbuf_str). */
#include "gateway/proto_write.h"

#include <assert.h>
#include <string.h>

/* `{"type":"<type>"` and, for a reply, `,"id":<raw>`. */
#define write_open(jb, type, id)                                                                   \
    do {                                                                                           \
        jbuf_lit((jb), "{\"type\":\"" type "\"");                                                  \
        write_id((jb), (id));                                                                      \
    } while (0)

static void write_id(struct jbuf *jb, const struct json_span *id)
{
    if (!id)
        return;
    assert(id->ptr && id->len > 0);
    jbuf_lit(jb, ",\"id\":");
    jbuf_raw(jb, id->ptr, id->len);
}

static void write_channel(struct jbuf *jb, const char *channel, size_t channel_len)
{
    assert(channel && channel_len > 0);
    jbuf_lit(jb, ",\"channel\":");
    jbuf_str(jb, channel, channel_len);
}

static void write_user_id(struct jbuf *jb, const char *user_id, size_t user_id_len)
{
    jbuf_lit(jb, ",\"user_id\":");
    if (user_id)
        jbuf_str(jb, user_id, user_id_len);
    else
        jbuf_null(jb);
}

static void write_epoch(struct jbuf *jb, const char *epoch)
{
    assert(epoch && epoch[0]);
    jbuf_lit(jb, ",\"epoch\":");
    jbuf_cstr(jb, epoch);
}

void proto_write_error(struct jbuf *jb, const struct json_span *id, enum proto_error code,
                       const char *message, const char *request_type, const char *channel,
                       int64_t retry_after_ms)
{
    assert(code != PROTO_OK && code < PROTO_ERROR_COUNT);
    assert(message);
    write_open(jb, "error", id);
    jbuf_lit(jb, ",\"code\":");
    jbuf_cstr(jb, proto_error_name(code));
    jbuf_lit(jb, ",\"message\":");
    jbuf_cstr(jb, message);
    if (request_type) {
        jbuf_lit(jb, ",\"request_type\":");
        jbuf_cstr(jb, request_type);
    }
    if (channel)
        write_channel(jb, channel, strlen(channel));
    if (retry_after_ms >= 0) {
        jbuf_lit(jb, ",\"retry_after_ms\":");
        jbuf_i64(jb, retry_after_ms);
    }
    jbuf_char(jb, '}');
}

void proto_write_pong(struct jbuf *jb, const struct json_span *id)
{
    write_open(jb, "pong", id);
    jbuf_char(jb, '}');
}

static void write_limits(struct jbuf *jb, const struct proto_limits *limits)
{
    jbuf_lit(jb, ",\"limits\":{\"max_publish_bytes\":");
    jbuf_u64(jb, limits->max_publish_bytes);
    jbuf_lit(jb, ",\"max_channels_per_connection\":");
    jbuf_u64(jb, limits->max_channels_per_connection);
    jbuf_lit(jb, ",\"messages_per_s\":");
    jbuf_u64(jb, limits->messages_per_s);
    jbuf_lit(jb, ",\"messages_burst\":");
    jbuf_u64(jb, limits->messages_burst);
    jbuf_lit(jb, ",\"typing_per_s\":");
    jbuf_u64(jb, limits->typing_per_s);
    jbuf_lit(jb, ",\"history_page_max\":");
    jbuf_u64(jb, limits->history_page_max);
    jbuf_char(jb, '}');
}

void proto_write_connected(struct jbuf *jb, const struct json_span *id, const char *client_id,
                           const char *user_id, size_t user_id_len, int64_t expires_at_ms,
                           uint64_t ping_interval_ms, const struct proto_limits *limits)
{
    assert(client_id && client_id[0]);
    assert(limits);
    write_open(jb, "connected", id);
    jbuf_lit(jb, ",\"client_id\":");
    jbuf_cstr(jb, client_id);
    write_user_id(jb, user_id, user_id_len);
    jbuf_lit(jb, ",\"expires_at\":");
    if (expires_at_ms >= 0)
        jbuf_i64(jb, expires_at_ms);
    else
        jbuf_null(jb);
    jbuf_lit(jb, ",\"protocol\":");
    jbuf_u64(jb, PROTO_WRITE_PROTOCOL_VERSION);
    jbuf_lit(jb, ",\"ping_interval_ms\":");
    jbuf_u64(jb, ping_interval_ms);
    write_limits(jb, limits);
    jbuf_char(jb, '}');
}

void proto_write_list_sep(struct jbuf *jb, bool first)
{
    if (!first)
        jbuf_char(jb, ',');
}

void proto_write_joined_head(struct jbuf *jb, const struct json_span *id, const char *channel,
                             size_t channel_len, const char *epoch, uint64_t offset, bool recovered)
{
    write_open(jb, "joined", id);
    write_channel(jb, channel, channel_len);
    write_epoch(jb, epoch);
    jbuf_lit(jb, ",\"offset\":");
    jbuf_u64(jb, offset);
    jbuf_lit(jb, ",\"recovered\":");
    jbuf_bool(jb, recovered);
    jbuf_lit(jb, ",\"messages\":[");
}

void proto_write_joined_tail(struct jbuf *jb)
{
    jbuf_lit(jb, "]}");
}

void proto_write_left(struct jbuf *jb, const struct json_span *id, const char *channel,
                      size_t channel_len, const char *reason)
{
    assert(reason);
    write_open(jb, "left", id);
    write_channel(jb, channel, channel_len);
    jbuf_lit(jb, ",\"reason\":");
    jbuf_cstr(jb, reason);
    jbuf_char(jb, '}');
}

void proto_write_ack(struct jbuf *jb, const struct json_span *id, const char *channel,
                     size_t channel_len, uint64_t offset, const char *epoch, uint64_t timestamp_ms)
{
    write_open(jb, "ack", id);
    write_channel(jb, channel, channel_len);
    jbuf_lit(jb, ",\"offset\":");
    jbuf_u64(jb, offset);
    write_epoch(jb, epoch);
    jbuf_lit(jb, ",\"timestamp\":");
    jbuf_u64(jb, timestamp_ms);
    jbuf_char(jb, '}');
}

void proto_write_message_head(struct jbuf *jb, const char *channel, size_t channel_len,
                              uint64_t offset, const char *epoch, uint64_t timestamp_ms,
                              const char *user_id, size_t user_id_len)
{
    write_open(jb, "message", NULL);
    write_channel(jb, channel, channel_len);
    jbuf_lit(jb, ",\"offset\":");
    jbuf_u64(jb, offset);
    write_epoch(jb, epoch);
    jbuf_lit(jb, ",\"timestamp\":");
    jbuf_u64(jb, timestamp_ms);
    write_user_id(jb, user_id, user_id_len);
    jbuf_lit(jb, ",\"data\":");
}

void proto_write_message_tail(struct jbuf *jb)
{
    jbuf_char(jb, '}');
}

void proto_write_presence_event(struct jbuf *jb, bool online, const char *channel,
                                size_t channel_len, const char *user_id, size_t user_id_len,
                                uint64_t timestamp_ms)
{
    assert(user_id);
    if (online)
        write_open(jb, "user_online", NULL);
    else
        write_open(jb, "user_offline", NULL);
    write_channel(jb, channel, channel_len);
    write_user_id(jb, user_id, user_id_len);
    jbuf_lit(jb, ",\"timestamp\":");
    jbuf_u64(jb, timestamp_ms);
    jbuf_char(jb, '}');
}

void proto_write_typing(struct jbuf *jb, const char *channel, size_t channel_len,
                        const char *user_id, size_t user_id_len, bool typing, uint64_t timestamp_ms)
{
    assert(user_id);
    write_open(jb, "user_typing", NULL);
    write_channel(jb, channel, channel_len);
    write_user_id(jb, user_id, user_id_len);
    jbuf_lit(jb, ",\"typing\":");
    jbuf_bool(jb, typing);
    jbuf_lit(jb, ",\"timestamp\":");
    jbuf_u64(jb, timestamp_ms);
    jbuf_char(jb, '}');
}

void proto_write_presence_head(struct jbuf *jb, const struct json_span *id, const char *channel,
                               size_t channel_len, uint64_t count)
{
    write_open(jb, "presence", id);
    write_channel(jb, channel, channel_len);
    jbuf_lit(jb, ",\"count\":");
    jbuf_u64(jb, count);
    jbuf_lit(jb, ",\"members\":[");
}

void proto_write_presence_member(struct jbuf *jb, bool first, const char *user_id,
                                 size_t user_id_len, uint64_t connections, uint64_t joined_at_ms)
{
    assert(user_id);
    proto_write_list_sep(jb, first);
    jbuf_lit(jb, "{\"user_id\":");
    jbuf_str(jb, user_id, user_id_len);
    jbuf_lit(jb, ",\"connections\":");
    jbuf_u64(jb, connections);
    jbuf_lit(jb, ",\"joined_at\":");
    jbuf_u64(jb, joined_at_ms);
    jbuf_char(jb, '}');
}

void proto_write_presence_tail(struct jbuf *jb, bool truncated)
{
    jbuf_lit(jb, "],\"truncated\":");
    jbuf_bool(jb, truncated);
    jbuf_char(jb, '}');
}

void proto_write_history_head(struct jbuf *jb, const struct json_span *id, const char *channel,
                              size_t channel_len, const char *epoch, uint64_t offset,
                              uint64_t oldest)
{
    write_open(jb, "history", id);
    write_channel(jb, channel, channel_len);
    write_epoch(jb, epoch);
    jbuf_lit(jb, ",\"offset\":");
    jbuf_u64(jb, offset);
    jbuf_lit(jb, ",\"oldest\":");
    jbuf_u64(jb, oldest);
    jbuf_lit(jb, ",\"messages\":[");
}

void proto_write_history_tail(struct jbuf *jb, bool more)
{
    jbuf_lit(jb, "],\"more\":");
    jbuf_bool(jb, more);
    jbuf_char(jb, '}');
}

void proto_write_gap(struct jbuf *jb, const char *channel, size_t channel_len, const char *epoch,
                     uint64_t from, uint64_t to, const char *reason)
{
    assert(from <= to);
    assert(reason);
    write_open(jb, "gap", NULL);
    write_channel(jb, channel, channel_len);
    write_epoch(jb, epoch);
    jbuf_lit(jb, ",\"from\":");
    jbuf_u64(jb, from);
    jbuf_lit(jb, ",\"to\":");
    jbuf_u64(jb, to);
    jbuf_lit(jb, ",\"reason\":");
    jbuf_cstr(jb, reason);
    jbuf_char(jb, '}');
}

void proto_write_disconnect(struct jbuf *jb, uint16_t code, const char *reason, const char *message,
                            bool reconnect)
{
    assert(reason && message);
    write_open(jb, "disconnect", NULL);
    jbuf_lit(jb, ",\"code\":");
    jbuf_u64(jb, code);
    jbuf_lit(jb, ",\"reason\":");
    jbuf_cstr(jb, reason);
    jbuf_lit(jb, ",\"message\":");
    jbuf_cstr(jb, message);
    jbuf_lit(jb, ",\"reconnect\":");
    jbuf_bool(jb, reconnect);
    jbuf_char(jb, '}');
}

const char *proto_close_reason(uint16_t code)
{
    switch (code) {
    case 1000:
        return "normal";
    case 1002:
        return "protocol_error";
    case 1003:
        return "binary_not_supported";
    case 1007:
        return "invalid_utf8";
    case 1008:
        return "slow_consumer";
    case 1009:
        return "message_too_big";
    case 1011:
        return "internal_error";
    case 4001:
        return "auth_failed";
    case 4002:
        return "token_expired";
    case 4003:
        return "kicked";
    case 4004:
        return "too_many_errors";
    case 4005:
        return "connect_timeout";
    case 4006:
        return "reconnect_requested";
    case 4007:
        return "too_many_user_connections";
    default:
        return NULL; /* 1001 has two reasons; anything else is not a protocol close code */
    }
}
