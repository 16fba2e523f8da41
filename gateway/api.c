/* Server API connections on a worker's loop: accept, receive, replies, keep-alive,
 * deadlines, stop. See api.h for the model and api_internal.h for the state machine.
 *
 * The rule to keep in mind: a struct api_conn is freed only by api_conn_release, once it is
 * CLOSED and neither an io_uring operation (recv_armed, send_inflight) nor a hub reply
 * (pending) refers to it. It is called only by the entry points (completions, the tick, hub
 * replies) after they are done with the connection; functions below them may close it but
 * never free it.
 *
 * Receives are single-shot from the worker's provided-buffer ring, armed only while a
 * request is incomplete: an idle keep-alive connection holds no buffer, and what a client
 * pipelines stays in the socket until the previous reply is written.
 */
#include "gateway/api_internal.h"

#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "gateway/api_write.h"

static const char continue_line[] = "HTTP/1.1 100 Continue\r\n\r\n";
enum { CONTINUE_LINE_BYTES = sizeof continue_line - 1, RX_GROW_MIN = 4096 };

static uint64_t api_now_ms(const struct api_worker *a)
{
    return a->worker->loop.now_ms;
}

static struct gw_metrics *api_metrics(const struct api_conn *c)
{
    return api_worker_of(c)->metrics;
}

/* ---- life cycle ---- */

static void api_arm_recv(struct api_conn *c)
{
    struct worker *w = api_worker_of(c);
    assert(!c->recv_armed && c->state != API_CONN_CLOSED);
    struct io_uring_sqe *sqe = loop_sqe(&w->loop);
    io_uring_prep_recv(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = w->recv_buffers.group_id;
    io_uring_sqe_set_data64(sqe, loop_udata(&c->recv_op, WORKER_OP_API));
    c->recv_armed = true;
}

static void api_conn_close(struct api_conn *c)
{
    if (c->state == API_CONN_CLOSED)
        return;
    struct worker *w = api_worker_of(c);
    c->state = API_CONN_CLOSED;
    c->deadline_ms = 0;
    if (c->recv_armed) {
        struct io_uring_sqe *sqe = loop_sqe(&w->loop);
        io_uring_prep_cancel64(sqe, loop_udata(&c->recv_op, WORKER_OP_API), 0);
        io_uring_sqe_set_data64(sqe, LOOP_UDATA_IGNORE);
    }
    shutdown(c->fd, SHUT_RDWR); /* the descriptor itself is closed when the struct is freed */
    if (c->counted) {
        c->counted = false;
        atomic_fetch_sub(&w->shared->api_connections_open, 1);
        gw_metric_sub(&w->metrics->api_connections_open, 1);
    }
}

void api_conn_release(struct api_conn *c)
{
    struct worker *w = api_worker_of(c);
    if (c->state != API_CONN_CLOSED || c->recv_armed || c->send_inflight)
        return;
    if (c->pending > 0 && !w->exiting)
        return; /* a hub reply is on its way: freed when it arrives */
    struct api_worker *a = c->api;
    close(c->fd);
    if (c->call != NULL)
        api_call_free(c->call);
    free(c->rx);
    free(c->out_body);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        a->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    a->conn_count--;
    free(c);
}

/* Refuses a connection over api_max_connections with a 503 written straight to the new
 * socket: it is non-blocking and the reply fits any socket buffer. */
static void api_reject_busy(struct api_worker *a, int fd)
{
    const struct gw_options *o = a->worker->shared->opts;
    char body[256], reply[768];
    int body_len = snprintf(body, sizeof body,
                            "{\"error\":\"too_many_connections\",\"message\":\"the gateway holds "
                            "api_max_connections (%llu) API connections; retry later\"}\n",
                            (unsigned long long)o->api_max_connections);
    int n = snprintf(reply, sizeof reply,
                     "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                     "Content-Length: %d\r\nCache-Control: no-store\r\nConnection: close\r\n"
                     "Retry-After: 1\r\n\r\n%s",
                     body_len, body);
    ssize_t sent = send(fd, reply, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)sent; /* best effort: the close tells the client either way */
    /* Closing with unread bytes sends a reset that can destroy the reply on its way: read
     * what the client already sent (bounded, never waiting) first. */
    shutdown(fd, SHUT_WR);
    char drain[4096];
    for (int i = 0; i < 16 && recv(fd, drain, sizeof drain, MSG_DONTWAIT) > 0; i++)
        continue;
    close(fd);
    gw_metric_add(&a->worker->metrics->api_requests[API_EP_NONE][api_status_index(503)], 1);
}

static void api_conn_new(struct api_worker *a, int fd)
{
    struct worker *w = a->worker;
    uint64_t open = atomic_fetch_add(&w->shared->api_connections_open, 1) + 1;
    if (open > w->shared->opts->api_max_connections) {
        atomic_fetch_sub(&w->shared->api_connections_open, 1);
        api_reject_busy(a, fd);
        return;
    }
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        log_debug("api", "TCP_NODELAY refused", "errno=%d", errno);
    struct api_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        atomic_fetch_sub(&w->shared->api_connections_open, 1);
        close(fd);
        log_warn("api", "out of memory accepting an API connection; closed it", NULL);
        return;
    }
    c->api = a;
    c->fd = fd;
    c->recv_op.kind = API_OP_RECV;
    c->send_op.kind = API_OP_SEND;
    c->state = API_CONN_READING;
    c->head.endpoint = API_EP_NONE;
    c->counted = true;
    c->deadline_ms = api_now_ms(a) + API_IDLE_TIMEOUT_MS;
    c->next = a->conns;
    if (a->conns != NULL)
        a->conns->prev = c;
    a->conns = c;
    a->conn_count++;
    gw_metric_add(&w->metrics->api_connections_open, 1);
    api_arm_recv(c);
}

