/* History pages and join replays that reach past a channel's in-memory ring, read from
 * PostgreSQL (docs/storage.md, "Gateway integration"; docs/protocol.md 5.3 and 6.7).
 *
 * The owner answers from its ring alone when it can. When a page or a replay needs older
 * offsets of the current epoch, it asks its worker's pg_reader for exactly that range and
 * answers from the read's callback. The ring's part is referenced when the request is made,
 * because the ring moves on while the read runs.
 *
 * A read is sent only once the batch writer has answered every message handed to it
 * before the read was asked (the writer answers in order): a message can leave a small ring
 * before its batch commits, and a read racing it would skip it silently. While the writer
 * is behind, reads wait here, at most STORED_WAIT_MS_MAX.
 *
 * The one thing to know before changing the join side: a join waiting for its stored
 * replay is counted in the channel's subscribers (so the channel stays) but not in its
 * interest or presence, and every message published meanwhile is appended to its replay.
 * `joined` therefore ends at the channel's offset of the moment it is sent, and since the
 * owner sends it before any later delivery to that worker, live messages follow it with no
 * gap and no duplicate (hub.h explains the ordering).
 */
#include "gateway/hub_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "gateway/api_write.h"
#include "gateway/proto_write.h"
#include "storage/pg_reader.h"

enum { STORED_WAIT_MS_MAX = 5000 };

/* A read waiting for the writer; the first member of a stored_page or a stored_join. */
struct stored_wait {
    struct stored_wait *next; /* hub->store_waiting, oldest first */
    uint64_t need;            /* sent once hub->store_answered reaches this */
    uint64_t since_ms;        /* loop time the wait began */
    bool is_join;
};

/* A history page waiting for its stored part. */
struct stored_page {
    struct stored_wait wait;
    struct hub *hub;
    struct hub_req *r;
    char epoch[HUB_EPOCH_BYTES + 1];
    uint64_t offset;             /* the channel's offset when asked (the reply's head) */
    uint64_t read_from, read_to; /* the stored range */
    uint32_t read_limit;         /* rows wanted from it */
    uint64_t ring_total;         /* forward: messages in the ring after the stored range */
    uint32_t ring_count;         /* references in `ring`, in page order */
    struct chan_msg *ring[];     /* forward: the ring's oldest; backward: its part of the page */
};

/* A join waiting for its stored replay; in its channel's `recovering` list. */
struct stored_join {
    struct stored_wait wait;
    struct stored_join *next;
    struct chan *c;
    struct hub_req *r;
    uint64_t read_from, read_to; /* the stored range */
    uint64_t tail_bytes;         /* data bytes of `tail` */
    bool failed;                 /* the replay outgrew the recovery limits: not recovered */
    uint32_t tail_count, tail_cap;
    struct chan_msg **tail; /* references: the ring at the join, then each later publish */
};

/* ---- writing ---- */

static void write_page_head(struct hub *h, const struct hub_req *r, const char *epoch,
                            uint64_t offset, uint64_t oldest)
{
    struct jbuf *jb = &h->scratch;
    jbuf_reset(jb);
    struct json_span id = {r->id, r->id_len};
    if (r->api != NULL)
        api_write_history_head(jb, r->channel, r->channel_len, epoch, offset, oldest);
    else
        proto_write_history_head(jb, r->id_len ? &id : NULL, r->channel, r->channel_len, epoch,
                                 offset, oldest);
}

static void write_msg(struct jbuf *jb, bool first, const struct chan_msg *m)
{
    proto_write_list_sep(jb, first);
    jbuf_raw(jb, chan_msg_json(m), m->json_len);
}

/* A stored row as the `message` its live delivery was: the same bytes (owner_publish). */
static void write_row(struct jbuf *jb, bool first, const char *channel, size_t channel_len,
                      const char *epoch, const struct pg_history_row *row)
{
    proto_write_list_sep(jb, first);
    proto_write_message_head(jb, channel, channel_len, row->offset, epoch, row->timestamp_ms,
                             row->user_id, row->user_id_len);
    jbuf_raw(jb, row->data, row->data_len);
    proto_write_message_tail(jb);
}

/* ---- history pages ---- */

