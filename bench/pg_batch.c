/* pg_batch: how many messages per second the storage writer puts into PostgreSQL with
 * batching, against one INSERT (one transaction) per message, in the same run, on the same
 * throwaway server; and what a batch costs in latency at each size.
 *
 *   build/pg_batch [--messages N] [--single N] [--rounds 3] [--sizes 1,10,100,1000,5000]
 *                  [--rates 1000,10000,50000] [--data-bytes B] [--no-fsync]
 *
 * A stand-alone tool (like alloc_count.c): it links storage/ and the test server harness
 * (tests/storage/pg_harness.c), not the tidegate-bench library. It starts its own
 * PostgreSQL in a temporary directory with fsync ON (what a production commit costs; pass
 * --no-fsync for the test suite's setting), applies the schema and runs, each on a fresh
 * epoch so every row is new:
 *   ratio    --rounds times, alternating: one INSERT per message (blocking PQexecParams,
 *            autocommit: a naive writer; --single messages), the writer with batches of 1
 *            and with batches of 1000 (--messages): messages/s and the ratio, median shown
 *   writer   the batch writer at each --sizes value (batch_messages_max), fed as fast as its
 *            queue takes messages: messages/s, batches, flush latency, enqueue->stored
 *   copy     COPY into a temporary table + INSERT ... SELECT ... ON CONFLICT DO NOTHING,
 *            blocking, batches of 1000: the alternative the writer did not choose
 *   paced    the writer with its defaults at each --rates value for 5 s: enqueue->stored
 *            p50/p99/p99.9, the storage part of a durable publish's ack latency
 * Prints one markdown table per part (docs/benchmarks.md, "Storage").
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "storage/migrate.h"
#include "storage/pg_writer.h"
#include "tests/storage/pg_harness.h"
#include "tests/storage/pg_test_loop.h"

enum { BENCH_CHANNELS = 100, BENCH_SIZES_MAX = 8, BENCH_TEXT_BYTES = 64 };

struct bench_opts {
    uint32_t messages; /* per writer run */
    uint32_t single;   /* for the one-INSERT-per-message run */
    uint32_t sizes[BENCH_SIZES_MAX];
    uint32_t size_count;
    uint32_t data_bytes;             /* the JSON data of each message */
    uint32_t rates[BENCH_SIZES_MAX]; /* paced runs, messages/s */
    uint32_t rate_count;
    uint32_t rounds; /* alternating single/batched rounds for the ratio */
    bool fsync;
};

struct bench_msgs {
    struct pg_msg *msgs;
    char *text;
    char *data;
    uint64_t *enqueued_us;
    uint64_t *latency_us;
    uint32_t count, fed, done, failed;
};

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void msgs_init(struct bench_msgs *b, uint32_t count, uint32_t data_bytes, const char *epoch)
{
    memset(b, 0, sizeof *b);
    b->count = count;
    b->msgs = calloc(count, sizeof *b->msgs);
    b->text = malloc((size_t)count * BENCH_TEXT_BYTES);
    b->data = malloc(data_bytes + 1);
    b->enqueued_us = calloc(count, sizeof *b->enqueued_us);
    b->latency_us = calloc(count, sizeof *b->latency_us);
    if (b->msgs == NULL || b->text == NULL || b->data == NULL || b->enqueued_us == NULL ||
        b->latency_us == NULL) {
        fprintf(stderr, "pg_batch: out of memory\n");
        exit(1);
    }
    /* {"t":"xxxx..."} of exactly data_bytes bytes (at least 9). */
    uint32_t fill = data_bytes > 8 ? data_bytes - 8 : 1;
    memcpy(b->data, "{\"t\":\"", 6);
    memset(b->data + 6, 'x', fill);
    memcpy(b->data + 6 + fill, "\"}", 2);
    uint64_t base_ms = (uint64_t)time(NULL) * 1000u;
    for (uint32_t i = 0; i < count; i++) {
        char *t = b->text + (size_t)i * BENCH_TEXT_BYTES;
        struct pg_msg *m = &b->msgs[i];
        m->channel = t;
        m->channel_len = (uint32_t)snprintf(t, 32, "bench:%u", i % BENCH_CHANNELS);
        m->epoch = epoch;
        m->epoch_len = (uint32_t)strlen(epoch);
        m->user_id = t + 32;
        m->user_id_len = (uint32_t)snprintf(t + 32, 32, "user-%u", i % 1000);
        m->data = b->data;
        m->data_len = 6 + fill + 2;
        m->offset = i / BENCH_CHANNELS + 1;
        m->timestamp_ms = base_ms + i / 1000;
    }
}

