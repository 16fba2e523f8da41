/* Channels across workers (docs/architecture.md, "Channels and fan-out").
 *
 * Every channel has one home worker, its owner: xxh3(name) % workers. The owner alone holds
 * the channel's offset, epoch, history, presence and the set of workers interested in it
 * (hub_owner.c). Each worker holds, for the channels its own connections joined, a local
 * channel with the list of local subscriptions (hub_local.c). Workers talk only through the
 * mailbox grid (core/mailbox.h): requests go to the owner, replies come back to the worker
 * that asked, and each published message travels as one shared struct chan_msg pointer to
 * each interested worker, which copies its frame once into an out_chunk that every local
 * subscriber's send queue shares.
 *
 * Why this is exactly-once and in order: a lane between two workers is FIFO. A worker
 * registers interest with its JOIN; the owner answers JOINED (with the offset the
 * subscription starts after) before it sends that worker any later message, so a
 * subscription sees every message after its join once, in offset order. A delivery the
 * mailbox had to refuse (ring and overflow full) leaves a hole in the offsets a worker sees;
 * the worker tells its subscribers with a `gap` before the next message of that channel.
 *
 * Requests that must not be lost (joins, leaves, publishes and their replies) use
 * mailbox_send_control; deliveries use the bounded mailbox_send.
 *
 * Everything here runs on one worker thread; a struct sub, local_chan or chan is touched only
 * by the worker that owns it.
 */
#ifndef TIDEGATE_GATEWAY_HUB_H
#define TIDEGATE_GATEWAY_HUB_H

#include <stdbool.h>
#include <stdint.h>

#include "core/hmap.h"
#include "core/jbuf.h"
#include "core/timer_wheel.h"
#include "gateway/chan_msg.h"
#include "gateway/history.h"
#include "gateway/jwt.h"
#include "gateway/hub_op.h"
#include "gateway/namespace.h"
#include "gateway/proto.h"
#include "storage/pg_writer.h"

struct api_conn;
struct conn;
struct worker;

enum {
    HUB_EPOCH_BYTES = 12,
    HUB_ID_BYTES_MAX = PROTO_ID_BYTES_MAX + 2,
    HUB_FORGOTTEN_BITS = 1 << 16, /* struct hub's filter of forgotten channels: 8 KiB */
};

enum sub_state {
    SUB_PENDING, /* JOIN sent; nothing is delivered until JOINED */
    SUB_ACTIVE,  /* receiving messages with offset > joined_offset */
};

/* A connection's subscription to one channel, on the connection's worker. */
struct sub {
    struct sub *conn_next;         /* the session's list */
    struct sub *lc_prev, *lc_next; /* the local channel's list */
    struct local_chan *lc;
    struct conn *conn;           /* NULL once the connection ended while the join was in flight */
    uint64_t joined_offset;      /* ACTIVE: the offset the subscription started after */
    uint64_t skip_from, skip_to; /* slow_consumer = skip: offsets not queued, not yet told */
    uint8_t state;               /* enum sub_state */
    bool leave_requested;        /* leave_channel arrived while the join was in flight */
    uint8_t leave_id_len;
    char leave_id[HUB_ID_BYTES_MAX]; /* that leave's raw id, replied after `joined` */
};

/* A channel as one worker sees it: its local subscriptions. Exists while it has any. */
struct local_chan {
    struct hmap_node node; /* hub->local, by name hash */
    struct sub *subs;
    const struct ns_config *ns;
    uint32_t sub_count;   /* pending and active */
    uint32_t owner;       /* worker index */
    uint64_t last_offset; /* the newest offset this worker has seen (to detect drops) */
    bool synced;          /* last_offset is known (a JOINED arrived) */
    bool delivering;      /* a delivery walks the list: free it afterwards, not during */
    char epoch[HUB_EPOCH_BYTES + 1];
    uint16_t name_len;
    char name[];
};

/* A request to a channel's owner and, on the way back, its reply (the same struct). The
 * fields the owner fills are marked "out". Only the origin dereferences conn and sub. */
struct hub_req {
    uint8_t op;          /* enum hub_op */
    uint8_t error;       /* out: enum proto_error */
    bool interest;       /* JOIN: register origin's interest; LEAVE: withdraw it */
    bool has_since;      /* JOIN, HISTORY */
    bool recovered;      /* out: JOINED */
    bool backward;       /* HISTORY */
    bool typing;         /* TYPING */
    bool subscribed;     /* LEAVE: the owner counted this subscription (its join had
                            succeeded); false: only the interest is withdrawn */
    uint8_t id_len;      /* 0: no id */
    uint8_t user_id_len; /* 0: anonymous */
    uint16_t origin;     /* the worker that asked */
    uint16_t channel_len;
    struct conn *conn; /* the requester (its session counts the request pending) */
    struct sub *sub;   /* JOIN, LEAVE, TYPING */
    /* The requester when the server API asked instead of a connection (conn is then NULL):
     * the reply goes to api_on_hub_reply, and the owner writes PRESENCE and HISTORY replies
     * in the API's shape and limits (docs/api.md 5.4, 5.5). */
    struct api_conn *api;
    uint32_t api_slot; /* the API request's own index for this reply (broadcast: channel) */
    uint64_t channel_hash;
    uint64_t offset;        /* JOIN/HISTORY: since.offset; out: JOINED/ACK offset */
    uint64_t timestamp_ms;  /* out: ACK */
    uint32_t limit;         /* HISTORY */
    uint32_t data_len;      /* PUBLISH */
    int64_t retry_after_ms; /* out: server_busy */
    char *reply;            /* out: the whole reply JSON (JOINED, PRESENCE, HISTORY), owned */
    uint32_t reply_len;
    char since_epoch[PROTO_EPOCH_BYTES_MAX + 1]; /* HISTORY from the API: "" = not checked */
    char epoch[HUB_EPOCH_BYTES + 1];             /* out */
    char id[HUB_ID_BYTES_MAX];
    char user_id[JWT_SUB_BYTES_MAX + 1];
    char channel[PROTO_CHANNEL_BYTES_MAX + 1];
    char data[]; /* PUBLISH: the raw `data` value */
};

