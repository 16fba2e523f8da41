/* The coordinating parent and the harness processes: see run.h. */
#include "bench/run.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/client.h"
#include "bench/progress.h"
#include "bench/shared.h"
#include "bench/sysstat.h"
#include "bench/worker.h"

enum {
    POLL_MS = 5,
    THREADS_UP_TIMEOUT_MS = 30000,
    CHILD_EXIT_TIMEOUT_MS = 30000,
    RUN_START_DELAY_MS = 20, /* senders' schedules start a little after RUN is announced */
    DRAIN_MIN_MS = 100,
};

/* Set by the first SIGINT: the run ends early but is still counted and reported. */
static volatile sig_atomic_t interrupt_requested;

static void on_sigint(int sig)
{
    (void)sig;
    if (interrupt_requested)
        _exit(130); /* a second ^C: give up on the report */
    interrupt_requested = 1;
}

static uint64_t ms_to_ns(uint64_t ms)
{
    return ms * 1000000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* How long the run should take, for the first timeline slice length. */
static uint64_t expected_run_ms(const struct bench_params *p)
{
    uint64_t total = bench_params_total_connections(p);
    uint64_t ramp_ms = p->ramp_per_s > 0 ? (uint64_t)((double)total / p->ramp_per_s * 1e3)
                                         : total / 10; /* a guess: 10,000 connections/s */
    uint64_t ms = ramp_ms + p->duration_ms + p->drain_ms / 2;
    if (p->scenario == BENCH_STORM)
        ms = ramp_ms * 2 + p->hold_ms;
    return ms < 1000 ? 1000 : ms;
}

/* ---- the harness processes ---- */

static void *thread_main(void *arg)
{
    struct worker *w = arg;
    if (worker_run(w) != 0)
        fprintf(stderr, "tidegate-bench: process %u thread %u: %s\n", w->proc, w->thread, w->error);
    return NULL;
}

static int child_main(const struct bench_params *p, struct bench_shared *sh, unsigned proc,
                      uint64_t slice_ns)
{
    struct worker *ws = calloc(p->threads, sizeof *ws);
    pthread_t *tids = calloc(p->threads, sizeof *tids);
    struct bench_result *out = &sh->results[proc];
    bench_result_init(out, slice_ns);
    if (ws == NULL || tids == NULL) {
        atomic_fetch_add(&sh->live[LIVE_THREADS_FAILED], p->threads);
        return 1;
    }
    int failed = 0;
    unsigned started = 0;
    for (unsigned t = 0; t < p->threads; t++) {
        struct worker *w = &ws[t];
        w->params = p;
        w->adapter = adapter_for(p->adapter);
        w->shared = sh;
        w->proc = proc;
        w->thread = t;
        w->result = malloc(sizeof *w->result);
        if (w->result == NULL) {
            atomic_fetch_add(&sh->live[LIVE_THREADS_FAILED], 1);
            failed = 1;
            continue;
        }
        bench_result_init(w->result, slice_ns);
        if (pthread_create(&tids[t], NULL, thread_main, w) != 0) {
            atomic_fetch_add(&sh->live[LIVE_THREADS_FAILED], 1);
            free(w->result);
            w->result = NULL;
            failed = 1;
            continue;
        }
        started++;
    }
    for (unsigned t = 0; t < p->threads; t++) {
        if (ws[t].result == NULL)
            continue;
        pthread_join(tids[t], NULL);
        if (ws[t].error[0] != '\0')
            failed = 1;
        bench_result_merge(out, ws[t].result);
        free(ws[t].result);
    }
    (void)started;
    free(ws);
    free(tids);
    return failed;
}

/* ---- the parent ---- */

struct coord {
    const struct bench_params *p;
    struct bench_shared *sh;
    struct bench_run *run;
    pid_t *pids;
    unsigned live_children;
    struct progress progress;
    uint64_t total;
    uint64_t phase_start_ns;
    uint64_t open_at_run_start;
    uint64_t lost_at_run_start;
    uint64_t closed_at_storm;
};

static void take_reading(const struct bench_params *p, struct bench_reading *r)
{
    memset(r, 0, sizeof *r);
    if (p->server_pid_count > 0) {
        r->server_ok =
            sysstat_rss_bytes(p->server_pids, p->server_pid_count, &r->server_rss_bytes) &&
            sysstat_cpu_us(p->server_pids, p->server_pid_count, &r->server_cpu_us);
    }
    r->slab_ok = sysstat_slab_bytes(&r->slab_bytes);
    r->available_ok = sysstat_available_bytes(&r->available_bytes);
    struct sysstat_sockets s;
    sysstat_sockets(&s);
    r->tcp_inuse = s.tcp_inuse;
    r->tcp_mem_bytes = s.tcp_mem_bytes;
}

static void set_phase(struct coord *co, int phase, uint64_t now_ns)
{
    atomic_store_explicit(&co->sh->phase, phase, memory_order_release);
    co->phase_start_ns = now_ns;
}

static uint64_t open_now(struct bench_shared *sh)
{
    uint64_t up = bench_live(sh, LIVE_READY);
    uint64_t down = bench_live(sh, LIVE_LOST) + bench_live(sh, LIVE_CLOSED);
    return up > down ? up - down : 0;
}

/* Reaps children that exited; a failure before DONE ends the run. */
static void reap_children(struct coord *co, bool block)
{
    while (co->live_children > 0) {
        int status;
        pid_t pid = waitpid(-1, &status, block ? 0 : WNOHANG);
        if (pid <= 0)
            return;
        co->live_children--;
        bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!ok) {
            co->run->procs_failed++;
            if (co->run->error[0] == '\0')
                snprintf(co->run->error, sizeof co->run->error, "a harness process (pid %d) %s %d",
                         (int)pid,
                         WIFSIGNALED(status) ? "was killed by signal" : "exited with status",
                         WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        }
    }
}

static void end_measured_phase(struct coord *co, uint64_t now_ns)
{
    co->run->run_end_ns = now_ns;
    co->run->open_at_run_end = open_now(co->sh);
    take_reading(co->p, &co->run->at_end);
}

/* One step of the phase machine. Returns false once DONE has been set. */
static bool coord_step(struct coord *co, uint64_t now_ns)
{
    const struct bench_params *p = co->p;
    struct bench_run *run = co->run;
    struct bench_shared *sh = co->sh;
    int phase = atomic_load(&sh->phase);
    uint64_t in_phase_ns = now_ns - co->phase_start_ns;
    bool interrupted = interrupt_requested != 0;
    if (now_ns - run->origin_ns >= ms_to_ns(p->max_time_ms) || run->procs_failed > 0 ||
        interrupted) {
        run->max_time_hit = run->procs_failed == 0 && !interrupted;
        run->interrupted = interrupted;
        if (phase == PHASE_RUN && run->run_end_ns == 0)
            end_measured_phase(co, now_ns);
        set_phase(co, PHASE_DONE, now_ns);
        return false;
    }
    switch (phase) {
    case PHASE_RAMP: {
        bool settled = bench_live(sh, LIVE_READY) + bench_live(sh, LIVE_FAILED) >= co->total;
        if (!settled && in_phase_ns < ms_to_ns(p->ramp_timeout_ms))
            return true;
        run->ramp_timed_out = !settled;
        run->ramp_end_ns = now_ns;
        take_reading(p, &run->at_run);
        co->open_at_run_start = open_now(sh);
        run->ready_at_ramp_end = bench_live(sh, LIVE_READY);
        co->lost_at_run_start = bench_live(sh, LIVE_LOST);
        run->run_start_ns = now_ns + ms_to_ns(RUN_START_DELAY_MS);
        atomic_store(&sh->run_start_ns, run->run_start_ns);
        set_phase(co, PHASE_RUN, now_ns);
        return true;
    }
    case PHASE_RUN: {
        uint64_t hold_ms = p->scenario == BENCH_STORM ? p->hold_ms : p->duration_ms;
        if (now_ns < run->run_start_ns + ms_to_ns(hold_ms))
            return true;
        end_measured_phase(co, now_ns);
        if (p->scenario == BENCH_STORM) {
            run->open_before_storm = run->open_at_run_end;
            co->closed_at_storm = bench_live(sh, LIVE_CLOSED);
            run->storm_start_ns = now_ns;
            atomic_store(&sh->storm_start_ns, now_ns);
            set_phase(co, PHASE_STORM, now_ns);
        } else if (p->scenario == BENCH_ECHO || p->scenario == BENCH_FANOUT ||
                   p->scenario == BENCH_CHURN) {
            set_phase(co, PHASE_DRAIN, now_ns);
        } else {
            set_phase(co, PHASE_DONE, now_ns);
            return false;
        }
        return true;
    }
    case PHASE_DRAIN: {
        bool settled;
        if (p->scenario == BENCH_CHURN) /* everyone churned is back (the lost never are) */
            settled = open_now(sh) + bench_live(sh, LIVE_LOST) - co->lost_at_run_start >=
                      co->open_at_run_start;
        else
            settled = bench_live(sh, LIVE_RECEIVED) >= bench_live(sh, LIVE_EXPECTED);
        /* Threads add to the live counters every few ms: give the last sends time to show. */
        settled = settled && in_phase_ns >= ms_to_ns(DRAIN_MIN_MS);
        if (!settled && in_phase_ns < ms_to_ns(p->drain_ms))
            return true;
        run->drain_timed_out = !settled;
        set_phase(co, PHASE_DONE, now_ns);
        return false;
    }
    case PHASE_STORM: {
        /* Back: every connection that was open has been dropped, and as many are open again. */
        bool dropped = bench_live(sh, LIVE_CLOSED) - co->closed_at_storm >= run->open_before_storm;
        bool back = dropped && open_now(sh) >= run->open_before_storm;
        if (!back && in_phase_ns < ms_to_ns(p->ramp_timeout_ms))
            return true;
        run->storm_timed_out = !back;
        run->storm_end_ns = now_ns;
        set_phase(co, PHASE_DONE, now_ns);
        return false;
    }
    default:
        return phase != PHASE_DONE;
    }
}

static int fork_children(struct coord *co, uint64_t slice_ns)
{
    fflush(NULL);
    for (unsigned i = 0; i < co->p->procs; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            snprintf(co->run->error, sizeof co->run->error, "fork of harness process %u: %s", i,
                     strerror(errno));
            return -1;
        }
        if (pid == 0) {
            signal(SIGINT, SIG_IGN); /* the parent ends the run; the children follow it */
            int failed = child_main(co->p, co->sh, i, slice_ns);
            fflush(NULL);
            _exit(failed);
        }
        co->pids[i] = pid;
        co->live_children++;
    }
    return 0;
}

