/* A throwaway PostgreSQL server: see pg_harness.h. */
#include "pg_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { HARNESS_ARGS_MAX = 24, HARNESS_PORT_TRIES = 5 };

static int harness_find_bindir(struct pg_harness *h)
{
    const char *env = getenv("TIDEGATE_PG_BINDIR");
    static const char *const candidates[] = {
        "/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin"};
    char path[300];
    if (env != NULL && env[0] != '\0') {
        snprintf(h->bindir, sizeof h->bindir, "%s", env);
        return 0;
    }
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        snprintf(path, sizeof path, "%s/initdb", candidates[i]);
        if (access(path, X_OK) == 0) {
            snprintf(h->bindir, sizeof h->bindir, "%s", candidates[i]);
            return 0;
        }
    }
    fprintf(stderr, "pg_harness: PostgreSQL server binaries not found: install postgresql "
                    "(scripts/install-deps.sh) or set TIDEGATE_PG_BINDIR\n");
    return -1;
}

/* Runs bindir/`tool` with `args` (NULL-terminated) as h->user, in h->dir, output appended
 * to h->dir/commands.log. Returns the exit status (0 = success), -1 if it could not run. */
static int harness_run(const struct pg_harness *h, const char *tool, const char *const *args)
{
    char program[300], log_path[160];
    snprintf(program, sizeof program, "%s/%s", h->bindir, tool);
    snprintf(log_path, sizeof log_path, "%s/commands.log", h->dir);
    const char *argv[HARNESS_ARGS_MAX];
    int n = 0;
    if (h->user[0] != '\0') {
        argv[n++] = "runuser";
        argv[n++] = "-u";
        argv[n++] = h->user;
        argv[n++] = "--";
    }
    argv[n++] = program;
    for (int i = 0; args[i] != NULL && n < HARNESS_ARGS_MAX - 1; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (chdir(h->dir) != 0)
            _exit(126);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void harness_print_log(const struct pg_harness *h, const char *name)
{
    char path[160], line[512];
    snprintf(path, sizeof path, "%s/%s", h->dir, name);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    fprintf(stderr, "---- %s ----\n", path);
    while (fgets(line, sizeof line, f) != NULL)
        fputs(line, stderr);
    fclose(f);
}

/* Runs in the guardian (harness_guardian.h): stops the server if it is running. */
static void harness_stop_server(const void *arg)
{
    const struct pg_harness *h = arg;
    char data[160], pid_file[200];
    snprintf(data, sizeof data, "%s/data", h->dir);
    snprintf(pid_file, sizeof pid_file, "%s/postmaster.pid", data);
    if (access(pid_file, F_OK) == 0) {
        const char *args[] = {"stop", "-D", data, "-m", "immediate", "-w", NULL};
        harness_run(h, "pg_ctl", args);
    }
}

int pg_harness_server_start(struct pg_harness *h)
{
    char data[160], log_path[160], options[512];
    snprintf(data, sizeof data, "%s/data", h->dir);
    snprintf(log_path, sizeof log_path, "%s/server.log", h->dir);
    snprintf(options, sizeof options,
             "-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=40 "
             "-c shared_buffers=64MB -c log_min_messages=warning%s",
             h->port, h->dir,
             h->durable ? "" : " -c fsync=off -c full_page_writes=off -c synchronous_commit=off");
    const char *args[] = {"start", "-D", data, "-l",    log_path, "-w",
                          "-t",    "60", "-o", options, NULL};
    if (harness_run(h, "pg_ctl", args) != 0) {
        fprintf(stderr, "pg_harness: pg_ctl start failed (port %d)\n", h->port);
        harness_print_log(h, "server.log");
        return -1;
    }
    return 0;
}

int pg_harness_server_stop(struct pg_harness *h)
{
    char data[160];
    snprintf(data, sizeof data, "%s/data", h->dir);
    const char *args[] = {"stop", "-D", data, "-m", "fast", "-w", "-t", "60", NULL};
    if (harness_run(h, "pg_ctl", args) != 0) {
        fprintf(stderr, "pg_harness: pg_ctl stop failed\n");
        harness_print_log(h, "server.log");
        return -1;
    }
    return 0;
}

static int harness_prepare_dir(struct pg_harness *h)
{
    snprintf(h->dir, sizeof h->dir, "/tmp/tidegate-pg-XXXXXX");
    if (mkdtemp(h->dir) == NULL) {
        fprintf(stderr, "pg_harness: mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    if (geteuid() != 0)
        return 0;
    const char *names[] = {"postgres", "nobody"};
    for (size_t i = 0; i < 2; i++) {
        struct passwd *pw = getpwnam(names[i]);
        if (pw == NULL)
            continue;
        snprintf(h->user, sizeof h->user, "%s", names[i]);
        if (chown(h->dir, pw->pw_uid, pw->pw_gid) != 0) {
            fprintf(stderr, "pg_harness: chown %s: %s\n", h->dir, strerror(errno));
            return -1;
        }
        return 0;
    }
    fprintf(stderr, "pg_harness: running as root and neither user postgres nor nobody exists\n");
    return -1;
}

int pg_harness_create_db(const struct pg_harness *h, const char *name, char *conninfo,
                         size_t conninfo_bytes)
{
    char admin[256], sql[128];
    snprintf(admin, sizeof admin, "host=127.0.0.1 port=%d dbname=postgres user=tidegate", h->port);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    PGconn *pg = PQconnectdb(admin);
    int ret = -1;
    if (PQstatus(pg) != CONNECTION_OK)
        fprintf(stderr, "pg_harness: connect: %s", PQerrorMessage(pg));
    else
        ret = pg_harness_exec(pg, sql);
    PQfinish(pg);
    snprintf(conninfo, conninfo_bytes, "host=127.0.0.1 port=%d dbname=%s user=tidegate", h->port,
             name);
    return ret;
}

int pg_harness_start(struct pg_harness *h, bool durable)
{
    memset(h, 0, sizeof *h);
    h->guardian.write_fd = -1;
    h->durable = durable;
    if (harness_find_bindir(h) != 0 || harness_prepare_dir(h) != 0)
        return -1;
    if (harness_guardian_start(&h->guardian, h->dir, harness_stop_server, h) != 0) {
        fprintf(stderr, "pg_harness: could not start the guardian: %s\n", strerror(errno));
        return -1;
    }
    char data[160];
    snprintf(data, sizeof data, "%s/data", h->dir);
    const char *initdb[] = {"-D", data,   "-A",         "trust",     "-U", "tidegate",
                            "-E", "UTF8", "--locale=C", "--no-sync", NULL};
    if (harness_run(h, "initdb", initdb) != 0) {
        fprintf(stderr, "pg_harness: initdb failed\n");
        harness_print_log(h, "commands.log");
        return -1;
    }
    for (int attempt = 0; attempt < HARNESS_PORT_TRIES; attempt++) {
        h->port = harness_free_port();
        if (h->port > 0 && pg_harness_server_start(h) == 0)
            return pg_harness_create_db(h, "tidegate", h->conninfo, sizeof h->conninfo);
    }
    return -1;
}

void pg_harness_destroy(struct pg_harness *h)
{
    harness_guardian_stop(&h->guardian);
}

PGconn *pg_harness_connect(const struct pg_harness *h)
{
    PGconn *pg = PQconnectdb(h->conninfo);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "pg_harness: connect: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return NULL;
    }
    return pg;
}

int pg_harness_exec(PGconn *pg, const char *sql)
{
    PGresult *res = PQexec(pg, sql);
    ExecStatusType status = PQresultStatus(res);
    int ret = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK ? 0 : -1;
    if (ret != 0)
        fprintf(stderr, "pg_harness: %s: %s", sql, PQresultErrorMessage(res));
    PQclear(res);
    return ret;
}

long long pg_harness_value(PGconn *pg, const char *sql)
{
    PGresult *res = PQexec(pg, sql);
    long long value = -1;
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fprintf(stderr, "pg_harness: %s: %s", sql, PQresultErrorMessage(res));
    else if (PQntuples(res) < 1 || PQgetisnull(res, 0, 0))
        fprintf(stderr, "pg_harness: %s: no value\n", sql);
    else
        value = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return value;
}
