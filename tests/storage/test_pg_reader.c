/* Reads against a real PostgreSQL: history pages both ways with `more` and exact bytes,
 * the resume state a restart continues from (and the claim that makes it safe), slow
 * queries answered by a timeout, and a database that is away. */
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

enum { STORED = 250 };

static struct pg_harness harness;
static char conninfo[256];
static struct msg_set stored_set; /* STORED messages on room:0, epoch "Eread" */
static uint64_t writer_run_id;

struct fixture {
    struct storage_test_loop t;
    struct pg_reader r;
    /* the last answer */
    int answers;
    enum pg_read_status status;
    uint64_t offsets[200];
    uint32_t count;
    bool more;
    bool mismatch; /* a row's bytes differ from what was stored */
    struct pg_resume_state resume;
    char resume_epoch[64];
};

static struct fixture fx;

static bool all_reported(void *arg)
{
    struct msg_set *s = arg;
    return s->reported == s->count;
}

static void stopped_cb(void *ctx, bool drained)
{
    *(int *)ctx = drained ? 1 : 0;
}

static bool stop_reported(void *arg)
{
    return *(int *)arg >= 0;
}

static bool conn_idle(void *arg)
{
    return !pg_conn_busy(arg);
}

/* Stores STORED messages with a writer that does not stop (its run is not drained). */
static int store_history(void)
{
    struct storage_test_loop t;
    struct pg_writer w;
    struct pg_writer_config cfg;
    char err[PG_CONN_ERROR_BYTES];
    if (storage_test_loop_init(&t) != 0)
        return -1;
    pg_writer_config_defaults(&cfg);
    cfg.conninfo = conninfo;
    msg_set_init(&stored_set, STORED, 1, "Eread", (uint64_t)time(NULL) * 1000u);
    if (pg_writer_init(&w, &t.loop, STORAGE_TEST_TAG_PG, &cfg, msg_set_done, &stored_set, err) != 0)
        return -1;
    pg_test_loop_add_writer(&t, &w);
    msg_set_feed(&stored_set, &w, STORED);
    bool ok =
        storage_test_loop_run(&t, all_reported, &stored_set, 10000) && stored_set.stored == STORED;
    writer_run_id = w.run_id;
    pg_writer_destroy(&w);
    storage_test_loop_run(&t, conn_idle, &w.conn, 5000);
    storage_test_loop_destroy(&t);
    return ok ? 0 : -1;
}

static int group_setup(void **state)
{
    (void)state;
    log_level_set(LOG_ERROR);
    struct migrate_report report;
    char err[MIGRATE_ERROR_BYTES];
    if (pg_harness_start(&harness, false) != 0 ||
        pg_harness_create_db(&harness, "reader", conninfo, sizeof conninfo) != 0 ||
        storage_migrate(conninfo, &report, err) != 0)
        return -1;
    return store_history();
}

static int group_teardown(void **state)
{
    (void)state;
    msg_set_free(&stored_set);
    pg_harness_destroy(&harness);
    return 0;
}

static void start_reader(struct pg_reader_config *cfg)
{
    memset(&fx, 0, sizeof fx);
    assert_int_equal(storage_test_loop_init(&fx.t), 0);
    if (cfg->conninfo == NULL)
        cfg->conninfo = conninfo;
    char err[PG_CONN_ERROR_BYTES];
    if (pg_reader_init(&fx.r, &fx.t.loop, STORAGE_TEST_TAG_PG, cfg, err) != 0)
        fail_msg("pg_reader_init: %s", err);
    pg_test_loop_add_reader(&fx.t, &fx.r);
}

static void stop_reader(void)
{
    pg_reader_destroy(&fx.r);
    assert_true(storage_test_loop_run(&fx.t, conn_idle, &fx.r.conn, 5000));
    storage_test_loop_destroy(&fx.t);
}

static void on_page(void *cookie, enum pg_read_status status, const struct pg_history_row *rows,
                    uint32_t count, bool more)
{
    (void)cookie;
    fx.answers++;
    fx.status = status;
    fx.count = count;
    fx.more = more;
    for (uint32_t i = 0; i < count && i < 200; i++) {
        fx.offsets[i] = rows[i].offset;
        if (rows[i].offset < 1 || rows[i].offset > STORED) {
            fx.mismatch = true;
            continue;
        }
        const struct pg_msg *m = &stored_set.msgs[rows[i].offset - 1];
        if (rows[i].data_len != m->data_len || memcmp(rows[i].data, m->data, m->data_len) != 0 ||
            rows[i].timestamp_ms != m->timestamp_ms ||
            (m->user_id == NULL) != (rows[i].user_id == NULL) ||
            (m->user_id != NULL && (rows[i].user_id_len != m->user_id_len ||
                                    memcmp(rows[i].user_id, m->user_id, m->user_id_len) != 0)))
            fx.mismatch = true;
    }
}

