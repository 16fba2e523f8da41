/* Schema migrations against a real PostgreSQL: applied once however often and however many
 * at once, edited or unknown versions refused, and the partitions they create and maintain. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pg_harness.h"
#include "storage/migrate.h"

static struct pg_harness harness;

static int group_setup(void **state)
{
    (void)state;
    return pg_harness_start(&harness, false);
}

static int group_teardown(void **state)
{
    (void)state;
    pg_harness_destroy(&harness);
    return 0;
}

/* A fresh database for one test. */
static void fresh_db(const char *name, char *conninfo, size_t bytes)
{
    assert_int_equal(pg_harness_create_db(&harness, name, conninfo, bytes), 0);
}

static PGconn *connect_to(const char *conninfo)
{
    PGconn *pg = PQconnectdb(conninfo);
    assert_int_equal(PQstatus(pg), CONNECTION_OK);
    return pg;
}

static void test_migrate_twice_applies_once(void **state)
{
    (void)state;
    char conninfo[256], err[MIGRATE_ERROR_BYTES];
    fresh_db("twice", conninfo, sizeof conninfo);
    struct migrate_report first, second;
    assert_int_equal(storage_migrate(conninfo, &first, err), 0);
    assert_int_equal(first.version_before, 0);
    assert_int_equal(first.applied, storage_migration_count);
    assert_int_equal(first.version_after, storage_migrations[storage_migration_count - 1].version);
    assert_int_equal(storage_migrate(conninfo, &second, err), 0);
    assert_int_equal(second.applied, 0);
    assert_int_equal(second.version_before, first.version_after);
    PGconn *pg = connect_to(conninfo);
    assert_int_equal(pg_harness_value(pg, "SELECT count(*) FROM tidegate_schema_versions"),
                     (long long)storage_migration_count);
    /* The tables work: a row goes into today's partition, not the default one. */
    assert_int_equal(pg_harness_exec(pg, "INSERT INTO tidegate_history VALUES"
                                         " ('c', 'e', 1, now(), NULL, '{\"a\": [1, 2]}')"),
                     0);
    assert_int_equal(pg_harness_value(pg, "SELECT count(*) FROM tidegate_history_default"), 0);
    assert_int_equal(pg_harness_value(pg, "SELECT count(*) FROM tidegate_history WHERE data::text ="
                                          " '{\"a\": [1, 2]}'"),
                     1);
    PQfinish(pg);
}

struct migrate_thread {
    const char *conninfo;
    int ret;
    struct migrate_report report;
    char err[MIGRATE_ERROR_BYTES];
};

static void *migrate_thread_main(void *arg)
{
    struct migrate_thread *t = arg;
    t->ret = storage_migrate(t->conninfo, &t->report, t->err);
    return NULL;
}

static void test_concurrent_migrations_apply_each_once(void **state)
{
    (void)state;
    char conninfo[256];
    fresh_db("racing", conninfo, sizeof conninfo);
    struct migrate_thread t[4];
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) {
        t[i] = (struct migrate_thread){.conninfo = conninfo};
        assert_int_equal(pthread_create(&threads[i], NULL, migrate_thread_main, &t[i]), 0);
    }
    uint32_t applied = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        if (t[i].ret != 0)
            fail_msg("migration %d failed: %s", i, t[i].err);
        applied += t[i].report.applied;
    }
    assert_int_equal(applied, storage_migration_count);
}

static void test_edited_migration_is_refused(void **state)
{
    (void)state;
    char conninfo[256], err[MIGRATE_ERROR_BYTES];
    fresh_db("edited", conninfo, sizeof conninfo);
    struct migrate_report report;
    assert_int_equal(storage_migrate(conninfo, &report, err), 0);
    PGconn *pg = connect_to(conninfo);
    assert_int_equal(pg_harness_exec(pg, "UPDATE tidegate_schema_versions SET checksum ="
                                         " '0000000000000000' WHERE version = 1"),
                     0);
    assert_int_equal(storage_migrate(conninfo, &report, err), -1);
    assert_non_null(strstr(err, "0001_history"));
    assert_non_null(strstr(err, "edited"));
    PQfinish(pg);
}

static void test_newer_schema_is_refused(void **state)
{
    (void)state;
    char conninfo[256], err[MIGRATE_ERROR_BYTES];
    fresh_db("newer", conninfo, sizeof conninfo);
    struct migrate_report report;
    assert_int_equal(storage_migrate(conninfo, &report, err), 0);
    PGconn *pg = connect_to(conninfo);
    assert_int_equal(pg_harness_exec(pg, "INSERT INTO tidegate_schema_versions (version, name,"
                                         " checksum) VALUES (9999, '9999_future', 'x')"),
                     0);
    assert_int_equal(storage_migrate(conninfo, &report, err), -1);
    assert_non_null(strstr(err, "9999"));
    assert_non_null(strstr(err, "upgrade tidegate"));
    PQfinish(pg);
}

