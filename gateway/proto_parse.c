/* The client protocol's input side: one text message in, one checked request out (see
 * proto.h, and docs/protocol.md sections 2.2-2.5, 4.1, 6 and 9).
 *
 * The one thing to know before changing it: the order of the checks is the protocol's
 * (section 2.5), and tests pin it down. JSON, then id, then type, then every field (its
 * name, JSON type and range; required ones last), and only then the channel name: a
 * message with a bad name and a bad `limit` is a bad_request, not channel_name_invalid.
 *
 * Hot path: runs for every client message. No allocation; the only copies are the decoded
 * channel name and epoch, both bounded. Error sentences are built in the result's fixed
 * buffer, and whatever they quote from the message is escaped and cut (sentence_quote).
 */
#include "gateway/proto.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/utf8.h"

#define PROTO_NAME_CHARS "A-Z a-z 0-9 _ - . : @ / ="
#define PROTO_CLIENT_TYPES                                                                         \
    "connect, join_channel, leave_channel, send_message, user_typing, presence, history, ping"

enum {
    QUOTE_TEXT_BYTES_MAX = 64, /* bytes of quoted text in a sentence before "..." */
    KEY_DECODE_BYTES = QUOTE_TEXT_BYTES_MAX + 4, /* decoded key prefix: room for a cut char */
};

/* ---- names and the error table (section 9) ---- */

static const char *const type_names[PROTO_TYPE_COUNT] = {
    [PROTO_CONNECT] = "connect",
    [PROTO_JOIN_CHANNEL] = "join_channel",
    [PROTO_LEAVE_CHANNEL] = "leave_channel",
    [PROTO_SEND_MESSAGE] = "send_message",
    [PROTO_USER_TYPING] = "user_typing",
    [PROTO_PRESENCE] = "presence",
    [PROTO_HISTORY] = "history",
    [PROTO_PING] = "ping",
};

static const struct {
    const char *name;
    bool strikes;
} errors[PROTO_ERROR_COUNT] = {
    [PROTO_OK] = {"ok", false},
    [PROTO_ERR_BAD_REQUEST] = {"bad_request", true},
    [PROTO_ERR_UNKNOWN_TYPE] = {"unknown_type", true},
    [PROTO_ERR_NOT_CONNECTED] = {"not_connected", true},
    [PROTO_ERR_ALREADY_CONNECTED] = {"already_connected", true},
    [PROTO_ERR_CHANNEL_NAME_INVALID] = {"channel_name_invalid", true},
    [PROTO_ERR_UNKNOWN_NAMESPACE] = {"unknown_namespace", true},
    [PROTO_ERR_NOT_AUTHORIZED] = {"not_authorized", true},
    [PROTO_ERR_ALREADY_JOINED] = {"already_joined", true},
    [PROTO_ERR_NOT_JOINED] = {"not_joined", true},
    [PROTO_ERR_TOO_MANY_CHANNELS] = {"too_many_channels", true},
    [PROTO_ERR_RATE_LIMITED] = {"rate_limited", true},
    [PROTO_ERR_MESSAGE_TOO_LARGE] = {"message_too_large", true},
    [PROTO_ERR_PRESENCE_DISABLED] = {"presence_disabled", true},
    [PROTO_ERR_TYPING_DISABLED] = {"typing_disabled", true},
    [PROTO_ERR_HISTORY_DISABLED] = {"history_disabled", true},
    [PROTO_ERR_EPOCH_MISMATCH] = {"epoch_mismatch", false},
    [PROTO_ERR_CHANNEL_FULL] = {"channel_full", false},
    [PROTO_ERR_SERVER_BUSY] = {"server_busy", false},
    [PROTO_ERR_STORAGE_UNAVAILABLE] = {"storage_unavailable", false},
    [PROTO_ERR_INTERNAL] = {"internal_error", false},
};

const char *proto_error_name(enum proto_error error)
{
    return (unsigned)error < PROTO_ERROR_COUNT ? errors[error].name : "unknown";
}

const char *proto_type_name(enum proto_type type)
{
    return (unsigned)type < PROTO_TYPE_COUNT ? type_names[type] : "unknown";
}