static bool answered(void *arg)
{
    return fx.answers >= *(int *)arg;
}

/* One page, waited for. */
static void page(const char *epoch, uint64_t from, uint64_t to, enum pg_direction dir,
                 uint32_t limit)
{
    struct pg_history_query q = {
        .channel = "room:0",
        .channel_len = 6,
        .epoch = epoch,
        .epoch_len = (uint32_t)strlen(epoch),
        .from_offset = from,
        .to_offset = to,
        .direction = dir,
        .limit = limit,
    };
    int want = fx.answers + 1;
    assert_int_equal(pg_reader_history(&fx.r, &q, on_page, NULL), 0);
    assert_true(storage_test_loop_run(&fx.t, answered, &want, 10000));
    assert_int_equal(fx.status, PG_READ_OK);
    assert_false(fx.mismatch);
}

static void assert_offsets(uint64_t first, int step, uint32_t count, bool more)
{
    assert_int_equal(fx.count, count);
    assert_int_equal(fx.more, more);
    for (uint32_t i = 0; i < count; i++)
        assert_int_equal(fx.offsets[i], first + (int64_t)step * i);
}

static void test_history_pages_forward_and_backward(void **state)
{
    (void)state;
    struct pg_reader_config cfg;
    pg_reader_config_defaults(&cfg);
    start_reader(&cfg);
    page("Eread", 1, INT64_MAX, PG_FORWARD, 100);
    assert_offsets(1, 1, 100, true);
    page("Eread", 101, INT64_MAX, PG_FORWARD, 100);
    assert_offsets(101, 1, 100, true);
    page("Eread", 201, INT64_MAX, PG_FORWARD, 100);
    assert_offsets(201, 1, 50, false);
    page("Eread", 1, STORED, PG_BACKWARD, 100);
    assert_offsets(STORED, -1, 100, true);
    page("Eread", 1, 50, PG_BACKWARD, 100);
    assert_offsets(50, -1, 50, false);
    /* A range that stops short of what is stored (the ring holds the rest). */
    page("Eread", 10, 20, PG_FORWARD, 100);
    assert_offsets(10, 1, 11, false);
    page("Eread", 10, 20, PG_FORWARD, 5);
    assert_offsets(10, 1, 5, true);
    page("Eread", 10, 20, PG_FORWARD, 11);
    assert_offsets(10, 1, 11, false);
    /* Another epoch of the same channel has nothing. */
    page("Eother", 1, INT64_MAX, PG_FORWARD, 100);
    assert_offsets(0, 0, 0, false);
    assert_int_equal(pg_metric_get(&fx.r.metrics.rows_read_total),
                     100 + 100 + 50 + 100 + 50 + 11 + 5 + 11);
    stop_reader();
}

static void test_requests_out_of_limits_are_refused(void **state)
{
    (void)state;
    struct pg_reader_config cfg;
    pg_reader_config_defaults(&cfg);
    cfg.page_rows_max = 100;
    start_reader(&cfg);
    struct pg_history_query q = {.channel = "room:0",
                                 .channel_len = 6,
                                 .epoch = "Eread",
                                 .epoch_len = 5,
                                 .from_offset = 1,
                                 .to_offset = 10,
                                 .direction = PG_FORWARD,
                                 .limit = 0};
    assert_int_equal(pg_reader_history(&fx.r, &q, on_page, NULL), -1);
    q.limit = 101;
    assert_int_equal(pg_reader_history(&fx.r, &q, on_page, NULL), -1);
    q.limit = 10;
    q.epoch_len = 0;
    assert_int_equal(pg_reader_history(&fx.r, &q, on_page, NULL), -1);
    assert_int_equal(pg_metric_get(&fx.r.metrics.refused_total), 3);
    assert_int_equal(fx.answers, 0);
    stop_reader();
}

