/* The batch writer against a real PostgreSQL: many messages stored once each with their
 * bytes intact, a resend stored once, flushing by delay, a bad message rejected alone, the
 * queue's limits, a clean stop marking the run drained, and a schema that appears late. */
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
static char conninfo[256]; /* the migrated database */
/* Timestamps of every message set: a resent message is the same row only with the same
 * timestamp (it is part of the primary key), as it is when the owner resends. */
static uint64_t base_ms;

static int group_setup(void **state)
{
    (void)state;
    log_level_set(LOG_WARN);
    base_ms = (uint64_t)time(NULL) * 1000u;
    if (pg_harness_start(&harness, false) != 0 ||
        pg_harness_create_db(&harness, "writer", conninfo, sizeof conninfo) != 0)
        return -1;
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
};

static struct fixture fx;

static void start_writer(struct pg_writer_config *cfg, uint32_t count, uint32_t channels,
                         const char *epoch)
{
    assert_int_equal(storage_test_loop_init(&fx.t), 0);
    char err[PG_CONN_ERROR_BYTES];
    msg_set_init(&fx.set, count, channels, epoch, base_ms);
    if (cfg->conninfo == NULL)
        cfg->conninfo = conninfo;
    if (pg_writer_init(&fx.w, &fx.t.loop, STORAGE_TEST_TAG_PG, cfg, msg_set_done, &fx.set, err) !=
        0)
        fail_msg("pg_writer_init: %s", err);
    pg_test_loop_add_writer(&fx.t, &fx.w);
    fx.admin = PQconnectdb(cfg->conninfo);
    assert_int_equal(PQstatus(fx.admin), CONNECTION_OK);
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
    PQfinish(fx.admin);
    memset(&fx, 0, sizeof fx);
}

static void feed_turn(void *arg)
{
    (void)arg;
    msg_set_feed(&fx.set, &fx.w, fx.feed_per_turn);
}

static bool all_reported(void *arg)
{
    (void)arg;
    return fx.set.reported == fx.set.count;
}

static long long value(const char *sql)
{
    return pg_harness_value(fx.admin, sql);
}

static void test_hundred_thousand_messages_are_stored_once_each_with_their_bytes(void **state)
{
    (void)state;
    struct pg_writer_config cfg;
    pg_writer_config_defaults(&cfg);
    cfg.label = "test 100k";
    start_writer(&cfg, 100000, 50, "E100k");
    fx.feed_per_turn = 5000;
    fx.t.on_turn = feed_turn;
    assert_true(storage_test_loop_run(&fx.t, all_reported, NULL, 60000));
    assert_int_equal(fx.set.stored, 100000);
    assert_false(fx.set.out_of_order);
    assert_int_equal(value("SELECT count(*) FROM tidegate_history WHERE epoch = 'E100k'"), 100000);
    /* Offsets 1..2000 on each of the 50 channels, each once. */
    assert_int_equal(value("SELECT count(*) FROM (SELECT channel FROM tidegate_history"
                           " WHERE epoch = 'E100k' GROUP BY channel HAVING count(*) = 2000"
                           " AND min(msg_offset) = 1 AND max(msg_offset) = 2000"
                           " AND count(DISTINCT msg_offset) = 2000) c"),
                     50);
    /* Every field as sent: the JSON byte for byte, users, anonymous rows, timestamps. */
    PGresult *res = PQexec(fx.admin, "SELECT msg_offset, channel, data::text, user_id,"
                                     " (extract(epoch FROM published_at) * 1000)::bigint"
                                     " FROM tidegate_history WHERE epoch = 'E100k'");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(res), 100000);
    for (int r = 0; r < PQntuples(res); r++) {
        uint32_t channel = (uint32_t)strtoul(PQgetvalue(res, r, 1) + 5, NULL, 10);
        uint32_t i = (uint32_t)(strtoull(PQgetvalue(res, r, 0), NULL, 10) - 1) * 50 + channel;
        const struct pg_msg *m = &fx.set.msgs[i];
        uint32_t len;
        const char *data = msg_set_data(&fx.set, i, &len);
        assert_int_equal(PQgetlength(res, r, 2), len);
        assert_memory_equal(PQgetvalue(res, r, 2), data, len);
        if (m->user_id == NULL)
            assert_true(PQgetisnull(res, r, 3));
        else
            assert_string_equal(PQgetvalue(res, r, 3), m->user_id);
        assert_int_equal(strtoull(PQgetvalue(res, r, 4), NULL, 10), m->timestamp_ms);
    }
    PQclear(res);
    /* The channel state follows the newest message of each channel. */
    assert_int_equal(value("SELECT count(*) FROM tidegate_channel_state WHERE epoch = 'E100k'"
                           " AND last_offset = 2000"),
                     50);
    const struct pg_writer_metrics *m = &fx.w.metrics;
    assert_int_equal(pg_metric_get(&m->rows_inserted_total), 100000);
    assert_int_equal(pg_metric_get(&m->duplicates_total), 0);
    assert_int_equal(pg_metric_get(&m->stored_total), 100000);
    assert_int_equal(pg_metric_get(&m->queue_messages), 0);
    assert_int_equal(pg_metric_get(&m->batch_messages.count), pg_metric_get(&m->batches_total));
    assert_true(pg_metric_get(&m->batches_total) >= 100);
    stop_writer();
}

