/* Hierarchical timing wheel: one per worker, for handshake deadlines, ping intervals, idle
 * and close timeouts (and later rate-limit refills and drain steps).
 *
 * Timers are intrusive: the caller embeds a struct tw_timer in its own object and gets the
 * object back with container_of in the wheel's expiry callback. Arming and cancelling are
 * O(1) and never allocate; a timer costs 24 bytes in its owner. Resolution is one tick
 * (TW_TICK_MS); a timer never fires early and fires at most one tick plus the loop's
 * latency late. Expiries beyond the wheel's range are clamped to its end and fire then, so
 * owners of very long timers re-check their deadline (documented at TW_RANGE_MS).
 *
 * Single-threaded: a wheel and its timers belong to one worker thread.
 */
#ifndef TIDEGATE_CORE_TIMER_WHEEL_H
#define TIDEGATE_CORE_TIMER_WHEEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    TW_TICK_MS = 1,
    TW_LEVEL_BITS = 6, /* 64 slots per level */
    TW_LEVELS = 5,     /* 64^5 ticks: about 12.4 days at 1 ms */
};
#define TW_RANGE_MS ((uint64_t)1 << (TW_LEVEL_BITS * TW_LEVELS))

/* Embedded in the owner. Zero-initialised (or tw_timer_init) means not armed. */
struct tw_timer {
    struct tw_timer *next;
    struct tw_timer **pprev; /* NULL when not armed */
    uint64_t expires_ms;
};

struct timer_wheel;
/* Called once per expired timer, after it is unlinked (so it may re-arm itself). */
typedef void (*tw_expire_fn)(struct tw_timer *timer, void *ctx);

/* Level k holds timers whose expiry first differs from now_ms in the k-th group of 6 bits;
 * its slot is that group of the expiry. A slot is examined when now_ms reaches its start:
 * level 0 timers fire, higher levels cascade down. `occupied` bitmaps find the next
 * non-empty slot with one ctz, which is how long idle stretches are skipped. */
struct timer_wheel {
    uint64_t now_ms; /* time the wheel has advanced to */
    size_t armed_count;
    tw_expire_fn expire;
    void *ctx;
    struct tw_timer *due;         /* armed with a time already past: next advance */
    uint64_t occupied[TW_LEVELS]; /* bit s set: slots[level][s] is not empty */
    struct tw_timer *slots[TW_LEVELS][1u << TW_LEVEL_BITS];
};

void tw_init(struct timer_wheel *w, uint64_t now_ms, tw_expire_fn expire, void *ctx);
void tw_timer_init(struct tw_timer *t);

/* Arms (or re-arms) `t` to expire at absolute time `expires_ms` (a time in the past fires
 * on the next advance). */
void tw_arm(struct timer_wheel *w, struct tw_timer *t, uint64_t expires_ms);

/* Disarms `t`; harmless on a timer that is not armed. */
void tw_cancel(struct timer_wheel *w, struct tw_timer *t);

static inline bool tw_armed(const struct tw_timer *t)
{
    return t->pprev != NULL;
}

/* Advances the wheel to `now_ms`, calling the expiry callback for every timer whose time has
 * come, in no promised order. Returns the number fired. Bounded work: cascades are O(timers
 * moved); empty stretches of time are skipped, not ticked through one by one. */
size_t tw_advance(struct timer_wheel *w, uint64_t now_ms);

/* How long the loop may sleep: milliseconds from w->now_ms until the earliest time a timer
 * could expire (it may answer earlier than the true earliest expiry, never later), or
 * UINT64_MAX when no timer is armed. */
uint64_t tw_next_timeout_ms(const struct timer_wheel *w);

/* Releases nothing (timers are owned by their owners); cancels every armed timer so owners
 * can be freed in any order. */
void tw_cancel_all(struct timer_wheel *w);

#endif
