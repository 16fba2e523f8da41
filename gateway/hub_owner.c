/* The owner's side of a channel: offset, epoch, history, presence members, subscriber
 * count and the workers interested in it. Only the owner worker touches a struct chan.
 *
 * Re-entrancy rule: replying or fanning out to this same worker runs the local side at once,
 * and that may end a connection, whose leave comes straight back here and may free the
 * channel. So every handler finishes with the channel (copying what the reply and the
 * delivery need) before it calls hub_send_reply or hub_fanout, and touches it no more.
 */
#include "gateway/hub_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "gateway/api_write.h"
#include "gateway/proto_write.h"
#include "storage/pg_reader.h"
#include "storage/pg_writer.h"

enum {
    INTEREST_WORDS = HUB_INTEREST_WORDS,
    SWEEP_BUCKETS_PER_TICK = 4096,
    HELD_REQUESTS_MAX = 1 << 20, /* requests waiting for one channel's resume */
};

struct member {
    struct hmap_node node; /* chan->members, by user id hash */
    uint32_t connections;
    uint64_t joined_at_ms;
    uint8_t user_id_len;
    char user_id[];
};

static const char epoch_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static uint64_t hub_random(struct hub *h)
{
    /* xorshift64*: epochs need to differ, not to be secret. */
    h->rng ^= h->rng >> 12;
    h->rng ^= h->rng << 25;
    h->rng ^= h->rng >> 27;
    return h->rng * 0x2545F4914F6CDD1Dull;
}

static void make_epoch(struct hub *h, char out[HUB_EPOCH_BYTES + 1])
{
    uint64_t a = hub_random(h), b = hub_random(h);
    for (int i = 0; i < HUB_EPOCH_BYTES; i++) {
        uint64_t *src = i < 8 ? &a : &b;
        out[i] = epoch_alphabet[*src & 63];
        *src >>= 6;
    }
    out[HUB_EPOCH_BYTES] = '\0';
}

static const struct ns_config *chan_namespace(const struct hub *h, const char *name, size_t len)
{
    const char *colon = memchr(name, ':', len);
    size_t ns_len = colon ? (size_t)(colon - name) : 0;
    return gw_namespace_find(&hub_opts(h)->namespaces, name, ns_len);
}

static struct chan *chan_find(struct hub *h, uint64_t hash, const char *name, size_t len)
{
    for (struct hmap_node *n = hmap_first(&h->owned, hash); n != NULL; n = hmap_next(n)) {
        struct chan *c = hmap_entry(n, struct chan, node);
        if (c->name_len == len && memcmp(c->name, name, len) == 0)
            return c;
    }
    return NULL;
}

static void owner_on_resume(void *cookie, enum pg_read_status status,
                            const struct pg_resume_state *state);

static bool forgotten_test(const struct hub *h, uint64_t hash)
{
    uint64_t bit = hash % HUB_FORGOTTEN_BITS;
    return (h->forgotten[bit / 64] >> (bit % 64)) & 1;
}

static void forgotten_set(struct hub *h, uint64_t hash)
{
    uint64_t bit = hash % HUB_FORGOTTEN_BITS;
    h->forgotten[bit / 64] |= UINT64_C(1) << (bit % 64);
}

/* With a database, a new channel first reads where its stored stream ended (docs/storage.md,
 * "Restart"). A channel this worker has not owned before in this run has nothing of its own
 * in the writer's queue, so its stored state is complete: it resumes whatever the queue
 * holds. One that was owned and forgotten in this run (or shares its filter bit with one)
 * resumes only when everything this worker accepted so far is stored and nothing was
 * refused: otherwise the stored state may be behind offsets already handed out, and the
 * channel keeps the new epoch it was given. */
