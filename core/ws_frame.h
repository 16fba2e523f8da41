/* RFC 6455 frame format: opcodes, header encode and decode, masking, close payloads.
 *
 * This is the stateless half of the codec, shared by the server (gateway) and the client
 * (bench harness). The stateful, streaming half that enforces the protocol rules across
 * frames (fragmentation, UTF-8, sizes) is ws_reader.h.
 */
#ifndef TIDEGATE_CORE_WS_FRAME_H
#define TIDEGATE_CORE_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ws_opcode {
    WS_OP_CONTINUATION = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
};

/* Close status codes we send (RFC 6455 section 7.4.1). */
enum ws_close_code {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL_ERROR = 1002,
    WS_CLOSE_UNSUPPORTED_DATA = 1003,
    WS_CLOSE_NO_STATUS = 1005, /* never on the wire */
    WS_CLOSE_ABNORMAL = 1006,  /* never on the wire */
    WS_CLOSE_INVALID_PAYLOAD = 1007,
    WS_CLOSE_POLICY_VIOLATION = 1008,
    WS_CLOSE_MESSAGE_TOO_BIG = 1009,
    WS_CLOSE_INTERNAL_ERROR = 1011,
};

enum {
    WS_FRAME_HEADER_BYTES_MAX = 14, /* 2 + 8 extended length + 4 mask */
    WS_CONTROL_PAYLOAD_BYTES_MAX = 125,
};

struct ws_frame_header {
    bool fin;
    uint8_t rsv;    /* RSV1..3 as bits 2..0; must be 0 (we negotiate no extension) */
    uint8_t opcode; /* raw 4-bit opcode, possibly unknown */
    bool masked;
    uint8_t mask[4];      /* valid when masked */
    uint64_t payload_len; /* as announced; at most 2^63 - 1 */
};

/* Decodes a frame header from the first `len` bytes of `p`.
 * Returns the header length (2..14) on success, 0 when more bytes are needed, and -1 when
 * the header is malformed in a way no later byte can fix: a 64-bit length with the most
 * significant bit set (reported as soon as that length byte is present). A length not in
 * its minimal encoding is NOT an error (RFC 6455 asks senders, not receivers, for it).
 * `h` is written only on success. Rule checks (opcode, rsv, masking, control sizes) are
 * ws_reader's job. */
int ws_frame_header_decode(const uint8_t *p, size_t len, struct ws_frame_header *h);

/* Encodes a header into `out` (WS_FRAME_HEADER_BYTES_MAX bytes) and returns its length.
 * `mask` is NULL for server frames and the 4 masking bytes for client frames (the caller
 * then masks the payload with ws_mask_apply). The length uses its minimal encoding. */
size_t ws_frame_header_encode(uint8_t *out, uint8_t opcode, bool fin, uint64_t payload_len,
                              const uint8_t *mask);

/* XORs `len` bytes with the mask, starting at mask byte `mask_offset % 4`. Returns the
 * mask offset after the last byte, so a payload can be unmasked in pieces. Word-at-a-time. */
unsigned ws_mask_apply(uint8_t *data, size_t len, const uint8_t mask[4], unsigned mask_offset);

/* True for opcodes RFC 6455 defines: 0x0-0x2, 0x8-0xA. */
bool ws_opcode_known(uint8_t opcode);
static inline bool ws_opcode_is_control(uint8_t opcode)
{
    return (opcode & 0x8) != 0;
}

/* True when a peer may send `code` in a close frame (RFC 6455 section 7.4):
 * 1000-1003, 1007-1011, 1012-1014 (IANA registered), 3000-4999. Never 1004-1006, 1015. */
bool ws_close_code_valid(uint16_t code);

/* Builds a close frame payload: 2-byte code plus a reason truncated to fit 125 bytes on a
 * UTF-8 character boundary. Returns the payload length. `out` holds 125 bytes. `code` must
 * satisfy ws_close_code_valid; `reason` may be NULL, and a reason that is not valid UTF-8
 * is left out (the peer would fail the connection with 1007 on it). */
size_t ws_close_payload_encode(uint8_t *out, uint16_t code, const char *reason);

#endif