static void page_free(struct stored_page *p)
{
    for (uint32_t i = 0; i < p->ring_count; i++)
        chan_msg_unref(p->ring[i]);
    free(p);
}

static void page_fail(struct hub *h, struct stored_page *p)
{
    struct hub_req *r = p->r;
    r->error = PROTO_ERR_STORAGE_UNAVAILABLE;
    page_free(p);
    hub_send_reply(h, r);
}

static void on_page_read(void *cookie, enum pg_read_status status,
                         const struct pg_history_row *rows, uint32_t count, bool more)
{
    struct stored_page *p = cookie;
    struct hub *h = p->hub;
    struct hub_req *r = p->r;
    if (h->worker->pg_closing) { /* the worker is exiting: nobody is left to answer */
        hub_req_free(r);
        page_free(p);
        return;
    }
    if (status != PG_READ_OK) {
        log_debug("hub", "a history page could not be read from the database",
                  "worker=%u status=%d", h->worker->index, (int)status);
        page_fail(h, p);
        return;
    }
    struct jbuf *jb = &h->scratch;
    write_page_head(h, r, p->epoch, p->offset, 1);
    bool first = true;
    if (!r->backward) { /* the stored rows are older than the ring: they come first */
        for (uint32_t i = 0; i < count; i++, first = false)
            write_row(jb, first, r->channel, r->channel_len, p->epoch, &rows[i]);
        uint32_t take = 0;
        if (!more) {
            take = r->limit - count < p->ring_count ? r->limit - count : p->ring_count;
            for (uint32_t i = 0; i < take; i++, first = false)
                write_msg(jb, first, p->ring[i]);
        }
        more = more || take < p->ring_total;
    } else { /* newest first: the ring's part, then the stored rows below it */
        for (uint32_t i = 0; i < p->ring_count; i++, first = false)
            write_msg(jb, first, p->ring[i]);
        for (uint32_t i = 0; i < count; i++, first = false)
            write_row(jb, first, r->channel, r->channel_len, p->epoch, &rows[i]);
    }
    proto_write_history_tail(jb, more);
    page_free(p);
    owner_take_reply(h, r);
    hub_send_reply(h, r);
}

static void page_send(struct hub *h, struct stored_page *p)
{
    struct hub_req *r = p->r;
    struct pg_history_query q = {
        .channel = r->channel,
        .channel_len = r->channel_len,
        .epoch = p->epoch,
        .epoch_len = HUB_EPOCH_BYTES,
        .from_offset = p->read_from,
        .to_offset = p->read_to,
        .direction = r->backward ? PG_BACKWARD : PG_FORWARD,
        .limit = p->read_limit,
    };
    /* A refusal is counted by the reader (read refusals) and not logged: an outage would
     * flood the log. */
    if (pg_reader_history(h->worker->pg_reader, &q, on_page_read, p) != 0)
        page_fail(h, p);
}

/* ---- join replays ---- */

static void join_release(struct stored_join *j)
{
    for (uint32_t i = 0; i < j->tail_count; i++)
        chan_msg_unref(j->tail[i]);
    free(j->tail);
    j->tail = NULL;
    j->tail_count = j->tail_cap = 0;
}

/* Appends `m` to j's replay; marks it failed past the limits or when out of memory. */
static void join_append(struct hub *h, struct stored_join *j, struct chan_msg *m)
{
    const struct gw_options *o = hub_opts(h);
    uint64_t replay = j->read_to - j->read_from + 1 + j->tail_count + 1;
    if (j->failed || replay > o->recovery_max_messages ||
        j->tail_bytes + m->data_len > o->recovery_max_bytes) {
        j->failed = true;
        join_release(j);
        return;
    }
    if (j->tail_count == j->tail_cap) {
        uint32_t cap = j->tail_cap ? j->tail_cap * 2 : 16;
        struct chan_msg **grown = realloc(j->tail, cap * sizeof *grown);
        if (grown == NULL) {
            j->failed = true;
            join_release(j);
            return;
        }
        j->tail = grown;
        j->tail_cap = cap;
    }
    chan_msg_ref(m);
    j->tail[j->tail_count++] = m;
    j->tail_bytes += m->data_len;
}