static void chan_start_resume(struct hub *h, struct chan *c)
{
    struct worker *w = h->worker;
    if (w->pg_reader == NULL || w->pg == NULL || w->pg->stopping)
        return;
    if (forgotten_test(h, c->node.hash) && (w->pg->count > 0 || w->pg->lossy))
        return;
    if (pg_reader_resume(w->pg_reader, c->name, c->name_len, w->pg->run_id, owner_on_resume, c) ==
        0)
        c->resuming = true;
}

/* Keeps r until the channel's resume is answered. */
static void chan_hold(struct chan *c, struct hub_req *r)
{
    if (c->held_count == c->held_cap) {
        uint32_t cap = c->held_cap ? c->held_cap * 2 : 8;
        struct hub_req **grown =
            cap <= HELD_REQUESTS_MAX ? realloc(c->held, cap * sizeof *grown) : NULL;
        if (grown == NULL) {
            log_error("hub", "cannot hold a request while its channel resumes; dropped",
                      "op=%u held=%u", (unsigned)r->op, c->held_count);
            hub_req_free(r); /* its requester keeps it pending until the worker stops */
            return;
        }
        c->held = grown;
        c->held_cap = cap;
    }
    c->held[c->held_count++] = r;
}

/* Creates a channel, or sets r->error (server_busy at max_channels, internal_error when out
 * of memory) and returns NULL. */
static struct chan *chan_create(struct hub *h, struct hub_req *r)
{
    struct worker *w = h->worker;
    const struct ns_config *ns = chan_namespace(h, r->channel, r->channel_len);
    if (ns == NULL) { /* the requester checked; a config without it cannot reach here */
        r->error = PROTO_ERR_UNKNOWN_NAMESPACE;
        return NULL;
    }
    uint64_t open = atomic_fetch_add(&w->shared->channels_open, 1) + 1;
    if (open > hub_opts(h)->max_channels) {
        atomic_fetch_sub(&w->shared->channels_open, 1);
        r->error = PROTO_ERR_SERVER_BUSY;
        r->retry_after_ms = 1000;
        return NULL;
    }
    struct chan *c = calloc(1, sizeof *c + r->channel_len + 1);
    if (c == NULL) {
        atomic_fetch_sub(&w->shared->channels_open, 1);
        r->error = PROTO_ERR_INTERNAL;
        return NULL;
    }
    c->ns = ns;
    c->hub = h;
    history_init(&c->hist);
    hmap_init(&c->members);
    make_epoch(h, c->epoch);
    c->name_len = r->channel_len;
    memcpy(c->name, r->channel, r->channel_len);
    if (!hmap_insert(&h->owned, &c->node, r->channel_hash)) {
        atomic_fetch_sub(&w->shared->channels_open, 1);
        free(c);
        r->error = PROTO_ERR_INTERNAL;
        return NULL;
    }
    gw_metric_add(&w->metrics->channels, 1);
    chan_start_resume(h, c);
    return c;
}

static void chan_expire(struct chan *c)
{
    uint64_t now = hub_wall_ms();
    uint64_t ttl = c->ns->history_ttl_ms;
    if (c->hist.count > 0 && now > ttl)
        history_expire(&c->hist, now - ttl);
}

static void chan_free(struct chan *c)
{
    for (size_t b = 0; b < hmap_bucket_count(&c->members); b++) {
        for (struct hmap_node *n = hmap_bucket(&c->members, b), *next; n != NULL; n = next) {
            next = n->next;
            free(hmap_entry(n, struct member, node));
        }
    }
    hmap_destroy(&c->members);
    history_free(&c->hist);
    for (uint32_t i = 0; i < c->held_count; i++)
        hub_req_free(c->held[i]);
    free(c->held);
    assert(c->recovering == NULL); /* the reader answered every read before the teardown */
    free(c);
}

/* A channel lives while it has a subscriber or retained history (protocol.md 4.4). */
static void chan_maybe_forget(struct hub *h, struct chan *c)
{
    if (c->subscribers > 0 || c->resuming)
        return;
    chan_expire(c);
    if (c->hist.count > 0)
        return;
    struct worker *w = h->worker;
    forgotten_set(h, c->node.hash);
    hmap_remove(&h->owned, &c->node);
    atomic_fetch_sub(&w->shared->channels_open, 1);
    gw_metric_sub(&w->metrics->channels, 1);
    chan_free(c);
}

