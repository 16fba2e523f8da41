/* A worker's side of its connections' channels: local channels and their subscriptions,
 * delivery of what the owners send (one shared frame per worker per message), slow-consumer
 * policy, and the owners' replies to this worker's requests.
 *
 * Deliveries walk a local channel's list of subscriptions while queueing frames; queueing can
 * end a connection (slow consumer), which removes its subscriptions from the lists. The walk
 * saves the next subscription first (a connection has one subscription per channel, so only
 * the current one can go) and the channel is freed after the walk, never during it.
 *
 * Ending a subscription sends a leave to the owner, and when the owner is this worker its
 * user_offline comes back at once as a delivery, which could end more connections and free
 * any subscription or local channel, the walk's saved `next` included. So no delivery runs
 * inside another walk: it waits in h->deferred until the outermost walk ends.
 */
#include "gateway/hub_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "gateway/api.h"
#include "gateway/conn_internal.h"
#include "gateway/proto_write.h"
#include "gateway/session.h"

static struct session *sess_of(const struct conn *c)
{
    return c->sess;
}

static struct local_chan *lc_find(struct hub *h, uint64_t hash, const char *name, size_t len)
{
    for (struct hmap_node *n = hmap_first(&h->local, hash); n != NULL; n = hmap_next(n)) {
        struct local_chan *lc = hmap_entry(n, struct local_chan, node);
        if (lc->name_len == len && memcmp(lc->name, name, len) == 0)
            return lc;
    }
    return NULL;
}

static struct local_chan *lc_create(struct hub *h, const struct proto_channel *ch, uint64_t hash,
                                    const struct ns_config *ns)
{
    struct local_chan *lc = calloc(1, sizeof *lc + ch->len + 1);
    if (lc == NULL)
        return NULL;
    lc->ns = ns;
    lc->owner = hub_owner_of(h, hash);
    lc->name_len = ch->len;
    memcpy(lc->name, ch->name, ch->len);
    if (!hmap_insert(&h->local, &lc->node, hash)) {
        free(lc);
        return NULL;
    }
    return lc;
}

static void lc_maybe_free(struct hub *h, struct local_chan *lc)
{
    if (lc->sub_count > 0 || lc->delivering)
        return;
    hmap_remove(&h->local, &lc->node);
    free(lc);
}

static void lc_link(struct local_chan *lc, struct sub *s)
{
    s->lc = lc;
    s->lc_prev = NULL;
    s->lc_next = lc->subs;
    if (lc->subs != NULL)
        lc->subs->lc_prev = s;
    lc->subs = s;
    lc->sub_count++;
}

static void lc_unlink(struct local_chan *lc, struct sub *s)
{
    if (s->lc_prev != NULL)
        s->lc_prev->lc_next = s->lc_next;
    else
        lc->subs = s->lc_next;
    if (s->lc_next != NULL)
        s->lc_next->lc_prev = s->lc_prev;
    s->lc_prev = s->lc_next = NULL;
    lc->sub_count--;
}

static void session_unlink(struct session *ss, struct sub *s)
{
    for (struct sub **link = &ss->subs; *link != NULL; link = &(*link)->conn_next) {
        if (*link == s) {
            *link = s->conn_next;
            s->conn_next = NULL;
            ss->sub_count--;
            return;
        }
    }
    assert(!"subscription not in its session's list");
}

struct sub *hub_find_sub(struct conn *c, const struct proto_channel *channel)
{
    for (struct sub *s = sess_of(c)->subs; s != NULL; s = s->conn_next)
        if (!s->leave_requested && s->lc->name_len == channel->len &&
            memcmp(s->lc->name, channel->name, channel->len) == 0)
            return s;
    return NULL;
}

/* Tells the owner a subscription ended (counted: it had joined) or, with `counted` false,
 * only that this worker's interest ended. Frees the subscription and maybe the channel. */