static void test_a_resent_batch_stores_each_message_once(void **state)
{
    (void)state;
    struct pg_writer_config cfg;
    pg_writer_config_defaults(&cfg);
    start_writer(&cfg, 3000, 3, "Eresend");
    fx.feed_per_turn = 3000;
    fx.t.on_turn = feed_turn;
    assert_true(storage_test_loop_run(&fx.t, all_reported, NULL, 30000));
    uint32_t first_batches = (uint32_t)pg_metric_get(&fx.w.metrics.batches_total);
    stop_writer();
    /* Another writer (a restarted gateway resending what it did not know was stored) sends
     * the same 3000 and 10 new ones. */
    pg_writer_config_defaults(&cfg);
    start_writer(&cfg, 3010, 3, "Eresend");
    fx.feed_per_turn = 3010;
    fx.t.on_turn = feed_turn;
    assert_true(storage_test_loop_run(&fx.t, all_reported, NULL, 30000));
    assert_int_equal(fx.set.stored, 3010);
    assert_int_equal(pg_metric_get(&fx.w.metrics.duplicates_total), 3000);
    assert_int_equal(pg_metric_get(&fx.w.metrics.rows_inserted_total), 10);
    assert_int_equal(value("SELECT count(*) FROM tidegate_history WHERE epoch = 'Eresend'"), 3010);
    assert_true(first_batches >= 3);
    stop_writer();
}

static bool writer_up(void *arg)
{
    (void)arg;
    return fx.w.ready;
}

static bool first_reported(void *arg)
{
    (void)arg;
    return fx.set.reported >= 1;
}

static void test_a_lone_message_is_flushed_after_the_delay(void **state)
{
    (void)state;
    struct pg_writer_config cfg;
    pg_writer_config_defaults(&cfg);
    cfg.flush_delay_ms = 30;
    start_writer(&cfg, 1, 1, "Edelay");
    assert_true(storage_test_loop_run(&fx.t, writer_up, NULL, 5000));
    uint64_t start_ms = loop_clock_ms();
    assert_int_equal(msg_set_feed(&fx.set, &fx.w, 1), 1);
    assert_true(storage_test_loop_run(&fx.t, first_reported, NULL, 5000));
    uint64_t took_ms = loop_clock_ms() - start_ms;
    assert_int_equal(fx.set.status[0], PG_MSG_STORED);
    assert_true(took_ms >= 30);
    assert_int_equal(pg_metric_get(&fx.w.metrics.batch_messages.buckets[0]), 1); /* size 1 */
    stop_writer();
}

