/* Streaming RFC 6455 frame reader: turns received bytes into messages and control frames,
 * enforcing every protocol rule as the bytes arrive.
 *
 * Memory contract (this is what keeps idle connections cheap): the reader holds no buffer.
 * It works on whatever contiguous span the caller has (usually a provided io_uring buffer),
 * unmasks payload in place and hands data payload to the caller in pieces as it goes. The
 * only bytes it cannot consume are an incomplete frame header (< 14 bytes) or an incomplete
 * control frame (< 14 + 125 bytes) at the end of the span; the caller keeps those
 * (WS_READER_CARRY_BYTES_MAX at most) and presents them again in front of the next bytes.
 *
 * Errors (the reader then stays failed and consumes nothing more):
 *   1002  unmasked frame from a client (masked frame from a server), non-zero RSV bits,
 *         unknown opcode, control frame longer than 125 bytes or fragmented, continuation
 *         with no message open, a new data frame while a message is open, 64-bit length
 *         with the high bit set, close payload of 1 byte or with an invalid code
 *   1007  text message (or close reason) that is not valid UTF-8, reported at the first
 *         byte that cannot be valid, even mid-frame
 *   1009  message larger than max_message_bytes, reported as soon as a frame header
 *         announces it
 */
#ifndef TIDEGATE_CORE_WS_READER_H
#define TIDEGATE_CORE_WS_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/utf8.h"
#include "core/ws_frame.h"

enum { WS_READER_CARRY_BYTES_MAX = WS_FRAME_HEADER_BYTES_MAX + WS_CONTROL_PAYLOAD_BYTES_MAX };

enum ws_role {
    WS_ROLE_SERVER, /* reads client frames: they must be masked */
    WS_ROLE_CLIENT, /* reads server frames: they must not be masked */
};

/* What the reader reports. Both callbacks may be called many times per feed. */
struct ws_reader_ops {
    /* A piece of a data message's payload, unmasked. `opcode` is the message's opcode
     * (TEXT or BINARY, also for its continuation frames); text pieces are UTF-8-valid so
     * far. `message_end` is true on the last piece of the message; that piece may have len 0
     * (a final frame of 0 bytes), and a message of 0 bytes is reported once with len 0 and
     * message_end true. `data` is valid only during the call. */
    void (*on_data)(void *ctx, uint8_t opcode, const uint8_t *data, size_t len, bool message_end);
    /* A whole control frame (PING, PONG or CLOSE), unmasked, at most 125 bytes. For CLOSE
     * the payload is already checked (empty, or a valid code and UTF-8 reason); after a
     * CLOSE the reader consumes nothing more. */
    void (*on_control)(void *ctx, uint8_t opcode, const uint8_t *payload, size_t len);
};

struct ws_reader {
    uint64_t max_message_bytes; /* limit on one data message, all fragments together */
    uint64_t frame_left;        /* payload bytes of the current frame not yet consumed */
    uint64_t message_bytes;     /* payload bytes of the open data message so far */
    utf8_state utf8;            /* validator state of the open text message */
    uint8_t role;               /* enum ws_role */
    uint8_t mask[4];            /* mask of the current frame */
    uint8_t mask_offset;        /* position in the mask, 0..3 */
    uint8_t frame_opcode;       /* opcode of the current data frame while frame_left > 0 */
    uint8_t message_opcode;     /* TEXT or BINARY while a message is open, else 0 */
    bool in_frame;              /* inside a data frame's payload */
    bool frame_fin;             /* FIN bit of the current data frame */
    bool closed;                /* a CLOSE frame was delivered */
    uint16_t error;             /* close code of the first error, 0 if none */
    uint64_t frames;            /* frames accepted so far (data and control), a metric */
};

void ws_reader_init(struct ws_reader *r, enum ws_role role, uint64_t max_message_bytes);

/* Consumes as much of `data` as it can, unmasking it in place, and calls `ops`.
 * Returns the number of bytes consumed (the caller keeps the rest, see above), or -1 on a
 * protocol violation with the close code to send in r->error. After a CLOSE frame it
 * returns the bytes up to and including that frame and ignores the rest: once r->closed
 * is set the caller drops what is left instead of carrying it, and later calls return 0. */
ssize_t ws_reader_feed(struct ws_reader *r, uint8_t *data, size_t len,
                       const struct ws_reader_ops *ops, void *ctx);

/* True while a data message is partly received (the caller is assembling it). */
static inline bool ws_reader_in_message(const struct ws_reader *r)
{
    return r->message_opcode != 0;
}

#endif
