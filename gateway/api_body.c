/* The server API's body and query parsers: see api_body.h for the rules and their order.
 * Each parser reads its fields in one pass (type and range of each, in the order sent),
 * then checks what is missing, then names, namespaces and sizes. */
#include "gateway/api_body.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_LIMIT_TEXT "an integer from 1 to 1000"
#define SINCE_TEXT      "an integer from 0 to 9007199254740991"

/* Up to 48 bytes of `s` for a sentence: printable ASCII kept, anything else '?'. */
static const char *shown(const char *s, size_t len, char out[64])
{
    size_t n = len > 48 ? 48 : len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    memcpy(out + n, len > 48 ? "..." : "", len > 48 ? 4 : 1);
    return out;
}

static void err_clear(struct api_error *err)
{
    err->code = API_OK;
    err->message[0] = '\0';
}

static bool has_control(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return true;
    return false;
}

const struct ns_config *api_channel_namespace(const struct gw_namespaces *namespaces,
                                              const struct proto_channel *channel)
{
    if (channel->has_namespace && channel->namespace_len == 0)
        return NULL;
    return gw_namespace_find(namespaces, channel->name, channel->namespace_len);
}

/* Checks a decoded channel name (protocol.md 4.1) into `out`. */
static enum api_code name_check(const char *name, size_t len, struct proto_channel *out,
                                struct api_error *err)
{
    char text[PROTO_ERROR_TEXT_BYTES];
    if (!proto_channel_check(name, len, out, text))
        return api_error_set(err, API_CHANNEL_NAME_INVALID, "%s", text);
    return API_OK;
}

static enum api_code namespace_check(const struct api_body_rules *rules,
                                     const struct proto_channel *ch, const struct ns_config **ns,
                                     struct api_error *err)
{
    *ns = api_channel_namespace(rules->namespaces, ch);
    if (*ns != NULL)
        return API_OK;
    char buf[64];
    return api_error_set(err, API_UNKNOWN_NAMESPACE,
                         "namespace \"%s\" of channel \"%s\" is not configured",
                         shown(ch->name, ch->namespace_len, buf), ch->name);
}

/* ---- JSON bodies ---- */

static enum api_code scan_body(const char *body, size_t len, struct json_member *members,
                               size_t *count, struct api_error *err)
{
    struct json_result res;
    enum json_error e =
        json_object_scan(body, len, API_JSON_DEPTH_MAX, members, API_BODY_MEMBERS_MAX, count, &res);
    switch (e) {
    case JSON_OK:
        return API_OK;
    case JSON_ERR_NOT_OBJECT:
        return api_error_set(err, API_BAD_REQUEST, "the body must be one JSON object");
    case JSON_ERR_TOO_MANY_MEMBERS:
        return api_error_set(err, API_BAD_REQUEST, "the body has more than %d fields",
                             API_BODY_MEMBERS_MAX);
    case JSON_ERR_DUPLICATE_KEY:
        return api_error_set(err, API_BAD_REQUEST, "a field appears twice (at byte %zu)",
                             res.offset);
    default:
        return api_error_set(err, API_BAD_REQUEST, "invalid JSON at byte %zu: %s", res.offset,
                             json_error_text(e));
    }
}

/* The member's key for a sentence. */
static const char *key_shown(const struct json_member *m, char out[64])
{
    char key[64];
    long n = json_string_decode(m->key, key, sizeof key);
    if (n < 0)
        return shown(m->key.ptr + 1, m->key.len - 2, out);
    return shown(key, (size_t)n, out);
}

static enum api_code unknown_field(const struct json_member *m, const char *endpoint,
                                   const char *fields, struct api_error *err)
{
    char buf[64];
    return api_error_set(err, API_BAD_REQUEST, "unknown field \"%s\"; %s takes %s",
                         key_shown(m, buf), endpoint, fields);
}

static enum api_code wrong_type(const char *field, const char *want, struct api_error *err)
{
    return api_error_set(err, API_BAD_REQUEST, "field \"%s\" must be %s", field, want);
}

/* A user id (publish, disconnect) or a client id: a string of 1..max bytes without control
 * characters. */
static enum api_code read_id(const struct json_member *m, const char *field, size_t max,
                             struct api_user_id *out, struct api_error *err)
{
    if (m->type != JSON_STRING)
        return wrong_type(field, "a string", err);
    long n = json_string_decode(m->value, out->text, max + 1);
    if (n < 1 || (size_t)n > max || has_control(out->text, (size_t)n))
        return api_error_set(err, API_BAD_REQUEST,
                             "field \"%s\" must be 1 to %zu bytes without control characters",
                             field, max);
    out->text[n] = '\0';
    out->len = (uint8_t)n;
    return API_OK;
}

