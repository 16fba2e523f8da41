/* The tidegate adapter: docs/protocol.md from the client's side; see adapter.h.
 *
 * Server messages are read with a small scanner over the top-level members of the JSON
 * object (skipping nested values without building anything): it finds "type" and the one
 * string field a message type needs, in whatever order the server writes them. It does
 * not validate the JSON (the server's own tests do); it only has to be right about valid
 * JSON and never read outside the bytes it was given.
 */
#include <stdio.h>
#include <string.h>

#include "bench/adapter.h"
#include "bench/worker.h"
#include "core/ws_frame.h"

enum tg_state { TG_WAIT_CONNECTED = 1, TG_WAIT_JOINED, TG_READY };

/* ---- reading ---- */

struct tg_scan {
    const uint8_t *p;
    size_t len;
    size_t pos;
};

static void scan_ws(struct tg_scan *s)
{
    while (s->pos < s->len) {
        uint8_t ch = s->p[s->pos];
        if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
            return;
        s->pos++;
    }
}

/* At an opening quote: sets the contents span and moves past the closing quote. */
static bool scan_string(struct tg_scan *s, size_t *start, size_t *len)
{
    if (s->pos >= s->len || s->p[s->pos] != '"')
        return false;
    size_t i = s->pos + 1;
    while (i < s->len && s->p[i] != '"')
        i += s->p[i] == '\\' ? 2 : 1;
    if (i >= s->len)
        return false;
    *start = s->pos + 1;
    *len = i - *start;
    s->pos = i + 1;
    return true;
}

/* Skips one value of any kind. Nested containers are skipped by depth, strings whole. */
static bool scan_skip_value(struct tg_scan *s)
{
    size_t depth = 0;
    while (s->pos < s->len) {
        uint8_t ch = s->p[s->pos];
        if (ch == '"') {
            size_t a, b;
            if (!scan_string(s, &a, &b))
                return false;
            if (depth == 0)
                return true;
            continue;
        }
        if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            if (depth == 0)
                return true; /* the end of the enclosing object: a scalar ended here */
            depth--;
            if (depth == 0) {
                s->pos++;
                return true;
            }
        } else if (depth == 0 &&
                   (ch == ',' || ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r')) {
            return true;
        }
        s->pos++;
    }
    return false;
}

static bool key_is(const struct tg_scan *s, size_t start, size_t len, const char *name)
{
    size_t n = strlen(name);
    return len == n && memcmp(s->p + start, name, n) == 0;
}

static enum tg_type tg_type_of(const uint8_t *p, size_t len)
{
    static const struct {
        const char *name;
        enum tg_type type;
    } types[] = {
        {"message", TG_MESSAGE},
        {"ack", TG_ACK},
        {"pong", TG_PONG},
        {"connected", TG_CONNECTED},
        {"joined", TG_JOINED},
        {"error", TG_ERROR},
        {"disconnect", TG_DISCONNECT},
        {"gap", TG_GAP},
        {"left", TG_OTHER},
        {"user_online", TG_OTHER},
        {"user_offline", TG_OTHER},
        {"user_typing", TG_OTHER},
        {"presence", TG_OTHER},
        {"history", TG_OTHER},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (strlen(types[i].name) == len && memcmp(types[i].name, p, len) == 0)
            return types[i].type;
    }
    return TG_UNKNOWN;
}

