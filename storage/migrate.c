/* Schema migrations: see migrate.h. The one thing to know before changing it: everything,
 * the versions table included, happens inside one transaction after the advisory lock, so
 * any early return must roll back (migrate_fail does). */
#include "storage/migrate.h"

#include <assert.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "storage/pg_conn.h"

/* pg_advisory_xact_lock key for migrations: "tidegate" in ASCII. Partition maintenance
 * uses the next value (see 0001_history.sql). */
#define MIGRATE_LOCK_KEY "8388346167643173989"

enum { MIGRATE_VERSIONS_MAX = 4096 };

static void migrate_quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* "relation already exists, skipping" and the like */
}

static void migrate_checksum(const char *sql, char out[17])
{
    snprintf(out, 17, "%016" PRIx64, (uint64_t)XXH3_64bits(sql, strlen(sql)));
}

/* Rolls back (ignoring the result: the connection may be gone) and writes `err`. */
static int migrate_fail(PGconn *pg, char err[MIGRATE_ERROR_BYTES], const char *what,
                        const char *server_message)
{
    PGresult *res = PQexec(pg, "ROLLBACK");
    PQclear(res);
    char line[PG_CONN_ERROR_BYTES];
    pg_conn_one_line(line, sizeof line, server_message);
    snprintf(err, MIGRATE_ERROR_BYTES, "%s%s%s", what, line[0] ? ": " : "", line);
    return -1;
}

/* Runs `sql`; true when it succeeded. On failure, rolls back and fills `err`. */
static bool migrate_exec(PGconn *pg, const char *sql, char err[MIGRATE_ERROR_BYTES],
                         const char *what)
{
    PGresult *res = PQexec(pg, sql);
    ExecStatusType status = PQresultStatus(res);
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
        PQclear(res);
        return true;
    }
    char message[PG_CONN_ERROR_BYTES];
    pg_conn_one_line(message, sizeof message, PQresultErrorMessage(res));
    PQclear(res);
    migrate_fail(pg, err, what, message);
    return false;
}

static const struct migration *migrate_find(uint32_t version)
{
    for (size_t i = 0; i < storage_migration_count; i++)
        if (storage_migrations[i].version == version)
            return &storage_migrations[i];
    return NULL;
}

/* Reads the recorded versions and checks them against the embedded ones. Fills `applied`
 * (indexed like storage_migrations) and the highest version recorded. */
static int migrate_read_applied(PGconn *pg, bool *applied, uint32_t *highest,
                                char err[MIGRATE_ERROR_BYTES])
{
    PGresult *res = PQexec(pg, "SELECT version, name, checksum FROM tidegate_schema_versions"
                               " ORDER BY version");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        char message[PG_CONN_ERROR_BYTES];
        pg_conn_one_line(message, sizeof message, PQresultErrorMessage(res));
        PQclear(res);
        return migrate_fail(pg, err, "could not read tidegate_schema_versions", message);
    }
    *highest = 0;
    char what[MIGRATE_ERROR_BYTES] = "";
    for (int i = 0; i < PQntuples(res) && what[0] == '\0'; i++) {
        uint32_t version = (uint32_t)strtoul(PQgetvalue(res, i, 0), NULL, 10);
        const struct migration *m = migrate_find(version);
        char sum[17];
        if (version > *highest)
            *highest = version;
        if (m == NULL) {
            snprintf(what, sizeof what,
                     "the database has schema version %u (%s), which this tidegate does not "
                     "know (it knows up to %u): upgrade tidegate",
                     version, PQgetvalue(res, i, 1),
                     storage_migrations[storage_migration_count - 1].version);
            break;
        }
        migrate_checksum(m->sql, sum);
        if (strcmp(sum, PQgetvalue(res, i, 2)) != 0) {
            snprintf(what, sizeof what,
                     "migration %s was applied with checksum %s but this tidegate's copy has "
                     "%s: a released migration was edited; restore it and add a new one",
                     m->name, PQgetvalue(res, i, 2), sum);
            break;
        }
        applied[m - storage_migrations] = true;
    }
    PQclear(res);
    if (what[0] != '\0')
        return migrate_fail(pg, err, what, "");
    return 0;
}