static void test_failed_migration_changes_nothing(void **state)
{
    (void)state;
    char conninfo[256], err[MIGRATE_ERROR_BYTES];
    fresh_db("blocked", conninfo, sizeof conninfo);
    /* A table in the way makes 0001 fail half-way: nothing of it may remain. */
    PGconn *pg = connect_to(conninfo);
    assert_int_equal(pg_harness_exec(pg, "CREATE TABLE tidegate_channel_state (x int)"), 0);
    struct migrate_report report;
    assert_int_equal(storage_migrate(conninfo, &report, err), -1);
    assert_non_null(strstr(err, "migration 0001_history failed"));
    assert_int_equal(pg_harness_value(pg, "SELECT count(*) FROM pg_class WHERE relname IN"
                                          " ('tidegate_history', 'tidegate_schema_versions')"),
                     0);
    assert_int_equal(pg_harness_exec(pg, "DROP TABLE tidegate_channel_state"), 0);
    assert_int_equal(storage_migrate(conninfo, &report, err), 0);
    assert_int_equal(report.applied, storage_migration_count);
    PQfinish(pg);
}

static void test_unreachable_database_is_a_sentence(void **state)
{
    (void)state;
    char err[MIGRATE_ERROR_BYTES];
    struct migrate_report report;
    assert_int_equal(storage_migrate("host=127.0.0.1 port=1 connect_timeout=2", &report, err), -1);
    assert_non_null(strstr(err, "could not connect to PostgreSQL"));
}

static void test_partitions_cover_the_coming_days_and_retention_drops_old_ones(void **state)
{
    (void)state;
    char conninfo[256], err[MIGRATE_ERROR_BYTES];
    fresh_db("partitions", conninfo, sizeof conninfo);
    struct migrate_report report;
    assert_int_equal(storage_migrate(conninfo, &report, err), 0);
    PGconn *pg = connect_to(conninfo);
    const char *daily = "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                        " WHERE i.inhparent = 'tidegate_history'::regclass"
                        " AND c.relname ~ '^tidegate_history_p[0-9]{8}$'";
    assert_int_equal(pg_harness_value(pg, daily), 4); /* today and three more */
    /* A row 10 days ahead lands in the default partition, and moves into its day's
     * partition when maintenance creates it. */
    assert_int_equal(pg_harness_exec(pg, "INSERT INTO tidegate_history VALUES ('c', 'e', 1,"
                                         " now() + interval '10 days', 'u', '1')"),
                     0);
    assert_int_equal(pg_harness_value(pg, "SELECT count(*) FROM tidegate_history_default"), 1);
    assert_int_equal(pg_harness_value(pg, "SELECT created FROM tidegate_history_maintain(12, 0)"),
                     9);
    assert_int_equal(pg_harness_value(pg, "SELECT count(*) FROM tidegate_history_default"), 0);
    assert_int_equal(pg_harness_value(pg, "SELECT count(*) FROM tidegate_history"), 1);
    /* Retention: a partition of a day long gone is dropped, yesterday's is kept. */
    for (int back = 1; back <= 40; back += 39) {
        char sql[512];
        snprintf(sql, sizeof sql,
                 "DO $$ DECLARE d date := (now() AT TIME ZONE 'UTC')::date - %d; BEGIN"
                 " EXECUTE format('CREATE TABLE %%I PARTITION OF tidegate_history FOR VALUES"
                 " FROM (%%L) TO (%%L)', 'tidegate_history_p' || to_char(d, 'YYYYMMDD'),"
                 " d::timestamp AT TIME ZONE 'UTC', (d + 1)::timestamp AT TIME ZONE 'UTC');"
                 " END $$",
                 back);
        assert_int_equal(pg_harness_exec(pg, sql), 0);
    }
    assert_int_equal(pg_harness_value(pg, "SELECT dropped FROM tidegate_history_maintain(0, 30)"),
                     1);
    assert_int_equal(pg_harness_value(pg, daily), 14); /* yesterday, today, 12 ahead */
    PQfinish(pg);
}

static void test_migrate_command_line(void **state)
{
    (void)state;
    char conninfo[256];
    fresh_db("cli", conninfo, sizeof conninfo);
    char *ok_args[] = {"migrate", "--database", conninfo, NULL};
    assert_int_equal(storage_migrate_main(3, ok_args), 0);
    assert_int_equal(storage_migrate_main(3, ok_args), 0);
    char *bad_args[] = {"migrate", "--bogus", NULL};
    assert_int_equal(storage_migrate_main(2, bad_args), 2);
    char *down_args[] = {"migrate", "--database", "host=127.0.0.1 port=1", NULL};
    assert_int_equal(storage_migrate_main(3, down_args), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate_twice_applies_once),
        cmocka_unit_test(test_concurrent_migrations_apply_each_once),
        cmocka_unit_test(test_edited_migration_is_refused),
        cmocka_unit_test(test_newer_schema_is_refused),
        cmocka_unit_test(test_failed_migration_changes_nothing),
        cmocka_unit_test(test_unreachable_database_is_a_sentence),
        cmocka_unit_test(test_partitions_cover_the_coming_days_and_retention_drops_old_ones),
        cmocka_unit_test(test_migrate_command_line),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