/* Decodes a channel name string into `out` (a JSON string already validated). */
static enum api_code read_channel(struct json_span raw, struct proto_channel *out,
                                  struct api_error *err)
{
    char name[PROTO_CHANNEL_BYTES_MAX + 1];
    long n = json_string_decode(raw, name, sizeof name);
    if (n < 0) {
        char buf[64];
        return api_error_set(err, API_CHANNEL_NAME_INVALID,
                             "channel \"%s\" is longer than %d bytes",
                             shown(raw.ptr + 1, raw.len - 2, buf), PROTO_CHANNEL_BYTES_MAX);
    }
    return name_check(name, (size_t)n, out, err);
}

static enum api_code data_size_check(struct json_span data, const struct api_body_rules *rules,
                                     struct api_error *err)
{
    if (data.len <= rules->max_publish_bytes)
        return API_OK;
    return api_error_set(err, API_MESSAGE_TOO_LARGE,
                         "data is %zu bytes; at most %llu are allowed (max_publish_bytes)",
                         data.len, (unsigned long long)rules->max_publish_bytes);
}

enum api_code api_parse_publish(const char *body, size_t len, const struct api_body_rules *rules,
                                struct api_publish_req *out, struct api_error *err)
{
    err_clear(err);
    assert(rules != NULL && out != NULL && err != NULL);
    memset(out, 0, sizeof *out);
    struct json_member members[API_BODY_MEMBERS_MAX];
    size_t count;
    if (scan_body(body, len, members, &count, err) != API_OK)
        return err->code;
    const struct json_member *channel = NULL, *data = NULL;
    for (size_t i = 0; i < count; i++) {
        const struct json_member *m = &members[i];
        if (json_string_equals(m->key, "channel")) {
            if (m->type != JSON_STRING)
                return wrong_type("channel", "a string", err);
            channel = m;
        } else if (json_string_equals(m->key, "data")) {
            data = m;
        } else if (json_string_equals(m->key, "user_id")) {
            if (read_id(m, "user_id", API_USER_ID_BYTES_MAX, &out->user, err) != API_OK)
                return err->code;
        } else {
            return unknown_field(m, "publish", "channel, data and user_id", err);
        }
    }
    if (channel == NULL || data == NULL)
        return api_error_set(err, API_BAD_REQUEST, "field \"%s\" is required",
                             channel == NULL ? "channel" : "data");
    out->data = data->value;
    if (read_channel(channel->value, &out->channel, err) != API_OK ||
        namespace_check(rules, &out->channel, &out->ns, err) != API_OK ||
        data_size_check(out->data, rules, err) != API_OK)
        return err->code;
    return API_OK;
}

/* ---- broadcast ---- */

static int name_cmp(const void *a, const void *b, void *ctx)
{
    const struct api_broadcast_req *req = ctx;
    const struct api_name *x = &req->names[*(const uint16_t *)a];
    const struct api_name *y = &req->names[*(const uint16_t *)b];
    size_t n = x->len < y->len ? x->len : y->len;
    int d = memcmp(req->arena + x->offset, req->arena + y->offset, n);
    return d != 0 ? d : (int)x->len - (int)y->len;
}

/* Decodes and checks every name into the arena, then looks for duplicates. */
static enum api_code broadcast_names(struct json_span array, struct api_broadcast_req *out,
                                     struct api_error *err)
{
    size_t pos = 0, used = 0;
    struct json_span element;
    enum json_type type;
    for (size_t i = 0; json_array_next(array, &pos, &element, &type); i++) {
        struct proto_channel ch;
        if (read_channel(element, &ch, err) != API_OK) {
            char text[API_MESSAGE_BYTES];
            memcpy(text, err->message, sizeof text);
            return api_error_set(err, API_CHANNEL_NAME_INVALID, "channels[%zu]: %s", i, text);
        }
        assert(used + ch.len <= out->arena_cap);
        memcpy(out->arena + used, ch.name, ch.len);
        out->names[i] = (struct api_name){(uint32_t)used, ch.len};
        used += ch.len;
    }
    uint16_t order[API_BROADCAST_CHANNELS_MAX];
    for (size_t i = 0; i < out->count; i++)
        order[i] = (uint16_t)i;
    qsort_r(order, out->count, sizeof order[0], name_cmp, out);
    for (size_t i = 1; i < out->count; i++) {
        if (name_cmp(&order[i - 1], &order[i], out) == 0) {
            const struct api_name *n = &out->names[order[i]];
            return api_error_set(err, API_BAD_REQUEST, "channel \"%.*s\" is listed twice",
                                 (int)n->len, out->arena + n->offset);
        }
    }
    return API_OK;
}

