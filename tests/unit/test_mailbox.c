/* Inter-worker mailbox: order across ring and overflow, refusals when both are full, one
 * wake-up per flush, and two real threads on their own io_urings passing a million items. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/mailbox.h"

enum { TAG_WAKE = 1 };

struct side {
    struct loop loop;
    uint64_t wakes;
    uintptr_t next_expected; /* items are the integers 1, 2, 3 ... in order */
    uint64_t received;
};

static void side_dispatch(void *ctx, const struct io_uring_cqe *cqe)
{
    struct side *s = ctx;
    assert_int_equal(loop_udata_tag(cqe->user_data), TAG_WAKE);
    s->wakes++;
}

static void side_timer(struct tw_timer *t, void *ctx)
{
    (void)t;
    (void)ctx;
    fail_msg("no timers in this test");
}

static void side_init(struct side *s)
{
    memset(s, 0, sizeof *s);
    s->next_expected = 1;
    char err[LOOP_ERROR_BYTES];
    struct loop_params p = {.sq_entries = 64,
                            .cq_entries = 1024,
                            .dispatch = side_dispatch,
                            .timer_expire = side_timer,
                            .ctx = s};
    assert_int_equal(loop_init(&s->loop, &p, err), 0);
}

static void deliver_in_order(void *ctx, unsigned from, void *item)
{
    struct side *s = ctx;
    assert_int_equal(from, 0);
    assert_int_equal((uintptr_t)item, s->next_expected);
    s->next_expected++;
    s->received++;
}

static void items_spill_into_overflow_and_keep_their_order(void **state)
{
    (void)state;
    struct mailbox_grid g;
    struct side a, b;
    side_init(&a);
    side_init(&b);
    assert_int_equal(mailbox_grid_init(&g, 2, 8, 100), 0); /* a ring holds 7 */
    mailbox_grid_attach(&g, 0, &a.loop, loop_udata(&a, TAG_WAKE));
    mailbox_grid_attach(&g, 1, &b.loop, loop_udata(&b, TAG_WAKE));
    for (uintptr_t i = 1; i <= 50; i++)
        assert_true(mailbox_send(&g, 0, 1, (void *)i));
    assert_int_equal(mailbox_depth(&g, 0, 1), 7);
    assert_true(mailbox_has_overflow(&g, 0));
    assert_int_equal(atomic_load(&mailbox_lane(&g, 0, 1)->overflowed), 43);
    /* Drain and flush in turns until everything has arrived, in order. */
    for (int turn = 0; turn < 20 && b.received < 50; turn++) {
        mailbox_receive(&g, 1, deliver_in_order, &b, 1000);
        mailbox_flush(&g, 0, &a.loop);
        assert_int_equal(loop_run_once(&a.loop, 0), 0);
    }
    mailbox_receive(&g, 1, deliver_in_order, &b, 1000);
    assert_int_equal(b.received, 50);
    assert_false(mailbox_has_overflow(&g, 0));
    assert_int_equal(atomic_load(&mailbox_lane(&g, 0, 1)->dropped), 0);
    mailbox_grid_destroy(&g);
    loop_destroy(&a.loop);
    loop_destroy(&b.loop);
}

static void a_full_ring_and_full_overflow_refuse_and_count(void **state)
{
    (void)state;
    struct mailbox_grid g;
    assert_int_equal(mailbox_grid_init(&g, 3, 4, 5), 0); /* ring holds 3, overflow 5 */
    for (uintptr_t i = 1; i <= 8; i++)
        assert_true(mailbox_send(&g, 2, 0, (void *)i));
    assert_false(mailbox_send(&g, 2, 0, (void *)9));
    assert_false(mailbox_send(&g, 2, 0, (void *)10));
    assert_int_equal(atomic_load(&mailbox_lane(&g, 2, 0)->dropped), 2);
    assert_true(mailbox_send(&g, 2, 1, (void *)1)); /* other lanes are not affected */
    assert_int_equal(mailbox_depth(&g, 2, 1), 1);
    assert_int_equal(mailbox_depth(&g, 1, 2), 0);
    mailbox_grid_destroy(&g);
}

