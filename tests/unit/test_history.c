/* Channel history ring: the newest size_max messages with contiguous offsets, the ring
 * growing from 8 to size_max with its order kept (also when it has wrapped), size_max 1,
 * expiry by timestamp, and references: history holds exactly one per message it keeps and
 * drops it exactly once (ASan and LSan in the asan stage catch a double free or a leak);
 * and a ring that cannot grow drops everything and says so, as history.h promises. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/history.h"

enum { MSGS_MAX = 3000 };

/* Allocation failures on demand: this executable's malloc fails the next `malloc_failures`
 * calls and otherwise forwards to the next malloc (libc's, or ASan's in the asan build). */
static int malloc_failures;
static void *(*malloc_next)(size_t);

void *malloc(size_t size)
{
    if (malloc_failures > 0) {
        malloc_failures--;
        return NULL;
    }
    if (malloc_next == NULL)
        malloc_next = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    return malloc_next(size);
}

/* The test's own reference to every message it made, so it can read refs after history has
 * dropped its one. */
struct msgs {
    struct chan_msg *m[MSGS_MAX];
    size_t count;
};

static uint64_t ts_of(uint64_t offset)
{
    return 1000000 + 10 * offset;
}

static struct chan_msg *msg_make(struct msgs *all, uint64_t offset)
{
    assert_true(all->count < MSGS_MAX);
    char json[64];
    int n = snprintf(json, sizeof json, "{\"offset\":%llu}", (unsigned long long)offset);
    assert_true(n > 0 && (size_t)n < sizeof json);
    struct chan_msg *m = chan_msg_new(CHAN_MSG_MESSAGE, "room", 4, 99, json, (size_t)n);
    assert_non_null(m);
    m->offset = offset;
    m->timestamp_ms = ts_of(offset);
    all->m[all->count++] = m;
    return m;
}

static uint32_t refs(const struct chan_msg *m)
{
    return atomic_load(&m->refs);
}

/* Pushes offsets first..last, each with one test reference kept. */
static void push_range(struct history *h, struct msgs *all, uint64_t first, uint64_t last,
                       uint32_t size_max)
{
    for (uint64_t o = first; o <= last; o++) {
        struct chan_msg *m = msg_make(all, o);
        assert_true(history_push(h, m, size_max));
        assert_int_equal(refs(m), 2); /* ours and history's */
    }
}

/* History holds offsets first..last exactly, oldest first. */
static void assert_holds(const struct history *h, uint64_t first, uint64_t last)
{
    assert_int_equal(h->count, last - first + 1);
    for (uint32_t i = 0; i < h->count; i++) {
        const struct chan_msg *m = history_at(h, i);
        assert_int_equal(m->offset, first + i);
        assert_int_equal(m->timestamp_ms, ts_of(first + i));
        assert_int_equal(refs(m), 2);
    }
    assert_int_equal(history_oldest(h, last + 1), first);
}

/* Every message the test made holds only the test's reference: history kept none, and
 * dropped none twice (a second drop would have freed it under our reference). Then frees
 * them. */
static void msgs_release(struct msgs *all)
{
    for (size_t i = 0; i < all->count; i++) {
        assert_int_equal(refs(all->m[i]), 1);
        chan_msg_unref(all->m[i]);
    }
    all->count = 0;
}

static void an_empty_history_starts_at_the_next_offset(void **state)
{
    (void)state;
    struct history h;
    history_init(&h);
    assert_int_equal(h.count, 0);
    assert_int_equal(history_oldest(&h, 1), 1);
    assert_int_equal(history_oldest(&h, 12345), 12345);
    history_expire(&h, UINT64_MAX); /* nothing to expire, no ring yet */
    history_free(&h);
    history_free(&h); /* idempotent on an empty history */
    assert_null(h.slots);
}

static void pushing_past_size_max_drops_the_oldest(void **state)
{
    (void)state;
    static struct msgs all;
    struct history h;
    history_init(&h);
    push_range(&h, &all, 1, 100, 100);
    assert_holds(&h, 1, 100);
    push_range(&h, &all, 101, 101, 100);
    assert_holds(&h, 2, 101);
    assert_int_equal(refs(all.m[0]), 1); /* offset 1 dropped, once */
    push_range(&h, &all, 102, 350, 100);
    assert_holds(&h, 251, 350);
    assert_int_equal(h.cap, 100);
    for (size_t i = 0; i < 250; i++)
        assert_int_equal(refs(all.m[i]), 1);
    history_free(&h);
    assert_int_equal(h.count, 0);
    assert_null(h.slots);
    msgs_release(&all);
}

