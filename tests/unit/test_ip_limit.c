/* Unit tests for core/ip_limit: the concurrent and per-second limits of one address, IPv6
 * grouped by prefix, IPv4 and mapped IPv4 as one client, the table's memory bound (idle
 * addresses evicted oldest first, live ones never), and exact limits with several workers
 * (threads) acquiring and releasing at once. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include <cmocka.h>

#include "core/ip_limit.h"

static struct sockaddr_storage addr(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, text, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
    } else {
        assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
        in6->sin6_family = AF_INET6;
    }
    return ss;
}

/* 10.x.y.z for n < 2^24: distinct addresses for table tests. */
static struct sockaddr_storage nth(uint32_t n)
{
    char text[INET_ADDRSTRLEN];
    snprintf(text, sizeof text, "10.%u.%u.%u", (n >> 16) & 255, (n >> 8) & 255, n & 255);
    return addr(text);
}

static enum ip_limit_verdict acquire_at(struct ip_limit *t, const struct sockaddr_storage *ss,
                                        uint64_t now_ms, uint32_t *handle)
{
    return ip_limit_acquire(t, (const struct sockaddr *)ss, now_ms, handle);
}

static enum ip_limit_verdict try(struct ip_limit *t, const char *text, uint64_t now_ms,
                                 uint32_t *handle)
{
    struct sockaddr_storage ss = addr(text);
    return acquire_at(t, &ss, now_ms, handle);
}

static struct ip_limit_config config(uint32_t connections_max, uint32_t rate_per_s, uint32_t burst)
{
    return (struct ip_limit_config){
        .connections_max = connections_max,
        .new_connections = {.rate_per_s = rate_per_s, .burst = burst},
        .ipv6_prefix_bits = IP_LIMIT_IPV6_PREFIX_DEFAULT,
        .addresses_max = 1024,
        .hash_seed = 0x5eed,
    };
}

static struct ip_limit_stats stats(struct ip_limit *t)
{
    struct ip_limit_stats s;
    ip_limit_stats(t, &s);
    return s;
}

static void concurrent_connections_are_capped_per_address(void **state)
{
    (void)state;
    struct ip_limit_config c = config(3, 0, 1);
    struct ip_limit *t = ip_limit_create(&c);
    assert_non_null(t);
    uint32_t h[4];
    for (int i = 0; i < 3; i++)
        assert_int_equal(try(t, "192.0.2.1", 0, &h[i]), IP_LIMIT_OK);
    assert_int_equal(try(t, "192.0.2.1", 0, &h[3]), IP_LIMIT_TOO_MANY_CONNECTIONS);
    assert_int_equal(h[3], IP_LIMIT_HANDLE_NONE);
    assert_int_equal(try(t, "192.0.2.2", 0, &h[3]), IP_LIMIT_OK); /* another client */
    ip_limit_release(t, h[1], 10);
    assert_int_equal(try(t, "192.0.2.1", 10, &h[1]), IP_LIMIT_OK);
    assert_int_equal(try(t, "192.0.2.1", 10, &h[1]), IP_LIMIT_TOO_MANY_CONNECTIONS);
    struct ip_limit_stats s = stats(t);
    assert_int_equal(s.accepted, 5);
    assert_int_equal(s.refused[IP_LIMIT_TOO_MANY_CONNECTIONS], 2);
    assert_int_equal(s.tracked, 2);
    ip_limit_destroy(t);
}

