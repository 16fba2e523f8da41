/* Test harness shared by test_ws_reader.c (valid streams) and test_ws_reader_errors.c
 * (violations): builds frame streams, feeds them to a ws_reader whole, byte by byte, split
 * at every point and in odd-sized chunks the way a real caller does (carrying unconsumed
 * bytes in front of the next ones), and compares what each way of feeding reported.
 * Included by exactly those two test files; everything here is static. */
#ifndef TIDEGATE_TESTS_WS_READER_HARNESS_H
#define TIDEGATE_TESTS_WS_READER_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/ws_reader.h"

enum {
    FIN = 0x80,
    LOG_BYTES_MAX = 1 << 18,
    STREAM_BYTES_MAX = 1 << 18,
    EVERY_SPLIT_BYTES_MAX = 600, /* streams up to this size are split at every point */
    MAX_NONE = 0,
};

#define NO_LIMIT UINT64_MAX

/* ---- event log: what the reader reported, in a canonical form independent of pieces ---- */

struct log {
    uint8_t *bytes;
    size_t len;
};

static inline void log_init(struct log *l)
{
    l->bytes = malloc(LOG_BYTES_MAX);
    assert_non_null(l->bytes);
    l->len = 0;
}

/* kind 'M' for a whole data message, 'C' for a control frame. */
static inline void log_put(struct log *l, char kind, uint8_t opcode, const void *data, size_t len)
{
    assert_true(l->len + 6 + len <= LOG_BYTES_MAX);
    uint8_t *p = l->bytes + l->len;
    p[0] = (uint8_t)kind;
    p[1] = opcode;
    for (int i = 0; i < 4; i++) {
        p[2 + i] = (uint8_t)(len >> (8 * i));
    }
    if (len > 0) {
        memcpy(p + 6, data, len);
    }
    l->len += 6 + len;
}

struct outcome {
    struct log log;
    uint8_t *message;   /* the message being assembled */
    size_t message_len; /* its bytes so far */
    uint8_t message_op; /* its opcode, 0 when none is open */
    size_t data_calls;  /* on_data calls */
    size_t empty_calls; /* on_data calls with len 0 */
    size_t messages;    /* completed data messages */
    size_t controls;    /* control frames */
    uint64_t frames;    /* r->frames at the end */
    ssize_t status;     /* 0, or -1 after an error */
    uint16_t error;     /* r->error */
    bool closed;        /* r->closed */
    size_t consumed;    /* bytes consumed in total */
    size_t carry_max;   /* most bytes the caller had to carry */
};

static inline struct outcome *outcome_new(void)
{
    struct outcome *o = calloc(1, sizeof(*o));
    assert_non_null(o);
    log_init(&o->log);
    o->message = malloc(LOG_BYTES_MAX);
    assert_non_null(o->message);
    return o;
}

static inline void outcome_free(struct outcome *o)
{
    free(o->log.bytes);
    free(o->message);
    free(o);
}

static inline void rec_on_data(void *ctx, uint8_t opcode, const uint8_t *data, size_t len, bool end)
{
    struct outcome *o = ctx;
    assert_true(opcode == WS_OP_TEXT || opcode == WS_OP_BINARY);
    if (o->message_op == 0) {
        o->message_op = opcode;
    }
    assert_int_equal(opcode, o->message_op);
    assert_true(o->message_len + len <= LOG_BYTES_MAX);
    memcpy(o->message + o->message_len, data, len);
    o->message_len += len;
    o->data_calls++;
    o->empty_calls += len == 0;
    if (opcode == WS_OP_TEXT) {
        utf8_state s = utf8_validate_step(UTF8_ACCEPT, o->message, o->message_len);
        assert_int_not_equal(s, UTF8_REJECT);
        assert_true(!end || s == UTF8_ACCEPT);
    }
    if (end) {
        log_put(&o->log, 'M', opcode, o->message, o->message_len);
        o->message_len = 0;
        o->message_op = 0;
        o->messages++;
    }
}

static inline void rec_on_control(void *ctx, uint8_t opcode, const uint8_t *payload, size_t len)
{
    struct outcome *o = ctx;
    assert_true(opcode == WS_OP_PING || opcode == WS_OP_PONG || opcode == WS_OP_CLOSE);
    assert_true(len <= WS_CONTROL_PAYLOAD_BYTES_MAX);
    log_put(&o->log, 'C', opcode, payload, len);
    o->controls++;
}

static const struct ws_reader_ops rec_ops = {rec_on_data, rec_on_control};

/* ---- streams of frames, masked when the reader is a server ---- */