static void api_arm_accept(struct api_worker *a)
{
    assert(!a->accept_armed && a->listen_fd >= 0);
    struct io_uring_sqe *sqe = loop_sqe(&a->worker->loop);
    io_uring_prep_multishot_accept(sqe, a->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, loop_udata(&a->accept_op, WORKER_OP_API));
    a->accept_armed = true;
}

static void api_on_accept(struct api_worker *a, const struct io_uring_cqe *cqe)
{
    if (!(cqe->flags & IORING_CQE_F_MORE))
        a->accept_armed = false;
    if (cqe->res >= 0) {
        if (a->stopping)
            close(cqe->res);
        else
            api_conn_new(a, cqe->res);
    } else if (cqe->res != -ECANCELED) {
        /* EMFILE and the like: the tick arms it again, no spinning on the error. */
        log_warn("api", "accept on the server API listener failed; retrying shortly",
                 "worker=%u error=\"%s\"", a->worker->index, strerror(-cqe->res));
        return;
    }
    if (!a->accept_armed && !a->stopping && a->listen_fd >= 0)
        api_arm_accept(a);
}

void api_worker_start(struct api_worker *a, struct worker *w)
{
    a->worker = w;
    a->accept_op.kind = API_OP_ACCEPT;
    tw_timer_init(&a->tick);
    if (a->listen_fd < 0)
        return;
    api_arm_accept(a);
    tw_arm(&w->loop.wheel, &a->tick, w->loop.now_ms + API_TICK_MS);
}

/* ---- replies ---- */

static void api_pump(struct api_conn *c)
{
    if (c->send_inflight || c->state == API_CONN_CLOSED)
        return;
    unsigned n = 0;
    if (c->continue_state == API_CONTINUE_OWED) {
        c->iov[n++] = (struct iovec){(char *)continue_line + c->continue_sent,
                                     CONTINUE_LINE_BYTES - c->continue_sent};
        c->sending_continue = true;
    } else if (c->reply_ready) {
        struct iovec parts[3] = {
            {c->out_head, c->out_head_len}, {c->out_body, c->out_body_len}, {(char *)"\n", 1}};
        size_t skip = c->out_sent;
        for (int i = 0; i < 3; i++) {
            if (skip >= parts[i].iov_len) {
                skip -= parts[i].iov_len;
                continue;
            }
            c->iov[n++] = (struct iovec){(char *)parts[i].iov_base + skip, parts[i].iov_len - skip};
            skip = 0;
        }
    }
    if (n == 0)
        return;
    memset(&c->msg, 0, sizeof c->msg);
    c->msg.msg_iov = c->iov;
    c->msg.msg_iovlen = n;
    struct io_uring_sqe *sqe = loop_sqe(&api_worker_of(c)->loop);
    io_uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, loop_udata(&c->send_op, WORKER_OP_API));
    c->send_inflight = true;
}