static void join_unlink(struct chan *c, struct stored_join *j)
{
    for (struct stored_join **link = &c->recovering; *link != NULL; link = &(*link)->next) {
        if (*link == j) {
            *link = j->next;
            return;
        }
    }
    assert(!"a stored join not in its channel's list");
}

/* Whether the rows are exactly the asked range, in order, within the byte limit. */
static bool rows_complete(const struct hub *h, const struct stored_join *j,
                          const struct pg_history_row *rows, uint32_t count)
{
    if (count != j->read_to - j->read_from + 1)
        return false; /* a message of the range was never stored (or retention dropped it) */
    uint64_t bytes = j->tail_bytes;
    for (uint32_t i = 0; i < count; i++) {
        if (rows[i].offset != j->read_from + i)
            return false;
        bytes += rows[i].data_len;
    }
    return bytes <= hub_opts(h)->recovery_max_bytes;
}

/* The read's answer (or its failure): `joined`, recovered when every missed message is
 * there, then the join is counted as any other (owner_join_commit). */
static void on_join_read(void *cookie, enum pg_read_status status,
                         const struct pg_history_row *rows, uint32_t count, bool more)
{
    struct stored_join *j = cookie;
    struct chan *c = j->c;
    struct hub *h = c->hub;
    struct hub_req *r = j->r;
    join_unlink(c, j);
    if (h->worker->pg_closing) { /* the worker is exiting: nobody is left to answer */
        c->subscribers--;
        join_release(j);
        free(j);
        hub_req_free(r);
        return;
    }
    if (status != PG_READ_OK)
        log_debug("hub", "a join's missed messages could not be read; it is not recovered",
                  "worker=%u status=%d", h->worker->index, (int)status);
    r->recovered = status == PG_READ_OK && !j->failed && !more && rows_complete(h, j, rows, count);
    assert(!r->recovered ||
           (j->tail_count > 0 ? j->tail[j->tail_count - 1]->offset : j->read_to) == c->offset);
    struct jbuf *jb = &h->scratch;
    jbuf_reset(jb);
    struct json_span id = {r->id, r->id_len};
    proto_write_joined_head(jb, r->id_len ? &id : NULL, c->name, c->name_len, c->epoch, c->offset,
                            r->recovered);
    bool first = true;
    for (uint32_t i = 0; r->recovered && i < count; i++, first = false)
        write_row(jb, first, c->name, c->name_len, c->epoch, &rows[i]);
    for (uint32_t i = 0; r->recovered && i < j->tail_count; i++, first = false)
        write_msg(jb, first, j->tail[i]);
    proto_write_joined_tail(jb);
    join_release(j);
    free(j);
    owner_join_commit(h, c, r, true);
}

static void join_send(struct hub *h, struct stored_join *j)
{
    struct chan *c = j->c;
    struct pg_history_query q = {
        .channel = c->name,
        .channel_len = c->name_len,
        .epoch = c->epoch,
        .epoch_len = HUB_EPOCH_BYTES,
        .from_offset = j->read_from,
        .to_offset = j->read_to,
        .direction = PG_FORWARD,
        .limit = (uint32_t)(j->read_to - j->read_from + 1),
    };
    if (pg_reader_history(h->worker->pg_reader, &q, on_join_read, j) != 0)
        on_join_read(j, PG_READ_UNAVAILABLE, NULL, 0, false);
}

/* ---- waiting for the writer ---- */

static void wait_send(struct hub *h, struct stored_wait *w)
{
    if (w->is_join)
        join_send(h, (struct stored_join *)w);
    else
        page_send(h, (struct stored_page *)w);
}

/* Sends the read now, or queues it until the writer has answered every message handed to
 * it so far. A reader whose database is known to be down refuses at once: no point in
 * waiting then. */
static void wait_submit(struct hub *h, struct stored_wait *w)
{
    const struct pg_reader *reader = h->worker->pg_reader;
    bool down = reader->conn.state == PG_CONN_DOWN || reader->conn.state == PG_CONN_CLOSED;
    if (h->store_answered >= h->store_handed || down) {
        wait_send(h, w);
        return;
    }
    w->next = NULL;
    w->need = h->store_handed;
    w->since_ms = h->worker->loop.now_ms;
    if (h->store_waiting_tail != NULL)
        h->store_waiting_tail->next = w;
    else
        h->store_waiting = w;
    h->store_waiting_tail = w;
}