struct stream {
    uint8_t *bytes;
    size_t len;
    bool masked;
};

static inline void stream_init(struct stream *s, bool masked)
{
    s->bytes = malloc(STREAM_BYTES_MAX);
    assert_non_null(s->bytes);
    s->len = 0;
    s->masked = masked;
}

static inline void stream_raw(struct stream *s, const void *bytes, size_t len)
{
    assert_true(s->len + len <= STREAM_BYTES_MAX);
    memcpy(s->bytes + s->len, bytes, len);
    s->len += len;
}

/* Appends a frame whose first byte is `b0` (FIN, RSV and opcode bits as given), with the
 * length in its minimal form. */
static inline void stream_frame(struct stream *s, uint8_t b0, const void *payload, size_t len)
{
    uint8_t h[WS_FRAME_HEADER_BYTES_MAX];
    size_t n = 0;
    uint8_t mask_bit = s->masked ? 0x80 : 0;
    h[n++] = b0;
    if (len <= 125) {
        h[n++] = (uint8_t)(mask_bit | len);
    } else if (len <= UINT16_MAX) {
        h[n++] = mask_bit | 126;
        h[n++] = (uint8_t)(len >> 8);
        h[n++] = (uint8_t)len;
    } else {
        h[n++] = mask_bit | 127;
        for (int i = 7; i >= 0; i--) {
            h[n++] = (uint8_t)((uint64_t)len >> (8 * i));
        }
    }
    const uint8_t mask[4] = {(uint8_t)(0xA5 ^ s->len), 0x3C, 0x00, (uint8_t)(0x81 + s->len)};
    if (s->masked) {
        memcpy(h + n, mask, 4);
        n += 4;
    }
    stream_raw(s, h, n);
    stream_raw(s, payload, len);
    if (s->masked) {
        ws_mask_apply(s->bytes + s->len - len, len, mask, 0);
    }
}

static inline void stream_str(struct stream *s, uint8_t b0, const char *text)
{
    stream_frame(s, b0, text, strlen(text));
}

/* ---- feeding like a real caller ---- */

/* Feeds `s` in chunks whose sizes cycle through `sizes`, carrying what the reader leaves. */
static inline void run(const struct stream *s, enum ws_role role, uint64_t max, const size_t *sizes,
                       size_t sizes_count, struct outcome *o)
{
    struct ws_reader r;
    ws_reader_init(&r, role, max);
    uint8_t *buf = malloc(s->len + WS_READER_CARRY_BYTES_MAX + 1);
    assert_non_null(buf);
    size_t carry = 0;
    size_t pos = 0;
    for (size_t i = 0; pos < s->len; i++) {
        size_t want = sizes[i % sizes_count];
        size_t n = want < s->len - pos ? want : s->len - pos;
        memcpy(buf + carry, s->bytes + pos, n);
        pos += n;
        size_t have = carry + n;
        ssize_t got = ws_reader_feed(&r, buf, have, &rec_ops, o);
        if (got < 0) {
            assert_int_not_equal(r.error, 0);
            assert_int_equal(ws_reader_feed(&r, buf, have, &rec_ops, o), -1);
            o->status = -1;
            o->error = r.error;
            break;
        }
        assert_true((size_t)got <= have);
        o->consumed += (size_t)got;
        if (r.closed) {
            assert_int_equal(ws_reader_feed(&r, buf, have, &rec_ops, o), 0);
            o->closed = true;
            break;
        }
        carry = have - (size_t)got;
        assert_true(carry <= WS_READER_CARRY_BYTES_MAX);
        o->carry_max = carry > o->carry_max ? carry : o->carry_max;
        memmove(buf, buf + got, carry);
    }
    o->frames = r.frames;
    free(buf);
}

/* Same messages, control frames and ending; byte counts may differ (masked or not). */
static inline void outcome_expect_same_report(const struct outcome *a, const struct outcome *b)
{
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->error, b->error);
    assert_int_equal(a->closed, b->closed);
    assert_int_equal(a->messages, b->messages);
    assert_int_equal(a->controls, b->controls);
    assert_int_equal(a->frames, b->frames);
    assert_int_equal(a->log.len, b->log.len);
    assert_memory_equal(a->log.bytes, b->log.bytes, a->log.len);
}

/* Same report from the same bytes fed differently: also the same bytes consumed and the same
 * part of an open message delivered. */
static inline void outcome_expect_same(const struct outcome *a, const struct outcome *b)
{
    outcome_expect_same_report(a, b);
    if (a->status == 0) {
        assert_int_equal(a->consumed, b->consumed);
        assert_int_equal(a->message_len, b->message_len);
        assert_memory_equal(a->message, b->message, a->message_len);
    }
}