static void sub_release(struct hub *h, struct sub *s, const char *user_id, uint8_t user_id_len,
                        bool counted)
{
    struct local_chan *lc = s->lc;
    lc_unlink(lc, s);
    bool withdraw = lc->sub_count == 0;
    if (counted || withdraw) {
        struct proto_channel ch = {.len = lc->name_len};
        memcpy(ch.name, lc->name, lc->name_len);
        struct hub_req *r = hub_req_new(h, HUB_OP_LEAVE, NULL, &ch, NULL, 0);
        if (r == NULL) {
            log_error("hub", "out of memory sending a leave; the channel keeps a subscriber",
                      "worker=%u", h->worker->index);
        } else {
            r->interest = withdraw;
            r->subscribed = counted;
            if (user_id_len > 0)
                memcpy(r->user_id, user_id, user_id_len);
            r->user_id_len = user_id_len;
            if (!hub_send_request(h, r)) {
                log_error("hub", "out of memory sending a leave", "worker=%u", h->worker->index);
                hub_req_free(r);
            }
        }
    }
    gw_metric_sub(&h->worker->metrics->subscriptions, 1);
    free(s);
    lc_maybe_free(h, lc);
}

/* ---- requests ---- */

enum proto_error hub_join(struct conn *c, const struct proto_request *req,
                          const struct ns_config *ns)
{
    struct hub *h = &c->worker->hub;
    struct session *ss = sess_of(c);
    uint64_t hash = hub_channel_hash(req->channel.name, req->channel.len);
    struct local_chan *lc = lc_find(h, hash, req->channel.name, req->channel.len);
    bool created = false;
    if (lc == NULL) {
        if ((lc = lc_create(h, &req->channel, hash, ns)) == NULL)
            return PROTO_ERR_INTERNAL;
        created = true;
    }
    struct sub *s = calloc(1, sizeof *s);
    struct hub_req *r =
        s ? hub_req_new(h, HUB_OP_JOIN, c, &req->channel, req->has_id ? &req->id : NULL, 0) : NULL;
    if (r == NULL) {
        free(s);
        if (created)
            lc_maybe_free(h, lc);
        return PROTO_ERR_INTERNAL;
    }
    s->conn = c;
    s->state = SUB_PENDING;
    lc_link(lc, s);
    s->conn_next = ss->subs;
    ss->subs = s;
    ss->sub_count++;
    gw_metric_add(&h->worker->metrics->subscriptions, 1);
    r->sub = s;
    r->interest = true;
    if (req->has_since) {
        r->has_since = true;
        r->offset = req->since.offset;
        memcpy(r->since_epoch, req->since.epoch, req->since.epoch_len + 1u);
    }
    session_request_sent(c);
    if (!hub_send_request(h, r)) {
        session_request_done(c);
        hub_req_free(r);
        session_unlink(ss, s);
        lc_unlink(lc, s);
        gw_metric_sub(&h->worker->metrics->subscriptions, 1);
        free(s);
        lc_maybe_free(h, lc);
        return PROTO_ERR_INTERNAL;
    }
    return PROTO_OK;
}

static void send_left(struct hub *h, struct conn *c, const char *id, size_t id_len,
                      const char *channel, size_t channel_len)
{
    struct jbuf *jb = &h->scratch;
    jbuf_reset(jb);
    struct json_span span = {id, id_len};
    proto_write_left(jb, id_len ? &span : NULL, channel, channel_len, "client");
    if (!jb->failed)
        session_send_json(c, jb->data, jb->len);
}

enum proto_error hub_leave(struct conn *c, const struct proto_request *req)
{
    struct hub *h = &c->worker->hub;
    struct session *ss = sess_of(c);
    struct sub *s = hub_find_sub(c, &req->channel);
    if (s == NULL || s->leave_requested)
        return PROTO_ERR_NOT_JOINED;
    if (s->state == SUB_PENDING) {
        /* Requests on one channel take effect in order: leave once `joined` is out. */
        s->leave_requested = true;
        s->leave_id_len = req->has_id ? (uint8_t)req->id.len : 0;
        if (req->has_id)
            memcpy(s->leave_id, req->id.ptr, req->id.len);
        return PROTO_OK;
    }
    session_unlink(ss, s);
    sub_release(h, s, ss->user_id, ss->user_id_len, true);
    send_left(h, c, req->has_id ? req->id.ptr : NULL, req->has_id ? req->id.len : 0,
              req->channel.name, req->channel.len);
    return PROTO_OK;
}