static void msgs_free(struct bench_msgs *b)
{
    free(b->msgs);
    free(b->text);
    free(b->data);
    free(b->enqueued_us);
    free(b->latency_us);
}

static void msgs_done(void *ctx, void *cookie, enum pg_msg_status status)
{
    struct bench_msgs *b = ctx;
    uint32_t i = (uint32_t)((uintptr_t)cookie - 1);
    b->latency_us[b->done++] = now_us() - b->enqueued_us[i];
    if (status != PG_MSG_STORED)
        b->failed++;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t percentile(uint64_t *sorted, uint32_t n, double q)
{
    if (n == 0)
        return 0;
    uint32_t i = (uint32_t)(q * (n - 1) + 0.5);
    return sorted[i];
}

/* ---- the writer runs ---- */

struct writer_run {
    struct storage_test_loop *t;
    struct pg_writer *w;
    struct bench_msgs *b;
    uint32_t rate; /* 0: as fast as the queue takes them */
    uint64_t start_us;
};

static void writer_feed(void *arg)
{
    struct writer_run *r = arg;
    struct bench_msgs *b = r->b;
    uint32_t target = b->count;
    if (r->rate > 0) {
        uint64_t due = (now_us() - r->start_us) * r->rate / 1000000u;
        target = due < b->count ? (uint32_t)due : b->count;
    }
    while (b->fed < target) {
        uint32_t i = b->fed;
        b->enqueued_us[i] = now_us();
        if (pg_writer_enqueue(r->w, &b->msgs[i], (void *)(uintptr_t)(i + 1)) != PG_ENQUEUE_OK)
            break;
        b->fed++;
    }
}

static bool writer_finished(void *arg)
{
    struct bench_msgs *b = arg;
    return b->done == b->count;
}

static bool writer_ready(void *arg)
{
    return ((struct pg_writer *)arg)->ready;
}

static bool writer_idle(void *arg)
{
    return !pg_conn_busy(&((struct pg_writer *)arg)->conn);
}

struct writer_result {
    double per_s;
    double batch_mean;
    double flush_mean_us;
    uint64_t flush_p99_us; /* bucket bound */
    uint64_t stored_p50_us, stored_p99_us, stored_p999_us;
    uint64_t batches;
};

static int run_writer(const char *conninfo, const struct pg_writer_config *cfg, uint32_t n,
                      uint32_t data_bytes, uint32_t rate, const char *epoch,
                      struct writer_result *out)
{
    struct storage_test_loop t;
    struct pg_writer w;
    struct bench_msgs b;
    char err[PG_CONN_ERROR_BYTES];
    if (storage_test_loop_init(&t) != 0)
        return -1;
    struct pg_writer_config c = *cfg;
    c.conninfo = conninfo;
    msgs_init(&b, n, data_bytes, epoch);
    if (pg_writer_init(&w, &t.loop, STORAGE_TEST_TAG_PG, &c, msgs_done, &b, err) != 0) {
        fprintf(stderr, "pg_batch: %s\n", err);
        return -1;
    }
    pg_test_loop_add_writer(&t, &w);
    if (!storage_test_loop_run(&t, writer_ready, &w, 10000)) {
        fprintf(stderr, "pg_batch: the writer did not connect\n");
        return -1;
    }
    struct writer_run run = {.t = &t, .w = &w, .b = &b, .rate = rate, .start_us = now_us()};
    t.on_turn = writer_feed;
    t.on_turn_arg = &run;
    t.wait_ms_max = 1; /* feed every millisecond, as publishes would arrive */
    bool ok = storage_test_loop_run(&t, writer_finished, &b, 600000);
    uint64_t took_us = now_us() - run.start_us;
    if (!ok || b.failed > 0) {
        fprintf(stderr, "pg_batch: run %s did not store everything (%u done, %u failed)\n", epoch,
                b.done, b.failed);
        return -1;
    }
    const struct pg_writer_metrics *m = &w.metrics;
    out->per_s = (double)n * 1e6 / (double)took_us;
    out->batches = pg_metric_get(&m->batches_total);
    out->batch_mean = (double)pg_metric_get(&m->batch_messages.sum) / (double)out->batches;
    out->flush_mean_us = (double)pg_metric_get(&m->flush_latency_us.sum) /
                         (double)pg_metric_get(&m->flush_latency_us.count);
    out->flush_p99_us = pg_hist_quantile(&m->flush_latency_us, 0.99);
    qsort(b.latency_us, b.done, sizeof *b.latency_us, cmp_u64);
    out->stored_p50_us = percentile(b.latency_us, b.done, 0.50);
    out->stored_p99_us = percentile(b.latency_us, b.done, 0.99);
    out->stored_p999_us = percentile(b.latency_us, b.done, 0.999);
    pg_writer_destroy(&w);
    storage_test_loop_run(&t, writer_idle, &w, 5000);
    storage_test_loop_destroy(&t);
    msgs_free(&b);
    return 0;
}

static void writer_config_for(struct pg_writer_config *cfg, uint32_t batch)
{
    pg_writer_config_defaults(cfg);
    cfg->batch_messages_max = batch;
    cfg->queue_messages_max = batch * 4 > 100000 ? batch * 4 : 100000;
    cfg->queue_bytes_max = (uint64_t)256 << 20;
    cfg->batch_bytes_max = 64u << 20;
}

/* ---- the blocking references ---- */

/* One INSERT per message, autocommit, waiting for each: what a writer without batching does. */
static double run_single(PGconn *pg, uint32_t n, uint32_t data_bytes, const char *epoch)
{
    struct bench_msgs b;
    msgs_init(&b, n, data_bytes, epoch);
    uint64_t start = now_us();
    for (uint32_t i = 0; i < n; i++) {
        const struct pg_msg *m = &b.msgs[i];
        char offset[24], ts[24];
        snprintf(offset, sizeof offset, "%" PRIu64, m->offset);
        snprintf(ts, sizeof ts, "%" PRIu64, m->timestamp_ms);
        const char *values[6] = {m->channel, m->epoch, offset, ts, m->user_id, m->data};
        PGresult *res = PQexecParams(
            pg,
            "INSERT INTO tidegate_history (channel, epoch, msg_offset, published_at, user_id,"
            " data) VALUES ($1, $2, $3, to_timestamp($4::bigint / 1000.0), $5, $6)"
            " ON CONFLICT DO NOTHING",
            6, NULL, values, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            fprintf(stderr, "pg_batch: single insert: %s", PQresultErrorMessage(res));
            exit(1);
        }
        PQclear(res);
    }
    double per_s = (double)n * 1e6 / (double)(now_us() - start);
    msgs_free(&b);
    return per_s;
}

/* COPY text format: backslash, tab, newline and carriage return escaped. */
static size_t copy_escape(char *out, const char *in, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '\\' || c == '\t' || c == '\n' || c == '\r') {
            out[o++] = '\\';
            c = c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : '\\';
        }
        out[o++] = c;
    }
    return o;
}

