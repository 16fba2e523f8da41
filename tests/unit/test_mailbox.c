/* Inter-worker mailbox: order across ring and overflow, refusals when both are full, one
 * wake-up per flush, and two real threads on their own io_urings passing a million items. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
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

/* ---- control items, drain, detach ---- */

/* One turn of the two workers in one thread: b reads everything, a flushes and submits its
 * wake-ups, b takes them. */
static void turn(struct mailbox_grid *g, struct side *a, struct side *b, mailbox_deliver_fn fn,
                 void *ctx)
{
    while (mailbox_receive(g, 1, fn, ctx, 4096) == 4096)
        ;
    mailbox_flush(g, 0, &a->loop);
    assert_int_equal(loop_run_once(&a->loop, 0), 0);
    assert_int_equal(loop_run_once(&b->loop, 0), 0);
}

enum { CONTROL_ITEMS = 100000 };

static void control_items_are_never_refused_and_keep_their_order(void **state)
{
    (void)state;
    struct mailbox_grid g;
    struct side a, b;
    side_init(&a);
    side_init(&b);
    assert_int_equal(mailbox_grid_init(&g, 2, 64, 16), 0); /* ring 63, overflow 16 */
    mailbox_grid_attach(&g, 0, &a.loop, loop_udata(&a, TAG_WAKE));
    mailbox_grid_attach(&g, 1, &b.loop, loop_udata(&b, TAG_WAKE));
    for (uintptr_t i = 1; i <= CONTROL_ITEMS; i++)
        assert_true(mailbox_send_control(&g, 0, 1, (void *)i));
    struct mailbox_lane *lane = mailbox_lane(&g, 0, 1);
    assert_int_equal(mailbox_depth(&g, 0, 1), 63);
    assert_int_equal(lane->overflow.count, CONTROL_ITEMS - 63); /* far past overflow_max */
    assert_int_equal(atomic_load(&lane->overflowed), CONTROL_ITEMS - 63);
    assert_int_equal(atomic_load(&lane->dropped), 0);
    /* A flush moves 63 at most: about 1,600 turns. */
    for (int t = 0; t < 4000 && b.received < CONTROL_ITEMS; t++)
        turn(&g, &a, &b, deliver_in_order, &b);
    assert_int_equal(b.received, CONTROL_ITEMS);
    assert_int_equal(b.next_expected, CONTROL_ITEMS + 1);
    assert_false(mailbox_has_overflow(&g, 0));
    assert_true(b.wakes > 0);
    mailbox_grid_destroy(&g);
    loop_destroy(&a.loop);
    loop_destroy(&b.loop);
}

/* What the receiver must see: the items the sender got `true` for, in sending order. */
enum { MIXED_ITEMS = 20000 };

struct expected {
    uintptr_t items[MIXED_ITEMS];
    size_t count, next;
};

static void deliver_expected(void *ctx, unsigned from, void *item)
{
    struct expected *e = ctx;
    assert_int_equal(from, 0);
    assert_true(e->next < e->count);
    assert_int_equal((uintptr_t)item, e->items[e->next]);
    e->next++;
}

static void sends_and_control_sends_mixed_arrive_in_sending_order(void **state)
{
    (void)state;
    static struct expected e;
    memset(&e, 0, sizeof e);
    struct mailbox_grid g;
    struct side a, b;
    side_init(&a);
    side_init(&b);
    assert_int_equal(mailbox_grid_init(&g, 2, 8, 16), 0); /* ring 7, overflow 16 */
    mailbox_grid_attach(&g, 0, &a.loop, loop_udata(&a, TAG_WAKE));
    mailbox_grid_attach(&g, 1, &b.loop, loop_udata(&b, TAG_WAKE));
    uint64_t rng = 88172645463325252ull; /* xorshift64, fixed */
    size_t refused = 0, controls = 0;
    for (uintptr_t i = 1; i <= MIXED_ITEMS; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        bool control = rng % 4 == 0;
        bool sent =
            control ? mailbox_send_control(&g, 0, 1, (void *)i) : mailbox_send(&g, 0, 1, (void *)i);
        if (control)
            assert_true(sent);
        controls += control;
        if (sent)
            e.items[e.count++] = i;
        else
            refused++;
        /* Now and then the receiver catches up, or takes a few items between two flushes,
         * leaving room in the ring while older items still wait in overflow. */
        if ((rng >> 32) % 64 == 0)
            turn(&g, &a, &b, deliver_expected, &e);
        else if ((rng >> 32) % 64 == 1)
            mailbox_receive(&g, 1, deliver_expected, &e, 1 + (rng >> 40) % 3);
    }
    for (int t = 0; t < 10000 && e.next < e.count; t++)
        turn(&g, &a, &b, deliver_expected, &e);
    assert_int_equal(e.next, e.count);
    assert_true(refused > 0 && controls > 0); /* both paths were taken */
    assert_int_equal(atomic_load(&mailbox_lane(&g, 0, 1)->dropped), refused);
    assert_int_equal(e.count + refused, MIXED_ITEMS);
    mailbox_grid_destroy(&g);
    loop_destroy(&a.loop);
    loop_destroy(&b.loop);
}

