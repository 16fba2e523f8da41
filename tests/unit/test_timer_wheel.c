/* Timer wheel: timers fire on their tick and never early, across every level and across the
 * boundaries between rotations of the top level; expiry callbacks may re-arm, cancel and arm;
 * long idle stretches are skipped; and randomized runs (512 timers, then 100,000 at once)
 * agree with a brute-force model, tw_next_timeout_ms included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/timer_wheel.h"

#define HOUR_MS ((uint64_t)3600 * 1000)
#define DAY_MS  (24 * HOUR_MS)

enum { FIRED_MAX = 4096 };

/* A timer's owner, as the gateway's connections embed theirs. */
struct item {
    unsigned id;
    struct tw_timer timer;
    struct item *victim; /* cancelled by this item's callback, when set */
    struct item *spawn;  /* armed by this item's callback at now + spawn_after_ms */
    uint64_t spawn_after_ms;
    unsigned rearm_times; /* re-arms itself period_ms later this many more times */
    uint64_t period_ms;
};

/* What the expiry callback saw. */
struct harness {
    struct timer_wheel wheel;
    size_t fired_count;
    unsigned fired_id[FIRED_MAX];
    uint64_t fired_at_ms[FIRED_MAX];  /* the wheel's time during the callback */
    uint64_t fired_expiry[FIRED_MAX]; /* the timer's expires_ms during the callback */
};

static struct item *item_of(struct tw_timer *t)
{
    return (struct item *)((char *)t - offsetof(struct item, timer));
}

static void on_expire(struct tw_timer *t, void *ctx)
{
    struct harness *h = ctx;
    struct item *it = item_of(t);
    assert_false(tw_armed(t)); /* unlinked before the callback */
    assert_true(h->fired_count < FIRED_MAX);
    h->fired_id[h->fired_count] = it->id;
    h->fired_at_ms[h->fired_count] = h->wheel.now_ms;
    h->fired_expiry[h->fired_count] = t->expires_ms;
    h->fired_count++;
    if (it->victim != NULL)
        tw_cancel(&h->wheel, &it->victim->timer);
    if (it->spawn != NULL)
        tw_arm(&h->wheel, &it->spawn->timer, h->wheel.now_ms + it->spawn_after_ms);
    if (it->rearm_times > 0) {
        it->rearm_times--;
        tw_arm(&h->wheel, t, h->wheel.now_ms + it->period_ms);
    }
}

static void harness_init(struct harness *h, uint64_t now_ms)
{
    memset(h, 0, sizeof *h);
    tw_init(&h->wheel, now_ms, on_expire, h);
}

static void items_init(struct item *items, size_t n)
{
    memset(items, 0, n * sizeof *items);
    for (size_t i = 0; i < n; i++) {
        items[i].id = (unsigned)i;
        tw_timer_init(&items[i].timer);
    }
}

static size_t fired_times(const struct harness *h, unsigned id)
{
    size_t n = 0;
    for (size_t i = 0; i < h->fired_count; i++)
        n += h->fired_id[i] == id;
    return n;
}

/* Expiries that start and end each level's range, plus hours and days; ascending. */
static const uint64_t level_delays_ms[] = {
    1,      2,      63,     64,          65,       4095,     4096,       4097,
    262143, 262144, 262145, 2 * HOUR_MS, 16777215, 16777216, 5 * DAY_MS, 11 * DAY_MS};
enum { LEVEL_DELAYS = sizeof level_delays_ms / sizeof level_delays_ms[0] };

/* Start times: zero, unaligned, just before a top-level rotation, a real monotonic clock. */
static const uint64_t starts_ms[] = {0, 12345, TW_RANGE_MS - 7, 3 * TW_RANGE_MS - 1, 5123456789012};
enum { STARTS = sizeof starts_ms / sizeof starts_ms[0] };

