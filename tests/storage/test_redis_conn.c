/* The hiredis connection on io_uring against a real Redis 7: pipelined commands answered in
 * order (binary-safe, error replies), the bound on waiting commands, refusals at once while
 * Redis is away, a server killed with commands in flight, a server that hangs (timeouts),
 * AUTH and SELECT, and a close with commands waiting. Every scenario also checks that the
 * loop never stalled. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "redis_harness.h"
#include "storage_test_loop.h"
#include "storage/redis_conn.h"

enum {
    REC_MAX = 2048,
    STALL_MS_MAX = 200, /* the loop's worst lateness; a real stall waits 300 ms or for ever */
};

static struct redis_harness harness;

/* Every answer, in arrival order. */
struct record {
    int count;
    enum redis_status status[REC_MAX];
    intptr_t tag[REC_MAX];
    long long integer[REC_MAX];
    char text[REC_MAX][64];
    size_t len[REC_MAX];
};

struct fixture {
    struct storage_test_loop t;
    struct redis_conn c;
    struct redis_conn_metrics m;
    int ups, downs;
    char last_down[REDIS_CONN_ERROR_BYTES];
    struct record rec;
};

static struct fixture fx;

static void on_up(void *owner)
{
    struct fixture *f = owner;
    f->ups++;
    redis_conn_proven(&f->c);
}

static void on_down(void *owner, const char *why)
{
    struct fixture *f = owner;
    f->downs++;
    snprintf(f->last_down, sizeof f->last_down, "%s", why);
}

static const struct redis_conn_ops ops = {.up = on_up, .down = on_down};

static void on_reply(void *ctx, enum redis_status status, const redisReply *reply)
{
    struct record *r = &fx.rec;
    assert_true(r->count < REC_MAX);
    int i = r->count++;
    r->status[i] = status;
    r->tag[i] = (intptr_t)ctx;
    r->integer[i] = 0;
    r->text[i][0] = '\0';
    r->len[i] = 0;
    if (reply == NULL)
        return;
    if (reply->type == REDIS_REPLY_INTEGER)
        r->integer[i] = reply->integer;
    if (reply->str != NULL) {
        size_t n = reply->len < sizeof r->text[i] ? reply->len : sizeof r->text[i] - 1;
        memcpy(r->text[i], reply->str, n);
        r->text[i][n] = '\0';
        r->len[i] = reply->len;
    }
}

static bool conn_timer(void *owner, struct tw_timer *t)
{
    return redis_conn_on_timer(owner, t);
}

static void fx_open(const char *url, uint32_t pending_max, uint32_t command_timeout_ms)
{
    memset(&fx, 0, sizeof fx);
    assert_int_equal(storage_test_loop_init(&fx.t), 0);
    struct redis_conn_params p;
    redis_conn_params_defaults(&p);
    p.name = "test";
    p.url = url;
    p.pending_max = pending_max;
    p.command_timeout_ms = command_timeout_ms;
    p.connect_timeout_ms = 300;
    p.backoff_min_ms = 20;
    p.backoff_max_ms = 100;
    char err[REDIS_CONN_ERROR_BYTES];
    if (redis_conn_init(&fx.c, &fx.t.loop, STORAGE_TEST_TAG_REDIS, &p, &ops, &fx, &fx.m, err) != 0)
        fail_msg("redis_conn_init: %s", err);
    storage_test_loop_add(&fx.t, conn_timer, &fx.c);
}

static bool conn_idle(void *arg)
{
    return !redis_conn_busy(arg);
}

static void fx_close(void)
{
    redis_conn_close(&fx.c);
    assert_true(storage_test_loop_run(&fx.t, conn_idle, &fx.c, 2000));
    redis_conn_free(&fx.c);
    storage_test_loop_destroy(&fx.t);
}

static bool is_up(void *arg)
{
    return ((struct redis_conn *)arg)->state == REDIS_CONN_UP;
}

