/* The HTTP/1.1 upgrade handshake of a connection: gather the request head (bounded by
 * max_header_bytes and the handshake deadline), validate it, answer 101 or an HTTP error
 * (or, with demo_page on, the demo page to a plain GET of / or /demo: docs/demo.md).
 *
 * The head is parsed for real once its terminating CRLFCRLF has arrived (scanning only the
 * new bytes for it), and probed for early errors on its first bytes and once per KiB after:
 * a client that sends one byte at a time cannot make the parsing cost quadratic.
 */
#include "gateway/conn_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/http.h"
#include "core/log.h"
#include "gateway/demo_page.h"
#include "gateway/session.h"

enum {
    UPGRADE_RX_BYTES_MIN = 512,
    UPGRADE_HEADERS_MAX = 128,
    UPGRADE_REPLY_BYTES = 1024,
    UPGRADE_PROBE_BYTES = 1024,
};

/* Grows c->rx to hold `need` bytes (at most max_header_bytes). */
static bool upgrade_reserve(struct conn *c, size_t need)
{
    if (need <= c->rx_cap)
        return true;
    size_t cap = c->rx_cap ? (size_t)c->rx_cap * 2 : UPGRADE_RX_BYTES_MIN;
    while (cap < need)
        cap *= 2;
    size_t limit = conn_opts(c)->max_header_bytes;
    if (cap > limit)
        cap = limit;
    assert(need <= cap);
    uint8_t *rx = realloc(c->rx, cap);
    if (rx == NULL)
        return false;
    c->rx = rx;
    c->rx_cap = (uint32_t)cap;
    return true;
}

/* True when the head's CRLFCRLF ends within rx; looks only at bytes from `from - 3`. */
static bool upgrade_head_complete(const struct conn *c, size_t from)
{
    size_t start = from >= 3 ? from - 3 : 0;
    for (size_t i = start; i + 4 <= c->rx_len; i++)
        if (memcmp(c->rx + i, "\r\n\r\n", 4) == 0)
            return true;
    return false;
}

void conn_upgrade_refuse(struct conn *c, const char *reply, size_t len, enum gw_close_reason why)
{
    struct worker *w = c->worker;
    assert(c->state == CONN_HANDSHAKE);
    assert(len > 0); /* an error reply (at most UPGRADE_REPLY_BYTES) or the demo page */
    conn_drop_rx(c);
    c->close_reason = (uint8_t)why;
    if (c->tls_listener && !conn_tls_established(c)) {
        /* wss before its TLS handshake finished (refused by the per-IP limits at accept):
         * no HTTP reply can reach a client that is about to send a ClientHello */
        conn_close_socket(c);
        return;
    }
    struct out_chunk *chunk = out_chunk_new(len);
    if (chunk == NULL) {
        conn_close_socket(c);
        return;
    }
    memcpy(chunk->data, reply, len);
    chunk->len = (uint32_t)len;
    c->state = CONN_LINGER;
    bool queued = conn_queue_chunk(c, chunk);
    out_chunk_unref(chunk);
    if (queued)
        tw_arm(&w->loop.wheel, &c->timer, w->loop.now_ms + conn_opts(c)->close_timeout_ms);
}

void conn_upgrade_fail(struct conn *c, enum ws_handshake_error error)
{
    struct worker *w = c->worker;
    assert(c->state == CONN_HANDSHAKE);
    assert(error != WS_HS_OK && error < WS_HS_ERROR_COUNT);
    gw_metric_add(&w->metrics->handshake_failures[error], 1);
    if (log_enabled(LOG_DEBUG)) {
        char client[CONN_ADDR_TEXT_BYTES];
        conn_addr_format(&c->client, client);
        log_debug("conn", "upgrade refused", "reason=%s client=%s", ws_handshake_error_name(error),
                  client);
    }
    char reply[UPGRADE_REPLY_BYTES];
    size_t len = ws_handshake_write_error(reply, sizeof reply, error);
    assert(len > 0);
    conn_upgrade_refuse(c, reply, len, GW_CLOSE_HANDSHAKE);
}

static enum ws_handshake_error upgrade_parse_error(enum http_parse_result result)
{
    switch (result) {
    case HTTP_PARSE_BAD_VERSION:
        return WS_HS_HTTP_VERSION;
    case HTTP_PARSE_TOO_MANY_HEADERS:
        return WS_HS_TOO_MANY_HEADERS;
    default:
        return WS_HS_MALFORMED;
    }
}

/* The request is valid: answer 101, become OPEN, and hand any bytes the client sent after
 * its head (it may pipeline its first frames) to the frame reader. */
