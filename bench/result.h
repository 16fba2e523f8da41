/* What one run measured: counters, failures by kind, latency histograms and a timeline.
 *
 * Each thread fills its own result; a process merges its threads' results into its slot
 * in shared memory; the parent merges the slots. Everything is fixed size and merged by
 * adding (or taking the max), so the order of merging does not matter.
 *
 * The timeline splits the run into slices of `slice_ns` (from the run's origin, the start
 * of the ramp). When a time falls beyond the last slice, the timeline doubles its slice
 * length, merging pairs, so any run length fits BENCH_SLICES_MAX slices; results with
 * different slice lengths merge onto the longer one.
 */
#ifndef TIDEGATE_BENCH_RESULT_H
#define TIDEGATE_BENCH_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/hist.h"

/* X(name, description): every counter, summed over threads and processes. */
#define BENCH_COUNTERS(X)                                                                          \
    X(conn_started, "connection attempts started")                                                 \
    X(conn_ready, "attempts that became ready (upgraded and set up by the adapter)")               \
    X(conn_failed, "attempts that failed, by kind in fail_*")                                      \
    X(fail_socket, "socket() failed (descriptor or memory limit)")                                 \
    X(fail_bind, "bind() to the source address failed")                                            \
    X(fail_no_port, "no free local port (EADDRNOTAVAIL): add --source-ips")                        \
    X(fail_refused, "TCP connection refused")                                                      \
    X(fail_reset, "reset or closed before the upgrade completed")                                  \
    X(fail_timeout, "no upgrade or protocol setup within --connect-timeout")                       \
    X(fail_connect_other, "connect() failed for another reason")                                   \
    X(fail_http_status, "upgrade answered with a status other than 101 (see http_statuses)")       \
    X(fail_bad_handshake, "malformed 101 response or wrong Sec-WebSocket-Accept")                  \
    X(fail_protocol, "RFC 6455 violation by the server during setup")                              \
    X(fail_refused_by_server, "the protocol refused connect or join (error or disconnect)")        \
    X(conn_lost, "ready connections that ended without the harness asking")                        \
    X(lost_close, "... by a close frame from the server (see close_codes)")                        \
    X(lost_eof, "... by TCP EOF without a close frame")                                            \
    X(lost_error, "... by a socket error (reset)")                                                 \
    X(lost_protocol, "... by an RFC 6455 violation by the server")                                 \
    X(conn_closed, "connections the harness closed itself (churn, storm)")                         \
    X(msgs_sent, "data messages fully written to the socket")                                      \
    X(bytes_sent, "bytes of those messages, frame headers included")                               \
    X(msgs_unsent, "messages due but not written by the end (sender behind)")                      \
    X(msgs_received, "data messages received")                                                     \
    X(bytes_received, "payload bytes of those messages")                                           \
    X(deliveries, "fanout: distinct messages received by subscribers")                             \
    X(echo_replies, "echo: distinct replies received")                                             \
    X(expected, "fanout: messages sent x subscribers of their channel; echo: messages sent")       \
    X(lost, "expected messages that never arrived")                                                \
    X(duplicated, "messages received again (or reordered beyond 64)")                              \
    X(reordered, "messages received after a later one of the same sender")                         \
    X(foreign, "payloads from a sender this connection should not hear")                           \
    X(unparsed, "data messages with no payload the harness could read")                            \
    X(publisher_received, "messages a publisher received (raw servers that echo the sender)")      \
    X(acks, "tidegate: ack replies to send_message")                                               \
    X(proto_errors, "tidegate: error replies (by code in proto_errors)")                           \
    X(refused, "messages the server refused with an error reply: never published, not expected")   \
    X(gaps, "tidegate: gap notices")                                                               \
    X(disconnects, "tidegate: disconnect notices")                                                 \
    X(pings_answered, "server pings answered with a pong")                                         \
    X(churn_cycles, "churn: disconnect+reconnect cycles started")                                  \
    X(ramp_cpu_us, "harness CPU time (user+system) during the ramp")                               \
    X(recv_rearms, "multishot receives re-armed after the thread ran out of receive buffers")      \
    X(run_cpu_us, "harness CPU time (user+system) from the end of the ramp to the end")

#define BENCH_COUNTER_ENUM(name, desc) BENCH_C_##name,
enum bench_counter { BENCH_COUNTERS(BENCH_COUNTER_ENUM) BENCH_COUNTER_COUNT };
#undef BENCH_COUNTER_ENUM

const char *bench_counter_name(enum bench_counter c);
const char *bench_counter_description(enum bench_counter c);

/* The protocol's error codes (docs/protocol.md section 9), in that order, then "other". */
enum { BENCH_PROTO_ERROR_COUNT = 21 };
const char *bench_proto_error_name(unsigned i);
/* Index of a code ("rate_limited") in the table; the "other" index when unknown. */
unsigned bench_proto_error_index(const char *code, size_t len);

/* A small table of numeric codes (close codes, HTTP statuses) and how often each came. */
enum { BENCH_CODES_MAX = 16 };
struct bench_codes {
    uint16_t code[BENCH_CODES_MAX];
    uint64_t count[BENCH_CODES_MAX];
    uint64_t other; /* codes that found the table full */
};
void bench_codes_add(struct bench_codes *t, uint16_t code, uint64_t n);

enum { BENCH_SLICES_MAX = 300 };

struct bench_slice {
    uint64_t latency_max_ns;
    uint32_t latency_count; /* latency samples (deliveries or replies) in the slice */
    uint32_t ready;         /* connections that became ready */
    uint32_t failed;        /* attempts that failed */
    uint32_t sent;          /* messages written */
    uint32_t buckets[HIST_COARSE_BUCKETS];
};

struct bench_result {
    uint64_t counters[BENCH_COUNTER_COUNT];
    uint64_t behind_max_ns;           /* furthest a sender fell behind its schedule */
    uint64_t last_sample_ns;          /* time of the last latency sample, from the origin */
    struct bench_codes close_codes;   /* close codes of lost connections */
    struct bench_codes http_statuses; /* statuses of refused upgrades */
    uint64_t proto_errors[BENCH_PROTO_ERROR_COUNT];
    struct hist connect_ns; /* connection start to ready */
    struct hist latency_ns; /* delivery latency (fanout) or round trip (echo) */
    struct hist ack_ns;     /* tidegate: a publish's (scheduled) send to its ack */
    struct hist lag_ns;     /* how late each message was written, against its schedule */
    uint64_t slice_ns;
    uint32_t slices_used; /* slices[0..slices_used) have been written */
    struct bench_slice slices[BENCH_SLICES_MAX];
};

/* Empties `r` with a first slice length of `slice_ns` (> 0). */
void bench_result_init(struct bench_result *r, uint64_t slice_ns);

/* The slice holding time `t_ns` from the origin, doubling the slice length as needed. */
struct bench_slice *bench_result_slice(struct bench_result *r, uint64_t t_ns);

void bench_result_record_latency(struct bench_result *r, uint64_t t_ns, uint64_t latency_ns);
void bench_result_record_connect(struct bench_result *r, uint64_t t_ns, uint64_t connect_ns);

/* Adds `from` into `into`. */
void bench_result_merge(struct bench_result *into, const struct bench_result *from);

/* Quantile of one slice's latencies (coarse: within 6.25%). */
uint64_t bench_slice_quantile(const struct bench_slice *s, double q);

/* The first slice length to use for a run expected to last `expected_ms`: a round value
 * (100 ms, 200 ms, 500 ms, 1 s, ...) giving at most about 200 slices. */
uint64_t bench_slice_ns_for(uint64_t expected_ms);

#endif
