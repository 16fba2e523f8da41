/* One harness thread: see worker.h. Connection I/O is client.c's; this file decides when
 * connections start, what they send and how what arrives is counted. Sending is paced by
 * a schedule fixed at the start of the run (sender s sends at run_start + offset_s + n *
 * interval). A payload carries the time it was written, or its scheduled time when it is
 * written more than PACE_WINDOW_NS late, so a sender that falls behind (a server that does
 * not read, a saturated harness) shows up as latency and as msgs_unsent rather than as a
 * quietly lower rate, while the harness's own batching window is never charged to the
 * server. */
#include "bench/worker.h"

#include <assert.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench/shared.h"
#include "core/ws_frame.h"

enum {
    TICK_FAST_MS = 1,
    TICK_SLOW_MS = 20,
    SENDER_BATCH_MAX = 64, /* messages queued per pump, then the loop turns */
    /* A wake-up sends everything due within this window (up to this much early), so a
     * thread wakes at most once per window instead of once per message. */
    PACE_WINDOW_NS = 200000,
    RESTART_BACKOFF_MS = 100, /* a failed reconnect (churn, storm) tries again after this */
    CHURN_CLOSE_TIMEOUT_MS = 2000,
    RING_ENTRIES = 4096,
    WORKER_TAG_PACE0 = 4, /* and 5: the pacer's timeouts (client.h uses 1..3) */
};

_Static_assert((int)LIVE_SLOTS >= (int)LIVE_COUNT,
               "worker.live_pushed must hold every live counter");

uint64_t worker_global_index(const struct bench_params *p, unsigned proc, unsigned thread,
                             uint64_t k)
{
    return proc + (uint64_t)p->procs * (thread + (uint64_t)p->threads * k);
}

uint64_t worker_local_count(const struct bench_params *p, unsigned proc, unsigned thread,
                            uint64_t total)
{
    uint64_t first = proc + (uint64_t)p->procs * thread;
    uint64_t stride = (uint64_t)p->procs * p->threads;
    return first >= total ? 0 : (total - first + stride - 1) / stride;
}

static uint64_t rusage_cpu_us(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static uint64_t *ctr(struct worker *w)
{
    return w->result->counters;
}

static uint64_t since_origin(const struct worker *w, uint64_t now_ns)
{
    return now_ns > w->shared->origin_ns ? now_ns - w->shared->origin_ns : 0;
}

/* ---- roles ---- */

static int worker_assign_roles(struct worker *w)
{
    const struct bench_params *p = w->params;
    for (uint32_t k = 0; k < w->conn_count; k++) {
        uint64_t i = worker_global_index(p, w->proc, w->thread, k);
        struct client_conn *c = &w->conns[k];
        struct conn_role *r = &w->roles[k];
        c->fd = -1;
        c->index = (uint32_t)i;
        r->channel = UINT32_MAX;
        size_t tracks = 0;
        if (p->scenario == BENCH_FANOUT) {
            uint64_t rank = i / p->channels;
            r->channel = (uint32_t)(i % p->channels);
            if (rank < p->subscribers) {
                c->role = ROLE_SUBSCRIBER;
                tracks = (size_t)p->publishers;
            } else {
                c->role = ROLE_PUBLISHER;
                r->sender_id = (uint32_t)(r->channel * p->publishers + (rank - p->subscribers));
                assert(r->sender_id < bench_params_senders(p));
            }
        } else if (p->scenario == BENCH_ECHO) {
            c->role = ROLE_ECHO;
            r->sender_id = (uint32_t)i;
            tracks = 1;
        } else {
            c->role = ROLE_MEMBER;
            if (p->channels > 0)
                r->channel = (uint32_t)(i % p->channels);
        }
        c->sender = c->role == ROLE_PUBLISHER || c->role == ROLE_ECHO;
        if (tracks > 0 && (r->tracks = calloc(tracks, sizeof *r->tracks)) == NULL)
            return -1;
    }
    return 0;
}

/* ---- starting connections ---- */

static void worker_start(struct worker *w, uint32_t k)
{
    struct client_conn *c = &w->conns[k];
    char path[BENCH_PATH_BYTES + 16];
    w->adapter->path(w->params, w->roles[k].channel, path, sizeof path);
    ctr(w)[BENCH_C_conn_started]++;
    w->attempts_inflight++;
    client_connect(&w->client, c, path, !w->roles[k].restart); /* may end (and count) at once */
}

static void worker_ramp(struct worker *w, uint64_t now_ns)
{
    while (w->ramp_next < w->conn_count && w->attempts_inflight < w->concurrency) {
        if (w->ramp_interval_ns > 0) {
            if (w->ramp_due_ns > now_ns)
                return;
            w->ramp_due_ns += (uint64_t)w->ramp_interval_ns;
        }
        worker_start(w, w->ramp_next++);
    }
}

static void worker_restarts(struct worker *w, uint64_t now_ns)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < w->restart_count; i++) {
        uint32_t k = w->restarts[i];
        if (w->attempts_inflight < w->concurrency && w->roles[k].next_due_ns <= now_ns &&
            w->conns[k].state == CLIENT_FREE)
            worker_start(w, k);
        else
            w->restarts[kept++] = k;
    }
    w->restart_count = kept;
}

