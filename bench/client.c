/* Client engine: see client.h. The one thing to know before changing it: a connection's
 * memory and descriptor are released only in client_finish, when `ops` is zero, because
 * the kernel may still complete an operation that names the connection (a multishot recv,
 * a send) after we decided to end it. */
#include "bench/client.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/http.h"
#include "core/ws_frame.h"
#include "core/ws_handshake.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum { HS_HEADERS_MAX = 32, CLOSE_REPLY_TIMEOUT_MS = 2000 };

struct client_hs {
    char key[25];
    char path[300];
    uint16_t len;
    uint8_t data[CLIENT_HS_BYTES];
};

/* Queued bytes data[0..len); the send in flight covers data[0..inflight). Data frame ends
 * are kept as positions in the connection's byte stream (32-bit, wrapping) so a completed
 * send tells how many whole data frames left. */
struct client_out {
    uint32_t len;
    uint32_t cap;
    uint32_t inflight;
    uint32_t sent_pos;    /* stream position of data[0] */
    uint32_t reserved;    /* payload bytes of the frame being built, 0 when none */
    uint32_t reserved_at; /* offset of that payload in data */
    uint16_t frame_first;
    uint16_t frame_count;
    uint32_t frame_end[CLIENT_OUT_FRAMES];
    uint8_t data[];
};

uint64_t client_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t client_random(struct client *cl)
{
    /* xorshift64*: masks and keys need to be unpredictable to intermediaries, not secret. */
    uint64_t x = cl->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    cl->rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

int client_init(struct client *cl, struct loop *loop, const struct client_params *params,
                const struct client_hooks *hooks, void *ctx)
{
    memset(cl, 0, sizeof *cl);
    cl->loop = loop;
    cl->target = params->target;
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &params->target.sin_addr, ip, sizeof ip);
    snprintf(cl->host, sizeof cl->host, "%s:%u", ip, ntohs(params->target.sin_port));
    cl->source_first = params->source_first;
    cl->source_count = params->source_count;
    cl->port_first = params->port_first;
    cl->port_count = params->port_count;
    cl->connect_timeout_ms = params->connect_timeout_ms;
    cl->hooks = hooks;
    cl->ctx = ctx;
    cl->rng = params->seed | 1u;
    return bufring_init(&cl->recv_buffers, &loop->ring, 0, params->recv_buffer_count,
                        params->recv_buffer_bytes);
}

void client_destroy(struct client *cl)
{
    bufring_destroy(&cl->recv_buffers, &cl->loop->ring);
}

void client_timer_arm(struct client *cl, struct client_conn *c, uint64_t at_ms)
{
    tw_arm(&cl->loop->wheel, &c->timer, at_ms);
}

/* ---- ending --------------------------------------------------------------------------- */

static void client_finish(struct client *cl, struct client_conn *c)
{
    assert(c->state == CLIENT_TEARDOWN && c->ops == 0);
    tw_cancel(&cl->loop->wheel, &c->timer);
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->out);
    c->out = NULL;
    free(c->hs);
    c->hs = NULL;
    free(c->head);
    c->head = NULL;
    c->head_len = 0;
    c->carry_len = 0;
    c->message_bytes = 0;
    c->recv_armed = false;
    c->close_after_send = false;
    c->state = CLIENT_FREE;
    cl->hooks->on_end(cl->ctx, c);
}

void client_abort(struct client *cl, struct client_conn *c, enum client_end why, uint16_t code)
{
    if (c->state == CLIENT_FREE || c->state == CLIENT_TEARDOWN)
        return;
    c->state = CLIENT_TEARDOWN;
    c->end_reason = (uint8_t)why;
    c->end_code = code;
    tw_cancel(&cl->loop->wheel, &c->timer);
    if (c->ops > 0 && c->fd >= 0) {
        /* Wake every operation on the descriptor; their completions bring ops to zero. */
        struct io_uring_sqe *sqe = loop_sqe(cl->loop);
        io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
        io_uring_sqe_set_data64(sqe, LOOP_UDATA_IGNORE);
        shutdown(c->fd, SHUT_RDWR);
        return;
    }
    client_finish(cl, c);
}