static struct member *member_find(struct chan *c, uint64_t hash, const char *user_id, size_t len)
{
    for (struct hmap_node *n = hmap_first(&c->members, hash); n != NULL; n = hmap_next(n)) {
        struct member *m = hmap_entry(n, struct member, node);
        if (m->user_id_len == len && memcmp(m->user_id, user_id, len) == 0)
            return m;
    }
    return NULL;
}

/* Counts a connection of r's user in; true when the user just came online. */
static bool presence_add(struct chan *c, const struct hub_req *r)
{
    if (!c->ns->presence || r->user_id_len == 0)
        return false;
    uint64_t hash = hub_channel_hash(r->user_id, r->user_id_len);
    struct member *m = member_find(c, hash, r->user_id, r->user_id_len);
    if (m != NULL) {
        m->connections++;
        return false;
    }
    m = malloc(sizeof *m + r->user_id_len);
    if (m == NULL) {
        log_warn("hub", "out of memory adding a presence member; not listed", NULL);
        return false;
    }
    m->connections = 1;
    m->joined_at_ms = hub_wall_ms();
    m->user_id_len = r->user_id_len;
    memcpy(m->user_id, r->user_id, r->user_id_len);
    if (!hmap_insert(&c->members, &m->node, hash)) {
        free(m);
        log_warn("hub", "out of memory adding a presence member; not listed", NULL);
        return false;
    }
    c->member_count++;
    return true;
}

/* Counts a connection of r's user out; true when it was the user's last. */
static bool presence_remove(struct chan *c, const struct hub_req *r)
{
    if (!c->ns->presence || r->user_id_len == 0)
        return false;
    uint64_t hash = hub_channel_hash(r->user_id, r->user_id_len);
    struct member *m = member_find(c, hash, r->user_id, r->user_id_len);
    if (m == NULL)
        return false; /* its join found no memory to list it */
    if (--m->connections > 0)
        return false;
    hmap_remove(&c->members, &m->node);
    c->member_count--;
    free(m);
    return true;
}

static struct chan_msg *presence_event(struct hub *h, const struct chan *c, const struct hub_req *r,
                                       bool online)
{
    struct jbuf *jb = &h->scratch;
    jbuf_reset(jb);
    proto_write_presence_event(jb, online, c->name, c->name_len, r->user_id, r->user_id_len,
                               hub_wall_ms());
    if (jb->failed)
        return NULL;
    struct chan_msg *m =
        chan_msg_new(CHAN_MSG_PRESENCE, c->name, c->name_len, c->node.hash, jb->data, jb->len);
    if (m != NULL)
        m->timestamp_ms = hub_wall_ms();
    return m;
}

bool owner_take_reply(struct hub *h, struct hub_req *r)
{
    struct jbuf *jb = &h->scratch;
    if (jb->failed || (r->reply = malloc(jb->len)) == NULL) {
        r->error = PROTO_ERR_INTERNAL;
        return false;
    }
    memcpy(r->reply, jb->data, jb->len);
    r->reply_len = (uint32_t)jb->len;
    return true;
}

static void interest_set(struct chan *c, unsigned worker, bool on)
{
    uint64_t bit = 1ull << (worker % 64);
    if (on)
        c->interest[worker / 64] |= bit;
    else
        c->interest[worker / 64] &= ~bit;
}

/* Whether `since` reaches back into what is retained, within the recovery limits; sets
 * *first to the index in history of the first message to replay. */
