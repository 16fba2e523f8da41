/* User status across nodes against a real Redis 7: status and last seen set and cleared,
 * counts summed across two simulated nodes (two workers with their own links), a node that
 * dies stops counting after the TTL and is swept, the per-user limit enforced atomically
 * (and refused checks leave no count behind), Redis killed or hung mid-run (connections
 * keep being admitted at once, reads refused at once, everything rewritten when Redis is
 * back), a lost registration or flushed scripts healed by themselves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "redis_harness.h"
#include "storage_test_loop.h"
#include "storage/user_status.h"

enum {
    TTL_MS = 600,
    HEARTBEAT_MS = 150,
    STALL_MS_MAX = 200,  /* the loop's worst lateness; a real stall waits 300 ms or for ever */
    CLOCK_SLACK_MS = 20, /* Redis's TIME against this process's clock, same host */
};

static struct redis_harness harness;

struct node {
    struct user_status us;
    struct user_status_metrics m;
    bool open;
};

struct fixture {
    struct storage_test_loop t;
    struct node a, b;
    char prefix[32];
    /* verdicts of pending checks, in arrival order */
    int verdicts;
    enum user_status_admit verdict[64];
    uint32_t verdict_connections[64];
    /* the last read */
    int reads;
    bool read_ok;
    struct user_status_info info;
};

static struct fixture fx;
static int test_number;

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool node_timer(void *owner, struct tw_timer *t)
{
    return user_status_on_timer(owner, t);
}

static void node_open(struct node *n, const char *instance, uint32_t max_connections)
{
    memset(n, 0, sizeof *n);
    struct user_status_params p;
    user_status_params_defaults(&p);
    p.redis.url = harness.url;
    p.redis.connect_timeout_ms = 300;
    p.redis.command_timeout_ms = 300;
    p.redis.backoff_min_ms = 20;
    p.redis.backoff_max_ms = 100;
    p.instance = instance;
    p.key_prefix = fx.prefix;
    p.ttl_ms = TTL_MS;
    p.heartbeat_ms = HEARTBEAT_MS;
    p.seen_ttl_ms = 3600 * 1000;
    p.max_connections = max_connections;
    char err[REDIS_CONN_ERROR_BYTES];
    if (user_status_init(&n->us, &fx.t.loop, STORAGE_TEST_TAG_REDIS, &p, &n->m, err) != 0)
        fail_msg("user_status_init: %s", err);
    storage_test_loop_add(&fx.t, node_timer, &n->us);
    n->open = true;
}

static bool node_idle(void *arg)
{
    return !user_status_busy(arg);
}

/* Without user_status_leave: to Redis, this is a node that died. */
static void node_close(struct node *n)
{
    if (!n->open)
        return;
    user_status_destroy(&n->us);
    assert_true(storage_test_loop_run(&fx.t, node_idle, &n->us, 2000));
    storage_test_loop_remove(&fx.t, &n->us);
    n->open = false;
}

/* Everything this node wrote has been answered. */
static bool node_settled(const struct node *n)
{
    return !n->open || (n->us.link_up && n->us.writes_inflight == 0 && n->us.dirty == NULL &&
                        pg_metric_get(&n->m.redis.pending) == 0);
}

static bool both_settled(void *arg)
{
    (void)arg;
    return node_settled(&fx.a) && node_settled(&fx.b);
}

static void settle(void)
{
    assert_true(storage_test_loop_run(&fx.t, both_settled, NULL, 5000));
}

static void fx_open(uint32_t max_connections)
{
    memset(&fx, 0, sizeof fx);
    snprintf(fx.prefix, sizeof fx.prefix, "t%d:", ++test_number);
    assert_int_equal(storage_test_loop_init(&fx.t), 0);
    node_open(&fx.a, "node-a/0", max_connections);
    node_open(&fx.b, "node-b/0", max_connections);
    settle();
}

static void fx_close(void)
{
    node_close(&fx.a);
    node_close(&fx.b);
    storage_test_loop_destroy(&fx.t);
}

