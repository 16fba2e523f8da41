/* Command line of tidegate-bench: see params.h. One table describes every option (name,
 * kind, where it goes, range, help), so parsing, range checks and --help cannot drift
 * apart. Scenario defaults are applied first, then the options in order. */
#include "bench/params.h"

#include "bench/payload.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum opt_kind { OPT_COUNT, OPT_SIZE, OPT_DURATION, OPT_RATE, OPT_SPECIAL };

enum opt_special {
    SP_NONE,
    SP_TARGET,
    SP_PATH,
    SP_ADAPTER,
    SP_NAMESPACE,
    SP_TOKEN,
    SP_LABEL,
    SP_THREADS,
    SP_PROCS,
    SP_SOURCE_IPS,
    SP_SERVER_PIDS,
    SP_JSON,
    SP_PLOT,
    SP_PROGRESS,
};

struct opt {
    const char *name;
    enum opt_kind kind;
    size_t offset; /* of the uint64_t or double field, for the non-special kinds */
    double min, max;
    enum opt_special special;
    const char *arg;
    const char *help;
};

#define U64(field) offsetof(struct bench_params, field)
#define HOUR_MS    (3600.0 * 1000.0)

static const struct opt opts[] = {
    {"target", OPT_SPECIAL, 0, 0, 0, SP_TARGET, "IPv4:PORT",
     "server to load (default 127.0.0.1:8080)"},
    {"path", OPT_SPECIAL, 0, 0, 0, SP_PATH, "PATH",
     "upgrade request path (default /); the raw adapter appends c<N> for channel N"},
    {"adapter", OPT_SPECIAL, 0, 0, 0, SP_ADAPTER, "raw|tidegate",
     "raw: any RFC 6455 server; tidegate: the JSON protocol (default raw)"},
    {"namespace", OPT_SPECIAL, 0, 0, 0, SP_NAMESPACE, "NAME",
     "tidegate channel namespace: channels are NAME:c<N> (default bench)"},
    {"token", OPT_SPECIAL, 0, 0, 0, SP_TOKEN, "JWT",
     "tidegate: token sent in connect (default: anonymous connect)"},
    {"label", OPT_SPECIAL, 0, 0, 0, SP_LABEL, "TEXT", "names the run in the outputs"},
    {"connections", OPT_COUNT, U64(connections), 1, 1e8, SP_NONE, "N",
     "connections (connect, idle, echo, churn, storm)"},
    {"channels", OPT_COUNT, U64(channels), 0, 1e8, SP_NONE, "N",
     "fanout: channels; other scenarios: channels joined round-robin (0: none)"},
    {"subscribers", OPT_COUNT, U64(subscribers), 1, 1e8, SP_NONE, "N",
     "fanout: subscribers per channel"},
    {"publishers", OPT_COUNT, U64(publishers), 1, 1e6, SP_NONE, "N",
     "fanout: publishers per channel"},
    {"message-bytes", OPT_SIZE, U64(message_bytes), 1, (double)PAYLOAD_BYTES_MAX, SP_NONE, "SIZE",
     "payload bytes per message, at least 33 (echo, fanout)"},
    {"rate", OPT_RATE, offsetof(struct bench_params, rate_per_s), 0, 1e7, SP_NONE, "R",
     "messages per second, all senders together (echo, fanout)"},
    {"ramp-per-s", OPT_RATE, offsetof(struct bench_params, ramp_per_s), 0, 1e7, SP_NONE, "R",
     "connections started per second, all together; 0 = as fast as --concurrency allows"},
    {"churn-per-s", OPT_RATE, offsetof(struct bench_params, churn_per_s), 0, 1e6, SP_NONE, "R",
     "churn: disconnect+reconnect cycles per second"},
    {"concurrency", OPT_COUNT, U64(concurrency), 1, 1e7, SP_NONE, "N",
     "connection attempts in flight at most, all together (default 1000)"},
    {"duration", OPT_DURATION, U64(duration_ms), 0, 24 * HOUR_MS, SP_NONE, "D",
     "measured phase: sending, holding or churning (default 10s; connect: 0)"},
    {"connect-timeout", OPT_DURATION, U64(connect_timeout_ms), 1, HOUR_MS, SP_NONE, "D",
     "one connection's TCP + upgrade + protocol setup (default 10s)"},
    {"ramp-timeout", OPT_DURATION, U64(ramp_timeout_ms), 1, 24 * HOUR_MS, SP_NONE, "D",
     "the whole ramp, and a storm's recovery (default 120s)"},
    {"drain", OPT_DURATION, U64(drain_ms), 0, HOUR_MS, SP_NONE, "D",
     "wait after the last send for messages on their way (default 2s)"},
    {"hold", OPT_DURATION, U64(hold_ms), 0, 24 * HOUR_MS, SP_NONE, "D",
     "storm: hold before everyone reconnects (default 2s)"},
    {"max-time", OPT_DURATION, U64(max_time_ms), 1, 48 * HOUR_MS, SP_NONE, "D",
     "the whole run, whatever happens (default 10m)"},
    {"threads", OPT_SPECIAL, 0, 0, 0, SP_THREADS, "N",
     "io_uring threads per process (default: online CPUs)"},
    {"procs", OPT_SPECIAL, 0, 0, 0, SP_PROCS, "N",
     "processes, each with --threads threads (the open-file limit is per process)"},
    {"source-ips", OPT_SPECIAL, 0, 0, 0, SP_SOURCE_IPS, "A-B",
     "bind connections round-robin to local addresses A..B (more than 64K ports)"},
    {"server-pids", OPT_SPECIAL, 0, 0, 0, SP_SERVER_PIDS, "PID,...",
     "server processes whose RSS and CPU time are measured"},
    {"json", OPT_SPECIAL, 0, 0, 0, SP_JSON, "FILE", "write every figure as JSON"},
    {"plot", OPT_SPECIAL, 0, 0, 0, SP_PLOT, "FILE.svg",
     "draw latency over time and its distribution"},
    {"progress", OPT_SPECIAL, 0, 0, 0, SP_PROGRESS, "auto|on|off",
     "live progress line on stderr (auto: when stderr is a terminal)"},
};