static void api_http_date(char *out, size_t cap)
{
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm) == NULL || strftime(out, cap, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
        snprintf(out, cap, "Thu, 01 Jan 1970 00:00:00 GMT");
}

/* Writes the status line and headers for `code` and a body of body_len bytes. */
static void api_write_head(struct api_conn *c, enum api_code code, size_t body_len)
{
    unsigned status = api_code_status(code);
    char date[64];
    api_http_date(date, sizeof date);
    const char *allow = api_endpoint_is_post(c->head.endpoint) ? "POST" : "GET";
    int n = snprintf(
        c->out_head, sizeof c->out_head,
        "HTTP/1.1 %u %s\r\nDate: %s\r\nContent-Type: application/json\r\n"
        "Content-Length: %zu\r\nCache-Control: no-store\r\n%s%s%s%s%s%s\r\n",
        status, api_status_reason(status), date, body_len,
        c->close_after ? "Connection: close\r\n" : "",
        code == API_METHOD_NOT_ALLOWED ? "Allow: " : "",
        code == API_METHOD_NOT_ALLOWED ? allow : "", code == API_METHOD_NOT_ALLOWED ? "\r\n" : "",
        code == API_UNAUTHORIZED ? "WWW-Authenticate: Bearer realm=\"tidegate\"\r\n" : "",
        code == API_SERVER_BUSY ? "Retry-After: 1\r\n" : "");
    assert(n > 0 && (size_t)n < sizeof c->out_head);
    c->out_head_len = (size_t)n;
}

static bool api_closes_after(const struct api_conn *c, enum api_code code)
{
    switch (code) {
    case API_UNAUTHORIZED:   /* guessing keys costs a connection per try */
    case API_BODY_TOO_LARGE: /* the body is not read */
    case API_HEAD_TOO_LARGE:
    case API_HTTP_VERSION_NOT_SUPPORTED:
    case API_LENGTH_REQUIRED:
    case API_REQUEST_TIMEOUT:
    case API_SHUTTING_DOWN:
        return true;
    default:
        break;
    }
    return c->head.close || c->api->stopping || c->served + 1 >= API_REQUESTS_PER_CONN_MAX;
}

void api_reply(struct api_conn *c, enum api_code code, char *body, size_t body_len)
{
    assert(!c->reply_ready && c->state != API_CONN_CLOSED && body != NULL);
    struct gw_metrics *m = api_metrics(c);
    c->close_after = c->close_after || api_closes_after(c, code);
    c->state = API_CONN_WRITING;
    c->out_body = body;
    c->out_body_len = body_len;
    c->out_sent = 0;
    c->reply_ready = true;
    api_write_head(c, code, body_len + 1);
    c->deadline_ms = api_now_ms(c->api) + API_IDLE_TIMEOUT_MS;
    int status = api_status_index(api_code_status(code));
    assert(status >= 0);
    gw_metric_add(&m->api_requests[c->head.endpoint][status], 1);
    if (code == API_UNAUTHORIZED)
        gw_metric_add(&m->api_auth_failures, 1);
    api_pump(c);
}

void api_reply_error(struct api_conn *c, enum api_code code, const char *message)
{
    struct jbuf *jb = &api_worker_of(c)->hub.scratch;
    jbuf_reset(jb);
    api_write_error(jb, code, message);
    char *body = jb->failed ? NULL : malloc(jb->len);
    if (body == NULL) {
        log_warn("api", "out of memory writing an error reply; closing the connection", NULL);
        api_conn_close(c);
        return;
    }
    memcpy(body, jb->data, jb->len);
    api_reply(c, code, body, jb->len);
}