static bool is_down(void *arg)
{
    return ((struct redis_conn *)arg)->state == REDIS_CONN_DOWN;
}

static bool answered(void *arg)
{
    return fx.rec.count >= *(int *)arg;
}

static bool failures_reach(void *arg)
{
    return pg_metric_get(&fx.m.connect_failures) >= *(uint64_t *)arg;
}

static enum redis_refusal send_argv(intptr_t tag, int argc, const char *const *argv)
{
    size_t lens[8];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    return redis_conn_command(&fx.c, argc, argv, lens, on_reply, (void *)tag);
}

static enum redis_refusal send1(intptr_t tag, const char *a0, const char *a1, const char *a2)
{
    const char *argv[] = {a0, a1, a2};
    return send_argv(tag, a2 != NULL ? 3 : a1 != NULL ? 2 : 1, argv);
}

static void wait_answers(int total)
{
    if (!storage_test_loop_run(&fx.t, answered, &total, 5000))
        fail_msg("%d answers of %d", fx.rec.count, total);
}

static void assert_no_stall(void)
{
    if (fx.t.tick_late_ms_max > STALL_MS_MAX)
        fail_msg("the loop stalled for %llu ms", (unsigned long long)fx.t.tick_late_ms_max);
}

static void open_up(uint32_t pending_max, uint32_t command_timeout_ms)
{
    fx_open(harness.url, pending_max, command_timeout_ms);
    assert_true(storage_test_loop_run(&fx.t, is_up, &fx.c, 5000));
    assert_int_equal(fx.ups, 1);
}

static void test_commands_are_answered_in_order(void **state)
{
    (void)state;
    open_up(4096, 1000);
    assert_int_equal(send1(0, "DEL", "conn:n", NULL), REDIS_ACCEPTED);
    assert_int_equal(send1(1, "SET", "conn:k", "v1"), REDIS_ACCEPTED);
    assert_int_equal(send1(2, "GET", "conn:k", NULL), REDIS_ACCEPTED);
    for (intptr_t i = 0; i < 1000; i++)
        assert_int_equal(send1(100 + i, "INCR", "conn:n", NULL), REDIS_ACCEPTED);
    /* A command on the wrong type: an error reply, the link stays. */
    assert_int_equal(send1(3, "LPUSH", "conn:k", "x"), REDIS_ACCEPTED);
    /* Binary-safe arguments: a NUL inside a value. */
    const char *argv[] = {"SET", "conn:bin", "a\0b"};
    size_t lens[] = {3, 8, 3};
    assert_int_equal(redis_conn_command(&fx.c, 3, argv, lens, on_reply, (void *)4), REDIS_ACCEPTED);
    assert_int_equal(send1(5, "STRLEN", "conn:bin", NULL), REDIS_ACCEPTED);
    /* Never answered from inside redis_conn_command. */
    assert_int_equal(fx.rec.count, 0);
    wait_answers(1006);
    assert_int_equal(fx.rec.tag[0], 0);
    assert_int_equal(fx.rec.tag[1], 1);
    assert_string_equal(fx.rec.text[1], "OK");
    assert_int_equal(fx.rec.status[2], REDIS_STATUS_REPLY);
    assert_string_equal(fx.rec.text[2], "v1");
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(fx.rec.tag[3 + i], 100 + i);
        assert_int_equal(fx.rec.integer[3 + i], i + 1);
    }
    assert_int_equal(fx.rec.status[1003], REDIS_STATUS_ERROR);
    assert_non_null(strstr(fx.rec.text[1003], "WRONGTYPE"));
    assert_int_equal(fx.rec.status[1004], REDIS_STATUS_REPLY);
    assert_int_equal(fx.rec.integer[1005], 3);
    assert_int_equal(pg_metric_get(&fx.m.commands_total), 1006);
    assert_int_equal(pg_metric_get(&fx.m.replies_total), 1006);
    assert_int_equal(pg_metric_get(&fx.m.error_replies_total), 1);
    assert_int_equal(pg_metric_get(&fx.m.pending), 0);
    assert_int_equal(pg_metric_get(&fx.m.latency_us.count), 1006);
    assert_int_equal(fx.c.state, REDIS_CONN_UP);
    assert_int_equal(fx.downs, 0);
    assert_no_stall();
    fx_close();
}

