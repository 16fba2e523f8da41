/* Unit tests for core/ws_reader: every protocol rule it enforces, in both roles, with the
 * input fed whole, byte by byte, split at every point and in odd-sized chunks, the way a
 * real caller feeds it (carrying unconsumed bytes in front of the next ones). Every way of
 * feeding must give the same messages, control frames and outcome. */
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

static void log_init(struct log *l)
{
    l->bytes = malloc(LOG_BYTES_MAX);
    assert_non_null(l->bytes);
    l->len = 0;
}

/* kind 'M' for a whole data message, 'C' for a control frame. */
static void log_put(struct log *l, char kind, uint8_t opcode, const void *data, size_t len)
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

static struct outcome *outcome_new(void)
{
    struct outcome *o = calloc(1, sizeof(*o));
    assert_non_null(o);
    log_init(&o->log);
    o->message = malloc(LOG_BYTES_MAX);
    assert_non_null(o->message);
    return o;
}

static void outcome_free(struct outcome *o)
{
    free(o->log.bytes);
    free(o->message);
    free(o);
}

static void rec_on_data(void *ctx, uint8_t opcode, const uint8_t *data, size_t len, bool end)
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

static void rec_on_control(void *ctx, uint8_t opcode, const uint8_t *payload, size_t len)
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

static void stream_init(struct stream *s, bool masked)
{
    s->bytes = malloc(STREAM_BYTES_MAX);
    assert_non_null(s->bytes);
    s->len = 0;
    s->masked = masked;
}

static void stream_raw(struct stream *s, const void *bytes, size_t len)
{
    assert_true(s->len + len <= STREAM_BYTES_MAX);
    memcpy(s->bytes + s->len, bytes, len);
    s->len += len;
}

/* Appends a frame whose first byte is `b0` (FIN, RSV and opcode bits as given), with the
 * length in its minimal form. */
static void stream_frame(struct stream *s, uint8_t b0, const void *payload, size_t len)
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

static void stream_str(struct stream *s, uint8_t b0, const char *text)
{
    stream_frame(s, b0, text, strlen(text));
}

/* ---- feeding like a real caller ---- */

