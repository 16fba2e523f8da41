/* The batch writer when PostgreSQL fails under it: its connection killed mid-stream
 * (pg_terminate_backend) and the whole server stopped and started again. What must hold:
 * every message reported stored is in the table exactly once, whenever one looks; nothing
 * is lost; a full queue refuses; everything recovers by itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/log.h"
#include "pg_harness.h"
#include "pg_test_loop.h"
#include "pg_test_msgs.h"
#include "storage/migrate.h"

static struct pg_harness harness;
static char plain[256];    /* the test's own connections */
static char conninfo[384]; /* the writer's: named, so that it can be found and killed */

static int group_setup(void **state)
{
    (void)state;
    log_level_set(LOG_ERROR); /* the reconnect warnings are the point here, not noise */
    if (pg_harness_start(&harness, false) != 0 ||
        pg_harness_create_db(&harness, "faults", plain, sizeof plain) != 0)
        return -1;
    snprintf(conninfo, sizeof conninfo, "%s application_name=tidegate_fault_writer", plain);
    struct migrate_report report;
    char err[MIGRATE_ERROR_BYTES];
    if (storage_migrate(conninfo, &report, err) != 0) {
        fprintf(stderr, "migrate: %s\n", err);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    pg_harness_destroy(&harness);
    return 0;
}

struct fixture {
    struct storage_test_loop t;
    struct pg_writer w;
    struct msg_set set;
    PGconn *admin;
    uint32_t feed_per_turn;
    uint32_t kill_every;   /* terminate the writer's backend each time this many more are stored */
    uint32_t next_kill_at; /* stored count that triggers the next kill */
    uint32_t kills;
    uint32_t checks;
};

static struct fixture fx;

static void start_writer(const struct pg_writer_config *cfg, uint32_t count, const char *epoch)
{
    assert_int_equal(storage_test_loop_init(&fx.t), 0);
    msg_set_init(&fx.set, count, 1, epoch, (uint64_t)time(NULL) * 1000u);
    char err[PG_CONN_ERROR_BYTES];
    if (pg_writer_init(&fx.w, &fx.t.loop, STORAGE_TEST_TAG_PG, cfg, msg_set_done, &fx.set, err) !=
        0)
        fail_msg("pg_writer_init: %s", err);
    pg_test_loop_add_writer(&fx.t, &fx.w);
}

static bool writer_idle(void *arg)
{
    (void)arg;
    return !pg_conn_busy(&fx.w.conn);
}

static void stop_writer(void)
{
    pg_writer_destroy(&fx.w);
    assert_true(storage_test_loop_run(&fx.t, writer_idle, NULL, 5000));
    storage_test_loop_destroy(&fx.t);
    msg_set_free(&fx.set);
    if (fx.admin != NULL)
        PQfinish(fx.admin);
    memset(&fx, 0, sizeof fx);
}

static PGconn *admin(void)
{
    if (fx.admin == NULL || PQstatus(fx.admin) != CONNECTION_OK) {
        if (fx.admin != NULL)
            PQfinish(fx.admin);
        fx.admin = PQconnectdb(plain);
    }
    assert_int_equal(PQstatus(fx.admin), CONNECTION_OK);
    return fx.admin;
}

/* What was reported stored is a prefix (callbacks come in order): messages 0..stored-1,
 * offsets 1..stored of channel room:0. All of them must be in the table now, once. */
static void check_reported_are_stored(const char *epoch)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM tidegate_history WHERE channel = 'room:0' AND epoch = '%s'"
             " AND msg_offset <= %u",
             epoch, fx.set.stored);
    assert_int_equal(pg_harness_value(admin(), sql), fx.set.stored);
    fx.checks++;
}