static void on_admit(void *ctx, enum user_status_admit verdict, uint32_t connections)
{
    (void)ctx;
    assert_true(fx.verdicts < 64);
    fx.verdict[fx.verdicts] = verdict;
    fx.verdict_connections[fx.verdicts++] = connections;
}

static bool verdicts_reach(void *arg)
{
    return fx.verdicts >= *(int *)arg;
}

/* A connection of `user` on `n`, waiting for a pending verdict. */
static enum user_status_admit admit(struct node *n, const char *user, uint32_t *connections)
{
    struct user_status_check *check;
    int want = fx.verdicts + 1;
    enum user_status_admit a =
        user_status_connect(&n->us, user, strlen(user), on_admit, NULL, &check);
    if (a != USER_STATUS_PENDING) {
        assert_null(check);
        return a;
    }
    assert_non_null(check);
    assert_true(storage_test_loop_run(&fx.t, verdicts_reach, &want, 5000));
    if (connections != NULL)
        *connections = fx.verdict_connections[want - 1];
    return fx.verdict[want - 1];
}

static void leave(struct node *n, const char *user)
{
    user_status_disconnect(&n->us, user, strlen(user));
}

static void on_read(void *ctx, const struct user_status_info *info)
{
    (void)ctx;
    fx.reads++;
    fx.read_ok = info != NULL;
    if (info != NULL)
        fx.info = *info;
}

static bool read_done(void *arg)
{
    return fx.reads >= *(int *)arg;
}

static struct user_status_info status_of(struct node *n, const char *user)
{
    int want = fx.reads + 1;
    assert_int_equal(user_status_get(&n->us, user, strlen(user), on_read, NULL), 0);
    assert_int_equal(fx.reads, want - 1); /* never answered from inside the call */
    assert_true(storage_test_loop_run(&fx.t, read_done, &want, 5000));
    assert_true(fx.read_ok);
    return fx.info;
}

static void assert_status(struct node *n, const char *user, bool online, uint32_t connections)
{
    struct user_status_info info = status_of(n, user);
    if (info.online != online || info.connections != connections)
        fail_msg("%s: online=%d connections=%u, expected online=%d connections=%u", user,
                 info.online, info.connections, online, connections);
}

static void assert_between(uint64_t value, uint64_t low, uint64_t high)
{
    if (value + CLOCK_SLACK_MS < low || value > high + CLOCK_SLACK_MS)
        fail_msg("%llu not within [%llu, %llu]", (unsigned long long)value, (unsigned long long)low,
                 (unsigned long long)high);
}

static redisContext *direct(void)
{
    redisContext *ctx = redis_harness_connect(&harness, NULL);
    assert_non_null(ctx);
    return ctx;
}

static void assert_no_stall(void)
{
    if (fx.t.tick_late_ms_max > STALL_MS_MAX)
        fail_msg("the loop stalled for %llu ms", (unsigned long long)fx.t.tick_late_ms_max);
}

static void test_status_set_and_cleared(void **state)
{
    (void)state;
    fx_open(0);
    const char *alice = "team:alice \xc3\xa9"; /* any bytes: colons, spaces, UTF-8 */
    assert_status(&fx.b, alice, false, 0);
    assert_int_equal(fx.info.last_seen_ms, 0); /* never seen */
    uint64_t before_ms = wall_ms();
    assert_int_equal(admit(&fx.a, alice, NULL), USER_STATUS_ALLOWED);
    assert_int_equal(admit(&fx.a, alice, NULL), USER_STATUS_ALLOWED);
    settle();
    struct user_status_info info = status_of(&fx.b, alice);
    assert_true(info.online);
    assert_int_equal(info.connections, 2);
    assert_between(info.last_seen_ms, before_ms, wall_ms()); /* online: now */
    assert_int_equal(pg_metric_get(&fx.a.m.connections), 2);
    assert_int_equal(pg_metric_get(&fx.a.m.users), 1);

    leave(&fx.a, alice);
    settle();
    assert_status(&fx.b, alice, true, 1);
    uint64_t left_after_ms = wall_ms();
    leave(&fx.a, alice);
    settle();
    uint64_t left_before_ms = wall_ms();
    info = status_of(&fx.b, alice);
    assert_false(info.online);
    assert_int_equal(info.connections, 0);
    assert_between(info.last_seen_ms, left_after_ms, left_before_ms);
    assert_int_equal(pg_metric_get(&fx.a.m.connections), 0);
    assert_int_equal(pg_metric_get(&fx.a.m.users), 0);

    /* Only `seen` is left, and it expires after seen_ttl_ms. */
    redisContext *ctx = direct();
    char key[128];
    snprintf(key, sizeof key, "%suser:%s", fx.prefix, alice);
    assert_int_equal(redis_harness_int(ctx, "HLEN %s", key), 1);
    long long pttl = redis_harness_int(ctx, "PTTL %s", key);
    assert_true(pttl > 3590 * 1000 && pttl <= 3600 * 1000);
    redisFree(ctx);
    assert_int_equal(pg_metric_get(&fx.a.m.writes_failed_total), 0);
    fx_close();
}