static const char *const scenario_names[BENCH_SCENARIO_COUNT] = {
    "connect", "idle", "echo", "fanout", "churn", "storm",
};

const char *bench_scenario_name(enum bench_scenario s)
{
    assert(s < BENCH_SCENARIO_COUNT);
    return scenario_names[s];
}

const char *bench_adapter_name(enum bench_adapter_kind a)
{
    return a == BENCH_ADAPTER_TIDEGATE ? "tidegate" : "raw";
}

void bench_params_usage(void *out)
{
    FILE *f = out;
    fprintf(f, "tidegate-bench: load harness for WebSocket servers\n\n"
               "Usage: tidegate-bench connect|idle|echo|fanout|churn|storm [--OPTION VALUE ...]\n\n"
               "Counts take k/m (1000, 10^6), sizes k/m (KiB, MiB), durations ms/s/m/h.\n\n");
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        char left[48];
        snprintf(left, sizeof left, "--%s %s", opts[i].name, opts[i].arg);
        fprintf(f, "  %-30s %s\n", left, opts[i].help);
    }
    fprintf(f, "\nDocumentation: docs/benchmarks.md\n");
}

/* Parses a non-negative decimal number with an optional fraction and a suffix from
 * `suffixes` (each one letter long or "ms"), returning the suffix found in *suffix. */
static bool parse_number(const char *s, double *value, const char **suffix)
{
    if (s == NULL || *s == '\0' || *s == '-' || *s == '+' || *s == ' ')
        return false;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno != 0 || !isfinite(v) || v < 0)
        return false;
    /* strtod accepts hex, inf and exponents; a bench option is plain decimal. */
    for (const char *c = s; c < end; c++) {
        if (!((*c >= '0' && *c <= '9') || *c == '.'))
            return false;
    }
    *value = v;
    *suffix = end;
    return true;
}