static void new_connections_per_second_follow_the_bucket(void **state)
{
    (void)state;
    struct ip_limit_config c = config(0, 2, 3);
    struct ip_limit *t = ip_limit_create(&c);
    assert_non_null(t);
    uint32_t h[8];
    for (int i = 0; i < 3; i++)
        assert_int_equal(try(t, "198.51.100.7", 1000, &h[i]), IP_LIMIT_OK);
    assert_int_equal(try(t, "198.51.100.7", 1000, &h[3]), IP_LIMIT_TOO_FAST);
    assert_int_equal(try(t, "198.51.100.7", 1499, &h[3]), IP_LIMIT_TOO_FAST);
    assert_int_equal(try(t, "198.51.100.7", 1500, &h[3]), IP_LIMIT_OK); /* 2/s: one per 500 ms */
    /* Closing the connections does not give the burst back: the address stays tracked. */
    for (int i = 0; i < 4; i++)
        ip_limit_release(t, h[i], 1500);
    assert_int_equal(stats(t).tracked, 1);
    assert_int_equal(try(t, "198.51.100.7", 1500, &h[0]), IP_LIMIT_TOO_FAST);
    for (int i = 0; i < 3; i++) /* 1.5 s later the bucket is full again */
        assert_int_equal(try(t, "198.51.100.7", 3000, &h[i]), IP_LIMIT_OK);
    assert_int_equal(try(t, "198.51.100.7", 3000, &h[3]), IP_LIMIT_TOO_FAST);
    assert_int_equal(stats(t).refused[IP_LIMIT_TOO_FAST], 4);
    ip_limit_destroy(t);
}

static void a_refusal_for_concurrency_takes_no_token(void **state)
{
    (void)state;
    struct ip_limit_config c = config(1, 1, 1);
    struct ip_limit *t = ip_limit_create(&c);
    assert_non_null(t);
    uint32_t h, other;
    assert_int_equal(try(t, "203.0.113.5", 0, &h), IP_LIMIT_OK);
    for (int i = 0; i < 10; i++)
        assert_int_equal(try(t, "203.0.113.5", 1000 + (uint64_t)i, &other),
                         IP_LIMIT_TOO_MANY_CONNECTIONS);
    ip_limit_release(t, h, 1000);
    assert_int_equal(stats(t).tracked, 0); /* no connection and a full bucket: forgotten */
    assert_int_equal(try(t, "203.0.113.5", 1000, &h), IP_LIMIT_OK);
    ip_limit_release(t, h, 1001);
    assert_int_equal(stats(t).tracked, 1); /* its bucket is empty: kept */
    ip_limit_destroy(t);
}

static void ipv6_clients_are_grouped_by_prefix(void **state)
{
    (void)state;
    struct ip_limit_config c = config(1, 0, 1);
    struct ip_limit *t = ip_limit_create(&c);
    assert_non_null(t);
    uint32_t h;
    assert_int_equal(try(t, "2001:db8:1:2::1", 0, &h), IP_LIMIT_OK);
    assert_int_equal(try(t, "2001:db8:1:2:ffff:ffff:ffff:ffff", 0, &h),
                     IP_LIMIT_TOO_MANY_CONNECTIONS); /* same /64 */
    assert_int_equal(try(t, "2001:db8:1:3::1", 0, &h), IP_LIMIT_OK);
    ip_limit_destroy(t);

    c.ipv6_prefix_bits = 128;
    t = ip_limit_create(&c);
    assert_non_null(t);
    assert_int_equal(try(t, "2001:db8:1:2::1", 0, &h), IP_LIMIT_OK);
    assert_int_equal(try(t, "2001:db8:1:2::2", 0, &h), IP_LIMIT_OK);
    assert_int_equal(try(t, "2001:db8:1:2::2", 0, &h), IP_LIMIT_TOO_MANY_CONNECTIONS);
    ip_limit_destroy(t);

    c.ipv6_prefix_bits = 60; /* a prefix ending inside a byte */
    t = ip_limit_create(&c);
    assert_non_null(t);
    assert_int_equal(try(t, "2001:db8:0:10::1", 0, &h), IP_LIMIT_OK);
    assert_int_equal(try(t, "2001:db8:0:1f::1", 0, &h), IP_LIMIT_TOO_MANY_CONNECTIONS);
    assert_int_equal(try(t, "2001:db8:0:20::1", 0, &h), IP_LIMIT_OK);
    ip_limit_destroy(t);
}