static void one_timer_fires_on_its_tick_and_never_before(uint64_t start, uint64_t delay)
{
    struct harness h;
    struct item it;
    harness_init(&h, start);
    items_init(&it, 1);
    tw_arm(&h.wheel, &it.timer, start + delay);
    assert_true(tw_armed(&it.timer));
    assert_int_equal(tw_advance(&h.wheel, start + delay / 2), 0);
    assert_int_equal(tw_advance(&h.wheel, start + delay - 1), 0);
    assert_int_equal(h.fired_count, 0);
    assert_int_equal(tw_advance(&h.wheel, start + delay), 1);
    assert_int_equal(h.fired_count, 1);
    assert_int_equal(h.fired_at_ms[0], start + delay);
    assert_int_equal(h.wheel.armed_count, 0);
    assert_false(tw_armed(&it.timer));
    assert_int_equal(tw_next_timeout_ms(&h.wheel), UINT64_MAX);
}

static void a_timer_fires_on_its_tick_at_every_level_and_start_time(void **state)
{
    (void)state;
    for (size_t s = 0; s < STARTS; s++)
        for (size_t d = 0; d < LEVEL_DELAYS; d++)
            one_timer_fires_on_its_tick_and_never_before(starts_ms[s], level_delays_ms[d]);
}

/* Advances to one millisecond before each expiry, then onto it: exactly that timer fires. */
static void timers_on_every_level_fire_in_expiry_order(void **state)
{
    (void)state;
    for (size_t s = 0; s < STARTS; s++) {
        struct harness h;
        struct item items[LEVEL_DELAYS];
        uint64_t start = starts_ms[s];
        harness_init(&h, start);
        items_init(items, LEVEL_DELAYS);
        for (size_t d = LEVEL_DELAYS; d-- > 0;) /* armed out of order on purpose */
            tw_arm(&h.wheel, &items[d].timer, start + level_delays_ms[d]);
        assert_int_equal(h.wheel.armed_count, LEVEL_DELAYS);
        for (size_t d = 0; d < LEVEL_DELAYS; d++) {
            assert_int_equal(tw_advance(&h.wheel, start + level_delays_ms[d] - 1), 0);
            assert_int_equal(tw_advance(&h.wheel, start + level_delays_ms[d]), 1);
            assert_int_equal(h.fired_id[d], d);
            assert_int_equal(h.fired_at_ms[d], start + level_delays_ms[d]);
            assert_int_equal(h.wheel.armed_count, LEVEL_DELAYS - d - 1);
        }
    }
}

static void one_advance_over_every_level_fires_them_all_once(void **state)
{
    (void)state;
    struct harness h;
    struct item items[LEVEL_DELAYS];
    harness_init(&h, 777);
    items_init(items, LEVEL_DELAYS);
    for (size_t d = 0; d < LEVEL_DELAYS; d++)
        tw_arm(&h.wheel, &items[d].timer, 777 + level_delays_ms[d]);
    assert_int_equal(tw_advance(&h.wheel, 777 + 12 * DAY_MS), LEVEL_DELAYS);
    for (size_t d = 0; d < LEVEL_DELAYS; d++) {
        assert_int_equal(fired_times(&h, (unsigned)d), 1);
        assert_int_equal(h.fired_at_ms[d], h.fired_expiry[d]); /* on its own tick */
    }
    assert_int_equal(h.wheel.now_ms, 777 + 12 * DAY_MS);
}

static void an_expiry_in_the_past_fires_on_the_next_advance(void **state)
{
    (void)state;
    struct harness h;
    struct item items[2];
    harness_init(&h, 5000);
    items_init(items, 2);
    tw_arm(&h.wheel, &items[0].timer, 10);   /* long past */
    tw_arm(&h.wheel, &items[1].timer, 5000); /* now */
    assert_true(tw_armed(&items[0].timer));
    assert_int_equal(h.wheel.armed_count, 2);
    assert_int_equal(tw_next_timeout_ms(&h.wheel), 0);
    assert_int_equal(tw_next_timeout_ms(&h.wheel), 0); /* asking does not consume */
    assert_int_equal(tw_advance(&h.wheel, 5000), 2);   /* even without time passing */
    assert_int_equal(fired_times(&h, 0), 1);
    assert_int_equal(fired_times(&h, 1), 1);
    assert_int_equal(tw_next_timeout_ms(&h.wheel), UINT64_MAX);
}