static enum api_code broadcast_channels_field(const struct json_member *m,
                                              struct api_broadcast_req *out, struct api_error *err)
{
    if (m->type != JSON_ARRAY)
        return wrong_type("channels", "an array of channel names", err);
    size_t pos = 0, n = 0;
    struct json_span element;
    enum json_type type;
    while (json_array_next(m->value, &pos, &element, &type)) {
        if (type != JSON_STRING)
            return api_error_set(err, API_BAD_REQUEST, "channels[%zu] must be a string", n);
        if (++n > API_BROADCAST_CHANNELS_MAX)
            return api_error_set(err, API_BAD_REQUEST, "channels lists more than %d names",
                                 API_BROADCAST_CHANNELS_MAX);
    }
    if (n == 0)
        return api_error_set(err, API_BAD_REQUEST, "channels must list at least one name");
    out->count = n;
    return API_OK;
}

enum api_code api_parse_broadcast(const char *body, size_t len, const struct api_body_rules *rules,
                                  struct api_broadcast_req *out, struct api_error *err)
{
    err_clear(err);
    assert(rules != NULL && out != NULL && err != NULL);
    assert(out->arena != NULL && out->arena_cap >= len);
    out->count = 0;
    out->data = (struct json_span){NULL, 0};
    memset(&out->user, 0, sizeof out->user);
    struct json_member members[API_BODY_MEMBERS_MAX];
    size_t count;
    if (scan_body(body, len, members, &count, err) != API_OK)
        return err->code;
    const struct json_member *channels = NULL, *data = NULL;
    for (size_t i = 0; i < count; i++) {
        const struct json_member *m = &members[i];
        if (json_string_equals(m->key, "channels")) {
            if (broadcast_channels_field(m, out, err) != API_OK)
                return err->code;
            channels = m;
        } else if (json_string_equals(m->key, "data")) {
            data = m;
        } else if (json_string_equals(m->key, "user_id")) {
            if (read_id(m, "user_id", API_USER_ID_BYTES_MAX, &out->user, err) != API_OK)
                return err->code;
        } else {
            return unknown_field(m, "broadcast", "channels, data and user_id", err);
        }
    }
    if (channels == NULL || data == NULL)
        return api_error_set(err, API_BAD_REQUEST, "field \"%s\" is required",
                             channels == NULL ? "channels" : "data");
    out->data = data->value;
    if (broadcast_names(channels->value, out, err) != API_OK)
        return err->code;
    for (size_t i = 0; i < out->count; i++) {
        struct proto_channel ch;
        const struct ns_config *ns;
        bool valid = proto_channel_check(out->arena + out->names[i].offset, out->names[i].len, &ch,
                                         err->message);
        assert(valid);
        (void)valid;
        if (namespace_check(rules, &ch, &ns, err) != API_OK)
            return err->code;
    }
    return data_size_check(out->data, rules, err);
}

/* ---- disconnect ---- */

static enum api_code disconnect_message(const struct json_member *m, struct api_disconnect_req *out,
                                        struct api_error *err)
{
    if (m->type != JSON_STRING)
        return wrong_type("message", "a string", err);
    long n = json_string_decode(m->value, out->message, API_DISCONNECT_MESSAGE_BYTES_MAX + 1);
    if (n < 0 || n > API_DISCONNECT_MESSAGE_BYTES_MAX)
        return api_error_set(err, API_BAD_REQUEST, "field \"message\" is over %d bytes",
                             API_DISCONNECT_MESSAGE_BYTES_MAX);
    out->message[n] = '\0';
    out->message_len = (uint8_t)n;
    out->has_message = true;
    return API_OK;
}

