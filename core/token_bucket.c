/* Token bucket: see token_bucket.h. All arithmetic is in millitokens and milliseconds:
 * rate_per_s tokens a second is exactly rate_per_s millitokens a millisecond. */
#include "core/token_bucket.h"

#include <assert.h>

static uint64_t bucket_capacity(const struct token_bucket_rule *rule)
{
    return (uint64_t)rule->burst * 1000u;
}

static void bucket_refill(struct token_bucket *b, const struct token_bucket_rule *rule,
                          uint64_t now_ms)
{
    if (now_ms <= b->updated_ms)
        return;
    uint64_t elapsed_ms = now_ms - b->updated_ms;
    uint64_t capacity = bucket_capacity(rule);
    uint64_t missing = capacity - b->millitokens;
    /* Compare before multiplying: a long idle time must not overflow. */
    if (elapsed_ms >= missing / (rule->rate_per_s ? rule->rate_per_s : 1) + 1)
        b->millitokens = capacity;
    else
        b->millitokens += elapsed_ms * rule->rate_per_s;
    if (b->millitokens > capacity)
        b->millitokens = capacity;
    b->updated_ms = now_ms;
}

void token_bucket_init(struct token_bucket *b, const struct token_bucket_rule *rule,
                       uint64_t now_ms)
{
    assert(rule->burst >= 1);
    b->updated_ms = now_ms;
    b->millitokens = bucket_capacity(rule);
}

bool token_bucket_take(struct token_bucket *b, const struct token_bucket_rule *rule,
                       uint64_t now_ms, uint32_t tokens)
{
    assert(rule->burst >= 1);
    if (rule->rate_per_s == 0)
        return true;
    bucket_refill(b, rule, now_ms);
    uint64_t want = (uint64_t)tokens * 1000u;
    if (b->millitokens < want)
        return false;
    b->millitokens -= want;
    return true;
}

uint64_t token_bucket_wait_ms(const struct token_bucket *b, const struct token_bucket_rule *rule,
                              uint64_t now_ms, uint32_t tokens)
{
    if (rule->rate_per_s == 0)
        return 0;
    struct token_bucket copy = *b;
    bucket_refill(&copy, rule, now_ms);
    uint64_t want = (uint64_t)tokens * 1000u;
    if (copy.millitokens >= want)
        return 0;
    if (want > bucket_capacity(rule))
        return UINT64_MAX; /* more than a full bucket: never */
    uint64_t missing = want - copy.millitokens;
    return (missing + rule->rate_per_s - 1) / rule->rate_per_s;
}