/* An operation of `c` completed: in TEARDOWN, the last one finishes the connection.
 * Returns true when the connection is (now) tearing down and the caller must stop. */
static bool client_op_done(struct client *cl, struct client_conn *c)
{
    assert(c->ops > 0);
    c->ops--;
    if (c->state != CLIENT_TEARDOWN)
        return false;
    if (c->ops == 0)
        client_finish(cl, c);
    return true;
}

/* ---- sending -------------------------------------------------------------------------- */

static void client_mark_dirty(struct client *cl, struct client_conn *c)
{
    if (c->dirty)
        return;
    c->dirty = true;
    c->dirty_next = cl->dirty;
    cl->dirty = c;
}

/* Makes room for `need` more bytes; false when the buffer cannot grow now (a send in
 * flight holds its memory) or would grow beyond its limit. */
static bool client_out_room(struct client_conn *c, size_t need)
{
    struct client_out *o = c->out;
    if (o != NULL && o->len + need <= o->cap)
        return true;
    if (o != NULL && o->inflight > 0)
        return false;
    size_t used = o != NULL ? o->len : 0;
    size_t cap = o != NULL ? o->cap : 0;
    size_t limit = (size_t)CLIENT_MESSAGE_BYTES_MAX + 64;
    if (used + need > limit)
        return false;
    size_t want = cap > 0 ? cap * 2 : CLIENT_OUT_MIN_BYTES;
    while (want < used + need)
        want *= 2;
    if (want > limit)
        want = limit;
    struct client_out *grown = realloc(o, sizeof *o + want);
    if (grown == NULL)
        return false;
    if (o == NULL)
        memset(grown, 0, sizeof *grown);
    grown->cap = (uint32_t)want;
    c->out = grown;
    return true;
}

uint8_t *client_frame_reserve(struct client *cl, struct client_conn *c, uint8_t opcode, size_t len)
{
    (void)cl;
    if (c->state != CLIENT_OPEN && !(c->state == CLIENT_CLOSING && opcode == WS_OP_CLOSE))
        return NULL;
    if (len > CLIENT_MESSAGE_BYTES_MAX)
        return NULL;
    if (c->out != NULL && c->out->frame_count == CLIENT_OUT_FRAMES)
        return NULL;
    if (!client_out_room(c, WS_FRAME_HEADER_BYTES_MAX + len))
        return NULL;
    struct client_out *o = c->out;
    assert(o->reserved == 0);
    uint64_t r = client_random(cl);
    uint8_t mask[4] = {(uint8_t)r, (uint8_t)(r >> 8), (uint8_t)(r >> 16), (uint8_t)(r >> 24)};
    size_t header = ws_frame_header_encode(o->data + o->len, opcode, true, len, mask);
    o->reserved_at = o->len + (uint32_t)header;
    o->reserved = (uint32_t)len;
    o->len += (uint32_t)header; /* the payload joins at commit */
    return o->data + o->reserved_at;
}

void client_frame_commit(struct client *cl, struct client_conn *c, bool data)
{
    struct client_out *o = c->out;
    assert(o != NULL && o->reserved_at == o->len);
    const uint8_t *mask = o->data + o->reserved_at - 4;
    ws_mask_apply(o->data + o->reserved_at, o->reserved, mask, 0);
    o->len += o->reserved;
    o->reserved = 0;
    if (data) {
        assert(o->frame_count < CLIENT_OUT_FRAMES);
        unsigned slot = (o->frame_first + o->frame_count) % CLIENT_OUT_FRAMES;
        o->frame_end[slot] = o->sent_pos + o->len;
        o->frame_count++;
    }
    client_mark_dirty(cl, c);
}