void api_reply_scratch(struct api_conn *c)
{
    struct jbuf *jb = &api_worker_of(c)->hub.scratch;
    char *body = jb->failed ? NULL : malloc(jb->len);
    if (body == NULL) {
        api_reply_error(c, API_INTERNAL_ERROR,
                        "the gateway ran out of memory writing the reply; the operation may or "
                        "may not have happened");
        return;
    }
    memcpy(body, jb->data, jb->len);
    api_reply(c, API_OK, body, jb->len);
}

/* ---- requests ---- */

static void api_process(struct api_conn *c);

/* The last reply is out: FIN, then discard what the client still sends until its EOF, so
 * unread bytes do not turn our close into a reset that could destroy the reply. */
static void api_linger(struct api_conn *c)
{
    c->state = API_CONN_LINGER;
    c->deadline_ms = api_now_ms(c->api) + API_LINGER_MS;
    shutdown(c->fd, SHUT_WR);
    if (!c->recv_armed)
        api_arm_recv(c);
}

/* Drops the answered request from rx; keeps what the client sent after it. */
static void api_next_request(struct api_conn *c)
{
    size_t used = c->head.head_bytes + (size_t)c->head.content_length;
    assert(c->head_checked && used <= c->rx_len);
    c->rx_len -= used;
    if (c->rx_len == 0) {
        free(c->rx);
        c->rx = NULL;
        c->rx_cap = 0;
    } else {
        memmove(c->rx, c->rx + used, c->rx_len);
    }
    memset(&c->head, 0, sizeof c->head);
    c->head.endpoint = API_EP_NONE;
    c->head_checked = false;
    c->head_error.code = API_OK;
    c->continue_state = API_CONTINUE_NONE;
    c->continue_sent = 0;
    c->state = API_CONN_READING;
    c->deadline_ms =
        api_now_ms(c->api) + (c->rx_len > 0 ? API_REQUEST_TIMEOUT_MS : API_IDLE_TIMEOUT_MS);
}

static void api_reply_written(struct api_conn *c)
{
    free(c->out_body);
    c->out_body = NULL;
    c->reply_ready = false;
    c->served++;
    if (c->close_after) {
        api_linger(c);
        return;
    }
    api_next_request(c);
    api_process(c);
}

/* The head failed a check. Errors after the path whose body can be framed keep the
 * connection: the body is read and dropped, then the error answered. */
static void api_head_failed(struct api_conn *c, const struct api_error *err)
{
    bool keep = c->head.head_bytes > 0 && c->head.body_framed && !c->head.expect_continue &&
                (err->code == API_NOT_FOUND || err->code == API_METHOD_NOT_ALLOWED ||
                 err->code == API_UNSUPPORTED_MEDIA_TYPE ||
                 (err->code == API_BAD_REQUEST && c->head.endpoint != API_EP_NONE));
    if (!keep) {
        c->close_after = true;
        api_reply_error(c, err->code, err->message);
        return;
    }
    c->head_error = *err;
    api_process(c);
}

static void api_process(struct api_conn *c)
{
    assert(c->state == API_CONN_READING);
    struct api_worker *a = c->api;
    if (c->rx_len == 0) {
        if (!c->recv_armed)
            api_arm_recv(c);
        return;
    }
    if (!c->head_checked) {
        const struct gw_options *o = api_opts(c);
        struct api_head_rules rules = {&o->api_keys, o->api_max_body_bytes};
        struct api_error err;
        enum api_head_result res = api_head_check(c->rx, c->rx_len, &rules, &c->head, &err);
        if (res == API_HEAD_INCOMPLETE) {
            if (!c->recv_armed)
                api_arm_recv(c);
            return;
        }
        c->head_checked = true;
        if (res == API_HEAD_ERROR) {
            api_head_failed(c, &err);
            return;
        }
        if (a->stopping) {
            api_reply_error(c, API_SHUTTING_DOWN,
                            "the gateway is stopping; send the request to another node");
            return;
        }
    }
    if (c->rx_len < c->head.head_bytes + c->head.content_length) {
        if (c->head.expect_continue && c->continue_state == API_CONTINUE_NONE &&
            c->head_error.code == API_OK) {
            c->continue_state = API_CONTINUE_OWED;
            api_pump(c);
        }
        if (!c->recv_armed)
            api_arm_recv(c);
        return;
    }
    if (c->head_error.code != API_OK) {
        api_reply_error(c, c->head_error.code, c->head_error.message);
        return;
    }
    c->state = API_CONN_WORKING;
    c->deadline_ms = 0;
    api_route(c);
}

