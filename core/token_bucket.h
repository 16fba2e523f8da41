/* Token bucket rate limiter: `rate_per_s` tokens a second, at most `burst` in hand.
 *
 * Refill is computed from elapsed time when a token is asked for, so a bucket costs no
 * timer and 16 bytes in its owner. Time is the caller's loop time in milliseconds (never
 * going backwards); tokens are kept in thousandths so rates below one per second work.
 */
#ifndef TIDEGATE_CORE_TOKEN_BUCKET_H
#define TIDEGATE_CORE_TOKEN_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

/* Shared by every bucket of one kind (e.g. all connections' message buckets). */
struct token_bucket_rule {
    uint32_t rate_per_s; /* tokens added per second; 0 means no limit */
    uint32_t burst;      /* most tokens held, >= 1 */
};

struct token_bucket {
    uint64_t updated_ms;  /* time of the last refill */
    uint64_t millitokens; /* tokens * 1000 in hand */
};

/* Starts full: a new client may send a burst at once. */
void token_bucket_init(struct token_bucket *b, const struct token_bucket_rule *rule,
                       uint64_t now_ms);

/* Takes `tokens` when they are there and returns true; otherwise takes nothing. */
bool token_bucket_take(struct token_bucket *b, const struct token_bucket_rule *rule,
                       uint64_t now_ms, uint32_t tokens);

/* Milliseconds until `tokens` will be there (0 if now), for retry-after hints. */
uint64_t token_bucket_wait_ms(const struct token_bucket *b, const struct token_bucket_rule *rule,
                              uint64_t now_ms, uint32_t tokens);

#endif