static struct stored_wait *wait_pop(struct hub *h)
{
    struct stored_wait *w = h->store_waiting;
    h->store_waiting = w->next;
    if (h->store_waiting == NULL)
        h->store_waiting_tail = NULL;
    return w;
}

void stored_note_handed(struct hub *h)
{
    h->store_handed++;
}

void stored_note_answered(struct hub *h)
{
    h->store_answered++;
    assert(h->store_answered <= h->store_handed);
    if (h->worker->pg_closing)
        return; /* stored_destroy frees what waits */
    while (h->store_waiting != NULL && h->store_waiting->need <= h->store_answered)
        wait_send(h, wait_pop(h));
}

void stored_sweep(struct hub *h)
{
    uint64_t now_ms = h->worker->loop.now_ms;
    while (h->store_waiting != NULL && now_ms - h->store_waiting->since_ms >= STORED_WAIT_MS_MAX) {
        struct stored_wait *w = wait_pop(h);
        log_debug("hub", "a read waited too long for the batch writer; answered as failed",
                  "worker=%u", h->worker->index);
        if (w->is_join)
            on_join_read(w, PG_READ_TIMEOUT, NULL, 0, false);
        else
            page_fail(h, (struct stored_page *)w);
    }
}

void stored_destroy(struct hub *h)
{
    while (h->store_waiting != NULL) {
        struct stored_wait *w = wait_pop(h);
        if (w->is_join) {
            struct stored_join *j = (struct stored_join *)w;
            join_unlink(j->c, j);
            j->c->subscribers--;
            hub_req_free(j->r);
            join_release(j);
            free(j);
        } else {
            struct stored_page *p = (struct stored_page *)w;
            hub_req_free(p->r);
            page_free(p);
        }
    }
}

/* ---- history pages: planning ---- */

/* A page with a stored part: references `count` ring messages from offset `from` on
 * (forward) or down (backward), and reads offsets read_from..read_to (below the ring) with
 * `limit`. r is answered from the read, or now when out of memory or refused. */
static void page_start(struct hub *h, struct hub_req *r, const struct history_source *src,
                       uint64_t from, uint32_t count, uint64_t read_from, uint64_t read_to,
                       uint64_t limit)
{
    assert(read_from >= 1 && read_from <= read_to && limit >= 1);
    struct stored_page *p = malloc(sizeof *p + (size_t)count * sizeof p->ring[0]);
    if (p == NULL) {
        r->error = PROTO_ERR_INTERNAL;
        hub_send_reply(h, r);
        return;
    }
    p->wait.is_join = false;
    p->hub = h;
    p->r = r;
    memcpy(p->epoch, src->epoch, sizeof p->epoch);
    p->offset = src->offset;
    p->read_from = read_from;
    p->read_to = read_to;
    p->read_limit = (uint32_t)limit;
    p->ring_total = 0;
    p->ring_count = count;
    uint64_t oldest = history_oldest(src->hist, src->offset + 1);
    for (uint32_t i = 0; i < count; i++) {
        uint64_t o = r->backward ? from - i : from + i;
        p->ring[i] = history_at(src->hist, (uint32_t)(o - oldest));
        chan_msg_ref(p->ring[i]);
    }
    if (!r->backward)
        p->ring_total = src->offset + 1 - oldest;
    wait_submit(h, &p->wait);
}

/* The page from the ring alone: offsets `from` to `last` in the asked direction. */
static void page_from_ring(struct hub *h, struct hub_req *r, const struct history_source *src,
                           uint64_t oldest, bool any, uint64_t from, uint64_t last, bool more)
{
    struct jbuf *jb = &h->scratch;
    write_page_head(h, r, src->epoch, src->offset, src->stored ? 1 : oldest);
    for (uint64_t i = 0, n = any ? (r->backward ? from - last : last - from) + 1 : 0; i < n; i++) {
        uint64_t o = r->backward ? from - i : from + i;
        write_msg(jb, i == 0, history_at(src->hist, (uint32_t)(o - oldest)));
    }
    proto_write_history_tail(jb, more);
    owner_take_reply(h, r);
    hub_send_reply(h, r);
}

