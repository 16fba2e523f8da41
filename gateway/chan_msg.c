/* Shared channel messages: see chan_msg.h. */
#include "gateway/chan_msg.h"

#include <stdlib.h>
#include <string.h>

#include "gateway/hub_op.h"

struct chan_msg *chan_msg_new(enum chan_msg_kind kind, const char *channel, size_t channel_len,
                              uint64_t channel_hash, const char *json, size_t json_len)
{
    if (channel_len > UINT16_MAX || json_len > UINT32_MAX - 64)
        return NULL;
    struct chan_msg *m = malloc(sizeof *m + channel_len + CHAN_MSG_HEADER_ROOM + json_len);
    if (m == NULL)
        return NULL;
    memset(m, 0, sizeof *m);
    m->op = HUB_OP_DELIVER;
    m->kind = (uint8_t)kind;
    m->channel_len = (uint16_t)channel_len;
    atomic_init(&m->refs, 1);
    m->json_len = (uint32_t)json_len;
    m->channel_hash = channel_hash;
    memcpy(m->bytes, channel, channel_len);
    uint8_t header[WS_FRAME_HEADER_BYTES_MAX];
    size_t header_len = ws_frame_header_encode(header, WS_OP_TEXT, true, json_len, NULL);
    m->frame_header_len = (uint8_t)header_len;
    char *body = (char *)m->bytes + channel_len + CHAN_MSG_HEADER_ROOM;
    memcpy(body - header_len, header, header_len);
    memcpy(body, json, json_len);
    return m;
}

void chan_msg_unref(struct chan_msg *m)
{
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
        free(m);
}