static void feed_and_kill(void *arg)
{
    const char *epoch = arg;
    msg_set_feed(&fx.set, &fx.w, fx.feed_per_turn);
    if (fx.kill_every == 0 || fx.set.stored < fx.next_kill_at)
        return;
    fx.next_kill_at += fx.kill_every;
    check_reported_are_stored(epoch);
    long long killed =
        pg_harness_value(admin(), "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                                  " WHERE application_name = 'tidegate_fault_writer'");
    assert_true(killed >= 0);
    fx.kills += (uint32_t)killed;
}

static bool all_reported(void *arg)
{
    (void)arg;
    return fx.set.reported == fx.set.count;
}

static void test_killed_connection_mid_stream_loses_and_doubles_nothing(void **state)
{
    (void)state;
    struct pg_writer_config cfg;
    pg_writer_config_defaults(&cfg);
    cfg.conninfo = conninfo;
    cfg.backoff_min_ms = 10;
    cfg.backoff_max_ms = 100;
    start_writer(&cfg, 100000, "Ekill");
    fx.feed_per_turn = 2000;
    fx.kill_every = 12000;
    fx.next_kill_at = 12000;
    fx.t.on_turn = feed_and_kill;
    fx.t.on_turn_arg = "Ekill";
    assert_true(storage_test_loop_run(&fx.t, all_reported, NULL, 90000));
    assert_int_equal(fx.set.stored, 100000);
    assert_false(fx.set.out_of_order);
    check_reported_are_stored("Ekill");
    /* Exactly once: 100000 rows, offsets 1..100000 without holes. */
    assert_int_equal(pg_harness_value(admin(), "SELECT count(*) FROM tidegate_history"
                                               " WHERE epoch = 'Ekill'"),
                     100000);
    assert_int_equal(pg_harness_value(admin(), "SELECT count(DISTINCT msg_offset) FROM"
                                               " tidegate_history WHERE epoch = 'Ekill'"
                                               " AND msg_offset BETWEEN 1 AND 100000"),
                     100000);
    const struct pg_writer_metrics *m = &fx.w.metrics;
    assert_true(fx.kills >= 5);
    assert_true(pg_metric_get(&m->conn.disconnects_total) >= 5);
    assert_int_equal(pg_metric_get(&m->rows_inserted_total) + pg_metric_get(&m->duplicates_total),
                     100000);
    assert_int_equal(pg_metric_get(&m->rows_inserted_total), 100000);
    print_message("%u kills, %u checks, %llu batch attempts failed and were resent, %llu rows"
                  " found already stored\n",
                  fx.kills, fx.checks, (unsigned long long)pg_metric_get(&m->batch_errors_total),
                  (unsigned long long)pg_metric_get(&m->duplicates_total));
    stop_writer();
}

static bool stored_at_least(void *arg)
{
    return fx.set.stored >= *(uint32_t *)arg;
}

static bool link_down(void *arg)
{
    (void)arg;
    return !pg_conn_is_up(&fx.w.conn);
}

static bool failed_attempts_at_least(void *arg)
{
    return pg_metric_get(&fx.w.metrics.conn.connect_failures) >= *(uint64_t *)arg;
}

static void test_stopped_database_fills_the_queue_then_everything_recovers(void **state)
{
    (void)state;
    struct pg_writer_config cfg;
    pg_writer_config_defaults(&cfg);
    cfg.conninfo = conninfo;
    cfg.batch_messages_max = 500;
    cfg.queue_messages_max = 5000;
    cfg.backoff_min_ms = 50;
    cfg.backoff_max_ms = 400;
    cfg.connect_timeout_ms = 2000;
    start_writer(&cfg, 12000, "Estop");
    /* Normal operation first. */
    uint32_t first = 1000;
    assert_int_equal(msg_set_feed(&fx.set, &fx.w, first), first);
    assert_true(storage_test_loop_run(&fx.t, stored_at_least, &first, 10000));
    /* The database goes away: the writer notices, the queue fills, then refuses. */
    assert_int_equal(pg_harness_server_stop(&harness), 0);
    assert_true(storage_test_loop_run(&fx.t, link_down, NULL, 5000));
    assert_int_equal(msg_set_feed(&fx.set, &fx.w, 10000), 5000);
    assert_int_equal(fx.set.refused, 1);
    assert_int_equal(msg_set_feed(&fx.set, &fx.w, 10), 0);
    assert_int_equal(fx.set.refused, 2);
    /* It keeps trying (and failing) while nothing is claimed stored. */
    uint64_t attempts = 3;
    assert_true(storage_test_loop_run(&fx.t, failed_attempts_at_least, &attempts, 10000));
    assert_int_equal(fx.set.stored, first);
    assert_int_equal(fx.set.reported, first);
    assert_false(pg_writer_has_room(&fx.w, 1));
    const struct pg_writer_metrics *m = &fx.w.metrics;
    assert_int_equal(pg_metric_get(&m->refused_full_total), 2);
    assert_int_equal(pg_metric_get(&m->conn.state), PG_CONN_DOWN);
    /* It comes back: the queue drains by itself and new messages are taken again. */
    assert_int_equal(pg_harness_server_start(&harness), 0);
    uint32_t queued = first + 5000;
    assert_true(storage_test_loop_run(&fx.t, stored_at_least, &queued, 20000));
    assert_true(pg_writer_has_room(&fx.w, 1));
    fx.set.count = queued + 3000;
    assert_int_equal(msg_set_feed(&fx.set, &fx.w, 3000), 3000);
    assert_true(storage_test_loop_run(&fx.t, all_reported, NULL, 20000));
    assert_int_equal(fx.set.stored, queued + 3000);
    assert_int_equal(pg_harness_value(admin(), "SELECT count(*) FROM tidegate_history"
                                               " WHERE epoch = 'Estop'"),
                     queued + 3000);
    assert_int_equal(pg_metric_get(&m->conn.state), PG_CONN_UP);
    fx.set.count = 12000;
    stop_writer();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_killed_connection_mid_stream_loses_and_doubles_nothing),
        cmocka_unit_test(test_stopped_database_fills_the_queue_then_everything_recovers),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