static bool recovery_possible(const struct hub *h, const struct chan *c, const struct hub_req *r,
                              uint32_t *first, uint32_t *count)
{
    *first = *count = 0;
    if (!r->has_since || strcmp(r->since_epoch, c->epoch) != 0 || r->offset > c->offset)
        return false;
    uint64_t missed = c->offset - r->offset;
    if (missed == 0)
        return true;
    uint64_t oldest = history_oldest(&c->hist, c->offset + 1);
    if (r->offset + 1 < oldest || missed > hub_opts(h)->recovery_max_messages)
        return false;
    uint64_t bytes = 0;
    uint32_t start = (uint32_t)(r->offset + 1 - oldest);
    for (uint32_t i = start; i < c->hist.count; i++) {
        bytes += history_at(&c->hist, i)->data_len;
        if (bytes > hub_opts(h)->recovery_max_bytes)
            return false;
    }
    *first = start;
    *count = (uint32_t)missed;
    return true;
}

static void owner_join(struct hub *h, struct hub_req *r)
{
    struct chan *c = chan_find(h, r->channel_hash, r->channel, r->channel_len);
    if (c == NULL && (c = chan_create(h, r)) == NULL) {
        r->op = HUB_OP_JOINED;
        hub_send_reply(h, r);
        return;
    }
    if (c->resuming) {
        chan_hold(c, r);
        return;
    }
    r->op = HUB_OP_JOINED;
    if (c->subscribers >= c->ns->max_subscribers) {
        r->error = PROTO_ERR_CHANNEL_FULL;
        hub_send_reply(h, r);
        return;
    }
    chan_expire(c);
    uint32_t first, count;
    r->recovered = recovery_possible(h, c, r, &first, &count);
    if (!r->recovered && stored_recovery_start(h, c, r))
        return; /* `joined` comes with the stored read's answer (hub_stored.c) */
    struct jbuf *jb = &h->scratch;
    jbuf_reset(jb);
    struct json_span id = {r->id, r->id_len};
    proto_write_joined_head(jb, r->id_len ? &id : NULL, c->name, c->name_len, c->epoch, c->offset,
                            r->recovered);
    for (uint32_t i = 0; i < count; i++) {
        const struct chan_msg *m = history_at(&c->hist, first + i);
        proto_write_list_sep(jb, i == 0);
        jbuf_raw(jb, chan_msg_json(m), m->json_len);
    }
    proto_write_joined_tail(jb);
    owner_join_commit(h, c, r, false);
}

void owner_join_commit(struct hub *h, struct chan *c, struct hub_req *r, bool counted)
{
    assert(r->op == HUB_OP_JOINED);
    if (!owner_take_reply(h, r)) {
        if (counted)
            c->subscribers--;
        chan_maybe_forget(h, c);
        hub_send_reply(h, r);
        return;
    }
    if (!counted)
        c->subscribers++;
    if (r->interest)
        interest_set(c, r->origin, true);
    r->offset = c->offset;
    memcpy(r->epoch, c->epoch, sizeof r->epoch);
    struct chan_msg *online = presence_add(c, r) ? presence_event(h, c, r, true) : NULL;
    uint64_t interest[INTEREST_WORDS];
    memcpy(interest, c->interest, sizeof interest);
    hub_send_reply(h, r); /* `joined` first: the joiner sees its own user_online after it */
    if (online != NULL)
        hub_fanout(h, interest, online);
}

static void owner_leave(struct hub *h, struct hub_req *r)
{
    struct chan *c = chan_find(h, r->channel_hash, r->channel, r->channel_len);
    if (c == NULL) { /* only possible for a withdrawal after a refused join */
        if (r->subscribed)
            log_error("hub", "leave for a channel the owner does not hold", "worker=%u",
                      h->worker->index);
        hub_req_free(r);
        return;
    }
    if (r->interest)
        interest_set(c, r->origin, false);
    struct chan_msg *offline = NULL;
    if (r->subscribed) {
        assert(c->subscribers > 0);
        c->subscribers--;
        if (presence_remove(c, r))
            offline = presence_event(h, c, r, false);
    }
    uint64_t interest[INTEREST_WORDS];
    memcpy(interest, c->interest, sizeof interest);
    chan_maybe_forget(h, c);
    hub_req_free(r);
    if (offline != NULL)
        hub_fanout(h, interest, offline);
}

