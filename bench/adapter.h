/* Protocol adapters: how a scenario's abstract actions (be ready, publish, echo, receive)
 * become WebSocket messages for one kind of server.
 *
 *   raw       any RFC 6455 server. A connection is ready once upgraded; a publish or an
 *             echo request is one text message holding the payload; every text or binary
 *             message received is a payload. Channel N is the upgrade path "<path>cN", so a
 *             broadcast server that groups clients by path (bench/ref/ws_server.mjs) serves
 *             many channels, and one that ignores the path is measured with one channel.
 *   tidegate  docs/protocol.md. Ready after `connect` is answered with `connected` (and,
 *             for a connection with a channel, `join_channel` with `joined`). A publish is
 *             `send_message` with the payload as a JSON string in `data` and its 33-byte
 *             head as `id`, so its `ack` tells the publish-to-ack latency (for a durable
 *             namespace: until the message is stored); an echo request is `ping` with
 *             the head as its `id` (message size is not used); a `message` or `pong`
 *             carries a payload back. `ack`, `error`, `gap` and `disconnect` are counted.
 */
#ifndef TIDEGATE_BENCH_ADAPTER_H
#define TIDEGATE_BENCH_ADAPTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/client.h"
#include "bench/params.h"
#include "bench/payload.h"

struct worker;

struct adapter_ops {
    const char *name;
    /* The upgrade path of a connection on `channel` (UINT32_MAX: none). */
    void (*path)(const struct bench_params *p, uint32_t channel, char *out, size_t cap);
    /* The connection is upgraded. */
    void (*on_open)(struct worker *w, struct client_conn *c);
    /* A whole data message arrived (its head; see client.h). */
    void (*on_message)(struct worker *w, struct client_conn *c, uint8_t opcode, const uint8_t *head,
                       size_t head_len, uint64_t len);
    /* Queues a publish or an echo request carrying `pl`. False when the connection's
     * send buffer is full (the caller retries after the next send completes). */
    bool (*publish)(struct worker *w, struct client_conn *c, const struct payload *pl);
    bool (*echo)(struct worker *w, struct client_conn *c, const struct payload *pl);
};

extern const struct adapter_ops adapter_raw;
extern const struct adapter_ops adapter_tidegate;

const struct adapter_ops *adapter_for(enum bench_adapter_kind kind);

/* ---- the tidegate adapter's reading of server messages (pure; exposed for tests) ---- */

enum tg_type {
    TG_UNKNOWN, /* not a JSON object with a string "type" the adapter knows */
    TG_CONNECTED,
    TG_JOINED,
    TG_MESSAGE,
    TG_ACK,
    TG_ERROR,
    TG_PONG,
    TG_DISCONNECT,
    TG_GAP,
    TG_OTHER, /* a known protocol message the harness does not act on */
};

struct tg_message {
    enum tg_type type;
    const uint8_t *value; /* MESSAGE: `data` string contents; PONG, ACK: `id`; ERROR: `code` */
    size_t value_len;     /* 0 when absent or not a string (or cut off by the head) */
};

/* Reads the type, and the one field the harness needs, from the first `len` bytes of a
 * server message. Relies only on JSON syntax, not on field order. */
void tg_message_read(const uint8_t *head, size_t len, struct tg_message *out);

/* Writes "<namespace>:c<channel>" into `out`. Returns its length, 0 when it does not fit. */
size_t tg_channel_name(const struct bench_params *p, uint32_t channel, char *out, size_t cap);

#endif