static void worker_queue_restart(struct worker *w, struct client_conn *c, uint64_t delay_ms)
{
    uint32_t k = (uint32_t)(c - w->conns);
    assert(w->restart_count < w->conn_count);
    w->roles[k].next_due_ns = client_clock_ns() + delay_ms * 1000000u;
    w->restarts[w->restart_count++] = k;
}

/* ---- sending ---- */

/* Sender s's message n is due at run_start + (s / senders + n) * interval: the senders
 * are spread evenly over one interval, so the offered load is smooth. */
static uint64_t slot_due_ns(const struct worker *w, const struct conn_role *r, uint64_t n)
{
    return w->run_start_ns + (uint64_t)((r->phase + (double)n) * w->interval_ns);
}

static void worker_sender_pump(struct worker *w, struct client_conn *c)
{
    struct conn_role *r = worker_role_of(w, c);
    if (w->phase < PHASE_RUN || w->phase == PHASE_DONE || !c->ready || c->state != CLIENT_OPEN ||
        r->paced)
        return;
    uint64_t now_ns = client_clock_ns();
    for (unsigned n = 0; n < SENDER_BATCH_MAX && r->seq < r->slots; n++) {
        uint64_t due_ns = slot_due_ns(w, r, r->seq);
        if (due_ns > now_ns + PACE_WINDOW_NS)
            break;
        /* Within the pacing window the message is timed from now (the window is the
         * harness's batching, not the server's doing); later than that, from its schedule. */
        uint64_t stamp_ns = now_ns > due_ns + PACE_WINDOW_NS ? due_ns : now_ns;
        struct payload pl = {.sender = r->sender_id, .seq = r->seq, .sent_ns = stamp_ns};
        bool queued =
            c->role == ROLE_ECHO ? w->adapter->echo(w, c, &pl) : w->adapter->publish(w, c, &pl);
        if (!queued)
            return; /* the buffer is full: on_sent pumps again */
        uint64_t lag_ns = now_ns > due_ns ? now_ns - due_ns : 0;
        hist_record(&w->result->lag_ns, lag_ns);
        if (lag_ns > w->result->behind_max_ns)
            w->result->behind_max_ns = lag_ns;
        r->seq++;
    }
    if (r->seq < r->slots) {
        pacer_push(&w->pacer, slot_due_ns(w, r, r->seq), (uint32_t)(c - w->conns));
        r->paced = true;
    }
}

