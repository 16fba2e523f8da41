/* tidegate-bench latency histogram: buckets tile the value range, and every percentile it
 * reports is within its promised relative error of the exact percentile, whatever the
 * distribution. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench/hist.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng_next(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static double rng_unit(void)
{
    return (double)(rng_next() >> 11) / 9007199254740992.0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void buckets_tile_the_range_without_gaps_or_overlaps(void **state)
{
    (void)state;
    unsigned layouts[] = {HIST_SUB_BITS, HIST_COARSE_SUB_BITS};
    for (size_t l = 0; l < 2; l++) {
        unsigned sub = layouts[l];
        unsigned count = HIST_BUCKETS_FOR(sub);
        assert_int_equal(hist_bucket_lower(0, sub), 0);
        for (unsigned i = 0; i + 1 < count; i++) {
            assert_true(hist_bucket_lower(i, sub) <= hist_bucket_upper(i, sub));
            assert_int_equal(hist_bucket_upper(i, sub) + 1, hist_bucket_lower(i + 1, sub));
            assert_int_equal(hist_bucket_index(hist_bucket_lower(i, sub), sub), i);
            assert_int_equal(hist_bucket_index(hist_bucket_upper(i, sub), sub), i);
        }
        uint64_t top = ((uint64_t)1 << HIST_VALUE_BITS) - 1;
        assert_int_equal(hist_bucket_upper(count - 1, sub), top);
        assert_int_equal(hist_bucket_index(top, sub), count - 1);
        assert_int_equal(hist_bucket_index(UINT64_MAX, sub), count - 1); /* clamped */
    }
}

static void a_bucket_is_never_wider_than_its_relative_error(void **state)
{
    (void)state;
    for (int i = 0; i < 200000; i++) {
        uint64_t v = rng_next() >> (rng_next() % 64);
        if (v >= ((uint64_t)1 << HIST_VALUE_BITS))
            continue;
        unsigned b = hist_bucket_index(v, HIST_SUB_BITS);
        uint64_t lo = hist_bucket_lower(b, HIST_SUB_BITS), hi = hist_bucket_upper(b, HIST_SUB_BITS);
        assert_true(lo <= v && v <= hi);
        if (lo > 0)
            assert_true((double)(hi - lo) / (double)lo <= 1.0 / (1 << HIST_SUB_BITS));
    }
}

/* Records `n` values, then compares every reported percentile with the exact one. */
static void check_error_bound(uint64_t *values, size_t n, unsigned sub_bits_bound)
{
    struct hist *h = malloc(sizeof *h);
    assert_non_null(h);
    hist_init(h);
    for (size_t i = 0; i < n; i++)
        hist_record(h, values[i]);
    qsort(values, n, sizeof *values, cmp_u64);
    double bound = 1.0 / (double)(1u << (sub_bits_bound + 1));
    static const double qs[] = {0.0001, 0.01, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        size_t rank = (size_t)ceil(qs[i] * (double)n);
        uint64_t exact = values[rank > 0 ? rank - 1 : 0];
        uint64_t got = hist_quantile(h, qs[i]);
        double err = exact == 0 ? (double)got : fabs((double)got - (double)exact) / (double)exact;
        if (err > bound)
            fail_msg("q=%g: reported %llu, exact %llu, relative error %g > %g", qs[i],
                     (unsigned long long)got, (unsigned long long)exact, err, bound);
    }
    assert_int_equal(hist_quantile(h, 1.0), values[n - 1]); /* max is exact */
    assert_int_equal(h->min, values[0]);
    assert_int_equal(h->count, n);
    free(h);
}

static void percentiles_are_within_the_bound_for_log_uniform_latencies(void **state)
{
    (void)state;
    enum { N = 300000 };
    uint64_t *v = malloc(N * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < N; i++) /* 1 us to 10 s, spread over seven decades */
        v[i] = (uint64_t)(1000.0 * pow(10.0, 7.0 * rng_unit()));
    check_error_bound(v, N, HIST_SUB_BITS);
    free(v);
}

static void percentiles_are_within_the_bound_for_a_narrow_peak_and_a_far_tail(void **state)
{
    (void)state;
    enum { N = 200000 };
    uint64_t *v = malloc(N * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < N; i++) {
        if (rng_next() % 1000 == 0) /* 0.1%: a tail three orders of magnitude out */
            v[i] = 50000000 + rng_next() % 50000000;
        else
            v[i] = 48000 + rng_next() % 4000; /* 48-52 us */
    }
    check_error_bound(v, N, HIST_SUB_BITS);
    free(v);
}

