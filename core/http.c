/* Strict HTTP/1.1 head parser: see http.h for the grammar we accept.
 *
 * The one thing to know before changing it: the parser is a single left-to-right scan that
 * stops at the first byte no valid head could contain at that position, and reports the error
 * that byte implies. So an error reported for a prefix is the error the whole head gets, a
 * valid prefix is always HTTP_PARSE_INCOMPLETE, and garbage is refused as soon as it arrives
 * instead of when the caller's size limit runs out. tests/fuzz/fuzz_http.c checks both
 * properties; keep them.
 *
 * A bare LF, or a CR not followed by LF, is always HTTP_PARSE_BAD_LINE_ENDING; a CRLF where
 * the current element cannot end is a malformed line (request line, status line or header).
 */
#include "core/http.h"

#include <assert.h>
#include <limits.h>
#include <string.h>

/* The bytes of the head, and how far the scan has got. */
struct cursor {
    const char *buf;
    size_t len;
    size_t pos;
};

static const char *const http_parse_result_names[] = {
    [HTTP_PARSE_OK] = "ok",
    [HTTP_PARSE_INCOMPLETE] = "incomplete",
    [HTTP_PARSE_BAD_REQUEST_LINE] = "bad_request_line",
    [HTTP_PARSE_BAD_STATUS_LINE] = "bad_status_line",
    [HTTP_PARSE_BAD_VERSION] = "bad_version",
    [HTTP_PARSE_BAD_HEADER] = "bad_header",
    [HTTP_PARSE_TOO_MANY_HEADERS] = "too_many_headers",
    [HTTP_PARSE_BAD_LINE_ENDING] = "bad_line_ending",
};

/* Absolute-form targets we accept (RFC 9112 section 3.2.2); schemes compare case-insensitively. */
static const char *const http_absolute_schemes[] = {"http://", "https://", "ws://", "wss://"};

static unsigned char ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

static bool bytes_equal_nocase(const char *a, const char *b, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
            return false;
    }
    return true;
}

/* tchar (RFC 9110 section 5.6.2): the characters of methods and field names. */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_vchar(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e;
}

