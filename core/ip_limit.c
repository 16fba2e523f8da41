/* Per-address connection limits: see ip_limit.h.
 *
 * A shard is a fixed array of entries with a chained hash over it (links are entry indices
 * plus one, 0 ending a chain) and a doubly linked list of its idle entries, oldest first.
 * An entry is in exactly one of three states: free (on the free chain, or past `used`),
 * active (connections > 0, in the hash), idle (connections == 0, in the hash and the idle
 * list). Everything about a shard changes only under its mutex. */
#include "core/ip_limit.h"

#include <assert.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/cidr.h"

enum {
    SHARD_ENTRIES_MIN = 64, /* fewer shards rather than shards smaller than this */
    HANDLE_INDEX_BITS = 24,
    CACHE_LINE_BYTES = 64,
};

struct ip_entry {
    uint8_t key[16];            /* the address, IPv4 as ::ffff:a.b.c.d, IPv6 cut to the prefix */
    struct token_bucket bucket; /* new connections */
    uint32_t hash;              /* low bits of the key's hash, compared before the key */
    uint32_t connections;       /* open connections counted against the key */
    uint32_t next;              /* hash chain, or free chain; index + 1, 0 = end */
    uint32_t idle_prev;         /* idle list while connections == 0; index + 1, 0 = end */
    uint32_t idle_next;
};

/* The size ip_limit.h and docs/edge.md give for the table's memory. */
_Static_assert(sizeof(struct ip_entry) == 56, "an ip_limit entry is documented as 56 bytes");

struct ip_shard {
    pthread_mutex_t lock;
    struct ip_entry *entries; /* capacity, allocated once */
    uint32_t *heads;          /* bucket_mask + 1 chain heads, index + 1 */
    uint32_t bucket_mask;
    uint32_t capacity;
    uint32_t used;      /* entries ever handed out: those past it are free and untouched */
    uint32_t free_head; /* entries freed again, chained through `next` */
    uint32_t idle_head; /* oldest idle entry */
    uint32_t idle_tail;
    uint32_t tracked;
    uint64_t refused[IP_LIMIT_VERDICT_COUNT];
    uint64_t accepted;
    uint64_t evicted;
} __attribute__((aligned(CACHE_LINE_BYTES)));

struct ip_limit {
    struct ip_limit_config config;
    uint32_t shard_count; /* power of two */
    struct ip_shard *shards;
};

bool ip_limit_enabled(const struct ip_limit_config *config)
{
    return config->connections_max > 0 || config->new_connections.rate_per_s > 0;
}

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

static bool shard_init(struct ip_shard *s, uint32_t capacity)
{
    memset(s, 0, sizeof *s);
    s->capacity = capacity;
    s->bucket_mask = pow2_at_least(capacity) - 1;
    /* calloc: large arrays come as untouched zero pages, so RSS grows only with use. */
    s->entries = calloc(capacity, sizeof *s->entries);
    s->heads = calloc((size_t)s->bucket_mask + 1, sizeof *s->heads);
    if (s->entries == NULL || s->heads == NULL || pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s->entries);
        free(s->heads);
        return false;
    }
    return true;
}

static void shard_free(struct ip_shard *s)
{
    pthread_mutex_destroy(&s->lock);
    free(s->entries);
    free(s->heads);
}

struct ip_limit *ip_limit_create(const struct ip_limit_config *config)
{
    assert(config->addresses_max >= IP_LIMIT_ADDRESSES_MIN &&
           config->addresses_max <= IP_LIMIT_ADDRESSES_MAX);
    assert(config->ipv6_prefix_bits >= IP_LIMIT_IPV6_PREFIX_MIN && config->ipv6_prefix_bits <= 128);
    assert(config->new_connections.burst >= 1);
    struct ip_limit *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->config = *config;
    t->shard_count = 1;
    while (t->shard_count < IP_LIMIT_SHARDS_MAX &&
           config->addresses_max / (t->shard_count * 2) >= SHARD_ENTRIES_MIN)
        t->shard_count *= 2;
    t->shards = aligned_alloc(CACHE_LINE_BYTES, t->shard_count * sizeof *t->shards);
    if (t->shards == NULL) {
        free(t);
        return NULL;
    }
    uint32_t capacity = config->addresses_max / t->shard_count;
    for (uint32_t i = 0; i < t->shard_count; i++) {
        if (!shard_init(&t->shards[i], capacity)) {
            while (i > 0)
                shard_free(&t->shards[--i]);
            free(t->shards);
            free(t);
            return NULL;
        }
    }
    return t;
}

