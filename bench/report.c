/* Figures, summary and JSON: see report.h. */
#include "bench/report.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include "bench/result.h"

enum { SLAB_MIN_CONNECTIONS = 1000 };

static double ns_to_s(uint64_t ns)
{
    return (double)ns / 1e9;
}

static double span_s(uint64_t from_ns, uint64_t to_ns)
{
    return from_ns != 0 && to_ns > from_ns ? ns_to_s(to_ns - from_ns) : 0.0;
}

static void latency_of(const struct hist *h, struct bench_latency *l)
{
    l->count = h->count;
    l->p50_ms = (double)hist_quantile(h, 0.50) / 1e6;
    l->p90_ms = (double)hist_quantile(h, 0.90) / 1e6;
    l->p99_ms = (double)hist_quantile(h, 0.99) / 1e6;
    l->p999_ms = (double)hist_quantile(h, 0.999) / 1e6;
    l->max_ms = (double)h->max / 1e6;
    l->mean_ms = hist_mean(h) / 1e6;
    if (h->count == 0)
        l->max_ms = 0;
}

static void cpu_figures(const struct bench_run *run, struct bench_figures *f, bool ramp_window)
{
    const uint64_t *c = run->result->counters;
    const struct bench_reading *from = ramp_window ? &run->before : &run->at_run;
    const struct bench_reading *to = ramp_window ? &run->at_run : &run->at_done;
    f->bench_cpu_s = (double)(ramp_window ? c[BENCH_C_ramp_cpu_us] : c[BENCH_C_run_cpu_us]) / 1e6;
    f->bench_cpu_us_per_op = f->ops > 0 ? f->bench_cpu_s * 1e6 / (double)f->ops : 0;
    /* The window's wall time: threads sample their CPU when they see the phase change. */
    f->cpu_window_s = ramp_window ? span_s(run->origin_ns, run->ramp_end_ns)
                                  : span_s(run->ramp_end_ns, run->done_ns);
    if (f->cpu_window_s > 0)
        f->bench_cores = f->bench_cpu_s / f->cpu_window_s;
    f->server_cpu_ok = from->server_ok && to->server_ok;
    if (f->server_cpu_ok) {
        f->server_cpu_s = (double)(to->server_cpu_us - from->server_cpu_us) / 1e6;
        f->server_cpu_us_per_op = f->ops > 0 ? f->server_cpu_s * 1e6 / (double)f->ops : 0;
        if (f->cpu_window_s > 0)
            f->server_cores = f->server_cpu_s / f->cpu_window_s;
    }
}