static void a_callback_may_rearm_its_own_timer(void **state)
{
    (void)state;
    struct harness h;
    struct item it;
    harness_init(&h, 0);
    items_init(&it, 1);
    it.rearm_times = 9;
    it.period_ms = 10;
    tw_arm(&h.wheel, &it.timer, 10);
    assert_int_equal(tw_advance(&h.wheel, 1000), 10); /* 10, 20, ... 100 in one advance */
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(h.fired_at_ms[i], 10 * (i + 1));
    assert_false(tw_armed(&it.timer));
    assert_int_equal(h.wheel.armed_count, 0);
}

static void a_callback_cancels_another_timer_due_in_the_same_advance(void **state)
{
    (void)state;
    struct harness h;
    struct item items[3];
    harness_init(&h, 0);
    items_init(items, 3);
    /* Same expiry, same list: whichever fires first cancels the other two. */
    items[0].victim = &items[1];
    items[1].victim = &items[2];
    items[2].victim = &items[0];
    for (size_t i = 0; i < 3; i++)
        tw_arm(&h.wheel, &items[i].timer, 100);
    tw_cancel(&h.wheel, &items[0].timer);
    tw_arm(&h.wheel, &items[0].timer, 100);
    /* In any order: the first cancels its victim, the survivor's victim has already fired. */
    assert_int_equal(tw_advance(&h.wheel, 200), 2);
    assert_int_equal(fired_times(&h, items[h.fired_id[0]].victim->id), 0);
    assert_int_equal(h.wheel.armed_count, 0);
    for (size_t i = 0; i < 3; i++)
        assert_false(tw_armed(&items[i].timer));
}

static void a_callback_cancels_a_later_timer_of_the_same_advance(void **state)
{
    (void)state;
    struct harness h;
    struct item items[4];
    harness_init(&h, 0);
    items_init(items, 4);
    items[0].victim = &items[1]; /* level 0 cancels level 2 */
    items[2].victim = &items[3]; /* past (due list) cancels a level 0 timer */
    tw_arm(&h.wheel, &items[0].timer, 40);
    tw_arm(&h.wheel, &items[1].timer, 5000);
    assert_int_equal(tw_advance(&h.wheel, 6000), 1);
    assert_int_equal(h.fired_id[0], 0);
    tw_arm(&h.wheel, &items[2].timer, 100);
    tw_arm(&h.wheel, &items[3].timer, 6001);
    assert_int_equal(tw_advance(&h.wheel, 7000), 1);
    assert_int_equal(h.fired_id[1], 2);
    assert_int_equal(h.wheel.armed_count, 0);
    assert_int_equal(tw_next_timeout_ms(&h.wheel), UINT64_MAX);
}

static void a_callback_may_arm_a_new_timer(void **state)
{
    (void)state;
    struct harness h;
    struct item items[3];
    harness_init(&h, 0);
    items_init(items, 3);
    items[0].spawn = &items[1];
    items[0].spawn_after_ms = 70; /* lands on another level, still inside this advance */
    items[1].spawn = &items[2];
    items[1].spawn_after_ms = 0; /* due now: fires on the next advance, not this one */
    tw_arm(&h.wheel, &items[0].timer, 30);
    assert_int_equal(tw_advance(&h.wheel, 100), 2);
    assert_int_equal(h.fired_at_ms[1], 100);
    assert_true(tw_armed(&items[2].timer));
    assert_int_equal(tw_next_timeout_ms(&h.wheel), 0);
    assert_int_equal(tw_advance(&h.wheel, 100), 1);
    assert_int_equal(h.fired_id[2], 2);
    assert_int_equal(h.wheel.armed_count, 0);
}

