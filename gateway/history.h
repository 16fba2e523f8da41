/* A channel's in-memory history: the last `size_max` published messages, oldest first, with
 * contiguous offsets (a message is found by offset - oldest offset). Serves `history` pages
 * and recovery on join (docs/protocol.md 5.3, 6.7). Owned by the channel's owner worker.
 *
 * Capacity grows geometrically up to size_max, so a channel with two messages does not hold
 * room for a hundred. Messages older than the namespace's TTL are dropped from the front by
 * history_expire, which callers run before reading.
 */
#ifndef TIDEGATE_GATEWAY_HISTORY_H
#define TIDEGATE_GATEWAY_HISTORY_H

#include <stdbool.h>
#include <stdint.h>

#include "gateway/chan_msg.h"

struct history {
    struct chan_msg **slots; /* ring of `cap` pointers, each holding a reference */
    uint32_t cap, head, count;
};

static inline void history_init(struct history *h)
{
    h->slots = NULL;
    h->cap = h->head = h->count = 0;
}

/* Drops every message and the ring. */
void history_free(struct history *h);

/* Appends `m` (taking a reference), dropping the oldest when `size_max` are held. The offset
 * must be one more than the newest held (asserted). When the ring cannot grow (out of memory)
 * everything older is dropped and history restarts at `m` (recovery from before it answers
 * recovered:false, which is safe); true. False only when not even a fresh ring could be
 * allocated: then the history is empty and `m` is not kept. */
bool history_push(struct history *h, struct chan_msg *m, uint32_t size_max);

/* Drops messages whose timestamp is before `oldest_ms`. */
void history_expire(struct history *h, uint64_t oldest_ms);

/* The i-th message, 0 the oldest; i < h->count. */
static inline struct chan_msg *history_at(const struct history *h, uint32_t i)
{
    return h->slots[(h->head + i) % h->cap];
}

/* Offset of the oldest message held, or `next_offset` (the channel's offset + 1) when empty. */
static inline uint64_t history_oldest(const struct history *h, uint64_t next_offset)
{
    return h->count ? history_at(h, 0)->offset : next_offset;
}

#endif