void bench_figures_compute(const struct bench_run *run, struct bench_figures *f)
{
    const struct bench_params *p = run->params;
    const uint64_t *c = run->result->counters;
    memset(f, 0, sizeof *f);
    f->ramp_s = span_s(run->origin_ns, run->ramp_end_ns);
    f->run_s = span_s(run->run_start_ns, run->run_end_ns);
    f->total_s = span_s(run->origin_ns, run->done_ns);
    f->storm_s = span_s(run->storm_start_ns, run->storm_end_ns);
    f->connect_per_s = f->ramp_s > 0 ? (double)run->ready_at_ramp_end / f->ramp_s : 0;
    latency_of(&run->result->connect_ns, &f->connect);
    latency_of(&run->result->latency_ns, &f->latency);
    latency_of(&run->result->ack_ns, &f->ack);
    latency_of(&run->result->lag_ns, &f->lag);
    /* The sending window: --duration, or less when the run was cut short. */
    double window_s = (double)p->duration_ms / 1e3;
    if (f->run_s > 0 && f->run_s < window_s)
        window_s = f->run_s;
    f->send_window_s = window_s;
    uint64_t received = c[BENCH_C_deliveries] + c[BENCH_C_echo_replies];
    /* Receiving lasts until the last message arrived (a server that falls behind is still
     * delivering after the senders stopped): the rate is over that longer window. */
    double receive_s = window_s;
    if (run->result->latency_ns.count > 0 && run->run_start_ns != 0) {
        double last_s = span_s(run->run_start_ns, run->origin_ns + run->result->last_sample_ns);
        if (last_s > receive_s)
            receive_s = last_s;
    }
    f->receive_window_s = receive_s;
    if (window_s > 0) {
        f->sent_per_s = (double)c[BENCH_C_msgs_sent] / window_s;
        f->received_per_s = (double)received / receive_s;
    }
    bool ramp_window = false;
    switch (p->scenario) {
    case BENCH_CONNECT:
    case BENCH_IDLE:
        f->op_name = "connection";
        f->ops_name = "connections";
        f->ops = run->ready_at_ramp_end;
        ramp_window = true;
        break;
    case BENCH_ECHO:
        f->op_name = "round trip";
        f->ops_name = "round trips";
        f->ops = c[BENCH_C_echo_replies];
        break;
    case BENCH_FANOUT:
        f->op_name = "delivery";
        f->ops_name = "deliveries";
        f->ops = c[BENCH_C_deliveries];
        break;
    case BENCH_CHURN:
        f->op_name = "cycle";
        f->ops_name = "cycles";
        f->ops = c[BENCH_C_churn_cycles];
        break;
    default:
        f->op_name = "reconnect";
        f->ops_name = "reconnects";
        f->ops = c[BENCH_C_conn_ready] > run->ready_at_ramp_end
                     ? c[BENCH_C_conn_ready] - run->ready_at_ramp_end
                     : 0;
        break;
    }
    cpu_figures(run, f, ramp_window);
    f->bench_cpu_total_s = (double)run->bench_cpu_us / 1e6;
    f->server_rss_ok = run->before.server_ok && run->at_end.server_ok;
    if (f->server_rss_ok) {
        f->server_rss_before_mib = (double)run->before.server_rss_bytes / 1048576.0;
        f->server_rss_after_mib = (double)run->at_end.server_rss_bytes / 1048576.0;
        if (run->open_at_run_end > 0)
            f->server_bytes_per_conn =
                ((double)run->at_end.server_rss_bytes - (double)run->before.server_rss_bytes) /
                (double)run->open_at_run_end;
    }
    /* Slab is machine-wide: only a large change in connections stands out from the noise. */
    f->slab_ok = run->before.slab_ok && run->at_end.slab_ok &&
                 run->open_at_run_end >= SLAB_MIN_CONNECTIONS &&
                 (p->scenario == BENCH_IDLE || p->scenario == BENCH_CONNECT);
    if (f->slab_ok)
        f->slab_bytes_per_conn = ((double)run->at_end.slab_bytes - (double)run->before.slab_bytes) /
                                 (double)run->open_at_run_end;
}

/* ---- summary ---- */

static void print_latency(FILE *out, const char *name, const struct bench_latency *l,
                          const char *what)
{
    if (l->count == 0)
        return;
    fprintf(out,
            "  %-12s p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f ms  (mean %.3f, %llu %s)\n",
            name, l->p50_ms, l->p90_ms, l->p99_ms, l->p999_ms, l->max_ms, l->mean_ms,
            (unsigned long long)l->count, what);
}

static void print_failures(FILE *out, const struct bench_result *r)
{
    const uint64_t *c = r->counters;
    if (c[BENCH_C_conn_failed] == 0 && c[BENCH_C_conn_lost] == 0)
        return;
    fprintf(out, "  %-12s", "failures");
    for (int i = BENCH_C_fail_socket; i <= BENCH_C_fail_refused_by_server; i++) {
        if (c[i] != 0)
            fprintf(out, " %s %llu", bench_counter_name(i) + 5, (unsigned long long)c[i]);
    }
    for (int i = BENCH_C_lost_close; i <= BENCH_C_lost_protocol; i++) {
        if (c[i] != 0)
            fprintf(out, " %s %llu", bench_counter_name(i), (unsigned long long)c[i]);
    }
    for (int i = 0; i < BENCH_CODES_MAX && r->http_statuses.count[i] != 0; i++)
        fprintf(out, " http_%u x%llu", r->http_statuses.code[i],
                (unsigned long long)r->http_statuses.count[i]);
    for (int i = 0; i < BENCH_CODES_MAX && r->close_codes.count[i] != 0; i++)
        fprintf(out, " close_%u x%llu", r->close_codes.code[i],
                (unsigned long long)r->close_codes.count[i]);
    fputc('\n', out);
}