static void deliver_count(void *ctx, unsigned from, void *item)
{
    (void)from;
    (void)item;
    (*(size_t *)ctx)++;
}

/* A grid that a failing test still frees (drained first, so LSan reports only real leaks). */
static int grid_2x4x16_setup(void **state)
{
    struct mailbox_grid *g = malloc(sizeof *g);
    if (g == NULL || mailbox_grid_init(g, 2, 4, 16) != 0) { /* ring 3, overflow 16 */
        free(g);
        return -1;
    }
    *state = g;
    return 0;
}

static int grid_teardown(void **state)
{
    struct mailbox_grid *g = *state;
    size_t discarded = 0;
    mailbox_grid_drain(g, deliver_count, &discarded);
    mailbox_grid_destroy(g);
    free(g);
    return 0;
}

/* Control items may grow a lane's overflow queue past overflow_max; deliveries must still be
 * refused while it holds overflow_max or more, or the bound on what a slow worker can
 * accumulate is gone for good (the queue never shrinks). */
static void deliveries_are_refused_past_overflow_max_after_control_items(void **state)
{
    struct mailbox_grid *g = *state;
    for (uintptr_t i = 1; i <= 3 + 40; i++)
        assert_true(mailbox_send_control(g, 0, 1, (void *)i));
    assert_int_equal(mailbox_lane(g, 0, 1)->overflow.count, 40);
    assert_false(mailbox_send(g, 0, 1, (void *)44));
    assert_int_equal(atomic_load(&mailbox_lane(g, 0, 1)->dropped), 1);
    assert_true(mailbox_send_control(g, 0, 1, (void *)45)); /* control still goes */
    assert_int_equal(mailbox_lane(g, 0, 1)->overflow.count, 41);
    size_t discarded = 0;
    assert_int_equal(mailbox_grid_drain(g, deliver_count, &discarded), 44);
    assert_int_equal(discarded, 44);
}

/* Items are (from << 24 | to << 16 | seq) so drain can check where each came from. */
enum { DRAIN_WORKERS = 3, DRAIN_PER_LANE = 23 };

struct drained {
    unsigned seen[DRAIN_WORKERS][DRAIN_WORKERS][DRAIN_PER_LANE + 8];
    unsigned next_seq[DRAIN_WORKERS][DRAIN_WORKERS];
    size_t count;
};

static void deliver_drained(void *ctx, unsigned from, void *item)
{
    struct drained *d = ctx;
    uintptr_t v = (uintptr_t)item;
    unsigned f = (unsigned)(v >> 24), to = (unsigned)(v >> 16) & 0xff, seq = v & 0xffff;
    assert_int_equal(from, f);
    assert_true(to < DRAIN_WORKERS && to != f && seq < DRAIN_PER_LANE + 8);
    assert_int_equal(seq, d->next_seq[f][to]); /* in order per lane: ring, then overflow */
    d->next_seq[f][to]++;
    d->seen[f][to][seq]++;
    d->count++;
}

static void *drain_item(unsigned from, unsigned to, unsigned seq)
{
    return (void *)(((uintptr_t)from << 24) | ((uintptr_t)to << 16) | seq);
}

