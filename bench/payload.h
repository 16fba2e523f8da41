/* What the harness puts in every message it sends, and how it counts what comes back.
 *
 * A payload is ASCII text: 'T', the sender id (8 hex digits), the sequence number (8 hex
 * digits), the send time (16 hex digits, CLOCK_MONOTONIC nanoseconds), then '.' padding up
 * to the requested message size. It needs no JSON escaping, so the tidegate adapter carries
 * it as a JSON string. The send time is the *scheduled* one whenever the sender is behind
 * its schedule by more than the pacing window (worker.c): a sender held back by a slow
 * server or a full socket shows as latency instead of silently sending less (no
 * coordinated omission).
 *
 * Every bench process runs on one machine, so the monotonic clock is shared by publishers
 * and subscribers in different processes.
 *
 * seq_track counts, per (receiver, sender) pair, what arrives: new messages, late ones
 * (below the highest seen but inside a 64-message window and not seen before: reordered)
 * and duplicates (seen before, or too far below the window to tell, which on the in-order
 * streams we measure is a duplicate or a reorder beyond 64 messages). Lost messages are
 * what the sender sent that never arrived: sent - received, computed at the end.
 */
#ifndef TIDEGATE_BENCH_PAYLOAD_H
#define TIDEGATE_BENCH_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    PAYLOAD_HEAD_BYTES = 33, /* 'T' + 8 + 8 + 16 hex digits: the smallest payload */
    PAYLOAD_BYTES_MAX = 16 * 1024 * 1024,
};
/* Sequence numbers stay below this (a sender stops there: over an hour at a million
 * messages a second from one sender). */
#define PAYLOAD_SEQ_MAX UINT32_MAX

struct payload {
    uint32_t sender;
    uint32_t seq;
    uint64_t sent_ns;
};

/* Writes a payload of exactly `len` bytes (len >= PAYLOAD_HEAD_BYTES) into `out`. */
void payload_write(uint8_t *out, size_t len, const struct payload *p);

/* Reads the head of a payload from the first `len` bytes of `data` (the rest, padding, is
 * not looked at). Returns false when the bytes are not a payload head. */
bool payload_read(const uint8_t *data, size_t len, struct payload *p);

enum seq_verdict {
    SEQ_NEW,       /* first time seen */
    SEQ_REORDERED, /* first time seen, but after a higher sequence number */
    SEQ_DUPLICATE, /* seen before (or below the reorder window) */
};

struct seq_track {
    uint32_t next;     /* one above the highest sequence number seen */
    uint32_t received; /* distinct messages seen */
    uint64_t window;   /* bit i: sequence number next - 1 - i was seen */
};

/* Notes sequence number `seq` and says what it was. `t` starts zeroed. */
enum seq_verdict seq_track_see(struct seq_track *t, uint32_t seq);

#endif