static void test_counts_across_two_nodes(void **state)
{
    (void)state;
    fx_open(0);
    admit(&fx.a, "bob", NULL);
    admit(&fx.a, "bob", NULL);
    admit(&fx.b, "bob", NULL);
    admit(&fx.b, "dan", NULL);
    settle();
    assert_status(&fx.a, "bob", true, 3);
    assert_status(&fx.b, "bob", true, 3);
    assert_status(&fx.a, "dan", true, 1);
    leave(&fx.b, "bob");
    settle();
    assert_status(&fx.a, "bob", true, 2);
    leave(&fx.a, "bob");
    leave(&fx.a, "bob");
    settle();
    assert_status(&fx.b, "bob", false, 0);
    assert_status(&fx.a, "dan", true, 1);
    fx_close();
}

static bool ms_passed(void *arg)
{
    return loop_clock_ms() >= *(uint64_t *)arg;
}

static void test_a_dead_node_stops_counting_after_the_ttl(void **state)
{
    (void)state;
    fx_open(0);
    admit(&fx.a, "carol", NULL);
    admit(&fx.a, "carol", NULL);
    admit(&fx.b, "carol", NULL);
    admit(&fx.a, "dora", NULL);
    settle();
    assert_status(&fx.b, "carol", true, 3);
    char dead_users[128];
    snprintf(dead_users, sizeof dead_users, "%sinst:%s:users", fx.prefix, fx.a.us.inc);
    char dead_inc[USER_STATUS_INC_BYTES];
    snprintf(dead_inc, sizeof dead_inc, "%s", fx.a.us.inc);

    uint64_t crash_ms = wall_ms();
    node_close(&fx.a);                      /* gone without a word, like a crashed node */
    assert_status(&fx.b, "carol", true, 3); /* still counted until its TTL runs out */
    uint64_t until_ms = loop_clock_ms() + TTL_MS + 50;
    assert_true(storage_test_loop_run(&fx.t, ms_passed, &until_ms, 5000));
    assert_status(&fx.b, "carol", true, 1);
    struct user_status_info info = status_of(&fx.b, "dora");
    assert_false(info.online);
    /* Last seen: when the dead node's registration ran out (at most one TTL late). */
    assert_between(info.last_seen_ms, crash_ms, crash_ms + TTL_MS + 50);

    /* B's sweep removes what the dead node left, and then the node itself. */
    until_ms = loop_clock_ms() + 2 * HEARTBEAT_MS + 50;
    assert_true(storage_test_loop_run(&fx.t, ms_passed, &until_ms, 5000));
    redisContext *ctx = direct();
    char key[128];
    snprintf(key, sizeof key, "%sinst", fx.prefix);
    assert_int_equal(redis_harness_int(ctx, "ZSCORE %s %s", key, dead_inc), 0);
    assert_int_equal(redis_harness_int(ctx, "ZCARD %s", key), 1); /* B */
    assert_int_equal(redis_harness_int(ctx, "EXISTS %s", dead_users), 0);
    snprintf(key, sizeof key, "%suser:carol", fx.prefix);
    assert_int_equal(redis_harness_int(ctx, "HLEN %s", key), 2); /* seen + B's count */
    snprintf(key, sizeof key, "%suser:dora", fx.prefix);
    assert_int_equal(redis_harness_int(ctx, "HLEN %s", key), 1);
    assert_true(redis_harness_int(ctx, "PTTL %s", key) > 0);
    redisFree(ctx);
    assert_status(&fx.b, "carol", true, 1);
    fx_close();
}

