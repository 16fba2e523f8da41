/* One message or event of a channel, encoded once by the channel's owner and shared, read
 * only, by every worker that delivers it and by the channel's history.
 *
 * Layout of bytes[]: the channel name, then room for the largest server frame header, then
 * the JSON object. The frame (header + JSON) is contiguous, so a worker copies it with one
 * memcpy into the out_chunk its local subscribers share; history replay embeds the JSON.
 *
 * Reference counted with an atomic counter: the owner holds one while building, history one,
 * and each worker it was sent to one until it has copied the frame.
 */
#ifndef TIDEGATE_GATEWAY_CHAN_MSG_H
#define TIDEGATE_GATEWAY_CHAN_MSG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ws_frame.h"

enum chan_msg_kind {
    CHAN_MSG_MESSAGE,  /* a published message: has an offset, kept in history */
    CHAN_MSG_PRESENCE, /* user_online / user_offline: never skipped, never stored */
    CHAN_MSG_TYPING,   /* user_typing: best effort, not sent to the sending subscription */
};

struct chan_msg {
    uint8_t op;   /* HUB_OP_DELIVER (gateway/hub_op.h) */
    uint8_t kind; /* enum chan_msg_kind */
    uint8_t frame_header_len;
    uint16_t channel_len;
    _Atomic uint32_t refs;
    uint32_t json_len;
    uint32_t data_len;       /* MESSAGE: bytes of `data`, for recovery_max_bytes */
    uint32_t exclude_worker; /* TYPING: worker of the sending subscription */
    const void *exclude;     /* TYPING: the sending subscription (meaningful on that worker) */
    uint64_t channel_hash;
    uint64_t offset; /* MESSAGE: the channel offset; 0 for events */
    uint64_t timestamp_ms;
    uint8_t bytes[];
};

enum { CHAN_MSG_HEADER_ROOM = WS_FRAME_HEADER_BYTES_MAX };

/* Builds a message with one reference: copies `channel` and `json` and encodes the frame
 * header of an unmasked text frame. NULL when out of memory. */
struct chan_msg *chan_msg_new(enum chan_msg_kind kind, const char *channel, size_t channel_len,
                              uint64_t channel_hash, const char *json, size_t json_len);

static inline void chan_msg_ref(struct chan_msg *m)
{
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}
/* Drops one reference; the last one frees the message (any thread). */
void chan_msg_unref(struct chan_msg *m);

static inline const char *chan_msg_channel(const struct chan_msg *m)
{
    return (const char *)m->bytes;
}
static inline const char *chan_msg_json(const struct chan_msg *m)
{
    return (const char *)m->bytes + m->channel_len + CHAN_MSG_HEADER_ROOM;
}
static inline const uint8_t *chan_msg_frame(const struct chan_msg *m)
{
    return (const uint8_t *)chan_msg_json(m) - m->frame_header_len;
}
static inline size_t chan_msg_frame_len(const struct chan_msg *m)
{
    return (size_t)m->frame_header_len + m->json_len;
}

#endif