bool client_send(struct client *cl, struct client_conn *c, uint8_t opcode, const void *payload,
                 size_t len, bool data)
{
    uint8_t *p = client_frame_reserve(cl, c, opcode, len);
    if (p == NULL)
        return false;
    if (len > 0)
        memcpy(p, payload, len);
    client_frame_commit(cl, c, data);
    return true;
}

/* Queues raw bytes (the upgrade request). */
static bool client_send_raw(struct client *cl, struct client_conn *c, const void *bytes, size_t len)
{
    if (!client_out_room(c, len))
        return false;
    memcpy(c->out->data + c->out->len, bytes, len);
    c->out->len += (uint32_t)len;
    client_mark_dirty(cl, c);
    return true;
}

void client_flush(struct client *cl)
{
    struct client_conn *c = cl->dirty;
    cl->dirty = NULL;
    while (c != NULL) {
        struct client_conn *next = c->dirty_next;
        c->dirty = false;
        c->dirty_next = NULL;
        struct client_out *o = c->out;
        bool can_send =
            c->state != CLIENT_FREE && c->state != CLIENT_TEARDOWN && c->state != CLIENT_CONNECTING;
        if (can_send && o != NULL && o->inflight == 0 && o->len > 0 && o->reserved == 0) {
            struct io_uring_sqe *sqe = loop_sqe(cl->loop);
            io_uring_prep_send(sqe, c->fd, o->data, o->len, MSG_NOSIGNAL);
            io_uring_sqe_set_data64(sqe, loop_udata(c, CLIENT_TAG_SEND));
            o->inflight = o->len;
            c->ops++;
        }
        c = next;
    }
}

static void client_on_send(struct client *cl, struct client_conn *c, int res)
{
    struct client_out *o = c->out;
    assert(o != NULL && o->inflight > 0);
    uint32_t inflight = o->inflight;
    o->inflight = 0;
    if (client_op_done(cl, c))
        return;
    if (res < 0) {
        client_abort(cl, c, CLIENT_END_ERROR, 0);
        return;
    }
    uint32_t written = (uint32_t)res;
    if (written > inflight)
        written = inflight;
    memmove(o->data, o->data + written, o->len - written);
    o->len -= written;
    if (o->reserved != 0)
        o->reserved_at -= written;
    o->sent_pos += written;
    uint32_t frames = 0;
    while (o->frame_count > 0 && (int32_t)(o->frame_end[o->frame_first] - o->sent_pos) <= 0) {
        o->frame_first = (uint16_t)((o->frame_first + 1) % CLIENT_OUT_FRAMES);
        o->frame_count--;
        frames++;
    }
    if (o->len > 0) {
        client_mark_dirty(cl, c);
    } else if (c->close_after_send) {
        client_abort(cl, c, CLIENT_END_SERVER_CLOSE, c->end_code);
        return;
    } else if (!c->sender && o->reserved == 0) {
        free(o);
        c->out = NULL;
    }
    cl->hooks->on_sent(cl->ctx, c, frames, written);
}

/* ---- connecting ----------------------------------------------------------------------- */

static enum client_end client_connect_error(int err)
{
    switch (err) {
    case EADDRNOTAVAIL:
        return CLIENT_END_NO_PORT;
    case ECONNREFUSED:
        return CLIENT_END_REFUSED;
    case ETIMEDOUT:
    case ECANCELED:
        return CLIENT_END_TIMEOUT;
    case ECONNRESET:
        return CLIENT_END_ERROR;
    default:
        return CLIENT_END_CONNECT_OTHER;
    }
}

/* Binds to the connection's source address: on a first attempt also to a port of our
 * choosing (index / addresses), so connect() need not search for a free one; the kernel's
 * search gets slower as a source address's ports fill up, which halved the connect rate
 * past a few hundred thousand connections. Reconnects let the kernel choose (their old
 * 4-tuple may be in TIME_WAIT). */