static void upgrade_accept(struct conn *c, const struct ws_handshake_result *result,
                           size_t head_bytes, const uint8_t *rest, size_t rest_len,
                           struct http_span token)
{
    struct worker *w = c->worker;
    struct out_chunk *reply = out_chunk_new(UPGRADE_REPLY_BYTES);
    if (reply == NULL) {
        c->close_reason = GW_CLOSE_INTERNAL;
        conn_close_socket(c);
        return;
    }
    reply->len = (uint32_t)ws_handshake_write_101((char *)reply->data, UPGRADE_REPLY_BYTES, result);
    assert(reply->len > 0);
    c->state = CONN_OPEN;
    c->close_reason = GW_CLOSE_PEER_GONE;
    bool queued = conn_queue_chunk(c, reply);
    out_chunk_unref(reply);
    if (!queued)
        return;
    tw_cancel(&w->loop.wheel, &c->timer);
    conn_arm_open_timer(c);
    /* The client protocol starts now; a token in the URL is checked right after the 101 so
     * that browsers see the close code (protocol.md 3.1). It points into c->rx. */
    if (!conn_opts(c)->echo && !session_open(c, token.ptr, token.len)) {
        log_warn("conn", "out of memory starting a session; closing the connection", NULL);
        c->close_reason = GW_CLOSE_INTERNAL;
        conn_close_socket(c);
        return;
    }
    uint8_t *head = c->rx;
    size_t head_len = c->rx_len;
    c->rx = NULL;
    c->rx_len = c->rx_cap = 0;
    if (head_len > head_bytes)
        conn_ws_on_bytes(c, head + head_bytes, head_len - head_bytes);
    free(head);
    if (rest_len > 0 && (c->state == CONN_OPEN || c->state == CONN_CLOSING))
        conn_ws_on_bytes(c, (uint8_t *)rest, rest_len);
}

/* Parses what has arrived of the head, with room for max_headers header lines. */
static enum http_parse_result upgrade_parse(const struct conn *c, struct http_request *req,
                                            struct http_header headers[UPGRADE_HEADERS_MAX])
{
    uint64_t headers_max = conn_opts(c)->max_headers;
    if (headers_max > UPGRADE_HEADERS_MAX)
        headers_max = UPGRADE_HEADERS_MAX;
    return http_request_parse((const char *)c->rx, c->rx_len, req, headers, (size_t)headers_max);
}

static void upgrade_handle_head(struct conn *c, const uint8_t *rest, size_t rest_len)
{
    struct http_header headers[UPGRADE_HEADERS_MAX];
    struct http_request req;
    enum http_parse_result parsed = upgrade_parse(c, &req, headers);
    if (parsed != HTTP_PARSE_OK) {
        assert(parsed != HTTP_PARSE_INCOMPLETE);
        conn_upgrade_fail(c, upgrade_parse_error(parsed));
        return;
    }
    if (conn_opts(c)->demo_page && demo_page_request(&req)) {
        /* a browser asking for the page, not an upgrade: answered like a refusal, then FIN */
        conn_upgrade_refuse(c, demo_page_response, demo_page_response_bytes, GW_CLOSE_DEMO_PAGE);
        return;
    }
    struct ws_handshake_result result;
    enum ws_handshake_error error = ws_handshake_check(&req, c->worker->shared->policy, &result);
    if (error != WS_HS_OK) {
        conn_upgrade_fail(c, error);
        return;
    }
    struct http_span token = {NULL, 0};
    http_query_find(req.query, "token", &token);
    upgrade_accept(c, &result, req.head_bytes, rest, rest_len, token);
}

/* An incomplete head is parsed on its first bytes and then once per KiB: garbage is
 * refused at once (the parser reports a byte no valid head could hold as soon as it sees
 * it), at a cost that stays linear however the client slices its bytes. */
static bool upgrade_should_probe(size_t before, size_t after)
{
    return before == 0 || before / UPGRADE_PROBE_BYTES != after / UPGRADE_PROBE_BYTES;
}

/* Parses the incomplete head; refuses the upgrade and returns true when it is already
 * malformed. */
static bool upgrade_refuse_early(struct conn *c)
{
    struct http_header headers[UPGRADE_HEADERS_MAX];
    struct http_request req;
    enum http_parse_result parsed = upgrade_parse(c, &req, headers);
    if (parsed == HTTP_PARSE_INCOMPLETE)
        return false;
    assert(parsed != HTTP_PARSE_OK); /* no CRLFCRLF yet, so it cannot be complete */
    conn_upgrade_fail(c, upgrade_parse_error(parsed));
    return true;
}

void conn_upgrade_on_bytes(struct conn *c, const uint8_t *data, size_t len)
{
    assert(c->state == CONN_HANDSHAKE);
    size_t limit = conn_opts(c)->max_header_bytes;
    size_t room = limit - c->rx_len;
    size_t take = len < room ? len : room;
    if (!upgrade_reserve(c, c->rx_len + take)) {
        c->close_reason = GW_CLOSE_INTERNAL;
        conn_close_socket(c);
        return;
    }
    size_t from = c->rx_len;
    memcpy(c->rx + c->rx_len, data, take);
    c->rx_len += (uint32_t)take;
    if (upgrade_head_complete(c, from)) {
        upgrade_handle_head(c, data + take, len - take);
        return;
    }
    if (upgrade_should_probe(from, c->rx_len) && upgrade_refuse_early(c))
        return;
    if (c->rx_len >= limit)
        conn_upgrade_fail(c, WS_HS_HEAD_TOO_LARGE);
}
