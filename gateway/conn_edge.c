/* The edge of a connection: what happens between accept and the HTTP upgrade (docs/edge.md).
 *
 *   accept -- peer trusted? -- PROXY header -- per-IP limits -- [TLS] -- HTTP upgrade
 *
 * The PROXY parser (core/proxy_proto.h) keeps no state: it answers from the bytes so far. So
 * the common case, a whole header in the first segment, costs no copy: the header is parsed
 * in the receive buffer and the bytes after it go on from there. Only a header split across
 * segments is gathered in c->rx, bounded by proxy_header_bytes_max, and handshake_timeout
 * (armed at accept) bounds how long that may take.
 *
 * A refused header closes the connection without a reply: the peer is a misconfigured
 * balancer or not a balancer at all, and there is no client protocol to answer in yet. A
 * connection the per-IP limits refuse gets a 429 over plain ws.
 */
#include "gateway/conn_internal.h"

#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/cidr.h"
#include "core/ip_limit.h"
#include "core/log.h"

enum { EDGE_REPLY_BYTES = 512 };

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void conn_addr_set(struct conn_addr *a, const struct sockaddr *sa)
{
    memset(a, 0, sizeof *a);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        memcpy(a->ip, v4_mapped_prefix, sizeof v4_mapped_prefix);
        memcpy(a->ip + 12, &in->sin_addr, 4);
        a->port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        memcpy(a->ip, &in6->sin6_addr, 16);
        a->port = ntohs(in6->sin6_port);
    }
}

static bool conn_addr_is_v4(const struct conn_addr *a)
{
    return memcmp(a->ip, v4_mapped_prefix, sizeof v4_mapped_prefix) == 0;
}

static bool conn_addr_is_set(const struct conn_addr *a)
{
    static const uint8_t zero[16];
    return memcmp(a->ip, zero, sizeof zero) != 0;
}

socklen_t conn_addr_to_sockaddr(const struct conn_addr *a, struct sockaddr_storage *out)
{
    memset(out, 0, sizeof *out);
    if (conn_addr_is_v4(a)) {
        struct sockaddr_in *in = (struct sockaddr_in *)out;
        in->sin_family = AF_INET;
        in->sin_port = htons(a->port);
        memcpy(&in->sin_addr, a->ip + 12, 4);
        return sizeof *in;
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(a->port);
    memcpy(&in6->sin6_addr, a->ip, 16);
    return sizeof *in6;
}

void conn_addr_format(const struct conn_addr *a, char out[CONN_ADDR_TEXT_BYTES])
{
    char ip[INET6_ADDRSTRLEN];
    bool v4 = conn_addr_is_v4(a);
    if (!conn_addr_is_set(a) ||
        inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? a->ip + 12 : a->ip, ip, sizeof ip) == NULL) {
        snprintf(out, CONN_ADDR_TEXT_BYTES, "unknown");
        return;
    }
    snprintf(out, CONN_ADDR_TEXT_BYTES, v4 ? "%s:%u" : "[%s]:%u", ip, (unsigned)a->port);
}

enum proxy_expect conn_edge_expect(const struct worker *w, const struct sockaddr *peer)
{
    const struct gw_options *o = w->shared->opts;
    if (o->proxy_protocol == PROXY_MODE_OFF)
        return PROXY_EXPECT_NONE;
    assert(w->shared->proxy_trusted != NULL);
    bool trusted = cidr_list_contains(w->shared->proxy_trusted, peer);
    return proxy_mode_expect((enum proxy_mode)o->proxy_protocol, trusted);
}

static void edge_count_failure(struct worker *w, int reason, const struct conn_addr *peer)
{
    assert(reason >= GW_PROXY_FAIL_FIRST && reason < GW_PROXY_FAIL_COUNT);
    gw_metric_add(&w->metrics->proxy_failures[reason], 1);
    if (log_enabled(LOG_DEBUG)) {
        char text[CONN_ADDR_TEXT_BYTES];
        conn_addr_format(peer, text);
        log_debug("conn", "PROXY header refused; closed without a reply", "reason=%s peer=%s",
                  gw_proxy_failure_name(reason), text);
    }
}