static void test_waiting_commands_are_bounded(void **state)
{
    (void)state;
    open_up(8, 1000);
    for (intptr_t i = 0; i < 8; i++)
        assert_int_equal(send1(i, "PING", NULL, NULL), REDIS_ACCEPTED);
    assert_false(redis_conn_ready(&fx.c));
    assert_int_equal(send1(8, "PING", NULL, NULL), REDIS_REFUSED_FULL);
    assert_int_equal(pg_metric_get(&fx.m.refused_full_total), 1);
    assert_int_equal(pg_metric_get(&fx.m.pending), 8);
    wait_answers(8);
    assert_true(redis_conn_ready(&fx.c));
    assert_int_equal(send1(9, "PING", NULL, NULL), REDIS_ACCEPTED);
    wait_answers(9);
    assert_int_equal(fx.rec.tag[8], 9);
    fx_close();
}

static void test_refused_at_once_while_down_then_connects_by_itself(void **state)
{
    (void)state;
    assert_int_equal(redis_harness_kill(&harness), 0);
    fx_open(harness.url, 64, 1000);
    uint64_t failures = 3;
    assert_true(storage_test_loop_run(&fx.t, failures_reach, &failures, 5000));
    assert_int_equal(fx.downs, 3);
    assert_non_null(strstr(fx.last_down, "refused"));
    uint64_t before_ms = loop_clock_ms();
    for (int i = 0; i < 1000; i++)
        assert_int_equal(send1(i, "PING", NULL, NULL), REDIS_REFUSED_DOWN);
    assert_true(loop_clock_ms() - before_ms < STALL_MS_MAX);
    assert_int_equal(pg_metric_get(&fx.m.refused_down_total), 1000);
    assert_int_equal(pg_metric_get(&fx.m.commands_total), 0);
    assert_int_equal(fx.ups, 0);
    assert_int_equal(redis_harness_restart(&harness), 0);
    assert_true(storage_test_loop_run(&fx.t, is_up, &fx.c, 5000));
    assert_int_equal(fx.ups, 1);
    assert_int_equal(send1(7, "PING", NULL, NULL), REDIS_ACCEPTED);
    wait_answers(1);
    assert_string_equal(fx.rec.text[0], "PONG");
    assert_int_equal(pg_metric_get(&fx.m.connects_total), 1);
    assert_no_stall();
    fx_close();
}

static void test_server_killed_with_commands_in_flight(void **state)
{
    (void)state;
    open_up(4096, 2000);
    /* Stopped, the server takes the commands into its socket buffer and answers none. */
    assert_int_equal(redis_harness_pause(&harness), 0);
    for (intptr_t i = 0; i < 200; i++)
        assert_int_equal(send1(i, "INCR", "conn:killed", NULL), REDIS_ACCEPTED);
    storage_test_loop_spin(&fx.t, 50);
    assert_int_equal(fx.rec.count, 0);
    assert_int_equal(redis_harness_kill(&harness), 0);
    wait_answers(200);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(fx.rec.tag[i], i);
        assert_int_equal(fx.rec.status[i], REDIS_STATUS_UNAVAILABLE);
    }
    assert_int_equal(pg_metric_get(&fx.m.unavailable_total), 200);
    assert_int_equal(fx.downs, 1);
    assert_int_equal(pg_metric_get(&fx.m.disconnects_total), 1);
    assert_int_equal(send1(0, "PING", NULL, NULL), REDIS_REFUSED_DOWN);
    /* Reconnects by itself once the server is back, and serves again. */
    assert_int_equal(redis_harness_restart(&harness), 0);
    assert_true(storage_test_loop_run(&fx.t, is_up, &fx.c, 5000));
    assert_int_equal(send1(300, "INCR", "conn:killed", NULL), REDIS_ACCEPTED);
    wait_answers(201);
    assert_int_equal(fx.rec.status[200], REDIS_STATUS_REPLY);
    assert_int_equal(fx.rec.integer[200], 1); /* a fresh server: nothing was persisted */
    assert_no_stall();
    fx_close();
}