void ip_limit_destroy(struct ip_limit *t)
{
    if (t == NULL)
        return;
    for (uint32_t i = 0; i < t->shard_count; i++)
        shard_free(&t->shards[i]);
    free(t->shards);
    free(t);
}

/* The key of `client`: false for a non-IP address. */
static bool limit_key(const struct ip_limit *t, const struct sockaddr *client, uint8_t key[16])
{
    struct cidr_addr addr;
    if (!cidr_addr_from_sockaddr(client, &addr))
        return false;
    memset(key, 0, 16);
    if (addr.family == AF_INET) {
        key[10] = 0xff;
        key[11] = 0xff;
        memcpy(key + 12, addr.bytes, 4);
        return true;
    }
    /* A prefix shorter than 96 bits never looks like a mapped address: its bytes 10 and 11
     * are cut to zero. Longer prefixes keep real IPv6 bytes, and cidr_addr already turned
     * the only addresses that start with the mapped prefix into IPv4. */
    uint32_t bits = t->config.ipv6_prefix_bits;
    memcpy(key, addr.bytes, bits / 8);
    if (bits % 8)
        key[bits / 8] = addr.bytes[bits / 8] & (uint8_t)(0xff << (8 - bits % 8));
    return true;
}

static struct ip_entry *entry_at(struct ip_shard *s, uint32_t link)
{
    assert(link >= 1 && link <= s->used);
    return &s->entries[link - 1];
}

static uint32_t link_of(const struct ip_shard *s, const struct ip_entry *e)
{
    return (uint32_t)(e - s->entries) + 1;
}

static struct ip_entry *shard_find(struct ip_shard *s, const uint8_t key[16], uint32_t hash)
{
    for (uint32_t link = s->heads[hash & s->bucket_mask]; link != 0;) {
        struct ip_entry *e = entry_at(s, link);
        if (e->hash == hash && memcmp(e->key, key, 16) == 0)
            return e;
        link = e->next;
    }
    return NULL;
}

static void hash_unlink(struct ip_shard *s, struct ip_entry *e)
{
    uint32_t *link = &s->heads[e->hash & s->bucket_mask];
    uint32_t target = link_of(s, e);
    while (*link != target) {
        assert(*link != 0);
        link = &entry_at(s, *link)->next;
    }
    *link = e->next;
    e->next = 0;
}

static void idle_push_tail(struct ip_shard *s, struct ip_entry *e)
{
    uint32_t link = link_of(s, e);
    e->idle_prev = s->idle_tail;
    e->idle_next = 0;
    if (s->idle_tail != 0)
        entry_at(s, s->idle_tail)->idle_next = link;
    else
        s->idle_head = link;
    s->idle_tail = link;
}

static void idle_unlink(struct ip_shard *s, struct ip_entry *e)
{
    if (e->idle_prev != 0)
        entry_at(s, e->idle_prev)->idle_next = e->idle_next;
    else
        s->idle_head = e->idle_next;
    if (e->idle_next != 0)
        entry_at(s, e->idle_next)->idle_prev = e->idle_prev;
    else
        s->idle_tail = e->idle_prev;
    e->idle_prev = 0;
    e->idle_next = 0;
}

/* Takes the entry out of the hash and puts it on the free chain. */
static void entry_drop(struct ip_shard *s, struct ip_entry *e)
{
    assert(e->connections == 0);
    hash_unlink(s, e);
    e->next = s->free_head;
    s->free_head = link_of(s, e);
    s->tracked--;
}

/* A fresh entry for `key`, in the hash, idle but not on the idle list: NULL when every
 * entry has connections. */
static struct ip_entry *shard_add(struct ip_shard *s, const struct ip_limit_config *config,
                                  const uint8_t key[16], uint32_t hash, uint64_t now_ms)
{
    struct ip_entry *e;
    if (s->free_head != 0) {
        e = entry_at(s, s->free_head);
        s->free_head = e->next;
    } else if (s->used < s->capacity) {
        e = &s->entries[s->used++];
    } else if (s->idle_head != 0) {
        e = entry_at(s, s->idle_head); /* the longest idle */
        idle_unlink(s, e);
        hash_unlink(s, e);
        s->tracked--;
        s->evicted++;
    } else {
        return NULL;
    }
    memcpy(e->key, key, 16);
    e->hash = hash;
    e->connections = 0;
    e->idle_prev = 0;
    e->idle_next = 0;
    token_bucket_init(&e->bucket, &config->new_connections, now_ms);
    e->next = s->heads[hash & s->bucket_mask];
    s->heads[hash & s->bucket_mask] = link_of(s, e);
    s->tracked++;
    return e;
}