enum proto_error hub_publish(struct conn *c, const struct proto_request *req,
                             const struct ns_config *ns)
{
    (void)ns;
    struct hub *h = &c->worker->hub;
    struct hub_req *r = hub_req_new(h, HUB_OP_PUBLISH, c, &req->channel,
                                    req->has_id ? &req->id : NULL, req->data.len);
    if (r == NULL)
        return PROTO_ERR_INTERNAL;
    memcpy(r->data, req->data.ptr, req->data.len);
    session_request_sent(c);
    if (!hub_send_request(h, r)) {
        session_request_done(c);
        hub_req_free(r);
        return PROTO_ERR_INTERNAL;
    }
    return PROTO_OK;
}

enum proto_error hub_typing(struct conn *c, const struct proto_request *req)
{
    struct hub *h = &c->worker->hub;
    struct sub *s = hub_find_sub(c, &req->channel);
    if (s == NULL || s->leave_requested)
        return PROTO_ERR_NOT_JOINED;
    struct hub_req *r = hub_req_new(h, HUB_OP_TYPING, NULL, &req->channel, NULL, 0);
    if (r == NULL)
        return PROTO_OK; /* typing is best effort */
    session_user_copy(c, r->user_id, &r->user_id_len);
    r->sub = s;
    r->typing = req->typing;
    if (!hub_send_request(h, r))
        hub_req_free(r);
    return PROTO_OK;
}

static enum proto_error send_query(struct conn *c, const struct proto_request *req, enum hub_op op)
{
    struct hub *h = &c->worker->hub;
    struct hub_req *r = hub_req_new(h, op, c, &req->channel, req->has_id ? &req->id : NULL, 0);
    if (r == NULL)
        return PROTO_ERR_INTERNAL;
    if (req->has_since) {
        r->has_since = true;
        r->offset = req->since.offset;
        memcpy(r->since_epoch, req->since.epoch, req->since.epoch_len + 1u);
    }
    uint64_t page_max = hub_opts(h)->history_page_max;
    r->limit = req->limit ? req->limit : (uint32_t)(page_max < 50 ? page_max : 50);
    r->backward = req->backward;
    session_request_sent(c);
    if (!hub_send_request(h, r)) {
        session_request_done(c);
        hub_req_free(r);
        return PROTO_ERR_INTERNAL;
    }
    return PROTO_OK;
}

enum proto_error hub_presence(struct conn *c, const struct proto_request *req,
                              const struct ns_config *ns)
{
    (void)ns;
    return send_query(c, req, HUB_OP_PRESENCE);
}

enum proto_error hub_history(struct conn *c, const struct proto_request *req,
                             const struct ns_config *ns)
{
    (void)ns;
    return send_query(c, req, HUB_OP_HISTORY);
}

static void deliver_now(struct hub *h, struct chan_msg *m);

static void walk_begin(struct hub *h)
{
    h->walk_depth++;
}

/* Ends a walk; the outermost makes the deliveries held meanwhile, in order (each may hold
 * more, which this loop then reaches). */
static void walk_end(struct hub *h)
{
    assert(h->walk_depth > 0);
    if (h->walk_depth == 1) {
        for (size_t i = 0; i < h->deferred_count; i++)
            deliver_now(h, h->deferred[i]);
        h->deferred_count = 0;
    }
    h->walk_depth--;
}