static void one_wake_per_flush_whatever_the_burst(void **state)
{
    (void)state;
    struct mailbox_grid g;
    struct side a, b;
    side_init(&a);
    side_init(&b);
    assert_int_equal(mailbox_grid_init(&g, 2, 1024, 0), 0);
    mailbox_grid_attach(&g, 0, &a.loop, loop_udata(&a, TAG_WAKE));
    mailbox_grid_attach(&g, 1, &b.loop, loop_udata(&b, TAG_WAKE));
    for (uintptr_t i = 1; i <= 500; i++)
        assert_true(mailbox_send(&g, 0, 1, (void *)i));
    mailbox_flush(&g, 0, &a.loop);
    mailbox_flush(&g, 0, &a.loop); /* nothing new: no second wake */
    assert_int_equal(loop_run_once(&a.loop, 0), 0);
    for (int turn = 0; turn < 20 && b.wakes == 0; turn++)
        assert_int_equal(loop_run_once(&b.loop, 50), 0);
    assert_int_equal(loop_run_once(&b.loop, 50), 0);
    assert_int_equal(b.wakes, 1);
    assert_int_equal(mailbox_receive(&g, 1, deliver_in_order, &b, 100), 100); /* bounded */
    assert_int_equal(mailbox_receive(&g, 1, deliver_in_order, &b, 1000), 400);
    mailbox_grid_destroy(&g);
    loop_destroy(&a.loop);
    loop_destroy(&b.loop);
}

/* ---- two threads, each with its own ring, as workers run ---- */

enum { STRESS_ITEMS = 1000000, STRESS_DEADLINE_MS = 60000 };

struct stress {
    struct mailbox_grid grid;
    struct side sides[2];
    _Atomic int ready;
    _Atomic bool producer_done;
};

/* cmocka's assertions are not for other threads: the consumer counts, the test asserts. */
static void stress_deliver(void *ctx, unsigned from, void *item)
{
    struct side *s = ctx;
    if (from != 0 || (uintptr_t)item != s->next_expected)
        s->next_expected = UINTPTR_MAX; /* poisoned: every later item mismatches too */
    else
        s->next_expected++;
    s->received++;
}

static void *stress_consumer(void *arg)
{
    struct stress *st = arg;
    struct side *b = &st->sides[1];
    side_init(b);
    mailbox_grid_attach(&st->grid, 1, &b->loop, loop_udata(b, TAG_WAKE));
    atomic_fetch_add(&st->ready, 1);
    /* Bounded in time, not in turns: on a busy machine the two threads interleave finely
     * and a turn may carry only a few items. */
    uint64_t deadline_ms = loop_clock_ms() + STRESS_DEADLINE_MS;
    while (b->received < STRESS_ITEMS && loop_clock_ms() < deadline_ms) {
        if (loop_run_once(&b->loop, 100) != 0)
            break;
        while (mailbox_receive(&st->grid, 1, stress_deliver, b, 4096) == 4096)
            ;
    }
    return NULL;
}

static void a_million_items_cross_between_threads_in_order(void **state)
{
    (void)state;
    static struct stress st;
    memset(&st, 0, sizeof st);
    assert_int_equal(mailbox_grid_init(&st.grid, 2, 1024, 1u << 20), 0);
    struct side *a = &st.sides[0];
    side_init(a);
    mailbox_grid_attach(&st.grid, 0, &a->loop, loop_udata(a, TAG_WAKE));
    pthread_t consumer;
    assert_int_equal(pthread_create(&consumer, NULL, stress_consumer, &st), 0);
    while (atomic_load(&st.ready) == 0)
        sched_yield();
    uintptr_t sent = 0;
    uint64_t deadline_ms = loop_clock_ms() + STRESS_DEADLINE_MS;
    while ((sent < STRESS_ITEMS || mailbox_has_overflow(&st.grid, 0)) &&
           loop_clock_ms() < deadline_ms) {
        for (int i = 0; i < 5000 && sent < STRESS_ITEMS; i++)
            assert_true(mailbox_send(&st.grid, 0, 1, (void *)++sent));
        mailbox_flush(&st.grid, 0, &a->loop);
        assert_int_equal(loop_run_once(&a->loop, 0), 0);
    }
    assert_int_equal(pthread_join(consumer, NULL), 0);
    assert_int_equal(st.sides[1].received, STRESS_ITEMS);
    assert_int_equal(st.sides[1].next_expected, STRESS_ITEMS + 1); /* all in order */
    assert_int_equal(atomic_load(&mailbox_lane(&st.grid, 0, 1)->dropped), 0);
    mailbox_grid_destroy(&st.grid);
    loop_destroy(&a->loop);
    loop_destroy(&st.sides[1].loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(items_spill_into_overflow_and_keep_their_order),
        cmocka_unit_test(a_full_ring_and_full_overflow_refuse_and_count),
        cmocka_unit_test(one_wake_per_flush_whatever_the_burst),
        cmocka_unit_test(a_million_items_cross_between_threads_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