static enum ip_limit_verdict entry_admit(const struct ip_limit_config *config, struct ip_entry *e,
                                         uint64_t now_ms)
{
    if (config->connections_max > 0 && e->connections >= config->connections_max)
        return IP_LIMIT_TOO_MANY_CONNECTIONS;
    if (!token_bucket_take(&e->bucket, &config->new_connections, now_ms, 1))
        return IP_LIMIT_TOO_FAST;
    return IP_LIMIT_OK;
}

enum ip_limit_verdict ip_limit_acquire(struct ip_limit *t, const struct sockaddr *client,
                                       uint64_t now_ms, uint32_t *handle)
{
    *handle = IP_LIMIT_HANDLE_NONE;
    uint8_t key[16];
    if (!limit_key(t, client, key))
        return IP_LIMIT_OK; /* not an IP address: nothing to count it against */
    uint64_t hash = XXH3_64bits_withSeed(key, sizeof key, t->config.hash_seed);
    uint32_t shard_index = (uint32_t)(hash >> 32) & (t->shard_count - 1);
    struct ip_shard *s = &t->shards[shard_index];
    pthread_mutex_lock(&s->lock);
    struct ip_entry *e = shard_find(s, key, (uint32_t)hash);
    bool was_idle = e != NULL && e->connections == 0;
    if (e == NULL)
        e = shard_add(s, &t->config, key, (uint32_t)hash, now_ms);
    enum ip_limit_verdict verdict =
        e == NULL ? IP_LIMIT_TABLE_FULL : entry_admit(&t->config, e, now_ms);
    if (verdict == IP_LIMIT_OK) {
        if (was_idle)
            idle_unlink(s, e);
        e->connections++;
        s->accepted++;
        *handle = (shard_index << HANDLE_INDEX_BITS) | (link_of(s, e) - 1);
    } else {
        s->refused[verdict]++;
        if (was_idle) { /* refused but seen: it is the most recently used idle entry now */
            idle_unlink(s, e);
            idle_push_tail(s, e);
        }
        /* A new entry is never refused (a full bucket, no connection), so none is left
         * outside both the idle list and the active state. */
        assert(e == NULL || e->connections > 0 || was_idle);
    }
    pthread_mutex_unlock(&s->lock);
    return verdict;
}

void ip_limit_release(struct ip_limit *t, uint32_t handle, uint64_t now_ms)
{
    if (handle == IP_LIMIT_HANDLE_NONE)
        return;
    uint32_t shard_index = handle >> HANDLE_INDEX_BITS;
    assert(shard_index < t->shard_count);
    struct ip_shard *s = &t->shards[shard_index];
    pthread_mutex_lock(&s->lock);
    struct ip_entry *e = entry_at(s, (handle & ((1u << HANDLE_INDEX_BITS) - 1)) + 1);
    assert(e->connections > 0);
    e->connections--;
    if (e->connections == 0) {
        const struct token_bucket_rule *rule = &t->config.new_connections;
        /* A full bucket is what a new entry would get: nothing worth keeping. */
        if (rule->rate_per_s == 0 ||
            token_bucket_wait_ms(&e->bucket, rule, now_ms, rule->burst) == 0)
            entry_drop(s, e);
        else
            idle_push_tail(s, e);
    }
    pthread_mutex_unlock(&s->lock);
}

void ip_limit_stats(struct ip_limit *t, struct ip_limit_stats *out)
{
    memset(out, 0, sizeof *out);
    for (uint32_t i = 0; i < t->shard_count; i++) {
        struct ip_shard *s = &t->shards[i];
        pthread_mutex_lock(&s->lock);
        out->tracked += s->tracked;
        out->accepted += s->accepted;
        out->evicted += s->evicted;
        for (int v = 0; v < IP_LIMIT_VERDICT_COUNT; v++)
            out->refused[v] += s->refused[v];
        pthread_mutex_unlock(&s->lock);
    }
}

const char *ip_limit_verdict_name(enum ip_limit_verdict verdict)
{
    static const char *const names[IP_LIMIT_VERDICT_COUNT] = {
        [IP_LIMIT_OK] = "ok",
        [IP_LIMIT_TOO_MANY_CONNECTIONS] = "too_many_connections",
        [IP_LIMIT_TOO_FAST] = "too_fast",
        [IP_LIMIT_TABLE_FULL] = "table_full",
    };
    if ((unsigned)verdict >= IP_LIMIT_VERDICT_COUNT)
        return "unknown";
    return names[verdict];
}