static int wait_threads_up(struct coord *co)
{
    unsigned want = co->p->procs * co->p->threads;
    uint64_t deadline = client_clock_ns() + ms_to_ns(THREADS_UP_TIMEOUT_MS);
    while (bench_live(co->sh, LIVE_THREADS_UP) < want) {
        reap_children(co, false);
        if (bench_live(co->sh, LIVE_THREADS_FAILED) > 0 || co->run->procs_failed > 0) {
            snprintf(co->run->error, sizeof co->run->error,
                     "harness threads could not start (see the messages above)");
            return -1;
        }
        if (client_clock_ns() > deadline) {
            snprintf(co->run->error, sizeof co->run->error,
                     "only %llu of %u harness threads started within %d s",
                     (unsigned long long)bench_live(co->sh, LIVE_THREADS_UP), want,
                     THREADS_UP_TIMEOUT_MS / 1000);
            return -1;
        }
        sleep_ms(POLL_MS);
    }
    return 0;
}

static void stop_children(struct coord *co)
{
    atomic_store(&co->sh->phase, PHASE_DONE);
    uint64_t deadline = client_clock_ns() + ms_to_ns(CHILD_EXIT_TIMEOUT_MS);
    while (co->live_children > 0 && client_clock_ns() < deadline) {
        reap_children(co, false);
        sleep_ms(POLL_MS);
    }
    if (co->live_children > 0) {
        for (unsigned i = 0; i < co->p->procs; i++)
            kill(co->pids[i], SIGKILL);
        reap_children(co, true);
        if (co->run->error[0] == '\0')
            snprintf(co->run->error, sizeof co->run->error,
                     "harness processes did not exit within %d s and were killed",
                     CHILD_EXIT_TIMEOUT_MS / 1000);
    }
}