/* Sends what is due, then asks io_uring to wake the thread when the next message is. */
static void worker_pace(struct worker *w)
{
    uint64_t now_ns = client_clock_ns();
    struct pacer_entry e;
    for (uint32_t budget = w->pacer.count; budget > 0; budget--) {
        const struct pacer_entry *top = pacer_top(&w->pacer);
        if (top == NULL || top->due_ns > now_ns + PACE_WINDOW_NS || !pacer_pop(&w->pacer, &e))
            break;
        w->roles[e.conn].paced = false;
        worker_sender_pump(w, &w->conns[e.conn]);
    }
    const struct pacer_entry *top = pacer_top(&w->pacer);
    if (top == NULL)
        return;
    uint64_t due_ns = top->due_ns > now_ns ? top->due_ns : now_ns;
    int free_slot = -1;
    for (int i = 0; i < 2; i++) {
        if (w->pace_armed_ns[i] != 0 && w->pace_armed_ns[i] <= due_ns)
            return; /* a wake-up at or before it is already on its way */
        if (w->pace_armed_ns[i] == 0)
            free_slot = i;
    }
    if (free_slot < 0)
        return; /* both in flight, later: the wheel's tick bounds the wait meanwhile */
    w->pace_ts[free_slot].tv_sec = (long long)(due_ns / 1000000000u);
    w->pace_ts[free_slot].tv_nsec = (long long)(due_ns % 1000000000u);
    w->pace_armed_ns[free_slot] = due_ns;
    struct io_uring_sqe *sqe = loop_sqe(&w->loop);
    io_uring_prep_timeout(sqe, &w->pace_ts[free_slot], 0, IORING_TIMEOUT_ABS);
    io_uring_sqe_set_data64(sqe, loop_udata(w, WORKER_TAG_PACE0 + (unsigned)free_slot));
}

static void worker_start_senders(struct worker *w)
{
    double senders = (double)bench_params_senders(w->params);
    w->run_start_ns = atomic_load(&w->shared->run_start_ns);
    w->interval_ns = senders / w->params->rate_per_s * 1e9;
    /* Slots n with (phase + n) * interval < duration; over all senders they add up to
     * rate x duration exactly (rounded up when that is not whole). */
    double per_sender = (double)w->params->duration_ms * 1e6 / w->interval_ns;
    for (uint32_t k = 0; k < w->conn_count; k++) {
        struct client_conn *c = &w->conns[k];
        if (!c->sender)
            continue;
        struct conn_role *r = &w->roles[k];
        r->phase = r->sender_id / senders;
        double slots = ceil(per_sender - r->phase - 1e-9);
        r->slots = slots <= 0                       ? 0
                   : slots >= PAYLOAD_SEQ_MAX - 1.0 ? PAYLOAD_SEQ_MAX - 1
                                                    : (uint32_t)slots;
        if (c->ready && !r->paced && r->slots > 0) {
            pacer_push(&w->pacer, slot_due_ns(w, r, 0), k);
            r->paced = true;
        }
    }
}

/* ---- client hooks ---- */

static void hook_on_open(void *ctx, struct client_conn *c)
{
    struct worker *w = ctx;
    w->adapter->on_open(w, c);
    if (c->state == CLIENT_OPEN && !c->ready)
        client_timer_arm(&w->client, c, w->loop.now_ms + w->params->connect_timeout_ms);
}

static void hook_on_message(void *ctx, struct client_conn *c, uint8_t opcode, const uint8_t *head,
                            size_t head_len, uint64_t len)
{
    struct worker *w = ctx;
    ctr(w)[BENCH_C_msgs_received]++;
    ctr(w)[BENCH_C_bytes_received] += len;
    w->adapter->on_message(w, c, opcode, head, head_len, len);
}

static void hook_on_sent(void *ctx, struct client_conn *c, uint32_t frames, uint64_t bytes)
{
    struct worker *w = ctx;
    if (frames == 0 || !c->sender)
        return;
    struct conn_role *r = worker_role_of(w, c);
    ctr(w)[BENCH_C_msgs_sent] += frames;
    ctr(w)[BENCH_C_bytes_sent] += bytes;
    r->sent += frames;
    r->written += frames;
    bench_result_slice(w->result, since_origin(w, client_clock_ns()))->sent += frames;
    if (c->role == ROLE_PUBLISHER) {
        atomic_fetch_add_explicit(&w->shared->published[r->sender_id], frames,
                                  memory_order_relaxed);
        uint32_t subs =
            atomic_load_explicit(&w->shared->subs_ready[r->channel], memory_order_relaxed);
        w->expected_live += (uint64_t)frames * subs; /* live expected, local */
    } else if (c->role == ROLE_ECHO) {
        w->expected_live += frames;
    }
    worker_sender_pump(w, c);
}