static bool parse_scaled(const char *s, double k, double m, double *out)
{
    double v;
    const char *suffix;
    if (!parse_number(s, &v, &suffix))
        return false;
    if (strcmp(suffix, "k") == 0 || strcmp(suffix, "K") == 0)
        v *= k;
    else if (strcmp(suffix, "m") == 0 || strcmp(suffix, "M") == 0)
        v *= m;
    else if (*suffix != '\0')
        return false;
    *out = v;
    return true;
}

static bool to_u64(double v, uint64_t *out)
{
    if (v != floor(v) || v > 9.007199254740991e15)
        return false;
    *out = (uint64_t)v;
    return true;
}

bool bench_parse_count(const char *s, uint64_t *out)
{
    double v;
    return parse_scaled(s, 1e3, 1e6, &v) && to_u64(v, out);
}

bool bench_parse_size(const char *s, uint64_t *out)
{
    double v;
    return parse_scaled(s, 1024.0, 1024.0 * 1024.0, &v) && to_u64(v, out);
}

bool bench_parse_rate(const char *s, double *out)
{
    return parse_scaled(s, 1e3, 1e6, out);
}

bool bench_parse_duration_ms(const char *s, uint64_t *out)
{
    double v;
    const char *suffix;
    if (!parse_number(s, &v, &suffix))
        return false;
    double ms;
    if (strcmp(suffix, "ms") == 0)
        ms = v;
    else if (strcmp(suffix, "s") == 0 || *suffix == '\0')
        ms = v * 1e3;
    else if (strcmp(suffix, "m") == 0)
        ms = v * 60e3;
    else if (strcmp(suffix, "h") == 0)
        ms = v * 3600e3;
    else
        return false;
    return to_u64(round(ms), out);
}

static bool parse_ipv4(const char *s, size_t len, uint32_t *host_order)
{
    char buf[INET_ADDRSTRLEN];
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    struct in_addr a;
    if (inet_pton(AF_INET, buf, &a) != 1)
        return false;
    *host_order = ntohl(a.s_addr);
    return true;
}

bool bench_parse_ip_range(const char *s, uint32_t *first, uint32_t *count)
{
    const char *dash = strchr(s, '-');
    uint32_t a, b;
    if (dash == NULL) {
        if (!parse_ipv4(s, strlen(s), &a))
            return false;
        b = a;
    } else if (!parse_ipv4(s, (size_t)(dash - s), &a) ||
               !parse_ipv4(dash + 1, strlen(dash + 1), &b)) {
        return false;
    }
    if (b < a || b - a >= 65536) /* a /16 is far more than any box binds */
        return false;
    *first = a;
    *count = b - a + 1;
    return true;
}

bool bench_parse_target(const char *s, struct sockaddr_in *out)
{
    const char *colon = strrchr(s, ':');
    uint32_t ip;
    uint64_t port;
    if (colon == NULL || !parse_ipv4(s, (size_t)(colon - s), &ip) ||
        !bench_parse_count(colon + 1, &port) || strchr(colon + 1, 'k') != NULL ||
        strchr(colon + 1, 'm') != NULL || port < 1 || port > 65535)
        return false;
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_addr.s_addr = htonl(ip);
    out->sin_port = htons((uint16_t)port);
    return true;
}

static int fail(char err[BENCH_ERROR_BYTES], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, BENCH_ERROR_BYTES, fmt, ap);
    va_end(ap);
    return -1;
}

static void apply_defaults(struct bench_params *p, enum bench_scenario s)
{
    memset(p, 0, sizeof *p);
    p->scenario = s;
    p->adapter = BENCH_ADAPTER_RAW;
    bench_parse_target("127.0.0.1:8080", &p->target);
    strcpy(p->path, "/");
    strcpy(p->namespace_name, "bench");
    p->connections = 1000;
    p->channels = 0;
    p->subscribers = 100;
    p->publishers = 1;
    p->message_bytes = 64;
    p->rate_per_s = 1000;
    p->churn_per_s = 100;
    p->concurrency = 1000;
    p->duration_ms = 10000;
    p->connect_timeout_ms = 10000;
    p->ramp_timeout_ms = 120000;
    p->drain_ms = 2000;
    p->hold_ms = 2000;
    p->max_time_ms = 600000;
    p->procs = 1;
    p->progress = BENCH_PROGRESS_AUTO;
    switch (s) {
    case BENCH_CONNECT:
        p->duration_ms = 0;
        break;
    case BENCH_ECHO:
        p->connections = 10;
        break;
    case BENCH_FANOUT:
        p->channels = 1;
        p->rate_per_s = 100;
        break;
    default:
        break;
    }
}