static void test_the_limit_is_enforced_across_nodes(void **state)
{
    (void)state;
    fx_open(2);
    uint32_t n = 0;
    assert_int_equal(admit(&fx.a, "erin", &n), USER_STATUS_ALLOWED);
    assert_int_equal(n, 1);
    assert_int_equal(admit(&fx.b, "erin", &n), USER_STATUS_ALLOWED);
    assert_int_equal(n, 2);
    assert_int_equal(admit(&fx.a, "erin", &n), USER_STATUS_REFUSED);
    assert_int_equal(n, 2);
    assert_int_equal(pg_metric_get(&fx.a.m.limit_refused_total), 1);
    assert_int_equal(pg_metric_get(&fx.a.m.connections), 1);
    settle();
    assert_status(&fx.b, "erin", true, 2);
    leave(&fx.b, "erin");
    settle();
    assert_int_equal(admit(&fx.a, "erin", &n), USER_STATUS_ALLOWED);
    assert_int_equal(n, 2);
    fx_close();
}

static void test_concurrent_connects_get_exactly_the_limit(void **state)
{
    (void)state;
    fx_open(3);
    struct user_status_check *check;
    /* Ten connections of one user on two nodes in the same turn: checks race in Redis. */
    for (int i = 0; i < 10; i++) {
        struct node *n = i % 2 == 0 ? &fx.a : &fx.b;
        assert_int_equal(user_status_connect(&n->us, "frank", 5, on_admit, NULL, &check),
                         USER_STATUS_PENDING);
    }
    int want = 10;
    assert_true(storage_test_loop_run(&fx.t, verdicts_reach, &want, 5000));
    int allowed = 0;
    for (int i = 0; i < 10; i++)
        allowed += fx.verdict[i] == USER_STATUS_ALLOWED;
    assert_int_equal(allowed, 3);
    settle();
    assert_status(&fx.a, "frank", true, 3);
    /* A refused check leaves no count behind, on either node. */
    redisContext *ctx = direct();
    long long sum = 0;
    redisReply *r = redisCommand(ctx, "HGETALL %suser:frank", fx.prefix);
    assert_non_null(r);
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (strncmp(r->element[i]->str, "c:", 2) == 0)
            sum += strtoll(r->element[i + 1]->str, NULL, 10);
    freeReplyObject(r);
    redisFree(ctx);
    assert_int_equal(sum, 3);
    assert_int_equal(pg_metric_get(&fx.a.m.connections) + pg_metric_get(&fx.b.m.connections), 3);
    fx_close();
}

static void test_a_cancelled_check_is_not_counted(void **state)
{
    (void)state;
    fx_open(5);
    struct user_status_check *check;
    assert_int_equal(user_status_connect(&fx.a.us, "gina", 4, on_admit, NULL, &check),
                     USER_STATUS_PENDING);
    user_status_cancel(&fx.a.us, check);
    settle();
    assert_int_equal(fx.verdicts, 0);
    assert_status(&fx.b, "gina", false, 0);
    assert_int_equal(pg_metric_get(&fx.a.m.connections), 0);
    assert_int_equal(pg_metric_get(&fx.a.m.users), 0);
    fx_close();
}

static bool both_down(void *arg)
{
    (void)arg;
    return !fx.a.us.link_up && !fx.b.us.link_up;
}

static bool both_up(void *arg)
{
    (void)arg;
    return fx.a.us.link_up && fx.b.us.link_up && both_settled(NULL);
}