enum api_code api_parse_disconnect(const char *body, size_t len, struct api_disconnect_req *out,
                                   struct api_error *err)
{
    err_clear(err);
    assert(out != NULL && err != NULL);
    memset(out, 0, sizeof *out);
    struct json_member members[API_BODY_MEMBERS_MAX];
    size_t count;
    if (scan_body(body, len, members, &count, err) != API_OK)
        return err->code;
    bool by_user = false, by_client = false;
    for (size_t i = 0; i < count; i++) {
        const struct json_member *m = &members[i];
        if (json_string_equals(m->key, "user_id")) {
            if (read_id(m, "user_id", API_USER_ID_BYTES_MAX, &out->user, err) != API_OK)
                return err->code;
            by_user = true;
        } else if (json_string_equals(m->key, "client_id")) {
            if (read_id(m, "client_id", API_CLIENT_ID_BYTES_MAX, &out->user, err) != API_OK)
                return err->code;
            by_client = true;
        } else if (json_string_equals(m->key, "reconnect")) {
            if (m->type != JSON_TRUE && m->type != JSON_FALSE)
                return wrong_type("reconnect", "true or false", err);
            out->reconnect = m->type == JSON_TRUE;
        } else if (json_string_equals(m->key, "message")) {
            if (disconnect_message(m, out, err) != API_OK)
                return err->code;
        } else {
            return unknown_field(m, "disconnect", "user_id or client_id, reconnect and message",
                                 err);
        }
    }
    if (by_user == by_client)
        return api_error_set(err, API_BAD_REQUEST,
                             "give exactly one of \"user_id\" and \"client_id\"");
    out->by_client_id = by_client;
    return API_OK;
}

/* ---- query strings ---- */

enum { QUERY_VALUE_BYTES_MAX = 512 };

struct param {
    const char *name;
    bool seen;
    uint16_t len;                      /* decoded value */
    char value[QUERY_VALUE_BYTES_MAX]; /* decoded, NUL-terminated */
};

