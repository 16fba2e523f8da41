/* The server API's endpoints (docs/api.md section 5): each parses its request (api_body.h),
 * sends it to the hub (a channel's owner, or every worker), gathers the replies in its
 * struct api_call and writes the answer (api_write.h).
 *
 * Re-entrancy: a request for a channel this worker owns, or a fan-out part for this worker,
 * is answered before hub_send_request / hub_fan_send return. While a route sends, the
 * connection is `dispatching`: replies only record their result, and the route finishes the
 * request itself once it has sent everything. A reply for a connection that closed in the
 * meantime is dropped; the last one frees the state and the connection.
 */
#include "gateway/api_internal.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "gateway/api_body.h"
#include "gateway/api_write.h"
#include "gateway/hub_api.h"
#include "gateway/hub_internal.h"
#include "gateway/proto_write.h"

enum {
    BROADCAST_INFLIGHT_MAX = 32, /* publishes of one broadcast on their way at once */
    NODE_NAME_BYTES = 256,
};

struct broadcast_result {
    uint8_t code; /* enum api_code */
    char epoch[HUB_EPOCH_BYTES + 1];
    uint64_t offset, timestamp_ms;
};

struct broadcast_call {
    struct api_broadcast_req req; /* names in req.arena, data pointing into the request */
    struct broadcast_result *results;
    size_t next; /* the next channel to send */
};

struct api_call {
    enum api_endpoint endpoint;
    bool lost; /* a fan-out part could not be sent (out of memory): the answer is 500 */
    union {
        struct hub_req *reply; /* publish, presence, history: the owner's reply */
        struct broadcast_call *broadcast;
        uint64_t disconnected;
        struct {
            struct hub_fan **parts; /* one per worker, as they arrive */
            uint32_t count, limit;
        } channels;
        struct hub_fan_info info;
    } u;
};

void api_call_free(struct api_call *call)
{
    switch (call->endpoint) {
    case API_EP_PUBLISH:
    case API_EP_PRESENCE:
    case API_EP_HISTORY:
        if (call->u.reply != NULL)
            hub_req_free(call->u.reply);
        break;
    case API_EP_BROADCAST:
        if (call->u.broadcast != NULL) {
            free(call->u.broadcast->req.arena);
            free(call->u.broadcast->results);
            free(call->u.broadcast);
        }
        break;
    case API_EP_CHANNELS:
        for (uint32_t i = 0; i < call->u.channels.count; i++)
            hub_fan_free(call->u.channels.parts[i]);
        free(call->u.channels.parts);
        break;
    default:
        break;
    }
    free(call);
}

static struct hub *hub_of(const struct api_conn *c)
{
    return &api_worker_of(c)->hub;
}

static unsigned workers_of(const struct api_conn *c)
{
    return api_worker_of(c)->shared->grid->workers;
}

static struct api_body_rules body_rules(const struct api_conn *c)
{
    const struct gw_options *o = api_opts(c);
    return (struct api_body_rules){&o->namespaces, o->max_publish_bytes};
}

static const char *request_body(const struct api_conn *c)
{
    return c->rx + c->head.head_bytes;
}

static size_t request_body_len(const struct api_conn *c)
{
    return (size_t)c->head.content_length;
}

static void reply_out_of_memory(struct api_conn *c)
{
    api_reply_error(c, API_INTERNAL_ERROR,
                    "the gateway is out of memory; the request was not carried out");
}

/* The answer for a hub error (publish, presence, history). */
static void reply_hub_error(struct api_conn *c, const struct hub_req *r)
{
    char text[API_MESSAGE_BYTES];
    bool publish = r->op == HUB_OP_PUBLISH || r->op == HUB_OP_ACK;
    switch ((enum proto_error)r->error) {
    case PROTO_ERR_SERVER_BUSY:
        api_reply_error(c, API_SERVER_BUSY,
                        publish ? "the gateway holds max_channels channels; nothing was "
                                  "published, retry later"
                                : "the gateway holds max_channels channels; retry later");
        return;
    case PROTO_ERR_EPOCH_MISMATCH:
        snprintf(text, sizeof text,
                 "epoch \"%s\" is not the current epoch of \"%.160s\"; read again without "
                 "since",
                 r->since_epoch, r->channel);
        api_reply_error(c, API_EPOCH_MISMATCH, text);
        return;
    case PROTO_ERR_STORAGE_UNAVAILABLE:
        api_reply_error(c, API_STORAGE_UNAVAILABLE,
                        publish ? "the message store is unavailable; nothing was published"
                                : "the page reaches past the messages in memory and the "
                                  "message store could not be read; retry with backoff");
        return;
    default:
        api_reply_error(c, API_INTERNAL_ERROR,
                        "the gateway could not carry out the request (out of memory); it may "
                        "or may not have happened");
        return;
    }
}