static void test_a_bad_message_is_rejected_alone(void **state)
{
    (void)state;
    struct pg_writer_config cfg;
    pg_writer_config_defaults(&cfg);
    start_writer(&cfg, 10, 1, "Ebad");
    /* Message 4's data is not JSON (the gateway never sends that, but a bug might): the
     * database refuses the batch, the writer retries message by message. */
    static const char broken[] = "{\"unterminated\": ";
    fx.set.msgs[4].data = broken;
    fx.set.msgs[4].data_len = sizeof broken - 1;
    assert_int_equal(msg_set_feed(&fx.set, &fx.w, 10), 10);
    assert_true(storage_test_loop_run(&fx.t, all_reported, NULL, 10000));
    for (uint32_t i = 0; i < 10; i++)
        assert_int_equal(fx.set.status[i], i == 4 ? PG_MSG_REJECTED : PG_MSG_STORED);
    assert_false(fx.set.out_of_order);
    assert_int_equal(value("SELECT count(*) FROM tidegate_history WHERE epoch = 'Ebad'"), 9);
    assert_int_equal(pg_metric_get(&fx.w.metrics.rejected_total), 1);
    stop_writer();
}

static void stopped_cb(void *ctx, bool drained)
{
    int *out = ctx;
    *out = drained ? 1 : 0;
}

static bool stop_reported(void *arg)
{
    return *(int *)arg >= 0;
}

static void test_the_queue_refuses_past_its_limits(void **state)
{
    (void)state;
    struct pg_writer_config cfg;
    pg_writer_config_defaults(&cfg);
    cfg.batch_messages_max = 10;
    cfg.queue_messages_max = 20;
    start_writer(&cfg, 30, 1, "Efull");
    /* Nothing runs the loop: the queue only fills. */
    assert_int_equal(msg_set_feed(&fx.set, &fx.w, 30), 20);
    assert_int_equal(fx.set.refused, 1);
    assert_false(pg_writer_has_room(&fx.w, 1));
    assert_int_equal(pg_metric_get(&fx.w.metrics.refused_full_total), 1);
    assert_int_equal(pg_metric_get(&fx.w.metrics.queue_messages), 20);
    assert_int_equal(fx.set.reported, 0); /* never a callback from inside enqueue */
    /* Once stored, there is room again; a run that refused cannot claim it drained. */
    fx.set.count = 20;
    assert_true(storage_test_loop_run(&fx.t, all_reported, NULL, 10000));
    assert_true(pg_writer_has_room(&fx.w, 1));
    int drained = -1;
    pg_writer_stop(&fx.w, stopped_cb, &drained);
    assert_int_equal(pg_writer_enqueue(&fx.w, &fx.set.msgs[0], (void *)1), PG_ENQUEUE_STOPPING);
    assert_true(storage_test_loop_run(&fx.t, stop_reported, &drained, 5000));
    assert_int_equal(drained, 0);
    fx.set.count = 30;
    stop_writer();
}

static void test_bytes_limit_counts_every_field(void **state)
{
    (void)state;
    struct pg_writer_config cfg;
    pg_writer_config_defaults(&cfg);
    cfg.batch_bytes_max = 1024;
    cfg.queue_bytes_max = 1024;
    start_writer(&cfg, 100, 1, "Ebytes");
    uint64_t bytes = 0;
    uint32_t fits = 0;
    while (bytes + pg_msg_bytes(&fx.set.msgs[fits]) <= 1024)
        bytes += pg_msg_bytes(&fx.set.msgs[fits++]);
    assert_int_equal(msg_set_feed(&fx.set, &fx.w, 100), fits);
    assert_int_equal(pg_metric_get(&fx.w.metrics.queue_bytes), bytes);
    fx.set.count = fits;
    assert_true(storage_test_loop_run(&fx.t, all_reported, NULL, 10000));
    assert_int_equal(fx.set.stored, fits);
    fx.set.count = 100;
    stop_writer();
}