static void the_ring_grows_from_8_to_size_max(void **state)
{
    (void)state;
    static struct msgs all;
    struct history h;
    history_init(&h);
    /* cap after each push: 8 up to 8 messages, 16 up to 16, ... then clamped at 100 */
    for (uint64_t o = 1; o <= 300; o++) {
        push_range(&h, &all, o, o, 100);
        uint32_t expect_cap = o <= 8 ? 8 : o <= 16 ? 16 : o <= 32 ? 32 : o <= 64 ? 64 : 100;
        assert_int_equal(h.cap, expect_cap);
        assert_true(h.cap <= 100);
    }
    assert_holds(&h, 201, 300);
    history_free(&h);
    msgs_release(&all);
}

/* Growth copies a ring whose oldest message is not in slot 0 and whose messages wrap around
 * the end of the old array. */
static void growing_a_wrapped_ring_keeps_the_order(void **state)
{
    (void)state;
    static struct msgs all;
    struct history h;
    history_init(&h);
    push_range(&h, &all, 1, 8, 1000);
    assert_int_equal(h.cap, 8);
    history_expire(&h, ts_of(4)); /* drops 1..3: the oldest is now in slot 3 */
    assert_holds(&h, 4, 8);
    push_range(&h, &all, 9, 11, 1000); /* fills slots 0..2: wrapped and full */
    assert_int_equal(h.cap, 8);
    assert_int_not_equal(h.head, 0);
    assert_holds(&h, 4, 11);
    push_range(&h, &all, 12, 12, 1000);
    assert_int_equal(h.cap, 16);
    assert_holds(&h, 4, 12);
    push_range(&h, &all, 13, 40, 1000);
    assert_holds(&h, 4, 40);
    history_free(&h);
    msgs_release(&all);
}

static void size_max_1_keeps_only_the_newest(void **state)
{
    (void)state;
    static struct msgs all;
    struct history h;
    history_init(&h);
    for (uint64_t o = 1; o <= 10; o++) {
        push_range(&h, &all, o, o, 1);
        assert_int_equal(h.cap, 1);
        assert_holds(&h, o, o);
        if (o > 1)
            assert_int_equal(refs(all.m[o - 2]), 1);
    }
    history_free(&h);
    msgs_release(&all);
}

/* Expiry drops messages strictly before the cutoff. A history emptied by expiry then takes
 * any next offset (the channel's offset kept counting while nothing was held). */
static void expiring_drops_what_is_older_than_the_cutoff(void **state)
{
    (void)state;
    static struct msgs all;
    struct history h;
    history_init(&h);
    push_range(&h, &all, 1, 20, 50);

    history_expire(&h, 0); /* none */
    assert_holds(&h, 1, 20);
    history_expire(&h, ts_of(1)); /* a message exactly at the cutoff stays */
    assert_holds(&h, 1, 20);

    history_expire(&h, ts_of(6)); /* some: 1..5 */
    assert_holds(&h, 6, 20);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(refs(all.m[i]), 1);
    history_expire(&h, ts_of(6) + 1); /* between two timestamps: 6 goes */
    assert_holds(&h, 7, 20);

    history_expire(&h, ts_of(20) + 1); /* all */
    assert_int_equal(h.count, 0);
    assert_int_equal(history_oldest(&h, 21), 21);
    history_expire(&h, UINT64_MAX); /* on an empty ring with slots */
    assert_int_equal(h.count, 0);

    push_range(&h, &all, 30, 35, 50);
    assert_holds(&h, 30, 35);
    history_free(&h);
    msgs_release(&all);
}

/* A long run with the cutoff moving forward and pushes in between: what history holds is
 * always the newest size_max not yet expired, and every dropped message was dropped once. */
