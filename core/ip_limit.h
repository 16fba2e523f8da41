/* Per-address connection limits: concurrent connections per client address and new
 * connections per second per address (a token bucket), for the public listener.
 *
 * The address is the client's real one (after the PROXY header, core/proxy_proto.h). IPv4
 * addresses count one by one (an IPv4-mapped IPv6 address is its IPv4 address); IPv6
 * addresses count by prefix, /64 by default, since one subscriber usually holds a whole /64
 * and could otherwise walk through 2^64 addresses.
 *
 * One table per process, shared by all workers. A per-worker share of the limit would be
 * simpler but wrong: SO_REUSEPORT spreads one client's connections over the workers by a
 * hash of the 4-tuple, so with a limit of 2 and two workers a client opening two connections
 * would be refused half the time. So the table is split into up to 64 shards, each a fixed
 * array behind its own mutex; an address always lands in the same shard (by a seeded hash of
 * the address, so a client cannot aim at one), and the limits are exact for the process. A
 * check is one uncontended lock, a hash lookup in a chain and a token bucket: it runs once
 * when a connection is accepted (or its PROXY header read) and once when it closes, far from
 * the per-message hot path. Workers' loop clocks may differ by a few milliseconds; the bucket
 * ignores time going backwards, so that costs at most a moment of refill.
 *
 * Memory is bounded and allocated once, at creation: `addresses_max` entries of 56 bytes (in
 * shards of addresses_max / shards, rounded down) plus 4-byte chain heads (per shard, the
 * next power of two of its entries), touched only as they are used, so RSS follows the addresses
 * actually seen. No allocation per check. An address is tracked while it has connections; when its
 * last one closes it is dropped at once if its bucket is full (a new entry would be the same),
 * otherwise kept as idle, since forgetting it would hand it a fresh burst. When a shard has no free
 * entry, its longest-idle address is evicted (counted: under a flood of new addresses it may be one
 * still refilling); addresses with live connections never are, and when a shard holds
 * nothing else the new address is refused (IP_LIMIT_TABLE_FULL). Live connections bound
 * the addresses with connections, so with addresses_max at least max_connections plus a
 * margin for the shards' imbalance (the default is 131072 for max_connections 100000) a
 * full table needs an attacker holding that many connections already.
 *
 * Thread safety: ip_limit_acquire, ip_limit_release and ip_limit_stats may be called from any
 * thread at any time between create and destroy.
 */
#ifndef TIDEGATE_CORE_IP_LIMIT_H
#define TIDEGATE_CORE_IP_LIMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/token_bucket.h"

enum {
    IP_LIMIT_ADDRESSES_MIN = 64,
    IP_LIMIT_ADDRESSES_MAX = 1 << 24, /* a handle holds an entry index in 24 bits */
    IP_LIMIT_IPV6_PREFIX_MIN = 32,
    IP_LIMIT_IPV6_PREFIX_DEFAULT = 64,
    IP_LIMIT_SHARDS_MAX = 64,
};

/* Returned for addresses that are not tracked (not IPv4 or IPv6); release ignores it. */
#define IP_LIMIT_HANDLE_NONE UINT32_MAX

struct ip_limit_config {
    uint32_t connections_max;                 /* open connections per address; 0 = no limit */
    struct token_bucket_rule new_connections; /* rate_per_s 0 = no limit; burst >= 1 always */
    uint32_t ipv6_prefix_bits;                /* IP_LIMIT_IPV6_PREFIX_MIN..128 */
    uint32_t addresses_max;                   /* tracked addresses, whole process */
    uint64_t hash_seed;                       /* random per process (hash flooding) */
};

enum ip_limit_verdict {
    IP_LIMIT_OK = 0,
    IP_LIMIT_TOO_MANY_CONNECTIONS, /* connections_max already open from this address */
    IP_LIMIT_TOO_FAST,             /* its new-connection bucket is empty */
    IP_LIMIT_TABLE_FULL,           /* no room to track one more address */
    IP_LIMIT_VERDICT_COUNT,
};

/* Counters since creation (refusals by verdict) and the current size, for metrics. */
struct ip_limit_stats {
    uint64_t tracked;                         /* addresses in the table now */
    uint64_t refused[IP_LIMIT_VERDICT_COUNT]; /* [IP_LIMIT_OK] stays 0 */
    uint64_t accepted;                        /* successful acquires */
    uint64_t evicted;                         /* idle addresses dropped to make room */
};

struct ip_limit;

/* True when `config` limits anything (otherwise the gateway need not create a table). */
bool ip_limit_enabled(const struct ip_limit_config *config);

/* Allocates the table (the config is copied). NULL when out of memory. The config must be
 * valid: burst >= 1, prefix and addresses_max in range. */
struct ip_limit *ip_limit_create(const struct ip_limit_config *config);

/* Frees the table. No other thread may use it any more. */
void ip_limit_destroy(struct ip_limit *t);

/* Counts a new connection from `client` at `now_ms` (the worker's monotonic loop time).
 * On IP_LIMIT_OK sets *handle, which the connection keeps (4 bytes) and gives back to
 * ip_limit_release when it closes; it stays valid until then. On a refusal nothing is
 * counted against the address and *handle is IP_LIMIT_HANDLE_NONE. The concurrent limit is
 * checked first, so a refusal for it takes no token. */
enum ip_limit_verdict ip_limit_acquire(struct ip_limit *t, const struct sockaddr *client,
                                       uint64_t now_ms, uint32_t *handle);

/* Ends a connection counted by ip_limit_acquire. IP_LIMIT_HANDLE_NONE is ignored. */
void ip_limit_release(struct ip_limit *t, uint32_t handle, uint64_t now_ms);

void ip_limit_stats(struct ip_limit *t, struct ip_limit_stats *out);

/* A short stable name for a verdict, for metric labels ("too_many_connections"). */
const char *ip_limit_verdict_name(enum ip_limit_verdict verdict);

#endif
