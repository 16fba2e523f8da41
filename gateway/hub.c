/* The hub's routing: who owns a channel, requests to owners, replies back, deliveries out,
 * and the mailbox callback that dispatches what arrives. See hub.h for the model. */
#include "gateway/hub_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <xxhash.h>

#include "core/log.h"
#include "gateway/conn.h"
#include "gateway/hub_api.h"
#include "gateway/session.h"

enum { HUB_SWEEP_INTERVAL_MS = 1000, HUB_SCRATCH_BYTES_MAX = 64 * 1024 * 1024 };

uint64_t hub_channel_hash(const char *name, size_t len)
{
    return XXH3_64bits(name, len);
}

unsigned hub_owner_of(const struct hub *h, uint64_t channel_hash)
{
    return (unsigned)(channel_hash % h->worker->shared->grid->workers);
}

uint64_t hub_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int hub_init(struct hub *h, struct worker *w)
{
    memset(h, 0, sizeof *h);
    h->worker = w;
    hmap_init(&h->owned);
    hmap_init(&h->local);
    jbuf_init(&h->scratch, HUB_SCRATCH_BYTES_MAX);
    if (getrandom(&h->rng, sizeof h->rng, 0) != (ssize_t)sizeof h->rng)
        h->rng = hub_wall_ms() ^ ((uint64_t)w->index << 48) ^ (uint64_t)(uintptr_t)h;
    h->rng |= 1;
    tw_timer_init(&h->sweep_timer);
    tw_arm(&w->loop.wheel, &h->sweep_timer, w->loop.now_ms + HUB_SWEEP_INTERVAL_MS);
    return 0;
}

void hub_destroy(struct hub *h)
{
    tw_cancel(&h->worker->loop.wheel, &h->sweep_timer);
    local_destroy(h);
    owner_destroy(h);
    hmap_destroy(&h->local);
    hmap_destroy(&h->owned);
    jbuf_free(&h->scratch);
}

void hub_on_sweep(struct hub *h)
{
    owner_sweep(h);
    struct worker *w = h->worker;
    tw_arm(&w->loop.wheel, &h->sweep_timer, w->loop.now_ms + HUB_SWEEP_INTERVAL_MS);
}

struct hub_req *hub_req_new(struct hub *h, enum hub_op op, struct conn *c,
                            const struct proto_channel *channel, const struct json_span *id,
                            size_t data_len)
{
    struct hub_req *r = malloc(sizeof *r + data_len);
    if (r == NULL)
        return NULL;
    memset(r, 0, sizeof *r);
    r->op = (uint8_t)op;
    r->origin = (uint16_t)h->worker->index;
    r->conn = c;
    r->retry_after_ms = -1;
    if (channel != NULL) {
        memcpy(r->channel, channel->name, channel->len);
        r->channel[channel->len] = '\0';
        r->channel_len = channel->len;
        r->channel_hash = hub_channel_hash(channel->name, channel->len);
    }
    if (id != NULL && id->len > 0) {
        assert(id->len <= HUB_ID_BYTES_MAX);
        memcpy(r->id, id->ptr, id->len);
        r->id_len = (uint8_t)id->len;
    }
    if (c != NULL)
        session_user_copy(c, r->user_id, &r->user_id_len);
    r->data_len = (uint32_t)data_len;
    return r;
}

void hub_req_free(struct hub_req *r)
{
    free(r->reply);
    free(r);
}

static bool hub_is_reply(uint8_t op)
{
    return op == HUB_OP_JOINED || op == HUB_OP_ACK || op == HUB_OP_PRESENCE_REPLY ||
           op == HUB_OP_HISTORY_REPLY;
}

bool hub_send_request(struct hub *h, struct hub_req *r)
{
    struct worker *w = h->worker;
    unsigned owner = hub_owner_of(h, r->channel_hash);
    if (owner == w->index) {
        owner_handle(h, r);
        return true;
    }
    if (!mailbox_send_control(w->shared->grid, w->index, owner, r))
        return false;
    gw_metric_add(&w->metrics->hub_requests_sent, 1);
    return true;
}

void hub_send_reply(struct hub *h, struct hub_req *r)
{
    struct worker *w = h->worker;
    if (r->origin == w->index) {
        local_on_reply(h, r);
        return;
    }
    if (!mailbox_send_control(w->shared->grid, w->index, r->origin, r)) {
        /* Out of memory: the requester's session keeps counting it pending, so its
         * connection is kept (as a zombie) until the worker stops. Rare enough to log. */
        log_error("hub", "out of memory sending a reply to another worker; reply lost",
                  "worker=%u to=%u op=%u", w->index, (unsigned)r->origin, (unsigned)r->op);
        hub_req_free(r);
    }
}

void hub_fanout(struct hub *h, const uint64_t *interest, struct chan_msg *m)
{
    struct worker *w = h->worker;
    struct mailbox_grid *g = w->shared->grid;
    bool local = false;
    for (unsigned i = 0; i < g->workers; i++) {
        if (!(interest[i / 64] & (1ull << (i % 64))))
            continue;
        if (i == w->index) {
            local = true;
            continue;
        }
        chan_msg_ref(m);
        if (!mailbox_send(g, w->index, i, m)) {
            chan_msg_unref(m);
            gw_metric_add(&w->metrics->deliveries_dropped[GW_DROP_MAILBOX_FULL], 1);
        }
    }
    if (local)
        local_deliver(h, m); /* consumes the caller's reference */
    else
        chan_msg_unref(m);
}

void hub_on_item(void *ctx, unsigned from, void *item)
{
    struct hub *h = ctx;
    (void)from;
    uint8_t op = *(const uint8_t *)item;
    if (op == HUB_OP_DELIVER) {
        local_deliver(h, item);
    } else if (op == HUB_OP_FAN || op == HUB_OP_FAN_REPLY) {
        hub_fan_on_item(h, item);
    } else if (hub_is_reply(op)) {
        local_on_reply(h, item);
    } else {
        gw_metric_add(&h->worker->metrics->hub_requests_received, 1);
        owner_handle(h, item);
    }
}

void hub_item_discard(void *item)
{
    uint8_t op = *(const uint8_t *)item;
    if (op == HUB_OP_DELIVER)
        chan_msg_unref(item);
    else if (op == HUB_OP_FAN || op == HUB_OP_FAN_REPLY)
        hub_fan_free(item);
    else
        hub_req_free(item);
}
