/* Log-linear latency histogram with a bounded relative error (the HdrHistogram idea).
 *
 * Values (nanoseconds in this harness) below 2^SUB_BITS fall in exact buckets; above that,
 * every power of two [2^e, 2^(e+1)) is split into 2^SUB_BITS equal buckets, so a bucket is
 * never wider than 2^-SUB_BITS of the smallest value it holds. A percentile is reported as
 * the midpoint of its bucket (clamped to the exact min and max), so its relative error is at
 * most 2^-(SUB_BITS+1): 0.39% for the full histogram (SUB_BITS 7) and 6.25% for the coarse
 * per-time-slice one (SUB_BITS 3) the plots use.
 *
 * Fixed size, no allocation: a histogram can live in shared memory and be merged by adding
 * bucket counts, which is how threads and processes combine their results. Values at or
 * above 2^HIST_VALUE_BITS (about 18 minutes in ns) are clamped into the last bucket and
 * counted in `clamped`; min and max stay exact.
 */
#ifndef TIDEGATE_BENCH_HIST_H
#define TIDEGATE_BENCH_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    HIST_VALUE_BITS = 40,
    HIST_SUB_BITS = 7,
    HIST_COARSE_SUB_BITS = 3,
};

/* Buckets needed for values below 2^HIST_VALUE_BITS with `sub_bits`. */
#define HIST_BUCKETS_FOR(sub_bits) (((HIST_VALUE_BITS - (sub_bits)) + 1) << (sub_bits))
#define HIST_BUCKETS               HIST_BUCKETS_FOR(HIST_SUB_BITS)
#define HIST_COARSE_BUCKETS        HIST_BUCKETS_FOR(HIST_COARSE_SUB_BITS)

struct hist {
    uint64_t count;
    uint64_t min; /* exact; UINT64_MAX while empty */
    uint64_t max; /* exact; 0 while empty */
    uint64_t sum; /* for the mean; saturates instead of wrapping */
    uint64_t clamped;
    uint64_t buckets[HIST_BUCKETS];
};

/* Bucket of `value` for a layout with `sub_bits` (values clamped to the last bucket). */
unsigned hist_bucket_index(uint64_t value, unsigned sub_bits);
/* Smallest and largest value that bucket `index` holds. */
uint64_t hist_bucket_lower(unsigned index, unsigned sub_bits);
uint64_t hist_bucket_upper(unsigned index, unsigned sub_bits);

/* The value reported for quantile `q` (0..1) of `count` values spread over `buckets`
 * (`bucket_count` of them, layout `sub_bits`): the midpoint of the bucket holding the
 * value of rank ceil(q * count) (at least 1), clamped to [min, max]. 0 when count is 0.
 * `buckets` are uint64_t when `wide`, else uint32_t. */
uint64_t hist_quantile_buckets(const void *buckets, bool wide, size_t bucket_count,
                               unsigned sub_bits, uint64_t count, uint64_t min, uint64_t max,
                               double q);

void hist_init(struct hist *h);
void hist_record(struct hist *h, uint64_t value);
/* Adds every value of `from` into `into`. */
void hist_merge(struct hist *into, const struct hist *from);
/* Quantile q in [0, 1]; q = 1 answers the exact max. 0 for an empty histogram. */
uint64_t hist_quantile(const struct hist *h, double q);
/* Mean of the recorded values (0 when empty). */
double hist_mean(const struct hist *h);

#endif
