/* A throwaway Redis server: see redis_harness.h. */
#include "redis_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum {
    HARNESS_PORT_TRIES = 5,
    HARNESS_READY_MS = 10000,
    HARNESS_ARGV_MAX = 32,
};

static uint64_t harness_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void harness_sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void harness_print_log(const struct redis_harness *h)
{
    char path[160], line[512];
    snprintf(path, sizeof path, "%s/redis.log", h->dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    fprintf(stderr, "---- %s ----\n", path);
    while (fgets(line, sizeof line, f) != NULL)
        fputs(line, stderr);
    fclose(f);
}

/* True when /proc/pid/cmdline starts with a redis-server (so a recycled pid is left alone). */
static bool harness_is_redis(pid_t pid)
{
    char path[64], cmd[256] = {0};
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    size_t n = fread(cmd, 1, sizeof cmd - 1, f);
    fclose(f);
    return n > 0 && strstr(cmd, "redis-server") != NULL;
}

/* Runs in the guardian (harness_guardian.h): kills the server named by its pid file. */
static void harness_stop_server(const void *arg)
{
    const struct redis_harness *h = arg;
    char pid_path[160];
    snprintf(pid_path, sizeof pid_path, "%s/redis.pid", h->dir);
    FILE *f = fopen(pid_path, "r");
    int pid = 0;
    if (f != NULL) {
        if (fscanf(f, "%d", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    if (pid > 0 && harness_is_redis(pid)) {
        kill(pid, SIGCONT);
        kill(pid, SIGKILL);
    }
}

static pid_t harness_spawn(const struct redis_harness *h)
{
    char port[16], pid_file[160], log_file[160], sock[160];
    snprintf(port, sizeof port, "%d", h->port);
    snprintf(sock, sizeof sock, "%s/redis.sock", h->dir);
    snprintf(pid_file, sizeof pid_file, "%s/redis.pid", h->dir);
    snprintf(log_file, sizeof log_file, "%s/redis.log", h->dir);
    const char *argv[HARNESS_ARGV_MAX] = {h->binary,   "--port",
                                          port,        "--bind",
                                          "127.0.0.1", "--save",
                                          "",          "--appendonly",
                                          "no",        "--dir",
                                          h->dir,      "--pidfile",
                                          pid_file,    "--logfile",
                                          log_file,    "--daemonize",
                                          "no",        "--protected-mode",
                                          "no",        "--unixsocket",
                                          sock,        "--unixsocketperm",
                                          "700"};
    int n = 0;
    while (argv[n] != NULL)
        n++;
    for (int i = 0; h->extra[i] != NULL && n < HARNESS_ARGV_MAX - 1; i++)
        argv[n++] = h->extra[i];
    argv[n] = NULL;
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    /* The server dies with the test process, even when nothing else cleans up. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(126);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
    }
    execvp(argv[0], (char *const *)argv);
    _exit(127);
}

/* Waits until the server answers anything (a NOAUTH error counts), or it exits. */
static int harness_wait_ready(struct redis_harness *h)
{
    uint64_t deadline_ms = harness_now_ms() + HARNESS_READY_MS;
    while (harness_now_ms() < deadline_ms) {
        int status;
        if (waitpid(h->pid, &status, WNOHANG) == h->pid) {
            h->pid = 0;
            return -1;
        }
        struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
        redisContext *ctx = redisConnectWithTimeout("127.0.0.1", h->port, tv);
        if (ctx != NULL && ctx->err == 0) {
            redisReply *r = redisCommand(ctx, "PING");
            bool answered = r != NULL;
            freeReplyObject(r);
            redisFree(ctx);
            if (answered)
                return 0;
        } else if (ctx != NULL) {
            redisFree(ctx);
        }
        harness_sleep_ms(20);
    }
    return -1;
}

static int harness_launch(struct redis_harness *h)
{
    h->pid = harness_spawn(h);
    if (h->pid < 0) {
        h->pid = 0;
        fprintf(stderr, "redis_harness: fork: %s\n", strerror(errno));
        return -1;
    }
    if (harness_wait_ready(h) != 0) {
        if (h->pid > 0) {
            kill(h->pid, SIGKILL);
            waitpid(h->pid, NULL, 0);
            h->pid = 0;
        }
        return -1;
    }
    h->paused = false;
    return 0;
}

int redis_harness_start(struct redis_harness *h, const char *const *extra)
{
    memset(h, 0, sizeof *h);
    h->guardian.write_fd = -1;
    snprintf(h->binary, sizeof h->binary, "redis-server");
    for (int i = 0; extra != NULL && extra[i] != NULL && i < REDIS_HARNESS_ARGS_MAX; i++)
        h->extra[i] = extra[i];
    snprintf(h->dir, sizeof h->dir, "/tmp/tidegate-redis-XXXXXX");
    if (mkdtemp(h->dir) == NULL) {
        fprintf(stderr, "redis_harness: mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    if (harness_guardian_start(&h->guardian, h->dir, harness_stop_server, h) != 0) {
        fprintf(stderr, "redis_harness: could not start the guardian: %s\n", strerror(errno));
        return -1;
    }
    for (int attempt = 0; attempt < HARNESS_PORT_TRIES; attempt++) {
        h->port = harness_free_port();
        if (h->port <= 0)
            continue;
        snprintf(h->url, sizeof h->url, "redis://127.0.0.1:%d", h->port);
        if (harness_launch(h) == 0)
            return 0;
    }
    fprintf(stderr, "redis_harness: redis-server did not start (is the redis-server package "
                    "installed? scripts/install-deps.sh)\n");
    harness_print_log(h);
    return -1;
}

int redis_harness_kill(struct redis_harness *h)
{
    if (h->pid <= 0)
        return -1;
    kill(h->pid, SIGKILL);
    while (waitpid(h->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    h->pid = 0;
    h->paused = false;
    return 0;
}

int redis_harness_restart(struct redis_harness *h)
{
    if (h->pid > 0)
        return -1;
    /* The old port may be in TIME_WAIT for a moment on some kernels; redis sets
     * SO_REUSEADDR, so this normally succeeds at once. */
    for (int attempt = 0; attempt < 3; attempt++) {
        if (harness_launch(h) == 0)
            return 0;
        harness_sleep_ms(200);
    }
    fprintf(stderr, "redis_harness: could not restart redis-server on port %d\n", h->port);
    harness_print_log(h);
    return -1;
}

int redis_harness_pause(struct redis_harness *h)
{
    if (h->pid <= 0 || kill(h->pid, SIGSTOP) != 0)
        return -1;
    h->paused = true;
    return 0;
}

int redis_harness_resume(struct redis_harness *h)
{
    if (h->pid <= 0 || kill(h->pid, SIGCONT) != 0)
        return -1;
    h->paused = false;
    return 0;
}

void redis_harness_destroy(struct redis_harness *h)
{
    if (h->pid > 0)
        redis_harness_kill(h);
    harness_guardian_stop(&h->guardian);
}

redisContext *redis_harness_connect(const struct redis_harness *h, const char *password)
{
    struct timeval tv = {.tv_sec = 5, .tv_usec = 0};
    redisContext *ctx = redisConnectWithTimeout("127.0.0.1", h->port, tv);
    if (ctx == NULL || ctx->err != 0) {
        fprintf(stderr, "redis_harness: connect: %s\n", ctx != NULL ? ctx->errstr : "no memory");
        redisFree(ctx);
        return NULL;
    }
    if (redisSetTimeout(ctx, tv) != REDIS_OK) {
        redisFree(ctx);
        return NULL;
    }
    if (password != NULL) {
        redisReply *r = redisCommand(ctx, "AUTH %s", password);
        bool ok = r != NULL && r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        if (!ok) {
            fprintf(stderr, "redis_harness: AUTH failed\n");
            redisFree(ctx);
            return NULL;
        }
    }
    return ctx;
}

long long redis_harness_int(redisContext *ctx, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    redisReply *r = redisvCommand(ctx, format, ap);
    va_end(ap);
    long long value = -1;
    if (r == NULL)
        fprintf(stderr, "redis_harness: %s: %s\n", format, ctx->errstr);
    else if (r->type == REDIS_REPLY_INTEGER)
        value = r->integer;
    else if (r->type == REDIS_REPLY_NIL)
        value = 0;
    else if (r->type == REDIS_REPLY_STRING)
        value = strtoll(r->str, NULL, 10);
    else
        fprintf(stderr, "redis_harness: %s: reply type %d %s\n", format, r->type,
                r->type == REDIS_REPLY_ERROR ? r->str : "");
    freeReplyObject(r);
    return value;
}
