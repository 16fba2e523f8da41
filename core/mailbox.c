/* Inter-worker mailbox: see mailbox.h. The subtle part is ordering under overflow: once a
 * lane has anything in its overflow queue, new items must queue behind it, or a later item
 * would overtake an earlier one through the ring. */
#include "core/mailbox.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool overflow_push(struct mailbox_overflow *o, void *item, size_t max)
{
    if (o->count == o->cap) {
        if (o->cap >= max)
            return false;
        size_t cap = o->cap ? o->cap * 2 : 64;
        if (cap > max)
            cap = max;
        void **items = malloc(cap * sizeof *items);
        if (items == NULL)
            return false;
        for (size_t i = 0; i < o->count; i++)
            items[i] = o->items[(o->head + i) % o->cap];
        free(o->items);
        o->items = items;
        o->head = 0;
        o->cap = cap;
    }
    o->items[(o->head + o->count) % o->cap] = item;
    o->count++;
    return true;
}

int mailbox_grid_init(struct mailbox_grid *g, unsigned workers, unsigned ring_capacity,
                      size_t overflow_max)
{
    assert(workers >= 1 && workers <= MAILBOX_WORKERS_MAX);
    assert(ring_capacity >= 4 && (ring_capacity & (ring_capacity - 1)) == 0);
    memset(g, 0, sizeof *g);
    g->workers = workers;
    g->ring_capacity = ring_capacity;
    g->overflow_max = overflow_max;
    size_t lanes = (size_t)workers * workers;
    g->lanes = aligned_alloc(64, lanes * sizeof *g->lanes);
    g->loops = calloc(workers, sizeof *g->loops);
    g->wake_udata = calloc(workers, sizeof *g->wake_udata);
    if (g->lanes == NULL || g->loops == NULL || g->wake_udata == NULL) {
        mailbox_grid_destroy(g);
        return -1;
    }
    memset(g->lanes, 0, lanes * sizeof *g->lanes);
    for (size_t i = 0; i < lanes; i++) {
        if (i / workers == i % workers)
            continue; /* no lane from a worker to itself */
        g->lanes[i].slots = calloc(ring_capacity, sizeof *g->lanes[i].slots);
        if (g->lanes[i].slots == NULL) {
            mailbox_grid_destroy(g);
            return -1;
        }
        ck_ring_init(&g->lanes[i].ring, ring_capacity);
    }
    return 0;
}

void mailbox_grid_attach(struct mailbox_grid *g, unsigned index, struct loop *loop,
                         uint64_t wake_udata)
{
    assert(index < g->workers && loop != NULL);
    g->wake_udata[index] = wake_udata;
    __atomic_store_n(&g->loops[index], loop, __ATOMIC_RELEASE);
}

void mailbox_grid_detach(struct mailbox_grid *g, unsigned index)
{
    assert(index < g->workers);
    __atomic_store_n(&g->loops[index], NULL, __ATOMIC_RELEASE);
}

size_t mailbox_grid_drain(struct mailbox_grid *g, mailbox_deliver_fn deliver, void *ctx)
{
    size_t drained = 0;
    for (unsigned from = 0; from < g->workers; from++) {
        for (unsigned to = 0; to < g->workers; to++) {
            if (from == to)
                continue;
            struct mailbox_lane *lane = mailbox_lane(g, from, to);
            void *item;
            while (ck_ring_dequeue_spsc(&lane->ring, lane->slots, &item)) {
                deliver(ctx, from, item);
                drained++;
            }
            struct mailbox_overflow *o = &lane->overflow;
            for (; o->count > 0; o->count--, o->head = (o->head + 1) % o->cap) {
                deliver(ctx, from, o->items[o->head]);
                drained++;
            }
        }
    }
    return drained;
}

void mailbox_grid_destroy(struct mailbox_grid *g)
{
    if (g->lanes != NULL) {
        for (size_t i = 0; i < (size_t)g->workers * g->workers; i++) {
            free(g->lanes[i].slots);
            free(g->lanes[i].overflow.items);
        }
    }
    free(g->lanes);
    free(g->loops);
    free(g->wake_udata);
    memset(g, 0, sizeof *g);
}