static int migrate_apply(PGconn *pg, const struct migration *m, char err[MIGRATE_ERROR_BYTES])
{
    char what[128];
    snprintf(what, sizeof what, "migration %s failed", m->name);
    if (!migrate_exec(pg, m->sql, err, what))
        return -1;
    char version[16], sum[17];
    snprintf(version, sizeof version, "%u", m->version);
    migrate_checksum(m->sql, sum);
    const char *values[3] = {version, m->name, sum};
    PGresult *res = PQexecParams(pg,
                                 "INSERT INTO tidegate_schema_versions (version, name, checksum)"
                                 " VALUES ($1::int, $2, $3)",
                                 3, NULL, values, NULL, NULL, 0);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    char message[PG_CONN_ERROR_BYTES];
    pg_conn_one_line(message, sizeof message, PQresultErrorMessage(res));
    PQclear(res);
    if (!ok)
        return migrate_fail(pg, err, "could not record the migration", message);
    return 0;
}

int storage_migrate_conn(PGconn *pg, struct migrate_report *report, char err[MIGRATE_ERROR_BYTES])
{
    assert(storage_migration_count > 0 && storage_migration_count <= MIGRATE_VERSIONS_MAX);
    memset(report, 0, sizeof *report);
    PQsetNoticeProcessor(pg, migrate_quiet_notice, NULL);
    if (!migrate_exec(pg, "BEGIN", err, "could not begin the migration transaction") ||
        !migrate_exec(pg, "SET LOCAL lock_timeout = '60s'", err, "could not set lock_timeout") ||
        !migrate_exec(pg, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ")", err,
                      "could not take the migration lock (another migration running?)") ||
        !migrate_exec(pg,
                      "CREATE TABLE IF NOT EXISTS tidegate_schema_versions ("
                      " version integer PRIMARY KEY, name text NOT NULL,"
                      " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
                      err, "could not create tidegate_schema_versions"))
        return -1;
    bool applied[MIGRATE_VERSIONS_MAX] = {false};
    uint32_t highest = 0;
    if (migrate_read_applied(pg, applied, &highest, err) != 0)
        return -1;
    report->version_before = report->version_after = highest;
    for (size_t i = 0; i < storage_migration_count; i++) {
        if (applied[i])
            continue;
        if (migrate_apply(pg, &storage_migrations[i], err) != 0)
            return -1;
        report->applied++;
        if (storage_migrations[i].version > report->version_after)
            report->version_after = storage_migrations[i].version;
    }
    if (!migrate_exec(pg, "COMMIT", err, "could not commit the migrations"))
        return -1;
    return 0;
}

int storage_migrate(const char *conninfo, struct migrate_report *report,
                    char err[MIGRATE_ERROR_BYTES])
{
    PGconn *pg = PQconnectdb(conninfo != NULL ? conninfo : "");
    if (pg == NULL) {
        snprintf(err, MIGRATE_ERROR_BYTES, "out of memory for a libpq connection");
        return -1;
    }
    if (PQstatus(pg) != CONNECTION_OK) {
        char line[PG_CONN_ERROR_BYTES];
        pg_conn_one_line(line, sizeof line, PQerrorMessage(pg));
        snprintf(err, MIGRATE_ERROR_BYTES, "could not connect to PostgreSQL: %s", line);
        PQfinish(pg);
        return -1;
    }
    int ret = storage_migrate_conn(pg, report, err);
    PQfinish(pg);
    return ret;
}

static void migrate_usage(FILE *out)
{
    fprintf(out, "Usage: tidegate migrate [--database CONNINFO]\n\n"
                 "Applies the schema migrations this tidegate carries to the PostgreSQL\n"
                 "database (idempotent: a second run changes nothing). CONNINFO is a libpq\n"
                 "connection string or URI (postgresql://user@host:5432/db); what it leaves\n"
                 "out comes from the PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD\n"
                 "environment variables. See docs/storage.md.\n");
}

int storage_migrate_main(int argc, char **argv)
{
    const char *conninfo = "";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            migrate_usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--database") == 0 && i + 1 < argc) {
            conninfo = argv[++i];
            continue;
        }
        fprintf(stderr, "tidegate migrate: unexpected argument '%s'\n", argv[i]);
        migrate_usage(stderr);
        return 2;
    }
    struct migrate_report report;
    char err[MIGRATE_ERROR_BYTES];
    if (storage_migrate(conninfo, &report, err) != 0) {
        fprintf(stderr, "tidegate migrate: %s\n", err);
        return 1;
    }
    if (report.applied == 0)
        printf("tidegate migrate: schema is up to date (version %u)\n", report.version_after);
    else
        printf("tidegate migrate: applied %u migration(s): schema version %u -> %u\n",
               report.applied, report.version_before, report.version_after);
    return 0;
}
