/* Functions shared by the files of the hub (hub.c: routing between workers, hub_owner.c:
 * the owner's channel state, hub_stored.c: its history and recovery read from PostgreSQL,
 * hub_local.c: subscriptions and delivery). Other modules use hub.h. */
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

enum { HUB_INTEREST_WORDS = GW_WORKERS_MAX / 64 };

struct stored_join;

/* A channel at its owner worker (hub_owner.c, hub_stored.c); only that worker touches it. */
struct chan {
    struct hmap_node node; /* hub->owned, by name hash */
    const struct ns_config *ns;
    uint64_t offset;      /* the last offset assigned in this epoch */
    uint64_t subscribers; /* on every worker, pending joins included */
    struct history hist;
    struct hmap members; /* presence: struct member (hub_owner.c), by user id hash */
    uint32_t member_count;
    uint64_t interest[HUB_INTEREST_WORDS]; /* workers with local subscribers */
    /* While the stored state is read (chan_start_resume): the channel's requests wait in
     * `held`, in arrival order, and the channel is not forgotten. */
    bool resuming;
    uint32_t held_count, held_cap;
    struct hub_req **held;
    /* Joins whose replay is being read from PostgreSQL (hub_stored.c), owned by the read;
     * each is counted in `subscribers`, which keeps the channel. */
    struct stored_join *recovering;
    struct hub *hub;
    char epoch[HUB_EPOCH_BYTES + 1];
    uint16_t name_len;
    char name[];
};

/* Copies the reply written in h->scratch into r->reply; false (r->error set) when out of
 * memory or the scratch buffer failed. */
bool owner_take_reply(struct hub *h, struct hub_req *r);

/* Finishes r's join of c once `joined` (its reply) is written in h->scratch: counts the
 * subscription (unless `counted`: it already is), registers r's worker's interest, adds the
 * user to presence and sends `joined`, then the user_online it causes. When the reply cannot
 * be copied, r gets internal_error instead. c may be freed: the caller must not touch it. */
void owner_join_commit(struct hub *h, struct chan *c, struct hub_req *r, bool counted);

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

/* ---- hub_stored.c: history and recovery past the ring, from PostgreSQL ---- */

/* What a history page is taken from: the channel's epoch, offset and ring (hist NULL: the
 * channel does not exist), and whether offsets older than the ring may be read from the
 * worker's pg_reader (`stored`). */
struct history_source {
    const char *epoch;
    uint64_t offset;
    const struct history *hist;
    bool stored;
};

/* Answers r's `history` page (r->has_since/r->offset, r->backward, r->limit) from `src`:
 * at once when the ring alone holds the page, otherwise from the answer of a stored read
 * for exactly the missing offsets (the ring's part is referenced now, the channel is not
 * touched again). A read that is refused or fails answers storage_unavailable. */
void stored_history_answer(struct hub *h, struct hub_req *r, const struct history_source *src);

/* For a join of c with `since` that the ring cannot replay: when the missed messages are
 * within the recovery limits, the epoch is c's and the older ones may be stored, starts
 * the read and returns true: r is then counted in c->subscribers and answered later through
 * owner_join_commit (recovered or not), with every message published meanwhile in its
 * replay. False: nothing was done (answer recovered: false now). */
bool stored_recovery_start(struct hub *h, struct chan *c, struct hub_req *r);

/* A message was just published on c (offset c->offset): adds it to the replays of the
 * joins waiting for their stored read. */
void stored_recovery_note(struct hub *h, struct chan *c, struct chan_msg *m);

/* The batch writer accepted a message (stored_note_handed) or answered one, whatever the
 * status (stored_note_answered: sends the reads that waited for it). The writer answers in
 * the order it accepted. */
void stored_note_handed(struct hub *h);
void stored_note_answered(struct hub *h);

/* Answers the reads that waited for the writer longer than 5 s as failed (history:
 * storage_unavailable; joins: recovered false). From the owner's sweep, every second. */
void stored_sweep(struct hub *h);

/* Frees the reads still waiting for the writer, unanswered (the worker is exiting); before
 * the channels are freed. */
void stored_destroy(struct hub *h);

/* ---- hub_local.c ---- */

/* Delivers a channel message to this worker's subscribers; consumes one reference. */
void local_deliver(struct hub *h, struct chan_msg *m);
/* Handles the owner's reply to one of this worker's requests. */
void local_on_reply(struct hub *h, struct hub_req *r);
void local_destroy(struct hub *h);

#endif
