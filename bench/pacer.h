/* The senders' schedule: a min-heap of (due time, connection) per thread, so the thread
 * can wake exactly when the next message is due (an io_uring timeout with nanosecond
 * precision) instead of on the timing wheel's millisecond ticks, whose rounding would show
 * up as up to a millisecond of latency that is the harness's, not the server's.
 *
 * Fixed capacity (the thread's connections), no allocation after init. A connection is in
 * the heap at most once; the caller tracks that.
 */
#ifndef TIDEGATE_BENCH_PACER_H
#define TIDEGATE_BENCH_PACER_H

#include <stdbool.h>
#include <stdint.h>

struct pacer_entry {
    uint64_t due_ns;
    uint32_t conn; /* the caller's local connection index */
};

struct pacer {
    struct pacer_entry *heap;
    uint32_t count;
    uint32_t cap;
};

/* Room for `cap` entries. Returns false when out of memory. */
bool pacer_init(struct pacer *p, uint32_t cap);
void pacer_destroy(struct pacer *p);

/* Adds `conn` due at `due_ns`. The heap must not be full. */
void pacer_push(struct pacer *p, uint64_t due_ns, uint32_t conn);

/* The earliest entry, or NULL when empty. */
static inline const struct pacer_entry *pacer_top(const struct pacer *p)
{
    return p->count > 0 ? &p->heap[0] : (const struct pacer_entry *)0;
}

/* Removes the earliest entry into *out; false when empty. */
bool pacer_pop(struct pacer *p, struct pacer_entry *out);

#endif