static void hook_on_timer(void *ctx, struct client_conn *c)
{
    struct worker *w = ctx;
    if (!c->ready)
        client_abort(&w->client, c, CLIENT_END_TIMEOUT, 0); /* adapter setup took too long */
}

static void count_attempt_failure(struct worker *w, const struct client_conn *c)
{
    static const enum bench_counter by_reason[] = {
        [CLIENT_END_LOCAL] = BENCH_C_fail_connect_other,
        [CLIENT_END_SOCKET] = BENCH_C_fail_socket,
        [CLIENT_END_BIND] = BENCH_C_fail_bind,
        [CLIENT_END_NO_PORT] = BENCH_C_fail_no_port,
        [CLIENT_END_REFUSED] = BENCH_C_fail_refused,
        [CLIENT_END_CONNECT_OTHER] = BENCH_C_fail_connect_other,
        [CLIENT_END_TIMEOUT] = BENCH_C_fail_timeout,
        [CLIENT_END_HTTP_STATUS] = BENCH_C_fail_http_status,
        [CLIENT_END_BAD_HANDSHAKE] = BENCH_C_fail_bad_handshake,
        [CLIENT_END_SERVER_CLOSE] = BENCH_C_fail_reset,
        [CLIENT_END_EOF] = BENCH_C_fail_reset,
        [CLIENT_END_ERROR] = BENCH_C_fail_reset,
        [CLIENT_END_PROTOCOL] = BENCH_C_fail_protocol,
        [CLIENT_END_REFUSED_BY_SERVER] = BENCH_C_fail_refused_by_server,
    };
    assert(c->end_reason < sizeof by_reason / sizeof by_reason[0]);
    ctr(w)[BENCH_C_conn_failed]++;
    ctr(w)[by_reason[c->end_reason]]++;
    if (c->end_reason == CLIENT_END_HTTP_STATUS)
        bench_codes_add(&w->result->http_statuses, c->end_code, 1);
    bench_result_slice(w->result, since_origin(w, client_clock_ns()))->failed++;
}

static void count_loss(struct worker *w, const struct client_conn *c)
{
    ctr(w)[BENCH_C_conn_lost]++;
    switch (c->end_reason) {
    case CLIENT_END_SERVER_CLOSE:
        ctr(w)[BENCH_C_lost_close]++;
        bench_codes_add(&w->result->close_codes, c->end_code, 1);
        break;
    case CLIENT_END_EOF:
        ctr(w)[BENCH_C_lost_eof]++;
        break;
    case CLIENT_END_PROTOCOL:
        ctr(w)[BENCH_C_lost_protocol]++;
        break;
    default:
        ctr(w)[BENCH_C_lost_error]++;
        break;
    }
}

static void hook_on_end(void *ctx, struct client_conn *c)
{
    struct worker *w = ctx;
    struct conn_role *r = worker_role_of(w, c);
    bool was_ready = c->ready;
    c->ready = false;
    if (!was_ready) {
        assert(w->attempts_inflight > 0);
        w->attempts_inflight--;
        count_attempt_failure(w, c);
        if (r->restart && w->phase != PHASE_DONE)
            worker_queue_restart(w, c, RESTART_BACKOFF_MS);
        return;
    }
    if (c->role == ROLE_SUBSCRIBER)
        atomic_fetch_sub_explicit(&w->shared->subs_ready[r->channel], 1, memory_order_relaxed);
    if (c->closing_by_us) {
        ctr(w)[BENCH_C_conn_closed]++;
    } else {
        count_loss(w, c);
    }
    if (r->restart && w->phase != PHASE_DONE)
        worker_queue_restart(w, c, 0);
}