/* ---- finishing a request ---- */

static void finish_single(struct api_conn *c, struct api_call *call)
{
    struct hub_req *r = call->u.reply;
    if (r == NULL) {
        reply_out_of_memory(c);
        return;
    }
    if (r->error != PROTO_OK) {
        reply_hub_error(c, r);
        return;
    }
    if (r->op == HUB_OP_ACK) {
        struct jbuf *jb = &hub_of(c)->scratch;
        jbuf_reset(jb);
        api_write_published(jb, r->channel, r->channel_len, r->offset, r->epoch, r->timestamp_ms);
        api_reply_scratch(c);
        return;
    }
    api_reply(c, API_OK, r->reply, r->reply_len); /* presence, history: the owner's JSON */
    r->reply = NULL;
}

static void finish_broadcast(struct api_conn *c, const struct broadcast_call *b)
{
    struct jbuf *jb = &hub_of(c)->scratch;
    jbuf_reset(jb);
    api_write_results_head(jb);
    for (size_t i = 0; i < b->req.count; i++) {
        const struct api_name *n = &b->req.names[i];
        const char *name = b->req.arena + n->offset;
        const struct broadcast_result *res = &b->results[i];
        api_write_sep(jb, i == 0);
        if (res->code == API_OK)
            api_write_published(jb, name, n->len, res->offset, res->epoch, res->timestamp_ms);
        else
            api_write_result_error(jb, name, n->len, (enum api_code)res->code,
                                   res->code == API_SERVER_BUSY
                                       ? "the gateway holds max_channels channels; retry later"
                                   : res->code == API_STORAGE_UNAVAILABLE
                                       ? "the message store is unavailable"
                                       : "out of memory; the message may or may not have been "
                                         "published");
    }
    api_write_results_tail(jb);
    api_reply_scratch(c);
}

static const char *entry_name(const struct hub_fan_channels *q, uint32_t i)
{
    return q->json + q->entries[i].start + HUB_FAN_NAME_AT;
}

/* Bytewise, a prefix first: the order the workers sorted by. */
static int entry_cmp(const struct hub_fan_channels *a, uint32_t ai,
                     const struct hub_fan_channels *b, uint32_t bi)
{
    size_t al = a->entries[ai].name_len, bl = b->entries[bi].name_len;
    int d = memcmp(entry_name(a, ai), entry_name(b, bi), al < bl ? al : bl);
    if (d != 0)
        return d;
    return al < bl ? -1 : al > bl ? 1 : 0;
}

/* Merges the workers' sorted lists into one page. */
static void finish_channels(struct api_conn *c, struct api_call *call)
{
    uint32_t parts = call->u.channels.count;
    struct hub_fan **part = call->u.channels.parts;
    uint32_t *pos = calloc(parts ? parts : 1, sizeof *pos);
    if (pos == NULL) {
        reply_out_of_memory(c);
        return;
    }
    bool more = false;
    for (uint32_t i = 0; i < parts; i++) {
        if (part[i]->u.channels.failed) {
            free(pos);
            reply_out_of_memory(c);
            return;
        }
        more = more || part[i]->u.channels.more;
    }
    struct jbuf *jb = &hub_of(c)->scratch;
    jbuf_reset(jb);
    api_write_channels_head(jb);
    const char *last = NULL;
    size_t last_len = 0;
    for (uint32_t taken = 0; taken < call->u.channels.limit; taken++) {
        const struct hub_fan_channels *best = NULL;
        uint32_t best_i = 0;
        for (uint32_t i = 0; i < parts; i++) {
            const struct hub_fan_channels *q = &part[i]->u.channels;
            if (pos[i] < q->count &&
                (best == NULL || entry_cmp(q, pos[i], best, pos[best_i]) < 0)) {
                best = q;
                best_i = i;
            }
        }
        if (best == NULL)
            break;
        const struct hub_fan_entry *e = &best->entries[pos[best_i]++];
        api_write_sep(jb, taken == 0);
        jbuf_raw(jb, best->json + e->start, e->len);
        last = best->json + e->start + HUB_FAN_NAME_AT;
        last_len = e->name_len;
    }
    for (uint32_t i = 0; i < parts; i++)
        more = more || pos[i] < part[i]->u.channels.count;
    api_write_channels_tail(jb, more ? last : NULL, last_len);
    free(pos);
    api_reply_scratch(c);
}

