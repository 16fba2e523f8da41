/* libFuzzer target for core/ws_reader (and through it core/ws_frame and core/utf8).
 *
 * Input: one configuration byte, then the bytes a peer sends. For both roles the stream is
 * fed once whole, and again in chunks at input-derived positions the way a real caller
 * does it (unconsumed bytes carried and presented again in front of the next chunk). Both
 * must report the same completed messages, control frames, bytes consumed and outcome; the
 * carry must never exceed WS_READER_CARRY_BYTES_MAX; and everything reported must obey the
 * contract (sizes, UTF-8 of text and close reasons, close codes, nothing after a CLOSE).
 *
 * Configuration byte: bits 0-1 pick max_message_bytes, bits 4-7 the chunk size scale.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ws_reader.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FNV_OFFSET 0xCBF29CE484222325ull
#define FNV_PRIME  0x100000001B3ull

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        h = (h ^ p[i]) * FNV_PRIME;
    }
    return h;
}

static uint64_t fnv_u64(uint64_t h, uint64_t v)
{
    uint8_t b[8];
    memcpy(b, &v, sizeof(b));
    return fnv(h, b, sizeof(b));
}

/* What one run reported. Completed messages and control frames are folded into `events`;
 * the open message is kept apart because a failing run may deliver different prefixes. */
struct report {
    uint64_t max_message_bytes;
    uint64_t events;
    uint64_t open_hash;   /* bytes of the open message so far */
    uint64_t open_len;    /* their count */
    uint8_t open_opcode;  /* 0 when no message is open */
    utf8_state open_utf8; /* validator state over the open text message */
    bool closed_seen;     /* a CLOSE was reported */
    ssize_t status;       /* 0, or -1 after an error */
    uint16_t error;       /* r->error */
    size_t consumed;      /* bytes consumed in total (when status is 0) */
    uint64_t frames;      /* r->frames at the end */
};

static void report_on_data(void *ctx, uint8_t opcode, const uint8_t *data, size_t len, bool end)
{
    struct report *rep = ctx;
    FUZZ_CHECK(!rep->closed_seen);
    FUZZ_CHECK(opcode == WS_OP_TEXT || opcode == WS_OP_BINARY);
    FUZZ_CHECK(rep->open_opcode == 0 || rep->open_opcode == opcode);
    FUZZ_CHECK(len > 0 || end);
    if (rep->open_opcode == 0) {
        rep->open_opcode = opcode;
        rep->open_hash = FNV_OFFSET;
        rep->open_utf8 = UTF8_ACCEPT;
    }
    rep->open_hash = fnv(rep->open_hash, data, len);
    rep->open_len += len;
    FUZZ_CHECK(rep->open_len <= rep->max_message_bytes);
    if (opcode == WS_OP_TEXT) {
        rep->open_utf8 = utf8_validate_step(rep->open_utf8, data, len);
        FUZZ_CHECK(rep->open_utf8 != UTF8_REJECT);
        FUZZ_CHECK(!end || rep->open_utf8 == UTF8_ACCEPT);
    }
    if (end) {
        rep->events = fnv_u64(rep->events, 'M' | (uint64_t)opcode << 8);
        rep->events = fnv_u64(rep->events, rep->open_len);
        rep->events = fnv_u64(rep->events, rep->open_hash);
        rep->open_opcode = 0;
        rep->open_len = 0;
    }
}

static void report_on_control(void *ctx, uint8_t opcode, const uint8_t *payload, size_t len)
{
    struct report *rep = ctx;
    FUZZ_CHECK(!rep->closed_seen);
    FUZZ_CHECK(opcode == WS_OP_PING || opcode == WS_OP_PONG || opcode == WS_OP_CLOSE);
    FUZZ_CHECK(len <= WS_CONTROL_PAYLOAD_BYTES_MAX);
    if (opcode == WS_OP_CLOSE) {
        FUZZ_CHECK(len != 1);
        FUZZ_CHECK(len == 0 || ws_close_code_valid((uint16_t)(payload[0] << 8 | payload[1])));
        FUZZ_CHECK(len == 0 || utf8_is_valid(payload + 2, len - 2));
        rep->closed_seen = true;
    }
    rep->events = fnv_u64(rep->events, 'C' | (uint64_t)opcode << 8);
    rep->events = fnv_u64(rep->events, len);
    rep->events = fnv(rep->events, payload, len);
}

static const struct ws_reader_ops report_ops = {report_on_data, report_on_control};

struct chunker {
    uint64_t state;
    size_t scale;
};

