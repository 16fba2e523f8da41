/* Log-linear histogram: see hist.h. Index arithmetic is the whole trick: the exponent
 * picks the group of buckets, the SUB_BITS bits below the leading one pick the bucket. */
#include "bench/hist.h"

#include <assert.h>
#include <math.h>
#include <string.h>

unsigned hist_bucket_index(uint64_t value, unsigned sub_bits)
{
    assert(sub_bits > 0 && sub_bits < HIST_VALUE_BITS);
    uint64_t top = ((uint64_t)1 << HIST_VALUE_BITS) - 1;
    if (value > top)
        value = top;
    if (value < ((uint64_t)1 << sub_bits))
        return (unsigned)value;
    unsigned exponent = 63u - (unsigned)__builtin_clzll(value);
    unsigned shift = exponent - sub_bits;
    uint64_t mantissa = value >> shift; /* in [2^sub_bits, 2^(sub_bits+1)) */
    return ((shift + 1u) << sub_bits) + (unsigned)(mantissa - ((uint64_t)1 << sub_bits));
}

uint64_t hist_bucket_lower(unsigned index, unsigned sub_bits)
{
    assert(index < (unsigned)HIST_BUCKETS_FOR(sub_bits));
    uint64_t group_size = (uint64_t)1 << sub_bits;
    if (index < group_size)
        return index;
    unsigned shift = (index >> sub_bits) - 1u;
    uint64_t mantissa = (index & (group_size - 1)) + group_size;
    return mantissa << shift;
}

uint64_t hist_bucket_upper(unsigned index, unsigned sub_bits)
{
    uint64_t group_size = (uint64_t)1 << sub_bits;
    if (index < group_size)
        return index;
    unsigned shift = (index >> sub_bits) - 1u;
    return hist_bucket_lower(index, sub_bits) + ((uint64_t)1 << shift) - 1u;
}

uint64_t hist_quantile_buckets(const void *buckets, bool wide, size_t bucket_count,
                               unsigned sub_bits, uint64_t count, uint64_t min, uint64_t max,
                               double q)
{
    assert(bucket_count <= (size_t)HIST_BUCKETS_FOR(sub_bits));
    if (count == 0)
        return 0;
    if (!(q > 0.0))
        q = 0.0;
    if (q >= 1.0)
        return max;
    uint64_t rank = (uint64_t)ceil(q * (double)count);
    if (rank < 1)
        rank = 1;
    if (rank > count)
        rank = count;
    uint64_t seen = 0;
    for (size_t i = 0; i < bucket_count; i++) {
        seen += wide ? ((const uint64_t *)buckets)[i] : ((const uint32_t *)buckets)[i];
        if (seen >= rank) {
            if (i + 1 == bucket_count && max > hist_bucket_upper((unsigned)i, sub_bits))
                return max; /* clamped values: the exact max is the best answer there is */
            uint64_t lo = hist_bucket_lower((unsigned)i, sub_bits);
            uint64_t hi = hist_bucket_upper((unsigned)i, sub_bits);
            uint64_t mid = lo + (hi - lo) / 2;
            if (mid < min)
                mid = min;
            if (mid > max)
                mid = max;
            return mid;
        }
    }
    return max; /* the counts and `count` disagree: answer the one figure that is exact */
}

void hist_init(struct hist *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

void hist_record(struct hist *h, uint64_t value)
{
    h->buckets[hist_bucket_index(value, HIST_SUB_BITS)]++;
    h->count++;
    if (value >= ((uint64_t)1 << HIST_VALUE_BITS))
        h->clamped++;
    if (value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
    h->sum = h->sum + value < h->sum ? UINT64_MAX : h->sum + value;
}

void hist_merge(struct hist *into, const struct hist *from)
{
    if (from->count == 0)
        return;
    for (size_t i = 0; i < HIST_BUCKETS; i++)
        into->buckets[i] += from->buckets[i];
    into->count += from->count;
    into->clamped += from->clamped;
    if (from->min < into->min)
        into->min = from->min;
    if (from->max > into->max)
        into->max = from->max;
    into->sum = into->sum + from->sum < into->sum ? UINT64_MAX : into->sum + from->sum;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
    return hist_quantile_buckets(h->buckets, true, HIST_BUCKETS, HIST_SUB_BITS, h->count, h->min,
                                 h->max, q);
}

double hist_mean(const struct hist *h)
{
    return h->count == 0 ? 0.0 : (double)h->sum / (double)h->count;
}