static void defer_delivery(struct hub *h, struct chan_msg *m)
{
    if (h->deferred_count == h->deferred_cap) {
        size_t cap = h->deferred_cap ? 2 * h->deferred_cap : 16;
        struct chan_msg **grown = realloc(h->deferred, cap * sizeof *grown);
        if (grown == NULL) {
            /* A lost message shows as a `dropped` gap before the next one of its channel. */
            log_warn("hub", "out of memory holding a delivery; dropped here", "worker=%u",
                     h->worker->index);
            chan_msg_unref(m);
            return;
        }
        h->deferred = grown;
        h->deferred_cap = cap;
    }
    h->deferred[h->deferred_count++] = m;
}

void hub_conn_end(struct conn *c)
{
    struct session *ss = sess_of(c);
    if (ss == NULL)
        return;
    struct hub *h = &c->worker->hub;
    walk_begin(h);
    while (ss->subs != NULL) {
        struct sub *s = ss->subs;
        ss->subs = s->conn_next;
        s->conn_next = NULL;
        ss->sub_count--;
        if (s->state == SUB_PENDING) {
            s->conn = NULL; /* JOINED will find it detached and leave at once */
            s->leave_requested = false;
        } else {
            sub_release(h, s, ss->user_id, ss->user_id_len, true);
        }
    }
    walk_end(h);
}

/* ---- delivery ---- */

static void send_gap(struct hub *h, struct conn *c, const struct local_chan *lc, uint64_t from,
                     uint64_t to, const char *reason)
{
    struct jbuf *jb = &h->scratch;
    jbuf_reset(jb);
    proto_write_gap(jb, lc->name, lc->name_len, lc->epoch, from, to, reason);
    if (!jb->failed)
        session_send_json(c, jb->data, jb->len);
}

void hub_conn_send_gaps(struct conn *c)
{
    struct session *ss = sess_of(c);
    if (ss == NULL)
        return;
    struct hub *h = &c->worker->hub;
    for (struct sub *s = ss->subs, *next; s != NULL && c->state == CONN_OPEN; s = next) {
        next = s->conn_next;
        if (s->skip_from == 0)
            continue;
        uint64_t from = s->skip_from, to = s->skip_to;
        s->skip_from = s->skip_to = 0;
        send_gap(h, c, s->lc, from, to, "slow_consumer");
    }
}

/* Whether subscription `s` takes message `m` now; handles the slow-consumer policy. */
static bool sub_accepts(struct hub *h, struct sub *s, const struct chan_msg *m)
{
    struct conn *c = s->conn;
    if (s->state != SUB_ACTIVE || c == NULL || c->state != CONN_OPEN)
        return false;
    uint64_t limit = hub_opts(h)->send_queue_bytes_max;
    struct gw_metrics *metrics = h->worker->metrics;
    switch ((enum chan_msg_kind)m->kind) {
    case CHAN_MSG_TYPING:
        if (m->exclude == s && m->exclude_worker == h->worker->index)
            return false;
        if (c->out.bytes > limit / 2) {
            gw_metric_add(&metrics->deliveries_dropped[GW_DROP_TYPING_BUSY], 1);
            return false;
        }
        return true;
    case CHAN_MSG_PRESENCE:
        if (c->out.bytes > limit) {
            session_slow_consumer(c);
            return false;
        }
        return true;
    case CHAN_MSG_MESSAGE:
        break;
    }
    if (m->offset <= s->joined_offset)
        return false;
    bool skip = s->lc->ns->slow_consumer == NS_SLOW_SKIP;
    if (c->out.bytes > limit || (skip && s->skip_from != 0 && c->out.bytes > limit / 2)) {
        if (!skip) {
            session_slow_consumer(c);
            return false;
        }
        if (s->skip_from == 0)
            s->skip_from = m->offset;
        s->skip_to = m->offset;
        gw_metric_add(&metrics->deliveries_dropped[GW_DROP_SLOW_CONSUMER_SKIP], 1);
        return false;
    }
    if (s->skip_from != 0) {
        send_gap(h, c, s->lc, s->skip_from, s->skip_to, "slow_consumer");
        s->skip_from = s->skip_to = 0;
    }
    return true;
}

