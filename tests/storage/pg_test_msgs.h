/* Test messages for the writer: a set of N messages whose bytes stay put until the set is
 * freed (the writer does not copy them), fed to a writer and tracked through `done`.
 *
 * Message i goes to channel "room:<i % channels>" with offset i / channels + 1 in epoch
 * `epoch`, timestamp base_ms + i, user "user-<i % 7>" (none when i % 7 == 0), and data
 * {"seq":i,"text":"...\"quoted\" é ✓"} (bytes that a careless encoding would break). */
#ifndef TIDEGATE_TESTS_PG_TEST_MSGS_H
#define TIDEGATE_TESTS_PG_TEST_MSGS_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/pg_writer.h"

enum { MSG_PENDING = -1 };

struct msg_set {
    struct pg_msg *msgs;
    char *text;  /* the bytes the spans point into */
    int *status; /* MSG_PENDING or enum pg_msg_status, per message */
    uint32_t count;
    uint32_t channels;
    uint32_t enqueued; /* messages accepted so far (in order) */
    uint32_t refused;  /* enqueue refusals seen by msg_set_feed */
    uint32_t reported; /* done callbacks */
    uint32_t stored;   /* ... of them PG_MSG_STORED */
    bool out_of_order; /* a callback came for a message before an earlier one */
};

/* Builds `count` messages over `channels` channels. Aborts when out of memory. */
void msg_set_init(struct msg_set *s, uint32_t count, uint32_t channels, const char *epoch,
                  uint64_t base_ms);
void msg_set_free(struct msg_set *s);

/* The writer's done callback for a set (ctx = the set, cookie = the index + 1). */
void msg_set_done(void *ctx, void *cookie, enum pg_msg_status status);

/* Enqueues up to `max` further messages, stopping at the first refusal. Returns how many
 * were accepted. */
uint32_t msg_set_feed(struct msg_set *s, struct pg_writer *w, uint32_t max);

/* The JSON data of message i, as enqueued (for byte-for-byte comparisons). */
const char *msg_set_data(const struct msg_set *s, uint32_t i, uint32_t *len);

#endif
