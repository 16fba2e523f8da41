/* Fan-outs for the server API: see hub_api.h. Each handler runs on its target worker and
 * only reads or closes what that worker owns. */
#include "gateway/hub_api.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "gateway/api.h"
#include "gateway/conn.h"
#include "gateway/hub_internal.h"
#include "gateway/proto_write.h"
#include "gateway/session.h"

struct hub_fan *hub_fan_new(struct hub *h, enum hub_fan_kind kind, struct api_conn *api)
{
    struct hub_fan *f = calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    f->op = HUB_OP_FAN;
    f->kind = (uint8_t)kind;
    f->origin = (uint16_t)h->worker->index;
    f->api = api;
    return f;
}

void hub_fan_free(struct hub_fan *f)
{
    if (f->kind == HUB_FAN_CHANNELS) {
        free(f->u.channels.json);
        free(f->u.channels.entries);
    }
    free(f);
}

/* ---- KICK ---- */

static bool kick_matches(const struct hub_fan_kick *k, const struct session *ss)
{
    if (k->by_client_id)
        return ss->serial == k->serial;
    return ss->user_id_len > 0 && ss->user_id_len == k->user_id_len &&
           memcmp(ss->user_id, k->user_id, k->user_id_len) == 0;
}

static void fan_kick(struct hub *h, struct hub_fan_kick *k)
{
    uint16_t code = k->reconnect ? 4006 : 4003;
    const char *reason = proto_close_reason(code);
    const char *message = k->message;
    if (message[0] == '\0')
        message = k->reconnect ? "the application asks this connection to reconnect with a "
                                 "fresh token"
                               : "the application closed this connection";
    /* An OPEN connection has its receive armed, so starting its close never frees it (nor
     * any other OPEN one) under this walk. */
    for (struct conn *c = h->worker->conns, *next; c != NULL; c = next) {
        next = c->next;
        if (c->sess == NULL || c->state != CONN_OPEN || !kick_matches(k, c->sess))
            continue;
        session_disconnect(c, code, reason, message, k->reconnect);
        k->closed++;
    }
}

/* ---- CHANNELS ---- */

struct pick {
    const char *name;
    uint16_t name_len;
    uint64_t subscribers, offset;
    const char *epoch;
};

struct scan {
    const struct hub_fan_channels *query;
    struct pick *heap; /* max-heap by name: heap[0] is the largest kept */
    uint32_t kept;
    uint64_t matched;
};

static int name_order(const char *a, size_t a_len, const char *b, size_t b_len)
{
    size_t n = a_len < b_len ? a_len : b_len;
    int d = memcmp(a, b, n);
    if (d != 0)
        return d;
    return a_len < b_len ? -1 : a_len > b_len ? 1 : 0;
}

static int pick_order(const struct pick *a, const struct pick *b)
{
    return name_order(a->name, a->name_len, b->name, b->name_len);
}

static void heap_sift_down(struct pick *heap, uint32_t n, uint32_t i)
{
    for (;;) {
        uint32_t big = i, l = 2 * i + 1, r = l + 1;
        if (l < n && pick_order(&heap[l], &heap[big]) > 0)
            big = l;
        if (r < n && pick_order(&heap[r], &heap[big]) > 0)
            big = r;
        if (big == i)
            return;
        struct pick t = heap[i];
        heap[i] = heap[big];
        heap[big] = t;
        i = big;
    }
}