/* A hole in the offsets this worker saw: the mailbox refused deliveries. */
static void lc_report_drop(struct hub *h, struct local_chan *lc, uint64_t from, uint64_t to)
{
    for (struct sub *s = lc->subs, *next; s != NULL; s = next) {
        next = s->lc_next;
        if (s->state == SUB_ACTIVE && s->conn != NULL && s->conn->state == CONN_OPEN &&
            to > s->joined_offset)
            send_gap(h, s->conn, lc, from > s->joined_offset ? from : s->joined_offset + 1, to,
                     "dropped");
    }
}

void local_deliver(struct hub *h, struct chan_msg *m)
{
    if (h->walk_depth > 0) {
        defer_delivery(h, m);
        return;
    }
    walk_begin(h);
    deliver_now(h, m);
    walk_end(h);
}

static void deliver_now(struct hub *h, struct chan_msg *m)
{
    struct local_chan *lc = lc_find(h, m->channel_hash, chan_msg_channel(m), m->channel_len);
    if (lc == NULL || (m->kind == CHAN_MSG_MESSAGE && !lc->synced)) {
        chan_msg_unref(m); /* nobody here any more, or only joins in flight */
        return;
    }
    lc->delivering = true;
    if (m->kind == CHAN_MSG_MESSAGE) {
        if (m->offset <= lc->last_offset) {
            lc->delivering = false;
            chan_msg_unref(m);
            return;
        }
        if (m->offset > lc->last_offset + 1)
            lc_report_drop(h, lc, lc->last_offset + 1, m->offset - 1);
        lc->last_offset = m->offset;
    }
    struct out_chunk *chunk = NULL;
    uint64_t delivered = 0;
    for (struct sub *s = lc->subs, *next; s != NULL; s = next) {
        next = s->lc_next;
        if (!sub_accepts(h, s, m))
            continue;
        if (chunk == NULL) {
            chunk = out_chunk_new(chan_msg_frame_len(m));
            if (chunk == NULL) {
                log_warn("hub", "out of memory building a delivery frame; message dropped here",
                         "worker=%u", h->worker->index);
                break;
            }
            memcpy(chunk->data, chan_msg_frame(m), chan_msg_frame_len(m));
        }
        if (conn_queue_chunk(s->conn, chunk))
            delivered++;
    }
    if (chunk != NULL)
        out_chunk_unref(chunk);
    struct gw_metrics *metrics = h->worker->metrics;
    gw_metric_add(&metrics->deliveries, delivered);
    gw_metric_add(&metrics->frames_sent, delivered);
    lc->delivering = false;
    lc_maybe_free(h, lc);
    chan_msg_unref(m);
}

/* ---- replies ---- */

static void on_joined(struct hub *h, struct hub_req *r)
{
    struct sub *s = r->sub;
    struct conn *c = s->conn;
    struct local_chan *lc = s->lc;
    if (r->error != PROTO_OK) {
        if (c != NULL) {
            session_unlink(sess_of(c), s);
            struct json_span id = {r->id, r->id_len};
            session_send_error(c, r->id_len ? &id : NULL, r->error,
                               r->error == PROTO_ERR_CHANNEL_FULL
                                   ? "the channel has as many subscribers as its namespace allows"
                               : r->error == PROTO_ERR_SERVER_BUSY
                                   ? "the gateway holds as many channels as it may; retry later"
                                   : "the join could not be done",
                               PROTO_JOIN_CHANNEL, r->channel);
            if (s->leave_requested)
                session_send_error(
                    c, s->leave_id_len ? &(struct json_span){s->leave_id, s->leave_id_len} : NULL,
                    PROTO_ERR_NOT_JOINED, "the join before this leave failed", PROTO_LEAVE_CHANNEL,
                    r->channel);
        }
        sub_release(h, s, r->user_id, r->user_id_len, false);
        return;
    }
    if (!lc->synced) {
        lc->synced = true;
        lc->last_offset = r->offset;
    }
    memcpy(lc->epoch, r->epoch, sizeof lc->epoch);
    if (c == NULL) { /* the connection ended while joining */
        sub_release(h, s, r->user_id, r->user_id_len, true);
        return;
    }
    s->state = SUB_ACTIVE;
    s->joined_offset = r->offset;
    session_send_json(c, r->reply, r->reply_len);
    if (c->state != CONN_OPEN)
        return; /* `joined` ended a slow connection: hub_conn_end released s */
    if (s->leave_requested) {
        /* sub_release frees s: the leave's id is copied out first. */
        char leave_id[HUB_ID_BYTES_MAX];
        uint8_t leave_id_len = s->leave_id_len;
        memcpy(leave_id, s->leave_id, leave_id_len);
        session_unlink(sess_of(c), s);
        sub_release(h, s, r->user_id, r->user_id_len, true);
        send_left(h, c, leave_id, leave_id_len, r->channel, r->channel_len);
    }
}