static bool is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* field-vchar / SP / HTAB (RFC 9110 section 5.5); also the reason-phrase alphabet. */
static bool is_field_char(unsigned char c)
{
    return is_vchar(c) || c >= 0x80 || is_ows(c);
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Advances over the bytes `accept` takes; returns how many. */
static size_t cursor_span(struct cursor *c, bool (*accept)(unsigned char))
{
    size_t start = c->pos;
    while (c->pos < c->len && accept((unsigned char)c->buf[c->pos]))
        c->pos++;
    return c->pos - start;
}

/* Classifies the byte at the cursor, which the current element cannot take: a bare LF or CR
 * is a line-ending error, a CRLF ends the line too early (`malformed`), anything else is
 * `malformed`, and a CR at the very end needs the next byte to decide. */
static enum http_parse_result cursor_stop(const struct cursor *c, enum http_parse_result malformed)
{
    assert(c->pos < c->len);
    assert(malformed != HTTP_PARSE_OK && malformed != HTTP_PARSE_INCOMPLETE);
    char ch = c->buf[c->pos];
    if (ch == '\n')
        return HTTP_PARSE_BAD_LINE_ENDING;
    if (ch != '\r')
        return malformed;
    if (c->pos + 1 == c->len)
        return HTTP_PARSE_INCOMPLETE;
    return c->buf[c->pos + 1] == '\n' ? malformed : HTTP_PARSE_BAD_LINE_ENDING;
}

/* Consumes the byte `want`. */
static enum http_parse_result cursor_expect(struct cursor *c, char want,
                                            enum http_parse_result malformed)
{
    if (c->pos == c->len)
        return HTTP_PARSE_INCOMPLETE;
    if (c->buf[c->pos] != want)
        return cursor_stop(c, malformed);
    c->pos++;
    return HTTP_PARSE_OK;
}

/* Consumes a CRLF. */
static enum http_parse_result cursor_crlf(struct cursor *c, enum http_parse_result malformed)
{
    if (c->pos + 1 < c->len && c->buf[c->pos] == '\r' && c->buf[c->pos + 1] == '\n') {
        c->pos += 2;
        return HTTP_PARSE_OK;
    }
    if (c->pos == c->len)
        return HTTP_PARSE_INCOMPLETE;
    return cursor_stop(c, malformed);
}

/* A non-empty token (method, field name) and the byte `delim` after it. */
static enum http_parse_result parse_token(struct cursor *c, char delim,
                                          enum http_parse_result malformed, struct http_span *out)
{
    out->ptr = c->buf + c->pos;
    out->len = cursor_span(c, is_tchar);
    if (out->len == 0 && c->pos < c->len && c->buf[c->pos] == delim)
        return malformed;
    return cursor_expect(c, delim, malformed);
}

/* HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 section 2.3). */
static enum http_parse_result parse_version(struct cursor *c, enum http_parse_result malformed,
                                            bool *is_http11)
{
    static const char pattern[] = "HTTP/#.#";
    size_t start = c->pos;
    for (size_t i = 0; i + 1 < sizeof pattern; i++, c->pos++) {
        if (c->pos == c->len)
            return HTTP_PARSE_INCOMPLETE;
        unsigned char ch = (unsigned char)c->buf[c->pos];
        bool match = pattern[i] == '#' ? is_digit(ch) : ch == (unsigned char)pattern[i];
        if (!match)
            return cursor_stop(c, malformed);
    }
    *is_http11 = memcmp(c->buf + start, "HTTP/1.1", sizeof pattern - 1) == 0;
    return HTTP_PARSE_OK;
}

/* Whether `t` (visible ASCII) is a target we accept (OK), could still become one with more
 * bytes (INCOMPLETE), or never can (BAD_REQUEST_LINE). Origin-form starts with '/';
 * absolute-form is one of our schemes and a non-empty authority. */
static enum http_parse_result target_check(struct http_span t)
{
    if (t.len > 0 && t.ptr[0] == '/')
        return HTTP_PARSE_OK;
    size_t scheme_count = sizeof http_absolute_schemes / sizeof http_absolute_schemes[0];
    for (size_t i = 0; i < scheme_count; i++) {
        const char *scheme = http_absolute_schemes[i];
        size_t scheme_len = strlen(scheme);
        size_t n = t.len < scheme_len ? t.len : scheme_len;
        if (!bytes_equal_nocase(t.ptr, scheme, n))
            continue;
        if (t.len <= scheme_len)
            return HTTP_PARSE_INCOMPLETE;
        bool authority_empty = t.ptr[scheme_len] == '/' || t.ptr[scheme_len] == '?';
        return authority_empty ? HTTP_PARSE_BAD_REQUEST_LINE : HTTP_PARSE_OK;
    }
    return HTTP_PARSE_BAD_REQUEST_LINE;
}

/* Sets path and query from a target that passed target_check. For absolute-form the path is
 * what follows the authority, which may be empty. */
static void target_split(struct http_request *req)
{
    const char *t = req->target.ptr;
    size_t len = req->target.len;
    size_t path_at = 0;
    if (t[0] != '/') {
        const char *authority = memchr(t, '/', len);
        assert(authority != NULL && authority[1] == '/');
        path_at = (size_t)(authority - t) + 2;
        while (path_at < len && t[path_at] != '/' && t[path_at] != '?')
            path_at++;
    }
    const char *mark = memchr(t + path_at, '?', len - path_at);
    size_t path_end = mark != NULL ? (size_t)(mark - t) : len;
    req->path = (struct http_span){t + path_at, path_end - path_at};
    size_t query_at = mark != NULL ? path_end + 1 : len;
    req->query = (struct http_span){t + query_at, len - query_at};
    assert(req->path.len + req->query.len <= len);
}

/* request-line = method SP request-target SP HTTP-version CRLF (RFC 9112 section 3). */
static enum http_parse_result parse_request_line(struct cursor *c, struct http_request *req)
{
    enum http_parse_result r = parse_token(c, ' ', HTTP_PARSE_BAD_REQUEST_LINE, &req->method);
    if (r != HTTP_PARSE_OK)
        return r;
    req->target.ptr = c->buf + c->pos;
    req->target.len = cursor_span(c, is_vchar);
    r = target_check(req->target);
    if (r == HTTP_PARSE_BAD_REQUEST_LINE)
        return r;
    if (c->pos == c->len)
        return HTTP_PARSE_INCOMPLETE;
    if (r == HTTP_PARSE_INCOMPLETE)
        return cursor_stop(c, HTTP_PARSE_BAD_REQUEST_LINE);
    r = cursor_expect(c, ' ', HTTP_PARSE_BAD_REQUEST_LINE);
    if (r != HTTP_PARSE_OK)
        return r;
    bool is_http11 = false;
    r = parse_version(c, HTTP_PARSE_BAD_REQUEST_LINE, &is_http11);
    if (r == HTTP_PARSE_OK)
        r = cursor_crlf(c, HTTP_PARSE_BAD_REQUEST_LINE);
    if (r != HTTP_PARSE_OK)
        return r;
    target_split(req);
    return is_http11 ? HTTP_PARSE_OK : HTTP_PARSE_BAD_VERSION;
}

/* status-line = HTTP-version SP status-code SP [reason-phrase] CRLF (RFC 9112 section 4).
 * A missing SP before an empty reason is tolerated: servers do omit it, and a client loses
 * nothing by accepting it. */
static enum http_parse_result parse_status_line(struct cursor *c, struct http_response *res)
{
    bool is_http11 = false;
    enum http_parse_result r = parse_version(c, HTTP_PARSE_BAD_STATUS_LINE, &is_http11);
    if (r == HTTP_PARSE_OK)
        r = cursor_expect(c, ' ', HTTP_PARSE_BAD_STATUS_LINE);
    if (r != HTTP_PARSE_OK)
        return r;
    if (!is_http11)
        return HTTP_PARSE_BAD_VERSION;
    res->status = 0;
    for (int i = 0; i < 3; i++, c->pos++) {
        if (c->pos == c->len)
            return HTTP_PARSE_INCOMPLETE;
        unsigned char ch = (unsigned char)c->buf[c->pos];
        bool ok = i == 0 ? (ch >= '1' && ch <= '5') : is_digit(ch);
        if (!ok)
            return cursor_stop(c, HTTP_PARSE_BAD_STATUS_LINE);
        res->status = res->status * 10 + (ch - '0');
    }
    assert(res->status >= 100 && res->status <= 599);
    res->reason = (struct http_span){c->buf + c->pos, 0};
    if (c->pos < c->len && c->buf[c->pos] == ' ') {
        c->pos++;
        res->reason.ptr = c->buf + c->pos;
        res->reason.len = cursor_span(c, is_field_char);
    }
    return cursor_crlf(c, HTTP_PARSE_BAD_STATUS_LINE);
}

/* At the start of a line in the field section: sets *end when it is the empty line that
 * ends the head (and consumes it). Leading whitespace is obs-fold or space before a name. */
static enum http_parse_result field_line_start(struct cursor *c, bool *end)
{
    *end = false;
    if (c->pos == c->len)
        return HTTP_PARSE_INCOMPLETE;
    char ch = c->buf[c->pos];
    if (is_ows((unsigned char)ch))
        return HTTP_PARSE_BAD_HEADER;
    if (ch != '\r' && ch != '\n')
        return HTTP_PARSE_OK;
    enum http_parse_result r = cursor_crlf(c, HTTP_PARSE_BAD_HEADER);
    *end = r == HTTP_PARSE_OK;
    return r;
}

/* field-line = field-name ":" OWS field-value OWS CRLF (RFC 9112 section 5). */
static enum http_parse_result parse_field_line(struct cursor *c, struct http_header *h)
{
    enum http_parse_result r = parse_token(c, ':', HTTP_PARSE_BAD_HEADER, &h->name);
    if (r != HTTP_PARSE_OK)
        return r;
    cursor_span(c, is_ows);
    h->value.ptr = c->buf + c->pos;
    h->value.len = cursor_span(c, is_field_char);
    r = cursor_crlf(c, HTTP_PARSE_BAD_HEADER);
    if (r != HTTP_PARSE_OK)
        return r;
    while (h->value.len > 0 && is_ows((unsigned char)h->value.ptr[h->value.len - 1]))
        h->value.len--;
    assert(h->name.len > 0);
    return HTTP_PARSE_OK;
}

/* The field lines and the empty line that ends the head. */
static enum http_parse_result parse_fields(struct cursor *c, struct http_header *headers,
                                           size_t headers_max, size_t *count)
{
    assert(headers != NULL || headers_max == 0);
    bool end = false;
    enum http_parse_result r;
    for (*count = 0; *count < headers_max; (*count)++) {
        r = field_line_start(c, &end);
        if (r != HTTP_PARSE_OK || end)
            return r;
        r = parse_field_line(c, &headers[*count]);
        if (r != HTTP_PARSE_OK)
            return r;
    }
    r = field_line_start(c, &end);
    if (r != HTTP_PARSE_OK || end)
        return r;
    return HTTP_PARSE_TOO_MANY_HEADERS;
}

enum http_parse_result http_request_parse(const char *buf, size_t len, struct http_request *req,
                                          struct http_header *headers, size_t headers_max)
{
    assert(buf != NULL || len == 0);
    assert(req != NULL);
    *req = (struct http_request){.headers = headers};
    struct cursor c = {.buf = buf, .len = len, .pos = 0};
    enum http_parse_result r = parse_request_line(&c, req);
    if (r == HTTP_PARSE_OK)
        r = parse_fields(&c, headers, headers_max, &req->header_count);
    if (r == HTTP_PARSE_OK)
        req->head_bytes = c.pos;
    return r;
}

enum http_parse_result http_response_parse(const char *buf, size_t len, struct http_response *res,
                                           struct http_header *headers, size_t headers_max)
{
    assert(buf != NULL || len == 0);
    assert(res != NULL);
    *res = (struct http_response){.headers = headers};
    struct cursor c = {.buf = buf, .len = len, .pos = 0};
    enum http_parse_result r = parse_status_line(&c, res);
    if (r == HTTP_PARSE_OK)
        r = parse_fields(&c, headers, headers_max, &res->header_count);
    if (r == HTTP_PARSE_OK)
        res->head_bytes = c.pos;
    return r;
}

const char *http_parse_result_name(enum http_parse_result result)
{
    size_t count = sizeof http_parse_result_names / sizeof http_parse_result_names[0];
    if ((size_t)result >= count)
        return "unknown";
    return http_parse_result_names[result];
}

bool http_span_equal_nocase(struct http_span span, const char *literal)
{
    assert(literal != NULL);
    size_t len = strlen(literal);
    return span.len == len && bytes_equal_nocase(span.ptr, literal, len);
}

size_t http_header_find(const struct http_header *headers, size_t count, const char *name,
                        struct http_span *value)
{
    assert(headers != NULL || count == 0);
    assert(name != NULL && value != NULL);
    size_t found = 0;
    *value = (struct http_span){NULL, 0};
    for (size_t i = 0; i < count; i++) {
        if (!http_span_equal_nocase(headers[i].name, name))
            continue;
        if (found == 0)
            *value = headers[i].value;
        found++;
    }
    return found;
}

bool http_list_next(struct http_span value, size_t *pos, struct http_span *element)
{
    assert(pos != NULL && element != NULL);
    assert(*pos <= value.len);
    while (*pos < value.len) {
        size_t start = *pos;
        const char *comma = memchr(value.ptr + start, ',', value.len - start);
        size_t end = comma != NULL ? (size_t)(comma - value.ptr) : value.len;
        *pos = comma != NULL ? end + 1 : end;
        while (start < end && is_ows((unsigned char)value.ptr[start]))
            start++;
        while (end > start && is_ows((unsigned char)value.ptr[end - 1]))
            end--;
        if (end > start) {
            *element = (struct http_span){value.ptr + start, end - start};
            return true;
        }
    }
    return false;
}

bool http_list_contains_token(struct http_span value, const char *token)
{
    assert(token != NULL);
    size_t pos = 0;
    struct http_span element;
    while (http_list_next(value, &pos, &element)) {
        if (http_span_equal_nocase(element, token))
            return true;
    }
    return false;
}

bool http_query_find(struct http_span query, const char *name, struct http_span *raw)
{
    assert(name != NULL && raw != NULL);
    size_t name_len = strlen(name);
    size_t pos = 0;
    while (pos < query.len) {
        const char *pair = query.ptr + pos;
        const char *amp = memchr(pair, '&', query.len - pos);
        size_t pair_len = amp != NULL ? (size_t)(amp - pair) : query.len - pos;
        pos += pair_len + (amp != NULL ? 1 : 0);
        const char *eq = memchr(pair, '=', pair_len);
        size_t key_len = eq != NULL ? (size_t)(eq - pair) : pair_len;
        if (key_len != name_len || memcmp(pair, name, name_len) != 0)
            continue;
        size_t value_at = eq != NULL ? key_len + 1 : key_len;
        *raw = (struct http_span){pair + value_at, pair_len - value_at};
        return true;
    }
    return false;
}

static int hex_value(unsigned char c)
{
    if (is_digit(c))
        return c - '0';
    c = ascii_lower(c);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

long http_percent_decode(struct http_span in, char *out, size_t out_cap)
{
    assert(out != NULL || out_cap == 0);
    assert(in.ptr != NULL || in.len == 0);
    if (out_cap > (size_t)LONG_MAX)
        out_cap = (size_t)LONG_MAX;
    size_t used = 0;
    for (size_t i = 0; i < in.len; i++) {
        unsigned char ch = (unsigned char)in.ptr[i];
        if (ch == '%') {
            if (in.len - i < 3)
                return -1;
            int hi = hex_value((unsigned char)in.ptr[i + 1]);
            int lo = hex_value((unsigned char)in.ptr[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            ch = (unsigned char)(hi * 16 + lo);
            i += 2;
        } else if (ch == '+') {
            ch = ' ';
        }
        if (used == out_cap)
            return -1;
        out[used++] = (char)ch;
    }
    return (long)used;
}