void conn_edge_refuse_untrusted(struct worker *w, int fd, const struct sockaddr *peer)
{
    struct conn_addr addr;
    conn_addr_set(&addr, peer);
    edge_count_failure(w, GW_PROXY_FAIL_UNTRUSTED, &addr);
    close(fd);
}

/* Writes the refusal for `verdict`: 429 for the client's own limits (with Retry-After when
 * its rate is the cause), 503 when the table is full (the server's limit, not the client's). */
static size_t edge_write_refusal(char *out, size_t cap, enum ip_limit_verdict verdict)
{
    const char *status = "429 Too Many Requests", *extra = "";
    const char *body = "too many connections from your address; close one before opening "
                       "another\n";
    if (verdict == IP_LIMIT_TOO_FAST) {
        /* the rate is a whole number of connections a second: one is back within a second */
        extra = "Retry-After: 1\r\n";
        body = "too many new connections from your address; retry in a second\n";
    } else if (verdict == IP_LIMIT_TABLE_FULL) {
        status = "503 Service Unavailable";
        body = "the server is tracking too many client addresses; retry later\n";
    }
    int n = snprintf(out, cap,
                     "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\n%sConnection: close\r\n\r\n%s",
                     status, strlen(body), extra, body);
    assert(n > 0 && (size_t)n < cap);
    return (size_t)n;
}

bool conn_edge_admit(struct conn *c)
{
    struct worker *w = c->worker;
    struct ip_limit *limits = w->shared->ip_limit;
    assert(c->state == CONN_HANDSHAKE && c->proxy_expect == PROXY_EXPECT_NONE);
    if (limits == NULL)
        return true;
    struct sockaddr_storage client;
    conn_addr_to_sockaddr(&c->client, &client);
    enum ip_limit_verdict verdict =
        ip_limit_acquire(limits, (const struct sockaddr *)&client, w->loop.now_ms, &c->ip_handle);
    if (verdict == IP_LIMIT_OK)
        return true;
    assert(verdict < IP_LIMIT_VERDICT_COUNT);
    gw_metric_add(&w->metrics->ip_limit_refusals[verdict], 1);
    if (log_enabled(LOG_DEBUG)) {
        char text[CONN_ADDR_TEXT_BYTES];
        conn_addr_format(&c->client, text);
        log_debug("conn", "refused by the per-IP limits", "reason=%s client=%s",
                  ip_limit_verdict_name(verdict), text);
    }
    /* A wss connection is refused here too, before its TLS handshake, which is the cost
     * the limits protect: conn_upgrade_refuse closes it without a reply, since its bytes
     * are a ClientHello that no HTTP answer could follow. */
    char reply[EDGE_REPLY_BYTES];
    size_t len = edge_write_refusal(reply, sizeof reply, verdict);
    conn_upgrade_refuse(c, reply, len, GW_CLOSE_IP_LIMIT);
    return false;
}

void conn_edge_release(struct conn *c)
{
    if (c->ip_handle == IP_LIMIT_HANDLE_NONE)
        return;
    struct worker *w = c->worker;
    assert(w->shared->ip_limit != NULL);
    ip_limit_release(w->shared->ip_limit, c->ip_handle, w->loop.now_ms);
    c->ip_handle = IP_LIMIT_HANDLE_NONE;
}

void conn_edge_proxy_timeout(struct conn *c)
{
    assert(c->state == CONN_HANDSHAKE && c->proxy_expect != PROXY_EXPECT_NONE);
    if (c->proxy_expect == PROXY_EXPECT_MAYBE && c->rx_len == 0) {
        /* optional mode, nothing sent: a silent client rather than a broken header */
        c->proxy_expect = PROXY_EXPECT_NONE;
        conn_upgrade_fail(c, WS_HS_TIMEOUT);
        return;
    }
    edge_count_failure(c->worker, GW_PROXY_FAIL_TIMEOUT, &c->client);
    c->close_reason = GW_CLOSE_PROXY;
    conn_close_socket(c);
}

/* The parser's answer is final: returns true when the bytes after `skip` are the client's
 * (a header was read, or none came where one was optional), false when the connection was
 * closed for it. */
