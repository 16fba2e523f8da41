/* tidegate-bench command line: the scenario, its load shape, the process model and the
 * outputs, parsed and checked into one struct before anything runs.
 *
 * Every scenario is bounded: in count (connections, channels, rates have ranges) and in
 * time (ramp, run, drain and the whole run each have a limit). Errors are sentences that
 * name the option, the value and what to do, written into the caller's buffer.
 */
#ifndef TIDEGATE_BENCH_PARAMS_H
#define TIDEGATE_BENCH_PARAMS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum bench_scenario {
    BENCH_CONNECT, /* ramp to N connections: handshakes per second, failures by kind */
    BENCH_IDLE,    /* hold N connections: server memory per connection, connections lost */
    BENCH_ECHO,    /* round-trip latency at a rate */
    BENCH_FANOUT,  /* channels x subscribers x publishers: deliveries, loss, latency */
    BENCH_CHURN,   /* connect and disconnect at a rate while the rest are held */
    BENCH_STORM,   /* everyone reconnects at once: time until all are back */
    BENCH_SCENARIO_COUNT
};

enum bench_adapter_kind {
    BENCH_ADAPTER_RAW,      /* any RFC 6455 server: send text, count what comes back */
    BENCH_ADAPTER_TIDEGATE, /* docs/protocol.md: connect, join_channel, send_message, ping */
};

enum bench_progress { BENCH_PROGRESS_AUTO, BENCH_PROGRESS_ON, BENCH_PROGRESS_OFF };

enum {
    BENCH_SERVER_PIDS_MAX = 64,
    BENCH_THREADS_MAX = 64,
    BENCH_PROCS_MAX = 256,
    BENCH_PATH_BYTES = 256,
    BENCH_NAMESPACE_BYTES = 65,
    BENCH_LABEL_BYTES = 64,
    BENCH_ERROR_BYTES = 512,
    BENCH_FDS_RESERVED = 64, /* rings, stdio, output files */
};

struct bench_params {
    enum bench_scenario scenario;
    enum bench_adapter_kind adapter;
    struct sockaddr_in target;                  /* --target IPv4:PORT */
    char path[BENCH_PATH_BYTES];                /* --path, the upgrade request path */
    char namespace_name[BENCH_NAMESPACE_BYTES]; /* --namespace, tidegate channel prefix */
    const char *token;                          /* --token, a JWT (points into argv) or NULL */
    char label[BENCH_LABEL_BYTES];              /* --label, names the run in the outputs */

    uint64_t connections;   /* connect/idle/echo/churn/storm: connections held */
    uint64_t channels;      /* fanout: channels; others: joined round-robin, 0 for none */
    uint64_t subscribers;   /* fanout: subscribers per channel */
    uint64_t publishers;    /* fanout: publishers per channel */
    uint64_t message_bytes; /* echo/fanout: payload bytes per message */
    double rate_per_s;      /* echo/fanout: messages sent per second, all senders together */
    double ramp_per_s;      /* connections started per second, all together; 0: unpaced */
    double churn_per_s;     /* churn: disconnect+reconnect cycles per second */
    uint64_t concurrency;   /* connection attempts in flight at most, all together */

    uint64_t duration_ms;        /* measured phase: sending, holding or churning */
    uint64_t connect_timeout_ms; /* one connection: TCP + upgrade + protocol setup */
    uint64_t ramp_timeout_ms;    /* the whole ramp */
    uint64_t drain_ms;           /* after the last send, for messages still on their way */
    uint64_t hold_ms;            /* storm: held before everyone reconnects */
    uint64_t max_time_ms;        /* the whole run, whatever happens */

    unsigned threads; /* per process; 0 becomes the number of online CPUs */
    unsigned procs;
    uint32_t source_ip_first; /* host byte order; 0 when --source-ips is not given */
    uint32_t source_ip_count;
    uint32_t local_port_first; /* the kernel's ephemeral range (set by main, not parsed): */
    uint32_t local_port_count; /* first attempts bind to ports in it with --source-ips */

    pid_t server_pids[BENCH_SERVER_PIDS_MAX];
    size_t server_pid_count;

    const char *json_path; /* points into argv, or NULL */
    const char *plot_path;
    enum bench_progress progress;
    bool help;
};

/* Parses argv (argv[1] is the scenario) into `p`, applying the defaults of the scenario.
 * Returns 0, or -1 with a sentence in `err`. `--help` sets p->help and returns 0. */
int bench_params_parse(struct bench_params *p, int argc, char **argv, char err[BENCH_ERROR_BYTES]);

/* Checks the run fits the machine: connections per process within `fd_limit` (less
 * BENCH_FDS_RESERVED for the process's own files) and connections per source address within
 * `ports_per_address` local ports (0: not checked). Returns 0 or -1 with a sentence saying
 * which option to raise. */
int bench_params_check_limits(const struct bench_params *p, uint64_t fd_limit,
                              uint64_t ports_per_address, char err[BENCH_ERROR_BYTES]);

/* Writes the usage text to `out` (a FILE *). */
void bench_params_usage(void *out);

/* Connections the scenario opens in total (fanout: channels x (subscribers + publishers)). */
uint64_t bench_params_total_connections(const struct bench_params *p);
/* Connections that send messages (echo: all; fanout: the publishers; others: none). */
uint64_t bench_params_senders(const struct bench_params *p);

const char *bench_scenario_name(enum bench_scenario s);
const char *bench_adapter_name(enum bench_adapter_kind a);

/* Value parsers, exposed for tests. Each returns false on a malformed or out-of-range
 * value. Counts take k/m suffixes (10^3, 10^6), sizes k/m (2^10, 2^20), durations ms, s,
 * m, h (a bare number is seconds), rates a decimal number with optional k/m. */
bool bench_parse_count(const char *s, uint64_t *out);
bool bench_parse_size(const char *s, uint64_t *out);
bool bench_parse_duration_ms(const char *s, uint64_t *out);
bool bench_parse_rate(const char *s, double *out);
/* "127.0.0.2-127.0.0.50" or a single address; first <= last. */
bool bench_parse_ip_range(const char *s, uint32_t *first, uint32_t *count);
/* "IPv4:PORT" with a port 1..65535. */
bool bench_parse_target(const char *s, struct sockaddr_in *out);

#endif
