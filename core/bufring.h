/* A provided-buffer ring for multishot recv: the kernel picks a buffer when data arrives,
 * so a connection that is not receiving holds no receive buffer at all.
 *
 * Buffers are one contiguous, pre-faulted allocation (count * size), so their memory is a
 * fixed cost of the worker, visible in the RSS before any connection exists. A buffer
 * handed out by a completion must go back with bufring_recycle as soon as its bytes are
 * consumed (the connection copies what it must keep).
 */
#ifndef TIDEGATE_CORE_BUFRING_H
#define TIDEGATE_CORE_BUFRING_H

#include <liburing.h>
#include <stddef.h>
#include <stdint.h>

struct bufring {
    struct io_uring_buf_ring *ring; /* shared with the kernel */
    uint8_t *base;                  /* count * size bytes */
    uint32_t count;                 /* power of two, <= 32768 */
    uint32_t size;                  /* bytes per buffer */
    uint16_t group_id;
};

/* Registers `count` buffers of `size` bytes as buffer group `group_id` on `ring`. Returns 0
 * or a negative errno. */
int bufring_init(struct bufring *b, struct io_uring *ring, uint16_t group_id, uint32_t count,
                 uint32_t size);

static inline uint8_t *bufring_buffer(const struct bufring *b, uint16_t buffer_id)
{
    return b->base + (size_t)buffer_id * b->size;
}

/* Gives buffer `buffer_id` back to the kernel. */
void bufring_recycle(struct bufring *b, uint16_t buffer_id);

void bufring_destroy(struct bufring *b, struct io_uring *ring);

#endif