/* A non-durable message waiting in the batch writer: the chan_msg (one reference) holds the
 * channel and data; epoch and user id are copied here. A durable one's cookie is its
 * hub_req instead (every field is in it), tagged with STORED_DURABLE in the low bit. */
struct stored_msg {
    struct chan_msg *m;
    char epoch[HUB_EPOCH_BYTES + 1];
    uint8_t user_id_len;
    char user_id[];
};

enum { STORED_DURABLE = 1 };

/* The store's copy of a durable publish: every span points into r. */
static struct pg_msg stored_from_req(const struct hub_req *r)
{
    return (struct pg_msg){
        .channel = r->channel,
        .channel_len = r->channel_len,
        .epoch = r->epoch,
        .epoch_len = HUB_EPOCH_BYTES,
        .user_id = r->user_id_len ? r->user_id : NULL,
        .user_id_len = r->user_id_len,
        .data = r->data,
        .data_len = r->data_len,
        .offset = r->offset,
        .timestamp_ms = r->timestamp_ms,
    };
}

/* Whether a durable publish of r can be stored now: the writer runs and has room. */
static bool durable_has_room(const struct hub *h, const struct hub_req *r)
{
    const struct pg_writer *pw = h->worker->pg;
    if (pw == NULL || pw->stopping)
        return false;
    uint64_t bytes = (uint64_t)r->channel_len + HUB_EPOCH_BYTES + r->user_id_len + r->data_len;
    return pg_writer_has_room(pw, bytes);
}

/* Hands a non-durable message to the batch writer (when there is one): `m` gets one more
 * reference, released in hub_on_stored. A refusal (queue full, writer stopping, out of
 * memory) only means the message is not stored; the writer counts its refusals. */
static void store_plain(struct hub *h, struct chan_msg *m, const struct hub_req *r)
{
    struct pg_writer *pw = h->worker->pg;
    if (pw == NULL)
        return;
    struct stored_msg *s = malloc(sizeof *s + r->user_id_len);
    if (s == NULL) {
        log_warn("hub", "out of memory storing a message; delivered unstored", NULL);
        return;
    }
    s->m = m;
    memcpy(s->epoch, r->epoch, sizeof s->epoch);
    s->user_id_len = r->user_id_len;
    memcpy(s->user_id, r->user_id, r->user_id_len);
    /* The message's JSON ends with the publisher's data and one closing brace. */
    const char *data = chan_msg_json(m) + m->json_len - 1 - m->data_len;
    struct pg_msg pm = {
        .channel = chan_msg_channel(m),
        .channel_len = m->channel_len,
        .epoch = s->epoch,
        .epoch_len = HUB_EPOCH_BYTES,
        .user_id = s->user_id_len ? s->user_id : NULL,
        .user_id_len = s->user_id_len,
        .data = data,
        .data_len = m->data_len,
        .offset = m->offset,
        .timestamp_ms = m->timestamp_ms,
    };
    chan_msg_ref(m);
    if (pg_writer_enqueue(pw, &pm, s) != PG_ENQUEUE_OK) {
        chan_msg_unref(m);
        free(s);
        return;
    }
    stored_note_handed(h);
}

static void on_stored(struct hub *h, void *cookie, enum pg_msg_status status)
{
    if (((uintptr_t)cookie & STORED_DURABLE) == 0) {
        struct stored_msg *s = cookie;
        chan_msg_unref(s->m);
        free(s);
        return;
    }
    struct hub_req *r = (struct hub_req *)((uintptr_t)cookie & ~(uintptr_t)STORED_DURABLE);
    if (h->worker->pg_closing) { /* the worker is exiting: nobody is left to answer */
        hub_req_free(r);
        return;
    }
    if (status != PG_MSG_STORED) {
        log_warn("hub", "a durable message was not stored; its publisher gets an error",
                 "worker=%u offset=%llu status=%s", h->worker->index, (unsigned long long)r->offset,
                 status == PG_MSG_REJECTED ? "rejected" : "abandoned");
        r->error = PROTO_ERR_STORAGE_UNAVAILABLE;
    }
    hub_send_reply(h, r);
}