static bool client_bind(struct client *cl, const struct client_conn *c, int fd, bool own_port)
{
    int one = 1;
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(cl->source_first + c->index % cl->source_count);
    if (own_port && cl->port_count > 0) {
        uint32_t slot = (c->index / cl->source_count) % cl->port_count;
        src.sin_port = htons((uint16_t)(cl->port_first + slot));
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&src, sizeof src) == 0)
            return true;
        if (errno != EADDRINUSE)
            return false;
        return false; /* taken (by another program): the caller retries with a fresh socket */
    }
    /* Choose the port at connect time, so the 4-tuple, not the port, must be unique. */
    (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    return bind(fd, (struct sockaddr *)&src, sizeof src) == 0;
}

static int client_socket(struct client *cl, struct client_conn *c, bool own_port,
                         enum client_end *why)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            *why = CLIENT_END_SOCKET;
            return -1;
        }
        int one = 1;
        /* Latency is what we measure: never hold a small frame back. */
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (cl->source_count == 0 || client_bind(cl, c, fd, own_port && attempt == 0))
            return fd;
        close(fd);
        if (!own_port)
            break;
        cl->ports_taken++;
    }
    *why = CLIENT_END_BIND;
    return -1;
}

void client_connect(struct client *cl, struct client_conn *c, const char *path, bool own_port)
{
    assert(c->state == CLIENT_FREE && c->ops == 0);
    assert(strlen(path) < sizeof((struct client_hs *)0)->path);
    c->started_ns = client_clock_ns();
    c->end_reason = CLIENT_END_LOCAL;
    c->end_code = 0;
    c->closing_by_us = false;
    c->state = CLIENT_CONNECTING;
    enum client_end why = CLIENT_END_SOCKET;
    c->hs = malloc(sizeof *c->hs);
    c->fd = c->hs != NULL ? client_socket(cl, c, own_port, &why) : -1;
    if (c->fd < 0) {
        c->state = CLIENT_TEARDOWN;
        c->end_reason = (uint8_t)why;
        client_finish(cl, c);
        return;
    }
    c->hs->len = 0;
    snprintf(c->hs->path, sizeof c->hs->path, "%s", path);
    struct io_uring_sqe *sqe = loop_sqe(cl->loop);
    io_uring_prep_connect(sqe, c->fd, (const struct sockaddr *)&cl->target, sizeof cl->target);
    io_uring_sqe_set_data64(sqe, loop_udata(c, CLIENT_TAG_CONNECT));
    c->ops++;
    client_timer_arm(cl, c, cl->loop->now_ms + cl->connect_timeout_ms);
}

static void client_arm_recv(struct client *cl, struct client_conn *c)
{
    struct io_uring_sqe *sqe = loop_sqe(cl->loop);
    io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = cl->recv_buffers.group_id;
    io_uring_sqe_set_data64(sqe, loop_udata(c, CLIENT_TAG_RECV));
    c->recv_armed = true;
    c->ops++;
}

static void client_on_connect(struct client *cl, struct client_conn *c, int res)
{
    if (client_op_done(cl, c))
        return;
    if (res < 0) {
        client_abort(cl, c, client_connect_error(-res), 0);
        return;
    }
    uint8_t random16[16];
    uint64_t a = client_random(cl), b = client_random(cl);
    memcpy(random16, &a, 8);
    memcpy(random16 + 8, &b, 8);
    char request[CLIENT_REQUEST_BYTES];
    size_t n = 0;
    if (ws_handshake_client_key(random16, c->hs->key))
        n = ws_handshake_client_request(request, sizeof request, cl->host, c->hs->path, c->hs->key,
                                        NULL, NULL);
    if (n == 0 || !client_send_raw(cl, c, request, n)) {
        client_abort(cl, c, CLIENT_END_CONNECT_OTHER, 0);
        return;
    }
    c->state = CLIENT_HANDSHAKE;
    client_arm_recv(cl, c);
}