static void cancelling_a_timer_that_is_not_armed_is_harmless(void **state)
{
    (void)state;
    struct harness h;
    struct item items[2];
    harness_init(&h, 0);
    items_init(items, 2);
    struct tw_timer zeroed = {0};
    tw_cancel(&h.wheel, &zeroed);
    tw_cancel(&h.wheel, &items[0].timer);
    tw_arm(&h.wheel, &items[1].timer, 64);
    tw_arm(&h.wheel, &items[0].timer, 64);
    tw_cancel(&h.wheel, &items[0].timer);
    tw_cancel(&h.wheel, &items[0].timer); /* twice */
    assert_int_equal(h.wheel.armed_count, 1);
    assert_int_equal(tw_advance(&h.wheel, 64), 1);
    assert_int_equal(h.fired_id[0], 1);
    tw_cancel(&h.wheel, &items[1].timer); /* after it fired */
    assert_int_equal(h.wheel.armed_count, 0);
}

static void rearming_an_armed_timer_moves_it(void **state)
{
    (void)state;
    struct harness h;
    struct item it;
    harness_init(&h, 0);
    items_init(&it, 1);
    tw_arm(&h.wheel, &it.timer, 5000);
    tw_arm(&h.wheel, &it.timer, 20); /* earlier */
    assert_int_equal(h.wheel.armed_count, 1);
    assert_int_equal(tw_advance(&h.wheel, 20), 1);
    tw_arm(&h.wheel, &it.timer, 30);
    tw_arm(&h.wheel, &it.timer, 300000); /* later */
    assert_int_equal(tw_advance(&h.wheel, 299999), 0);
    assert_int_equal(tw_advance(&h.wheel, 300000), 1);
    assert_int_equal(h.wheel.armed_count, 0);
}

static void expiries_beyond_the_range_fire_at_its_end(void **state)
{
    (void)state;
    for (size_t s = 0; s < STARTS; s++) {
        struct harness h;
        struct item items[3];
        uint64_t start = starts_ms[s], end = start + TW_RANGE_MS - 1;
        harness_init(&h, start);
        items_init(items, 3);
        tw_arm(&h.wheel, &items[0].timer, start + TW_RANGE_MS);
        tw_arm(&h.wheel, &items[1].timer, start + 40 * TW_RANGE_MS);
        tw_arm(&h.wheel, &items[2].timer, UINT64_MAX);
        assert_int_equal(items[1].timer.expires_ms, end);
        assert_int_equal(tw_advance(&h.wheel, end - 1), 0);
        assert_int_equal(tw_advance(&h.wheel, end), 3);
        for (size_t i = 0; i < 3; i++)
            assert_int_equal(h.fired_at_ms[i], end);
    }
}

/* Expiries just across a boundary of 2^30 ms (12.4 days of uptime on CLOCK_MONOTONIC). */
static void timers_crossing_a_top_level_rotation_fire_on_their_tick(void **state)
{
    (void)state;
    const uint64_t delays_ms[] = {1, 7, 8, 100, 5000, 300000, 20000000, TW_RANGE_MS - 8};
    enum { N = sizeof delays_ms / sizeof delays_ms[0] };
    struct harness h;
    struct item items[N];
    uint64_t start = 2 * TW_RANGE_MS - 8;
    harness_init(&h, start);
    items_init(items, N);
    for (size_t i = 0; i < N; i++)
        tw_arm(&h.wheel, &items[i].timer, start + delays_ms[i]);
    for (size_t i = 0; i < N; i++) {
        uint64_t timeout = tw_next_timeout_ms(&h.wheel);
        assert_true(timeout > 0 && timeout <= delays_ms[i] - (h.wheel.now_ms - start));
        assert_int_equal(tw_advance(&h.wheel, start + delays_ms[i] - 1), 0);
        assert_int_equal(tw_advance(&h.wheel, start + delays_ms[i]), 1);
        assert_int_equal(h.fired_id[i], i);
    }
}