void hub_on_stored(void *ctx, void *cookie, enum pg_msg_status status)
{
    struct hub *h = ctx;
    on_stored(h, cookie, status);
    stored_note_answered(h); /* may send reads that waited for this message */
}

static void owner_publish(struct hub *h, struct hub_req *r)
{
    struct chan *c = chan_find(h, r->channel_hash, r->channel, r->channel_len);
    r->op = HUB_OP_ACK;
    if (c == NULL && (c = chan_create(h, r)) == NULL) {
        hub_send_reply(h, r);
        return;
    }
    if (c->resuming) {
        r->op = HUB_OP_PUBLISH;
        chan_hold(c, r);
        return;
    }
    bool durable = c->ns->durable;
    if (durable && !durable_has_room(h, r)) { /* refused before it gets an offset */
        r->error = PROTO_ERR_STORAGE_UNAVAILABLE;
        chan_maybe_forget(h, c);
        hub_send_reply(h, r);
        return;
    }
    uint64_t now = hub_wall_ms();
    struct jbuf *jb = &h->scratch;
    jbuf_reset(jb);
    proto_write_message_head(jb, c->name, c->name_len, c->offset + 1, c->epoch, now,
                             r->user_id_len ? r->user_id : NULL, r->user_id_len);
    jbuf_raw(jb, r->data, r->data_len);
    proto_write_message_tail(jb);
    struct chan_msg *m = jb->failed ? NULL
                                    : chan_msg_new(CHAN_MSG_MESSAGE, c->name, c->name_len,
                                                   r->channel_hash, jb->data, jb->len);
    if (m == NULL) {
        r->error = PROTO_ERR_INTERNAL;
        chan_maybe_forget(h, c);
        hub_send_reply(h, r);
        return;
    }
    m->offset = ++c->offset;
    m->timestamp_ms = now;
    m->data_len = r->data_len;
    if (c->ns->history_size > 0) {
        chan_expire(c);
        history_push(&c->hist, m, c->ns->history_size);
    }
    if (c->recovering != NULL)
        stored_recovery_note(h, c, m);
    r->offset = m->offset;
    r->timestamp_ms = now;
    memcpy(r->epoch, c->epoch, sizeof r->epoch);
    uint64_t interest[INTEREST_WORDS];
    memcpy(interest, c->interest, sizeof interest);
    chan_maybe_forget(h, c);
    gw_metric_add(&h->worker->metrics->publishes, 1);
    bool reply_now = true;
    if (durable) {
        struct pg_msg pm = stored_from_req(r);
        void *cookie = (void *)((uintptr_t)r | STORED_DURABLE);
        if (pg_writer_enqueue(h->worker->pg, &pm, cookie) == PG_ENQUEUE_OK) {
            reply_now = false; /* hub_on_stored answers; r is the writer's until then */
            stored_note_handed(h);
        } else {
            r->error = PROTO_ERR_STORAGE_UNAVAILABLE; /* not after durable_has_room */
        }
    } else {
        store_plain(h, m, r);
    }
    hub_fanout(h, interest, m);
    if (reply_now)
        hub_send_reply(h, r);
}

static void owner_typing(struct hub *h, struct hub_req *r)
{
    struct chan *c = chan_find(h, r->channel_hash, r->channel, r->channel_len);
    struct chan_msg *m = NULL;
    if (c != NULL) {
        struct jbuf *jb = &h->scratch;
        jbuf_reset(jb);
        proto_write_typing(jb, c->name, c->name_len, r->user_id, r->user_id_len, r->typing,
                           hub_wall_ms());
        if (!jb->failed)
            m = chan_msg_new(CHAN_MSG_TYPING, c->name, c->name_len, r->channel_hash, jb->data,
                             jb->len);
    }
    if (m == NULL) {
        hub_req_free(r);
        return;
    }
    m->exclude = r->sub;
    m->exclude_worker = r->origin;
    uint64_t interest[INTEREST_WORDS];
    memcpy(interest, c->interest, sizeof interest);
    hub_req_free(r);
    hub_fanout(h, interest, m);
}

