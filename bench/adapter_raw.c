/* The raw adapter: any RFC 6455 server; see adapter.h. */
#include <stdio.h>
#include <string.h>

#include "bench/adapter.h"
#include "bench/worker.h"
#include "core/ws_frame.h"

static void raw_path(const struct bench_params *p, uint32_t channel, char *out, size_t cap)
{
    if (channel == UINT32_MAX) {
        snprintf(out, cap, "%s", p->path);
        return;
    }
    size_t n = strlen(p->path);
    const char *sep = n > 0 && p->path[n - 1] == '/' ? "" : "/";
    snprintf(out, cap, "%s%sc%u", p->path, sep, channel);
}

static void raw_on_open(struct worker *w, struct client_conn *c)
{
    worker_conn_ready(w, c);
}

static void raw_on_message(struct worker *w, struct client_conn *c, uint8_t opcode,
                           const uint8_t *head, size_t head_len, uint64_t len)
{
    (void)opcode;
    worker_on_payload(w, c, head, head_len, len);
}

static bool raw_send_payload(struct worker *w, struct client_conn *c, const struct payload *pl)
{
    size_t len = (size_t)w->params->message_bytes;
    uint8_t *out = client_frame_reserve(&w->client, c, WS_OP_TEXT, len);
    if (out == NULL)
        return false;
    payload_write(out, len, pl);
    client_frame_commit(&w->client, c, true);
    return true;
}

const struct adapter_ops adapter_raw = {
    .name = "raw",
    .path = raw_path,
    .on_open = raw_on_open,
    .on_message = raw_on_message,
    .publish = raw_send_payload,
    .echo = raw_send_payload,
};

const struct adapter_ops *adapter_for(enum bench_adapter_kind kind)
{
    return kind == BENCH_ADAPTER_TIDEGATE ? &adapter_tidegate : &adapter_raw;
}