/* While Redis is away: admitted at once (unchecked), reads refused at once, no stall. */
static void assert_degraded_without_stall(void)
{
    uint64_t before_ms = loop_clock_ms();
    assert_int_equal(admit(&fx.a, "hank", NULL), USER_STATUS_UNCHECKED);
    for (int i = 0; i < 3; i++)
        assert_int_equal(admit(&fx.b, "ivy", NULL), USER_STATUS_UNCHECKED); /* over the limit */
    assert_int_equal(user_status_get(&fx.b.us, "hank", 4, on_read, NULL), -1);
    assert_true(loop_clock_ms() - before_ms < STALL_MS_MAX);
    assert_int_equal(pg_metric_get(&fx.b.m.gets_refused_total), 1);
    assert_true(pg_metric_get(&fx.a.m.unchecked_total) >= 1);
    assert_true(pg_metric_get(&fx.b.m.unchecked_total) >= 3);
    storage_test_loop_spin(&fx.t, 200);
    assert_no_stall();
}

static void test_redis_killed_mid_run(void **state)
{
    (void)state;
    fx_open(2);
    assert_int_equal(admit(&fx.a, "hank", NULL), USER_STATUS_ALLOWED);
    assert_int_equal(admit(&fx.a, "jack", NULL), USER_STATUS_ALLOWED);
    settle();
    assert_int_equal(redis_harness_kill(&harness), 0);
    assert_true(storage_test_loop_run(&fx.t, both_down, NULL, 5000));
    fx.t.tick_late_ms_max = 0;
    assert_degraded_without_stall();
    leave(&fx.a, "jack");
    /* Redis comes back empty (no persistence): every node rewrites what it holds. */
    assert_int_equal(redis_harness_restart(&harness), 0);
    assert_true(storage_test_loop_run(&fx.t, both_up, NULL, 5000));
    assert_status(&fx.b, "hank", true, 2);
    assert_status(&fx.a, "ivy", true, 3);
    assert_status(&fx.a, "jack", false, 0);
    assert_int_equal(pg_metric_get(&fx.a.m.resyncs_total), 2);
    /* The limit holds again: ivy is over it, hank at it. */
    assert_int_equal(admit(&fx.a, "ivy", NULL), USER_STATUS_REFUSED);
    assert_int_equal(admit(&fx.b, "hank", NULL), USER_STATUS_REFUSED);
    fx_close();
}

static void test_a_new_link_rewrites_every_user(void **state)
{
    (void)state;
    enum { USERS = 3000 }; /* about three rounds of rewrite_inflight_max */
    fx_open(0);
    char user[32];
    for (int i = 0; i < USERS; i++) {
        snprintf(user, sizeof user, "user-%d", i);
        assert_int_equal(admit(&fx.a, user, NULL), USER_STATUS_ALLOWED);
    }
    settle();
    assert_int_equal(redis_harness_kill(&harness), 0);
    assert_true(storage_test_loop_run(&fx.t, both_down, NULL, 5000));
    assert_int_equal(redis_harness_restart(&harness), 0);
    assert_true(storage_test_loop_run(&fx.t, both_up, NULL, 10000));
    redisContext *ctx = direct();
    assert_int_equal(redis_harness_int(ctx, "SCARD %sinst:%s:users", fx.prefix, fx.a.us.inc),
                     USERS);
    redisFree(ctx);
    assert_status(&fx.b, "user-0", true, 1);
    assert_status(&fx.b, "user-2999", true, 1);
    assert_true(pg_metric_get(&fx.a.m.writes_total) >= 2 * USERS);
    fx_close();
}

static void test_redis_hung_mid_run(void **state)
{
    (void)state;
    fx_open(2);
    assert_int_equal(admit(&fx.a, "hank", NULL), USER_STATUS_ALLOWED);
    assert_int_equal(admit(&fx.a, "jack", NULL), USER_STATUS_ALLOWED);
    settle();
    /* A hung Redis: the next heartbeat's command times out and the links drop. */
    uint64_t hung_ms = wall_ms();
    assert_int_equal(redis_harness_pause(&harness), 0);
    assert_true(storage_test_loop_run(&fx.t, both_down, NULL, 5000));
    fx.t.tick_late_ms_max = 0;
    assert_degraded_without_stall();
    leave(&fx.a, "jack");
    assert_int_equal(redis_harness_resume(&harness), 0);
    assert_true(storage_test_loop_run(&fx.t, both_up, NULL, 5000));
    /* The data survived, but each node's new incarnation ended the old one: jack, who left
     * during the outage, reads as offline, last seen when A's old incarnation ended (its
     * expiry during the outage, or its replacement, whichever came first). */
    assert_status(&fx.b, "hank", true, 2);
    assert_status(&fx.b, "ivy", true, 3);
    struct user_status_info info = status_of(&fx.b, "jack");
    assert_false(info.online);
    assert_between(info.last_seen_ms, hung_ms, wall_ms());
    fx_close();
}