void tg_message_read(const uint8_t *head, size_t len, struct tg_message *out)
{
    struct tg_scan s = {head, len, 0};
    size_t type_at = 0, type_len = 0, data_at = 0, data_len = 0, id_at = 0, id_len = 0;
    size_t code_at = 0, code_len = 0;
    bool have_type = false;
    memset(out, 0, sizeof *out);
    scan_ws(&s);
    if (s.pos >= s.len || s.p[s.pos] != '{')
        return;
    s.pos++;
    for (;;) {
        scan_ws(&s);
        size_t key_at, key_len;
        if (!scan_string(&s, &key_at, &key_len))
            break;
        scan_ws(&s);
        if (s.pos >= s.len || s.p[s.pos] != ':')
            break;
        s.pos++;
        scan_ws(&s);
        if (s.pos < s.len && s.p[s.pos] == '"') {
            size_t at, n;
            bool whole = scan_string(&s, &at, &n);
            if (!whole) { /* cut off by the head: keep what is there for `data` */
                at = s.pos + 1;
                n = s.len > at ? s.len - at : 0;
            }
            if (key_is(&s, key_at, key_len, "type") && whole) {
                type_at = at, type_len = n, have_type = true;
            } else if (key_is(&s, key_at, key_len, "data")) {
                data_at = at, data_len = n;
            } else if (key_is(&s, key_at, key_len, "id") && whole) {
                id_at = at, id_len = n;
            } else if (key_is(&s, key_at, key_len, "code") && whole) {
                code_at = at, code_len = n;
            }
            if (!whole)
                break;
        } else if (!scan_skip_value(&s)) {
            break;
        }
        scan_ws(&s);
        if (s.pos >= s.len || s.p[s.pos] != ',')
            break;
        s.pos++;
    }
    if (!have_type)
        return;
    out->type = tg_type_of(head + type_at, type_len);
    if (out->type == TG_MESSAGE)
        out->value = head + data_at, out->value_len = data_len;
    else if (out->type == TG_PONG || out->type == TG_ACK)
        out->value = head + id_at, out->value_len = id_len;
    else if (out->type == TG_ERROR)
        out->value = head + code_at, out->value_len = code_len;
}

