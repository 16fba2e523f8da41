/* Requests that concern every worker rather than one channel's owner: what the server API
 * (gateway/api.h) asks of the whole node. A fan-out is one struct hub_fan per target worker,
 * sent through the same mailboxes as channel requests (mailbox_send_control: never lost);
 * each worker answers with its part and the same struct comes back to the requester's
 * worker, which gathers the parts (api_on_fan_reply).
 *
 *   KICK      closes the matching client connections of the worker (disconnect notice, then
 *             close 4003 or 4006); answers how many.
 *   CHANNELS  lists, sorted by name, at most `limit` of the channels the worker owns that have
 *             a subscriber, match a prefix and come after a cursor; answers them as JSON
 *             objects and whether more matched.
 *   INFO      answers the worker's connection, channel and subscription counts.
 *
 * Like every hub item, a fan-out is handled on one worker at a time and dereferences `api`
 * only on the worker that sent it.
 */
#ifndef TIDEGATE_GATEWAY_HUB_API_H
#define TIDEGATE_GATEWAY_HUB_API_H

#include <stdbool.h>
#include <stdint.h>

#include "gateway/hub.h"

struct api_conn;

enum hub_fan_kind { HUB_FAN_KICK, HUB_FAN_CHANNELS, HUB_FAN_INFO };

enum { HUB_FAN_MESSAGE_BYTES_MAX = 200, HUB_FAN_LIMIT_MAX = 1000 };

struct hub_fan_kick {
    bool by_client_id;   /* else by user id */
    bool reconnect;      /* 4006 reconnect_requested, else 4003 kicked */
    uint64_t serial;     /* by_client_id: the session serial of the client id */
    uint8_t user_id_len; /* by user id */
    char user_id[JWT_SUB_BYTES_MAX + 1];
    char message[HUB_FAN_MESSAGE_BYTES_MAX + 1]; /* the notice's sentence, NUL-terminated */
    uint64_t closed;                             /* out: connections closed */
};

/* One listed channel: a JSON object in `json` at [start, start + len); its name is the
 * `name_len` bytes at start + HUB_FAN_NAME_AT (channel names need no escaping). */
struct hub_fan_entry {
    uint32_t start, len;
    uint16_t name_len;
};
#define HUB_FAN_NAME_AT 12 /* strlen("{\"channel\":\"") */

struct hub_fan_channels {
    uint32_t limit; /* 1..HUB_FAN_LIMIT_MAX */
    uint16_t prefix_len, cursor_len;
    char prefix[PROTO_CHANNEL_BYTES_MAX + 1];
    char cursor[PROTO_CHANNEL_BYTES_MAX + 1]; /* exclusive; cursor_len 0: from the start */
    /* out */
    char *json;                    /* owned: the objects back to back */
    struct hub_fan_entry *entries; /* owned: `count` entries sorted by name */
    uint32_t count;
    bool more;   /* more channels matched than `limit` */
    bool failed; /* out of memory: the part is missing */
};

struct hub_fan_info {
    uint64_t connections, channels, subscriptions; /* out */
};

struct hub_fan {
    uint8_t op;           /* HUB_OP_FAN going out, HUB_OP_FAN_REPLY coming back */
    uint8_t kind;         /* enum hub_fan_kind */
    uint16_t origin;      /* the requester's worker */
    struct api_conn *api; /* the requester */
    union {
        struct hub_fan_kick kick;
        struct hub_fan_channels channels;
        struct hub_fan_info info;
    } u;
};

/* A zeroed fan-out of `kind` from this worker for `api`; NULL when out of memory. */
struct hub_fan *hub_fan_new(struct hub *h, enum hub_fan_kind kind, struct api_conn *api);
void hub_fan_free(struct hub_fan *f);

/* Sends `f` to worker `target` (handled at once, reply included, when that is this worker).
 * Returns false when it could not be sent (out of memory); the caller still owns it. */
bool hub_fan_send(struct hub *h, struct hub_fan *f, unsigned target);

/* The mailbox side (hub.c): a fan-out request to handle here, or a reply to hand to the API. */
void hub_fan_on_item(struct hub *h, struct hub_fan *f);

#endif