static size_t chunker_next(struct chunker *c)
{
    c->state ^= c->state << 13;
    c->state ^= c->state >> 7;
    c->state ^= c->state << 17;
    return 1 + (size_t)(c->state % c->scale);
}

/* Records the end of a run: -1 must stay -1, and a closed reader must consume nothing. */
static void report_finish(struct report *rep, struct ws_reader *r, uint8_t *buf, size_t len,
                          ssize_t got)
{
    if (got < 0) {
        FUZZ_CHECK(r->error == WS_CLOSE_PROTOCOL_ERROR || r->error == WS_CLOSE_INVALID_PAYLOAD ||
                   r->error == WS_CLOSE_MESSAGE_TOO_BIG);
        FUZZ_CHECK(ws_reader_feed(r, buf, len, &report_ops, rep) == -1);
        rep->status = -1;
        rep->error = r->error;
        return;
    }
    FUZZ_CHECK(r->error == 0);
    FUZZ_CHECK(r->closed == rep->closed_seen);
    if (r->closed) {
        FUZZ_CHECK(ws_reader_feed(r, buf, len, &report_ops, rep) == 0);
    }
    /* A message with reported bytes is open in the reader too (the reverse need not hold:
     * its frames so far may have been empty). */
    FUZZ_CHECK(rep->open_opcode == 0 || ws_reader_in_message(r));
}

/* Feeds `stream` in chunks from `c` (scale SIZE_MAX: whole), carrying what is left. */
static void run(const uint8_t *stream, size_t len, enum ws_role role, struct chunker c,
                struct report *rep)
{
    struct ws_reader r;
    ws_reader_init(&r, role, rep->max_message_bytes);
    uint8_t *buf = malloc(len + WS_READER_CARRY_BYTES_MAX + 1);
    FUZZ_CHECK(buf != NULL);
    size_t carry = 0;
    size_t pos = 0;
    ssize_t got = 0;
    while (pos < len && !r.closed) {
        size_t n = c.scale == SIZE_MAX ? len - pos : chunker_next(&c);
        n = n < len - pos ? n : len - pos;
        memcpy(buf + carry, stream + pos, n);
        pos += n;
        size_t have = carry + n;
        got = ws_reader_feed(&r, buf, have, &report_ops, rep);
        if (got < 0) {
            break;
        }
        FUZZ_CHECK((size_t)got <= have);
        rep->consumed += (size_t)got;
        carry = have - (size_t)got;
        FUZZ_CHECK(r.closed || carry <= WS_READER_CARRY_BYTES_MAX);
        memmove(buf, buf + got, carry);
    }
    rep->frames = r.frames;
    report_finish(rep, &r, buf, carry, got);
    free(buf);
}

static void check_same(const struct report *a, const struct report *b)
{
    FUZZ_CHECK(a->status == b->status);
    FUZZ_CHECK(a->error == b->error);
    FUZZ_CHECK(a->events == b->events);
    FUZZ_CHECK(a->frames == b->frames);
    FUZZ_CHECK(a->closed_seen == b->closed_seen);
    if (a->status == 0) {
        FUZZ_CHECK(a->consumed == b->consumed);
        FUZZ_CHECK(a->open_opcode == b->open_opcode);
        FUZZ_CHECK(a->open_len == b->open_len);
        FUZZ_CHECK(a->open_len == 0 || a->open_hash == b->open_hash);
    }
}

static uint64_t pick_max_message_bytes(uint8_t config)
{
    switch (config & 3) {
    case 0:
        return UINT64_MAX;
    case 1:
        return config >> 2; /* 0..63: tiny limits, reached often */
    case 2:
        return 1000;
    default:
        return 70000;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    static const size_t scales[16] = {1,  2,  3,  4,   5,   7,   8,    13,
                                      16, 31, 64, 139, 140, 256, 1000, 4096};
    const uint8_t *stream = data + 1;
    size_t len = size - 1;
    uint64_t max = pick_max_message_bytes(data[0]);
    struct chunker chunks = {fnv(FNV_OFFSET, data, size) | 1, scales[data[0] >> 4]};
    const struct chunker whole = {1, SIZE_MAX};

    for (int role = WS_ROLE_SERVER; role <= WS_ROLE_CLIENT; role++) {
        struct report a = {.max_message_bytes = max, .events = FNV_OFFSET};
        struct report b = a;
        run(stream, len, (enum ws_role)role, whole, &a);
        run(stream, len, (enum ws_role)role, chunks, &b);
        check_same(&a, &b);
    }
    return 0;
}