bool mailbox_send(struct mailbox_grid *g, unsigned from, unsigned to, void *item)
{
    assert(from < g->workers && to < g->workers && from != to);
    struct mailbox_lane *lane = mailbox_lane(g, from, to);
    lane->wake_pending = true;
    if (lane->overflow.count == 0 && ck_ring_enqueue_spsc(&lane->ring, lane->slots, item))
        return true;
    /* The count, not the array's size: control items may have grown it past overflow_max. */
    if (lane->overflow.count >= g->overflow_max ||
        !overflow_push(&lane->overflow, item, g->overflow_max)) {
        atomic_fetch_add_explicit(&lane->dropped, 1, memory_order_relaxed);
        return false;
    }
    atomic_fetch_add_explicit(&lane->overflowed, 1, memory_order_relaxed);
    return true;
}

bool mailbox_send_control(struct mailbox_grid *g, unsigned from, unsigned to, void *item)
{
    assert(from < g->workers && to < g->workers && from != to);
    struct mailbox_lane *lane = mailbox_lane(g, from, to);
    lane->wake_pending = true;
    if (lane->overflow.count == 0 && ck_ring_enqueue_spsc(&lane->ring, lane->slots, item))
        return true;
    if (!overflow_push(&lane->overflow, item, SIZE_MAX / sizeof(void *))) {
        atomic_fetch_add_explicit(&lane->dropped, 1, memory_order_relaxed);
        return false;
    }
    atomic_fetch_add_explicit(&lane->overflowed, 1, memory_order_relaxed);
    return true;
}

/* Moves as much of the overflow queue into the ring as fits, oldest first. */
static void lane_retry_overflow(struct mailbox_lane *lane)
{
    struct mailbox_overflow *o = &lane->overflow;
    while (o->count > 0) {
        if (!ck_ring_enqueue_spsc(&lane->ring, lane->slots, o->items[o->head]))
            return;
        o->head = (o->head + 1) % o->cap;
        o->count--;
    }
}

void mailbox_flush(struct mailbox_grid *g, unsigned from, struct loop *loop)
{
    assert(from < g->workers);
    for (unsigned to = 0; to < g->workers; to++) {
        if (to == from)
            continue;
        struct mailbox_lane *lane = mailbox_lane(g, from, to);
        if (lane->overflow.count > 0) {
            lane_retry_overflow(lane);
            lane->wake_pending = true; /* the reader must come back for what is left */
        }
        if (!lane->wake_pending)
            continue;
        struct loop *target = __atomic_load_n(&g->loops[to], __ATOMIC_ACQUIRE);
        if (target == NULL)
            continue; /* not started yet, or stopped: it reads its rings when it runs */
        lane->wake_pending = false;
        loop_wake_other(loop, target, g->wake_udata[to]);
    }
}

bool mailbox_has_overflow(const struct mailbox_grid *g, unsigned from)
{
    assert(from < g->workers);
    for (unsigned to = 0; to < g->workers; to++)
        if (to != from && mailbox_lane(g, from, to)->overflow.count > 0)
            return true;
    return false;
}

size_t mailbox_receive(struct mailbox_grid *g, unsigned to, mailbox_deliver_fn deliver, void *ctx,
                       size_t max)
{
    assert(to < g->workers && deliver != NULL);
    size_t delivered = 0;
    for (unsigned from = 0; from < g->workers && delivered < max; from++) {
        if (from == to)
            continue;
        struct mailbox_lane *lane = mailbox_lane(g, from, to);
        void *item;
        while (delivered < max && ck_ring_dequeue_spsc(&lane->ring, lane->slots, &item)) {
            deliver(ctx, from, item);
            delivered++;
        }
    }
    return delivered;
}

unsigned mailbox_depth(const struct mailbox_grid *g, unsigned from, unsigned to)
{
    assert(from < g->workers && to < g->workers);
    if (from == to)
        return 0;
    return ck_ring_size(&mailbox_lane(g, from, to)->ring);
}