/* ---- receiving ------------------------------------------------------------------------ */

static void reader_on_data(void *ctx, uint8_t opcode, const uint8_t *data, size_t len,
                           bool message_end);
static void reader_on_control(void *ctx, uint8_t opcode, const uint8_t *payload, size_t len);
static const struct ws_reader_ops reader_ops = {reader_on_data, reader_on_control};

/* The reader's callbacks need the engine too; the feed sets it for their duration. */
static _Thread_local struct client *feeding_client;

static void reader_on_data(void *ctx, uint8_t opcode, const uint8_t *data, size_t len,
                           bool message_end)
{
    struct client_conn *c = ctx;
    struct client *cl = feeding_client;
    if (c->state == CLIENT_TEARDOWN)
        return;
    c->message_bytes += len;
    if (message_end && c->head_len == 0) {
        /* The whole message in one piece (the usual case): no copy. */
        size_t head = len < CLIENT_HEAD_BYTES ? len : CLIENT_HEAD_BYTES;
        uint64_t total = c->message_bytes;
        c->message_bytes = 0;
        cl->hooks->on_message(cl->ctx, c, opcode, data, head, total);
        return;
    }
    if (c->head_len < CLIENT_HEAD_BYTES && len > 0) {
        if (c->head == NULL && (c->head = malloc(CLIENT_HEAD_BYTES)) == NULL) {
            client_abort(cl, c, CLIENT_END_ERROR, 0);
            return;
        }
        size_t take = CLIENT_HEAD_BYTES - c->head_len;
        if (take > len)
            take = len;
        memcpy(c->head + c->head_len, data, take);
        c->head_len = (uint16_t)(c->head_len + take);
    }
    if (message_end) {
        uint64_t total = c->message_bytes;
        size_t head_len = c->head_len;
        c->message_bytes = 0;
        c->head_len = 0;
        cl->hooks->on_message(cl->ctx, c, opcode, c->head != NULL ? c->head : data, head_len,
                              total);
    }
}

static void reader_on_control(void *ctx, uint8_t opcode, const uint8_t *payload, size_t len)
{
    struct client_conn *c = ctx;
    struct client *cl = feeding_client;
    if (c->state == CLIENT_TEARDOWN)
        return;
    if (opcode == WS_OP_PING) {
        if (client_send(cl, c, WS_OP_PONG, payload, len, false))
            cl->pings_answered++;
        return;
    }
    if (opcode != WS_OP_CLOSE)
        return;
    uint16_t code = len >= 2 ? (uint16_t)(payload[0] << 8 | payload[1]) : WS_CLOSE_NO_STATUS;
    if (c->state == CLIENT_CLOSING) {
        client_abort(cl, c, CLIENT_END_LOCAL, code);
        return;
    }
    /* The server closes: answer with its code (RFC 6455 5.5.1), then end. */
    c->end_code = code;
    bool queued = len >= 2 ? client_send(cl, c, WS_OP_CLOSE, payload, 2, false)
                           : client_send(cl, c, WS_OP_CLOSE, NULL, 0, false);
    if (!queued) {
        client_abort(cl, c, CLIENT_END_SERVER_CLOSE, code);
        return;
    }
    c->close_after_send = true;
    c->state = CLIENT_CLOSING;
    client_timer_arm(cl, c, cl->loop->now_ms + CLOSE_REPLY_TIMEOUT_MS);
}