static void ipv4_and_mapped_ipv4_are_one_client_and_ipv6_cannot_pose_as_it(void **state)
{
    (void)state;
    struct ip_limit_config c = config(1, 0, 1);
    c.ipv6_prefix_bits = 128;
    struct ip_limit *t = ip_limit_create(&c);
    assert_non_null(t);
    uint32_t h;
    assert_int_equal(try(t, "10.0.0.1", 0, &h), IP_LIMIT_OK);
    assert_int_equal(try(t, "::ffff:10.0.0.1", 0, &h), IP_LIMIT_TOO_MANY_CONNECTIONS);
    assert_int_equal(try(t, "::10.0.0.1", 0, &h), IP_LIMIT_OK); /* IPv4-compatible: IPv6 */
    assert_int_equal(try(t, "0:0:0:0:0:fffe:a00:1", 0, &h), IP_LIMIT_OK);
    ip_limit_destroy(t);
}

static void non_ip_peers_are_not_counted(void **state)
{
    (void)state;
    struct ip_limit_config c = config(1, 1, 1);
    struct ip_limit *t = ip_limit_create(&c);
    assert_non_null(t);
    struct sockaddr_un un = {.sun_family = AF_UNIX, .sun_path = "/run/lb.sock"};
    uint32_t h = 0;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ip_limit_acquire(t, (struct sockaddr *)&un, 0, &h), IP_LIMIT_OK);
        assert_int_equal(h, IP_LIMIT_HANDLE_NONE);
    }
    ip_limit_release(t, IP_LIMIT_HANDLE_NONE, 0);
    assert_int_equal(stats(t).tracked, 0);
    ip_limit_destroy(t);
}

static void a_full_table_evicts_the_longest_idle_address(void **state)
{
    (void)state;
    struct ip_limit_config c = config(0, 1, 1);
    c.addresses_max = IP_LIMIT_ADDRESSES_MIN; /* one shard of 64 */
    struct ip_limit *t = ip_limit_create(&c);
    assert_non_null(t);
    uint32_t h;
    for (uint32_t i = 0; i < 64; i++) { /* 64 addresses connect and leave: buckets empty */
        struct sockaddr_storage ss = nth(i);
        assert_int_equal(acquire_at(t, &ss, i, &h), IP_LIMIT_OK);
        ip_limit_release(t, h, i);
    }
    assert_int_equal(stats(t).tracked, 64);
    struct sockaddr_storage a0 = nth(0), a1 = nth(1), a2 = nth(2), a63 = nth(63);
    assert_int_equal(acquire_at(t, &a1, 100, &h), IP_LIMIT_TOO_FAST); /* seen: now the newest */
    struct sockaddr_storage a64 = nth(64), a65 = nth(65);
    assert_int_equal(acquire_at(t, &a64, 100, &h), IP_LIMIT_OK); /* evicts 10.0.0.0 */
    ip_limit_release(t, h, 100);
    assert_int_equal(acquire_at(t, &a65, 100, &h), IP_LIMIT_OK); /* evicts 10.0.0.2, not .1 */
    ip_limit_release(t, h, 100);
    struct ip_limit_stats s = stats(t);
    assert_int_equal(s.tracked, 64);
    assert_int_equal(s.evicted, 2);
    assert_int_equal(acquire_at(t, &a1, 101, &h), IP_LIMIT_TOO_FAST);  /* still tracked */
    assert_int_equal(acquire_at(t, &a63, 101, &h), IP_LIMIT_TOO_FAST); /* still tracked */
    assert_int_equal(acquire_at(t, &a2, 101, &h), IP_LIMIT_OK); /* forgotten: a fresh bucket */
    ip_limit_release(t, h, 101);
    assert_int_equal(acquire_at(t, &a0, 101, &h), IP_LIMIT_OK);
    ip_limit_release(t, h, 101);
    assert_int_equal(stats(t).tracked, 64);
    ip_limit_destroy(t);
}