/* A loop that sleeps for tw_next_timeout_ms wakes a bounded number of times. */
static void sleeping_for_the_next_timeout_reaches_every_expiry(void **state)
{
    (void)state;
    struct harness h;
    struct item items[LEVEL_DELAYS];
    harness_init(&h, 1000);
    items_init(items, LEVEL_DELAYS);
    assert_int_equal(tw_next_timeout_ms(&h.wheel), UINT64_MAX);
    for (size_t d = 0; d < LEVEL_DELAYS; d++)
        tw_arm(&h.wheel, &items[d].timer, 1000 + level_delays_ms[d]);
    size_t wakeups = 0;
    while (h.wheel.armed_count > 0) {
        uint64_t timeout = tw_next_timeout_ms(&h.wheel);
        assert_true(timeout > 0 && timeout != UINT64_MAX);
        size_t before = h.fired_count;
        tw_advance(&h.wheel, h.wheel.now_ms + timeout);
        for (size_t i = before; i < h.fired_count; i++)
            assert_int_equal(h.fired_at_ms[i], h.fired_expiry[i]);
        assert_true(++wakeups <= LEVEL_DELAYS * TW_LEVELS);
    }
    assert_int_equal(h.fired_count, LEVEL_DELAYS);
    assert_int_equal(tw_next_timeout_ms(&h.wheel), UINT64_MAX);
}

static void advancing_ten_hours_with_three_timers_completes(void **state)
{
    (void)state;
    struct harness h;
    struct item items[3];
    harness_init(&h, 42);
    items_init(items, 3);
    tw_arm(&h.wheel, &items[0].timer, 42 + 1);
    tw_arm(&h.wheel, &items[1].timer, 42 + 4 * HOUR_MS + 17);
    tw_arm(&h.wheel, &items[2].timer, 42 + 10 * HOUR_MS);
    assert_int_equal(tw_advance(&h.wheel, 42 + 10 * HOUR_MS), 3);
    assert_int_equal(h.wheel.now_ms, 42 + 10 * HOUR_MS);
    assert_int_equal(tw_advance(&h.wheel, 42 + 20 * HOUR_MS), 0); /* and empty: nothing */
}

/* A thousand ten-hour periods of three self-re-arming timers, in one advance and then one
 * advance per period: a wheel that stepped once per millisecond would need 10^11 steps. */
static void ten_thousand_hours_of_sparse_timers_cost_little(void **state)
{
    (void)state;
    enum { PERIODS = 1000 };
    struct harness h;
    struct item items[3];
    harness_init(&h, 5);
    items_init(items, 3);
    for (size_t i = 0; i < 3; i++) {
        items[i].rearm_times = PERIODS - 1;
        items[i].period_ms = 10 * HOUR_MS;
        tw_arm(&h.wheel, &items[i].timer, 5 + (i + 1) * 10 * HOUR_MS / 3);
    }
    assert_int_equal(tw_advance(&h.wheel, 5 + (PERIODS + 1) * 10 * HOUR_MS), 3 * PERIODS);
    for (size_t f = 0; f < h.fired_count; f++)
        assert_int_equal(h.fired_at_ms[f], h.fired_expiry[f]);
    for (size_t i = 0; i < 3; i++) {
        items[i].rearm_times = PERIODS - 1;
        tw_arm(&h.wheel, &items[i].timer, h.wheel.now_ms + 10 * HOUR_MS - i);
    }
    h.fired_count = 0;
    for (size_t p = 0; p < PERIODS; p++)
        assert_int_equal(tw_advance(&h.wheel, h.wheel.now_ms + 10 * HOUR_MS), 3);
    assert_int_equal(h.fired_count, 3 * PERIODS);
    assert_int_equal(h.wheel.armed_count, 0);
}