static const struct client_hooks worker_hooks = {
    .on_open = hook_on_open,
    .on_message = hook_on_message,
    .on_sent = hook_on_sent,
    .on_timer = hook_on_timer,
    .on_end = hook_on_end,
};

/* ---- called by adapters ---- */

void worker_conn_ready(struct worker *w, struct client_conn *c)
{
    assert(!c->ready && w->attempts_inflight > 0);
    struct conn_role *r = worker_role_of(w, c);
    uint64_t now_ns = client_clock_ns();
    c->ready = true;
    w->attempts_inflight--;
    tw_cancel(&w->loop.wheel, &c->timer);
    ctr(w)[BENCH_C_conn_ready]++;
    bench_result_record_connect(w->result, since_origin(w, now_ns), now_ns - c->started_ns);
    if (w->phase == PHASE_STORM && r->restart)
        bench_result_record_latency(w->result, since_origin(w, now_ns), now_ns - w->storm_start_ns);
    r->restart = false;
    if (c->role == ROLE_SUBSCRIBER) {
        atomic_fetch_add_explicit(&w->shared->subs_ready[r->channel], 1, memory_order_relaxed);
    }
    r->was_ready = true;
    if (c->sender && w->phase >= PHASE_RUN && w->phase != PHASE_DONE) {
        /* A late sender starts with the slot due now; the ones it missed are unsent. */
        while (r->seq < r->slots && slot_due_ns(w, r, r->seq) + PACE_WINDOW_NS < now_ns)
            r->seq++;
        worker_sender_pump(w, c);
    }
}

void worker_conn_refused(struct worker *w, struct client_conn *c)
{
    client_abort(&w->client, c, CLIENT_END_REFUSED_BY_SERVER, 0);
}

void worker_send_refused(struct worker *w, struct client_conn *c)
{
    struct conn_role *r = worker_role_of(w, c);
    if (!c->sender || r->sent == 0)
        return;
    ctr(w)[BENCH_C_refused]++;
    r->sent--;
    if (c->role == ROLE_PUBLISHER) {
        atomic_fetch_sub_explicit(&w->shared->published[r->sender_id], 1, memory_order_relaxed);
        uint32_t subs =
            atomic_load_explicit(&w->shared->subs_ready[r->channel], memory_order_relaxed);
        w->expected_live -= w->expected_live >= subs ? subs : w->expected_live;
    } else if (w->expected_live > 0) {
        w->expected_live--;
    }
}

void worker_on_payload(struct worker *w, struct client_conn *c, const uint8_t *head,
                       size_t head_len, uint64_t len)
{
    (void)len;
    struct payload pl;
    if (!payload_read(head, head_len, &pl) || pl.seq >= PAYLOAD_SEQ_MAX) {
        ctr(w)[BENCH_C_unparsed]++;
        return;
    }
    struct conn_role *r = worker_role_of(w, c);
    struct seq_track *track = NULL;
    enum bench_counter got;
    if (c->role == ROLE_SUBSCRIBER) {
        uint64_t channel = pl.sender / w->params->publishers;
        if (channel != r->channel) {
            ctr(w)[BENCH_C_foreign]++;
            return;
        }
        track = &r->tracks[pl.sender % w->params->publishers];
        got = BENCH_C_deliveries;
    } else if (c->role == ROLE_ECHO) {
        if (pl.sender != r->sender_id) {
            ctr(w)[BENCH_C_foreign]++;
            return;
        }
        track = &r->tracks[0];
        got = BENCH_C_echo_replies;
    } else {
        ctr(w)[c->role == ROLE_PUBLISHER ? BENCH_C_publisher_received : BENCH_C_foreign]++;
        return;
    }
    enum seq_verdict v = seq_track_see(track, pl.seq);
    if (v == SEQ_DUPLICATE) {
        ctr(w)[BENCH_C_duplicated]++;
        return;
    }
    if (v == SEQ_REORDERED)
        ctr(w)[BENCH_C_reordered]++;
    ctr(w)[got]++;
    uint64_t now_ns = client_clock_ns();
    uint64_t latency_ns = now_ns > pl.sent_ns ? now_ns - pl.sent_ns : 0;
    bench_result_record_latency(w->result, since_origin(w, now_ns), latency_ns);
}