static void copy_exec(PGconn *pg, const char *sql)
{
    PGresult *res = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_COPY_IN) {
        fprintf(stderr, "pg_batch: %s: %s", sql, PQresultErrorMessage(res));
        exit(1);
    }
    PQclear(res);
}

/* The same transaction as the writer's batch (history rows + channel state), through COPY. */
static double run_copy(PGconn *pg, uint32_t n, uint32_t batch, uint32_t data_bytes)
{
    struct bench_msgs b;
    msgs_init(&b, n, data_bytes, "copy");
    copy_exec(pg, "CREATE TEMP TABLE IF NOT EXISTS batch (channel text, epoch text, msg_offset"
                  " bigint, published_at timestamptz, user_id text, data json)"
                  " ON COMMIT DELETE ROWS");
    size_t line_max = 2 * (size_t)data_bytes + 256;
    char *line = malloc(line_max);
    uint64_t start = now_us();
    for (uint32_t first = 0; first < n; first += batch) {
        copy_exec(pg, "BEGIN");
        copy_exec(pg, "COPY batch FROM STDIN");
        for (uint32_t i = first; i < first + batch && i < n; i++) {
            const struct pg_msg *m = &b.msgs[i];
            time_t secs = (time_t)(m->timestamp_ms / 1000);
            struct tm tm;
            gmtime_r(&secs, &tm);
            int k = snprintf(
                line, line_max, "%s\t%s\t%" PRIu64 "\t%04d-%02d-%02d %02d:%02d:%02d.%03u+00\t%s\t",
                m->channel, m->epoch, m->offset, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(m->timestamp_ms % 1000), m->user_id);
            size_t len = (size_t)k + copy_escape(line + k, m->data, m->data_len);
            line[len++] = '\n';
            if (PQputCopyData(pg, line, (int)len) != 1) {
                fprintf(stderr, "pg_batch: COPY: %s", PQerrorMessage(pg));
                exit(1);
            }
        }
        if (PQputCopyEnd(pg, NULL) != 1) {
            fprintf(stderr, "pg_batch: COPY end: %s", PQerrorMessage(pg));
            exit(1);
        }
        PGresult *res;
        while ((res = PQgetResult(pg)) != NULL) {
            if (PQresultStatus(res) != PGRES_COMMAND_OK) {
                fprintf(stderr, "pg_batch: COPY: %s", PQresultErrorMessage(res));
                exit(1);
            }
            PQclear(res);
        }
        copy_exec(pg, "INSERT INTO tidegate_history SELECT * FROM batch ON CONFLICT DO NOTHING");
        copy_exec(pg, "INSERT INTO tidegate_channel_state AS s (channel, epoch, last_offset,"
                      " last_published_at, run_id) SELECT DISTINCT ON (channel) channel, epoch,"
                      " msg_offset, published_at, 1 FROM batch ORDER BY channel,"
                      " published_at DESC, msg_offset DESC ON CONFLICT (channel) DO UPDATE SET"
                      " epoch = excluded.epoch, last_offset = excluded.last_offset,"
                      " last_published_at = excluded.last_published_at, updated_at = now()");
        copy_exec(pg, "COMMIT");
    }
    double per_s = (double)n * 1e6 / (double)(now_us() - start);
    free(line);
    msgs_free(&b);
    return per_s;
}