bool proto_error_strikes(enum proto_error error)
{
    return (unsigned)error < PROTO_ERROR_COUNT && errors[error].strikes;
}

/* ---- sentences ---- */

/* A sentence being written into a PROTO_ERROR_TEXT_BYTES buffer. Pieces are appended whole
 * or not at all, so a sentence that runs out of room never ends inside a UTF-8 character
 * or an escape. */
struct sentence {
    char *buf;
    size_t len;
};

static struct sentence sentence_begin(char *buf)
{
    assert(buf != NULL);
    buf[0] = '\0';
    return (struct sentence){buf, 0};
}

static void sentence_put(struct sentence *s, const char *piece, size_t len)
{
    assert(s->len < PROTO_ERROR_TEXT_BYTES);
    if (len >= PROTO_ERROR_TEXT_BYTES - s->len) {
        return;
    }
    memcpy(s->buf + s->len, piece, len);
    s->len += len;
    s->buf[s->len] = '\0';
}

static void sentence_printf(struct sentence *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sentence_printf(struct sentence *s, const char *fmt, ...)
{
    char piece[PROTO_ERROR_TEXT_BYTES];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(piece, sizeof(piece), fmt, ap);
    va_end(ap);
    assert(n >= 0 && (size_t)n < sizeof(piece)); /* the formats are ours and short */
    if (n > 0 && (size_t)n < sizeof(piece)) {
        sentence_put(s, piece, (size_t)n);
    }
}

/* The length of the UTF-8 sequence a lead byte starts; 0 for a byte that starts none. */
static size_t utf8_sequence_len(uint8_t lead)
{
    if (lead >= 0xC2 && lead <= 0xDF) {
        return 2;
    }
    if (lead >= 0xE0 && lead <= 0xEF) {
        return 3;
    }
    return lead >= 0xF0 && lead <= 0xF4 ? 4 : 0;
}

/* Renders bytes[*i] onward as one piece of a JSON string: printable ASCII as itself, '"'
 * and '\\' escaped, other ASCII as \u00XX, a valid UTF-8 character whole, an invalid byte
 * as \ufffd. Returns the piece's length, 0 when a character is cut off by the end of a
 * prefix (`more`: the bytes go on beyond `len`). Advances *i past what it rendered. */
static size_t quote_piece(const uint8_t *bytes, size_t len, bool more, size_t *i, char piece[8])
{
    uint8_t c = bytes[*i];
    if (c >= 0x20 && c < 0x7F) {
        size_t n = 0;
        if (c == '"' || c == '\\') {
            piece[n++] = '\\';
        }
        piece[n++] = (char)c;
        *i += 1;
        return n;
    }
    if (c < 0x80) {
        *i += 1;
        return (size_t)snprintf(piece, 8, "\\u%04x", c);
    }
    size_t seq = utf8_sequence_len(c);
    if (seq > len - *i && more) {
        return 0;
    }
    if (seq > 0 && seq <= len - *i && utf8_is_valid(bytes + *i, seq)) {
        memcpy(piece, bytes + *i, seq);
        *i += seq;
        return seq;
    }
    *i += 1;
    memcpy(piece, "\\ufffd", 6);
    return 6;
}

/* Appends `bytes` as a quoted JSON string of at most QUOTE_TEXT_BYTES_MAX bytes between the
 * quotes, followed by "..." when it was cut or `more` says the bytes are only a prefix. */
static void sentence_quote(struct sentence *s, const char *bytes, size_t len, bool more)
{
    assert(bytes != NULL || len == 0);
    const uint8_t *p = (const uint8_t *)bytes;
    char quoted[QUOTE_TEXT_BYTES_MAX + 8];
    size_t n = 0;
    size_t i = 0;
    quoted[n++] = '"';
    while (i < len) {
        char piece[8];
        size_t at = i;
        size_t piece_len = quote_piece(p, len, more, &i, piece);
        if (piece_len == 0 || n - 1 + piece_len > QUOTE_TEXT_BYTES_MAX) {
            i = at;
            break;
        }
        memcpy(quoted + n, piece, piece_len);
        n += piece_len;
    }
    assert(n <= QUOTE_TEXT_BYTES_MAX + 1);
    if (i < len || more) {
        memcpy(quoted + n, "...", 3);
        n += 3;
    }
    quoted[n++] = '"';
    sentence_put(s, quoted, n);
}

/* Appends a raw (validated) JSON string span, decoded, as sentence_quote writes it. */
static void sentence_quote_raw(struct sentence *s, struct json_span raw)
{
    char decoded[KEY_DECODE_BYTES];
    long n = json_string_decode(raw, decoded, sizeof(decoded));
    /* -1 means more than KEY_DECODE_BYTES: `decoded` holds the first KEY_DECODE_BYTES. */
    sentence_quote(s, decoded, n < 0 ? sizeof(decoded) : (size_t)n, n < 0);
}

static enum proto_error fail(struct proto_parse_result *res, enum proto_error error)
{
    assert(error != PROTO_OK && res->text[0] != '\0');
    res->error = error;
    return error;
}

static const char *json_type_article_name(enum json_type type)
{
    static const char *const names[] = {
        [JSON_NULL] = "null",        [JSON_FALSE] = "false",     [JSON_TRUE] = "true",
        [JSON_NUMBER] = "a number",  [JSON_STRING] = "a string", [JSON_ARRAY] = "an array",
        [JSON_OBJECT] = "an object",
    };
    return (unsigned)type <= JSON_OBJECT ? names[type] : "a value";
}

/* ---- channel names (section 4.1) and namespaces (4.2) ---- */

static bool is_alnum(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool channel_char_allowed(uint8_t c)
{
    return is_alnum(c) || (c != '\0' && strchr("_-.:@/=", c) != NULL);
}

/* Names a character for a sentence: 'x' when printable, U+XXXX otherwise (the code point of
 * a valid UTF-8 character), "byte 0xXX" for a byte that starts no valid character. */
static void sentence_char(struct sentence *s, const char *name, size_t len, size_t at)
{
    const uint8_t *p = (const uint8_t *)name;
    uint8_t c = p[at];
    if (c >= 0x20 && c < 0x7F) {
        sentence_printf(s, "'%c'", c);
        return;
    }
    if (c < 0x80) {
        sentence_printf(s, "U+%04X", c);
        return;
    }
    size_t seq = utf8_sequence_len(c);
    if (seq == 0 || seq > len - at || !utf8_is_valid(p + at, seq)) {
        sentence_printf(s, "byte 0x%02X", c);
        return;
    }
    static const uint8_t lead_mask[5] = {0, 0, 0x1F, 0x0F, 0x07};
    uint32_t cp = c & lead_mask[seq];
    for (size_t k = 1; k < seq; k++) {
        cp = cp << 6 | (p[at + k] & 0x3Fu);
    }
    sentence_printf(s, "U+%04X", (unsigned)cp);
}

bool proto_channel_check(const char *name, size_t len, struct proto_channel *out, char *text)
{
    assert(name != NULL || len == 0);
    assert(out != NULL && text != NULL);
    struct sentence s;
    if (len == 0) {
        s = sentence_begin(text);
        sentence_printf(&s, "the channel name is empty; names are 1 to %d bytes of %s",
                        PROTO_CHANNEL_BYTES_MAX, PROTO_NAME_CHARS);
        return false;
    }
    if (len > PROTO_CHANNEL_BYTES_MAX) {
        s = sentence_begin(text);
        sentence_put(&s, "channel ", 8);
        sentence_quote(&s, name, len, false);
        sentence_printf(&s, " is %zu bytes long; names are 1 to %d bytes of %s", len,
                        PROTO_CHANNEL_BYTES_MAX, PROTO_NAME_CHARS);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!channel_char_allowed((uint8_t)name[i])) {
            s = sentence_begin(text);
            sentence_put(&s, "channel ", 8);
            sentence_quote(&s, name, len, false);
            sentence_put(&s, " has ", 5);
            sentence_char(&s, name, len, i);
            sentence_printf(&s, " at byte %zu; names use %s", i, PROTO_NAME_CHARS);
            return false;
        }
    }
    memmove(out->name, name, len);
    out->name[len] = '\0';
    out->len = (uint16_t)len;
    const char *colon = memchr(out->name, ':', len);
    out->has_namespace = colon != NULL;
    out->namespace_len = colon != NULL ? (uint16_t)(colon - out->name) : 0;
    assert(out->namespace_len < out->len || out->namespace_len == 0);
    return true;
}

bool proto_namespace_name_valid(const char *name, size_t len)
{
    assert(name != NULL || len == 0);
    if (len == 0 || len > PROTO_NAMESPACE_BYTES_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* ---- step 1: JSON; step 2: id ---- */

/* The raw key whose opening quote is at text[at] (a key the scanner has read whole). */
static struct json_span key_at(const char *text, size_t len, size_t at)
{
    assert(at < len && text[at] == '"');
    size_t i = at + 1;
    while (i < len && text[i] != '"') {
        i += text[i] == '\\' ? 2 : 1;
    }
    assert(i < len);
    return (struct json_span){text + at, i < len ? i + 1 - at : len - at};
}

/* The sentence for a failed json_object_scan of the message or of `since` (`where`). */
static enum proto_error json_fail(const char *text, size_t len, const struct json_result *jr,
                                  const char *where, struct proto_parse_result *res)
{
    struct sentence s = sentence_begin(res->text);
    switch (jr->error) {
    case JSON_ERR_NOT_OBJECT:
        sentence_printf(&s, "%s must be a JSON object", where);
        break;
    case JSON_ERR_TOO_MANY_MEMBERS:
        sentence_printf(&s, "%s has more than %d members; no request has that many", where,
                        PROTO_MEMBERS_MAX);
        break;
    case JSON_ERR_DUPLICATE_KEY:
        sentence_put(&s, "key ", 4);
        sentence_quote_raw(&s, key_at(text, len, jr->offset));
        sentence_printf(&s, " appears twice in %s; give each field once", where);
        break;
    case JSON_ERR_DEPTH:
        sentence_printf(&s,
                        "invalid JSON at byte %zu: nesting deeper than %d levels (the "
                        "message object counts as one)",
                        jr->offset, PROTO_JSON_DEPTH_MAX);
        break;
    default:
        sentence_printf(&s, "invalid JSON at byte %zu: %s", jr->offset, json_error_text(jr->error));
        break;
    }
    return fail(res, PROTO_ERR_BAD_REQUEST);
}

/* An integer as the protocol writes them: digits only (no sign, fraction or exponent),
 * 0..PROTO_INT_MAX. */
static bool uint_read(const struct json_member *m, uint64_t *out)
{
    uint64_t v = 0;
    if (m->type != JSON_NUMBER || m->value.ptr[0] == '-' || !json_number_to_u64(m->value, &v) ||
        v > PROTO_INT_MAX) {
        return false;
    }
    *out = v;
    return true;
}

static bool id_valid(const struct json_member *id)
{
    uint64_t ignored = 0;
    if (id->type == JSON_STRING) {
        size_t between_quotes = id->value.len - 2;
        return between_quotes >= 1 && between_quotes <= PROTO_ID_BYTES_MAX;
    }
    return uint_read(id, &ignored);
}

enum proto_error proto_parse_head(const char *msg, size_t len, struct proto_request *req,
                                  struct json_member members[PROTO_MEMBERS_MAX],
                                  size_t *member_count, struct proto_parse_result *res)
{
    assert(msg != NULL && req != NULL && members != NULL);
    assert(member_count != NULL && res != NULL);
    memset(req, 0, sizeof(*req));
    req->typing = true;
    res->error = PROTO_OK;
    res->type_known = false;
    res->text[0] = '\0';
    *member_count = 0;

    struct json_result jr;
    if (json_object_scan(msg, len, PROTO_JSON_DEPTH_MAX, members, PROTO_MEMBERS_MAX, member_count,
                         &jr) != JSON_OK) {
        return json_fail(msg, len, &jr, "the message", res);
    }
    const struct json_member *id = json_member_find(members, *member_count, "id");
    if (id != NULL && !id_valid(id)) {
        struct sentence s = sentence_begin(res->text);
        sentence_printf(&s, "\"id\" must be a string of 1 to %d bytes or an integer from 0 to %llu",
                        PROTO_ID_BYTES_MAX, PROTO_INT_MAX);
        return fail(res, PROTO_ERR_BAD_REQUEST);
    }
    if (id != NULL) {
        req->has_id = true;
        req->id = id->value;
    }
    return PROTO_OK;
}

/* ---- step 4: type; step 5: fields ---- */

enum field {
    FIELD_CHANNEL,
    FIELD_SINCE,
    FIELD_TOKEN,
    FIELD_DATA,
    FIELD_TYPING,
    FIELD_LIMIT,
    FIELD_DIRECTION,
    FIELD_COUNT
};

#define BIT(f) (1u << (f))

static const char *const field_names[FIELD_COUNT] = {
    [FIELD_CHANNEL] = "channel",     [FIELD_SINCE] = "since",   [FIELD_TOKEN] = "token",
    [FIELD_DATA] = "data",           [FIELD_TYPING] = "typing", [FIELD_LIMIT] = "limit",
    [FIELD_DIRECTION] = "direction",
};

/* Section 6: the fields each type defines besides "type" and "id", and those it requires. */
static const struct {
    unsigned allowed;
    unsigned required;
} type_fields[PROTO_TYPE_COUNT] = {
    [PROTO_CONNECT] = {BIT(FIELD_TOKEN), 0},
    [PROTO_JOIN_CHANNEL] = {BIT(FIELD_CHANNEL) | BIT(FIELD_SINCE), BIT(FIELD_CHANNEL)},
    [PROTO_LEAVE_CHANNEL] = {BIT(FIELD_CHANNEL), BIT(FIELD_CHANNEL)},
    [PROTO_SEND_MESSAGE] = {BIT(FIELD_CHANNEL) | BIT(FIELD_DATA),
                            BIT(FIELD_CHANNEL) | BIT(FIELD_DATA)},
    [PROTO_USER_TYPING] = {BIT(FIELD_CHANNEL) | BIT(FIELD_TYPING), BIT(FIELD_CHANNEL)},
    [PROTO_PRESENCE] = {BIT(FIELD_CHANNEL), BIT(FIELD_CHANNEL)},
    [PROTO_HISTORY] = {BIT(FIELD_CHANNEL) | BIT(FIELD_SINCE) | BIT(FIELD_LIMIT) |
                           BIT(FIELD_DIRECTION),
                       BIT(FIELD_CHANNEL)},
    [PROTO_PING] = {0, 0},
};

/* What proto_parse_body carries from step 5 to step 7. */
struct body {
    struct proto_request *req;
    struct proto_parse_result *res;
    const struct json_member *channel; /* the "channel" member, its name checked at step 7 */
};

static enum proto_error field_fail(struct body *b, const char *sentence)
{
    struct sentence s = sentence_begin(b->res->text);
    sentence_put(&s, sentence, strlen(sentence));
    return fail(b->res, PROTO_ERR_BAD_REQUEST);
}

static enum proto_error unknown_field(struct body *b, struct json_span key, const char *where)
{
    struct sentence s = sentence_begin(b->res->text);
    sentence_put(&s, "unknown field ", 14);
    sentence_quote_raw(&s, key);
    sentence_printf(&s, " in %s", where);
    return fail(b->res, PROTO_ERR_BAD_REQUEST);
}

static enum proto_error missing_field(struct body *b, const char *field, const char *where)
{
    struct sentence s = sentence_begin(b->res->text);
    sentence_printf(&s, "missing field \"%s\" in %s", field, where);
    return fail(b->res, PROTO_ERR_BAD_REQUEST);
}

static enum proto_error type_read(struct body *b, const struct json_member *members, size_t count)
{
    const struct json_member *type = json_member_find(members, count, "type");
    if (type == NULL) {
        return field_fail(
            b, "missing field \"type\": every message names its type, one of " PROTO_CLIENT_TYPES);
    }
    if (type->type != JSON_STRING) {
        struct sentence s = sentence_begin(b->res->text);
        sentence_printf(&s, "field \"type\" must be a string, not %s",
                        json_type_article_name(type->type));
        return fail(b->res, PROTO_ERR_BAD_REQUEST);
    }
    for (unsigned t = 0; t < PROTO_TYPE_COUNT; t++) {
        if (json_string_equals(type->value, type_names[t])) {
            b->req->type = (enum proto_type)t;
            b->res->type_known = true;
            return PROTO_OK;
        }
    }
    struct sentence s = sentence_begin(b->res->text);
    sentence_put(&s, "unknown type ", 13);
    sentence_quote_raw(&s, type->value);
    sentence_put(&s, "; client messages are " PROTO_CLIENT_TYPES,
                 strlen("; client messages are " PROTO_CLIENT_TYPES));
    return fail(b->res, PROTO_ERR_UNKNOWN_TYPE);
}

static bool epoch_char_allowed(uint8_t c)
{
    return is_alnum(c) || c == '_' || c == '-';
}

static enum proto_error since_epoch_read(struct body *b, const struct json_member *m)
{
    static const char sentence[] = "field \"since.epoch\" must be a string of 1 to 32 bytes of "
                                   "A-Z a-z 0-9 _ -, as the server sent it";
    struct proto_since *since = &b->req->since;
    if (m->type != JSON_STRING) {
        return field_fail(b, sentence);
    }
    long n = json_string_decode(m->value, since->epoch, PROTO_EPOCH_BYTES_MAX);
    if (n < 1) {
        return field_fail(b, sentence);
    }
    for (long i = 0; i < n; i++) {
        if (!epoch_char_allowed((uint8_t)since->epoch[i])) {
            return field_fail(b, sentence);
        }
    }
    since->epoch[n] = '\0';
    since->epoch_len = (uint8_t)n;
    return PROTO_OK;
}

static enum proto_error since_read(struct body *b, const struct json_member *m)
{
    if (m->type != JSON_OBJECT) {
        return field_fail(b, "field \"since\" must be an object {\"offset\": integer, "
                             "\"epoch\": string}");
    }
    struct json_member members[PROTO_MEMBERS_MAX];
    size_t count = 0;
    struct json_result jr;
    if (json_object_scan(m->value.ptr, m->value.len, PROTO_JSON_DEPTH_MAX, members,
                         PROTO_MEMBERS_MAX, &count, &jr) != JSON_OK) {
        return json_fail(m->value.ptr, m->value.len, &jr, "field \"since\"", b->res);
    }
    bool has_offset = false;
    bool has_epoch = false;
    for (size_t i = 0; i < count; i++) {
        const struct json_member *sm = &members[i];
        enum proto_error err = PROTO_OK;
        if (json_string_equals(sm->key, "offset")) {
            has_offset = true;
            if (!uint_read(sm, &b->req->since.offset)) {
                err = field_fail(b, "field \"since.offset\" must be an integer from 0 to "
                                    "9007199254740991");
            }
        } else if (json_string_equals(sm->key, "epoch")) {
            has_epoch = true;
            err = since_epoch_read(b, sm);
        } else {
            err = unknown_field(b, sm->key, "since");
        }
        if (err != PROTO_OK) {
            return err;
        }
    }
    if (!has_offset || !has_epoch) {
        return missing_field(b, has_offset ? "epoch" : "offset", "since");
    }
    b->req->has_since = true;
    return PROTO_OK;
}

static enum proto_error field_read(struct body *b, enum field f, const struct json_member *m)
{
    struct proto_request *req = b->req;
    switch (f) {
    case FIELD_CHANNEL:
        if (m->type != JSON_STRING) {
            return field_fail(b, "field \"channel\" must be a string");
        }
        b->channel = m;
        return PROTO_OK;
    case FIELD_SINCE:
        return since_read(b, m);
    case FIELD_TOKEN:
        if (m->type != JSON_STRING) {
            return field_fail(b, "field \"token\" must be a string (a JWT)");
        }
        req->has_token = true;
        req->token = m->value;
        return PROTO_OK;
    case FIELD_DATA:
        req->has_data = true;
        req->data = m->value;
        return PROTO_OK;
    case FIELD_TYPING:
        if (m->type != JSON_TRUE && m->type != JSON_FALSE) {
            return field_fail(b, "field \"typing\" must be true or false");
        }
        req->typing = m->type == JSON_TRUE;
        return PROTO_OK;
    case FIELD_LIMIT:
        if (!uint_read(m, &req->limit) || req->limit == 0) {
            return field_fail(b, "field \"limit\" must be an integer from 1 to 9007199254740991 "
                                 "(the server's page maximum applies)");
        }
        return PROTO_OK;
    case FIELD_DIRECTION:
        if (m->type != JSON_STRING || (!json_string_equals(m->value, "forward") &&
                                       !json_string_equals(m->value, "backward"))) {
            return field_fail(b, "field \"direction\" must be \"forward\" or \"backward\"");
        }
        req->backward = json_string_equals(m->value, "backward");
        return PROTO_OK;
    case FIELD_COUNT:
        break;
    }
    assert(!"unreachable: field_read on FIELD_COUNT");
    return field_fail(b, "internal error: unknown field kind");
}

/* The field a key names, among all types' fields; FIELD_COUNT when none. */
static enum field field_find(struct json_span key)
{
    for (unsigned f = 0; f < FIELD_COUNT; f++) {
        if (json_string_equals(key, field_names[f])) {
            return (enum field)f;
        }
    }
    return FIELD_COUNT;
}

static enum proto_error fields_read(struct body *b, const struct json_member *members, size_t count)
{
    enum proto_type type = b->req->type;
    unsigned seen = 0;
    for (size_t i = 0; i < count; i++) {
        const struct json_member *m = &members[i];
        if (json_string_equals(m->key, "type") || json_string_equals(m->key, "id")) {
            continue;
        }
        enum field f = field_find(m->key);
        if (f == FIELD_COUNT || (type_fields[type].allowed & BIT(f)) == 0) {
            return unknown_field(b, m->key, type_names[type]);
        }
        enum proto_error err = field_read(b, f, m);
        if (err != PROTO_OK) {
            return err;
        }
        seen |= BIT(f);
    }
    unsigned missing = type_fields[type].required & ~seen;
    for (unsigned f = 0; f < FIELD_COUNT; f++) {
        if (missing & BIT(f)) {
            return missing_field(b, field_names[f], type_names[type]);
        }
    }
    return PROTO_OK;
}

/* ---- step 7: the channel name ---- */

static enum proto_error channel_read(struct body *b)
{
    char name[PROTO_CHANNEL_BYTES_MAX];
    long n = json_string_decode(b->channel->value, name, sizeof(name));
    if (n < 0) {
        struct sentence s = sentence_begin(b->res->text);
        sentence_put(&s, "channel ", 8);
        sentence_quote(&s, name, sizeof(name), true);
        sentence_printf(&s, " is longer than %d bytes; names are 1 to %d bytes of %s",
                        PROTO_CHANNEL_BYTES_MAX, PROTO_CHANNEL_BYTES_MAX, PROTO_NAME_CHARS);
        return fail(b->res, PROTO_ERR_CHANNEL_NAME_INVALID);
    }
    if (!proto_channel_check(name, (size_t)n, &b->req->channel, b->res->text)) {
        return fail(b->res, PROTO_ERR_CHANNEL_NAME_INVALID);
    }
    b->req->has_channel = true;
    return PROTO_OK;
}

enum proto_error proto_parse_body(const struct json_member *members, size_t member_count,
                                  struct proto_request *req, struct proto_parse_result *res)
{
    assert(members != NULL || member_count == 0);
    assert(req != NULL && res != NULL && member_count <= PROTO_MEMBERS_MAX);
    res->error = PROTO_OK;
    res->type_known = false;
    res->text[0] = '\0';
    struct body b = {req, res, NULL};
    enum proto_error err = type_read(&b, members, member_count);
    if (err == PROTO_OK) {
        err = fields_read(&b, members, member_count);
    }
    if (err == PROTO_OK && b.channel != NULL) {
        err = channel_read(&b);
    }
    assert(err == res->error);
    return err;
}