static int member_cmp(const void *a, const void *b)
{
    const struct member *x = *(const struct member *const *)a;
    const struct member *y = *(const struct member *const *)b;
    size_t n = x->user_id_len < y->user_id_len ? x->user_id_len : y->user_id_len;
    int d = memcmp(x->user_id, y->user_id, n);
    return d != 0 ? d : (int)x->user_id_len - (int)y->user_id_len;
}

static void owner_presence(struct hub *h, struct hub_req *r)
{
    struct chan *c = chan_find(h, r->channel_hash, r->channel, r->channel_len);
    r->op = HUB_OP_PRESENCE_REPLY;
    uint32_t count = c ? c->member_count : 0;
    struct member **all = NULL;
    if (count > 0 && (all = malloc(count * sizeof *all)) == NULL) {
        r->error = PROTO_ERR_INTERNAL;
        hub_send_reply(h, r);
        return;
    }
    uint32_t n = 0;
    for (size_t b = 0; c != NULL && b < hmap_bucket_count(&c->members); b++)
        for (struct hmap_node *node = hmap_bucket(&c->members, b); node; node = node->next)
            all[n++] = hmap_entry(node, struct member, node);
    assert(n == count);
    if (n > 1)
        qsort(all, n, sizeof *all, member_cmp);
    uint64_t max = r->api != NULL ? API_PRESENCE_MEMBERS_MAX : hub_opts(h)->presence_max_members;
    uint64_t listed = count < max ? count : max;
    struct jbuf *jb = &h->scratch;
    jbuf_reset(jb);
    struct json_span id = {r->id, r->id_len};
    if (r->api != NULL)
        api_write_presence_head(jb, r->channel, r->channel_len, count);
    else
        proto_write_presence_head(jb, r->id_len ? &id : NULL, r->channel, r->channel_len, count);
    for (uint64_t i = 0; i < listed; i++)
        proto_write_presence_member(jb, i == 0, all[i]->user_id, all[i]->user_id_len,
                                    all[i]->connections, all[i]->joined_at_ms);
    proto_write_presence_tail(jb, listed < count);
    free(all);
    owner_take_reply(h, r);
    hub_send_reply(h, r);
}

/* A page of c's history: from its ring, and past it from PostgreSQL when the worker has a
 * reader and the namespace keeps history (hub_stored.c). */
static void owner_history(struct hub *h, struct hub_req *r)
{
    struct chan *c = chan_find(h, r->channel_hash, r->channel, r->channel_len);
    r->op = HUB_OP_HISTORY_REPLY;
    char fresh_epoch[HUB_EPOCH_BYTES + 1];
    struct history_source src = {.epoch = fresh_epoch};
    if (c != NULL) {
        chan_expire(c);
        src.epoch = c->epoch;
        src.offset = c->offset;
        src.hist = &c->hist;
        src.stored = h->worker->pg_reader != NULL && c->ns->history_size > 0;
    } else {
        make_epoch(h, fresh_epoch); /* a channel that does not exist: a new one, not kept */
    }
    if (r->has_since && r->since_epoch[0] != '\0' && strcmp(r->since_epoch, src.epoch) != 0) {
        r->error = PROTO_ERR_EPOCH_MISMATCH;
        hub_send_reply(h, r);
        return;
    }
    stored_history_answer(h, r, &src);
}

/* The stored state of a new channel came (or the read failed): the channel continues the
 * stored epoch at the next offset when that is safe (the table in docs/storage.md), then
 * the requests that waited are handled in order. */
