/* Results and their merging: see result.h. */
#include "bench/result.h"

#include <assert.h>
#include <string.h>

#define BENCH_COUNTER_NAME(name, desc) #name,
#define BENCH_COUNTER_DESC(name, desc) desc,
static const char *const counter_names[BENCH_COUNTER_COUNT] = {BENCH_COUNTERS(BENCH_COUNTER_NAME)};
static const char *const counter_descs[BENCH_COUNTER_COUNT] = {BENCH_COUNTERS(BENCH_COUNTER_DESC)};

const char *bench_counter_name(enum bench_counter c)
{
    assert(c < BENCH_COUNTER_COUNT);
    return counter_names[c];
}

const char *bench_counter_description(enum bench_counter c)
{
    assert(c < BENCH_COUNTER_COUNT);
    return counter_descs[c];
}

static const char *const proto_error_names[BENCH_PROTO_ERROR_COUNT] = {
    "bad_request",         "unknown_type",         "not_connected",
    "already_connected",   "channel_name_invalid", "unknown_namespace",
    "not_authorized",      "already_joined",       "not_joined",
    "too_many_channels",   "rate_limited",         "message_too_large",
    "presence_disabled",   "typing_disabled",      "history_disabled",
    "epoch_mismatch",      "channel_full",         "server_busy",
    "storage_unavailable", "internal_error",       "other",
};

const char *bench_proto_error_name(unsigned i)
{
    assert(i < BENCH_PROTO_ERROR_COUNT);
    return proto_error_names[i];
}

unsigned bench_proto_error_index(const char *code, size_t len)
{
    for (unsigned i = 0; i + 1 < BENCH_PROTO_ERROR_COUNT; i++) {
        if (strlen(proto_error_names[i]) == len && memcmp(proto_error_names[i], code, len) == 0)
            return i;
    }
    return BENCH_PROTO_ERROR_COUNT - 1;
}

void bench_codes_add(struct bench_codes *t, uint16_t code, uint64_t n)
{
    for (size_t i = 0; i < BENCH_CODES_MAX; i++) {
        if (t->count[i] != 0 && t->code[i] == code) {
            t->count[i] += n;
            return;
        }
        if (t->count[i] == 0) {
            t->code[i] = code;
            t->count[i] = n;
            return;
        }
    }
    t->other += n;
}

static void codes_merge(struct bench_codes *into, const struct bench_codes *from)
{
    for (size_t i = 0; i < BENCH_CODES_MAX && from->count[i] != 0; i++)
        bench_codes_add(into, from->code[i], from->count[i]);
    into->other += from->other;
}

void bench_result_init(struct bench_result *r, uint64_t slice_ns)
{
    assert(slice_ns > 0);
    memset(r, 0, sizeof *r);
    hist_init(&r->connect_ns);
    hist_init(&r->latency_ns);
    hist_init(&r->ack_ns);
    hist_init(&r->lag_ns);
    r->slice_ns = slice_ns;
}

static void slice_add(struct bench_slice *into, const struct bench_slice *from)
{
    if (from->latency_max_ns > into->latency_max_ns)
        into->latency_max_ns = from->latency_max_ns;
    into->latency_count += from->latency_count;
    into->ready += from->ready;
    into->failed += from->failed;
    into->sent += from->sent;
    for (size_t b = 0; b < HIST_COARSE_BUCKETS; b++)
        into->buckets[b] += from->buckets[b];
}

/* Doubles the slice length: slice i takes old slices 2i and 2i+1. */
static void result_coarsen(struct bench_result *r)
{
    uint32_t used = (r->slices_used + 1) / 2;
    for (uint32_t i = 0; i < used; i++) {
        struct bench_slice merged = r->slices[2 * i];
        if (2 * i + 1 < r->slices_used)
            slice_add(&merged, &r->slices[2 * i + 1]);
        r->slices[i] = merged;
    }
    memset(&r->slices[used], 0, sizeof r->slices[0] * (BENCH_SLICES_MAX - used));
    r->slices_used = used;
    r->slice_ns *= 2;
}

struct bench_slice *bench_result_slice(struct bench_result *r, uint64_t t_ns)
{
    while (t_ns / r->slice_ns >= BENCH_SLICES_MAX)
        result_coarsen(r);
    uint32_t i = (uint32_t)(t_ns / r->slice_ns);
    if (i + 1 > r->slices_used)
        r->slices_used = i + 1;
    return &r->slices[i];
}

void bench_result_record_latency(struct bench_result *r, uint64_t t_ns, uint64_t latency_ns)
{
    hist_record(&r->latency_ns, latency_ns);
    if (t_ns > r->last_sample_ns)
        r->last_sample_ns = t_ns;
    struct bench_slice *s = bench_result_slice(r, t_ns);
    s->latency_count++;
    if (latency_ns > s->latency_max_ns)
        s->latency_max_ns = latency_ns;
    s->buckets[hist_bucket_index(latency_ns, HIST_COARSE_SUB_BITS)]++;
}

void bench_result_record_connect(struct bench_result *r, uint64_t t_ns, uint64_t connect_ns)
{
    hist_record(&r->connect_ns, connect_ns);
    bench_result_slice(r, t_ns)->ready++;
}

void bench_result_merge(struct bench_result *into, const struct bench_result *from)
{
    assert(from->slice_ns > 0 && into->slice_ns > 0);
    for (size_t i = 0; i < BENCH_COUNTER_COUNT; i++)
        into->counters[i] += from->counters[i];
    if (from->behind_max_ns > into->behind_max_ns)
        into->behind_max_ns = from->behind_max_ns;
    if (from->last_sample_ns > into->last_sample_ns)
        into->last_sample_ns = from->last_sample_ns;
    codes_merge(&into->close_codes, &from->close_codes);
    codes_merge(&into->http_statuses, &from->http_statuses);
    for (size_t i = 0; i < BENCH_PROTO_ERROR_COUNT; i++)
        into->proto_errors[i] += from->proto_errors[i];
    hist_merge(&into->connect_ns, &from->connect_ns);
    hist_merge(&into->latency_ns, &from->latency_ns);
    hist_merge(&into->ack_ns, &from->ack_ns);
    hist_merge(&into->lag_ns, &from->lag_ns);
    /* Slice lengths are the same first length doubled some number of times. */
    while (into->slice_ns < from->slice_ns)
        result_coarsen(into);
    for (uint32_t i = 0; i < from->slices_used; i++) {
        uint64_t start_ns = (uint64_t)i * from->slice_ns;
        slice_add(bench_result_slice(into, start_ns), &from->slices[i]);
    }
}

uint64_t bench_slice_quantile(const struct bench_slice *s, double q)
{
    uint64_t min = 0;
    for (size_t b = 0; b < HIST_COARSE_BUCKETS; b++) {
        if (s->buckets[b] != 0) {
            min = hist_bucket_lower((unsigned)b, HIST_COARSE_SUB_BITS);
            break;
        }
    }
    return hist_quantile_buckets(s->buckets, false, HIST_COARSE_BUCKETS, HIST_COARSE_SUB_BITS,
                                 s->latency_count, min, s->latency_max_ns, q);
}

uint64_t bench_slice_ns_for(uint64_t expected_ms)
{
    static const uint64_t steps_ms[] = {100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000};
    for (size_t i = 0; i < sizeof steps_ms / sizeof steps_ms[0]; i++) {
        if (expected_ms / steps_ms[i] <= 200)
            return steps_ms[i] * 1000000u;
    }
    return 60000ull * 1000000u; /* longer runs coarsen as they go */
}