/* Appends received bytes to rx. False when out of memory. */
static bool api_rx_append(struct api_conn *c, const uint8_t *data, size_t len)
{
    if (c->rx_len == 0 && !c->head_checked)
        c->deadline_ms = api_now_ms(c->api) + API_REQUEST_TIMEOUT_MS; /* a request begins */
    if (c->rx_len + len > c->rx_cap) {
        size_t cap = c->rx_cap * 2 > RX_GROW_MIN ? c->rx_cap * 2 : RX_GROW_MIN;
        if (cap < c->rx_len + len)
            cap = c->rx_len + len;
        char *grown = realloc(c->rx, cap);
        if (grown == NULL)
            return false;
        c->rx = grown;
        c->rx_cap = cap;
    }
    memcpy(c->rx + c->rx_len, data, len);
    c->rx_len += len;
    return true;
}

static void api_on_recv(struct api_conn *c, const struct io_uring_cqe *cqe)
{
    struct worker *w = api_worker_of(c);
    assert(c->recv_armed);
    c->recv_armed = false;
    int res = cqe->res;
    if (res > 0) {
        assert(cqe->flags & IORING_CQE_F_BUFFER);
        uint16_t id = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        bool kept = true;
        if (c->state == API_CONN_READING)
            kept = api_rx_append(c, bufring_buffer(&w->recv_buffers, id), (size_t)res);
        bufring_recycle(&w->recv_buffers, id);
        if (!kept) {
            log_warn("api", "out of memory receiving a request; closing the connection", NULL);
            api_conn_close(c);
        }
        if (c->state == API_CONN_READING)
            api_process(c);
        else if (c->state == API_CONN_LINGER)
            api_arm_recv(c); /* discarding until EOF */
        api_conn_release(c); /* when it closed on the way */
        return;
    }
    if (res == -ENOBUFS && c->state != API_CONN_CLOSED) {
        gw_metric_add(&w->metrics->recv_buffers_exhausted, 1);
        c->recv_retry = true;
        return;
    }
    api_conn_close(c); /* EOF, a socket error, or the cancel of a close */
    api_conn_release(c);
}

static void api_on_send(struct api_conn *c, const struct io_uring_cqe *cqe)
{
    assert(c->send_inflight);
    c->send_inflight = false;
    bool was_continue = c->sending_continue;
    c->sending_continue = false;
    if (c->state == API_CONN_CLOSED || cqe->res <= 0) {
        api_conn_close(c);
        api_conn_release(c);
        return;
    }
    if (was_continue) {
        c->continue_sent = (uint8_t)(c->continue_sent + cqe->res);
        if (c->continue_sent == CONTINUE_LINE_BYTES)
            c->continue_state = API_CONTINUE_DONE;
    } else {
        c->out_sent += (size_t)cqe->res;
        c->deadline_ms = api_now_ms(c->api) + API_IDLE_TIMEOUT_MS; /* the client reads */
        if (c->out_sent == c->out_head_len + c->out_body_len + 1) {
            api_reply_written(c);
            api_conn_release(c); /* when it closed on the way */
            return;
        }
    }
    api_pump(c);
}