static void a_long_run_of_pushes_and_expiries_agrees_with_a_window(void **state)
{
    (void)state;
    static struct msgs all;
    struct history h;
    history_init(&h);
    enum { SIZE_MAX_RUN = 37, PUSHES = 2500 };
    uint64_t cutoff_offset = 1; /* offsets below this have expired */
    uint64_t rng = 12345;
    for (uint64_t o = 1; o <= PUSHES; o++) {
        push_range(&h, &all, o, o, SIZE_MAX_RUN);
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        if ((rng >> 60) == 0) {
            uint64_t back = (rng >> 33) % 50; /* may reach before what is held */
            uint64_t cutoff = back > o ? 1 : o + 1 - back;
            history_expire(&h, ts_of(cutoff));
            if (cutoff > cutoff_offset)
                cutoff_offset = cutoff; /* an earlier cutoff brings nothing back */
        }
        uint64_t first = o + 1 > SIZE_MAX_RUN ? o + 1 - SIZE_MAX_RUN : 1;
        if (first < cutoff_offset)
            first = cutoff_offset;
        if (first > o) {
            assert_int_equal(h.count, 0);
            assert_int_equal(history_oldest(&h, o + 1), o + 1);
        } else {
            assert_holds(&h, first, o);
        }
        for (uint64_t d = 1; d < first; d++)
            assert_int_equal(refs(all.m[d - 1]), 1);
    }
    history_free(&h);
    msgs_release(&all);
}

static void history_free_releases_every_message(void **state)
{
    (void)state;
    static struct msgs all;
    struct history h;
    history_init(&h);
    push_range(&h, &all, 1, 1000, 1000);
    assert_int_equal(h.count, 1000);
    history_free(&h);
    assert_int_equal(h.count, 0);
    assert_int_equal(h.cap, 0);
    assert_null(h.slots);
    msgs_release(&all);

    /* Messages whose only reference is history's are freed by history_free (LSan checks). */
    history_init(&h);
    for (uint64_t o = 1; o <= 50; o++) {
        char json[] = "{}";
        struct chan_msg *m = chan_msg_new(CHAN_MSG_MESSAGE, "x", 1, 1, json, 2);
        assert_non_null(m);
        m->offset = o;
        assert_true(history_push(&h, m, 20));
        chan_msg_unref(m);
    }
    assert_int_equal(h.count, 20);
    assert_int_equal(history_oldest(&h, 51), 31);
    history_free(&h);
}

/* history.h: when the ring cannot grow (out of memory) everything older is dropped and
 * history restarts at `m`, returning true (m is kept). Here the doubling to 16 fails and
 * the fresh 8-slot ring after the drop is allocated. */
static void a_ring_that_cannot_grow_restarts_at_the_new_message(void **state)
{
    (void)state;
    static struct msgs all;
    struct history h;
    history_init(&h);
    push_range(&h, &all, 1, 8, 100);
    assert_int_equal(h.cap, 8);
    struct chan_msg *m = msg_make(&all, 9);
    malloc_failures = 1;
    bool pushed = history_push(&h, m, 100);
    malloc_failures = 0;
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(refs(all.m[i]), 1); /* every older message dropped, once */
    assert_holds(&h, 9, 9);
    history_free(&h);
    msgs_release(&all);
    assert_true(pushed); /* last, so a failure here leaks nothing */
}

/* When not even the fresh ring can be had, history is empty and consistent, holds no
 * reference to the new message, and works again once memory is back. */
static void a_ring_that_cannot_be_allocated_at_all_is_left_empty(void **state)
{
    (void)state;
    static struct msgs all;
    struct history h;
    history_init(&h);
    push_range(&h, &all, 1, 8, 100);
    struct chan_msg *m = msg_make(&all, 9);
    malloc_failures = 2;
    bool pushed = history_push(&h, m, 100);
    malloc_failures = 0;
    assert_false(pushed);
    assert_int_equal(h.count, 0);
    assert_int_equal(history_oldest(&h, 10), 10);
    for (size_t i = 0; i < 9; i++)
        assert_int_equal(refs(all.m[i]), 1);
    push_range(&h, &all, 10, 12, 100);
    assert_holds(&h, 10, 12);
    history_free(&h);
    msgs_release(&all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_empty_history_starts_at_the_next_offset),
        cmocka_unit_test(pushing_past_size_max_drops_the_oldest),
        cmocka_unit_test(the_ring_grows_from_8_to_size_max),
        cmocka_unit_test(growing_a_wrapped_ring_keeps_the_order),
        cmocka_unit_test(size_max_1_keeps_only_the_newest),
        cmocka_unit_test(expiring_drops_what_is_older_than_the_cutoff),
        cmocka_unit_test(a_long_run_of_pushes_and_expiries_agrees_with_a_window),
        cmocka_unit_test(history_free_releases_every_message),
        cmocka_unit_test(a_ring_that_cannot_grow_restarts_at_the_new_message),
        cmocka_unit_test(a_ring_that_cannot_be_allocated_at_all_is_left_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