static void drain_hands_over_every_queued_item_once(void **state)
{
    (void)state;
    static struct drained d;
    memset(&d, 0, sizeof d);
    struct mailbox_grid g;
    struct side a;
    side_init(&a);
    assert_int_equal(mailbox_grid_init(&g, DRAIN_WORKERS, 8, 16), 0); /* ring 7, overflow 16 */
    /* Every lane: 7 in the ring, 16 in overflow (its limit). */
    for (unsigned from = 0; from < DRAIN_WORKERS; from++)
        for (unsigned to = 0; to < DRAIN_WORKERS; to++)
            for (unsigned seq = 0; from != to && seq < DRAIN_PER_LANE; seq++)
                assert_true(mailbox_send(&g, from, to, drain_item(from, to, seq)));
    /* Lane 0 -> 1 also gets a wrapped overflow queue: its reader takes the ring's 7, a flush
     * moves 7 from overflow into the ring, and 7 more spill behind the other 9. */
    assert_false(mailbox_send(&g, 0, 1, drain_item(0, 1, 0xffff)));      /* full: refused */
    assert_int_equal(mailbox_receive(&g, 1, deliver_drained, &d, 7), 7); /* 0 -> 1 first */
    mailbox_flush(&g, 0, &a.loop); /* nobody attached: moves items, wakes nobody */
    assert_int_equal(io_uring_sq_ready(&a.loop.ring), 0);
    for (unsigned seq = DRAIN_PER_LANE; seq < DRAIN_PER_LANE + 7; seq++)
        assert_true(mailbox_send(&g, 0, 1, drain_item(0, 1, seq)));
    assert_int_equal(mailbox_lane(&g, 0, 1)->overflow.count, 16);
    assert_int_not_equal(mailbox_lane(&g, 0, 1)->overflow.head, 0);

    size_t queued = 6 * DRAIN_PER_LANE; /* lane 0 -> 1: 7 received, 7 more sent */
    assert_int_equal(mailbox_grid_drain(&g, deliver_drained, &d), queued);
    assert_int_equal(d.count, queued + 7);
    for (unsigned from = 0; from < DRAIN_WORKERS; from++) {
        for (unsigned to = 0; to < DRAIN_WORKERS; to++) {
            unsigned n = from == to             ? 0
                         : from == 0 && to == 1 ? DRAIN_PER_LANE + 7
                                                : DRAIN_PER_LANE;
            assert_int_equal(d.next_seq[from][to], n);
            for (unsigned seq = 0; seq < n; seq++)
                assert_int_equal(d.seen[from][to][seq], 1);
            if (from != to)
                assert_int_equal(mailbox_depth(&g, from, to), 0);
        }
        assert_false(mailbox_has_overflow(&g, from));
    }
    assert_int_equal(mailbox_grid_drain(&g, deliver_drained, &d), 0); /* nothing twice */
    mailbox_grid_destroy(&g);
    loop_destroy(&a.loop);
}

/* A detached worker gets no MSG_RING: its wake-up is held back (its ring fd may be closing),
 * and sent once it is attached again. */