static void finish_info(struct api_conn *c, const struct hub_fan_info *sum)
{
    struct worker *w = api_worker_of(c);
    char node[NODE_NAME_BYTES];
    if (gethostname(node, sizeof node) != 0)
        snprintf(node, sizeof node, "unknown");
    node[sizeof node - 1] = '\0';
    for (char *p = node; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?'; /* host names are ASCII; keep the JSON valid whatever the kernel says */
    uint64_t now = hub_wall_ms(), started = w->shared->started_at_ms;
    struct api_info info = {
        .version = TIDEGATE_VERSION,
        .protocol = PROTO_WRITE_PROTOCOL_VERSION,
        .node = node,
        .started_at_ms = started,
        .uptime_ms = now > started ? now - started : 0,
        .workers = workers_of(c),
        .connections = sum->connections,
        .channels = sum->channels,
        .subscriptions = sum->subscriptions,
        .stopping = c->api->stopping || atomic_load(&w->stop_requested),
    };
    struct jbuf *jb = &hub_of(c)->scratch;
    jbuf_reset(jb);
    api_write_info(jb, &info);
    api_reply_scratch(c);
}

/* Every reply is in: answer (or, for a connection that closed, drop everything: that happens
 * only in a hub reply, an entry point, so freeing the connection here is allowed). */
static void finish(struct api_conn *c)
{
    struct api_call *call = c->call;
    assert(call != NULL && c->pending == 0 && !c->dispatching);
    c->call = NULL;
    if (c->state == API_CONN_CLOSED) {
        api_call_free(call);
        api_conn_release(c);
        return;
    }
    assert(c->state == API_CONN_WORKING);
    struct jbuf *jb = &hub_of(c)->scratch;
    if (call->lost) {
        api_reply_error(c, API_INTERNAL_ERROR,
                        "the gateway ran out of memory asking every worker; the request may "
                        "have been carried out on some of them");
        api_call_free(call);
        return;
    }
    switch (call->endpoint) {
    case API_EP_PUBLISH:
    case API_EP_PRESENCE:
    case API_EP_HISTORY:
        finish_single(c, call);
        break;
    case API_EP_BROADCAST:
        finish_broadcast(c, call->u.broadcast);
        break;
    case API_EP_DISCONNECT:
        jbuf_reset(jb);
        api_write_disconnected(jb, call->u.disconnected);
        api_reply_scratch(c);
        break;
    case API_EP_CHANNELS:
        finish_channels(c, call);
        break;
    case API_EP_INFO:
        finish_info(c, &call->u.info);
        break;
    case API_EP_USER_STATUS: /* answered by api_user_status.c, never through a call */
    case API_EP_NONE:
    case API_ENDPOINT_COUNT:
        assert(!"no endpoint to finish");
        break;
    }
    api_call_free(call);
}

static void maybe_finish(struct api_conn *c)
{
    if (c->pending == 0 && !c->dispatching)
        finish(c);
}

/* ---- single requests: publish, presence, history ---- */

static struct api_call *call_new(struct api_conn *c, enum api_endpoint endpoint)
{
    assert(c->call == NULL);
    struct api_call *call = calloc(1, sizeof *call);
    if (call != NULL) {
        call->endpoint = endpoint;
        c->call = call;
    }
    return call;
}

/* Sends `r` to its channel's owner; the reply finishes the request. */
static void send_single(struct api_conn *c, struct hub_req *r)
{
    r->api = c;
    c->pending++;
    c->dispatching = true;
    bool sent = hub_send_request(hub_of(c), r);
    c->dispatching = false;
    if (!sent) {
        c->pending--;
        hub_req_free(r);
    }
    maybe_finish(c); /* a NULL reply answers 500 */
}

static void route_publish(struct api_conn *c, const struct api_body_rules *rules)
{
    struct api_publish_req req;
    struct api_error err;
    if (api_parse_publish(request_body(c), request_body_len(c), rules, &req, &err) != API_OK) {
        api_reply_error(c, err.code, err.message);
        return;
    }
    struct hub_req *r = NULL;
    if (call_new(c, API_EP_PUBLISH) == NULL ||
        (r = hub_req_new(hub_of(c), HUB_OP_PUBLISH, NULL, &req.channel, NULL, req.data.len)) ==
            NULL) {
        reply_out_of_memory(c);
        return;
    }
    memcpy(r->data, req.data.ptr, req.data.len);
    memcpy(r->user_id, req.user.text, req.user.len + 1u);
    r->user_id_len = req.user.len;
    send_single(c, r);
}

static void route_presence(struct api_conn *c, const struct api_body_rules *rules)
{
    struct api_presence_req req;
    struct api_error err;
    if (api_parse_presence(c->head.query, rules, &req, &err) != API_OK) {
        api_reply_error(c, err.code, err.message);
        return;
    }
    if (!req.ns->presence) {
        api_error_set(&err, API_PRESENCE_DISABLED, "presence is off in namespace \"%s\"",
                      req.ns->name);
        api_reply_error(c, err.code, err.message);
        return;
    }
    struct hub_req *r = NULL;
    if (call_new(c, API_EP_PRESENCE) == NULL ||
        (r = hub_req_new(hub_of(c), HUB_OP_PRESENCE, NULL, &req.channel, NULL, 0)) == NULL) {
        reply_out_of_memory(c);
        return;
    }
    send_single(c, r);
}

static void route_history(struct api_conn *c, const struct api_body_rules *rules)
{
    struct api_history_req req;
    struct api_error err;
    if (api_parse_history(c->head.query, rules, &req, &err) != API_OK) {
        api_reply_error(c, err.code, err.message);
        return;
    }
    if (req.ns->history_size == 0) {
        api_error_set(&err, API_HISTORY_DISABLED, "history is off in namespace \"%s\"",
                      req.ns->name);
        api_reply_error(c, err.code, err.message);
        return;
    }
    struct hub_req *r = NULL;
    if (call_new(c, API_EP_HISTORY) == NULL ||
        (r = hub_req_new(hub_of(c), HUB_OP_HISTORY, NULL, &req.channel, NULL, 0)) == NULL) {
        reply_out_of_memory(c);
        return;
    }
    r->has_since = req.has_since;
    r->offset = req.since;
    memcpy(r->since_epoch, req.epoch, sizeof r->since_epoch);
    r->limit = req.limit;
    r->backward = req.backward;
    send_single(c, r);
}

/* ---- broadcast ---- */

/* Sends the next publishes while fewer than BROADCAST_INFLIGHT_MAX are on their way; finishes
 * when every channel has its result. */
static void broadcast_pump(struct api_conn *c)
{
    struct broadcast_call *b = c->call->u.broadcast;
    c->dispatching = true;
    while (b->next < b->req.count && c->pending < BROADCAST_INFLIGHT_MAX &&
           c->state != API_CONN_CLOSED) {
        size_t i = b->next++;
        const struct api_name *n = &b->req.names[i];
        struct proto_channel ch;
        char text[PROTO_ERROR_TEXT_BYTES];
        bool valid = proto_channel_check(b->req.arena + n->offset, n->len, &ch, text);
        assert(valid);
        (void)valid;
        struct hub_req *r =
            hub_req_new(hub_of(c), HUB_OP_PUBLISH, NULL, &ch, NULL, b->req.data.len);
        b->results[i].code = API_INTERNAL_ERROR;
        if (r == NULL)
            continue;
        memcpy(r->data, b->req.data.ptr, b->req.data.len);
        memcpy(r->user_id, b->req.user.text, b->req.user.len + 1u);
        r->user_id_len = b->req.user.len;
        r->api = c;
        r->api_slot = (uint32_t)i;
        c->pending++;
        if (!hub_send_request(hub_of(c), r)) {
            c->pending--;
            hub_req_free(r);
        }
    }
    c->dispatching = false;
    if (b->next == b->req.count || c->state == API_CONN_CLOSED)
        maybe_finish(c);
}

static void route_broadcast(struct api_conn *c, const struct api_body_rules *rules)
{
    size_t len = request_body_len(c);
    struct broadcast_call *b = calloc(1, sizeof *b);
    char *arena = malloc(len ? len : 1);
    struct api_call *call = b && arena ? call_new(c, API_EP_BROADCAST) : NULL;
    if (call == NULL) {
        free(b);
        free(arena);
        reply_out_of_memory(c);
        return;
    }
    call->u.broadcast = b;
    b->req.arena = arena;
    b->req.arena_cap = len;
    struct api_error err;
    if (api_parse_broadcast(request_body(c), len, rules, &b->req, &err) != API_OK) {
        api_reply_error(c, err.code, err.message);
        return;
    }
    b->results = calloc(b->req.count, sizeof *b->results);
    if (b->results == NULL) {
        reply_out_of_memory(c);
        return;
    }
    broadcast_pump(c);
}

static void broadcast_record(struct broadcast_call *b, const struct hub_req *r)
{
    assert(r->api_slot < b->req.count);
    struct broadcast_result *res = &b->results[r->api_slot];
    switch ((enum proto_error)r->error) {
    case PROTO_OK:
        res->code = API_OK;
        res->offset = r->offset;
        res->timestamp_ms = r->timestamp_ms;
        memcpy(res->epoch, r->epoch, sizeof res->epoch);
        break;
    case PROTO_ERR_SERVER_BUSY:
        res->code = API_SERVER_BUSY;
        break;
    case PROTO_ERR_STORAGE_UNAVAILABLE:
        res->code = API_STORAGE_UNAVAILABLE;
        break;
    default:
        res->code = API_INTERNAL_ERROR;
        break;
    }
}

/* ---- fan-outs: disconnect, channels, info ---- */

/* Sends a fan-out built by `fill` to workers [first, last); the parts finish the request. */
static void send_fan(struct api_conn *c, enum hub_fan_kind kind, unsigned first, unsigned last,
                     void (*fill)(struct hub_fan *f, const void *arg), const void *arg)
{
    c->dispatching = true;
    for (unsigned i = first; i < last && c->state != API_CONN_CLOSED; i++) {
        struct hub_fan *f = hub_fan_new(hub_of(c), kind, c);
        if (f == NULL) {
            c->call->lost = true;
            continue;
        }
        fill(f, arg);
        c->pending++;
        if (!hub_fan_send(hub_of(c), f, i)) {
            c->pending--;
            hub_fan_free(f);
            c->call->lost = true;
        }
    }
    c->dispatching = false;
    maybe_finish(c);
}

static void fill_kick(struct hub_fan *f, const void *arg)
{
    const struct hub_fan_kick *k = arg;
    f->u.kick = *k;
}

/* "w<worker>-<serial>" as session.c's client_id() writes it: the worker and serial, or false
 * when `id` cannot be one (then no connection has it). */
static bool client_id_parse(const char *id, size_t len, unsigned workers, unsigned *worker,
                            uint64_t *serial)
{
    unsigned w;
    uint64_t s;
    char check[API_CLIENT_ID_BYTES_MAX + 1];
    if (len < 2 || id[0] != 'w' || sscanf(id, "w%u-%" SCNx64, &w, &s) != 2 || w >= workers)
        return false;
    int n = snprintf(check, sizeof check, "w%u-%08" PRIx64, w, s);
    if (n < 0 || (size_t)n != len || memcmp(check, id, len) != 0)
        return false;
    *worker = w;
    *serial = s;
    return true;
}

static void route_disconnect(struct api_conn *c)
{
    struct api_disconnect_req req;
    struct api_error err;
    if (api_parse_disconnect(request_body(c), request_body_len(c), &req, &err) != API_OK) {
        api_reply_error(c, err.code, err.message);
        return;
    }
    if (call_new(c, API_EP_DISCONNECT) == NULL) {
        reply_out_of_memory(c);
        return;
    }
    struct hub_fan_kick k = {.by_client_id = req.by_client_id, .reconnect = req.reconnect};
    memcpy(k.message, req.message, req.message_len + 1u);
    unsigned first = 0, last = workers_of(c);
    if (req.by_client_id) {
        unsigned worker;
        if (!client_id_parse(req.user.text, req.user.len, last, &worker, &k.serial)) {
            maybe_finish(c); /* no such connection: disconnected 0 */
            return;
        }
        first = worker;
        last = worker + 1;
    } else {
        k.user_id_len = req.user.len;
        memcpy(k.user_id, req.user.text, req.user.len + 1u);
    }
    send_fan(c, HUB_FAN_KICK, first, last, fill_kick, &k);
}

static void fill_channels(struct hub_fan *f, const void *arg)
{
    const struct api_channels_req *req = arg;
    struct hub_fan_channels *q = &f->u.channels;
    q->limit = req->limit;
    q->prefix_len = req->prefix_len;
    memcpy(q->prefix, req->prefix, req->prefix_len + 1u);
    q->cursor_len = req->cursor_len;
    memcpy(q->cursor, req->cursor, req->cursor_len + 1u);
}

static void route_channels(struct api_conn *c)
{
    struct api_channels_req req;
    struct api_error err;
    if (api_parse_channels(c->head.query, &req, &err) != API_OK) {
        api_reply_error(c, err.code, err.message);
        return;
    }
    struct api_call *call = call_new(c, API_EP_CHANNELS);
    if (call == NULL ||
        (call->u.channels.parts = calloc(workers_of(c), sizeof(struct hub_fan *))) == NULL) {
        reply_out_of_memory(c);
        return;
    }
    call->u.channels.limit = req.limit;
    send_fan(c, HUB_FAN_CHANNELS, 0, workers_of(c), fill_channels, &req);
}

static void fill_nothing(struct hub_fan *f, const void *arg)
{
    (void)f;
    (void)arg;
}

static void route_info(struct api_conn *c)
{
    struct api_error err;
    if (api_parse_no_query(c->head.query, API_EP_INFO, &err) != API_OK) {
        api_reply_error(c, err.code, err.message);
        return;
    }
    if (call_new(c, API_EP_INFO) == NULL) {
        reply_out_of_memory(c);
        return;
    }
    send_fan(c, HUB_FAN_INFO, 0, workers_of(c), fill_nothing, NULL);
}

/* ---- entry points ---- */

void api_route(struct api_conn *c)
{
    assert(c->state == API_CONN_WORKING && c->call == NULL && c->pending == 0);
    struct api_body_rules rules = body_rules(c);
    struct api_error err;
    if (api_endpoint_is_post(c->head.endpoint) &&
        api_parse_no_query(c->head.query, c->head.endpoint, &err) != API_OK) {
        api_reply_error(c, err.code, err.message);
        return;
    }
    switch (c->head.endpoint) {
    case API_EP_PUBLISH:
        route_publish(c, &rules);
        break;
    case API_EP_BROADCAST:
        route_broadcast(c, &rules);
        break;
    case API_EP_DISCONNECT:
        route_disconnect(c);
        break;
    case API_EP_PRESENCE:
        route_presence(c, &rules);
        break;
    case API_EP_HISTORY:
        route_history(c, &rules);
        break;
    case API_EP_CHANNELS:
        route_channels(c);
        break;
    case API_EP_INFO:
        route_info(c);
        break;
    case API_EP_USER_STATUS:
        api_route_user_status(c);
        break;
    case API_EP_NONE:
    case API_ENDPOINT_COUNT:
        assert(!"a checked head names an endpoint");
        api_reply_error(c, API_INTERNAL_ERROR, "no endpoint");
        break;
    }
    /* Refused before anything was sent (parse error, out of memory): drop the state. */
    if (c->state != API_CONN_WORKING && c->pending == 0 && c->call != NULL) {
        api_call_free(c->call);
        c->call = NULL;
    }
}

void api_on_hub_reply(struct hub *h, struct hub_req *r)
{
    (void)h;
    struct api_conn *c = r->api;
    struct api_call *call = c->call;
    assert(call != NULL && c->pending > 0);
    c->pending--;
    if (call->endpoint == API_EP_BROADCAST) {
        broadcast_record(call->u.broadcast, r);
        hub_req_free(r);
        if (!c->dispatching)
            broadcast_pump(c);
        return;
    }
    assert(call->u.reply == NULL);
    call->u.reply = r;
    maybe_finish(c);
}

void api_on_fan_reply(struct hub *h, struct hub_fan *f)
{
    (void)h;
    struct api_conn *c = f->api;
    struct api_call *call = c->call;
    assert(call != NULL && c->pending > 0);
    c->pending--;
    switch ((enum hub_fan_kind)f->kind) {
    case HUB_FAN_KICK:
        call->u.disconnected += f->u.kick.closed;
        hub_fan_free(f);
        break;
    case HUB_FAN_CHANNELS:
        assert(call->u.channels.count < workers_of(c));
        call->u.channels.parts[call->u.channels.count++] = f;
        break;
    case HUB_FAN_INFO:
        call->u.info.connections += f->u.info.connections;
        call->u.info.channels += f->u.info.channels;
        call->u.info.subscriptions += f->u.info.subscriptions;
        hub_fan_free(f);
        break;
    }
    maybe_finish(c);
}