static void addresses_with_live_connections_are_never_evicted(void **state)
{
    (void)state;
    struct ip_limit_config c = config(10, 0, 1);
    c.addresses_max = IP_LIMIT_ADDRESSES_MIN;
    struct ip_limit *t = ip_limit_create(&c);
    assert_non_null(t);
    uint32_t held[64];
    for (uint32_t i = 0; i < 64; i++) {
        struct sockaddr_storage ss = nth(i);
        assert_int_equal(acquire_at(t, &ss, 0, &held[i]), IP_LIMIT_OK);
    }
    struct sockaddr_storage extra = nth(1000), known = nth(5);
    uint32_t h;
    assert_int_equal(acquire_at(t, &extra, 0, &h), IP_LIMIT_TABLE_FULL);
    assert_int_equal(h, IP_LIMIT_HANDLE_NONE);
    assert_int_equal(acquire_at(t, &known, 0, &h), IP_LIMIT_OK); /* tracked ones still work */
    ip_limit_release(t, h, 0);
    ip_limit_release(t, held[7], 0); /* its last connection: freed at once (no rate limit) */
    assert_int_equal(acquire_at(t, &extra, 0, &h), IP_LIMIT_OK);
    struct ip_limit_stats s = stats(t);
    assert_int_equal(s.refused[IP_LIMIT_TABLE_FULL], 1);
    assert_int_equal(s.evicted, 0);
    assert_int_equal(s.tracked, 64);
    ip_limit_destroy(t);
}

static void many_short_visits_leave_nothing_behind(void **state)
{
    (void)state;
    struct ip_limit_config c = config(2, 0, 1);
    c.addresses_max = IP_LIMIT_ADDRESSES_MIN;
    struct ip_limit *t = ip_limit_create(&c);
    assert_non_null(t);
    for (uint32_t i = 0; i < 100000; i++) {
        struct sockaddr_storage ss = nth(i);
        uint32_t h;
        assert_int_equal(acquire_at(t, &ss, i, &h), IP_LIMIT_OK);
        ip_limit_release(t, h, i);
    }
    struct ip_limit_stats s = stats(t);
    assert_int_equal(s.tracked, 0);
    assert_int_equal(s.evicted, 0);
    assert_int_equal(s.accepted, 100000);
    ip_limit_destroy(t);
}

static void a_large_table_holds_its_addresses_across_shards(void **state)
{
    (void)state;
    enum { HELD = 20000 };
    struct ip_limit_config c = config(1, 10, 5);
    c.addresses_max = 1 << 15; /* 64 shards of 512 */
    struct ip_limit *t = ip_limit_create(&c);
    assert_non_null(t);
    static uint32_t handles[HELD];
    for (uint32_t i = 0; i < HELD; i++) {
        struct sockaddr_storage ss = nth(i);
        assert_int_equal(acquire_at(t, &ss, 0, &handles[i]), IP_LIMIT_OK);
        for (uint32_t j = i & ~7u; j < i; j++) /* handles are distinct */
            assert_int_not_equal(handles[j], handles[i]);
    }
    assert_int_equal(stats(t).tracked, HELD);
    for (uint32_t i = 0; i < HELD; i++) {
        struct sockaddr_storage ss = nth(i);
        uint32_t h;
        assert_int_equal(acquire_at(t, &ss, 0, &h), IP_LIMIT_TOO_MANY_CONNECTIONS);
    }
    for (uint32_t i = 0; i < HELD; i++)
        ip_limit_release(t, handles[i], 1000); /* a second later the buckets are full */
    assert_int_equal(stats(t).tracked, 0);
    ip_limit_destroy(t);
}

/* ---- several workers at once ---- */

enum { THREADS = 4, THREAD_ROUNDS = 50000, SHARED_KEYS = 3, SHARED_LIMIT = 4 };

struct worker_ctx {
    struct ip_limit *t;
    atomic_int *held; /* [SHARED_KEYS]: connections each key holds, counted by the test */
    atomic_int *over; /* times a key was seen above the limit */
    unsigned seed;
    uint64_t ok, refused;
};

