/* Messages between worker threads: one lock-free single-producer single-consumer ring
 * (ck_ring) per ordered pair of workers, woken with IORING_OP_MSG_RING.
 *
 * What travels is a pointer; what it points to, and who frees it, is the caller's business
 * (the channel layer sends reference-counted messages). The rules the grid guarantees:
 *   - order: items from one worker to another arrive in the order they were sent;
 *   - never blocks: a full ring spills into the sender's overflow queue, retried on every
 *     flush, so the ring's order is kept (once something has spilled, later items spill too);
 *   - never drops silently: when the overflow queue is also full, mailbox_send returns
 *     false and counts the drop, and the caller reports the loss to whoever it concerns;
 *   - one wake-up per target per loop turn at most: mailbox_flush sends the MSG_RINGs for
 *     everything sent since the last flush, so a burst of N items costs one wake.
 *
 * Threads: the sending side of (from, to) belongs to worker `from`, the receiving side to
 * worker `to`; mailbox_grid_init and mailbox_grid_destroy run with no worker running.
 */
#ifndef TIDEGATE_CORE_MAILBOX_H
#define TIDEGATE_CORE_MAILBOX_H

#include <ck_ring.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/loop.h"

enum { MAILBOX_WORKERS_MAX = 256 };

/* Items that did not fit in a ring, in order, owned by the sending worker. */
struct mailbox_overflow {
    void **items; /* circular buffer of `cap` slots */
    size_t head, count, cap;
};

/* One direction between two workers. */
struct mailbox_lane {
    _Alignas(64) ck_ring_t ring;      /* shared by the two workers */
    ck_ring_buffer_t *slots;          /* ring storage, ring_capacity entries */
    struct mailbox_overflow overflow; /* sender-owned */
    bool wake_pending;                /* sender-owned: sent since the last flush */
    _Atomic uint64_t dropped;         /* items refused because overflow was full */
    _Atomic uint64_t overflowed;      /* items that went through the overflow queue */
};

struct mailbox_grid {
    unsigned workers;
    unsigned ring_capacity;     /* power of two; a ring holds ring_capacity - 1 */
    size_t overflow_max;        /* items per lane's overflow queue */
    struct mailbox_lane *lanes; /* workers * workers, [from * workers + to] */
    struct loop **loops;        /* each worker's loop, for MSG_RING targets */
    uint64_t *wake_udata;       /* user_data of the wake CQE each worker expects */
};

/* Allocates the lanes of `workers` workers. Returns 0, or -1 when out of memory. */
int mailbox_grid_init(struct mailbox_grid *g, unsigned workers, unsigned ring_capacity,
                      size_t overflow_max);

/* Tells the grid where worker `index` receives its wake-ups. Items sent before are kept in
 * the rings and their wake-up held back until the worker is attached (it reads every ring
 * on its first turn). */
void mailbox_grid_attach(struct mailbox_grid *g, unsigned index, struct loop *loop,
                         uint64_t wake_udata);

/* Called for each item received: `from` is the sending worker. */
typedef void (*mailbox_deliver_fn)(void *ctx, unsigned from, void *item);

/* Worker `index` stops receiving: wake-ups to it are held back from now on. */
void mailbox_grid_detach(struct mailbox_grid *g, unsigned index);

/* With no worker running: hands every item still in a ring or an overflow queue to
 * `deliver` (to free it). Returns how many. */
size_t mailbox_grid_drain(struct mailbox_grid *g, mailbox_deliver_fn deliver, void *ctx);

/* Frees the lanes. Items still queued are not freed: drain them first (mailbox_grid_drain)
 * or accept the leak of what nobody will read. */
void mailbox_grid_destroy(struct mailbox_grid *g);

/* Sends `item` from worker `from` to worker `to` (from != to). Returns false when the ring
 * and the overflow queue are both full: the item was NOT sent (the caller still owns it)
 * and the drop is counted. */
bool mailbox_send(struct mailbox_grid *g, unsigned from, unsigned to, void *item);

/* The same for items that must not be lost (requests and their replies, whose loss would
 * leave state on two workers disagreeing): the overflow queue grows past overflow_max as
 * needed, so this fails only when out of memory. Callers bound how many such items can be
 * outstanding (client requests are rate-limited). Order with mailbox_send is kept. */
bool mailbox_send_control(struct mailbox_grid *g, unsigned from, unsigned to, void *item);

/* Worker `from`, once per loop turn: moves spilled items into rings that have room and
 * wakes every worker it sent to since the last flush, through `loop` (its own). */
void mailbox_flush(struct mailbox_grid *g, unsigned from, struct loop *loop);

/* True when worker `from` holds spilled items: its loop must come back soon (wait at most
 * a millisecond or so) to flush them, even if nothing else happens. */
bool mailbox_has_overflow(const struct mailbox_grid *g, unsigned from);

/* Worker `to`: takes up to `max` items from every inbound ring, in order per sender, and
 * calls `deliver` for each. Returns how many were delivered; call again when it returns
 * `max` (more may be waiting). */
size_t mailbox_receive(struct mailbox_grid *g, unsigned to, mailbox_deliver_fn deliver, void *ctx,
                       size_t max);

/* Items waiting in the ring from -> to (a metric; racy but torn-free). */
unsigned mailbox_depth(const struct mailbox_grid *g, unsigned from, unsigned to);

static inline struct mailbox_lane *mailbox_lane(const struct mailbox_grid *g, unsigned from,
                                                unsigned to)
{
    return &g->lanes[(size_t)from * g->workers + to];
}

#endif