/* Feeds frame bytes, carrying an incomplete header or control frame to the next call. */
static void client_feed(struct client *cl, struct client_conn *c, uint8_t *data, size_t len)
{
    feeding_client = cl;
    uint8_t joined[2 * WS_READER_CARRY_BYTES_MAX];
    while (c->carry_len > 0 && len > 0 && !c->reader.closed && c->state != CLIENT_TEARDOWN) {
        size_t take = sizeof joined - c->carry_len;
        if (take > len)
            take = len;
        memcpy(joined, c->carry, c->carry_len);
        memcpy(joined + c->carry_len, data, take);
        size_t have = c->carry_len + take;
        ssize_t used = ws_reader_feed(&c->reader, joined, have, &reader_ops, c);
        if (used < 0) {
            client_abort(cl, c, CLIENT_END_PROTOCOL, c->reader.error);
            return;
        }
        if ((size_t)used >= c->carry_len) {
            size_t from_data = (size_t)used - c->carry_len;
            c->carry_len = 0;
            data += from_data;
            len -= from_data;
        } else {
            size_t left = have - (size_t)used;
            assert(left <= WS_READER_CARRY_BYTES_MAX);
            memmove(c->carry, joined + used, left);
            c->carry_len = (uint8_t)left;
            data += take;
            len -= take;
        }
    }
    if (len == 0 || c->reader.closed || c->state == CLIENT_TEARDOWN)
        return;
    ssize_t used = ws_reader_feed(&c->reader, data, len, &reader_ops, c);
    if (used < 0) {
        client_abort(cl, c, CLIENT_END_PROTOCOL, c->reader.error);
        return;
    }
    size_t left = len - (size_t)used;
    if (left > 0 && !c->reader.closed && c->state != CLIENT_TEARDOWN) {
        assert(left <= WS_READER_CARRY_BYTES_MAX);
        memcpy(c->carry, data + used, left);
        c->carry_len = (uint8_t)left;
    }
}

/* Bytes of the upgrade response; on a complete head, checks it and opens. */
static void client_handshake_bytes(struct client *cl, struct client_conn *c, const uint8_t *data,
                                   size_t len)
{
    struct client_hs *hs = c->hs;
    size_t take = sizeof hs->data - hs->len;
    if (take > len)
        take = len;
    memcpy(hs->data + hs->len, data, take);
    hs->len = (uint16_t)(hs->len + take);
    struct http_header headers[HS_HEADERS_MAX];
    struct http_response res;
    enum http_parse_result pr =
        http_response_parse((const char *)hs->data, hs->len, &res, headers, HS_HEADERS_MAX);
    if (pr == HTTP_PARSE_INCOMPLETE) {
        if (hs->len == sizeof hs->data)
            client_abort(cl, c, CLIENT_END_BAD_HANDSHAKE, 0);
        return;
    }
    if (pr != HTTP_PARSE_OK) {
        client_abort(cl, c, CLIENT_END_BAD_HANDSHAKE, 0);
        return;
    }
    if (res.status != 101) {
        client_abort(cl, c, CLIENT_END_HTTP_STATUS, (uint16_t)res.status);
        return;
    }
    if (!ws_handshake_client_check(&res, hs->key)) {
        client_abort(cl, c, CLIENT_END_BAD_HANDSHAKE, 0);
        return;
    }
    /* Frames may follow the head in the same bytes (and in `data` beyond `take`). */
    uint8_t rest[CLIENT_HS_BYTES];
    size_t rest_len = hs->len - res.head_bytes;
    memcpy(rest, hs->data + res.head_bytes, rest_len);
    free(c->hs);
    c->hs = NULL;
    tw_cancel(&cl->loop->wheel, &c->timer);
    ws_reader_init(&c->reader, WS_ROLE_CLIENT, CLIENT_MESSAGE_BYTES_MAX);
    c->state = CLIENT_OPEN;
    cl->hooks->on_open(cl->ctx, c);
    if (rest_len > 0 && c->state == CLIENT_OPEN)
        client_feed(cl, c, rest, rest_len);
    if (take < len && (c->state == CLIENT_OPEN || c->state == CLIENT_CLOSING))
        client_feed(cl, c, (uint8_t *)data + take, len - take);
}