/* "channel, since, epoch, limit and direction" */
static void param_list(const struct param *params, size_t n, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && used < cap; i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " and " : ", ";
        int w = snprintf(out + used, cap - used, "%s%s", sep, params[i].name);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

static enum api_code query_read(struct http_span query, const char *path, struct param *params,
                                size_t n, struct api_error *err)
{
    size_t pos = 0;
    while (pos < query.len) {
        const char *pair = query.ptr + pos;
        const char *amp = memchr(pair, '&', query.len - pos);
        size_t pair_len = amp != NULL ? (size_t)(amp - pair) : query.len - pos;
        pos += pair_len + (amp != NULL ? 1 : 0);
        if (pair_len == 0)
            continue; /* "a=1&&b=2", a trailing '&' */
        const char *eq = memchr(pair, '=', pair_len);
        size_t key_len = eq != NULL ? (size_t)(eq - pair) : pair_len;
        char key[32], buf[64];
        long k = http_percent_decode((struct http_span){pair, key_len}, key, sizeof key - 1);
        struct param *p = NULL;
        for (size_t i = 0; k >= 0 && i < n && p == NULL; i++)
            if ((size_t)k == strlen(params[i].name) && memcmp(key, params[i].name, (size_t)k) == 0)
                p = &params[i];
        if (p == NULL) {
            char list[160];
            param_list(params, n, list, sizeof list);
            return api_error_set(err, API_BAD_REQUEST, "unknown parameter \"%s\"; %s takes %s",
                                 shown(pair, key_len, buf), path, n ? list : "no query parameters");
        }
        if (p->seen)
            return api_error_set(err, API_BAD_REQUEST, "parameter \"%s\" is given twice", p->name);
        size_t value_at = eq != NULL ? key_len + 1 : key_len;
        long v = http_percent_decode((struct http_span){pair + value_at, pair_len - value_at},
                                     p->value, sizeof p->value - 1);
        if (v < 0)
            return api_error_set(err, API_BAD_REQUEST,
                                 "parameter \"%s\" is badly percent-encoded or over %d bytes",
                                 p->name, QUERY_VALUE_BYTES_MAX - 1);
        p->value[v] = '\0';
        p->len = (uint16_t)v;
        p->seen = true;
    }
    return API_OK;
}

/* A decimal integer without sign or leading zeros, at most `max`. */
static bool parse_uint(const struct param *p, uint64_t min, uint64_t max, uint64_t *out)
{
    if (p->len == 0 || p->len > 16 || (p->len > 1 && p->value[0] == '0'))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < p->len; i++) {
        if (p->value[i] < '0' || p->value[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(p->value[i] - '0');
    }
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}

static enum api_code query_channel(const struct param *p, const struct api_body_rules *rules,
                                   struct proto_channel *ch, const struct ns_config **ns,
                                   struct api_error *err)
{
    if (!p->seen)
        return api_error_set(err, API_BAD_REQUEST, "parameter \"channel\" is required");
    if (name_check(p->value, p->len, ch, err) != API_OK)
        return err->code;
    return namespace_check(rules, ch, ns, err);
}

enum api_code api_parse_no_query(struct http_span query, enum api_endpoint endpoint,
                                 struct api_error *err)
{
    err_clear(err);
    char path[32];
    snprintf(path, sizeof path, "/api/%s", api_endpoint_name(endpoint));
    return query_read(query, path, NULL, 0, err);
}

enum api_code api_parse_presence(struct http_span query, const struct api_body_rules *rules,
                                 struct api_presence_req *out, struct api_error *err)
{
    err_clear(err);
    assert(rules != NULL && out != NULL && err != NULL);
    memset(out, 0, sizeof *out);
    struct param params[1] = {{.name = "channel"}};
    if (query_read(query, "/api/presence", params, 1, err) != API_OK)
        return err->code;
    return query_channel(&params[0], rules, &out->channel, &out->ns, err);
}

static enum api_code history_values(struct param *params, struct api_history_req *out,
                                    struct api_error *err)
{
    uint64_t limit = API_PAGE_LIMIT_DEFAULT;
    if (params[1].seen && !parse_uint(&params[1], 0, PROTO_INT_MAX, &out->since))
        return api_error_set(err, API_BAD_REQUEST, "parameter \"since\" must be " SINCE_TEXT);
    out->has_since = params[1].seen;
    if (params[2].seen) {
        if (params[2].len == 0 || params[2].len > PROTO_EPOCH_BYTES_MAX ||
            has_control(params[2].value, params[2].len))
            return api_error_set(err, API_BAD_REQUEST,
                                 "parameter \"epoch\" must be 1 to %d bytes without control "
                                 "characters",
                                 PROTO_EPOCH_BYTES_MAX);
        memcpy(out->epoch, params[2].value, params[2].len + 1u);
        out->has_epoch = true;
    }
    if (params[3].seen && !parse_uint(&params[3], 1, API_PAGE_LIMIT_MAX, &limit))
        return api_error_set(err, API_BAD_REQUEST, "parameter \"limit\" must be " PAGE_LIMIT_TEXT);
    out->limit = (uint32_t)limit;
    if (params[4].seen) {
        if (strcmp(params[4].value, "backward") == 0)
            out->backward = true;
        else if (strcmp(params[4].value, "forward") != 0)
            return api_error_set(err, API_BAD_REQUEST,
                                 "parameter \"direction\" must be forward or backward");
    }
    return API_OK;
}

enum api_code api_parse_history(struct http_span query, const struct api_body_rules *rules,
                                struct api_history_req *out, struct api_error *err)
{
    err_clear(err);
    assert(rules != NULL && out != NULL && err != NULL);
    memset(out, 0, sizeof *out);
    struct param params[5] = {{.name = "channel"},
                              {.name = "since"},
                              {.name = "epoch"},
                              {.name = "limit"},
                              {.name = "direction"}};
    if (query_read(query, "/api/history", params, 5, err) != API_OK ||
        history_values(params, out, err) != API_OK)
        return err->code;
    if (!params[0].seen)
        return api_error_set(err, API_BAD_REQUEST, "parameter \"channel\" is required");
    if (out->has_epoch && !out->has_since)
        return api_error_set(err, API_BAD_REQUEST,
                             "parameter \"epoch\" is only meaningful with \"since\"");
    return query_channel(&params[0], rules, &out->channel, &out->ns, err);
}

/* prefix and cursor: empty, or up to 255 bytes of the channel character set. */
static enum api_code name_param(const struct param *p, char *out, uint16_t *out_len,
                                struct api_error *err)
{
    *out_len = 0;
    if (!p->seen || p->len == 0)
        return API_OK;
    struct proto_channel ch;
    char text[PROTO_ERROR_TEXT_BYTES];
    if (!proto_channel_check(p->value, p->len, &ch, text))
        return api_error_set(err, API_BAD_REQUEST, "parameter \"%s\": %s", p->name, text);
    memcpy(out, ch.name, ch.len + 1u);
    *out_len = ch.len;
    return API_OK;
}

enum api_code api_parse_channels(struct http_span query, struct api_channels_req *out,
                                 struct api_error *err)
{
    err_clear(err);
    assert(out != NULL && err != NULL);
    memset(out, 0, sizeof *out);
    struct param params[3] = {{.name = "prefix"}, {.name = "cursor"}, {.name = "limit"}};
    if (query_read(query, "/api/channels", params, 3, err) != API_OK ||
        name_param(&params[0], out->prefix, &out->prefix_len, err) != API_OK ||
        name_param(&params[1], out->cursor, &out->cursor_len, err) != API_OK)
        return err->code;
    uint64_t limit = API_PAGE_LIMIT_DEFAULT;
    if (params[2].seen && !parse_uint(&params[2], 1, API_PAGE_LIMIT_MAX, &limit))
        return api_error_set(err, API_BAD_REQUEST, "parameter \"limit\" must be " PAGE_LIMIT_TEXT);
    out->limit = (uint32_t)limit;
    return API_OK;
}