static void owner_on_resume(void *cookie, enum pg_read_status status,
                            const struct pg_resume_state *state)
{
    struct chan *c = cookie;
    struct hub *h = c->hub;
    struct hub_req **held = c->held;
    uint32_t count = c->held_count;
    c->resuming = false;
    c->held = NULL;
    c->held_count = c->held_cap = 0;
    if (h->worker->pg_closing) { /* the worker is exiting: nobody is left to answer */
        for (uint32_t i = 0; i < count; i++)
            hub_req_free(held[i]);
        free(held);
        return;
    }
    if (status != PG_READ_OK) {
        log_warn("hub", "could not read a channel's stored state; it starts a new epoch",
                 "worker=%u status=%d", h->worker->index, (int)status);
    } else if (state->found) {
        bool keep = state->epoch_len == HUB_EPOCH_BYTES && (state->drained || c->ns->durable);
        if (keep) {
            memcpy(c->epoch, state->epoch, HUB_EPOCH_BYTES);
            c->epoch[HUB_EPOCH_BYTES] = '\0';
            c->offset = state->last_offset;
        } else {
            log_info("hub",
                     "a channel's stored stream may miss acknowledged messages; it "
                     "starts a new epoch",
                     "worker=%u drained=false", h->worker->index);
        }
    }
    for (uint32_t i = 0; i < count; i++)
        owner_handle(h, held[i]); /* each finds the channel again: one may free it */
    free(held);
}

void owner_handle(struct hub *h, struct hub_req *r)
{
    struct chan *held_by = chan_find(h, r->channel_hash, r->channel, r->channel_len);
    if (held_by != NULL && held_by->resuming) {
        chan_hold(held_by, r);
        return;
    }
    switch ((enum hub_op)r->op) {
    case HUB_OP_JOIN:
        owner_join(h, r);
        break;
    case HUB_OP_LEAVE:
        owner_leave(h, r);
        break;
    case HUB_OP_PUBLISH:
        owner_publish(h, r);
        break;
    case HUB_OP_TYPING:
        owner_typing(h, r);
        break;
    case HUB_OP_PRESENCE:
        owner_presence(h, r);
        break;
    case HUB_OP_HISTORY:
        owner_history(h, r);
        break;
    default:
        log_error("hub", "owner received an item it does not handle", "op=%u", (unsigned)r->op);
        assert(!"unexpected hub op at the owner");
        hub_req_free(r);
    }
}

void owner_each_channel(struct hub *h, owner_visit_fn visit, void *ctx)
{
    for (size_t b = 0; b < hmap_bucket_count(&h->owned); b++) {
        for (struct hmap_node *n = hmap_bucket(&h->owned, b); n != NULL; n = n->next) {
            const struct chan *c = hmap_entry(n, struct chan, node);
            visit(ctx, c->name, c->name_len, c->subscribers, c->offset, c->epoch);
        }
    }
}

void owner_sweep(struct hub *h)
{
    stored_sweep(h);
    size_t buckets = hmap_bucket_count(&h->owned);
    for (size_t i = 0; i < buckets && i < SWEEP_BUCKETS_PER_TICK; i++) {
        size_t b = h->sweep_cursor++ % buckets;
        for (struct hmap_node *n = hmap_bucket(&h->owned, b), *next; n != NULL; n = next) {
            next = n->next;
            chan_maybe_forget(h, hmap_entry(n, struct chan, node));
        }
    }
}

void owner_destroy(struct hub *h)
{
    struct worker *w = h->worker;
    stored_destroy(h); /* reads that never left: before the channels they refer to */
    for (size_t b = 0; b < hmap_bucket_count(&h->owned); b++) {
        for (struct hmap_node *n = hmap_bucket(&h->owned, b), *next; n != NULL; n = next) {
            next = n->next;
            atomic_fetch_sub(&w->shared->channels_open, 1);
            gw_metric_sub(&w->metrics->channels, 1);
            chan_free(hmap_entry(n, struct chan, node));
        }
    }
}