/* ---- phases ---- */

static void worker_storm(struct worker *w)
{
    w->storm_start_ns = atomic_load(&w->shared->storm_start_ns);
    for (uint32_t k = 0; k < w->conn_count; k++) {
        struct client_conn *c = &w->conns[k];
        if (!c->ready)
            continue;
        w->roles[k].restart = true;
        c->closing_by_us = true;
        client_abort(&w->client, c, CLIENT_END_LOCAL, 0);
    }
}

static void worker_churn(struct worker *w, uint64_t now_ns)
{
    if (w->churn_interval_ns <= 0 || w->conn_count == 0)
        return;
    for (unsigned n = 0; n < 64 && w->churn_due_ns <= now_ns; n++) {
        w->churn_due_ns += (uint64_t)w->churn_interval_ns;
        for (uint32_t tries = 0; tries < w->conn_count; tries++) {
            uint32_t k = w->churn_cursor++ % w->conn_count;
            struct client_conn *c = &w->conns[k];
            if (!c->ready || c->state != CLIENT_OPEN)
                continue;
            w->roles[k].restart = true;
            ctr(w)[BENCH_C_churn_cycles]++;
            client_close(&w->client, c, CHURN_CLOSE_TIMEOUT_MS);
            break;
        }
    }
}

/* Counts, per connection, what was sent and never arrived, and what was due and never
 * sent. Runs once, at PHASE_DONE, after every publisher in every process has stopped. */
static void worker_account(struct worker *w)
{
    const struct bench_params *p = w->params;
    for (uint32_t k = 0; k < w->conn_count; k++) {
        struct client_conn *c = &w->conns[k];
        struct conn_role *r = &w->roles[k];
        if (c->role == ROLE_SUBSCRIBER && r->was_ready) {
            for (uint64_t j = 0; j < p->publishers; j++) {
                uint64_t sender = r->channel * p->publishers + j;
                uint64_t sent = atomic_load(&w->shared->published[sender]);
                uint64_t got = r->tracks[j].received;
                ctr(w)[BENCH_C_expected] += sent;
                ctr(w)[BENCH_C_lost] += sent > got ? sent - got : 0;
            }
        } else if (c->role == ROLE_ECHO) {
            ctr(w)[BENCH_C_expected] += r->sent;
            ctr(w)[BENCH_C_lost] +=
                r->sent > r->tracks[0].received ? r->sent - r->tracks[0].received : 0;
        }
        if (c->sender && r->slots > r->written)
            ctr(w)[BENCH_C_msgs_unsent] += r->slots - r->written;
    }
}

static void worker_push_live(struct worker *w)
{
    uint64_t now[LIVE_COUNT] = {0};
    now[LIVE_STARTED] = ctr(w)[BENCH_C_conn_started];
    now[LIVE_READY] = ctr(w)[BENCH_C_conn_ready];
    now[LIVE_FAILED] = ctr(w)[BENCH_C_conn_failed];
    now[LIVE_LOST] = ctr(w)[BENCH_C_conn_lost];
    now[LIVE_CLOSED] = ctr(w)[BENCH_C_conn_closed];
    now[LIVE_SENT] = ctr(w)[BENCH_C_msgs_sent];
    now[LIVE_RECEIVED] = ctr(w)[BENCH_C_deliveries] + ctr(w)[BENCH_C_echo_replies];
    now[LIVE_EXPECTED] = w->expected_live;
    for (int i = 0; i < LIVE_THREADS_UP; i++) {
        if (now[i] > w->live_pushed[i])
            atomic_fetch_add_explicit(&w->shared->live[i], now[i] - w->live_pushed[i],
                                      memory_order_relaxed);
        else if (now[i] < w->live_pushed[i]) /* expected shrinks when sends are refused */
            atomic_fetch_sub_explicit(&w->shared->live[i], w->live_pushed[i] - now[i],
                                      memory_order_relaxed);
        w->live_pushed[i] = now[i];
    }
}