static void collect(struct coord *co, uint64_t slice_ns)
{
    struct bench_run *run = co->run;
    bench_result_init(run->result, slice_ns);
    for (unsigned i = 0; i < co->p->procs; i++)
        bench_result_merge(run->result, &co->sh->results[i]);
    struct rusage ru;
    if (getrusage(RUSAGE_CHILDREN, &ru) == 0) {
        run->bench_cpu_us = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
                            (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
        run->bench_max_rss_kb = (uint64_t)ru.ru_maxrss;
    }
}

int bench_run(const struct bench_params *p, struct bench_run *run)
{
    memset(run, 0, sizeof *run);
    run->params = p;
    run->result = malloc(sizeof *run->result);
    struct coord co = {.p = p, .run = run, .total = bench_params_total_connections(p)};
    co.sh = bench_shared_create(p);
    co.pids = calloc(p->procs, sizeof *co.pids);
    if (run->result == NULL || co.sh == NULL || co.pids == NULL) {
        snprintf(run->error, sizeof run->error, "out of memory for the shared results");
        bench_shared_destroy(co.sh);
        free(co.pids);
        return -1;
    }
    uint64_t slice_ns = bench_slice_ns_for(expected_run_ms(p));
    take_reading(p, &run->before);
    interrupt_requested = 0;
    struct sigaction sa = {.sa_handler = on_sigint};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    int ret = fork_children(&co, slice_ns);
    if (ret == 0)
        ret = wait_threads_up(&co);
    if (ret == 0) {
        progress_init(&co.progress, p, co.total);
        run->origin_ns = client_clock_ns();
        co.sh->origin_ns = run->origin_ns;
        set_phase(&co, PHASE_RAMP, run->origin_ns);
        for (;;) {
            uint64_t now_ns = client_clock_ns();
            reap_children(&co, false);
            bool going = coord_step(&co, now_ns);
            progress_update(&co.progress, co.sh, run, atomic_load(&co.sh->phase), now_ns);
            if (!going)
                break;
            sleep_ms(POLL_MS);
        }
        run->done_ns = client_clock_ns();
        take_reading(p, &run->at_done);
        progress_finish(&co.progress);
    }
    stop_children(&co);
    collect(&co, slice_ns);
    bench_shared_destroy(co.sh);
    free(co.pids);
    return ret;
}

void bench_run_free(struct bench_run *run)
{
    free(run->result);
    run->result = NULL;
}