static void print_messages(FILE *out, const struct bench_run *run, const struct bench_figures *f)
{
    const struct bench_params *p = run->params;
    const uint64_t *c = run->result->counters;
    bool fanout = p->scenario == BENCH_FANOUT;
    uint64_t got = fanout ? c[BENCH_C_deliveries] : c[BENCH_C_echo_replies];
    fprintf(out,
            "  %-12s sent %llu (%.0f/s over %.1f s), %s %llu of %llu expected (%.0f/s over "
            "%.1f s)\n",
            "messages", (unsigned long long)c[BENCH_C_msgs_sent], f->sent_per_s, f->send_window_s,
            fanout ? "delivered" : "echoed", (unsigned long long)got,
            (unsigned long long)c[BENCH_C_expected], f->received_per_s, f->receive_window_s);
    fprintf(out,
            "  %-12s lost %llu, duplicated %llu, reordered %llu, unsent %llu, foreign %llu, "
            "unparsed %llu\n",
            "", (unsigned long long)c[BENCH_C_lost], (unsigned long long)c[BENCH_C_duplicated],
            (unsigned long long)c[BENCH_C_reordered], (unsigned long long)c[BENCH_C_msgs_unsent],
            (unsigned long long)c[BENCH_C_foreign], (unsigned long long)c[BENCH_C_unparsed]);
    if (p->adapter == BENCH_ADAPTER_TIDEGATE)
        fprintf(out, "  %-12s acks %llu, refused %llu, errors %llu, gaps %llu, disconnects %llu\n",
                "protocol", (unsigned long long)c[BENCH_C_acks],
                (unsigned long long)c[BENCH_C_refused], (unsigned long long)c[BENCH_C_proto_errors],
                (unsigned long long)c[BENCH_C_gaps], (unsigned long long)c[BENCH_C_disconnects]);
    print_latency(out, "latency", &f->latency, fanout ? "deliveries" : "round trips");
    print_latency(out, "ack", &f->ack, "acks of publishes, from the send");
    print_latency(out, "send lag", &f->lag, "messages written after their scheduled time");
}

void bench_report_summary(FILE *out, const struct bench_run *run, const struct bench_figures *f)
{
    const struct bench_params *p = run->params;
    const struct bench_result *r = run->result;
    const uint64_t *c = r->counters;
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &p->target.sin_addr, ip, sizeof ip);
    fprintf(out, "tidegate-bench %s%s%s (%s adapter) -> %s:%u, %u process(es) x %u thread(s)\n",
            bench_scenario_name(p->scenario), p->label[0] ? " " : "", p->label,
            bench_adapter_name(p->adapter), ip, ntohs(p->target.sin_port), p->procs, p->threads);
    fprintf(out,
            "  %-12s %llu ready of %llu in %.2f s (%.0f/s)%s, %llu failed, %llu lost, %llu "
            "open at the end of the run\n",
            "connections", (unsigned long long)run->ready_at_ramp_end,
            (unsigned long long)bench_params_total_connections(p), f->ramp_s, f->connect_per_s,
            run->ramp_timed_out ? " RAMP TIMED OUT" : "",
            (unsigned long long)c[BENCH_C_conn_failed], (unsigned long long)c[BENCH_C_conn_lost],
            (unsigned long long)run->open_at_run_end);
    print_latency(out, "connect", &f->connect, "connections");
    print_failures(out, r);
    if (p->scenario == BENCH_ECHO || p->scenario == BENCH_FANOUT)
        print_messages(out, run, f);
    if (p->scenario == BENCH_CHURN)
        fprintf(out, "  %-12s %llu cycles in %.1f s (%.1f/s)%s\n", "churn",
                (unsigned long long)c[BENCH_C_churn_cycles], f->run_s,
                f->run_s > 0 ? (double)c[BENCH_C_churn_cycles] / f->run_s : 0.0,
                run->drain_timed_out ? ", not all back by the end of --drain" : "");
    if (p->scenario == BENCH_STORM) {
        fprintf(out, "  %-12s %llu connections dropped; %s after %.3f s\n", "storm",
                (unsigned long long)run->open_before_storm,
                run->storm_timed_out ? "NOT all back (--ramp-timeout)" : "all back", f->storm_s);
        print_latency(out, "back after", &f->latency, "reconnects");
    }
    if (f->server_rss_ok)
        fprintf(out, "  %-12s RSS %.1f -> %.1f MiB, %.0f B per open connection\n", "server",
                f->server_rss_before_mib, f->server_rss_after_mib, f->server_bytes_per_conn);
    if (f->slab_ok && run->before.available_ok && run->at_end.available_ok)
        fprintf(out,
                "  %-12s slab %+.0f B per connection (both ends, machine-wide); memory available "
                "%.2f -> %.2f GiB\n",
                "kernel", f->slab_bytes_per_conn,
                (double)run->before.available_bytes / 1073741824.0,
                (double)run->at_end.available_bytes / 1073741824.0);
    fprintf(out, "  %-12s harness %.2f s (%.2f cores) = %.2f us per %s", "cpu", f->bench_cpu_s,
            f->bench_cores, f->bench_cpu_us_per_op, f->op_name);
    if (f->server_cpu_ok)
        fprintf(out, "; server %.2f s (%.2f cores) = %.2f us per %s", f->server_cpu_s,
                f->server_cores, f->server_cpu_us_per_op, f->op_name);
    fprintf(out, " (%llu %s)\n", (unsigned long long)f->ops, f->ops_name);
    if (run->drain_timed_out && p->scenario != BENCH_CHURN)
        fprintf(out, "  note: --drain ended before everything sent had arrived\n");
    if (run->max_time_hit)
        fprintf(out, "  note: --max-time ended the run early\n");
    if (run->interrupted)
        fprintf(out, "  note: interrupted (^C): the figures cover the run up to then\n");
}