/* A callback that keeps arming its own timer at the current time fires once per advance:
 * the re-armed timer waits for the next call instead of spinning this one. */
static void a_timer_rearmed_into_the_past_waits_for_the_next_advance(void **state)
{
    (void)state;
    struct harness h;
    struct item it;
    harness_init(&h, 100);
    items_init(&it, 1);
    it.spawn = &it;
    it.spawn_after_ms = 0;
    tw_arm(&h.wheel, &it.timer, 150);
    assert_int_equal(tw_advance(&h.wheel, 10 * HOUR_MS), 1);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(tw_next_timeout_ms(&h.wheel), 0);
        assert_int_equal(tw_advance(&h.wheel, h.wheel.now_ms + (i % 2) * HOUR_MS), 1);
    }
    assert_int_equal(h.fired_at_ms[0], 150);
    assert_true(tw_armed(&it.timer));
    tw_cancel(&h.wheel, &it.timer);
    assert_int_equal(tw_advance(&h.wheel, h.wheel.now_ms + 1), 0);
}

static void cancel_all_empties_the_wheel(void **state)
{
    (void)state;
    enum { N = 200 };
    struct harness h;
    static struct item items[N];
    harness_init(&h, 99);
    items_init(items, N);
    for (size_t i = 0; i < N; i++) /* past, present and every level */
        tw_arm(&h.wheel, &items[i].timer, 99 - 10 + ((uint64_t)1 << (i % 40)));
    assert_int_equal(h.wheel.armed_count, N);
    tw_cancel_all(&h.wheel);
    assert_int_equal(h.wheel.armed_count, 0);
    for (size_t i = 0; i < N; i++)
        assert_false(tw_armed(&items[i].timer));
    assert_int_equal(tw_next_timeout_ms(&h.wheel), UINT64_MAX);
    assert_int_equal(tw_advance(&h.wheel, 99 + 2 * TW_RANGE_MS), 0);
    tw_arm(&h.wheel, &items[0].timer, h.wheel.now_ms + 5); /* still usable */
    assert_int_equal(tw_advance(&h.wheel, h.wheel.now_ms + 5), 1);
}

/* ---- randomized comparison with a brute-force model ---- */

/* The wheel and, beside it, what must be true of every timer: armed or not, and when. */
struct model {
    struct timer_wheel wheel;
    size_t n;
    struct item *items;
    bool *armed;
    bool *armed_in_past; /* fires on the next advance rather than on its tick */
    uint64_t *expires_ms;
    size_t armed_count;
    size_t fired; /* in the current advance */
    uint64_t rng;
};

static uint64_t model_rand(struct model *m)
{
    m->rng ^= m->rng << 13; /* xorshift64: deterministic across platforms */
    m->rng ^= m->rng >> 7;
    m->rng ^= m->rng << 17;
    return m->rng;
}

/* Never early, on its own tick unless armed in the past, and only if the model has it armed. */
static void model_on_expire(struct tw_timer *t, void *ctx)
{
    struct model *m = ctx;
    unsigned id = item_of(t)->id;
    assert_true(id < m->n && m->armed[id]);
    assert_true(m->expires_ms[id] <= m->wheel.now_ms);
    assert_int_equal(t->expires_ms, m->expires_ms[id]);
    if (!m->armed_in_past[id])
        assert_int_equal(m->wheel.now_ms, m->expires_ms[id]);
    m->armed[id] = false;
    m->armed_count--;
    m->fired++;
}

static struct model *model_new(size_t n, uint64_t start_ms, uint64_t seed)
{
    struct model *m = calloc(1, sizeof *m);
    assert_non_null(m);
    m->n = n;
    m->items = calloc(n, sizeof *m->items);
    m->armed = calloc(n, sizeof *m->armed);
    m->armed_in_past = calloc(n, sizeof *m->armed_in_past);
    m->expires_ms = calloc(n, sizeof *m->expires_ms);
    assert_true(m->items && m->armed && m->armed_in_past && m->expires_ms);
    items_init(m->items, n);
    tw_init(&m->wheel, start_ms, model_on_expire, m);
    m->rng = seed;
    return m;
}

