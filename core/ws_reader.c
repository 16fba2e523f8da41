/* Streaming RFC 6455 frame reader: see ws_reader.h for the memory contract.
 *
 * The reader alternates between two steps: decode and check a frame header, then consume
 * payload. Data payload is unmasked, UTF-8-checked and handed out in whatever pieces the
 * caller's spans allow; a control frame is handled only when it is whole, which is why the
 * caller may have to carry up to WS_READER_CARRY_BYTES_MAX bytes. The one rule to keep
 * when changing this file: bytes that are returned as not consumed must be left exactly
 * as they came (not unmasked), because the caller presents them again.
 *
 * r->frames counts a data frame when its header is accepted and a control frame when it
 * is delivered, so every way of splitting the same bytes gives the same count.
 */
#include "core/ws_reader.h"

#include <assert.h>
#include <limits.h>
#include <string.h>

void ws_reader_init(struct ws_reader *r, enum ws_role role, uint64_t max_message_bytes)
{
    assert(r != NULL);
    assert(role == WS_ROLE_SERVER || role == WS_ROLE_CLIENT);
    memset(r, 0, sizeof(*r));
    r->max_message_bytes = max_message_bytes;
    r->utf8 = UTF8_ACCEPT;
    r->role = (uint8_t)role;
}

static ssize_t ws_reader_fail(struct ws_reader *r, uint16_t code)
{
    assert(r->error == 0);
    assert(code == WS_CLOSE_PROTOCOL_ERROR || code == WS_CLOSE_INVALID_PAYLOAD ||
           code == WS_CLOSE_MESSAGE_TOO_BIG);
    r->error = code;
    return -1;
}

/* Returns the close code a header breaks, or 0 when the peer may send it now. */
static uint16_t ws_reader_check_header(const struct ws_reader *r, const struct ws_frame_header *h)
{
    bool mask_expected = r->role == WS_ROLE_SERVER;
    if (h->rsv != 0 || !ws_opcode_known(h->opcode) || h->masked != mask_expected) {
        return WS_CLOSE_PROTOCOL_ERROR;
    }
    if (ws_opcode_is_control(h->opcode)) {
        bool ok = h->fin && h->payload_len <= WS_CONTROL_PAYLOAD_BYTES_MAX;
        return ok ? 0 : WS_CLOSE_PROTOCOL_ERROR;
    }
    bool continuation = h->opcode == WS_OP_CONTINUATION;
    if (continuation != ws_reader_in_message(r)) {
        return WS_CLOSE_PROTOCOL_ERROR;
    }
    uint64_t message_bytes = continuation ? r->message_bytes : 0;
    assert(message_bytes <= r->max_message_bytes);
    if (h->payload_len > r->max_message_bytes - message_bytes) {
        return WS_CLOSE_MESSAGE_TOO_BIG;
    }
    return 0;
}

/* Returns the close code an unmasked CLOSE payload breaks, or 0 when it is well formed. */
static uint16_t ws_reader_check_close(const uint8_t *payload, size_t len)
{
    assert(len <= WS_CONTROL_PAYLOAD_BYTES_MAX);
    if (len == 0) {
        return 0;
    }
    if (len == 1) {
        return WS_CLOSE_PROTOCOL_ERROR;
    }
    uint16_t code = (uint16_t)((payload[0] << 8) | payload[1]);
    if (!ws_close_code_valid(code)) {
        return WS_CLOSE_PROTOCOL_ERROR;
    }
    return utf8_is_valid(payload + 2, len - 2) ? 0 : WS_CLOSE_INVALID_PAYLOAD;
}

/* Consumes payload of the current data frame from the front of `data`. Returns the bytes
 * consumed (0 only when `len` is 0 and the frame still has payload to come) or -1. */
static ssize_t ws_reader_payload(struct ws_reader *r, uint8_t *data, size_t len,
                                 const struct ws_reader_ops *ops, void *ctx)
{
    assert(r->in_frame);
    assert(r->message_opcode == WS_OP_TEXT || r->message_opcode == WS_OP_BINARY);
    size_t n = r->frame_left < len ? (size_t)r->frame_left : len;
    if (r->role == WS_ROLE_SERVER) {
        r->mask_offset = (uint8_t)ws_mask_apply(data, n, r->mask, r->mask_offset);
    }
    r->frame_left -= n;
    bool frame_end = r->frame_left == 0;
    bool message_end = frame_end && r->frame_fin;
    if (r->message_opcode == WS_OP_TEXT) {
        r->utf8 = utf8_validate_step(r->utf8, data, n);
        if (r->utf8 == UTF8_REJECT || (message_end && r->utf8 != UTF8_ACCEPT)) {
            return ws_reader_fail(r, WS_CLOSE_INVALID_PAYLOAD);
        }
    }
    if (n > 0 || message_end) {
        ops->on_data(ctx, r->message_opcode, data, n, message_end);
    }
    if (frame_end) {
        r->in_frame = false;
    }
    if (message_end) {
        r->message_opcode = 0;
        r->message_bytes = 0;
        r->utf8 = UTF8_ACCEPT;
    }
    return (ssize_t)n;
}

