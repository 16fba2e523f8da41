/* Functions shared by the files of the hub (hub.c: routing between workers, hub_owner.c:
 * the owner's channel state, hub_local.c: subscriptions and delivery). Other modules use
 * hub.h. */
#ifndef TIDEGATE_GATEWAY_HUB_INTERNAL_H
#define TIDEGATE_GATEWAY_HUB_INTERNAL_H

#include "gateway/hub.h"
#include "gateway/worker.h"

/* ---- hub.c ---- */

/* Allocates a request for `op` about `channel` from connection `c` (NULL for none), with
 * `data_len` bytes of room for data. The request counts as pending on c's session until
 * the reply is handled (or, for requests without reply, until sent). NULL when out of
 * memory. */
struct hub_req *hub_req_new(struct hub *h, enum hub_op op, struct conn *c,
                            const struct proto_channel *channel, const struct json_span *id,
                            size_t data_len);
void hub_req_free(struct hub_req *r);

/* Sends a request to the channel's owner (handled at once when that is this worker).
 * Returns false when it could not be sent (out of memory); the caller still owns it. */
bool hub_send_request(struct hub *h, struct hub_req *r);

/* Sends the reply back to r->origin (handled at once when that is this worker). */
void hub_send_reply(struct hub *h, struct hub_req *r);

/* Sends `m` to every worker set in `interest` (bits of worker indexes), this one included;
 * consumes the caller's reference. Deliveries the mailbox refuses are counted. */
void hub_fanout(struct hub *h, const uint64_t *interest, struct chan_msg *m);

/* Wall-clock milliseconds since the epoch (timestamps of messages and presence). */
uint64_t hub_wall_ms(void);

static inline const struct gw_options *hub_opts(const struct hub *h)
{
    return h->worker->shared->opts;
}

/* ---- hub_owner.c ---- */

/* Handles a request this worker owns the channel of: JOIN, LEAVE, PUBLISH, TYPING,
 * PRESENCE, HISTORY. Replies (or frees requests without a reply). */
void owner_handle(struct hub *h, struct hub_req *r);
void owner_sweep(struct hub *h);
/* Calls `visit` for every channel this worker owns, in no order; `visit` must not change any
 * channel (the server API's channel listing, gateway/hub_api.c). */
typedef void (*owner_visit_fn)(void *ctx, const char *name, size_t name_len, uint64_t subscribers,
                               uint64_t offset, const char *epoch);
void owner_each_channel(struct hub *h, owner_visit_fn visit, void *ctx);
void owner_destroy(struct hub *h);

/* ---- hub_local.c ---- */

/* Delivers a channel message to this worker's subscribers; consumes one reference. */
void local_deliver(struct hub *h, struct chan_msg *m);
/* Handles the owner's reply to one of this worker's requests. */
void local_on_reply(struct hub *h, struct hub_req *r);
void local_destroy(struct hub *h);

#endif