static void model_free(struct model *m)
{
    tw_cancel_all(&m->wheel);
    assert_int_equal(m->wheel.armed_count, 0);
    assert_int_equal(tw_next_timeout_ms(&m->wheel), UINT64_MAX);
    free(m->items);
    free(m->armed);
    free(m->armed_in_past);
    free(m->expires_ms);
    free(m);
}

/* A random expiry: mostly ahead within every level, some due now or in the past, some beyond
 * the range (which the model clamps as the contract says). */
static void model_arm(struct model *m, size_t i)
{
    uint64_t now = m->wheel.now_ms, r = model_rand(m) % 16, want;
    if (r == 0)
        want = now;
    else if (r == 1)
        want = now - model_rand(m) % 1000;
    else if (r == 2)
        want = now + TW_RANGE_MS + model_rand(m) % TW_RANGE_MS;
    else
        want = now + model_rand(m) % (((uint64_t)1 << (2 + 2 * r)) + 1);
    uint64_t clamped = want > now + TW_RANGE_MS - 1 ? now + TW_RANGE_MS - 1 : want;
    m->armed_count += !m->armed[i];
    m->armed[i] = true;
    m->armed_in_past[i] = clamped <= now;
    m->expires_ms[i] = clamped;
    tw_arm(&m->wheel, &m->items[i].timer, want);
}

static void model_cancel(struct model *m, size_t i)
{
    tw_cancel(&m->wheel, &m->items[i].timer);
    m->armed_count -= m->armed[i];
    m->armed[i] = false;
}

/* Every timer against the model, and tw_next_timeout_ms against the true earliest expiry. */
static void model_check_all(const struct model *m)
{
    uint64_t earliest = UINT64_MAX, now = m->wheel.now_ms;
    for (size_t i = 0; i < m->n; i++) {
        assert_int_equal(tw_armed(&m->items[i].timer), m->armed[i]);
        if (m->armed[i] && m->expires_ms[i] < earliest)
            earliest = m->expires_ms[i];
    }
    assert_int_equal(m->wheel.armed_count, m->armed_count);
    uint64_t timeout = tw_next_timeout_ms(&m->wheel);
    if (earliest == UINT64_MAX) {
        assert_int_equal(timeout, UINT64_MAX);
        return;
    }
    assert_true(timeout != UINT64_MAX);
    assert_true(earliest <= now ? timeout == 0 : now + timeout <= earliest); /* never later */
}

static void model_advance(struct model *m)
{
    static const uint64_t step_max[] = {2, 64, 4096, 1 << 18, 1 << 23};
    uint64_t to = m->wheel.now_ms + model_rand(m) % step_max[model_rand(m) % 5];
    m->fired = 0;
    size_t fired = tw_advance(&m->wheel, to);
    assert_int_equal(fired, m->fired);
    assert_int_equal(m->wheel.now_ms, to);
    for (size_t i = 0; i < m->n; i++) /* nothing due was missed, past ones included */
        assert_false(m->armed[i] && m->expires_ms[i] <= to);
    model_check_all(m);
}

/* `ops` random steps on `n` timers; `advance_per_mille` of the steps advance the clock. */
static void run_model(size_t n, size_t ops, unsigned advance_per_mille, uint64_t start_ms,
                      uint64_t seed)
{
    struct model *m = model_new(n, start_ms, seed);
    for (size_t op = 0; op < ops; op++) {
        size_t i = model_rand(m) % n;
        unsigned kind = (unsigned)(model_rand(m) % 1000);
        if (kind < advance_per_mille)
            model_advance(m);
        else if (kind % 3 == 0)
            model_cancel(m, i);
        else
            model_arm(m, i);
        assert_int_equal(m->wheel.armed_count, m->armed_count);
        assert_int_equal(tw_armed(&m->items[i].timer), m->armed[i]);
        if (n <= 1024)
            model_check_all(m);
    }
    model_check_all(m);
    model_free(m);
}