static bool resynced_twice(void *arg)
{
    return pg_metric_get(&((struct node *)arg)->m.resyncs_total) >= 2 && both_settled(NULL);
}

static void test_a_lost_registration_is_rewritten(void **state)
{
    (void)state;
    fx_open(0);
    admit(&fx.a, "kate", NULL);
    settle();
    assert_status(&fx.b, "kate", true, 1);
    /* The registry vanishes (an operator's DEL, a failover to a stale replica). */
    redisContext *ctx = direct();
    assert_int_equal(redis_harness_int(ctx, "DEL %sinst", fx.prefix), 1);
    redisFree(ctx);
    assert_status(&fx.b, "kate", false, 0);
    /* A's next heartbeat finds itself gone and starts over. */
    assert_true(storage_test_loop_run(&fx.t, resynced_twice, &fx.a, 5000));
    assert_true(pg_metric_get(&fx.a.m.expired_total) >= 1);
    assert_status(&fx.b, "kate", true, 1);
    fx_close();
}

static void test_flushed_scripts_are_reloaded(void **state)
{
    (void)state;
    fx_open(0);
    admit(&fx.a, "liam", NULL);
    settle();
    redisContext *ctx = direct();
    redisReply *r = redisCommand(ctx, "SCRIPT FLUSH");
    assert_true(r != NULL && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    redisFree(ctx);
    admit(&fx.a, "liam", NULL); /* NOSCRIPT: A reconnects, reloads, rewrites */
    assert_true(storage_test_loop_run(&fx.t, resynced_twice, &fx.a, 5000));
    assert_status(&fx.a, "liam", true, 2);
    fx_close();
}

static void config_set_maxmemory(const char *value)
{
    redisContext *ctx = direct();
    redisReply *r = redisCommand(ctx, "CONFIG SET maxmemory %s", value);
    assert_true(r != NULL && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    redisFree(ctx);
}

static bool writes_accepted_again(void *arg)
{
    (void)arg;
    return both_settled(NULL) && pg_metric_get(&fx.a.m.resyncs_total) >= 2;
}

static void test_refused_writes_wait_for_the_heartbeat(void **state)
{
    (void)state;
    fx_open(0);
    config_set_maxmemory("1"); /* every write refused: OOM */
    uint64_t writes_before = pg_metric_get(&fx.a.m.writes_total);
    uint64_t connects_before = pg_metric_get(&fx.a.m.redis.connects_total);
    assert_int_equal(admit(&fx.a, "nora", NULL), USER_STATUS_ALLOWED);
    assert_int_equal(admit(&fx.a, "otto", NULL), USER_STATUS_ALLOWED);
    storage_test_loop_spin(&fx.t, 5 * HEARTBEAT_MS + 20);
    /* The incarnation expires (its heartbeats are refused); registering a new one is
     * refused, so links are remade with a growing backoff, not at once (backoff 20 ms
     * doubling to 100 ms: at most about eight in this time). */
    uint64_t connects = pg_metric_get(&fx.a.m.redis.connects_total) - connects_before;
    if (connects > 10)
        fail_msg("%llu links in 5 heartbeats to a Redis refusing the registration",
                 (unsigned long long)connects);
    /* Two users, written again once per heartbeat and per new link: not at round-trip
     * pace. */
    uint64_t writes = pg_metric_get(&fx.a.m.writes_total) - writes_before;
    if (writes > 2 * (1 + 6 + connects))
        fail_msg("%llu writes in 5 heartbeats and %llu links against a Redis refusing them",
                 (unsigned long long)writes, (unsigned long long)connects);
    assert_true(pg_metric_get(&fx.a.m.writes_failed_total) >= 2);
    assert_true(pg_metric_get(&fx.a.m.redis.error_replies_total) >= 2);
    config_set_maxmemory("0");
    /* Heartbeats were refused too, so the incarnation expired: the next one starts over. */
    assert_true(storage_test_loop_run(&fx.t, writes_accepted_again, NULL, 5000));
    assert_status(&fx.b, "nora", true, 1);
    assert_status(&fx.b, "otto", true, 1);
    fx_close();
}

static int maxmemory_reset(void **state)
{
    (void)state;
    if (harness.pid > 0 && !harness.paused)
        config_set_maxmemory("0");
    return 0;
}

static void test_leave_ends_a_node_at_once(void **state)
{
    (void)state;
    fx_open(0);
    admit(&fx.a, "mia", NULL);
    settle();
    uint64_t before_ms = wall_ms();
    user_status_leave(&fx.a.us);
    settle();
    struct user_status_info info = status_of(&fx.b, "mia");
    assert_false(info.online);
    assert_between(info.last_seen_ms, before_ms, wall_ms());
    fx_close();
}

static void test_bad_settings_are_refused(void **state)
{
    (void)state;
    struct storage_test_loop t;
    assert_int_equal(storage_test_loop_init(&t), 0);
    struct user_status us;
    struct user_status_metrics m;
    struct user_status_params p;
    char err[REDIS_CONN_ERROR_BYTES];
    user_status_params_defaults(&p);
    p.redis.url = harness.url;
    assert_int_equal(user_status_init(&us, &t.loop, STORAGE_TEST_TAG_REDIS, &p, &m, err), -1);
    assert_non_null(strstr(err, "instance"));
    p.instance = "n/0";
    p.heartbeat_ms = p.ttl_ms;
    assert_int_equal(user_status_init(&us, &t.loop, STORAGE_TEST_TAG_REDIS, &p, &m, err), -1);
    assert_non_null(strstr(err, "half of ttl_ms"));
    p.heartbeat_ms = 1000;
    p.redis.url = "redis://redis:6379";
    assert_int_equal(user_status_init(&us, &t.loop, STORAGE_TEST_TAG_REDIS, &p, &m, err), -1);
    assert_non_null(strstr(err, "not a name"));
    storage_test_loop_destroy(&t);
}

static int group_setup(void **state)
{
    (void)state;
    return redis_harness_start(&harness, NULL);
}

static int group_teardown(void **state)
{
    (void)state;
    redis_harness_destroy(&harness);
    return 0;
}

static int server_running(void **state)
{
    (void)state;
    if (harness.paused)
        redis_harness_resume(&harness);
    if (harness.pid <= 0)
        return redis_harness_restart(&harness);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_status_set_and_cleared, server_running),
        cmocka_unit_test_setup(test_counts_across_two_nodes, server_running),
        cmocka_unit_test_setup(test_a_dead_node_stops_counting_after_the_ttl, server_running),
        cmocka_unit_test_setup(test_the_limit_is_enforced_across_nodes, server_running),
        cmocka_unit_test_setup(test_concurrent_connects_get_exactly_the_limit, server_running),
        cmocka_unit_test_setup(test_a_cancelled_check_is_not_counted, server_running),
        cmocka_unit_test_setup(test_redis_killed_mid_run, server_running),
        cmocka_unit_test_setup(test_a_new_link_rewrites_every_user, server_running),
        cmocka_unit_test_setup(test_redis_hung_mid_run, server_running),
        cmocka_unit_test_setup(test_a_lost_registration_is_rewritten, server_running),
        cmocka_unit_test_setup(test_flushed_scripts_are_reloaded, server_running),
        cmocka_unit_test_setup_teardown(test_refused_writes_wait_for_the_heartbeat, server_running,
                                        maxmemory_reset),
        cmocka_unit_test_setup(test_leave_ends_a_node_at_once, server_running),
        cmocka_unit_test_setup(test_bad_settings_are_refused, server_running),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