static void client_on_recv(struct client *cl, struct client_conn *c, const struct io_uring_cqe *cqe)
{
    bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    bool has_buffer = (cqe->flags & IORING_CQE_F_BUFFER) != 0;
    uint16_t buffer_id = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
    int res = cqe->res;
    if (!more) {
        c->recv_armed = false;
        if (client_op_done(cl, c)) {
            if (has_buffer)
                bufring_recycle(&cl->recv_buffers, buffer_id);
            return;
        }
    } else if (c->state == CLIENT_TEARDOWN) {
        if (has_buffer)
            bufring_recycle(&cl->recv_buffers, buffer_id);
        return;
    }
    if (res > 0 && has_buffer) {
        uint8_t *data = bufring_buffer(&cl->recv_buffers, buffer_id);
        if (c->state == CLIENT_HANDSHAKE)
            client_handshake_bytes(cl, c, data, (size_t)res);
        else if (c->state == CLIENT_OPEN || c->state == CLIENT_CLOSING)
            client_feed(cl, c, data, (size_t)res);
        bufring_recycle(&cl->recv_buffers, buffer_id);
    } else if (res == 0) {
        bool ours = c->state == CLIENT_CLOSING;
        enum client_end why = c->state == CLIENT_HANDSHAKE ? CLIENT_END_ERROR : CLIENT_END_EOF;
        if (c->close_after_send)
            why = CLIENT_END_SERVER_CLOSE;
        else if (ours)
            why = CLIENT_END_LOCAL;
        client_abort(cl, c, why, c->end_code);
        return;
    } else if (res == -ENOBUFS) {
        cl->recv_rearms++;
    } else if (res < 0) {
        client_abort(cl, c, CLIENT_END_ERROR, 0);
        return;
    }
    if (!more && !c->recv_armed && c->state != CLIENT_TEARDOWN && c->state != CLIENT_FREE)
        client_arm_recv(cl, c);
}

void client_dispatch(struct client *cl, const struct io_uring_cqe *cqe)
{
    struct client_conn *c = loop_udata_owner(cqe->user_data);
    switch (loop_udata_tag(cqe->user_data)) {
    case CLIENT_TAG_CONNECT:
        client_on_connect(cl, c, cqe->res);
        break;
    case CLIENT_TAG_SEND:
        client_on_send(cl, c, cqe->res);
        break;
    case CLIENT_TAG_RECV:
        client_on_recv(cl, c, cqe);
        break;
    default:
        assert(!"unknown client tag");
    }
}

/* ---- closing and deadlines ------------------------------------------------------------ */

void client_close(struct client *cl, struct client_conn *c, uint64_t timeout_ms)
{
    c->closing_by_us = true;
    if (c->state != CLIENT_OPEN) {
        client_abort(cl, c, CLIENT_END_LOCAL, 0);
        return;
    }
    uint8_t payload[2] = {WS_CLOSE_NORMAL >> 8, WS_CLOSE_NORMAL & 0xff};
    if (!client_send(cl, c, WS_OP_CLOSE, payload, sizeof payload, false)) {
        client_abort(cl, c, CLIENT_END_LOCAL, 0);
        return;
    }
    c->state = CLIENT_CLOSING;
    client_timer_arm(cl, c, cl->loop->now_ms + timeout_ms);
}

void client_timer_expired(struct client *cl, struct client_conn *c)
{
    switch (c->state) {
    case CLIENT_CONNECTING:
    case CLIENT_HANDSHAKE:
        client_abort(cl, c, CLIENT_END_TIMEOUT, 0);
        break;
    case CLIENT_CLOSING:
        client_abort(cl, c, c->close_after_send ? CLIENT_END_SERVER_CLOSE : CLIENT_END_LOCAL,
                     c->end_code);
        break;
    case CLIENT_OPEN:
        cl->hooks->on_timer(cl->ctx, c);
        break;
    default:
        break;
    }
}