/* A worker's side of the channel machinery. */
struct hub {
    struct worker *worker;
    struct hmap owned;   /* struct chan, the channels this worker owns */
    struct hmap local;   /* struct local_chan, the channels local connections joined */
    struct jbuf scratch; /* reused for every reply and message built on this worker */
    uint64_t rng;        /* epochs */
    size_t sweep_cursor; /* next bucket of `owned` the sweep visits */
    struct tw_timer sweep_timer;
    /* Walks of subscription lists on the stack (a delivery, hub_conn_end). A delivery that
     * arrives during one (a local owner's user_offline for a leave the walk caused) is held
     * in `deferred`, in order, and made when the outermost walk ends (hub_local.c). */
    unsigned walk_depth;
    struct chan_msg **deferred;
    size_t deferred_count, deferred_cap;
    /* Reads from PostgreSQL (hub_stored.c): messages handed to the batch writer and answered
     * by it (in the order handed), and the reads waiting until every message handed before
     * them is answered, so that a read never misses one that left the ring unstored yet. */
    uint64_t store_handed, store_answered;
    struct stored_wait *store_waiting, *store_waiting_tail;
    /* Channels this worker forgot during this run, one bit per name hash modulo
     * HUB_FORGOTTEN_BITS (a filter: a set bit may be another channel's). A channel whose bit
     * is clear has never been owned in this run, so nothing of it can be in the writer's
     * queue: its stored stream can be resumed even while the queue is busy (hub_owner.c). */
    uint64_t forgotten[HUB_FORGOTTEN_BITS / 64];
};

int hub_init(struct hub *h, struct worker *w);
/* Frees every channel, subscription and held message (the worker is stopping; no item will
 * be received any more). */
void hub_destroy(struct hub *h);

/* The owner worker of a channel. */
unsigned hub_owner_of(const struct hub *h, uint64_t channel_hash);
uint64_t hub_channel_hash(const char *name, size_t len);

/* The mailbox delivery callback (mailbox_deliver_fn): `ctx` is the struct hub. */
void hub_on_item(void *ctx, unsigned from, void *item);

/* Called by the worker's timer dispatch for h->sweep_timer. */
void hub_on_sweep(struct hub *h);

/* The batch writer's `done` (pg_writer_done_fn, storage/pg_writer.h): `ctx` is the struct
 * hub. Releases a stored non-durable message; answers a durable publish: its `ack` when
 * STORED, storage_unavailable otherwise (nothing when the worker is exiting). */
void hub_on_stored(void *ctx, void *cookie, enum pg_msg_status status);

/* Frees a mailbox item without acting on it (drain after the workers stopped). */
void hub_item_discard(void *item);

/* ---- requests from a connection (gateway/session.c); each returns PROTO_OK when the
 * request went on its way (the reply comes later, or at once for local owners) or the error
 * to answer now. ---- */
enum proto_error hub_join(struct conn *c, const struct proto_request *req,
                          const struct ns_config *ns);
enum proto_error hub_leave(struct conn *c, const struct proto_request *req);
enum proto_error hub_publish(struct conn *c, const struct proto_request *req,
                             const struct ns_config *ns);
enum proto_error hub_typing(struct conn *c, const struct proto_request *req);
enum proto_error hub_presence(struct conn *c, const struct proto_request *req,
                              const struct ns_config *ns);
enum proto_error hub_history(struct conn *c, const struct proto_request *req,
                             const struct ns_config *ns);

/* The connection's subscription to `channel`, or NULL. A subscription whose leave waits for
 * its join's reply does not count: a join sent after that leave makes a second one, answered
 * after the `left` (requests on one channel take effect in order). */
struct sub *hub_find_sub(struct conn *c, const struct proto_channel *channel);

/* The connection stopped being OPEN: ends every subscription (leaves sent to the owners,
 * presence updated). Idempotent. */
void hub_conn_end(struct conn *c);

/* The connection's send queue drained below half its limit: queue the `gap` notices owed to
 * its skipping subscriptions. */
void hub_conn_send_gaps(struct conn *c);

#endif