/* ---- JSON ---- */

struct jw {
    FILE *f;
    int depth;
    bool first[16];
};

static void jw_key(struct jw *j, const char *key)
{
    if (!j->first[j->depth])
        fputc(',', j->f);
    j->first[j->depth] = false;
    fprintf(j->f, "\n%*s", 2 * j->depth, "");
    if (key != NULL)
        fprintf(j->f, "\"%s\": ", key);
}

static void jw_open(struct jw *j, const char *key, char bracket)
{
    jw_key(j, key);
    fputc(bracket, j->f);
    j->depth++;
    j->first[j->depth] = true;
}

static void jw_close(struct jw *j, char bracket)
{
    j->depth--;
    fprintf(j->f, "\n%*s%c", 2 * j->depth, "", bracket);
}

static void jw_u64(struct jw *j, const char *key, uint64_t v)
{
    jw_key(j, key);
    fprintf(j->f, "%llu", (unsigned long long)v);
}

static void jw_num(struct jw *j, const char *key, double v)
{
    jw_key(j, key);
    fprintf(j->f, "%.6g", v);
}

static void jw_bool(struct jw *j, const char *key, bool v)
{
    jw_key(j, key);
    fputs(v ? "true" : "false", j->f);
}

static void jw_str(struct jw *j, const char *key, const char *s)
{
    jw_key(j, key);
    fputc('"', j->f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(j->f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(j->f, "\\u%04x", ch);
        else
            fputc(ch, j->f);
    }
    fputc('"', j->f);
}

static void jw_latency(struct jw *j, const char *key, const struct bench_latency *l)
{
    jw_open(j, key, '{');
    jw_u64(j, "count", l->count);
    jw_num(j, "p50", l->p50_ms);
    jw_num(j, "p90", l->p90_ms);
    jw_num(j, "p99", l->p99_ms);
    jw_num(j, "p999", l->p999_ms);
    jw_num(j, "max", l->max_ms);
    jw_num(j, "mean", l->mean_ms);
    jw_close(j, '}');
}

static void json_params(struct jw *j, const struct bench_params *p)
{
    char ip[INET_ADDRSTRLEN], target[64];
    inet_ntop(AF_INET, &p->target.sin_addr, ip, sizeof ip);
    snprintf(target, sizeof target, "%s:%u", ip, ntohs(p->target.sin_port));
    jw_open(j, "params", '{');
    jw_str(j, "target", target);
    jw_str(j, "path", p->path);
    jw_u64(j, "connections", bench_params_total_connections(p));
    jw_u64(j, "channels", p->channels);
    jw_u64(j, "subscribers", p->subscribers);
    jw_u64(j, "publishers", p->publishers);
    jw_u64(j, "message_bytes", p->message_bytes);
    jw_num(j, "rate_per_s", p->rate_per_s);
    jw_num(j, "ramp_per_s", p->ramp_per_s);
    jw_num(j, "churn_per_s", p->churn_per_s);
    jw_u64(j, "concurrency", p->concurrency);
    jw_u64(j, "duration_ms", p->duration_ms);
    jw_u64(j, "drain_ms", p->drain_ms);
    jw_u64(j, "procs", p->procs);
    jw_u64(j, "threads", p->threads);
    jw_u64(j, "source_ips", p->source_ip_count);
    jw_u64(j, "server_pids", p->server_pid_count);
    jw_close(j, '}');
}

static void json_codes(struct jw *j, const char *key, const struct bench_codes *t)
{
    jw_open(j, key, '{');
    for (int i = 0; i < BENCH_CODES_MAX && t->count[i] != 0; i++) {
        char name[8];
        snprintf(name, sizeof name, "%u", t->code[i]);
        jw_u64(j, name, t->count[i]);
    }
    if (t->other != 0)
        jw_u64(j, "other", t->other);
    jw_close(j, '}');
}

static void json_timeline(struct jw *j, const struct bench_result *r)
{
    jw_open(j, "timeline", '{');
    jw_num(j, "slice_s", ns_to_s(r->slice_ns));
    static const char *const series[] = {
        "latency_count", "latency_p50_ms", "latency_p99_ms", "latency_max_ms", "ready", "failed",
        "sent"};
    for (size_t s = 0; s < sizeof series / sizeof series[0]; s++) {
        jw_open(j, series[s], '[');
        for (uint32_t i = 0; i < r->slices_used; i++) {
            const struct bench_slice *sl = &r->slices[i];
            jw_key(j, NULL);
            switch (s) {
            case 0:
                fprintf(j->f, "%u", sl->latency_count);
                break;
            case 1:
                fprintf(j->f, "%.6g", (double)bench_slice_quantile(sl, 0.5) / 1e6);
                break;
            case 2:
                fprintf(j->f, "%.6g", (double)bench_slice_quantile(sl, 0.99) / 1e6);
                break;
            case 3:
                fprintf(j->f, "%.6g", (double)sl->latency_max_ns / 1e6);
                break;
            case 4:
                fprintf(j->f, "%u", sl->ready);
                break;
            case 5:
                fprintf(j->f, "%u", sl->failed);
                break;
            default:
                fprintf(j->f, "%u", sl->sent);
                break;
            }
        }
        jw_close(j, ']');
    }
    jw_close(j, '}');
}

static void json_body(struct jw *j, const struct bench_run *run, const struct bench_figures *f)
{
    const struct bench_params *p = run->params;
    const struct bench_result *r = run->result;
    jw_str(j, "tool", "tidegate-bench " TIDEGATE_VERSION);
    jw_str(j, "scenario", bench_scenario_name(p->scenario));
    jw_str(j, "adapter", bench_adapter_name(p->adapter));
    jw_str(j, "label", p->label);
    jw_u64(j, "unix_time", (uint64_t)time(NULL));
    json_params(j, p);
    jw_open(j, "time_s", '{');
    jw_num(j, "ramp", f->ramp_s);
    jw_num(j, "run", f->run_s);
    jw_num(j, "storm", f->storm_s);
    jw_num(j, "total", f->total_s);
    jw_bool(j, "ramp_timed_out", run->ramp_timed_out);
    jw_bool(j, "drain_timed_out", run->drain_timed_out);
    jw_bool(j, "storm_timed_out", run->storm_timed_out);
    jw_bool(j, "max_time_hit", run->max_time_hit);
    jw_bool(j, "interrupted", run->interrupted);
    jw_close(j, '}');
    jw_u64(j, "ready_at_ramp_end", run->ready_at_ramp_end);
    jw_u64(j, "open_at_run_end", run->open_at_run_end);
    jw_num(j, "connect_per_s", f->connect_per_s);
    jw_num(j, "sent_per_s", f->sent_per_s);
    jw_num(j, "received_per_s", f->received_per_s);
    jw_num(j, "send_window_s", f->send_window_s);
    jw_num(j, "receive_window_s", f->receive_window_s);
    jw_num(j, "behind_max_ms", (double)r->behind_max_ns / 1e6);
    jw_latency(j, "connect_ms", &f->connect);
    jw_latency(j, "latency_ms", &f->latency);
    jw_latency(j, "ack_latency_ms", &f->ack);
    jw_latency(j, "send_lag_ms", &f->lag);
    jw_open(j, "cpu", '{');
    jw_str(j, "op", f->op_name);
    jw_u64(j, "ops", f->ops);
    jw_num(j, "window_s", f->cpu_window_s);
    jw_num(j, "harness_s", f->bench_cpu_s);
    jw_num(j, "harness_cores", f->bench_cores);
    jw_num(j, "harness_us_per_op", f->bench_cpu_us_per_op);
    jw_num(j, "harness_total_s", f->bench_cpu_total_s);
    jw_u64(j, "harness_max_rss_kb", run->bench_max_rss_kb);
    if (f->server_cpu_ok) {
        jw_num(j, "server_s", f->server_cpu_s);
        jw_num(j, "server_cores", f->server_cores);
        jw_num(j, "server_us_per_op", f->server_cpu_us_per_op);
    }
    jw_close(j, '}');
    if (f->server_rss_ok) {
        jw_open(j, "server_memory", '{');
        jw_u64(j, "rss_before_bytes", run->before.server_rss_bytes);
        jw_u64(j, "rss_after_bytes", run->at_end.server_rss_bytes);
        jw_num(j, "bytes_per_connection", f->server_bytes_per_conn);
        jw_close(j, '}');
    }
    jw_open(j, "kernel", '{');
    if (f->slab_ok)
        jw_num(j, "slab_bytes_per_connection", f->slab_bytes_per_conn);
    jw_num(j, "tcp_inuse_before", (double)run->before.tcp_inuse);
    jw_num(j, "tcp_inuse_at_end", (double)run->at_end.tcp_inuse);
    jw_num(j, "tcp_mem_bytes_at_end", (double)run->at_end.tcp_mem_bytes);
    if (run->before.slab_ok && run->at_end.slab_ok) {
        jw_u64(j, "slab_bytes_before", run->before.slab_bytes);
        jw_u64(j, "slab_bytes_at_end", run->at_end.slab_bytes);
    }
    if (run->before.available_ok && run->at_end.available_ok) {
        jw_u64(j, "available_bytes_before", run->before.available_bytes);
        jw_u64(j, "available_bytes_at_end", run->at_end.available_bytes);
    }
    jw_close(j, '}');
    jw_open(j, "counters", '{');
    for (int i = 0; i < BENCH_COUNTER_COUNT; i++)
        jw_u64(j, bench_counter_name(i), r->counters[i]);
    jw_close(j, '}');
    json_codes(j, "close_codes", &r->close_codes);
    json_codes(j, "http_statuses", &r->http_statuses);
    jw_open(j, "proto_errors", '{');
    for (unsigned i = 0; i < BENCH_PROTO_ERROR_COUNT; i++) {
        if (r->proto_errors[i] != 0)
            jw_u64(j, bench_proto_error_name(i), r->proto_errors[i]);
    }
    jw_close(j, '}');
    json_timeline(j, r);
}

int bench_report_json(const char *path, const struct bench_run *run, const struct bench_figures *f,
                      char err[BENCH_ERROR_BYTES])
{
    FILE *out = fopen(path, "w");
    if (out == NULL) {
        snprintf(err, BENCH_ERROR_BYTES, "--json %s: cannot create the file: %s", path,
                 strerror(errno));
        return -1;
    }
    struct jw j = {.f = out, .depth = 1};
    j.first[1] = true;
    fputc('{', out);
    json_body(&j, run, f);
    jw_close(&j, '}');
    fputc('\n', out);
    bool failed = ferror(out) != 0;
    if (fclose(out) != 0 || failed) {
        snprintf(err, BENCH_ERROR_BYTES, "--json %s: write failed: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