static void on_resume(void *cookie, enum pg_read_status status, const struct pg_resume_state *st)
{
    (void)cookie;
    fx.answers++;
    fx.status = status;
    fx.resume = *st;
    snprintf(fx.resume_epoch, sizeof fx.resume_epoch, "%.*s", (int)st->epoch_len,
             st->epoch != NULL ? st->epoch : "");
    fx.resume.epoch = NULL;
}

static void resume(const char *channel, uint64_t run_id)
{
    int want = fx.answers + 1;
    assert_int_equal(
        pg_reader_resume(&fx.r, channel, (uint32_t)strlen(channel), run_id, on_resume, NULL), 0);
    assert_true(storage_test_loop_run(&fx.t, answered, &want, 10000));
    assert_int_equal(fx.status, PG_READ_OK);
}

/* A run that writes a few messages to `channel` and stops cleanly; returns its run id. */
static uint64_t drained_run(const char *epoch, uint32_t count)
{
    struct pg_writer w;
    struct pg_writer_config cfg;
    struct msg_set set;
    char err[PG_CONN_ERROR_BYTES];
    pg_writer_config_defaults(&cfg);
    cfg.conninfo = conninfo;
    msg_set_init(&set, count, 1, epoch, (uint64_t)time(NULL) * 1000u + 5000);
    assert_int_equal(
        pg_writer_init(&w, &fx.t.loop, STORAGE_TEST_TAG_PG, &cfg, msg_set_done, &set, err), 0);
    pg_test_loop_add_writer(&fx.t, &w);
    msg_set_feed(&set, &w, count);
    int drained = -1;
    pg_writer_stop(&w, stopped_cb, &drained);
    assert_true(storage_test_loop_run(&fx.t, stop_reported, &drained, 10000));
    assert_int_equal(drained, 1);
    uint64_t run = w.run_id;
    pg_writer_destroy(&w);
    assert_true(storage_test_loop_run(&fx.t, conn_idle, &w.conn, 5000));
    storage_test_loop_remove(&fx.t, &w);
    msg_set_free(&set);
    return run;
}

static void test_resume_tells_where_the_stream_stands_and_claims_it(void **state)
{
    (void)state;
    struct pg_reader_config cfg;
    pg_reader_config_defaults(&cfg);
    start_reader(&cfg);
    /* Nothing stored for this channel. */
    resume("room:none", 42);
    assert_false(fx.resume.found);
    /* room:0 was written by a run that never stopped cleanly: the stream may be short. */
    resume("room:0", 1001);
    assert_true(fx.resume.found);
    assert_string_equal(fx.resume_epoch, "Eread");
    assert_int_equal(fx.resume.last_offset, STORED);
    assert_int_equal(fx.resume.last_timestamp_ms, stored_set.msgs[STORED - 1].timestamp_ms);
    assert_false(fx.resume.drained);
    /* A run that stops cleanly continues room:0 in a new epoch "Enext" (offsets 1..7). */
    uint64_t run = drained_run("Enext", 7);
    assert_true(run != writer_run_id);
    resume("room:0", 2002);
    assert_true(fx.resume.found);
    assert_string_equal(fx.resume_epoch, "Enext");
    assert_int_equal(fx.resume.last_offset, 7);
    assert_true(fx.resume.drained);
    /* That resume claimed room:0 for run 2002, which has not drained: the next owner must
     * not trust the stored stream to be complete. */
    resume("room:0", 3003);
    assert_true(fx.resume.found);
    assert_false(fx.resume.drained);
    stop_reader();
}

static void test_a_slow_read_times_out_and_the_next_one_works(void **state)
{
    (void)state;
    struct pg_reader_config cfg;
    pg_reader_config_defaults(&cfg);
    cfg.request_timeout_ms = 300;
    start_reader(&cfg);
    page("Eread", 1, 10, PG_FORWARD, 10); /* the link is up and prepared */
    PGconn *locker = PQconnectdb(conninfo);
    assert_int_equal(PQstatus(locker), CONNECTION_OK);
    assert_int_equal(pg_harness_exec(locker, "BEGIN"), 0);
    assert_int_equal(pg_harness_exec(locker, "LOCK TABLE tidegate_history IN ACCESS EXCLUSIVE"
                                             " MODE"),
                     0);
    struct pg_history_query q = {.channel = "room:0",
                                 .channel_len = 6,
                                 .epoch = "Eread",
                                 .epoch_len = 5,
                                 .from_offset = 1,
                                 .to_offset = 10,
                                 .direction = PG_FORWARD,
                                 .limit = 10};
    int want = fx.answers + 1;
    uint64_t start_ms = loop_clock_ms();
    assert_int_equal(pg_reader_history(&fx.r, &q, on_page, NULL), 0);
    assert_true(storage_test_loop_run(&fx.t, answered, &want, 5000));
    assert_int_equal(fx.status, PG_READ_TIMEOUT);
    assert_true(loop_clock_ms() - start_ms >= 300);
    assert_int_equal(pg_harness_exec(locker, "COMMIT"), 0);
    PQfinish(locker);
    /* The late answer of the timed-out read is swallowed; the next read gets its own. */
    page("Eread", 11, 20, PG_FORWARD, 10);
    assert_offsets(11, 1, 10, false);
    assert_int_equal(fx.answers, want + 1);
    assert_int_equal(pg_metric_get(&fx.r.metrics.failed_total), 1);
    stop_reader();
}

