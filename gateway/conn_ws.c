/* WebSocket frames on an open connection: feed received bytes to the streaming reader,
 * carry a split header or control frame over to the next receive, answer pings and closes,
 * and (when enabled) echo data messages.
 *
 * Carry rule (ws_reader.h): the reader consumes everything except an incomplete frame
 * header or control frame at the end of a span, at most WS_READER_CARRY_BYTES_MAX bytes.
 * Those bytes go to c->rx (allocated only then) and are joined with the next receive.
 */
#include "gateway/conn_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "gateway/session.h"

enum { WS_CARRY_CAP = 2 * WS_READER_CARRY_BYTES_MAX };

static enum gw_close_reason ws_error_reason(uint16_t code)
{
    switch (code) {
    case WS_CLOSE_INVALID_PAYLOAD:
        return GW_CLOSE_INVALID_PAYLOAD;
    case WS_CLOSE_MESSAGE_TOO_BIG:
        return GW_CLOSE_MESSAGE_TOO_BIG;
    default:
        return GW_CLOSE_PROTOCOL_ERROR;
    }
}

static const char *ws_error_text(uint16_t code)
{
    switch (code) {
    case WS_CLOSE_INVALID_PAYLOAD:
        return "invalid UTF-8";
    case WS_CLOSE_MESSAGE_TOO_BIG:
        return "message too big";
    default:
        return "protocol error";
    }
}

/* Appends a piece of a message to the assembly buffer (echo only). */
static bool ws_assemble(struct conn *c, const uint8_t *data, size_t len)
{
    size_t need = (size_t)c->msg_len + len;
    assert(need <= conn_opts(c)->max_message_bytes); /* the reader enforces the limit */
    if (need > c->msg_cap) {
        size_t cap = c->msg_cap ? (size_t)c->msg_cap * 2 : 4096;
        while (cap < need)
            cap *= 2;
        if (cap > conn_opts(c)->max_message_bytes)
            cap = conn_opts(c)->max_message_bytes;
        uint8_t *msg = realloc(c->msg, cap);
        if (msg == NULL)
            return false;
        c->msg = msg;
        c->msg_cap = (uint32_t)cap;
    }
    if (len > 0)
        memcpy(c->msg + c->msg_len, data, len);
    c->msg_len = (uint32_t)need;
    return true;
}

/* A whole message: echoed, or handed to the client protocol. */
static void ws_on_message(struct conn *c, uint8_t opcode, const uint8_t *data, size_t len)
{
    if (conn_opts(c)->echo)
        conn_send_frame(c, opcode, data, len);
    else
        session_on_message(c, data, len);
}

static void ws_on_data(void *ctx, uint8_t opcode, const uint8_t *data, size_t len, bool message_end)
{
    struct conn *c = ctx;
    if (message_end)
        gw_metric_add(&c->worker->metrics->messages_received, 1);
    if (c->state != CONN_OPEN)
        return; /* closing: what still arrives is validated and dropped */
    if (!conn_opts(c)->echo && opcode == WS_OP_BINARY) {
        session_on_binary(c); /* refused on its first piece */
        return;
    }
    if (message_end && c->msg == NULL) {
        ws_on_message(c, opcode, data, len); /* whole message in one piece: no copy */
        return;
    }
    if (!ws_assemble(c, data, len)) {
        conn_start_close(c, WS_CLOSE_INTERNAL_ERROR, "out of memory", GW_CLOSE_INTERNAL);
        return;
    }
    if (message_end) {
        /* Take the buffer: handling the message may close the connection, which drops
         * c->msg while the handler still reads it. */
        uint8_t *msg = c->msg;
        size_t msg_len = c->msg_len;
        c->msg = NULL;
        c->msg_len = c->msg_cap = 0;
        ws_on_message(c, opcode, msg, msg_len);
        free(msg);
    }
}