static void small_values_are_exact(void **state)
{
    (void)state;
    uint64_t v[1000];
    for (size_t i = 0; i < 1000; i++)
        v[i] = rng_next() % (1u << HIST_SUB_BITS);
    struct hist *h = malloc(sizeof *h);
    assert_non_null(h);
    hist_init(h);
    for (size_t i = 0; i < 1000; i++)
        hist_record(h, v[i]);
    qsort(v, 1000, sizeof *v, cmp_u64);
    assert_int_equal(hist_quantile(h, 0.5), v[499]);
    assert_int_equal(hist_quantile(h, 0.9), v[899]);
    free(h);
}

static void an_empty_histogram_reports_zeros(void **state)
{
    (void)state;
    struct hist *h = malloc(sizeof *h);
    assert_non_null(h);
    hist_init(h);
    assert_int_equal(hist_quantile(h, 0.5), 0);
    assert_int_equal(hist_quantile(h, 1.0), 0);
    assert_true(hist_mean(h) == 0.0);
    free(h);
}

static void values_beyond_the_range_are_clamped_and_counted_but_max_stays_exact(void **state)
{
    (void)state;
    struct hist *h = malloc(sizeof *h);
    assert_non_null(h);
    hist_init(h);
    uint64_t huge = (uint64_t)1 << 50;
    hist_record(h, 1000);
    hist_record(h, huge);
    assert_int_equal(h->clamped, 1);
    assert_int_equal(h->max, huge);
    assert_int_equal(hist_quantile(h, 1.0), huge);
    assert_int_equal(hist_quantile(h, 0.99), huge); /* the midpoint clamps to the exact max */
    free(h);
}

static void merging_equals_recording_everything_in_one(void **state)
{
    (void)state;
    struct hist *a = malloc(sizeof *a), *b = malloc(sizeof *b), *all = malloc(sizeof *all);
    assert_true(a && b && all);
    hist_init(a);
    hist_init(b);
    hist_init(all);
    for (int i = 0; i < 50000; i++) {
        uint64_t v = 1000 + rng_next() % 10000000;
        hist_record(i % 3 == 0 ? a : b, v);
        hist_record(all, v);
    }
    hist_merge(a, b);
    assert_memory_equal(a, all, sizeof *a);
    free(a);
    free(b);
    free(all);
}

static void the_coarse_layout_keeps_its_own_bound(void **state)
{
    (void)state;
    enum { N = 20000 };
    static uint32_t buckets[HIST_COARSE_BUCKETS];
    uint64_t *v = malloc(N * sizeof *v);
    assert_non_null(v);
    uint64_t max = 0, min = UINT64_MAX;
    for (size_t i = 0; i < N; i++) {
        v[i] = (uint64_t)(10000.0 * pow(10.0, 4.0 * rng_unit()));
        buckets[hist_bucket_index(v[i], HIST_COARSE_SUB_BITS)]++;
        max = v[i] > max ? v[i] : max;
        min = v[i] < min ? v[i] : min;
    }
    qsort(v, N, sizeof *v, cmp_u64);
    double qs[] = {0.5, 0.9, 0.99};
    for (size_t i = 0; i < 3; i++) {
        uint64_t exact = v[(size_t)ceil(qs[i] * N) - 1];
        uint64_t got = hist_quantile_buckets(buckets, false, HIST_COARSE_BUCKETS,
                                             HIST_COARSE_SUB_BITS, N, min, max, qs[i]);
        assert_true(fabs((double)got - (double)exact) / (double)exact <=
                    1.0 / (1u << (HIST_COARSE_SUB_BITS + 1)));
    }
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buckets_tile_the_range_without_gaps_or_overlaps),
        cmocka_unit_test(a_bucket_is_never_wider_than_its_relative_error),
        cmocka_unit_test(percentiles_are_within_the_bound_for_log_uniform_latencies),
        cmocka_unit_test(percentiles_are_within_the_bound_for_a_narrow_peak_and_a_far_tail),
        cmocka_unit_test(small_values_are_exact),
        cmocka_unit_test(an_empty_histogram_reports_zeros),
        cmocka_unit_test(values_beyond_the_range_are_clamped_and_counted_but_max_stays_exact),
        cmocka_unit_test(merging_equals_recording_everything_in_one),
        cmocka_unit_test(the_coarse_layout_keeps_its_own_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