static bool edge_proxy_decide(struct conn *c, enum proxy_result result,
                              const struct proxy_header *h, size_t *skip)
{
    struct worker *w = c->worker;
    assert(result != PROXY_NEED_MORE);
    if (result == PROXY_ABSENT && c->proxy_expect == PROXY_EXPECT_MAYBE) {
        c->proxy_expect = PROXY_EXPECT_NONE;
        *skip = 0;
        return true;
    }
    if (result != PROXY_DONE) {
        edge_count_failure(w, (int)result, &c->client);
        c->close_reason = GW_CLOSE_PROXY;
        conn_close_socket(c);
        return false;
    }
    c->proxy_expect = PROXY_EXPECT_NONE;
    gw_metric_add(&w->metrics->proxy_headers[h->version == 1 ? 0 : 1], 1);
    struct conn_addr peer = c->client;
    if (h->src.ss_family == AF_INET || h->src.ss_family == AF_INET6)
        conn_addr_set(&c->client, (const struct sockaddr *)&h->src);
    if (log_enabled(LOG_DEBUG)) {
        char client[CONN_ADDR_TEXT_BYTES], balancer[CONN_ADDR_TEXT_BYTES];
        conn_addr_format(&c->client, client);
        conn_addr_format(&peer, balancer);
        log_debug("conn", "PROXY header read", "version=%u command=%s client=%s peer=%s",
                  (unsigned)h->version, h->command == PROXY_COMMAND_LOCAL ? "local" : "proxy",
                  client, balancer);
    }
    *skip = h->header_bytes;
    return true;
}

/* Keeps the start of a header that is not whole yet (out of memory: closes the connection). */
static void edge_proxy_keep(struct conn *c, const uint8_t *data, size_t len)
{
    size_t cap = conn_opts(c)->proxy_header_bytes_max;
    assert(c->rx == NULL && len < cap); /* a header still incomplete is shorter than its limit */
    c->rx = malloc(cap);
    if (c->rx == NULL) {
        c->close_reason = GW_CLOSE_INTERNAL;
        conn_close_socket(c);
        return;
    }
    c->rx_cap = (uint32_t)cap;
    memcpy(c->rx, data, len);
    c->rx_len = (uint32_t)len;
}

/* The header is settled: count the connection against its client, then hand on what
 * followed the header, first from `kept` (the gathered bytes, owned, freed here) and then
 * from `rest`. Either piece may end the connection; the next is then dropped. */
static void edge_proxy_pass(struct conn *c, uint8_t *kept, size_t kept_len, uint8_t *rest,
                            size_t rest_len)
{
    if (conn_edge_admit(c)) {
        if (kept_len > 0)
            conn_client_bytes(c, kept, kept_len);
        if (rest_len > 0 && c->state != CONN_CLOSED && c->state != CONN_LINGER)
            conn_client_bytes(c, rest, rest_len);
    }
    free(kept);
}

void conn_edge_proxy_on_bytes(struct conn *c, uint8_t *data, size_t len)
{
    assert(c->state == CONN_HANDSHAKE && c->proxy_expect != PROXY_EXPECT_NONE);
    size_t limit = conn_opts(c)->proxy_header_bytes_max;
    struct proxy_header h;
    size_t skip = 0;
    if (c->rx == NULL) { /* the usual case: parse in the receive buffer itself */
        enum proxy_result result = proxy_parse(data, len, limit, &h);
        if (result == PROXY_NEED_MORE) {
            edge_proxy_keep(c, data, len);
            return;
        }
        if (edge_proxy_decide(c, result, &h, &skip))
            edge_proxy_pass(c, NULL, 0, data + skip, len - skip);
        return;
    }
    size_t room = c->rx_cap - c->rx_len;
    size_t take = len < room ? len : room;
    memcpy(c->rx + c->rx_len, data, take);
    c->rx_len += (uint32_t)take;
    enum proxy_result result = proxy_parse(c->rx, c->rx_len, limit, &h);
    if (result == PROXY_NEED_MORE) {
        assert(c->rx_len < c->rx_cap); /* the parser decides within the limit */
        return;
    }
    if (!edge_proxy_decide(c, result, &h, &skip))
        return;
    uint8_t *kept = c->rx;
    size_t kept_len = c->rx_len;
    c->rx = NULL; /* the upgrade gathers its head in c->rx afresh */
    c->rx_len = c->rx_cap = 0;
    memmove(kept, kept + skip, kept_len - skip);
    edge_proxy_pass(c, kept, kept_len - skip, data + take, len - take);
}