static void a_detached_worker_is_not_woken_until_attached(void **state)
{
    (void)state;
    struct mailbox_grid g;
    struct side a, b;
    side_init(&a);
    side_init(&b);
    assert_int_equal(mailbox_grid_init(&g, 2, 8, 16), 0);
    mailbox_grid_attach(&g, 0, &a.loop, loop_udata(&a, TAG_WAKE));
    mailbox_grid_attach(&g, 1, &b.loop, loop_udata(&b, TAG_WAKE));

    /* Attached: a flush prepares one MSG_RING and b wakes. */
    assert_true(mailbox_send(&g, 0, 1, (void *)1));
    mailbox_flush(&g, 0, &a.loop);
    assert_int_equal(io_uring_sq_ready(&a.loop.ring), 1);
    assert_int_equal(loop_run_once(&a.loop, 0), 0);
    for (int t = 0; t < 20 && b.wakes == 0; t++)
        assert_int_equal(loop_run_once(&b.loop, 50), 0);
    assert_int_equal(b.wakes, 1);
    assert_int_equal(mailbox_receive(&g, 1, deliver_in_order, &b, 100), 1);

    /* Detached: items queue (ring and overflow) but no flush prepares a MSG_RING. */
    mailbox_grid_detach(&g, 1);
    for (uintptr_t i = 2; i <= 12; i++) /* 7 in the ring, 4 spilled */
        assert_true(mailbox_send(&g, 0, 1, (void *)i));
    for (int f = 0; f < 3; f++) {
        mailbox_flush(&g, 0, &a.loop);
        assert_int_equal(io_uring_sq_ready(&a.loop.ring), 0);
        assert_int_equal(loop_run_once(&a.loop, 0), 0);
    }
    for (int t = 0; t < 4; t++)
        assert_int_equal(loop_run_once(&b.loop, 25), 0);
    assert_int_equal(b.wakes, 1);
    assert_true(mailbox_has_overflow(&g, 0));
    assert_int_equal(mailbox_depth(&g, 0, 1), 7);

    /* Attached again: the next flush, with nothing new sent, sends the held wake-up. */
    mailbox_grid_attach(&g, 1, &b.loop, loop_udata(&b, TAG_WAKE));
    mailbox_flush(&g, 0, &a.loop);
    assert_int_equal(io_uring_sq_ready(&a.loop.ring), 1);
    assert_int_equal(loop_run_once(&a.loop, 0), 0);
    for (int t = 0; t < 20 && b.wakes == 1; t++)
        assert_int_equal(loop_run_once(&b.loop, 50), 0);
    assert_int_equal(b.wakes, 2);
    for (int t = 0; t < 10 && b.received < 12; t++)
        turn(&g, &a, &b, deliver_in_order, &b);
    assert_int_equal(b.received, 12);
    assert_int_equal(b.next_expected, 13);
    mailbox_grid_destroy(&g);
    loop_destroy(&a.loop);
    loop_destroy(&b.loop);
}

/* Items sent before a worker is attached for the first time wait in the ring; the wake-up
 * goes with the first flush after the attach. */
static void items_sent_before_the_first_attach_wait_for_it(void **state)
{
    (void)state;
    struct mailbox_grid g;
    struct side a, b;
    side_init(&a);
    side_init(&b);
    assert_int_equal(mailbox_grid_init(&g, 2, 8, 16), 0);
    mailbox_grid_attach(&g, 0, &a.loop, loop_udata(&a, TAG_WAKE));
    for (uintptr_t i = 1; i <= 5; i++)
        assert_true(mailbox_send(&g, 0, 1, (void *)i));
    mailbox_flush(&g, 0, &a.loop);
    assert_int_equal(io_uring_sq_ready(&a.loop.ring), 0);
    mailbox_grid_attach(&g, 1, &b.loop, loop_udata(&b, TAG_WAKE));
    mailbox_flush(&g, 0, &a.loop);
    assert_int_equal(io_uring_sq_ready(&a.loop.ring), 1);
    mailbox_flush(&g, 0, &a.loop); /* the held wake-up went: not twice */
    assert_int_equal(io_uring_sq_ready(&a.loop.ring), 1);
    assert_int_equal(loop_run_once(&a.loop, 0), 0);
    for (int t = 0; t < 20 && b.wakes == 0; t++)
        assert_int_equal(loop_run_once(&b.loop, 50), 0);
    assert_int_equal(b.wakes, 1);
    assert_int_equal(mailbox_receive(&g, 1, deliver_in_order, &b, 100), 5);
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
        cmocka_unit_test(control_items_are_never_refused_and_keep_their_order),
        cmocka_unit_test(sends_and_control_sends_mixed_arrive_in_sending_order),
        cmocka_unit_test_setup_teardown(
            deliveries_are_refused_past_overflow_max_after_control_items, grid_2x4x16_setup,
            grid_teardown),
        cmocka_unit_test(drain_hands_over_every_queued_item_once),
        cmocka_unit_test(a_detached_worker_is_not_woken_until_attached),
        cmocka_unit_test(items_sent_before_the_first_attach_wait_for_it),
        cmocka_unit_test(a_million_items_cross_between_threads_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