static void test_a_hung_server_times_out_and_is_reconnected(void **state)
{
    (void)state;
    open_up(4096, 300);
    assert_int_equal(redis_harness_pause(&harness), 0);
    uint64_t sent_ms = loop_clock_ms();
    for (intptr_t i = 0; i < 3; i++)
        assert_int_equal(send1(i, "PING", NULL, NULL), REDIS_ACCEPTED);
    wait_answers(3);
    uint64_t waited_ms = loop_clock_ms() - sent_ms;
    assert_true(waited_ms >= 300 && waited_ms < 1000);
    for (int i = 0; i < 3; i++)
        assert_int_equal(fx.rec.status[i], REDIS_STATUS_TIMEOUT);
    assert_int_equal(pg_metric_get(&fx.m.timeouts_total), 3);
    assert_non_null(strstr(fx.last_down, "command_timeout_ms=300"));
    /* The kernel still accepts connections for the stopped server; the handshake's PING is
     * never answered, so each attempt ends at connect_timeout_ms. */
    uint64_t failures = 2;
    assert_true(storage_test_loop_run(&fx.t, failures_reach, &failures, 5000));
    assert_non_null(strstr(fx.last_down, "no answer to the handshake"));
    assert_int_equal(send1(9, "PING", NULL, NULL), REDIS_REFUSED_DOWN);
    assert_int_equal(redis_harness_resume(&harness), 0);
    assert_true(storage_test_loop_run(&fx.t, is_up, &fx.c, 5000));
    assert_int_equal(send1(10, "PING", NULL, NULL), REDIS_ACCEPTED);
    wait_answers(4);
    assert_int_equal(fx.rec.status[3], REDIS_STATUS_REPLY);
    assert_no_stall();
    fx_close();
}

