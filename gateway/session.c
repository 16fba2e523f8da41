/* The client protocol on one connection: see session.h. The order of checks is
 * docs/protocol.md section 2.5; each step below names its number. */
#include "gateway/session.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/http.h"
#include "core/log.h"
#include "gateway/conn_internal.h"
#include "gateway/hub.h"
#include "gateway/proto_write.h"
#include "gateway/user_status_gw.h"

#define NO_TYPE PROTO_TYPE_COUNT /* an error about a message whose type is unknown */
enum {
    CLIENT_ID_BYTES = 32,
    SESSION_PENDING_MAX = 1024, /* channel requests awaiting replies, per connection */
};

static struct jbuf *scratch(const struct conn *c)
{
    return &c->worker->hub.scratch;
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct token_bucket_rule message_rule(const struct gw_options *o)
{
    return (struct token_bucket_rule){(uint32_t)o->client_messages_per_s,
                                      (uint32_t)o->client_messages_burst};
}
static struct token_bucket_rule error_rule(const struct gw_options *o)
{
    return (struct token_bucket_rule){1, (uint32_t)o->error_burst};
}
static struct token_bucket_rule typing_rule(const struct gw_options *o)
{
    return (struct token_bucket_rule){(uint32_t)o->typing_per_s, 2 * (uint32_t)o->typing_per_s};
}

bool session_busy(const struct conn *c)
{
    return c->sess != NULL && c->sess->pending > 0;
}

void session_user_copy(const struct conn *c, char *out, uint8_t *len)
{
    const struct session *ss = c->sess;
    *len = ss != NULL ? ss->user_id_len : 0;
    if (*len > 0)
        memcpy(out, ss->user_id, *len);
    out[*len] = '\0';
}

void session_request_sent(struct conn *c)
{
    c->sess->pending++;
}

void session_request_done(struct conn *c)
{
    assert(c->sess->pending > 0);
    c->sess->pending--;
    if (c->sess->pending == 0 && c->state == CONN_CLOSED)
        conn_release(c); /* it waited for this reply to be freed */
}

void session_free(struct conn *c)
{
    struct session *ss = c->sess;
    if (ss == NULL)
        return;
    assert(ss->subs == NULL || c->worker->stopping);
    session_end(c); /* already done at the close; kept for the paths that free directly */
    free(ss->admit_id);
    free(ss->user_id);
    if (ss->caps != NULL) {
        free(ss->caps->patterns);
        free(ss->caps->bytes);
        free(ss->caps);
    }
    free(ss);
    c->sess = NULL;
}

/* ---- output ---- */

void session_disconnect(struct conn *c, uint16_t code, const char *reason, const char *message,
                        bool reconnect)
{
    if (c->state != CONN_OPEN)
        return;
    struct jbuf *jb = scratch(c);
    jbuf_reset(jb);
    proto_write_disconnect(jb, code, reason, message, reconnect);
    if (!jb->failed)
        conn_send_frame_unbounded(c, WS_OP_TEXT, (const uint8_t *)jb->data, jb->len);
    conn_start_close(c, code, reason, gw_close_reason_for_code(code));
}

void session_slow_consumer(struct conn *c)
{
    char message[160];
    snprintf(message, sizeof message,
             "the connection did not read fast enough: more than %" PRIu64
             " bytes were waiting to be sent",
             conn_opts(c)->send_queue_bytes_max);
    session_disconnect(c, WS_CLOSE_POLICY_VIOLATION, "slow_consumer", message, true);
}

bool session_send_json(struct conn *c, const char *json, size_t len)
{
    if (c->state != CONN_OPEN)
        return false;
    if (c->out.bytes > conn_opts(c)->send_queue_bytes_max) {
        session_slow_consumer(c);
        return false;
    }
    return conn_send_frame(c, WS_OP_TEXT, (const uint8_t *)json, len);
}

void session_send_error(struct conn *c, const struct json_span *id, enum proto_error code,
                        const char *message, enum proto_type type, const char *channel)
{
    struct session *ss = c->sess;
    const struct gw_options *o = conn_opts(c);
    if (c->state != CONN_OPEN)
        return;
    if (proto_error_strikes(code)) {
        struct token_bucket_rule rule = error_rule(o);
        if (!token_bucket_take(&ss->errors, &rule, conn_now_ms(c), 1)) {
            session_disconnect(c, 4004, "too_many_errors",
                               "too many failed requests in a short time; fix the client", false);
            return;
        }
    }
    gw_metric_add(&c->worker->metrics->errors_sent[code], 1);
    struct jbuf *jb = scratch(c);
    jbuf_reset(jb);
    int64_t retry = -1;
    if (code == PROTO_ERR_RATE_LIMITED) {
        struct token_bucket_rule rule = message_rule(o);
        retry = (int64_t)token_bucket_wait_ms(&ss->messages, &rule, conn_now_ms(c), 1);
    } else if (code == PROTO_ERR_SERVER_BUSY) {
        retry = 1000;
    }
    proto_write_error(jb, id, code, message, type == NO_TYPE ? NULL : proto_type_name(type),
                      channel, retry);
    if (!jb->failed)
        session_send_json(c, jb->data, jb->len);
}

/* ---- authentication ---- */

static void client_id(const struct conn *c, char out[CLIENT_ID_BYTES])
{
    snprintf(out, CLIENT_ID_BYTES, "w%u-%08" PRIx64, c->worker->index, c->sess->serial);
}

static void send_connected(struct conn *c, const struct json_span *id)
{
    struct session *ss = c->sess;
    const struct gw_options *o = conn_opts(c);
    char cid[CLIENT_ID_BYTES];
    client_id(c, cid);
    struct proto_limits limits = {
        .max_publish_bytes = o->max_publish_bytes,
        .max_channels_per_connection = o->max_channels_per_connection,
        .messages_per_s = o->client_messages_per_s,
        .messages_burst = o->client_messages_burst,
        .typing_per_s = o->typing_per_s,
        .history_page_max = o->history_page_max,
    };
    struct jbuf *jb = scratch(c);
    jbuf_reset(jb);
    proto_write_connected(jb, id, cid, ss->user_id, ss->user_id_len, ss->expires_at_ms,
                          o->ping_interval_ms, &limits);
    if (!jb->failed)
        session_send_json(c, jb->data, jb->len);
}

static bool keep_caps(struct session *ss, const struct jwt_claims *claims)
{
    size_t join = claims->caps[JWT_CAP_JOIN].count, publish = claims->caps[JWT_CAP_PUBLISH].count;
    if (join + publish == 0)
        return true;
    struct session_caps *caps = calloc(1, sizeof *caps);
    if (caps == NULL)
        return false;
    caps->patterns = malloc((join + publish) * sizeof *caps->patterns);
    caps->bytes = malloc(claims->cap_bytes_used ? claims->cap_bytes_used : 1);
    if (caps->patterns == NULL || caps->bytes == NULL) {
        free(caps->patterns);
        free(caps->bytes);
        free(caps);
        return false;
    }
    memcpy(caps->patterns, claims->caps[JWT_CAP_JOIN].patterns, join * sizeof *caps->patterns);
    memcpy(caps->patterns + join, claims->caps[JWT_CAP_PUBLISH].patterns,
           publish * sizeof *caps->patterns);
    memcpy(caps->bytes, claims->cap_bytes, claims->cap_bytes_used);
    caps->join_count = (uint16_t)join;
    caps->publish_count = (uint16_t)publish;
    ss->caps = caps;
    return true;
}

/* The connection is in: `connected`. */
static void session_connected(struct conn *c, const struct json_span *id)
{
    c->sess->connected = true;
    gw_metric_add(&c->worker->metrics->sessions_connected, 1);
    send_connected(c, id);
    conn_arm_open_timer(c);
}

/* The verdict of a limit check (never after session_end, which cancels it). */
static void on_admit(void *ctx, enum user_status_admit verdict, uint32_t connections)
{
    struct conn *c = ctx;
    struct session *ss = c->sess;
    assert(ss != NULL && ss->status_check != NULL && c->state == CONN_OPEN);
    ss->status_check = NULL;
    struct json_span id = {ss->admit_id, ss->admit_id_len};
    bool has_id = ss->has_admit_id;
    if (verdict == USER_STATUS_REFUSED) {
        char text[200];
        snprintf(text, sizeof text,
                 "this user already has %u connections; at most %" PRIu64
                 " are allowed (user_max_connections): close one first",
                 connections, conn_opts(c)->user_max_connections);
        session_disconnect(c, 4007, "too_many_user_connections", text, false);
    } else {
        ss->status_counted = true;
        session_connected(c, has_id ? &id : NULL);
    }
    free(ss->admit_id); /* after its use: `id` points into it */
    ss->admit_id = NULL;
    ss->has_admit_id = false;
}

/* A verified user is counted in user status when the gateway keeps one (docs/storage.md),
 * then connected; with user_max_connections and Redis up, `connected` waits for the check's
 * verdict. Redis unavailable answers at once (allowed, unchecked). */
static void session_admit(struct conn *c, const struct json_span *id)
{
    struct session *ss = c->sess;
    struct user_status *us = gw_user_status_of(c->worker);
    if (us == NULL) {
        session_connected(c, id);
        return;
    }
    struct user_status_check *check = NULL;
    enum user_status_admit verdict =
        user_status_connect(us, ss->user_id, ss->user_id_len, on_admit, c, &check);
    switch (verdict) {
    case USER_STATUS_ALLOWED:
    case USER_STATUS_UNCHECKED:
        ss->status_counted = true;
        session_connected(c, id);
        return;
    case USER_STATUS_PENDING:
        ss->status_check = check;
        if (id != NULL) {
            ss->admit_id = malloc(id->len ? id->len : 1);
            if (ss->admit_id == NULL) {
                session_disconnect(c, WS_CLOSE_INTERNAL_ERROR, "internal_error",
                                   "out of memory while the connection was being admitted", true);
                return; /* the close cancelled the check */
            }
            assert(id->len <= UINT8_MAX);
            memcpy(ss->admit_id, id->ptr, id->len);
            ss->admit_id_len = (uint8_t)id->len;
            ss->has_admit_id = true;
        }
        return;
    case USER_STATUS_NOMEM:
    case USER_STATUS_REFUSED: /* never from user_status_connect */
        break;
    }
    session_disconnect(c, WS_CLOSE_INTERNAL_ERROR, "internal_error",
                       "out of memory counting the connection", true);
}

void session_end(struct conn *c)
{
    struct session *ss = c->sess;
    if (ss == NULL)
        return;
    struct user_status *us = gw_user_status_of(c->worker);
    if (ss->status_check != NULL) {
        if (us != NULL)
            user_status_cancel(us, ss->status_check);
        ss->status_check = NULL;
    }
    if (ss->status_counted) {
        ss->status_counted = false;
        if (us != NULL)
            user_status_disconnect(us, ss->user_id, ss->user_id_len);
    }
}

/* Checks a token and connects, or disconnects with 4001/4002. `token` is the decoded JWT. */
static void authenticate(struct conn *c, const char *token, size_t len, const struct json_span *id)
{
    struct session *ss = c->sess;
    const struct worker_shared *shared = c->worker->shared;
    struct jwt_claims *claims = malloc(sizeof *claims); /* ~7 KiB: not on the stack */
    if (claims == NULL) {
        session_disconnect(c, WS_CLOSE_INTERNAL_ERROR, "internal_error",
                           "out of memory checking the token", true);
        return;
    }
    int64_t now_s = (int64_t)(wall_ms() / 1000);
    enum jwt_error err =
        jwt_verify(shared->jwt_keys, token, len, shared->jwt_policy, now_s, claims);
    if (err != JWT_OK) {
        gw_metric_add(&c->worker->metrics->auth_failures[err], 1);
        free(claims);
        if (err == JWT_ERR_EXPIRED)
            session_disconnect(c, 4002, "token_expired",
                               "the token has expired; reconnect with a new token", true);
        else
            session_disconnect(c, 4001, "auth_failed", jwt_error_text(err), false);
        return;
    }
    ss->user_id = malloc(claims->sub_len + 1);
    if (ss->user_id == NULL || !keep_caps(ss, claims)) {
        free(claims);
        session_disconnect(c, WS_CLOSE_INTERNAL_ERROR, "internal_error",
                           "out of memory keeping the token's claims", true);
        return;
    }
    memcpy(ss->user_id, claims->sub, claims->sub_len + 1);
    ss->user_id_len = (uint8_t)claims->sub_len;
    ss->authenticated = true;
    ss->deadline_ms = 0;
    if (claims->has_exp) {
        int64_t expires_ms = (claims->exp_s + (int64_t)shared->jwt_policy->leeway_s) * 1000;
        ss->expires_at_ms = expires_ms;
        int64_t left_ms = expires_ms - (int64_t)wall_ms();
        ss->deadline_ms = conn_now_ms(c) + (uint64_t)(left_ms > 1 ? left_ms : 1);
    }
    free(claims);
    session_admit(c, id);
}

static void connect_anonymous(struct conn *c, const struct json_span *id)
{
    if (!conn_opts(c)->allow_anonymous) {
        gw_metric_add(&c->worker->metrics->auth_failures[GW_AUTH_ANONYMOUS_REFUSED], 1);
        session_disconnect(c, 4001, "auth_failed",
                           "a token is required: this gateway does not allow anonymous "
                           "connections",
                           false);
        return;
    }
    c->sess->connected = true;
    c->sess->deadline_ms = 0;
    gw_metric_add(&c->worker->metrics->sessions_connected, 1);
    send_connected(c, id);
    conn_arm_open_timer(c);
}

bool session_open(struct conn *c, const char *token, size_t token_len)
{
    struct session *ss = calloc(1, sizeof *ss);
    if (ss == NULL)
        return false;
    const struct gw_options *o = conn_opts(c);
    uint64_t now = conn_now_ms(c);
    ss->expires_at_ms = -1;
    ss->serial = ++c->worker->session_serial;
    struct token_bucket_rule rule = message_rule(o);
    token_bucket_init(&ss->messages, &rule, now);
    rule = error_rule(o);
    token_bucket_init(&ss->errors, &rule, now);
    rule = typing_rule(o);
    token_bucket_init(&ss->typing, &rule, now);
    c->sess = ss;
    if (token_len == 0) {
        ss->deadline_ms = now + o->connect_timeout_ms;
        conn_arm_open_timer(c);
        return true;
    }
    char decoded[JWT_TOKEN_BYTES_MAX];
    long n = http_percent_decode((struct http_span){token, token_len}, decoded, sizeof decoded);
    if (n < 0) {
        gw_metric_add(&c->worker->metrics->auth_failures[JWT_ERR_TOO_LONG], 1);
        session_disconnect(c, 4001, "auth_failed",
                           "the token parameter is too long or badly percent-encoded", false);
        return true;
    }
    authenticate(c, decoded, (size_t)n, NULL);
    return true;
}

bool session_on_deadline(struct conn *c)
{
    struct session *ss = c->sess;
    if (ss == NULL || ss->deadline_ms == 0 || conn_now_ms(c) < ss->deadline_ms)
        return false;
    ss->deadline_ms = 0;
    if (!ss->authenticated)
        session_disconnect(c, 4005, "connect_timeout",
                           "no connect message arrived in time; send connect with a token first",
                           true);
    else
        session_disconnect(c, 4002, "token_expired",
                           "the token expired; reconnect with a new token", true);
    return true;
}

void session_on_binary(struct conn *c)
{
    session_disconnect(c, WS_CLOSE_UNSUPPORTED_DATA, "binary_not_supported",
                       "binary messages are not part of the protocol; send JSON text messages",
                       false);
}

/* ---- requests ---- */

static bool cap_allows(const struct session *ss, bool publish, const struct proto_channel *ch)
{
    const struct session_caps *caps = ss->caps;
    if (caps == NULL)
        return false;
    size_t start = publish ? caps->join_count : 0;
    size_t count = publish ? caps->publish_count : caps->join_count;
    for (size_t i = start; i < start + count; i++) {
        const char *p = caps->bytes + caps->patterns[i].offset;
        size_t len = caps->patterns[i].len;
        if (len > 0 && p[len - 1] == '*') {
            if (ch->len >= len - 1 && memcmp(ch->name, p, len - 1) == 0)
                return true;
        } else if (len == ch->len && memcmp(ch->name, p, len) == 0) {
            return true;
        }
    }
    return false;
}

static bool rule_allows(const struct session *ss, uint8_t rule, bool publish,
                        const struct proto_channel *ch)
{
    switch ((enum ns_rule)rule) {
    case NS_RULE_CAPS:
        return ss->authenticated && cap_allows(ss, publish, ch);
    case NS_RULE_AUTHENTICATED:
        return ss->authenticated;
    case NS_RULE_ANONYMOUS:
        return true;
    case NS_RULE_NONE:
        return false;
    }
    return false;
}

/* Steps 8 and 9 for requests about a channel. Returns the error to answer (with its
 * sentence in `text`) or PROTO_OK once the hub took the request. */
static enum proto_error channel_request(struct conn *c, const struct proto_request *req,
                                        const struct ns_config *ns, char *text, size_t cap)
{
    struct session *ss = c->sess;
    const struct gw_options *o = conn_opts(c);
    const struct proto_channel *ch = &req->channel;
    switch (req->type) {
    case PROTO_JOIN_CHANNEL:
        if (!rule_allows(ss, ns->join, false, ch)) {
            snprintf(text, cap, "this connection may not join \"%s\"", ch->name);
            return PROTO_ERR_NOT_AUTHORIZED;
        }
        if (hub_find_sub(c, ch) != NULL) {
            snprintf(text, cap, "this connection has already joined \"%s\"", ch->name);
            return PROTO_ERR_ALREADY_JOINED;
        }
        if (ss->sub_count >= o->max_channels_per_connection) {
            snprintf(text, cap, "a connection may join at most %" PRIu64 " channels",
                     o->max_channels_per_connection);
            return PROTO_ERR_TOO_MANY_CHANNELS;
        }
        return hub_join(c, req, ns);
    case PROTO_LEAVE_CHANNEL:
        snprintf(text, cap, "this connection has not joined \"%s\"", ch->name);
        return hub_leave(c, req);
    case PROTO_SEND_MESSAGE:
        if (!rule_allows(ss, ns->publish, true, ch)) {
            snprintf(text, cap, "this connection may not publish to \"%s\"", ch->name);
            return PROTO_ERR_NOT_AUTHORIZED;
        }
        if (req->data.len > o->max_publish_bytes) {
            snprintf(text, cap, "data is %zu bytes; at most %" PRIu64 " are allowed", req->data.len,
                     o->max_publish_bytes);
            return PROTO_ERR_MESSAGE_TOO_LARGE;
        }
        return hub_publish(c, req, ns);
    case PROTO_USER_TYPING: {
        if (!ss->authenticated) {
            snprintf(text, cap, "anonymous connections may not send typing events");
            return PROTO_ERR_NOT_AUTHORIZED;
        }
        if (!ns->typing) {
            snprintf(text, cap, "typing events are off in namespace \"%s\"", ns->name);
            return PROTO_ERR_TYPING_DISABLED;
        }
        snprintf(text, cap, "this connection has not joined \"%s\"", ch->name);
        if (hub_find_sub(c, ch) == NULL)
            return PROTO_ERR_NOT_JOINED;
        struct token_bucket_rule rule = typing_rule(o);
        if (!token_bucket_take(&ss->typing, &rule, conn_now_ms(c), 1)) {
            gw_metric_add(&c->worker->metrics->deliveries_dropped[GW_DROP_TYPING_RATE], 1);
            return PROTO_OK; /* dropped silently (protocol.md 6.5) */
        }
        return hub_typing(c, req);
    }
    case PROTO_PRESENCE:
        if (!rule_allows(ss, ns->join, false, ch)) {
            snprintf(text, cap, "this connection may not read presence of \"%s\"", ch->name);
            return PROTO_ERR_NOT_AUTHORIZED;
        }
        if (!ns->presence) {
            snprintf(text, cap, "presence is off in namespace \"%s\"", ns->name);
            return PROTO_ERR_PRESENCE_DISABLED;
        }
        return hub_presence(c, req, ns);
    case PROTO_HISTORY:
        if (!rule_allows(ss, ns->join, false, ch)) {
            snprintf(text, cap, "this connection may not read history of \"%s\"", ch->name);
            return PROTO_ERR_NOT_AUTHORIZED;
        }
        if (ns->history_size == 0) {
            snprintf(text, cap, "history is off in namespace \"%s\"", ns->name);
            return PROTO_ERR_HISTORY_DISABLED;
        }
        return hub_history(c, req, ns);
    case PROTO_CONNECT:
    case PROTO_PING:
    case PROTO_TYPE_COUNT:
        break;
    }
    assert(!"not a channel request");
    return PROTO_ERR_INTERNAL;
}

static void on_connect(struct conn *c, const struct proto_request *req, const struct json_span *id)
{
    if (!req->has_token) {
        connect_anonymous(c, id);
        return;
    }
    char token[JWT_TOKEN_BYTES_MAX];
    long n = json_string_decode(req->token, token, sizeof token);
    if (n <= 0) {
        gw_metric_add(&c->worker->metrics->auth_failures[JWT_ERR_TOO_LONG], 1);
        session_disconnect(c, 4001, "auth_failed", "the token is empty or too long", false);
        return;
    }
    authenticate(c, token, (size_t)n, id);
}

void session_on_message(struct conn *c, const uint8_t *data, size_t len)
{
    struct session *ss = c->sess;
    const struct gw_options *o = conn_opts(c);
    struct proto_request req;
    struct json_member members[PROTO_MEMBERS_MAX];
    size_t count = 0;
    struct proto_parse_result res;
    gw_metric_add(&c->worker->metrics->requests, 1);
    /* Steps 1-2: JSON and id. */
    if (proto_parse_head((const char *)data, len, &req, members, &count, &res) != PROTO_OK) {
        session_send_error(c, req.has_id ? &req.id : NULL, res.error, res.text,
                           res.type_known ? req.type : NO_TYPE, NULL);
        return;
    }
    const struct json_span *id = req.has_id ? &req.id : NULL;
    /* Steps 4, 5 and the name part of 7 are parsed now but answered after step 3, whose
     * error then names the request's type and channel when they could be read. */
    proto_parse_body(members, count, &req, &res);
    /* Step 3: rate. */
    struct token_bucket_rule rule = message_rule(o);
    if (rule.rate_per_s != 0 && !token_bucket_take(&ss->messages, &rule, conn_now_ms(c), 1)) {
        char text[160];
        snprintf(text, sizeof text,
                 "more than %u messages a second (burst %u) on this connection; retry in %" PRIu64
                 " ms",
                 rule.rate_per_s, rule.burst,
                 token_bucket_wait_ms(&ss->messages, &rule, conn_now_ms(c), 1));
        session_send_error(c, id, PROTO_ERR_RATE_LIMITED, text, res.type_known ? req.type : NO_TYPE,
                           req.has_channel ? req.channel.name : NULL);
        return;
    }
    /* Step 5 for history's limit, whose range the parser does not know. */
    if ((res.error == PROTO_OK || res.error == PROTO_ERR_CHANNEL_NAME_INVALID) &&
        req.type == PROTO_HISTORY && req.limit > o->history_page_max) {
        char text[128];
        snprintf(text, sizeof text, "field \"limit\" must be an integer from 1 to %" PRIu64,
                 o->history_page_max);
        session_send_error(c, id, PROTO_ERR_BAD_REQUEST, text, req.type, NULL);
        return;
    }
    /* A bad name waits for step 6's verdict. */
    if (res.error != PROTO_OK && !(res.error == PROTO_ERR_CHANNEL_NAME_INVALID && !ss->connected)) {
        session_send_error(c, id, res.error, res.text, res.type_known ? req.type : NO_TYPE, NULL);
        return;
    }
    /* Step 6: connection state. */
    if (req.type == PROTO_PING) {
        struct jbuf *jb = scratch(c);
        jbuf_reset(jb);
        proto_write_pong(jb, id);
        if (!jb->failed)
            session_send_json(c, jb->data, jb->len);
        return;
    }
    if (req.type == PROTO_CONNECT) {
        if (ss->connected || ss->status_check != NULL)
            session_send_error(c, id, PROTO_ERR_ALREADY_CONNECTED,
                               ss->connected ? "this connection is already connected"
                                             : "this connection's connect is being processed",
                               req.type, NULL);
        else
            on_connect(c, &req, id);
        return;
    }
    const char *channel = req.has_channel ? req.channel.name : NULL;
    if (!ss->connected) {
        char text[96];
        snprintf(text, sizeof text, "%s before %s",
                 ss->status_check != NULL ? "wait for connected" : "send connect with a token",
                 proto_type_name(req.type));
        session_send_error(c, id, PROTO_ERR_NOT_CONNECTED, text, req.type, channel);
        return;
    }
    if (res.error == PROTO_ERR_CHANNEL_NAME_INVALID) {
        session_send_error(c, id, res.error, res.text, req.type, NULL);
        return;
    }
    /* Step 7: namespace (":room" names the empty namespace, which cannot exist). */
    const struct ns_config *ns =
        gw_namespace_find(&o->namespaces, req.channel.name, req.channel.namespace_len);
    if (req.channel.namespace_len == 0 && req.channel.name[0] == ':')
        ns = NULL;
    if (ns == NULL) {
        char text[160];
        snprintf(text, sizeof text, "namespace \"%.*s\" is not configured",
                 (int)(req.channel.namespace_len > 64 ? 64 : req.channel.namespace_len),
                 req.channel.name);
        session_send_error(c, id, PROTO_ERR_UNKNOWN_NAMESPACE, text, req.type, channel);
        return;
    }
    /* Steps 8 and 9. Requests waiting for another worker are bounded per connection even
     * when client_messages_per_s = 0 turns the rate limit off. */
    char text[PROTO_ERROR_TEXT_BYTES + 64];
    if (ss->pending >= SESSION_PENDING_MAX) {
        snprintf(text, sizeof text,
                 "%u requests of this connection are still being processed; wait for their "
                 "replies",
                 (unsigned)SESSION_PENDING_MAX);
        session_send_error(c, id, PROTO_ERR_SERVER_BUSY, text, req.type, channel);
        return;
    }
    enum proto_error err = channel_request(c, &req, ns, text, sizeof text);
    if (err != PROTO_OK)
        session_send_error(c, id, err,
                           err == PROTO_ERR_INTERNAL ? "the gateway is out of memory" : text,
                           req.type, channel);
}