static bool valid_namespace(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static int parse_pids(struct bench_params *p, const char *value, char err[BENCH_ERROR_BYTES])
{
    const char *s = value;
    p->server_pid_count = 0;
    while (*s != '\0') {
        char *end = NULL;
        errno = 0;
        long pid = strtol(s, &end, 10);
        if (end == s || errno != 0 || pid <= 0 || pid > 4194304 || (*end != ',' && *end != '\0'))
            return fail(err, "--server-pids %s: expected process ids separated by commas", value);
        if (p->server_pid_count == BENCH_SERVER_PIDS_MAX)
            return fail(err, "--server-pids: at most %d processes", BENCH_SERVER_PIDS_MAX);
        p->server_pids[p->server_pid_count++] = (pid_t)pid;
        s = *end == ',' ? end + 1 : end;
    }
    if (p->server_pid_count == 0)
        return fail(err, "--server-pids: give at least one process id");
    return 0;
}

static int copy_string(char *dst, size_t cap, const char *value, const char *name,
                       char err[BENCH_ERROR_BYTES])
{
    size_t n = strlen(value);
    if (n >= cap)
        return fail(err, "--%s: at most %zu bytes", name, cap - 1);
    memcpy(dst, value, n + 1);
    return 0;
}

static int parse_small_uint(const char *value, const char *name, unsigned min, unsigned max,
                            unsigned *out, char err[BENCH_ERROR_BYTES])
{
    uint64_t v;
    if (!bench_parse_count(value, &v) || v < min || v > max)
        return fail(err, "--%s %s: expected a whole number from %u to %u", name, value, min, max);
    *out = (unsigned)v;
    return 0;
}

static int parse_special(struct bench_params *p, const struct opt *o, const char *value,
                         char err[BENCH_ERROR_BYTES])
{
    switch (o->special) {
    case SP_TARGET:
        if (!bench_parse_target(value, &p->target))
            return fail(err,
                        "--target %s: expected a numeric IPv4 address and port, e.g. "
                        "127.0.0.1:8080 (host names are not resolved)",
                        value);
        return 0;
    case SP_PATH:
        if (value[0] != '/' || strpbrk(value, " \r\n\t") != NULL)
            return fail(err, "--path %s: must start with / and hold no spaces", value);
        return copy_string(p->path, sizeof p->path - 16, value, o->name, err);
    case SP_ADAPTER:
        if (strcmp(value, "raw") == 0)
            p->adapter = BENCH_ADAPTER_RAW;
        else if (strcmp(value, "tidegate") == 0)
            p->adapter = BENCH_ADAPTER_TIDEGATE;
        else
            return fail(err, "--adapter %s: expected raw or tidegate", value);
        return 0;
    case SP_NAMESPACE:
        if (!valid_namespace(value))
            return fail(err, "--namespace %s: 1 to 64 characters of a-z 0-9 _ -", value);
        return copy_string(p->namespace_name, sizeof p->namespace_name, value, o->name, err);
    case SP_TOKEN:
        if (*value == '\0' || strlen(value) > 8192 || strpbrk(value, "\"\\ ") != NULL)
            return fail(err, "--token: expected a JWT (1 to 8192 bytes, no quotes or spaces)");
        p->token = value;
        return 0;
    case SP_LABEL:
        if (strpbrk(value, "\"\\<>&\n") != NULL)
            return fail(err, "--label %s: no quotes, backslashes, <, > or & please", value);
        return copy_string(p->label, sizeof p->label, value, o->name, err);
    case SP_THREADS:
        return parse_small_uint(value, o->name, 0, BENCH_THREADS_MAX, &p->threads, err);
    case SP_PROCS:
        return parse_small_uint(value, o->name, 1, BENCH_PROCS_MAX, &p->procs, err);
    case SP_SOURCE_IPS:
        if (!bench_parse_ip_range(value, &p->source_ip_first, &p->source_ip_count))
            return fail(err,
                        "--source-ips %s: expected FIRST-LAST IPv4 addresses (e.g. "
                        "127.0.0.2-127.0.0.50), at most 65536 of them",
                        value);
        return 0;
    case SP_SERVER_PIDS:
        return parse_pids(p, value, err);
    case SP_JSON:
        p->json_path = value;
        return 0;
    case SP_PLOT:
        p->plot_path = value;
        return 0;
    case SP_PROGRESS:
        if (strcmp(value, "auto") == 0)
            p->progress = BENCH_PROGRESS_AUTO;
        else if (strcmp(value, "on") == 0)
            p->progress = BENCH_PROGRESS_ON;
        else if (strcmp(value, "off") == 0)
            p->progress = BENCH_PROGRESS_OFF;
        else
            return fail(err, "--progress %s: expected auto, on or off", value);
        return 0;
    case SP_NONE:
        break;
    }
    return fail(err, "--%s: internal error in the option table", o->name);
}

static int parse_option(struct bench_params *p, const struct opt *o, const char *value,
                        char err[BENCH_ERROR_BYTES])
{
    uint64_t u = 0;
    double d = 0;
    bool ok;
    switch (o->kind) {
    case OPT_COUNT:
        ok = bench_parse_count(value, &u);
        d = (double)u;
        break;
    case OPT_SIZE:
        ok = bench_parse_size(value, &u);
        d = (double)u;
        break;
    case OPT_DURATION:
        ok = bench_parse_duration_ms(value, &u);
        d = (double)u;
        break;
    case OPT_RATE:
        ok = bench_parse_rate(value, &d);
        break;
    case OPT_SPECIAL:
        return parse_special(p, o, value, err);
    default:
        ok = false;
    }
    static const char *const what[] = {"a count like 500, 20k or 1m", "a size like 64, 4k or 1m",
                                       "a duration like 500ms, 10s or 5m",
                                       "a rate like 100, 2.5k or 1m"};
    if (!ok)
        return fail(err, "--%s %s: expected %s", o->name, value, what[o->kind]);
    if (d < o->min || d > o->max)
        return fail(err, "--%s %s: out of range (%.15g to %.15g%s)", o->name, value,
                    o->kind == OPT_DURATION ? o->min / 1e3 : o->min,
                    o->kind == OPT_DURATION ? o->max / 1e3 : o->max,
                    o->kind == OPT_DURATION ? " seconds" : "");
    if (o->kind == OPT_RATE)
        *(double *)((char *)p + o->offset) = d;
    else
        *(uint64_t *)((char *)p + o->offset) = u;
    return 0;
}

uint64_t bench_params_total_connections(const struct bench_params *p)
{
    if (p->scenario == BENCH_FANOUT)
        return p->channels * (p->subscribers + p->publishers);
    return p->connections;
}

uint64_t bench_params_senders(const struct bench_params *p)
{
    if (p->scenario == BENCH_FANOUT)
        return p->channels * p->publishers;
    if (p->scenario == BENCH_ECHO)
        return p->connections;
    return 0;
}

static int check_scenario(const struct bench_params *p, char err[BENCH_ERROR_BYTES])
{
    const char *name = bench_scenario_name(p->scenario);
    if (p->scenario == BENCH_FANOUT) {
        if (p->channels == 0)
            return fail(err, "fanout needs --channels 1 or more");
        if ((double)p->channels * (double)(p->subscribers + p->publishers) > 1e8)
            return fail(err,
                        "fanout: --channels x (--subscribers + --publishers) is %.0f "
                        "connections, more than 100000000",
                        (double)p->channels * (double)(p->subscribers + p->publishers));
    }
    bool sends = p->scenario == BENCH_FANOUT || p->scenario == BENCH_ECHO;
    if (sends) {
        if (!(p->rate_per_s > 0))
            return fail(err, "%s needs --rate above 0 (messages per second)", name);
        if (p->message_bytes < PAYLOAD_HEAD_BYTES)
            return fail(err,
                        "--message-bytes %llu: %s needs at least %d bytes (sender, "
                        "sequence number and timestamp)",
                        (unsigned long long)p->message_bytes, name, (int)PAYLOAD_HEAD_BYTES);
        if (p->rate_per_s / (double)bench_params_senders(p) > 1e6)
            return fail(err,
                        "--rate %.0f over %llu senders is more than a million messages a "
                        "second per connection; add connections or publishers",
                        p->rate_per_s, (unsigned long long)bench_params_senders(p));
        if (p->duration_ms == 0)
            return fail(err, "%s needs --duration above 0", name);
    }
    if (p->scenario == BENCH_CHURN && !(p->churn_per_s > 0))
        return fail(err, "churn needs --churn-per-s above 0");
    if (p->channels > 0 && p->adapter == BENCH_ADAPTER_TIDEGATE &&
        strlen(p->namespace_name) + 12 > 255)
        return fail(err, "--namespace is too long for channel names");
    return 0;
}

int bench_params_parse(struct bench_params *p, int argc, char **argv, char err[BENCH_ERROR_BYTES])
{
    if (argc < 2)
        return fail(err, "give a scenario: connect, idle, echo, fanout, churn or storm "
                         "(tidegate-bench --help)");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        apply_defaults(p, BENCH_CONNECT);
        p->help = true;
        return 0;
    }
    int scenario = -1;
    for (int s = 0; s < BENCH_SCENARIO_COUNT; s++) {
        if (strcmp(argv[1], scenario_names[s]) == 0)
            scenario = s;
    }
    if (scenario < 0)
        return fail(err,
                    "unknown scenario \"%s\": expected connect, idle, echo, fanout, churn "
                    "or storm",
                    argv[1]);
    apply_defaults(p, (enum bench_scenario)scenario);
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            p->help = true;
            return 0;
        }
        if (strncmp(arg, "--", 2) != 0)
            return fail(err, "unexpected argument \"%s\": options are --name value", arg);
        const struct opt *o = NULL;
        for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++) {
            if (strcmp(arg + 2, opts[k].name) == 0)
                o = &opts[k];
        }
        if (o == NULL)
            return fail(err, "unknown option %s (tidegate-bench --help lists them)", arg);
        if (i + 1 >= argc)
            return fail(err, "%s needs a value (%s)", arg, o->arg);
        if (parse_option(p, o, argv[++i], err) != 0)
            return -1;
    }
    return check_scenario(p, err);
}

