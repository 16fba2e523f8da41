/* Outbound byte queue of one connection: an ordered list of shared, reference-counted
 * chunks (WebSocket frames, HTTP responses) waiting to be written.
 *
 * A chunk is encoded once and may sit in many queues at the same time (fan-out: every
 * subscriber of a worker shares one frame). Queue entries come from a per-thread pool
 * (outq_pool), recycled, never freed while the pool lives, so queueing a shared chunk to N
 * connections performs no heap allocation per connection once the pool is warm.
 *
 * Single-threaded: a queue, its pool and the chunk reference counts belong to one worker.
 */
#ifndef TIDEGATE_CORE_OUTQ_H
#define TIDEGATE_CORE_OUTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct out_chunk {
    uint32_t refs; /* queues (and the builder) holding it */
    uint32_t len;  /* bytes in data */
    uint8_t data[];
};

/* Allocates a chunk with room for `len` bytes and one reference. NULL when out of memory. */
struct out_chunk *out_chunk_new(size_t len);
static inline void out_chunk_ref(struct out_chunk *c)
{
    c->refs++;
}
void out_chunk_unref(struct out_chunk *c);

struct outq_entry {
    struct outq_entry *next;
    struct out_chunk *chunk;
};

/* Free list of entries, grown in slabs of OUTQ_SLAB_ENTRIES. */
struct outq_pool {
    struct outq_entry *free;
    void **slabs;
    size_t slab_count, slab_cap;
    size_t entries_total; /* allocated so far (a metric) */
};

enum { OUTQ_SLAB_ENTRIES = 1024, OUTQ_IOV_MAX = 64 };

struct outq {
    struct outq_entry *head, *tail;
    uint32_t head_offset; /* bytes of head->chunk already written */
    uint32_t chunk_count;
    uint64_t bytes; /* unwritten bytes in the queue */
};

void outq_pool_init(struct outq_pool *p);
void outq_pool_destroy(struct outq_pool *p);

static inline void outq_init(struct outq *q)
{
    q->head = q->tail = NULL;
    q->head_offset = 0;
    q->chunk_count = 0;
    q->bytes = 0;
}
static inline bool outq_empty(const struct outq *q)
{
    return q->head == NULL;
}

/* Appends `chunk`, taking a new reference. Returns false when no entry could be allocated. */
bool outq_push(struct outq *q, struct outq_pool *p, struct out_chunk *chunk);

/* Fills up to `iov_max` iovecs with the unwritten bytes, in order. Returns the count. */
unsigned outq_iov(const struct outq *q, struct iovec *iov, unsigned iov_max);

/* Drops `bytes` written bytes from the front, releasing finished chunks. */
void outq_consume(struct outq *q, struct outq_pool *p, size_t bytes);

/* Drops everything. */
void outq_clear(struct outq *q, struct outq_pool *p);

#endif