static void on_ack(struct hub *h, struct hub_req *r)
{
    struct conn *c = r->conn;
    struct json_span id = {r->id, r->id_len};
    if (r->error != PROTO_OK) {
        session_send_error(c, r->id_len ? &id : NULL, r->error,
                           r->error == PROTO_ERR_SERVER_BUSY
                               ? "the gateway holds as many channels as it may; retry later"
                               : "the message could not be published",
                           PROTO_SEND_MESSAGE, r->channel);
        return;
    }
    struct jbuf *jb = &h->scratch;
    jbuf_reset(jb);
    proto_write_ack(jb, r->id_len ? &id : NULL, r->channel, r->channel_len, r->offset, r->epoch,
                    r->timestamp_ms);
    if (!jb->failed)
        session_send_json(c, jb->data, jb->len);
}

static void on_query_reply(struct hub_req *r, enum proto_type type)
{
    struct conn *c = r->conn;
    struct json_span id = {r->id, r->id_len};
    if (r->error != PROTO_OK) {
        session_send_error(c, r->id_len ? &id : NULL, r->error,
                           r->error == PROTO_ERR_EPOCH_MISMATCH
                               ? "since.epoch is not the channel's current epoch; join again "
                                 "or reload"
                           : r->error == PROTO_ERR_STORAGE_UNAVAILABLE
                               ? "the page reaches past the messages in memory and the message "
                                 "store could not be read; retry with backoff"
                               : "the request could not be done",
                           type, r->channel);
        return;
    }
    session_send_json(c, r->reply, r->reply_len);
}

void local_on_reply(struct hub *h, struct hub_req *r)
{
    if (r->api != NULL) {
        api_on_hub_reply(h, r); /* the server API asked; it frees r */
        return;
    }
    struct conn *c = r->conn;
    switch ((enum hub_op)r->op) {
    case HUB_OP_JOINED:
        on_joined(h, r);
        break;
    case HUB_OP_ACK:
        on_ack(h, r);
        break;
    case HUB_OP_PRESENCE_REPLY:
        on_query_reply(r, PROTO_PRESENCE);
        break;
    case HUB_OP_HISTORY_REPLY:
        on_query_reply(r, PROTO_HISTORY);
        break;
    default:
        assert(!"not a reply");
    }
    hub_req_free(r);
    session_request_done(c);
}

void local_destroy(struct hub *h)
{
    assert(h->walk_depth == 0 && h->deferred_count == 0);
    free(h->deferred);
    for (size_t b = 0; b < hmap_bucket_count(&h->local); b++) {
        for (struct hmap_node *n = hmap_bucket(&h->local, b), *next; n != NULL; n = next) {
            next = n->next;
            struct local_chan *lc = hmap_entry(n, struct local_chan, node);
            for (struct sub *s = lc->subs, *sn; s != NULL; s = sn) {
                sn = s->lc_next;
                free(s);
            }
            free(lc);
        }
    }
}