void api_dispatch(struct api_worker *a, void *owner, const struct io_uring_cqe *cqe)
{
    struct api_op *op = owner;
    switch ((enum api_op_kind)op->kind) {
    case API_OP_ACCEPT:
        assert(op == &a->accept_op);
        api_on_accept(a, cqe);
        break;
    case API_OP_RECV:
        api_on_recv((struct api_conn *)((char *)op - offsetof(struct api_conn, recv_op)), cqe);
        break;
    case API_OP_SEND:
        api_on_send((struct api_conn *)((char *)op - offsetof(struct api_conn, send_op)), cqe);
        break;
    default:
        log_error("api", "completion with an unknown API operation", "kind=%u", (unsigned)op->kind);
        assert(!"unknown API operation");
    }
}

/* ---- deadlines and stop ---- */

static void api_on_deadline(struct api_conn *c)
{
    switch ((enum api_conn_state)c->state) {
    case API_CONN_READING:
        if (c->rx_len == 0 && !c->head_checked) {
            api_conn_close(c); /* idle between requests */
            api_conn_release(c);
        } else {
            api_reply_error(c, API_REQUEST_TIMEOUT,
                            "the request was not complete within 10 s of its first byte");
            api_conn_release(c); /* when it closed on the way */
        }
        break;
    case API_CONN_WRITING: /* the client stopped reading its reply */
    case API_CONN_LINGER:
        api_conn_close(c);
        api_conn_release(c);
        break;
    case API_CONN_WORKING: /* no deadline: the hub always answers */
    case API_CONN_CLOSED:
        break;
    }
}

bool api_on_timer(struct api_worker *a, struct tw_timer *t)
{
    if (t != &a->tick)
        return false;
    uint64_t now = api_now_ms(a);
    if (!a->accept_armed && !a->stopping && a->listen_fd >= 0)
        api_arm_accept(a);
    for (struct api_conn *c = a->conns, *next; c != NULL; c = next) {
        next = c->next;
        if (c->recv_retry && !c->recv_armed && c->state != API_CONN_CLOSED) {
            c->recv_retry = false;
            api_arm_recv(c);
        }
        if (c->deadline_ms != 0 && now >= c->deadline_ms)
            api_on_deadline(c);
    }
    if (a->listen_fd >= 0 || a->conns != NULL)
        tw_arm(&a->worker->loop.wheel, &a->tick, now + API_TICK_MS);
    return true;
}

void api_begin_stop(struct api_worker *a)
{
    if (a->stopping)
        return;
    a->stopping = true;
    if (a->accept_armed) {
        struct io_uring_sqe *sqe = loop_sqe(&a->worker->loop);
        io_uring_prep_cancel64(sqe, loop_udata(&a->accept_op, WORKER_OP_API), 0);
        io_uring_sqe_set_data64(sqe, LOOP_UDATA_IGNORE);
    }
    if (a->listen_fd >= 0) {
        shutdown(a->listen_fd, SHUT_RDWR);
        close(a->listen_fd);
        a->listen_fd = -1;
    }
    for (struct api_conn *c = a->conns, *next; c != NULL; c = next) {
        next = c->next;
        if (c->state == API_CONN_READING && c->rx_len == 0 && !c->head_checked) {
            api_conn_close(c);
            api_conn_release(c);
        } else if (c->state == API_CONN_WORKING) {
            c->close_after = true;
        }
    }
}

void api_abort_all(struct api_worker *a)
{
    for (struct api_conn *c = a->conns, *next; c != NULL; c = next) {
        next = c->next;
        api_conn_close(c);
        api_conn_release(c);
    }
}

bool api_idle(const struct api_worker *a)
{
    return a->conns == NULL && !a->accept_armed;
}

bool api_only_waiting(const struct api_worker *a)
{
    for (const struct api_conn *c = a->conns; c != NULL; c = c->next)
        if (c->state != API_CONN_CLOSED || c->recv_armed || c->send_inflight)
            return false;
    return true;
}

void api_worker_destroy(struct api_worker *a)
{
    assert(a->worker->exiting);
    tw_cancel(&a->worker->loop.wheel, &a->tick);
    while (a->conns != NULL) {
        struct api_conn *c = a->conns;
        assert(c->state == API_CONN_CLOSED && !c->recv_armed && !c->send_inflight);
        api_conn_release(c);
    }
    if (a->listen_fd >= 0) {
        close(a->listen_fd);
        a->listen_fd = -1;
    }
}