static inline void run_and_compare(const struct stream *s, enum ws_role role, uint64_t max,
                                   const size_t *sizes, size_t sizes_count,
                                   const struct outcome *whole)
{
    struct outcome *o = outcome_new();
    run(s, role, max, sizes, sizes_count, o);
    outcome_expect_same(whole, o);
    outcome_free(o);
}

/* Feeds `s` whole, byte by byte, split at every point (small streams) and in odd chunks;
 * all must agree. Returns the outcome of the whole feed. */
static inline struct outcome *run_all_ways(const struct stream *s, enum ws_role role, uint64_t max)
{
    const size_t whole_size[] = {SIZE_MAX};
    struct outcome *whole = outcome_new();
    run(s, role, max, whole_size, 1, whole);
    const size_t one[] = {1};
    run_and_compare(s, role, max, one, 1, whole);
    const size_t odd[] = {2, 3, 5, 7, 11, 13, 139, 140, 1000};
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        run_and_compare(s, role, max, odd + i, 1, whole);
    }
    run_and_compare(s, role, max, odd, sizeof(odd) / sizeof(odd[0]), whole);
    for (size_t cut = 1; cut < s->len && s->len <= EVERY_SPLIT_BYTES_MAX; cut++) {
        const size_t two[] = {cut, SIZE_MAX};
        run_and_compare(s, role, max, two, 2, whole);
    }
    return whole;
}

/* A frame of a scenario: its first byte (FIN, RSV and opcode bits) and its payload. */
struct frame_spec {
    uint8_t b0;
    const char *payload;
    size_t len;
};

#define FRAME(b0, lit)                                                                             \
    {                                                                                              \
        (b0), (lit), sizeof(lit) - 1                                                               \
    }
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define P25      "ppppppppppppppppppppppppp"
#define P125     P25 P25 P25 P25 P25

/* A stream to run in both roles: frames from a table, then whatever `build` adds. */
typedef void (*build_fn)(struct stream *s);
struct scenario {
    const struct frame_spec *frames;
    size_t frame_count;
    build_fn build;
};

#define FRAMES(a)          (&(struct scenario){(a), COUNT(a), NULL})
#define FRAMES_THEN(a, fn) (&(struct scenario){(a), COUNT(a), (fn)})
#define BUILT(fn)          (&(struct scenario){NULL, 0, (fn)})

/* Builds and runs a scenario in the given role (masked for a server reader). */
static inline struct outcome *run_role(const struct scenario *sc, enum ws_role role, uint64_t max)
{
    struct stream s;
    stream_init(&s, role == WS_ROLE_SERVER);
    for (size_t i = 0; i < sc->frame_count; i++) {
        stream_frame(&s, sc->frames[i].b0, sc->frames[i].payload, sc->frames[i].len);
    }
    if (sc->build != NULL) {
        sc->build(&s);
    }
    struct outcome *o = run_all_ways(&s, role, max);
    free(s.bytes);
    return o;
}

/* A valid stream: both roles, every way of feeding, no error, the same report. Returns the
 * server-role outcome. */
static inline struct outcome *expect_valid(const struct scenario *sc, uint64_t max)
{
    struct outcome *server = run_role(sc, WS_ROLE_SERVER, max);
    struct outcome *client = run_role(sc, WS_ROLE_CLIENT, max);
    assert_int_equal(server->status, 0);
    assert_int_equal(server->error, 0);
    outcome_expect_same_report(server, client);
    assert_int_equal(server->message_len, client->message_len);
    outcome_free(client);
    return server;
}

/* An invalid stream: both roles fail with `code`, whatever the feeding. */
static inline void expect_error(const struct scenario *sc, uint64_t max, uint16_t code)
{
    for (int role = WS_ROLE_SERVER; role <= WS_ROLE_CLIENT; role++) {
        struct outcome *o = run_role(sc, (enum ws_role)role, max);
        assert_int_equal(o->status, -1);
        assert_int_equal(o->error, code);
        outcome_free(o);
    }
}

/* The outcome reported exactly these data messages ('M') and control frames ('C'). */
static inline void expect_log(const struct outcome *o, const char *kinds,
                              const struct frame_spec *want)
{
    struct log l;
    log_init(&l);
    for (size_t i = 0; kinds[i] != '\0'; i++) {
        log_put(&l, kinds[i], want[i].b0, want[i].payload, want[i].len);
    }
    assert_int_equal(o->log.len, l.len);
    assert_memory_equal(o->log.bytes, l.bytes, l.len);
    free(l.bytes);
}

#endif
