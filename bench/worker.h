/* One harness thread: its share of the connections, their roles in the scenario, and the
 * phases it follows (set by the coordinating parent process in shared memory).
 *
 * Connections are dealt to processes and threads round-robin by global index i: process
 * p, thread t holds i = p + procs * (t + threads * k) for k = 0, 1, ... So every thread
 * holds a mix of subscribers and publishers, and the ramp spreads evenly.
 *
 * Roles (by global index):
 *   fanout  channel = i mod C and r = i div C: r < S is subscriber r of that channel,
 *           otherwise publisher r - S, whose sender id is channel * P + (r - S)
 *   echo    every connection sends to itself; sender id i
 *   others  members: hold the connection, joined to channel i mod C when C > 0
 */
#ifndef TIDEGATE_BENCH_WORKER_H
#define TIDEGATE_BENCH_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "bench/adapter.h"
#include "bench/pacer.h"
#include "bench/client.h"
#include "bench/params.h"
#include "bench/payload.h"
#include "bench/result.h"
#include "core/loop.h"

struct bench_shared;
enum { LIVE_SLOTS = 16 }; /* >= LIVE_COUNT (shared.h) */

enum worker_role { ROLE_MEMBER, ROLE_SUBSCRIBER, ROLE_PUBLISHER, ROLE_ECHO };

/* Per-connection scenario state, parallel to the connection array. */
struct conn_role {
    uint32_t channel;         /* UINT32_MAX: none */
    uint32_t sender_id;       /* publisher and echo */
    uint32_t seq;             /* next sequence number (slot of the schedule) to send */
    uint32_t slots;           /* messages the schedule gives this sender */
    uint32_t written;         /* messages fully written (refused ones included) */
    bool restart;             /* churn/storm: reconnect when this attempt ends */
    bool was_ready;           /* ready at some point: its losses and unsent messages count */
    bool paced;               /* in the thread's pacer heap */
    uint64_t next_due_ns;     /* members: when to reconnect (churn, storm) */
    double phase;             /* sender: offset of its schedule, in intervals (0..1) */
    uint64_t sent;            /* messages written and not refused: what may come back */
    struct seq_track *tracks; /* subscriber: one per publisher of its channel; echo: one */
};

struct worker {
    struct loop loop;
    struct client client;
    const struct bench_params *params;
    const struct adapter_ops *adapter;
    struct bench_shared *shared;
    struct bench_result *result; /* this thread's */
    unsigned proc, thread;
    uint32_t conn_count;
    struct client_conn *conns;
    struct conn_role *roles;
    int phase; /* the last phase acted on */
    bool stop;

    uint32_t ramp_next;         /* next connection of the first ramp */
    uint32_t attempts_inflight; /* attempts started, not yet ready or failed */
    uint32_t concurrency;       /* attempts in flight at most in this thread */
    double ramp_interval_ns;    /* 0: unpaced */
    uint64_t ramp_due_ns;
    uint32_t *restarts; /* connections waiting to reconnect (churn, storm) */
    uint32_t restart_count;
    double churn_interval_ns;
    uint64_t churn_due_ns;
    uint32_t churn_cursor;
    double interval_ns;    /* between one sender's messages */
    uint64_t run_start_ns; /* the schedule's origin */
    uint64_t storm_start_ns;
    struct tw_timer tick;
    struct pacer pacer;                  /* senders by next due time */
    struct __kernel_timespec pace_ts[2]; /* the precise wake-ups in flight */
    uint64_t pace_armed_ns[2];           /* their due times, 0 when free */
    uint64_t cpu_run_start_us;
    uint64_t expected_live;           /* what should arrive for what this thread sent */
    uint64_t live_pushed[LIVE_SLOTS]; /* live counters already added to the shared ones */
    char error[LOOP_ERROR_BYTES + 64];
};

/* Runs one thread's part of the run to the end (phase DONE); fills w->result. Returns 0,
 * or -1 with w->error set when the thread could not start (ring, buffers, memory). */
int worker_run(struct worker *w);

/* ---- called by adapters ---- */

/* The connection is set up and counts as ready. */
void worker_conn_ready(struct worker *w, struct client_conn *c);
/* The protocol refused the connection during setup: end it as failed. */
void worker_conn_refused(struct worker *w, struct client_conn *c);
/* The server refused a message this connection sent (an error reply to send_message or
 * ping): it was never published, so no one should expect it. */
void worker_send_refused(struct worker *w, struct client_conn *c);
/* A message carrying a payload (or trying to): `head` holds its first bytes. */
void worker_on_payload(struct worker *w, struct client_conn *c, const uint8_t *head,
                       size_t head_len, uint64_t len);

static inline struct conn_role *worker_role_of(struct worker *w, const struct client_conn *c)
{
    return &w->roles[c - w->conns];
}

/* Global connection index of local connection k. */
uint64_t worker_global_index(const struct bench_params *p, unsigned proc, unsigned thread,
                             uint64_t k);
/* How many connections thread (proc, thread) holds out of `total`. */
uint64_t worker_local_count(const struct bench_params *p, unsigned proc, unsigned thread,
                            uint64_t total);

#endif
