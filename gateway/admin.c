/* Admin HTTP endpoints: see admin.h. A connection reads one request head into a fixed
 * buffer, answers it, and closes: no keep-alive, no pipelining, nothing to get wrong. */
#include "gateway/admin.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/http.h"
#include "core/log.h"

enum { ADMIN_HEADERS_MAX = 32 };

struct admin_conn {
    struct admin *admin;
    struct admin_conn *prev, *next;
    struct tw_timer timer;
    int fd;
    bool recv_inflight, send_inflight, closed;
    size_t request_len;
    char *reply; /* owned, built once the request is complete */
    size_t reply_len, reply_sent;
    char request[ADMIN_REQUEST_BYTES_MAX];
};

static void admin_arm_accept(struct admin *a)
{
    struct io_uring_sqe *sqe = loop_sqe(a->loop);
    io_uring_prep_multishot_accept(sqe, a->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, loop_udata(a, ADMIN_OP_ACCEPT));
    a->accept_armed = true;
}

void admin_start(struct admin *a, struct loop *loop, int listen_fd, const struct admin_hooks *hooks)
{
    assert(hooks->ready != NULL && hooks->render_metrics != NULL);
    memset(a, 0, sizeof *a);
    a->loop = loop;
    a->hooks = *hooks;
    a->listen_fd = listen_fd;
    tw_timer_init(&a->accept_retry);
    admin_arm_accept(a);
}

static void admin_conn_free_if_done(struct admin_conn *c)
{
    if (!c->closed || c->recv_inflight || c->send_inflight)
        return;
    struct admin *a = c->admin;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        a->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    a->conn_count--;
    free(c->reply);
    free(c);
}

static void admin_conn_close(struct admin_conn *c)
{
    if (!c->closed) {
        c->closed = true;
        tw_cancel(&c->admin->loop->wheel, &c->timer);
        shutdown(c->fd, SHUT_RDWR); /* ends a pending recv */
        close(c->fd);
        c->fd = -1;
    }
    admin_conn_free_if_done(c);
}

static void admin_arm_recv(struct admin_conn *c)
{
    struct io_uring_sqe *sqe = loop_sqe(c->admin->loop);
    io_uring_prep_recv(sqe, c->fd, c->request + c->request_len, sizeof c->request - c->request_len,
                       0);
    io_uring_sqe_set_data64(sqe, loop_udata(c, ADMIN_OP_RECV));
    c->recv_inflight = true;
}

static void admin_arm_send(struct admin_conn *c)
{
    struct io_uring_sqe *sqe = loop_sqe(c->admin->loop);
    io_uring_prep_send(sqe, c->fd, c->reply + c->reply_sent, c->reply_len - c->reply_sent,
                       MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, loop_udata(c, ADMIN_OP_SEND));
    c->send_inflight = true;
}

static void admin_accept_conn(struct admin *a, int fd)
{
    if (a->conn_count >= ADMIN_CONNS_MAX) {
        close(fd);
        log_warn("admin", "too many admin connections; refused one", "max=%d", ADMIN_CONNS_MAX);
        return;
    }
    struct admin_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        close(fd);
        return;
    }
    c->admin = a;
    c->fd = fd;
    tw_timer_init(&c->timer);
    c->next = a->conns;
    if (a->conns != NULL)
        a->conns->prev = c;
    a->conns = c;
    a->conn_count++;
    tw_arm(&a->loop->wheel, &c->timer, a->loop->now_ms + ADMIN_DEADLINE_MS);
    admin_arm_recv(c);
}

/* Builds the whole reply (status line, headers, body) into c->reply. */
static void admin_reply(struct admin_conn *c, int status, const char *reason,
                        const char *content_type, const char *body, size_t body_len)
{
    FILE *out = open_memstream(&c->reply, &c->reply_len);
    if (out == NULL) {
        admin_conn_close(c);
        return;
    }
    fprintf(out,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
            status, reason, content_type, body_len);
    fwrite(body, 1, body_len, out);
    if (fclose(out) != 0 || c->reply == NULL) {
        admin_conn_close(c);
        return;
    }
    admin_arm_send(c);
}

static void admin_reply_text(struct admin_conn *c, int status, const char *reason, const char *body)
{
    admin_reply(c, status, reason, "text/plain; charset=utf-8", body, strlen(body));
}

static void admin_reply_metrics(struct admin_conn *c)
{
    char *body = NULL;
    size_t body_len = 0;
    FILE *out = open_memstream(&body, &body_len);
    if (out == NULL) {
        admin_reply_text(c, 500, "Internal Server Error", "out of memory\n");
        return;
    }
    c->admin->hooks.render_metrics(c->admin->hooks.ctx, out);
    if (fclose(out) != 0 || body == NULL) {
        free(body);
        admin_reply_text(c, 500, "Internal Server Error", "out of memory\n");
        return;
    }
    admin_reply(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body, body_len);
    free(body);
}

