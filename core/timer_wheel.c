/* Hierarchical timing wheel: see timer_wheel.h for the contract and the level invariant.
 *
 * The one thing to keep in mind: tw_advance never steps tick by tick. It jumps straight to
 * the next time at which some slot must be examined (found from the occupied bitmaps), so
 * advancing across hours of idle time costs a handful of operations. Lists being processed
 * are detached into a local head whose address the first timer's pprev points to, so an
 * expiry callback may cancel or re-arm any timer, including ones still in that list. A
 * callback that arms a timer at or before the current time puts it on `due`, which only the
 * next tw_advance reads: a timer re-armed into the past cannot keep one advance running.
 * tw_advance and tw_cancel_all must not be called from a callback: the list being fired
 * is out of their reach (tw_cancel_all asserts that it found every armed timer).
 */
#include "core/timer_wheel.h"

#include <assert.h>
#include <string.h>

#define TW_SLOTS     (1u << TW_LEVEL_BITS)
#define TW_SLOT_MASK ((uint64_t)TW_SLOTS - 1)

void tw_timer_init(struct tw_timer *t)
{
    t->next = NULL;
    t->pprev = NULL;
    t->expires_ms = 0;
}

void tw_init(struct timer_wheel *w, uint64_t now_ms, tw_expire_fn expire, void *ctx)
{
    assert(w != NULL && expire != NULL);
    assert(now_ms <= UINT64_MAX - TW_RANGE_MS);
    memset(w, 0, sizeof *w);
    w->now_ms = now_ms;
    w->expire = expire;
    w->ctx = ctx;
}

static unsigned tw_digit(uint64_t time_ms, unsigned level)
{
    return (unsigned)((time_ms >> (level * TW_LEVEL_BITS)) & TW_SLOT_MASK);
}

static void tw_link(struct tw_timer **head, struct tw_timer *t)
{
    t->next = *head;
    if (*head != NULL)
        (*head)->pprev = &t->next;
    *head = t;
    t->pprev = head;
}

/* Unlinks `t`, clearing its slot's occupied bit when it was the last one there. */
static void tw_unlink(struct timer_wheel *w, struct tw_timer *t)
{
    assert(t->pprev != NULL);
    *t->pprev = t->next;
    if (t->next != NULL)
        t->next->pprev = t->pprev;
    struct tw_timer **first = &w->slots[0][0];
    if (t->pprev >= first && t->pprev < first + TW_LEVELS * TW_SLOTS && *t->pprev == NULL) {
        size_t index = (size_t)(t->pprev - first);
        w->occupied[index / TW_SLOTS] &= ~((uint64_t)1 << (index % TW_SLOTS));
    }
    t->next = NULL;
    t->pprev = NULL;
}

/* Places an armed-to-be timer by the level invariant; expires_ms > now_ms. An expiry less
 * than TW_RANGE_MS ahead may still differ above the top level's bits (now 2^30 - 1, expiry
 * 2^30): it belongs to the next rotation of the top level and goes there, in a slot at or
 * behind now's top digit, which tw_next_event reads as one rotation later. */
static void tw_place(struct timer_wheel *w, struct tw_timer *t)
{
    assert(t->expires_ms > w->now_ms);
    assert(t->expires_ms - w->now_ms < TW_RANGE_MS);
    uint64_t differ = t->expires_ms ^ w->now_ms;
    unsigned msb = 63u - (unsigned)__builtin_clzll(differ);
    unsigned level = msb / TW_LEVEL_BITS;
    if (level >= TW_LEVELS)
        level = TW_LEVELS - 1;
    unsigned slot = tw_digit(t->expires_ms, level);
    tw_link(&w->slots[level][slot], t);
    w->occupied[level] |= (uint64_t)1 << slot;
}

void tw_arm(struct timer_wheel *w, struct tw_timer *t, uint64_t expires_ms)
{
    assert(w != NULL && t != NULL);
    assert(w->now_ms <= UINT64_MAX - TW_RANGE_MS); /* so the clamp below cannot wrap */
    if (tw_armed(t))
        tw_cancel(w, t);
    if (expires_ms <= w->now_ms) {
        t->expires_ms = expires_ms;
        tw_link(&w->due, t);
    } else {
        if (expires_ms - w->now_ms >= TW_RANGE_MS)
            expires_ms = w->now_ms + TW_RANGE_MS - 1;
        t->expires_ms = expires_ms;
        tw_place(w, t);
    }
    w->armed_count++;
}

void tw_cancel(struct timer_wheel *w, struct tw_timer *t)
{
    assert(w != NULL && t != NULL);
    if (!tw_armed(t))
        return;
    assert(w->armed_count > 0);
    tw_unlink(w, t);
    w->armed_count--;
}

/* The earliest time a top-level slot at or behind now's digit must be examined: those hold
 * the next rotation's timers (see tw_place), so they start one rotation later. */
