/* Token bucket: bursts, steady rates, slow rates, long idle times and the retry hint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/token_bucket.h"

static void a_new_bucket_allows_its_burst_then_refuses(void **state)
{
    (void)state;
    struct token_bucket_rule rule = {.rate_per_s = 10, .burst = 5};
    struct token_bucket b;
    token_bucket_init(&b, &rule, 1000);
    for (int i = 0; i < 5; i++)
        assert_true(token_bucket_take(&b, &rule, 1000, 1));
    assert_false(token_bucket_take(&b, &rule, 1000, 1));
    assert_false(token_bucket_take(&b, &rule, 1099, 1)); /* 99 ms: 0.99 of a token */
    assert_true(token_bucket_take(&b, &rule, 1100, 1));  /* 100 ms: one token */
    assert_false(token_bucket_take(&b, &rule, 1100, 1));
}

static void a_steady_sender_at_the_rate_is_never_refused(void **state)
{
    (void)state;
    struct token_bucket_rule rule = {.rate_per_s = 100, .burst = 1};
    struct token_bucket b;
    token_bucket_init(&b, &rule, 0);
    for (uint64_t t = 0; t < 60000; t += 10) /* one message every 10 ms for a minute */
        assert_true(token_bucket_take(&b, &rule, t, 1));
    assert_false(token_bucket_take(&b, &rule, 60000 - 10 + 9, 1)); /* one too early */
}

static void rates_below_one_per_second_work(void **state)
{
    (void)state;
    struct token_bucket_rule rule = {.rate_per_s = 1, .burst = 1};
    struct token_bucket b;
    token_bucket_init(&b, &rule, 0);
    assert_true(token_bucket_take(&b, &rule, 0, 1));
    assert_false(token_bucket_take(&b, &rule, 999, 1));
    assert_true(token_bucket_take(&b, &rule, 1000, 1));
}

static void a_long_idle_time_refills_to_the_burst_and_no_further(void **state)
{
    (void)state;
    struct token_bucket_rule rule = {.rate_per_s = 4000000000u, .burst = 3};
    struct token_bucket b;
    token_bucket_init(&b, &rule, 0);
    assert_true(token_bucket_take(&b, &rule, 0, 3));
    uint64_t much_later = UINT64_MAX / 2; /* elapsed * rate would overflow 64 bits */
    assert_true(token_bucket_take(&b, &rule, much_later, 3));
    assert_false(token_bucket_take(&b, &rule, much_later, 1));
}

static void asking_for_more_than_the_burst_always_fails(void **state)
{
    (void)state;
    struct token_bucket_rule rule = {.rate_per_s = 10, .burst = 2};
    struct token_bucket b;
    token_bucket_init(&b, &rule, 0);
    assert_false(token_bucket_take(&b, &rule, 1000000, 3));
    assert_int_equal(token_bucket_wait_ms(&b, &rule, 0, 3), UINT64_MAX);
    assert_true(token_bucket_take(&b, &rule, 1000000, 2)); /* nothing was taken */
}

static void time_going_backwards_adds_nothing(void **state)
{
    (void)state;
    struct token_bucket_rule rule = {.rate_per_s = 10, .burst = 1};
    struct token_bucket b;
    token_bucket_init(&b, &rule, 5000);
    assert_true(token_bucket_take(&b, &rule, 5000, 1));
    assert_false(token_bucket_take(&b, &rule, 1000, 1));
    assert_false(token_bucket_take(&b, &rule, 5000, 1));
}

static void rate_zero_means_unlimited(void **state)
{
    (void)state;
    struct token_bucket_rule rule = {.rate_per_s = 0, .burst = 1};
    struct token_bucket b;
    token_bucket_init(&b, &rule, 0);
    for (int i = 0; i < 1000; i++)
        assert_true(token_bucket_take(&b, &rule, 0, 1));
    assert_int_equal(token_bucket_wait_ms(&b, &rule, 0, 1), 0);
}

static void the_wait_hint_is_exact(void **state)
{
    (void)state;
    struct token_bucket_rule rule = {.rate_per_s = 3, .burst = 1};
    struct token_bucket b;
    token_bucket_init(&b, &rule, 0);
    assert_int_equal(token_bucket_wait_ms(&b, &rule, 0, 1), 0);
    assert_true(token_bucket_take(&b, &rule, 0, 1));
    uint64_t wait = token_bucket_wait_ms(&b, &rule, 0, 1); /* 1000/3 ms, rounded up */
    assert_int_equal(wait, 334);
    assert_false(token_bucket_take(&b, &rule, wait - 1, 1));
    assert_true(token_bucket_take(&b, &rule, wait, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_new_bucket_allows_its_burst_then_refuses),
        cmocka_unit_test(a_steady_sender_at_the_rate_is_never_refused),
        cmocka_unit_test(rates_below_one_per_second_work),
        cmocka_unit_test(a_long_idle_time_refills_to_the_burst_and_no_further),
        cmocka_unit_test(asking_for_more_than_the_burst_always_fails),
        cmocka_unit_test(time_going_backwards_adds_nothing),
        cmocka_unit_test(rate_zero_means_unlimited),
        cmocka_unit_test(the_wait_hint_is_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