static void admin_route(struct admin_conn *c, const struct http_request *req)
{
    struct admin *a = c->admin;
    if (!http_span_equal_nocase(req->method, "GET")) {
        admin_reply_text(c, 405, "Method Not Allowed", "only GET is served here\n");
    } else if (http_span_equal_nocase(req->path, "/healthz")) {
        admin_reply_text(c, 200, "OK", "ok\n");
    } else if (http_span_equal_nocase(req->path, "/readyz")) {
        if (a->hooks.ready(a->hooks.ctx))
            admin_reply_text(c, 200, "OK", "ready\n");
        else
            admin_reply_text(c, 503, "Service Unavailable", "not ready\n");
    } else if (http_span_equal_nocase(req->path, "/metrics")) {
        admin_reply_metrics(c);
    } else {
        admin_reply_text(c, 404, "Not Found", "not found: try /healthz, /readyz or /metrics\n");
    }
}

static void admin_on_recv(struct admin_conn *c, int res)
{
    c->recv_inflight = false;
    if (c->closed || res <= 0) {
        admin_conn_close(c);
        return;
    }
    c->request_len += (size_t)res;
    struct http_header headers[ADMIN_HEADERS_MAX];
    struct http_request req;
    enum http_parse_result parsed =
        http_request_parse(c->request, c->request_len, &req, headers, ADMIN_HEADERS_MAX);
    if (parsed == HTTP_PARSE_INCOMPLETE && c->request_len < sizeof c->request) {
        admin_arm_recv(c);
    } else if (parsed == HTTP_PARSE_INCOMPLETE) {
        admin_reply_text(c, 431, "Request Header Fields Too Large", "request head too large\n");
    } else if (parsed != HTTP_PARSE_OK) {
        admin_reply_text(c, 400, "Bad Request", "malformed HTTP request\n");
    } else {
        admin_route(c, &req);
    }
}

static void admin_on_send(struct admin_conn *c, int res)
{
    c->send_inflight = false;
    if (c->closed || res <= 0) {
        admin_conn_close(c);
        return;
    }
    c->reply_sent += (size_t)res;
    if (c->reply_sent < c->reply_len)
        admin_arm_send(c);
    else
        admin_conn_close(c);
}

void admin_dispatch(struct admin *a, const struct io_uring_cqe *cqe)
{
    void *owner = loop_udata_owner(cqe->user_data);
    switch (loop_udata_tag(cqe->user_data)) {
    case ADMIN_OP_ACCEPT:
        if (!(cqe->flags & IORING_CQE_F_MORE))
            a->accept_armed = false;
        if (cqe->res >= 0 && a->listen_fd >= 0)
            admin_accept_conn(a, cqe->res);
        else if (cqe->res >= 0)
            close(cqe->res);
        if (a->accept_armed || a->listen_fd < 0)
            break;
        if (cqe->res < 0 && cqe->res != -ECANCELED) /* EMFILE and the like: no spinning */
            tw_arm(&a->loop->wheel, &a->accept_retry, a->loop->now_ms + ADMIN_ACCEPT_RETRY_MS);
        else
            admin_arm_accept(a);
        break;
    case ADMIN_OP_RECV:
        admin_on_recv(owner, cqe->res);
        break;
    case ADMIN_OP_SEND:
        admin_on_send(owner, cqe->res);
        break;
    default:
        assert(!"admin_dispatch: not an admin completion");
    }
}

bool admin_on_timer(struct admin *a, struct tw_timer *t)
{
    if (t == &a->accept_retry) {
        if (!a->accept_armed && a->listen_fd >= 0)
            admin_arm_accept(a);
        return true;
    }
    for (struct admin_conn *c = a->conns; c != NULL; c = c->next) {
        if (&c->timer == t) {
            admin_conn_close(c);
            return true;
        }
    }
    return false;
}

void admin_stop(struct admin *a)
{
    tw_cancel(&a->loop->wheel, &a->accept_retry);
    if (a->accept_armed) {
        struct io_uring_sqe *sqe = loop_sqe(a->loop);
        io_uring_prep_cancel64(sqe, loop_udata(a, ADMIN_OP_ACCEPT), 0);
        io_uring_sqe_set_data64(sqe, LOOP_UDATA_IGNORE);
    }
    if (a->listen_fd >= 0) {
        close(a->listen_fd);
        a->listen_fd = -1;
    }
    for (struct admin_conn *c = a->conns, *next; c != NULL; c = next) {
        next = c->next;
        admin_conn_close(c);
    }
}

bool admin_idle(const struct admin *a)
{
    return a->conns == NULL && !a->accept_armed;
}