static void *worker_run(void *arg)
{
    struct worker_ctx *w = arg;
    uint32_t mine[SHARED_KEYS][SHARED_LIMIT];
    int count[SHARED_KEYS] = {0};
    for (int round = 0; round < THREAD_ROUNDS; round++) {
        w->seed = w->seed * 1103515245u + 12345u;
        int key = (int)((w->seed >> 16) % SHARED_KEYS);
        bool release = count[key] == SHARED_LIMIT || (count[key] > 0 && ((w->seed >> 8) & 1));
        if (release) {
            atomic_fetch_sub(&w->held[key], 1);
            ip_limit_release(w->t, mine[key][--count[key]], (uint64_t)round);
            continue;
        }
        struct sockaddr_storage ss = nth((uint32_t)key);
        uint32_t h;
        if (acquire_at(w->t, &ss, (uint64_t)round, &h) != IP_LIMIT_OK) {
            w->refused++;
            continue;
        }
        w->ok++;
        if (atomic_fetch_add(&w->held[key], 1) + 1 > SHARED_LIMIT)
            atomic_fetch_add(w->over, 1);
        mine[key][count[key]++] = h;
    }
    for (int key = 0; key < SHARED_KEYS; key++)
        while (count[key] > 0) {
            atomic_fetch_sub(&w->held[key], 1);
            ip_limit_release(w->t, mine[key][--count[key]], THREAD_ROUNDS);
        }
    return NULL;
}

static void limits_are_exact_with_several_workers_at_once(void **state)
{
    (void)state;
    struct ip_limit_config c = config(SHARED_LIMIT, 0, 1);
    struct ip_limit *t = ip_limit_create(&c);
    assert_non_null(t);
    atomic_int held[SHARED_KEYS] = {0};
    atomic_int over = 0;
    struct worker_ctx ctx[THREADS];
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) {
        ctx[i] = (struct worker_ctx){.t = t, .held = held, .over = &over, .seed = 7u + (unsigned)i};
        assert_int_equal(pthread_create(&threads[i], NULL, worker_run, &ctx[i]), 0);
    }
    uint64_t ok = 0, refused = 0;
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        ok += ctx[i].ok;
        refused += ctx[i].refused;
    }
    /* A worker counts a connection after the table admits it and uncounts it before
     * releasing it, so its count can never pass the table's: above the limit means the
     * table let too many in. */
    assert_int_equal(atomic_load(&over), 0);
    assert_true(refused > 0); /* the limit was reached, so the check above meant something */
    struct ip_limit_stats s = stats(t);
    assert_int_equal(s.accepted, ok);
    assert_int_equal(s.refused[IP_LIMIT_TOO_MANY_CONNECTIONS], refused);
    assert_int_equal(s.tracked, 0);
    ip_limit_destroy(t);
}

static void names_and_enabled(void **state)
{
    (void)state;
    assert_string_equal(ip_limit_verdict_name(IP_LIMIT_OK), "ok");
    assert_string_equal(ip_limit_verdict_name(IP_LIMIT_TOO_MANY_CONNECTIONS),
                        "too_many_connections");
    assert_string_equal(ip_limit_verdict_name(IP_LIMIT_TOO_FAST), "too_fast");
    assert_string_equal(ip_limit_verdict_name(IP_LIMIT_TABLE_FULL), "table_full");
    assert_string_equal(ip_limit_verdict_name(IP_LIMIT_VERDICT_COUNT), "unknown");
    struct ip_limit_config c = config(0, 0, 1);
    assert_false(ip_limit_enabled(&c));
    c.connections_max = 1;
    assert_true(ip_limit_enabled(&c));
    c = config(0, 5, 1);
    assert_true(ip_limit_enabled(&c));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(concurrent_connections_are_capped_per_address),
        cmocka_unit_test(new_connections_per_second_follow_the_bucket),
        cmocka_unit_test(a_refusal_for_concurrency_takes_no_token),
        cmocka_unit_test(ipv6_clients_are_grouped_by_prefix),
        cmocka_unit_test(ipv4_and_mapped_ipv4_are_one_client_and_ipv6_cannot_pose_as_it),
        cmocka_unit_test(non_ip_peers_are_not_counted),
        cmocka_unit_test(a_full_table_evicts_the_longest_idle_address),
        cmocka_unit_test(addresses_with_live_connections_are_never_evicted),
        cmocka_unit_test(many_short_visits_leave_nothing_behind),
        cmocka_unit_test(a_large_table_holds_its_addresses_across_shards),
        cmocka_unit_test(limits_are_exact_with_several_workers_at_once),
        cmocka_unit_test(names_and_enabled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