static void worker_enter_phase(struct worker *w, int phase, int target, uint64_t now_ns)
{
    w->phase = phase;
    switch (phase) {
    case PHASE_RAMP:
        w->ramp_due_ns = now_ns;
        break;
    case PHASE_RUN:
        if (w->thread == 0) {
            uint64_t cpu = rusage_cpu_us();
            ctr(w)[BENCH_C_ramp_cpu_us] += cpu - w->cpu_run_start_us;
            w->cpu_run_start_us = cpu;
        }
        if (bench_params_senders(w->params) > 0)
            worker_start_senders(w);
        w->churn_due_ns = now_ns;
        break;
    case PHASE_STORM:
        if (w->params->scenario == BENCH_STORM && target == PHASE_STORM)
            worker_storm(w);
        break;
    case PHASE_DONE:
        worker_account(w);
        if (w->thread == 0)
            ctr(w)[BENCH_C_run_cpu_us] += rusage_cpu_us() - w->cpu_run_start_us;
        w->stop = true;
        break;
    default:
        break;
    }
}

static void worker_tick(struct worker *w)
{
    int phase = atomic_load_explicit(&w->shared->phase, memory_order_acquire);
    uint64_t now_ns = client_clock_ns();
    while (w->phase < phase && !w->stop)
        worker_enter_phase(w, w->phase + 1, phase, now_ns);
    if (w->stop) {
        worker_push_live(w);
        return;
    }
    if (w->phase == PHASE_RAMP)
        worker_ramp(w, now_ns);
    if (w->phase == PHASE_RUN && w->params->scenario == BENCH_CHURN)
        worker_churn(w, now_ns);
    worker_restarts(w, now_ns);
    worker_push_live(w);
    bool busy = w->phase == PHASE_RAMP || w->phase == PHASE_STORM || w->restart_count > 0 ||
                (w->phase == PHASE_RUN && w->params->scenario == BENCH_CHURN);
    tw_arm(&w->loop.wheel, &w->tick, w->loop.now_ms + (busy ? TICK_FAST_MS : TICK_SLOW_MS));
}

/* ---- the loop ---- */

static void worker_dispatch(void *ctx, const struct io_uring_cqe *cqe)
{
    struct worker *w = ctx;
    if (loop_udata_owner(cqe->user_data) == (void *)w) {
        unsigned slot = loop_udata_tag(cqe->user_data) - WORKER_TAG_PACE0;
        assert(slot < 2);
        w->pace_armed_ns[slot] = 0; /* the next flush sends what is due */
        return;
    }
    client_dispatch(&w->client, cqe);
}

static void worker_flush(void *ctx)
{
    struct worker *w = ctx;
    if (w->pacer.count > 0)
        worker_pace(w);
    client_flush(&w->client);
}

static void worker_timer(struct tw_timer *t, void *ctx)
{
    struct worker *w = ctx;
    if (t == &w->tick) {
        worker_tick(w);
        return;
    }
    struct client_conn *c = (struct client_conn *)((char *)t - offsetof(struct client_conn, timer));
    assert(c >= w->conns && c < w->conns + w->conn_count);
    client_timer_expired(&w->client, c);
}

static uint32_t recv_buffer_count(uint32_t conns)
{
    uint32_t want = conns / 16, count = 64;
    while (count < want && count < 2048)
        count *= 2;
    return count;
}