static void heap_push(struct pick *heap, uint32_t *n, struct pick p)
{
    uint32_t i = (*n)++;
    heap[i] = p;
    while (i > 0 && pick_order(&heap[(i - 1) / 2], &heap[i]) < 0) {
        struct pick t = heap[i];
        heap[i] = heap[(i - 1) / 2];
        heap[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static void scan_visit(void *ctx, const char *name, size_t name_len, uint64_t subscribers,
                       uint64_t offset, const char *epoch)
{
    struct scan *s = ctx;
    const struct hub_fan_channels *q = s->query;
    if (subscribers == 0 || name_len < q->prefix_len || memcmp(name, q->prefix, q->prefix_len) != 0)
        return;
    if (q->cursor_len > 0 && name_order(name, name_len, q->cursor, q->cursor_len) <= 0)
        return;
    s->matched++;
    struct pick p = {name, (uint16_t)name_len, subscribers, offset, epoch};
    if (s->kept < q->limit) {
        heap_push(s->heap, &s->kept, p);
    } else if (pick_order(&p, &s->heap[0]) < 0) {
        s->heap[0] = p;
        heap_sift_down(s->heap, s->kept, 0);
    }
}

static int pick_cmp(const void *a, const void *b)
{
    return pick_order(a, b);
}

/* Writes the kept channels, sorted, as JSON objects into q->json and q->entries. */
static bool channels_write(struct hub *h, struct hub_fan_channels *q, struct pick *picks,
                           uint32_t n)
{
    qsort(picks, n, sizeof *picks, pick_cmp);
    struct jbuf *jb = &h->scratch;
    jbuf_reset(jb);
    q->entries = malloc((n ? n : 1) * sizeof *q->entries);
    if (q->entries == NULL)
        return false;
    for (uint32_t i = 0; i < n; i++) {
        size_t start = jb->len;
        jbuf_lit(jb, "{\"channel\":");
        jbuf_str(jb, picks[i].name, picks[i].name_len);
        jbuf_lit(jb, ",\"subscribers\":");
        jbuf_u64(jb, picks[i].subscribers);
        jbuf_lit(jb, ",\"offset\":");
        jbuf_u64(jb, picks[i].offset);
        jbuf_lit(jb, ",\"epoch\":");
        jbuf_cstr(jb, picks[i].epoch);
        jbuf_char(jb, '}');
        q->entries[i] =
            (struct hub_fan_entry){(uint32_t)start, (uint32_t)(jb->len - start), picks[i].name_len};
    }
    if (jb->failed || (q->json = malloc(jb->len ? jb->len : 1)) == NULL)
        return false;
    memcpy(q->json, jb->data, jb->len);
    q->count = n;
    return true;
}

static void fan_channels(struct hub *h, struct hub_fan_channels *q)
{
    assert(q->limit >= 1 && q->limit <= HUB_FAN_LIMIT_MAX);
    struct scan s = {.query = q, .heap = malloc(q->limit * sizeof(struct pick))};
    if (s.heap == NULL) {
        q->failed = true;
        return;
    }
    owner_each_channel(h, scan_visit, &s);
    if (!channels_write(h, q, s.heap, s.kept)) {
        free(q->entries);
        q->entries = NULL;
        q->count = 0;
        q->failed = true;
    }
    q->more = s.matched > s.kept;
    free(s.heap);
}

/* ---- INFO ---- */

static void fan_info(struct hub *h, struct hub_fan_info *info)
{
    const struct gw_metrics *m = h->worker->metrics;
    info->connections = atomic_load_explicit(&m->connections_open, memory_order_relaxed);
    info->channels = atomic_load_explicit(&m->channels, memory_order_relaxed);
    info->subscriptions = atomic_load_explicit(&m->subscriptions, memory_order_relaxed);
}

/* ---- routing ---- */

static void fan_reply(struct hub *h, struct hub_fan *f)
{
    struct worker *w = h->worker;
    f->op = HUB_OP_FAN_REPLY;
    if (f->origin == w->index) {
        api_on_fan_reply(h, f);
        return;
    }
    if (!mailbox_send_control(w->shared->grid, w->index, f->origin, f)) {
        /* The requester keeps waiting until its worker stops; rare enough to log. */
        log_error("hub", "out of memory sending a fan-out reply; reply lost", "worker=%u to=%u",
                  w->index, (unsigned)f->origin);
        hub_fan_free(f);
    }
}

static void fan_handle(struct hub *h, struct hub_fan *f)
{
    switch ((enum hub_fan_kind)f->kind) {
    case HUB_FAN_KICK:
        fan_kick(h, &f->u.kick);
        break;
    case HUB_FAN_CHANNELS:
        fan_channels(h, &f->u.channels);
        break;
    case HUB_FAN_INFO:
        fan_info(h, &f->u.info);
        break;
    }
    fan_reply(h, f);
}

bool hub_fan_send(struct hub *h, struct hub_fan *f, unsigned target)
{
    struct worker *w = h->worker;
    assert(f->op == HUB_OP_FAN && target < w->shared->grid->workers);
    if (target == w->index) {
        fan_handle(h, f);
        return true;
    }
    if (!mailbox_send_control(w->shared->grid, w->index, target, f))
        return false;
    gw_metric_add(&w->metrics->hub_requests_sent, 1);
    return true;
}

void hub_fan_on_item(struct hub *h, struct hub_fan *f)
{
    if (f->op == HUB_OP_FAN) {
        gw_metric_add(&h->worker->metrics->hub_requests_received, 1);
        fan_handle(h, f);
    } else {
        assert(f->op == HUB_OP_FAN_REPLY);
        api_on_fan_reply(h, f);
    }
}