size_t tg_channel_name(const struct bench_params *p, uint32_t channel, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s:c%u", p->namespace_name, channel);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* ---- writing ---- */

static bool tg_send_text(struct worker *w, struct client_conn *c, const char *a, size_t a_len,
                         const uint8_t *b, size_t b_len, const char *z, bool data)
{
    size_t z_len = strlen(z);
    uint8_t *out = client_frame_reserve(&w->client, c, WS_OP_TEXT, a_len + b_len + z_len);
    if (out == NULL)
        return false;
    memcpy(out, a, a_len);
    if (b_len > 0)
        memcpy(out + a_len, b, b_len);
    memcpy(out + a_len + b_len, z, z_len);
    client_frame_commit(&w->client, c, data);
    return true;
}

static void tg_path(const struct bench_params *p, uint32_t channel, char *out, size_t cap)
{
    (void)channel;
    snprintf(out, cap, "%s", p->path);
}

static void tg_on_open(struct worker *w, struct client_conn *c)
{
    const char *token = w->params->token;
    bool sent;
    if (token != NULL) {
        static const char a[] = "{\"type\":\"connect\",\"id\":1,\"token\":\"";
        sent = tg_send_text(w, c, a, sizeof a - 1, (const uint8_t *)token, strlen(token), "\"}",
                            false);
    } else {
        static const char a[] = "{\"type\":\"connect\",\"id\":1}";
        sent = tg_send_text(w, c, a, sizeof a - 1, NULL, 0, "", false);
    }
    if (!sent) {
        client_abort(&w->client, c, CLIENT_END_CONNECT_OTHER, 0);
        return;
    }
    c->proto_state = TG_WAIT_CONNECTED;
}

static void tg_join(struct worker *w, struct client_conn *c, uint32_t channel)
{
    char a[320];
    int n = snprintf(a, sizeof a, "{\"type\":\"join_channel\",\"id\":2,\"channel\":\"");
    size_t name = tg_channel_name(w->params, channel, a + n, sizeof a - (size_t)n);
    if (name == 0 || !tg_send_text(w, c, a, (size_t)n + name, NULL, 0, "\"}", false)) {
        client_abort(&w->client, c, CLIENT_END_CONNECT_OTHER, 0);
        return;
    }
    c->proto_state = TG_WAIT_JOINED;
}

static void tg_setup_step(struct worker *w, struct client_conn *c, enum tg_type type)
{
    struct conn_role *role = worker_role_of(w, c);
    bool joins = role->channel != UINT32_MAX && c->role != ROLE_PUBLISHER;
    if (c->proto_state == TG_WAIT_CONNECTED && type == TG_CONNECTED) {
        if (joins) {
            tg_join(w, c, role->channel);
            return;
        }
        c->proto_state = TG_READY;
        worker_conn_ready(w, c);
    } else if (c->proto_state == TG_WAIT_JOINED && type == TG_JOINED) {
        c->proto_state = TG_READY;
        worker_conn_ready(w, c);
    } else if (type == TG_ERROR || type == TG_DISCONNECT) {
        worker_conn_refused(w, c);
    }
}

/* An ack's id is the head of the payload published: the time from its (scheduled) send. */
static void tg_on_ack(struct worker *w, const struct tg_message *m)
{
    struct payload pl;
    if (!payload_read(m->value, m->value_len, &pl))
        return; /* an ack of the setup's requests carries no payload */
    uint64_t now_ns = client_clock_ns();
    hist_record(&w->result->ack_ns, now_ns > pl.sent_ns ? now_ns - pl.sent_ns : 0);
}

static void tg_on_message(struct worker *w, struct client_conn *c, uint8_t opcode,
                          const uint8_t *head, size_t head_len, uint64_t len)
{
    (void)len;
    struct tg_message m;
    tg_message_read(head, head_len, &m);
    uint64_t *ctr = w->result->counters;
    if (opcode != WS_OP_TEXT || m.type == TG_UNKNOWN) {
        ctr[BENCH_C_unparsed]++;
        return;
    }
    switch (m.type) {
    case TG_MESSAGE:
    case TG_PONG:
        worker_on_payload(w, c, m.value, m.value_len, len);
        return;
    case TG_ACK:
        ctr[BENCH_C_acks]++;
        tg_on_ack(w, &m);
        return;
    case TG_ERROR:
        ctr[BENCH_C_proto_errors]++;
        w->result->proto_errors[bench_proto_error_index((const char *)m.value, m.value_len)]++;
        if (c->proto_state == TG_READY) {
            worker_send_refused(w, c); /* a ready sender only sends send_message or ping */
            return;
        }
        break;
    case TG_DISCONNECT:
        ctr[BENCH_C_disconnects]++;
        break;
    case TG_GAP:
        ctr[BENCH_C_gaps]++;
        return;
    default:
        break;
    }
    if (c->proto_state != TG_READY)
        tg_setup_step(w, c, m.type);
}

static bool tg_publish(struct worker *w, struct client_conn *c, const struct payload *pl)
{
    char a[380];
    int n = snprintf(a, sizeof a, "{\"type\":\"send_message\",\"id\":\"");
    payload_write((uint8_t *)a + n, PAYLOAD_HEAD_BYTES, pl);
    n += PAYLOAD_HEAD_BYTES;
    n += snprintf(a + n, sizeof a - (size_t)n, "\",\"channel\":\"");
    size_t name =
        tg_channel_name(w->params, worker_role_of(w, c)->channel, a + n, sizeof a - (size_t)n - 12);
    if (name == 0)
        return false;
    size_t head = (size_t)n + name;
    memcpy(a + head, "\",\"data\":\"", 10);
    head += 10;
    size_t body = (size_t)w->params->message_bytes;
    uint8_t *out = client_frame_reserve(&w->client, c, WS_OP_TEXT, head + body + 2);
    if (out == NULL)
        return false;
    memcpy(out, a, head);
    payload_write(out + head, body, pl);
    memcpy(out + head + body, "\"}", 2);
    client_frame_commit(&w->client, c, true);
    return true;
}

static bool tg_echo(struct worker *w, struct client_conn *c, const struct payload *pl)
{
    static const char a[] = "{\"type\":\"ping\",\"id\":\"";
    uint8_t id[PAYLOAD_HEAD_BYTES];
    payload_write(id, sizeof id, pl);
    return tg_send_text(w, c, a, sizeof a - 1, id, sizeof id, "\"}", true);
}

const struct adapter_ops adapter_tidegate = {
    .name = "tidegate",
    .path = tg_path,
    .on_open = tg_on_open,
    .on_message = tg_on_message,
    .publish = tg_publish,
    .echo = tg_echo,
};