int bench_params_check_limits(const struct bench_params *p, uint64_t fd_limit,
                              uint64_t ports_per_address, char err[BENCH_ERROR_BYTES])
{
    uint64_t total = bench_params_total_connections(p);
    uint64_t per_proc = (total + p->procs - 1) / p->procs;
    if (per_proc + BENCH_FDS_RESERVED > fd_limit) {
        uint64_t usable = fd_limit > BENCH_FDS_RESERVED ? fd_limit - BENCH_FDS_RESERVED : 1;
        return fail(err,
                    "%llu connections over %u process(es) is %llu per process, above what "
                    "the open-file limit %llu allows; use --procs %llu or more",
                    (unsigned long long)total, p->procs, (unsigned long long)per_proc,
                    (unsigned long long)fd_limit,
                    (unsigned long long)((total + usable - 1) / usable));
    }
    uint64_t addresses = p->source_ip_count > 0 ? p->source_ip_count : 1;
    if (ports_per_address > 0 && total > addresses * ports_per_address)
        return fail(err,
                    "%llu connections to one server address need more than the %llu local "
                    "ports of %llu source address(es) (net.ipv4.ip_local_port_range); give "
                    "--source-ips with %llu or more addresses",
                    (unsigned long long)total, (unsigned long long)ports_per_address,
                    (unsigned long long)addresses,
                    (unsigned long long)((total + ports_per_address - 1) / ports_per_address));
    return 0;
}
