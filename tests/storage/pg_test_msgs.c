/* Test messages for the writer: see pg_test_msgs.h. */
#include "pg_test_msgs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MSG_TEXT_BYTES = 160 };

void msg_set_init(struct msg_set *s, uint32_t count, uint32_t channels, const char *epoch,
                  uint64_t base_ms)
{
    memset(s, 0, sizeof *s);
    s->count = count;
    s->channels = channels;
    s->msgs = calloc(count, sizeof *s->msgs);
    s->text = malloc((size_t)count * MSG_TEXT_BYTES);
    s->status = malloc((size_t)count * sizeof *s->status);
    if (s->msgs == NULL || s->text == NULL || s->status == NULL)
        abort();
    for (uint32_t i = 0; i < count; i++) {
        char *t = s->text + (size_t)i * MSG_TEXT_BYTES;
        struct pg_msg *m = &s->msgs[i];
        int channel_len = snprintf(t, 24, "room:%u", i % channels);
        m->channel = t;
        m->channel_len = (uint32_t)channel_len;
        m->epoch = epoch;
        m->epoch_len = (uint32_t)strlen(epoch);
        m->offset = i / channels + 1;
        m->timestamp_ms = base_ms + i;
        if (i % 7 != 0) {
            char *u = t + 24;
            m->user_id = u;
            m->user_id_len = (uint32_t)snprintf(u, 16, "user-%u", i % 7);
        }
        char *d = t + 40;
        m->data = d;
        m->data_len = (uint32_t)snprintf(d, MSG_TEXT_BYTES - 40,
                                         "{\"seq\":%u,\"text\":\"a \\\"quoted\\\" \xc3\xa9 "
                                         "\xe2\x9c\x93\"}",
                                         i);
        s->status[i] = MSG_PENDING;
    }
}

void msg_set_free(struct msg_set *s)
{
    free(s->msgs);
    free(s->text);
    free(s->status);
    memset(s, 0, sizeof *s);
}

void msg_set_done(void *ctx, void *cookie, enum pg_msg_status status)
{
    struct msg_set *s = ctx;
    uint32_t i = (uint32_t)((uintptr_t)cookie - 1);
    if (i >= s->count || s->status[i] != MSG_PENDING)
        abort(); /* a second callback for one message */
    if (i != s->reported)
        s->out_of_order = true;
    s->status[i] = (int)status;
    s->reported++;
    if (status == PG_MSG_STORED)
        s->stored++;
}

uint32_t msg_set_feed(struct msg_set *s, struct pg_writer *w, uint32_t max)
{
    uint32_t accepted = 0;
    while (accepted < max && s->enqueued < s->count) {
        uint32_t i = s->enqueued;
        enum pg_enqueue_result r = pg_writer_enqueue(w, &s->msgs[i], (void *)(uintptr_t)(i + 1));
        if (r != PG_ENQUEUE_OK) {
            s->refused++;
            break;
        }
        s->enqueued++;
        accepted++;
    }
    return accepted;
}

const char *msg_set_data(const struct msg_set *s, uint32_t i, uint32_t *len)
{
    *len = s->msgs[i].data_len;
    return s->msgs[i].data;
}
