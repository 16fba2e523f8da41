/* RFC 6455 frame format: header encode and decode, masking, close payloads (see ws_frame.h).
 *
 * Stateless and allocation-free. Everything here checks the wire format only; the protocol
 * rules (which opcodes, masks and sizes a peer may send) live in ws_reader.c, so a change of
 * policy never touches this file.
 */
#include "core/ws_frame.h"

#include <assert.h>
#include <string.h>

#include "core/utf8.h"

enum {
    WS_LEN7_MAX = 125,   /* largest length carried in the 7-bit field */
    WS_LEN7_16BIT = 126, /* 7-bit field value: a 16-bit length follows */
    WS_LEN7_64BIT = 127, /* 7-bit field value: a 64-bit length follows */
    WS_CLOSE_CODE_BYTES = 2,
    WS_CLOSE_REASON_BYTES_MAX = WS_CONTROL_PAYLOAD_BYTES_MAX - WS_CLOSE_CODE_BYTES,
    WS_MASK_WORD_BYTES = 8,
};

#define WS_PAYLOAD_LEN_MAX ((uint64_t)INT64_MAX)

/* Length of the extended payload length field announced by the 7-bit field. */
static size_t ws_ext_len_bytes(uint8_t len7)
{
    if (len7 == WS_LEN7_64BIT) {
        return 8;
    }
    return len7 == WS_LEN7_16BIT ? 2 : 0;
}

static uint64_t ws_read_be(const uint8_t *p, size_t n)
{
    assert(n == 2 || n == 8);
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

int ws_frame_header_decode(const uint8_t *p, size_t len, struct ws_frame_header *h)
{
    assert(p != NULL || len == 0);
    assert(h != NULL);
    if (len < 2) {
        return 0;
    }
    uint8_t len7 = p[1] & 0x7F;
    size_t ext_bytes = ws_ext_len_bytes(len7);
    bool masked = (p[1] & 0x80) != 0;
    /* The high bit of a 64-bit length is wrong whatever follows: say so at once. */
    if (ext_bytes == 8 && len > 2 && (p[2] & 0x80) != 0) {
        return -1;
    }
    size_t header_bytes = 2 + ext_bytes + (masked ? 4 : 0);
    if (len < header_bytes) {
        return 0;
    }
    h->fin = (p[0] & 0x80) != 0;
    h->rsv = (uint8_t)((p[0] >> 4) & 0x7);
    h->opcode = p[0] & 0x0F;
    h->masked = masked;
    h->payload_len = ext_bytes == 0 ? len7 : ws_read_be(p + 2, ext_bytes);
    if (masked) {
        memcpy(h->mask, p + 2 + ext_bytes, 4);
    } else {
        memset(h->mask, 0, 4);
    }
    assert(h->payload_len <= WS_PAYLOAD_LEN_MAX);
    return (int)header_bytes;
}

size_t ws_frame_header_encode(uint8_t *out, uint8_t opcode, bool fin, uint64_t payload_len,
                              const uint8_t *mask)
{
    assert(out != NULL);
    assert(ws_opcode_known(opcode));
    assert(payload_len <= WS_PAYLOAD_LEN_MAX);
    assert(!ws_opcode_is_control(opcode) || (fin && payload_len <= WS_CONTROL_PAYLOAD_BYTES_MAX));
    size_t n = 0;
    out[n++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
    uint8_t mask_bit = mask != NULL ? 0x80 : 0;
    if (payload_len <= WS_LEN7_MAX) {
        out[n++] = (uint8_t)(mask_bit | payload_len);
    } else {
        size_t ext_bytes = payload_len <= UINT16_MAX ? 2 : 8;
        out[n++] = (uint8_t)(mask_bit | (ext_bytes == 2 ? WS_LEN7_16BIT : WS_LEN7_64BIT));
        for (size_t i = 0; i < ext_bytes; i++) {
            out[n++] = (uint8_t)(payload_len >> (8 * (ext_bytes - 1 - i)));
        }
    }
    if (mask != NULL) {
        memcpy(out + n, mask, 4);
        n += 4;
    }
    assert(n <= WS_FRAME_HEADER_BYTES_MAX);
    return n;
}

/* Word-at-a-time: the mask is rotated to the starting offset and repeated over 8 bytes, so
 * every whole word is one XOR and the offset is unchanged after it. Words are moved with
 * memcpy, which compiles to plain (unaligned) loads and stores without alignment UB. */
unsigned ws_mask_apply(uint8_t *data, size_t len, const uint8_t mask[4], unsigned mask_offset)
{
    assert(data != NULL || len == 0);
    assert(mask != NULL);
    uint8_t pattern_bytes[WS_MASK_WORD_BYTES];
    for (unsigned i = 0; i < WS_MASK_WORD_BYTES; i++) {
        pattern_bytes[i] = mask[(mask_offset + i) & 3];
    }
    uint64_t pattern;
    memcpy(&pattern, pattern_bytes, sizeof(pattern));
    size_t i = 0;
    for (; len - i >= WS_MASK_WORD_BYTES; i += WS_MASK_WORD_BYTES) {
        uint64_t word;
        memcpy(&word, data + i, sizeof(word));
        word ^= pattern;
        memcpy(data + i, &word, sizeof(word));
    }
    for (; i < len; i++) {
        data[i] ^= pattern_bytes[i % WS_MASK_WORD_BYTES];
    }
    return (unsigned)((mask_offset + len) & 3);
}

bool ws_opcode_known(uint8_t opcode)
{
    switch (opcode) {
    case WS_OP_CONTINUATION:
    case WS_OP_TEXT:
    case WS_OP_BINARY:
    case WS_OP_CLOSE:
    case WS_OP_PING:
    case WS_OP_PONG:
        return true;
    default:
        return false;
    }
}

bool ws_close_code_valid(uint16_t code)
{
    if (code >= 1000 && code <= 1003) {
        return true;
    }
    if (code >= 1007 && code <= 1014) {
        return true;
    }
    return code >= 3000 && code <= 4999;
}

/* Length of the longest prefix of `reason` that fits a close frame, is valid UTF-8 and ends
 * on a character boundary; 0 when the reason is not valid UTF-8. */
static size_t ws_close_reason_fit(const char *reason)
{
    const uint8_t *bytes = (const uint8_t *)reason;
    size_t len = strnlen(reason, WS_CLOSE_REASON_BYTES_MAX + 1);
    if (len > WS_CLOSE_REASON_BYTES_MAX) {
        len = WS_CLOSE_REASON_BYTES_MAX;
        /* Back up over at most 3 continuation bytes to the start of the cut character. */
        for (int i = 0; i < 3 && (bytes[len] & 0xC0) == 0x80; i++) {
            len--;
        }
    }
    return utf8_is_valid(bytes, len) ? len : 0;
}

size_t ws_close_payload_encode(uint8_t *out, uint16_t code, const char *reason)
{
    assert(out != NULL);
    assert(ws_close_code_valid(code));
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    size_t reason_len = reason != NULL ? ws_close_reason_fit(reason) : 0;
    if (reason_len > 0) {
        memcpy(out + WS_CLOSE_CODE_BYTES, reason, reason_len);
    }
    assert(WS_CLOSE_CODE_BYTES + reason_len <= WS_CONTROL_PAYLOAD_BYTES_MAX);
    return WS_CLOSE_CODE_BYTES + reason_len;
}