static void ws_on_close_frame(struct conn *c, const uint8_t *payload, size_t len)
{
    c->close_received = true;
    if (c->state == CONN_OPEN) {
        /* Echo the peer's code and reason (RFC 6455 5.5.1: the reader has validated both);
         * an empty close is answered with 1000. */
        if (len >= 2)
            conn_start_close_payload(c, payload, len, GW_CLOSE_CLIENT);
        else
            conn_start_close(c, WS_CLOSE_NORMAL, "", GW_CLOSE_CLIENT);
    }
    if (c->state == CONN_CLOSING && conn_output_empty(c) && !c->send_inflight &&
        !conn_tls_close_notify(c))
        conn_close_socket(c); /* (wss: once our close_notify is written, conn.c closes) */
}

static void ws_on_control(void *ctx, uint8_t opcode, const uint8_t *payload, size_t len)
{
    struct conn *c = ctx;
    switch (opcode) {
    case WS_OP_PING:
        if (c->state == CONN_OPEN)
            conn_send_frame(c, WS_OP_PONG, payload, len);
        break;
    case WS_OP_PONG: /* liveness only: last_rx_ms already moved */
        break;
    case WS_OP_CLOSE:
        ws_on_close_frame(c, payload, len);
        break;
    default:
        assert(!"ws_reader reported a non-control opcode");
    }
}

static const struct ws_reader_ops ws_ops = {.on_data = ws_on_data, .on_control = ws_on_control};

/* Feeds one span; returns bytes consumed or -1 after failing the connection. */
static ssize_t ws_feed(struct conn *c, uint8_t *data, size_t len)
{
    uint64_t frames_before = c->reader.frames;
    ssize_t consumed = ws_reader_feed(&c->reader, data, len, &ws_ops, c);
    gw_metric_add(&c->worker->metrics->frames_received, c->reader.frames - frames_before);
    if (consumed < 0) {
        uint16_t code = c->reader.error;
        log_debug("conn", "protocol violation", "close_code=%u", code);
        conn_fail(c, code, ws_error_text(code), ws_error_reason(code));
    }
    return consumed;
}

static bool ws_carry(struct conn *c, const uint8_t *data, size_t len)
{
    assert(len <= WS_READER_CARRY_BYTES_MAX);
    if (c->rx == NULL) {
        c->rx = malloc(WS_CARRY_CAP);
        if (c->rx == NULL) {
            c->close_reason = GW_CLOSE_INTERNAL;
            conn_close_socket(c);
            return false;
        }
        c->rx_cap = WS_CARRY_CAP;
    }
    memmove(c->rx, data, len);
    c->rx_len = (uint32_t)len;
    return true;
}

/* Joins the carried bytes with the start of the new span and feeds them. Returns how many
 * bytes of the new span that consumed, or -1 when the connection failed or the carry still
 * holds an incomplete element (all of the new span was taken). */
static ssize_t ws_feed_carry(struct conn *c, const uint8_t *data, size_t len)
{
    size_t old = c->rx_len;
    size_t take = WS_CARRY_CAP - old < len ? WS_CARRY_CAP - old : len;
    memcpy(c->rx + old, data, take);
    ssize_t consumed = ws_feed(c, c->rx, old + take);
    if (consumed < 0 || c->state == CONN_CLOSED || c->state == CONN_LINGER)
        return -1;
    if ((size_t)consumed < old || c->reader.closed) {
        /* Still incomplete: the element needs more than this span held, or the reader
         * stopped at a close frame and the rest is ignored. */
        assert(take == len || c->reader.closed);
        if (c->reader.closed)
            conn_drop_rx(c);
        else
            ws_carry(c, c->rx + consumed, old + take - (size_t)consumed);
        return -1;
    }
    conn_drop_rx(c);
    return consumed - (ssize_t)old;
}

void conn_ws_on_bytes(struct conn *c, uint8_t *data, size_t len)
{
    assert(c->state == CONN_OPEN || c->state == CONN_CLOSING);
    if (c->reader.closed)
        return; /* bytes after a close frame mean nothing */
    if (c->rx_len > 0) {
        ssize_t used = ws_feed_carry(c, data, len);
        if (used < 0)
            return;
        data += used;
        len -= (size_t)used;
    }
    ssize_t consumed = ws_feed(c, data, len);
    if (consumed < 0 || c->state == CONN_CLOSED || c->state == CONN_LINGER || c->reader.closed)
        return;
    if ((size_t)consumed < len)
        ws_carry(c, data + consumed, len - (size_t)consumed);
}