/* ---- the command line ---- */

/* "a,b,c" into `out` (at most BENCH_SIZES_MAX values in min..max). */
static int parse_list(const char *text, uint32_t *out, uint32_t *count, unsigned long min,
                      unsigned long max)
{
    *count = 0;
    for (const char *p = text; *p != '\0' && *count < BENCH_SIZES_MAX;) {
        char *end;
        unsigned long v = strtoul(p, &end, 10);
        if (end == p || v < min || v > max || (*end != ',' && *end != '\0'))
            return -1;
        out[(*count)++] = (uint32_t)v;
        p = *end == ',' ? end + 1 : end;
    }
    return *count > 0 ? 0 : -1;
}

static int parse_args(int argc, char **argv, struct bench_opts *o)
{
    *o = (struct bench_opts){
        .messages = 200000, .single = 5000, .data_bytes = 100, .rounds = 3, .fsync = true};
    parse_list("1,10,100,1000,5000", o->sizes, &o->size_count, 1, 10000);
    parse_list("1000,10000,50000", o->rates, &o->rate_count, 1, 1000000);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--no-fsync") == 0) {
            o->fsync = false;
            continue;
        }
        if (v == NULL)
            return -1;
        i++;
        if (strcmp(a, "--messages") == 0)
            o->messages = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--single") == 0)
            o->single = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--rounds") == 0)
            o->rounds = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--data-bytes") == 0)
            o->data_bytes = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--rates") == 0) {
            if (parse_list(v, o->rates, &o->rate_count, 1, 1000000) != 0)
                return -1;
        } else if (strcmp(a, "--sizes") == 0) {
            if (parse_list(v, o->sizes, &o->size_count, 1, 10000) != 0)
                return -1;
        } else
            return -1;
    }
    if (o->messages < 1000 || o->single < 100 || o->rounds < 1 || o->rounds > BENCH_SIZES_MAX ||
        o->data_bytes < 9 || o->data_bytes > 65536)
        return -1;
    return 0;
}

/* The ratio, measured in alternating rounds: the cost of a commit on a shared machine drifts
 * over a run, and alternating keeps both sides under the same conditions. */
static int part_ratio(const struct bench_opts *o, PGconn *pg, const char *conninfo)
{
    printf("Batched against one INSERT per message, alternating, %u rounds.\n\n"
           "| round | one INSERT per message (blocking) | writer, batch 1 | writer, batch 1000 |"
           " batch 1000 / one INSERT |\n|---|---|---|---|---|\n",
           o->rounds);
    double ratios[BENCH_SIZES_MAX];
    for (uint32_t k = 0; k < o->rounds; k++) {
        char epoch[32];
        snprintf(epoch, sizeof epoch, "single%u", k);
        double single = run_single(pg, o->single, o->data_bytes, epoch);
        struct pg_writer_config cfg;
        struct writer_result one, batched;
        writer_config_for(&cfg, 1);
        snprintf(epoch, sizeof epoch, "one%u", k);
        if (run_writer(conninfo, &cfg, o->single, o->data_bytes, 0, epoch, &one) != 0)
            return -1;
        writer_config_for(&cfg, 1000);
        snprintf(epoch, sizeof epoch, "batched%u", k);
        if (run_writer(conninfo, &cfg, o->messages, o->data_bytes, 0, epoch, &batched) != 0)
            return -1;
        ratios[k] = batched.per_s / single;
        printf("| %u | %.0f/s | %.0f/s | %.0f/s | %.1fx |\n", k + 1, single, one.per_s,
               batched.per_s, ratios[k]);
        fflush(stdout);
    }
    qsort(ratios, o->rounds, sizeof ratios[0], cmp_double);
    printf("\nmedian ratio: %.1fx\n\n", ratios[o->rounds / 2]);
    return 0;
}