static void ws_reader_start_data(struct ws_reader *r, const struct ws_frame_header *h)
{
    assert(!r->in_frame);
    assert(!ws_opcode_is_control(h->opcode));
    if (h->opcode != WS_OP_CONTINUATION) {
        r->message_opcode = h->opcode;
        r->message_bytes = 0;
        r->utf8 = UTF8_ACCEPT;
    }
    r->message_bytes += h->payload_len;
    r->frame_left = h->payload_len;
    r->frame_opcode = h->opcode;
    r->frame_fin = h->fin;
    memcpy(r->mask, h->mask, sizeof(r->mask));
    r->mask_offset = 0;
    r->in_frame = true;
}

/* Handles a control frame whose header (`header_bytes` long) is at the front of `data`.
 * Returns the frame's length, 0 when its payload is not all there yet (nothing is touched),
 * or -1. */
static ssize_t ws_reader_control(struct ws_reader *r, uint8_t *data, size_t len,
                                 size_t header_bytes, const struct ws_frame_header *h,
                                 const struct ws_reader_ops *ops, void *ctx)
{
    assert(h->payload_len <= WS_CONTROL_PAYLOAD_BYTES_MAX);
    assert(header_bytes <= len);
    size_t payload_len = (size_t)h->payload_len;
    if (len - header_bytes < payload_len) {
        return 0;
    }
    uint8_t *payload = data + header_bytes;
    if (h->masked) {
        ws_mask_apply(payload, payload_len, h->mask, 0);
    }
    if (h->opcode == WS_OP_CLOSE) {
        uint16_t code = ws_reader_check_close(payload, payload_len);
        if (code != 0) {
            return ws_reader_fail(r, code);
        }
        r->closed = true;
    }
    ops->on_control(ctx, h->opcode, payload, payload_len);
    return (ssize_t)(header_bytes + payload_len);
}

/* Decodes and checks the frame header at the front of `data` and acts on it. Returns the
 * bytes consumed (0 when the header or a control frame is incomplete) or -1. A data frame's
 * header is consumed as soon as it is whole, together with whatever payload follows. */
static ssize_t ws_reader_frame(struct ws_reader *r, uint8_t *data, size_t len,
                               const struct ws_reader_ops *ops, void *ctx)
{
    assert(!r->in_frame);
    assert(len > 0);
    struct ws_frame_header h;
    int decoded = ws_frame_header_decode(data, len, &h);
    if (decoded < 0) {
        return ws_reader_fail(r, WS_CLOSE_PROTOCOL_ERROR);
    }
    if (decoded == 0) {
        return 0;
    }
    size_t header_bytes = (size_t)decoded;
    uint16_t code = ws_reader_check_header(r, &h);
    if (code != 0) {
        return ws_reader_fail(r, code);
    }
    if (ws_opcode_is_control(h.opcode)) {
        ssize_t consumed = ws_reader_control(r, data, len, header_bytes, &h, ops, ctx);
        r->frames += consumed > 0;
        return consumed;
    }
    r->frames++;
    ws_reader_start_data(r, &h);
    ssize_t payload = ws_reader_payload(r, data + header_bytes, len - header_bytes, ops, ctx);
    return payload < 0 ? -1 : (ssize_t)header_bytes + payload;
}

ssize_t ws_reader_feed(struct ws_reader *r, uint8_t *data, size_t len,
                       const struct ws_reader_ops *ops, void *ctx)
{
    assert(r != NULL && ops != NULL && ops->on_data != NULL && ops->on_control != NULL);
    assert((data != NULL || len == 0) && len <= SSIZE_MAX);
    if (r->error != 0) {
        return -1;
    }
    size_t pos = 0;
    /* Every pass consumes at least one byte or leaves the loop, so it runs at most len times. */
    while (pos < len && !r->closed) {
        ssize_t n = r->in_frame ? ws_reader_payload(r, data + pos, len - pos, ops, ctx)
                                : ws_reader_frame(r, data + pos, len - pos, ops, ctx);
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            break;
        }
        pos += (size_t)n;
    }
    assert(pos <= len);
    return (ssize_t)pos;
}