static void test_close_cancels_waiting_commands(void **state)
{
    (void)state;
    open_up(4096, 5000);
    assert_int_equal(redis_harness_pause(&harness), 0);
    for (intptr_t i = 0; i < 5; i++)
        assert_int_equal(send1(i, "PING", NULL, NULL), REDIS_ACCEPTED);
    storage_test_loop_spin(&fx.t, 20);
    redis_conn_close(&fx.c);
    /* Answered from the close itself, each once, no `down`. */
    assert_int_equal(fx.rec.count, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(fx.rec.status[i], REDIS_STATUS_CANCELLED);
    assert_int_equal(fx.downs, 0);
    assert_int_equal(fx.c.state, REDIS_CONN_CLOSED);
    assert_int_equal(send1(6, "PING", NULL, NULL), REDIS_REFUSED_DOWN);
    assert_int_equal(redis_harness_resume(&harness), 0);
    fx_close();
    assert_int_equal(fx.rec.count, 5);
}

static void test_auth_and_select(void **state)
{
    (void)state;
    struct redis_harness secured;
    const char *extra[] = {"--requirepass", "s3cret", NULL};
    assert_int_equal(redis_harness_start(&secured, extra), 0);
    char url[160];
    snprintf(url, sizeof url, "redis://:s3cret@127.0.0.1:%d/3", secured.port);
    fx_open(url, 64, 1000);
    assert_true(storage_test_loop_run(&fx.t, is_up, &fx.c, 5000));
    assert_int_equal(send1(0, "SET", "conn:db", "three"), REDIS_ACCEPTED);
    wait_answers(1);
    fx_close();
    redisContext *ctx = redis_harness_connect(&secured, "s3cret");
    assert_non_null(ctx);
    assert_int_equal(redis_harness_int(ctx, "EXISTS conn:db"), 0);
    redisReply *r = redisCommand(ctx, "SELECT 3");
    assert_true(r != NULL && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    assert_int_equal(redis_harness_int(ctx, "EXISTS conn:db"), 1);
    redisFree(ctx);

    /* A wrong password and a missing one: attempts fail and say why. */
    snprintf(url, sizeof url, "redis://:wrong@127.0.0.1:%d", secured.port);
    fx_open(url, 64, 1000);
    uint64_t failures = 1;
    assert_true(storage_test_loop_run(&fx.t, failures_reach, &failures, 5000));
    assert_non_null(strstr(fx.last_down, "Redis refused AUTH"));
    assert_int_equal(fx.ups, 0);
    fx_close();
    fx_open(secured.url, 64, 1000);
    assert_true(storage_test_loop_run(&fx.t, failures_reach, &failures, 5000));
    assert_non_null(strstr(fx.last_down, "NOAUTH"));
    fx_close();
    redis_harness_destroy(&secured);
}

static void test_a_unix_socket(void **state)
{
    (void)state;
    char url[200];
    snprintf(url, sizeof url, "unix:%s/redis.sock?db=2", harness.dir);
    fx_open(url, 64, 1000);
    assert_true(storage_test_loop_run(&fx.t, is_up, &fx.c, 5000));
    assert_int_equal(send1(0, "SET", "conn:unix", "1"), REDIS_ACCEPTED);
    assert_int_equal(send1(1, "DBSIZE", NULL, NULL), REDIS_ACCEPTED);
    wait_answers(2);
    assert_int_equal(fx.rec.integer[1], 1); /* db 2 holds only this key */
    /* The server killed: refused at once, then back by itself. */
    assert_int_equal(redis_harness_kill(&harness), 0);
    assert_true(storage_test_loop_run(&fx.t, is_down, &fx.c, 5000));
    assert_int_equal(send1(2, "PING", NULL, NULL), REDIS_REFUSED_DOWN);
    assert_int_equal(redis_harness_restart(&harness), 0);
    assert_true(storage_test_loop_run(&fx.t, is_up, &fx.c, 5000));
    assert_no_stall();
    fx_close();
}

static void test_bad_settings_are_refused(void **state)
{
    (void)state;
    struct storage_test_loop t;
    assert_int_equal(storage_test_loop_init(&t), 0);
    struct redis_conn c;
    struct redis_conn_metrics m;
    struct redis_conn_params p;
    char err[REDIS_CONN_ERROR_BYTES];
    redis_conn_params_defaults(&p);
    p.url = "redis://cache.internal:6379";
    assert_int_equal(redis_conn_init(&c, &t.loop, STORAGE_TEST_TAG_REDIS, &p, &ops, NULL, &m, err),
                     -1);
    assert_non_null(strstr(err, "not a name"));
    p.url = harness.url;
    p.pending_max = 0;
    assert_int_equal(redis_conn_init(&c, &t.loop, STORAGE_TEST_TAG_REDIS, &p, &ops, NULL, &m, err),
                     -1);
    assert_non_null(strstr(err, "pending_max"));
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

/* A test that failed with the server stopped or killed leaves it running for the next. */
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
        cmocka_unit_test_setup(test_commands_are_answered_in_order, server_running),
        cmocka_unit_test_setup(test_waiting_commands_are_bounded, server_running),
        cmocka_unit_test_setup(test_refused_at_once_while_down_then_connects_by_itself,
                               server_running),
        cmocka_unit_test_setup(test_server_killed_with_commands_in_flight, server_running),
        cmocka_unit_test_setup(test_a_hung_server_times_out_and_is_reconnected, server_running),
        cmocka_unit_test_setup(test_close_cancels_waiting_commands, server_running),
        cmocka_unit_test_setup(test_auth_and_select, server_running),
        cmocka_unit_test_setup(test_a_unix_socket, server_running),
        cmocka_unit_test_setup(test_bad_settings_are_refused, server_running),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