static void random_operations_agree_with_a_brute_force_model(void **state)
{
    (void)state;
    run_model(512, 100000, 400, 0, 0x9e3779b97f4a7c15u);
}

static void random_operations_across_top_level_rotations_agree_with_the_model(void **state)
{
    (void)state;
    run_model(512, 100000, 400, TW_RANGE_MS - ((uint64_t)1 << 21), 0x2545f4914f6cdd1du);
    run_model(512, 100000, 400, 5123456789012, 0xda942042e4dd58b5u); /* a real monotonic clock */
}

/* A hundred thousand timers at once, armed, re-armed and cancelled at random. */
static void a_hundred_thousand_timers_agree_with_the_model(void **state)
{
    (void)state;
    enum { N = 100000 };
    struct model *m = model_new(N, 1000, 0x853c49e6748fea9bu);
    for (size_t i = 0; i < N; i++)
        model_arm(m, i);
    model_check_all(m);
    for (size_t op = 0; op < 4 * N; op++) {
        size_t i = model_rand(m) % N;
        unsigned kind = (unsigned)(model_rand(m) % 1000);
        if (kind < 2)
            model_advance(m);
        else if (kind % 3 == 0)
            model_cancel(m, i);
        else
            model_arm(m, i);
    }
    model_check_all(m);
    /* Sleep by the wheel's own answer until it is empty: an answer later than an expiry
     * would show as a timer fired off its tick, and each timer wakes the loop at most once
     * per level. */
    size_t wakeups = 0;
    while (m->armed_count > 0) {
        uint64_t timeout = tw_next_timeout_ms(&m->wheel);
        assert_true(timeout != UINT64_MAX);
        tw_advance(&m->wheel, m->wheel.now_ms + timeout);
        assert_true(++wakeups <= (size_t)N * (TW_LEVELS + 1));
    }
    model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_timer_fires_on_its_tick_at_every_level_and_start_time),
        cmocka_unit_test(timers_on_every_level_fire_in_expiry_order),
        cmocka_unit_test(one_advance_over_every_level_fires_them_all_once),
        cmocka_unit_test(an_expiry_in_the_past_fires_on_the_next_advance),
        cmocka_unit_test(a_callback_may_rearm_its_own_timer),
        cmocka_unit_test(a_callback_cancels_another_timer_due_in_the_same_advance),
        cmocka_unit_test(a_callback_cancels_a_later_timer_of_the_same_advance),
        cmocka_unit_test(a_callback_may_arm_a_new_timer),
        cmocka_unit_test(cancelling_a_timer_that_is_not_armed_is_harmless),
        cmocka_unit_test(rearming_an_armed_timer_moves_it),
        cmocka_unit_test(expiries_beyond_the_range_fire_at_its_end),
        cmocka_unit_test(timers_crossing_a_top_level_rotation_fire_on_their_tick),
        cmocka_unit_test(sleeping_for_the_next_timeout_reaches_every_expiry),
        cmocka_unit_test(advancing_ten_hours_with_three_timers_completes),
        cmocka_unit_test(ten_thousand_hours_of_sparse_timers_cost_little),
        cmocka_unit_test(a_timer_rearmed_into_the_past_waits_for_the_next_advance),
        cmocka_unit_test(cancel_all_empties_the_wheel),
        cmocka_unit_test(random_operations_agree_with_a_brute_force_model),
        cmocka_unit_test(random_operations_across_top_level_rotations_agree_with_the_model),
        cmocka_unit_test(a_hundred_thousand_timers_agree_with_the_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