static void test_too_many_waiting_requests_are_refused(void **state)
{
    (void)state;
    struct pg_reader_config cfg;
    pg_reader_config_defaults(&cfg);
    cfg.requests_max = 2;
    start_reader(&cfg);
    struct pg_history_query q = {.channel = "room:0",
                                 .channel_len = 6,
                                 .epoch = "Eread",
                                 .epoch_len = 5,
                                 .from_offset = 1,
                                 .to_offset = 10,
                                 .direction = PG_FORWARD,
                                 .limit = 10};
    assert_int_equal(pg_reader_history(&fx.r, &q, on_page, NULL), 0);
    assert_int_equal(pg_reader_history(&fx.r, &q, on_page, NULL), 0);
    assert_int_equal(pg_reader_history(&fx.r, &q, on_page, NULL), -1);
    int want = 2;
    assert_true(storage_test_loop_run(&fx.t, answered, &want, 10000));
    assert_int_equal(fx.status, PG_READ_OK);
    assert_int_equal(pg_reader_history(&fx.r, &q, on_page, NULL), 0);
    want = 3;
    assert_true(storage_test_loop_run(&fx.t, answered, &want, 10000));
    stop_reader();
}

static bool reader_down(void *arg)
{
    (void)arg;
    return fx.r.conn.state == PG_CONN_DOWN;
}

static bool reader_ready(void *arg)
{
    (void)arg;
    return fx.r.ready;
}

static void test_an_absent_database_is_refused_at_once_then_served_again(void **state)
{
    (void)state;
    struct pg_reader_config cfg;
    pg_reader_config_defaults(&cfg);
    cfg.backoff_min_ms = 50;
    cfg.backoff_max_ms = 200;
    start_reader(&cfg);
    assert_true(storage_test_loop_run(&fx.t, reader_ready, NULL, 5000));
    struct pg_history_query q = {.channel = "room:0",
                                 .channel_len = 6,
                                 .epoch = "Eread",
                                 .epoch_len = 5,
                                 .from_offset = 1,
                                 .to_offset = 10,
                                 .direction = PG_FORWARD,
                                 .limit = 10};
    assert_int_equal(pg_harness_server_stop(&harness), 0);
    /* A request sent as the server goes away is answered UNAVAILABLE, not left hanging. */
    int want = fx.answers + 1;
    if (pg_reader_history(&fx.r, &q, on_page, NULL) == 0) {
        assert_true(storage_test_loop_run(&fx.t, answered, &want, 5000));
        assert_int_equal(fx.status, PG_READ_UNAVAILABLE);
    }
    assert_true(storage_test_loop_run(&fx.t, reader_down, NULL, 5000));
    assert_int_equal(pg_reader_history(&fx.r, &q, on_page, NULL), -1);
    assert_int_equal(pg_harness_server_start(&harness), 0);
    assert_true(storage_test_loop_run(&fx.t, reader_ready, NULL, 10000));
    page("Eread", 1, 10, PG_FORWARD, 10);
    assert_offsets(1, 1, 10, false);
    stop_reader();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_history_pages_forward_and_backward),
        cmocka_unit_test(test_requests_out_of_limits_are_refused),
        cmocka_unit_test(test_resume_tells_where_the_stream_stands_and_claims_it),
        cmocka_unit_test(test_a_slow_read_times_out_and_the_next_one_works),
        cmocka_unit_test(test_too_many_waiting_requests_are_refused),
        cmocka_unit_test(test_an_absent_database_is_refused_at_once_then_served_again),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