static uint64_t tw_next_wrapped_event(const struct timer_wheel *w)
{
    unsigned level = TW_LEVELS - 1, shift = level * TW_LEVEL_BITS;
    unsigned digit = tw_digit(w->now_ms, level);
    uint64_t behind = w->occupied[level] & (~(uint64_t)0 >> (TW_SLOTS - 1 - digit));
    if (behind == 0)
        return UINT64_MAX;
    uint64_t rotation = w->now_ms >> (shift + TW_LEVEL_BITS) << (shift + TW_LEVEL_BITS);
    return rotation + TW_RANGE_MS + ((uint64_t)__builtin_ctzll(behind) << shift);
}

/* The earliest time after now_ms at which a slot must be examined, or UINT64_MAX. A level-k
 * slot s ahead of now's digit starts at now's higher digits, then s, then zeros. */
static uint64_t tw_next_event(const struct timer_wheel *w)
{
    uint64_t best = tw_next_wrapped_event(w);
    for (unsigned level = 0; level < TW_LEVELS; level++) {
        unsigned digit = tw_digit(w->now_ms, level);
        uint64_t ahead =
            digit == TW_SLOTS - 1 ? 0 : w->occupied[level] & (~(uint64_t)0 << (digit + 1));
        if (ahead == 0)
            continue;
        unsigned slot = (unsigned)__builtin_ctzll(ahead);
        unsigned shift = level * TW_LEVEL_BITS;
        uint64_t rotation = w->now_ms >> (shift + TW_LEVEL_BITS) << (shift + TW_LEVEL_BITS);
        uint64_t start = rotation | ((uint64_t)slot << shift);
        if (start < best)
            best = start;
    }
    return best;
}

/* Takes every timer off `*head` (a detached list) and fires or re-places it. */
static size_t tw_drain(struct timer_wheel *w, struct tw_timer **head)
{
    size_t fired = 0;
    while (*head != NULL) {
        struct tw_timer *t = *head;
        tw_unlink(w, t);
        if (t->expires_ms <= w->now_ms) {
            w->armed_count--;
            fired++;
            w->expire(t, w->ctx); /* may arm or cancel anything, t included */
        } else {
            tw_place(w, t);
        }
    }
    return fired;
}

/* Detaches a list into a local head so callbacks can still unlink its members. */
static void tw_detach(struct tw_timer **from, struct tw_timer **to)
{
    *to = *from;
    *from = NULL;
    if (*to != NULL)
        (*to)->pprev = to;
}

size_t tw_advance(struct timer_wheel *w, uint64_t now_ms)
{
    assert(w != NULL && w->expire != NULL);
    assert(now_ms <= UINT64_MAX - TW_RANGE_MS);
    size_t fired = 0;
    struct tw_timer *local;
    tw_detach(&w->due, &local);
    fired += tw_drain(w, &local);
    while (w->now_ms < now_ms) {
        uint64_t next = tw_next_event(w);
        if (next > now_ms) {
            w->now_ms = now_ms;
            break;
        }
        assert(next > w->now_ms); /* so the loop ends within now_ms - w->now_ms turns */
        w->now_ms = next;
        /* Highest level first: its timers may cascade into lower slots starting now. */
        for (unsigned level = TW_LEVELS; level-- > 0;) {
            unsigned shift = level * TW_LEVEL_BITS;
            if (level > 0 && (next & (((uint64_t)1 << shift) - 1)) != 0)
                continue;
            unsigned slot = tw_digit(next, level);
            if (!(w->occupied[level] & ((uint64_t)1 << slot)))
                continue;
            w->occupied[level] &= ~((uint64_t)1 << slot);
            tw_detach(&w->slots[level][slot], &local);
            fired += tw_drain(w, &local);
        }
    }
    return fired;
}

uint64_t tw_next_timeout_ms(const struct timer_wheel *w)
{
    assert(w != NULL);
    if (w->due != NULL)
        return 0;
    if (w->armed_count == 0)
        return UINT64_MAX;
    uint64_t next = tw_next_event(w);
    /* Armed but in no slot: asked from a callback while tw_advance holds the rest of a list
     * that fires in this same advance, so there is no time to wait. */
    if (next == UINT64_MAX)
        return 0;
    assert(next > w->now_ms);
    return next - w->now_ms;
}

void tw_cancel_all(struct timer_wheel *w)
{
    assert(w != NULL);
    while (w->due != NULL)
        tw_cancel(w, w->due);
    for (unsigned level = 0; level < TW_LEVELS; level++)
        for (unsigned slot = 0; slot < TW_SLOTS; slot++)
            while (w->slots[level][slot] != NULL)
                tw_cancel(w, w->slots[level][slot]);
    assert(w->armed_count == 0);
}