static int worker_setup(struct worker *w)
{
    const struct bench_params *p = w->params;
    uint64_t total = bench_params_total_connections(p);
    w->conn_count = (uint32_t)worker_local_count(p, w->proc, w->thread, total);
    w->conns = calloc(w->conn_count ? w->conn_count : 1, sizeof *w->conns);
    w->roles = calloc(w->conn_count ? w->conn_count : 1, sizeof *w->roles);
    w->restarts = calloc(w->conn_count ? w->conn_count : 1, sizeof *w->restarts);
    if (w->conns == NULL || w->roles == NULL || w->restarts == NULL ||
        !pacer_init(&w->pacer, w->conn_count) || worker_assign_roles(w) != 0) {
        snprintf(w->error, sizeof w->error, "out of memory for %u connections", w->conn_count);
        return -1;
    }
    unsigned threads_total = p->procs * p->threads;
    w->concurrency = (uint32_t)(p->concurrency / threads_total);
    if (w->concurrency == 0)
        w->concurrency = 1;
    w->ramp_interval_ns = p->ramp_per_s > 0 ? threads_total / p->ramp_per_s * 1e9 : 0;
    w->churn_interval_ns = p->churn_per_s > 0 ? threads_total / p->churn_per_s * 1e9 : 0;
    struct loop_params lp = {
        .sq_entries = RING_ENTRIES,
        .cq_entries = RING_ENTRIES * 4,
        .dispatch = worker_dispatch,
        .flush = worker_flush,
        .timer_expire = worker_timer,
        .ctx = w,
    };
    char err[LOOP_ERROR_BYTES];
    if (loop_init(&w->loop, &lp, err) != 0) {
        snprintf(w->error, sizeof w->error, "%s", err);
        return -1;
    }
    struct client_params cp = {
        .target = p->target,
        .source_first = p->source_ip_first,
        .source_count = p->source_ip_count,
        .port_first = p->local_port_first,
        .port_count = p->local_port_count,
        .connect_timeout_ms = p->connect_timeout_ms,
        .recv_buffer_count = recv_buffer_count(w->conn_count),
        .recv_buffer_bytes = 8192,
        .seed = client_clock_ns() ^ ((uint64_t)getpid() << 32) ^ ((uint64_t)w->thread << 48),
    };
    int ret = client_init(&w->client, &w->loop, &cp, &worker_hooks, w);
    if (ret != 0) {
        snprintf(w->error, sizeof w->error, "cannot register %u receive buffers: %s",
                 cp.recv_buffer_count, strerror(-ret));
        loop_destroy(&w->loop);
        return -1;
    }
    return 0;
}

static void worker_teardown(struct worker *w)
{
    if (w->conns != NULL) {
        client_destroy(&w->client);
        loop_destroy(&w->loop); /* cancels what is still in flight */
        for (uint32_t k = 0; k < w->conn_count; k++) {
            if (w->conns[k].fd >= 0)
                close(w->conns[k].fd);
            free(w->conns[k].out);
            free(w->conns[k].hs);
            free(w->conns[k].head);
            free(w->roles[k].tracks);
        }
    }
    free(w->conns);
    free(w->roles);
    free(w->restarts);
    pacer_destroy(&w->pacer);
}

int worker_run(struct worker *w)
{
    if (worker_setup(w) != 0) {
        atomic_fetch_add(&w->shared->live[LIVE_THREADS_FAILED], 1);
        free(w->conns);
        free(w->roles);
        free(w->restarts);
        pacer_destroy(&w->pacer);
        return -1;
    }
    w->phase = PHASE_INIT;
    w->cpu_run_start_us = w->thread == 0 ? rusage_cpu_us() : 0;
    atomic_fetch_add(&w->shared->live[LIVE_THREADS_UP], 1);
    tw_arm(&w->loop.wheel, &w->tick, w->loop.now_ms + TICK_FAST_MS);
    int ret = 0;
    while (!w->stop) {
        ret = loop_run_once(&w->loop, TICK_SLOW_MS);
        if (ret != 0) {
            snprintf(w->error, sizeof w->error, "io_uring_enter failed: %s", strerror(-ret));
            break;
        }
    }
    if (!w->stop)
        worker_enter_phase(w, PHASE_DONE, PHASE_DONE, client_clock_ns());
    worker_push_live(w);
    w->result->counters[BENCH_C_pings_answered] += w->client.pings_answered;
    w->result->counters[BENCH_C_recv_rearms] += w->client.recv_rearms;
    atomic_fetch_add(&w->shared->live[LIVE_THREADS_DONE], 1);
    worker_teardown(w);
    return ret == 0 ? 0 : -1;
}