static void page_forward(struct hub *h, struct hub_req *r, const struct history_source *src,
                         uint64_t oldest)
{
    uint64_t limit = r->limit, offset = src->offset;
    uint64_t from = r->has_since ? r->offset + 1 : src->stored ? 1 : oldest;
    if (src->stored && from < oldest) { /* rows from..oldest-1, then the ring */
        uint64_t in_ring = offset + 1 - oldest;
        page_start(h, r, src, oldest, (uint32_t)(in_ring < limit ? in_ring : limit), from,
                   oldest - 1, limit);
        return;
    }
    if (from < oldest)
        from = oldest;
    bool any = from <= offset;
    uint64_t last = any ? (offset - from + 1 > limit ? from + limit - 1 : offset) : 0;
    page_from_ring(h, r, src, oldest, any, from, last, any && last < offset);
}

static void page_backward(struct hub *h, struct hub_req *r, const struct history_source *src,
                          uint64_t oldest)
{
    uint64_t limit = r->limit, offset = src->offset;
    uint64_t from = r->has_since ? (r->offset == 0 ? 0 : r->offset - 1) : offset;
    if (from > offset)
        from = offset;
    bool any = from >= oldest && from > 0;
    uint64_t last = any ? (from - oldest + 1 > limit ? from - limit + 1 : oldest) : 0;
    uint64_t n = any ? from - last + 1 : 0;
    uint64_t below = from < oldest ? from : oldest - 1; /* the newest offset under the ring */
    if (!src->stored || below == 0 || n == limit) {
        /* With stored offsets under a full page, `more` is true without asking: offsets
         * start at 1, so the stored ones are there unless retention dropped them. */
        page_from_ring(h, r, src, oldest, any, from, last,
                       (any && last > oldest) || (src->stored && below > 0));
        return;
    }
    page_start(h, r, src, from, (uint32_t)n, 1, below, limit - n);
}

void stored_history_answer(struct hub *h, struct hub_req *r, const struct history_source *src)
{
    assert(r->op == HUB_OP_HISTORY_REPLY && r->limit >= 1);
    assert(!src->stored || src->hist != NULL);
    uint64_t oldest = src->hist != NULL ? history_oldest(src->hist, src->offset + 1) : 1;
    if (r->backward)
        page_backward(h, r, src, oldest);
    else
        page_forward(h, r, src, oldest);
}

/* ---- join replays: starting ---- */

bool stored_recovery_start(struct hub *h, struct chan *c, struct hub_req *r)
{
    const struct gw_options *o = hub_opts(h);
    struct pg_reader *reader = h->worker->pg_reader;
    if (reader == NULL || c->ns->history_size == 0 || !r->has_since ||
        strcmp(r->since_epoch, c->epoch) != 0 || r->offset >= c->offset ||
        c->offset - r->offset > o->recovery_max_messages)
        return false;
    uint64_t oldest = history_oldest(&c->hist, c->offset + 1);
    if (r->offset + 1 >= oldest || oldest - 1 - r->offset > reader->cfg.page_rows_max)
        return false; /* the ring reaches back (recovery_possible decided), or too many */
    struct stored_join *j = calloc(1, sizeof *j);
    if (j == NULL)
        return false;
    j->wait.is_join = true;
    j->c = c;
    j->r = r;
    j->read_from = r->offset + 1;
    j->read_to = oldest - 1;
    for (uint32_t i = 0; i < c->hist.count && !j->failed; i++)
        join_append(h, j, history_at(&c->hist, i));
    if (j->failed) { /* the ring's part alone is past recovery_max_bytes */
        free(j);
        return false;
    }
    j->next = c->recovering;
    c->recovering = j;
    c->subscribers++;
    wait_submit(h, &j->wait); /* a refusal answers at once: c may be gone after this */
    return true;
}

void stored_recovery_note(struct hub *h, struct chan *c, struct chan_msg *m)
{
    assert(m->offset == c->offset);
    for (struct stored_join *j = c->recovering; j != NULL; j = j->next)
        join_append(h, j, m);
}