/* Feeds `s` in chunks whose sizes cycle through `sizes`, carrying what the reader leaves. */
static void run(const struct stream *s, enum ws_role role, uint64_t max, const size_t *sizes,
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
static void outcome_expect_same_report(const struct outcome *a, const struct outcome *b)
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
static void outcome_expect_same(const struct outcome *a, const struct outcome *b)
{
    outcome_expect_same_report(a, b);
    if (a->status == 0) {
        assert_int_equal(a->consumed, b->consumed);
        assert_int_equal(a->message_len, b->message_len);
        assert_memory_equal(a->message, b->message, a->message_len);
    }
}

static void run_and_compare(const struct stream *s, enum ws_role role, uint64_t max,
                            const size_t *sizes, size_t sizes_count, const struct outcome *whole)
{
    struct outcome *o = outcome_new();
    run(s, role, max, sizes, sizes_count, o);
    outcome_expect_same(whole, o);
    outcome_free(o);
}

/* Feeds `s` whole, byte by byte, split at every point (small streams) and in odd chunks;
 * all must agree. Returns the outcome of the whole feed. */
static struct outcome *run_all_ways(const struct stream *s, enum ws_role role, uint64_t max)
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
static struct outcome *run_role(const struct scenario *sc, enum ws_role role, uint64_t max)
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
static struct outcome *expect_valid(const struct scenario *sc, uint64_t max)
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
static void expect_error(const struct scenario *sc, uint64_t max, uint16_t code)
{
    for (int role = WS_ROLE_SERVER; role <= WS_ROLE_CLIENT; role++) {
        struct outcome *o = run_role(sc, (enum ws_role)role, max);
        assert_int_equal(o->status, -1);
        assert_int_equal(o->error, code);
        outcome_free(o);
    }
}

/* The outcome reported exactly these data messages ('M') and control frames ('C'). */
static void expect_log(const struct outcome *o, const char *kinds, const struct frame_spec *want)
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

/* ---- valid streams ---- */

static void single_text_frame(void **unused)
{
    (void)unused;
    static const struct frame_spec f[] = {FRAME(FIN | WS_OP_TEXT, "Hello")};
    struct outcome *o = expect_valid(FRAMES(f), NO_LIMIT);
    static const struct frame_spec want[] = {FRAME(WS_OP_TEXT, "Hello")};
    expect_log(o, "M", want);
    assert_int_equal(o->consumed, 2 + 4 + 5);
    outcome_free(o);
}

static void build_binary_all_bytes(struct stream *s)
{
    uint8_t all[256];
    for (int i = 0; i < 256; i++) {
        all[i] = (uint8_t)i;
    }
    stream_frame(s, FIN | WS_OP_BINARY, all, sizeof(all));
}

static void binary_frame_with_every_byte_value_and_16bit_length(void **unused)
{
    (void)unused;
    struct outcome *o = expect_valid(BUILT(build_binary_all_bytes), 256);
    assert_int_equal(o->messages, 1);
    assert_int_equal(o->log.len, 6 + 256);
    for (int i = 0; i < 256; i++) {
        assert_int_equal(o->log.bytes[6 + i], i);
    }
    outcome_free(o);
}

static void empty_messages_are_reported_once_with_len_0(void **unused)
{
    (void)unused;
    static const struct frame_spec f[] = {
        FRAME(FIN | WS_OP_TEXT, ""),   FRAME(FIN | WS_OP_BINARY, ""),       FRAME(WS_OP_TEXT, ""),
        FRAME(WS_OP_CONTINUATION, ""), FRAME(FIN | WS_OP_CONTINUATION, ""),
    };
    struct outcome *o = expect_valid(FRAMES(f), MAX_NONE);
    assert_int_equal(o->messages, 3);
    assert_int_equal(o->data_calls, 3);
    assert_int_equal(o->empty_calls, 3);
    outcome_free(o);
}

static void fragmented_messages_with_empty_fragments_and_split_characters(void **unused)
{
    (void)unused;
    static const struct frame_spec f[] = {
        FRAME(WS_OP_TEXT, ""),
        FRAME(WS_OP_CONTINUATION, "Hel"),
        FRAME(WS_OP_CONTINUATION, ""),
        FRAME(WS_OP_CONTINUATION, "lo \xE2\x82"),
        FRAME(WS_OP_CONTINUATION, "\xAC"),
        FRAME(FIN | WS_OP_CONTINUATION, ""),
        FRAME(WS_OP_BINARY, "ab"),
        FRAME(FIN | WS_OP_CONTINUATION, "cd"),
    };
    struct outcome *o = expect_valid(FRAMES(f), 10);
    static const struct frame_spec want[] = {FRAME(WS_OP_TEXT, "Hello \xE2\x82\xAC"),
                                             FRAME(WS_OP_BINARY, "abcd")};
    expect_log(o, "MM", want);
    outcome_free(o);
}

static void control_frames_interleaved_in_a_fragmented_message(void **unused)
{
    (void)unused;
    static const struct frame_spec f[] = {
        FRAME(WS_OP_TEXT, "part one, "),         FRAME(FIN | WS_OP_PING, P125),
        FRAME(WS_OP_CONTINUATION, "part two, "), FRAME(FIN | WS_OP_PONG, ""),
        FRAME(FIN | WS_OP_CONTINUATION, "done"), FRAME(FIN | WS_OP_PING, "after"),
    };
    struct outcome *o = expect_valid(FRAMES(f), NO_LIMIT);
    static const struct frame_spec want[] = {
        FRAME(WS_OP_PING, P125),
        FRAME(WS_OP_PONG, ""),
        FRAME(WS_OP_TEXT, "part one, part two, done"),
        FRAME(WS_OP_PING, "after"),
    };
    expect_log(o, "CCMC", want);
    assert_int_equal(o->frames, 6);
    outcome_free(o);
}

static void close_frame_ends_reading_and_later_bytes_are_ignored(void **unused)
{
    (void)unused;
    static const struct frame_spec f[] = {
        FRAME(FIN | WS_OP_TEXT, "bye"),
        FRAME(FIN | WS_OP_CLOSE, "\x03\xE8"
                                 "done \xC3\xA9"),
        FRAME(FIN | WS_OP_TEXT, "never seen"),
        FRAME(0xFF, "not even a valid frame"),
    };
    struct outcome *o = expect_valid(FRAMES(f), NO_LIMIT);
    assert_true(o->closed);
    static const struct frame_spec want[] = {FRAME(WS_OP_TEXT, "bye"),
                                             FRAME(WS_OP_CLOSE, "\x03\xE8"
                                                                "done \xC3\xA9")};
    expect_log(o, "MC", want);
    assert_int_equal(o->frames, 2); /* nothing after the close is counted */
    /* Consumed: the text frame and the close frame, no more. */
    assert_int_equal(o->consumed, (2 + 4 + 3) + (2 + 4 + 9));
    outcome_free(o);
}

static void empty_close_inside_a_fragmented_message(void **unused)
{
    (void)unused;
    static const struct frame_spec f[] = {FRAME(WS_OP_TEXT, "open message"),
                                          FRAME(FIN | WS_OP_CLOSE, "")};
    struct outcome *o = expect_valid(FRAMES(f), NO_LIMIT);
    assert_true(o->closed);
    assert_int_equal(o->messages, 0);
    assert_int_equal(o->message_len, 12);
    outcome_free(o);
}

static void close_with_every_valid_code_and_a_full_reason(void **unused)
{
    (void)unused;
    const uint16_t codes[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                              1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
    for (size_t i = 0; i < COUNT(codes); i++) {
        char payload[WS_CONTROL_PAYLOAD_BYTES_MAX] = {(char)(codes[i] >> 8), (char)codes[i]};
        memset(payload + 2, 'x', sizeof(payload) - 2);
        struct frame_spec f[] = {{FIN | WS_OP_CLOSE, payload, i % 2 ? 2 : sizeof(payload)}};
        struct outcome *o = expect_valid(FRAMES(f), NO_LIMIT);
        assert_true(o->closed);
        f[0].b0 = WS_OP_CLOSE;
        expect_log(o, "C", f);
        outcome_free(o);
    }
}

static void build_long_lengths(struct stream *s)
{
    static uint8_t big[65536 + 5];
    for (size_t i = 0; i < sizeof(big); i++) {
        big[i] = (uint8_t)(i * 31);
    }
    stream_frame(s, FIN | WS_OP_BINARY, big, 300);         /* 16-bit length */
    stream_frame(s, FIN | WS_OP_BINARY, big, sizeof(big)); /* 64-bit length */
}

static void frames_with_16bit_and_64bit_lengths(void **unused)
{
    (void)unused;
    struct outcome *o = expect_valid(BUILT(build_long_lengths), 65536 + 5);
    assert_int_equal(o->messages, 2);
    assert_int_equal(o->log.len, 6 + 300 + 6 + 65536 + 5);
    outcome_free(o);
}

static void non_minimal_length_encodings_are_accepted(void **unused)
{
    (void)unused;
    const uint8_t stream16[] = {0x82, 0x7E, 0x00, 0x03, 'a', 'b', 'c'};
    const uint8_t stream64[] = {0x81, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0x02, 'o', 'k'};
    struct stream s;
    stream_init(&s, false);
    stream_raw(&s, stream16, sizeof(stream16));
    stream_raw(&s, stream64, sizeof(stream64));
    struct outcome *o = run_all_ways(&s, WS_ROLE_CLIENT, NO_LIMIT);
    assert_int_equal(o->status, 0);
    static const struct frame_spec want[] = {FRAME(WS_OP_BINARY, "abc"), FRAME(WS_OP_TEXT, "ok")};
    expect_log(o, "MM", want);
    free(s.bytes);
    outcome_free(o);
}

static void messages_exactly_at_the_size_limit(void **unused)
{
    (void)unused;
    static const struct frame_spec f[] = {
        FRAME(WS_OP_BINARY, "12345"),
        FRAME(FIN | WS_OP_CONTINUATION, "67890"),
        FRAME(FIN | WS_OP_TEXT, "0123456789"),
    };
    struct outcome *o = expect_valid(FRAMES(f), 10);
    assert_int_equal(o->messages, 2);
    outcome_free(o);
}

static void binary_payload_is_not_checked_for_utf8(void **unused)
{
    (void)unused;
    static const struct frame_spec f[] = {FRAME(FIN | WS_OP_BINARY, "\xFF\xED\xA0\x80\xC0")};
    struct outcome *o = expect_valid(FRAMES(f), NO_LIMIT);
    assert_int_equal(o->messages, 1);
    outcome_free(o);
}

static void cut_last_two_bytes(struct stream *s)
{
    s->len -= 2;
}

static void incomplete_control_frame_is_left_for_the_caller(void **unused)
{
    (void)unused;
    static const struct frame_spec f[] = {FRAME(FIN | WS_OP_TEXT, "whole"),
                                          FRAME(FIN | WS_OP_PING, "12345")};
    struct outcome *o = expect_valid(FRAMES_THEN(f, cut_last_two_bytes), NO_LIMIT);
    assert_int_equal(o->messages, 1);
    assert_int_equal(o->controls, 0);
    assert_int_equal(o->consumed, 2 + 4 + 5);
    assert_int_equal(o->carry_max, 2 + 4 + 3);
    assert_int_equal(o->frames, 1); /* the incomplete ping is not counted yet */
    outcome_free(o);
}

/* A data frame whose header is whole is consumed at once, its payload as it comes. */
static void data_header_is_consumed_before_its_payload(void **unused)
{
    (void)unused;
    struct stream s;
    stream_init(&s, true);
    stream_str(&s, FIN | WS_OP_TEXT, "abcdefghij");
    struct ws_reader r;
    ws_reader_init(&r, WS_ROLE_SERVER, NO_LIMIT);
    struct outcome *o = outcome_new();
    assert_int_equal(ws_reader_feed(&r, s.bytes, 5, &rec_ops, o), 0); /* header needs 6 */
    assert_int_equal(ws_reader_feed(&r, s.bytes, 6, &rec_ops, o), 6);
    assert_int_equal(o->data_calls, 0);
    assert_true(ws_reader_in_message(&r));
    assert_int_equal(ws_reader_feed(&r, s.bytes + 6, 3, &rec_ops, o), 3);
    assert_int_equal(o->data_calls, 1);
    assert_int_equal(o->messages, 0);
    assert_int_equal(ws_reader_feed(&r, s.bytes + 9, 7, &rec_ops, o), 7);
    assert_int_equal(o->data_calls, 2);
    assert_int_equal(o->messages, 1);
    assert_memory_equal(o->log.bytes + 6, "abcdefghij", 10);
    assert_false(ws_reader_in_message(&r));
    free(s.bytes);
    outcome_free(o);
}

struct big_check {
    uint64_t offset;
    size_t calls;
    bool ended;
};

static void big_on_data(void *ctx, uint8_t opcode, const uint8_t *data, size_t len, bool end)
{
    struct big_check *c = ctx;
    assert_int_equal(opcode, WS_OP_BINARY);
    assert_false(c->ended);
    for (size_t i = 0; i < len; i++) {
        if (data[i] != (uint8_t)((c->offset + i) * 13)) {
            fail_msg("byte %zu of piece %zu is wrong", i, c->calls);
        }
    }
    c->offset += len;
    c->calls++;
    c->ended = end;
}

static void big_on_control(void *ctx, uint8_t opcode, const uint8_t *payload, size_t len)
{
    (void)ctx;
    (void)payload;
    fail_msg("unexpected control frame %u of %zu bytes", opcode, len);
}

/* A 16 MiB frame in 16 KiB receive buffers: reported piece by piece, unmasked in place,
 * with nothing carried. */
static void large_frame_is_reported_in_pieces_as_it_arrives(void **unused)
{
    (void)unused;
    enum { PAYLOAD = 16 << 20, FEED = 16 << 10, HEADER = 14 };
    const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
    uint8_t *stream = malloc(HEADER + PAYLOAD);
    assert_non_null(stream);
    assert_int_equal(ws_frame_header_encode(stream, WS_OP_BINARY, true, PAYLOAD, mask), HEADER);
    for (size_t i = 0; i < PAYLOAD; i++) {
        stream[HEADER + i] = (uint8_t)(i * 13);
    }
    ws_mask_apply(stream + HEADER, PAYLOAD, mask, 0);
    struct ws_reader r;
    ws_reader_init(&r, WS_ROLE_SERVER, PAYLOAD);
    const struct ws_reader_ops ops = {big_on_data, big_on_control};
    struct big_check c = {0};
    size_t feeds = 0;
    for (size_t pos = 0; pos < HEADER + PAYLOAD; pos += FEED, feeds++) {
        size_t n = HEADER + PAYLOAD - pos < FEED ? HEADER + PAYLOAD - pos : FEED;
        assert_int_equal(ws_reader_feed(&r, stream + pos, n, &ops, &c), n);
    }
    assert_true(c.ended);
    assert_int_equal(c.offset, PAYLOAD);
    assert_int_equal(c.calls, feeds);
    free(stream);
}

/* ---- protocol errors: 1002 ---- */

static void unmasked_frame_to_server_and_masked_frame_to_client(void **unused)
{
    (void)unused;
    for (int role = WS_ROLE_SERVER; role <= WS_ROLE_CLIENT; role++) {
        struct stream s;
        stream_init(&s, role == WS_ROLE_CLIENT); /* the wrong way round */
        stream_str(&s, FIN | WS_OP_TEXT, "hi");
        struct outcome *o = run_all_ways(&s, (enum ws_role)role, NO_LIMIT);
        assert_int_equal(o->error, WS_CLOSE_PROTOCOL_ERROR);
        assert_int_equal(o->messages, 0);
        outcome_free(o);
        s.len = 0;
        stream_str(&s, FIN | WS_OP_PING, "");
        o = run_all_ways(&s, (enum ws_role)role, NO_LIMIT);
        assert_int_equal(o->error, WS_CLOSE_PROTOCOL_ERROR);
        assert_int_equal(o->controls, 0);
        outcome_free(o);
        free(s.bytes);
    }
}

static void reserved_bits_are_rejected(void **unused)
{
    (void)unused;
    const uint8_t rsv[] = {0x40, 0x20, 0x10, 0x70};
    const uint8_t ops[] = {WS_OP_TEXT, WS_OP_BINARY, WS_OP_PING};
    for (size_t i = 0; i < sizeof(rsv); i++) {
        for (size_t j = 0; j < sizeof(ops); j++) {
            struct frame_spec f[] = {FRAME(FIN | WS_OP_TEXT, "fine"),
                                     FRAME((uint8_t)(FIN | rsv[i] | ops[j]), "x")};
            expect_error(FRAMES(f), NO_LIMIT, WS_CLOSE_PROTOCOL_ERROR);
        }
    }
}

static void unknown_opcodes_are_rejected(void **unused)
{
    (void)unused;
    const uint8_t unknown[] = {0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF};
    for (size_t i = 0; i < sizeof(unknown); i++) {
        struct frame_spec f[] = {FRAME(FIN | WS_OP_TEXT, "fine"),
                                 FRAME((uint8_t)(FIN | unknown[i]), "x")};
        expect_error(FRAMES(f), NO_LIMIT, WS_CLOSE_PROTOCOL_ERROR);
        f[1].b0 = unknown[i];
        expect_error(FRAMES(f), NO_LIMIT, WS_CLOSE_PROTOCOL_ERROR);
    }
}

static void control_frames_too_long_or_fragmented(void **unused)
{
    (void)unused;
    static const struct frame_spec long_ping[] = {FRAME(FIN | WS_OP_PING, P125 "p")};
    static const struct frame_spec long_close[] = {FRAME(FIN | WS_OP_CLOSE, "\x03\xE8" P125)};
    static const struct frame_spec fragmented_pong[] = {FRAME(WS_OP_PONG, "frag"),
                                                        FRAME(FIN | WS_OP_CONTINUATION, "ment")};
    expect_error(FRAMES(long_ping), NO_LIMIT, WS_CLOSE_PROTOCOL_ERROR);
    expect_error(FRAMES(long_close), NO_LIMIT, WS_CLOSE_PROTOCOL_ERROR);
    expect_error(FRAMES(fragmented_pong), NO_LIMIT, WS_CLOSE_PROTOCOL_ERROR);
}

static void fragmentation_order_is_enforced(void **unused)
{
    (void)unused;
    static const struct frame_spec orphan[] = {FRAME(FIN | WS_OP_CONTINUATION, "orphan")};
    static const struct frame_spec orphan_after[] = {FRAME(FIN | WS_OP_TEXT, "done"),
                                                     FRAME(WS_OP_CONTINUATION, "orphan")};
    static const struct frame_spec text_in_text[] = {FRAME(WS_OP_TEXT, "open"),
                                                     FRAME(FIN | WS_OP_TEXT, "again")};
    static const struct frame_spec binary_in_text[] = {
        FRAME(WS_OP_TEXT, "open"), FRAME(FIN | WS_OP_PING, "ok"), FRAME(WS_OP_BINARY, "again")};
    expect_error(FRAMES(orphan), NO_LIMIT, WS_CLOSE_PROTOCOL_ERROR);
    expect_error(FRAMES(orphan_after), NO_LIMIT, WS_CLOSE_PROTOCOL_ERROR);
    expect_error(FRAMES(text_in_text), NO_LIMIT, WS_CLOSE_PROTOCOL_ERROR);
    expect_error(FRAMES(binary_in_text), NO_LIMIT, WS_CLOSE_PROTOCOL_ERROR);
}

static void build_length_high_bit(struct stream *s)
{
    const uint8_t masked[] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    const uint8_t plain[] = {0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0};
    if (s->masked) {
        stream_raw(s, masked, sizeof(masked));
    } else {
        stream_raw(s, plain, sizeof(plain));
    }
}

static void length_with_high_bit_set_is_rejected_at_its_first_byte(void **unused)
{
    (void)unused;
    expect_error(BUILT(build_length_high_bit), NO_LIMIT, WS_CLOSE_PROTOCOL_ERROR);
    struct ws_reader r;
    ws_reader_init(&r, WS_ROLE_CLIENT, NO_LIMIT);
    uint8_t three[] = {0x82, 0x7F, 0x80};
    struct outcome *o = outcome_new();
    assert_int_equal(ws_reader_feed(&r, three, sizeof(three), &rec_ops, o), -1);
    assert_int_equal(r.error, WS_CLOSE_PROTOCOL_ERROR);
    outcome_free(o);
}

static void close_payload_of_one_byte(void **unused)
{
    (void)unused;
    static const struct frame_spec alone[] = {FRAME(FIN | WS_OP_CLOSE, "\x03")};
    /* 0x10 then the next frame's first byte 0x81 would read as code 4225, a valid one: the
     * reader must not look past the payload. */
    static const struct frame_spec before_frame[] = {FRAME(FIN | WS_OP_CLOSE, "\x10"),
                                                     FRAME(FIN | WS_OP_TEXT, "")};
    expect_error(FRAMES(alone), NO_LIMIT, WS_CLOSE_PROTOCOL_ERROR);
    expect_error(FRAMES(before_frame), NO_LIMIT, WS_CLOSE_PROTOCOL_ERROR);
}

static void close_codes_a_peer_may_not_send(void **unused)
{
    (void)unused;
    const uint16_t codes[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535};
    for (size_t i = 0; i < COUNT(codes); i++) {
        const char payload[] = {(char)(codes[i] >> 8), (char)codes[i], 'w', 'h', 'y'};
        struct frame_spec f[] = {{FIN | WS_OP_CLOSE, payload, sizeof(payload)}};
        expect_error(FRAMES(f), NO_LIMIT, WS_CLOSE_PROTOCOL_ERROR);
    }
}

/* ---- invalid UTF-8: 1007 ---- */

static void text_that_is_not_utf8(void **unused)
{
    (void)unused;
    const char *bad[] = {"\x80", "\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80",
                         "\xF5", "\xFF",     "ok\xC2",       "cut \xE2\x82", "\xCE\xBA\xE1\xBD"};
    for (size_t i = 0; i < COUNT(bad); i++) {
        struct frame_spec f[] = {FRAME(FIN | WS_OP_TEXT, "valid first"),
                                 {FIN | WS_OP_TEXT, bad[i], strlen(bad[i])}};
        expect_error(FRAMES(f), NO_LIMIT, WS_CLOSE_INVALID_PAYLOAD);
    }
}

static void utf8_errors_across_fragments_and_in_close_reasons(void **unused)
{
    (void)unused;
    static const struct frame_spec split[] = {FRAME(WS_OP_TEXT, "abc\xED"),
                                              FRAME(FIN | WS_OP_PING, ""),
                                              FRAME(FIN | WS_OP_CONTINUATION, "\xA0\x80")};
    static const struct frame_spec cut_at_end[] = {FRAME(WS_OP_TEXT, "abc\xF0\x9F"),
                                                   FRAME(WS_OP_CONTINUATION, "\x98"),
                                                   FRAME(FIN | WS_OP_CONTINUATION, "")};
    static const struct frame_spec close_reason[] = {FRAME(FIN | WS_OP_CLOSE, "\x03\xE8"
                                                                              "bad \xC3\x28")};
    expect_error(FRAMES(split), NO_LIMIT, WS_CLOSE_INVALID_PAYLOAD);
    expect_error(FRAMES(cut_at_end), NO_LIMIT, WS_CLOSE_INVALID_PAYLOAD);
    expect_error(FRAMES(close_reason), NO_LIMIT, WS_CLOSE_INVALID_PAYLOAD);
}

/* Fail fast: the error comes at the bad byte, before the rest of the frame arrives. */
static void utf8_error_is_reported_before_the_frame_is_complete(void **unused)
{
    (void)unused;
    char text[1000];
    memset(text, 'a', sizeof(text));
    text[4] = (char)0xF4;
    text[5] = (char)0x90;
    struct stream s;
    stream_init(&s, true);
    stream_frame(&s, FIN | WS_OP_TEXT, text, sizeof(text));
    struct ws_reader r;
    ws_reader_init(&r, WS_ROLE_SERVER, NO_LIMIT);
    struct outcome *o = outcome_new();
    size_t header = 2 + 2 + 4;
    assert_int_equal(ws_reader_feed(&r, s.bytes, header + 5, &rec_ops, o), header + 5);
    assert_int_equal(ws_reader_feed(&r, s.bytes + header + 5, 1, &rec_ops, o), -1);
    assert_int_equal(r.error, WS_CLOSE_INVALID_PAYLOAD);
    assert_int_equal(ws_reader_feed(&r, s.bytes + header + 6, 10, &rec_ops, o), -1);
    free(s.bytes);
    outcome_free(o);
}

/* ---- size limit: 1009 ---- */

static void messages_over_the_size_limit(void **unused)
{
    (void)unused;
    static const struct frame_spec single[] = {FRAME(FIN | WS_OP_BINARY, "0123456789A")};
    static const struct frame_spec fragments[] = {FRAME(WS_OP_TEXT, "012345"),
                                                  FRAME(FIN | WS_OP_PING, "still fine"),
                                                  FRAME(FIN | WS_OP_CONTINUATION, "6789A")};
    static const struct frame_spec any[] = {FRAME(FIN | WS_OP_TEXT, "x")};
    expect_error(FRAMES(single), 10, WS_CLOSE_MESSAGE_TOO_BIG);
    expect_error(FRAMES(fragments), 10, WS_CLOSE_MESSAGE_TOO_BIG);
    expect_error(FRAMES(any), MAX_NONE, WS_CLOSE_MESSAGE_TOO_BIG);
}

/* The limit is enforced on the header alone: no payload byte needs to arrive. */
static void size_limit_is_reported_from_the_header(void **unused)
{
    (void)unused;
    uint8_t header[WS_FRAME_HEADER_BYTES_MAX];
    size_t n = ws_frame_header_encode(header, WS_OP_BINARY, true, 1ull << 40, NULL);
    struct ws_reader r;
    ws_reader_init(&r, WS_ROLE_CLIENT, 1 << 20);
    struct outcome *o = outcome_new();
    assert_int_equal(ws_reader_feed(&r, header, n - 1, &rec_ops, o), 0);
    assert_int_equal(ws_reader_feed(&r, header, n, &rec_ops, o), -1);
    assert_int_equal(r.error, WS_CLOSE_MESSAGE_TOO_BIG);
    outcome_free(o);
}

/* ---- after the end ---- */

static void reader_stays_failed_after_an_error(void **unused)
{
    (void)unused;
    struct stream s;
    stream_init(&s, false);
    stream_str(&s, FIN | WS_OP_CONTINUATION, "bad");
    stream_str(&s, FIN | WS_OP_TEXT, "good");
    struct ws_reader r;
    ws_reader_init(&r, WS_ROLE_CLIENT, NO_LIMIT);
    struct outcome *o = outcome_new();
    assert_int_equal(ws_reader_feed(&r, s.bytes, s.len, &rec_ops, o), -1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ws_reader_feed(&r, s.bytes + 5, s.len - 5, &rec_ops, o), -1);
        assert_int_equal(ws_reader_feed(&r, s.bytes, 0, &rec_ops, o), -1);
    }
    assert_int_equal(o->messages, 0);
    assert_int_equal(r.error, WS_CLOSE_PROTOCOL_ERROR);
    free(s.bytes);
    outcome_free(o);
}

static void reader_consumes_nothing_after_close(void **unused)
{
    (void)unused;
    struct stream s;
    stream_init(&s, false);
    stream_frame(&s, FIN | WS_OP_CLOSE, "", 0);
    stream_str(&s, FIN | WS_OP_TEXT, "late");
    struct ws_reader r;
    ws_reader_init(&r, WS_ROLE_CLIENT, NO_LIMIT);
    struct outcome *o = outcome_new();
    assert_int_equal(ws_reader_feed(&r, s.bytes, s.len, &rec_ops, o), 2);
    assert_true(r.closed);
    assert_int_equal(ws_reader_feed(&r, s.bytes + 2, s.len - 2, &rec_ops, o), 0);
    assert_int_equal(o->messages, 0);
    assert_int_equal(o->controls, 1);
    free(s.bytes);
    outcome_free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(single_text_frame),
        cmocka_unit_test(binary_frame_with_every_byte_value_and_16bit_length),
        cmocka_unit_test(empty_messages_are_reported_once_with_len_0),
        cmocka_unit_test(fragmented_messages_with_empty_fragments_and_split_characters),
        cmocka_unit_test(control_frames_interleaved_in_a_fragmented_message),
        cmocka_unit_test(close_frame_ends_reading_and_later_bytes_are_ignored),
        cmocka_unit_test(empty_close_inside_a_fragmented_message),
        cmocka_unit_test(close_with_every_valid_code_and_a_full_reason),
        cmocka_unit_test(frames_with_16bit_and_64bit_lengths),
        cmocka_unit_test(non_minimal_length_encodings_are_accepted),
        cmocka_unit_test(messages_exactly_at_the_size_limit),
        cmocka_unit_test(binary_payload_is_not_checked_for_utf8),
        cmocka_unit_test(incomplete_control_frame_is_left_for_the_caller),
        cmocka_unit_test(data_header_is_consumed_before_its_payload),
        cmocka_unit_test(large_frame_is_reported_in_pieces_as_it_arrives),
        cmocka_unit_test(unmasked_frame_to_server_and_masked_frame_to_client),
        cmocka_unit_test(reserved_bits_are_rejected),
        cmocka_unit_test(unknown_opcodes_are_rejected),
        cmocka_unit_test(control_frames_too_long_or_fragmented),
        cmocka_unit_test(fragmentation_order_is_enforced),
        cmocka_unit_test(length_with_high_bit_set_is_rejected_at_its_first_byte),
        cmocka_unit_test(close_payload_of_one_byte),
        cmocka_unit_test(close_codes_a_peer_may_not_send),
        cmocka_unit_test(text_that_is_not_utf8),
        cmocka_unit_test(utf8_errors_across_fragments_and_in_close_reasons),
        cmocka_unit_test(utf8_error_is_reported_before_the_frame_is_complete),
        cmocka_unit_test(messages_over_the_size_limit),
        cmocka_unit_test(size_limit_is_reported_from_the_header),
        cmocka_unit_test(reader_stays_failed_after_an_error),
        cmocka_unit_test(reader_consumes_nothing_after_close),
    };
    return cmocka_run_group_tests_name("ws_reader", tests, NULL, NULL);
}