static int part_sizes(const struct bench_opts *o, PGconn *pg, const char *conninfo)
{
    printf("Batch size: throughput fed as fast as the queue takes messages, and what a batch"
           " costs.\n\n| mode | messages | messages/s | transactions | mean batch | flush mean |"
           " flush p99 (bucket) |\n|---|---|---|---|---|---|---|\n");
    for (uint32_t s = 0; s < o->size_count; s++) {
        struct pg_writer_config cfg;
        writer_config_for(&cfg, o->sizes[s]);
        uint32_t n = o->sizes[s] < 100 ? o->single * o->sizes[s] : o->messages;
        char epoch[32];
        snprintf(epoch, sizeof epoch, "w%u", o->sizes[s]);
        struct writer_result r;
        if (run_writer(conninfo, &cfg, n, o->data_bytes, 0, epoch, &r) != 0)
            return -1;
        printf("| writer, batch_messages_max %u | %u | %.0f | %" PRIu64 " | %.1f | %.2f ms |"
               " %.2f ms |\n",
               o->sizes[s], n, r.per_s, r.batches, r.batch_mean, r.flush_mean_us / 1000.0,
               (double)r.flush_p99_us / 1000.0);
        fflush(stdout);
    }
    double copy = run_copy(pg, o->messages, 1000, o->data_bytes);
    printf("| COPY + INSERT SELECT, batches of 1000 (blocking) | %u | %.0f | %u | 1000 | | |\n\n",
           o->messages, copy, (o->messages + 999) / 1000);
    return 0;
}

static int part_paced(const struct bench_opts *o, const char *conninfo)
{
    printf("Latency: the writer with its defaults (batch 1000, delay 5 ms), fed at a steady rate"
           " for 5 s.\n\n| rate (messages/s) | messages | mean batch | flush mean |"
           " flush p99 (bucket) | enqueue->stored p50 | p99 | p99.9 |\n"
           "|---|---|---|---|---|---|---|---|\n");
    for (uint32_t k = 0; k < o->rate_count; k++) {
        struct pg_writer_config cfg;
        pg_writer_config_defaults(&cfg);
        struct writer_result r;
        uint32_t n = o->rates[k] * 5;
        char epoch[32];
        snprintf(epoch, sizeof epoch, "paced%u", o->rates[k]);
        if (run_writer(conninfo, &cfg, n, o->data_bytes, o->rates[k], epoch, &r) != 0)
            return -1;
        printf("| %u | %u | %.1f | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %.2f ms |\n",
               o->rates[k], n, r.batch_mean, r.flush_mean_us / 1000.0,
               (double)r.flush_p99_us / 1000.0, (double)r.stored_p50_us / 1000.0,
               (double)r.stored_p99_us / 1000.0, (double)r.stored_p999_us / 1000.0);
        fflush(stdout);
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct bench_opts o;
    if (parse_args(argc, argv, &o) != 0) {
        fprintf(stderr, "usage: pg_batch [--messages N>=1000] [--single N>=100] [--rounds 1..8]"
                        " [--sizes 1,10,...] [--rates R,...] [--data-bytes 9..65536]"
                        " [--no-fsync]\n");
        return 2;
    }
    log_level_set(LOG_WARN);
    struct pg_harness h;
    char conninfo[256], err[MIGRATE_ERROR_BYTES] = "";
    struct migrate_report report;
    if (pg_harness_start(&h, o.fsync) != 0 ||
        pg_harness_create_db(&h, "bench", conninfo, sizeof conninfo) != 0 ||
        storage_migrate(conninfo, &report, err) != 0) {
        fprintf(stderr, "pg_batch: could not set up PostgreSQL %s\n", err);
        return 1;
    }
    PGconn *pg = PQconnectdb(conninfo);
    int ret = PQstatus(pg) == CONNECTION_OK ? 0 : 1;
    if (ret == 0) {
        printf("PostgreSQL %d, fsync %s, %u-byte data, %u channels\n\n", PQserverVersion(pg),
               o.fsync ? "on" : "off", o.data_bytes, BENCH_CHANNELS);
        if (part_ratio(&o, pg, conninfo) != 0 || part_sizes(&o, pg, conninfo) != 0 ||
            part_paced(&o, conninfo) != 0)
            ret = 1;
    }
    PQfinish(pg);
    pg_harness_destroy(&h);
    return ret;
}