static void test_a_clean_stop_marks_the_run_drained(void **state)
{
    (void)state;
    struct pg_writer_config cfg;
    pg_writer_config_defaults(&cfg);
    cfg.flush_delay_ms = 1000; /* the stop must not wait for it */
    cfg.label = "drain test";
    start_writer(&cfg, 50, 2, "Edrain");
    assert_int_equal(msg_set_feed(&fx.set, &fx.w, 50), 50);
    int drained = -1;
    pg_writer_stop(&fx.w, stopped_cb, &drained);
    assert_true(storage_test_loop_run(&fx.t, stop_reported, &drained, 5000));
    assert_int_equal(drained, 1);
    assert_int_equal(fx.set.stored, 50);
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM tidegate_writer_runs WHERE run_id = %llu AND label ="
             " 'drain test' AND drained_at IS NOT NULL",
             (unsigned long long)fx.w.run_id);
    assert_int_equal(value(sql), 1);
    stop_writer();
}

static bool connected_at_least(void *arg)
{
    return pg_metric_get(&fx.w.metrics.conn.connects_total) >= *(uint64_t *)arg;
}

static void test_a_schema_applied_late_is_picked_up(void **state)
{
    (void)state;
    char late[256];
    assert_int_equal(pg_harness_create_db(&harness, "late", late, sizeof late), 0);
    struct pg_writer_config cfg;
    pg_writer_config_defaults(&cfg);
    cfg.conninfo = late;
    cfg.backoff_min_ms = 20;
    cfg.backoff_max_ms = 200;
    start_writer(&cfg, 5, 1, "Elate");
    assert_int_equal(msg_set_feed(&fx.set, &fx.w, 5), 5);
    /* The setup is refused (no tables), the link dropped and made again, and again. */
    uint64_t links = 3;
    assert_true(storage_test_loop_run(&fx.t, connected_at_least, &links, 10000));
    assert_int_equal(fx.set.reported, 0);
    struct migrate_report report;
    char err[MIGRATE_ERROR_BYTES];
    assert_int_equal(storage_migrate(late, &report, err), 0);
    assert_true(storage_test_loop_run(&fx.t, all_reported, NULL, 10000));
    assert_int_equal(fx.set.stored, 5);
    stop_writer();
}

static void test_bad_configuration_is_a_sentence(void **state)
{
    (void)state;
    struct storage_test_loop t;
    assert_int_equal(storage_test_loop_init(&t), 0);
    struct pg_writer w;
    struct pg_writer_config cfg;
    char err[PG_CONN_ERROR_BYTES];
    pg_writer_config_defaults(&cfg);
    cfg.conninfo = conninfo;
    cfg.batch_messages_max = 0;
    assert_int_equal(
        pg_writer_init(&w, &t.loop, STORAGE_TEST_TAG_PG, &cfg, msg_set_done, NULL, err), -1);
    assert_non_null(strstr(err, "batch_messages_max"));
    pg_writer_config_defaults(&cfg);
    cfg.conninfo = "host=127.0.0.1 bogus_keyword=1";
    assert_int_equal(
        pg_writer_init(&w, &t.loop, STORAGE_TEST_TAG_PG, &cfg, msg_set_done, NULL, err), -1);
    assert_non_null(strstr(err, "bogus_keyword"));
    storage_test_loop_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hundred_thousand_messages_are_stored_once_each_with_their_bytes),
        cmocka_unit_test(test_a_resent_batch_stores_each_message_once),
        cmocka_unit_test(test_a_lone_message_is_flushed_after_the_delay),
        cmocka_unit_test(test_a_bad_message_is_rejected_alone),
        cmocka_unit_test(test_the_queue_refuses_past_its_limits),
        cmocka_unit_test(test_bytes_limit_counts_every_field),
        cmocka_unit_test(test_a_clean_stop_marks_the_run_drained),
        cmocka_unit_test(test_a_schema_applied_late_is_picked_up),
        cmocka_unit_test(test_bad_configuration_is_a_sentence),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
