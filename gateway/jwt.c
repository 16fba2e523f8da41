/* JWT verification: see jwt.h for the rules and their order. This file is the token:
 * base64url, the header, key selection, the claims and the capabilities; gateway/jwt_keys.c
 * holds the key sets and checks signatures with wolfCrypt.
 *
 * The one thing to know before changing it: key selection (token_select_and_verify) only
 * ever hands a key to the verifier of the algorithm the key was bound to when added; the
 * token's `alg` chooses among keys, never how a key is used. The order of the checks is
 * part of the contract (it decides which error a token with several faults gets), so a
 * new check goes where jwt.h's list says.
 */
#include "gateway/jwt_internal.h"

#include <assert.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"

enum {
    JWT_SIGNATURE_CHARS_MAX = 683, /* base64url of JWT_SIGNATURE_BYTES_MAX */
    JWT_ALG_NAME_BYTES_MAX = 16,   /* longer `alg` values are unsupported anyway */
};

struct jwt_error_info {
    const char *name;
    const char *text;
};

static const struct jwt_error_info jwt_errors[JWT_ERROR_COUNT] = {
    [JWT_OK] = {"ok", "the token is valid"},
    [JWT_ERR_TOO_LONG] = {"too_long", "the token is longer than this server accepts"},
    [JWT_ERR_MALFORMED] = {"malformed", "the token is not three base64url parts separated by dots"},
    [JWT_ERR_BAD_BASE64] = {"bad_base64", "a part of the token is not base64url without padding"},
    [JWT_ERR_BAD_JSON] = {"bad_json", "the token's header or payload is not a valid JSON object"},
    [JWT_ERR_BAD_HEADER] = {"bad_header",
                            "the token's header needs a string \"alg\" (and \"kid\", when "
                            "present, must be a string)"},
    [JWT_ERR_ALG_NONE] = {"alg_none", "unsigned tokens (alg \"none\") are not accepted"},
    [JWT_ERR_ALG_UNSUPPORTED] = {"alg_unsupported",
                                 "the token's alg must be HS256, RS256 or ES256"},
    [JWT_ERR_CRIT] = {"crit", "the token's header has \"crit\", which this server does not "
                              "support"},
    [JWT_ERR_NO_KEY] = {"no_key", "no key configured here matches the token's alg and kid"},
    [JWT_ERR_ALG_MISMATCH] = {"alg_mismatch",
                              "the key named by the token's kid is for another alg"},
    [JWT_ERR_BAD_SIGNATURE] = {"bad_signature", "the token's signature does not verify"},
    [JWT_ERR_MISSING_SUB] = {"missing_sub", "the token has no \"sub\" (user id) claim"},
    [JWT_ERR_BAD_SUB] = {"bad_sub", "the token's \"sub\" must be a string of 1 to 128 bytes "
                                    "without control characters"},
    [JWT_ERR_BAD_CLAIM] = {"bad_claim", "the token's exp, nbf and iat must be integer seconds, "
                                        "and aud a string or an array of strings"},
    [JWT_ERR_MISSING_EXP] = {"missing_exp", "the token has no \"exp\" (expiry) claim"},
    [JWT_ERR_BAD_CAPS] = {"bad_caps",
                          "the token's \"caps\" must be an object whose join and publish are "
                          "arrays of channel names, each optionally ending in one '*'"},
    [JWT_ERR_TOO_MANY_CAPS] = {"too_many_caps",
                               "the token's caps list more than 64 patterns for join or "
                               "publish"},
    [JWT_ERR_BAD_ISSUER] = {"bad_issuer", "the token's issuer (iss) is not accepted here"},
    [JWT_ERR_BAD_AUDIENCE] = {"bad_audience", "the token is not meant for this server (aud)"},
    [JWT_ERR_NOT_YET_VALID] = {"not_yet_valid",
                               "the token is not valid yet (nbf); check the issuer's clock"},
    [JWT_ERR_ISSUED_IN_FUTURE] = {"issued_in_future",
                                  "the token was issued in the future (iat); check the "
                                  "issuer's clock"},
    [JWT_ERR_EXPIRED] = {"expired", "the token has expired; get a new one"},
    [JWT_ERR_INTERNAL] = {"internal", "the server could not check the token; try again"},
};

_Static_assert(JWT_CAPS_MAX == 64, "jwt_errors[JWT_ERR_TOO_MANY_CAPS] says 64");
_Static_assert(JWT_SUB_BYTES_MAX == 128, "jwt_errors[JWT_ERR_BAD_SUB] says 128");
_Static_assert(JWT_PART_BYTES_MAX >= JWT_TOKEN_BYTES_MAX / 4 * 3, "decoded parts must fit");
_Static_assert(JWT_PART_BYTES_MAX < UINT16_MAX, "jwt_cap_pattern offsets are 16-bit");

static const char *const jwt_alg_names[JWT_ALG_COUNT] = {"HS256", "RS256", "ES256"};

static const char *const jwt_cap_names[JWT_CAP_COUNT] = {"join", "publish"};

const char *jwt_error_name(enum jwt_error error)
{
    return (unsigned)error < JWT_ERROR_COUNT ? jwt_errors[error].name : "unknown";
}

const char *jwt_error_text(enum jwt_error error)
{
    return (unsigned)error < JWT_ERROR_COUNT ? jwt_errors[error].text : "unknown error";
}

const char *jwt_alg_name(enum jwt_alg alg)
{
    assert((unsigned)alg < JWT_ALG_COUNT);
    return jwt_alg_names[alg];
}

bool jwt_alg_parse(const char *name, size_t len, enum jwt_alg *alg)
{
    assert(name != NULL || len == 0);
    for (unsigned i = 0; i < JWT_ALG_COUNT; i++) {
        if (len == strlen(jwt_alg_names[i]) && strncasecmp(name, jwt_alg_names[i], len) == 0) {
            *alg = (enum jwt_alg)i;
            return true;
        }
    }
    return false;
}

/* ---- base64url ---- */

static int b64url_value(uint8_t c)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *at = c != 0 ? memchr(alphabet, c, 64) : NULL;
    return at != NULL ? (int)(at - alphabet) : -1;
}

/* Strict unpadded base64url (see jwt.h, rule 1). Returns the decoded length, or -1 for a
 * bad character, an impossible length, nonzero unused bits, or more than `cap` bytes. */
static long b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
    if (len % 4 == 1 || len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0) > cap)
        return -1;
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value((uint8_t)in[i]);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    assert(n <= cap && bits < 8);
    return acc == 0 ? (long)n : -1;
}

/* ---- the token ---- */

/* The parts of the header that matter. */
struct jwt_header {
    enum jwt_alg alg;
    bool has_kid;
    size_t kid_len;
    char kid[JWT_KID_BYTES_MAX]; /* decoded, not NUL-terminated */
};

/* Selects keys by the header (jwt.h, rule 3) and verifies. Only keys bound to h->alg are
 * ever passed to jwt_key_verify. */
static enum jwt_error token_select_and_verify(const struct jwt_keyset *ks,
                                              const struct jwt_header *h,
                                              const struct jwt_signed *s, size_t *key_index)
{
    assert(ks->count <= JWT_KEYS_MAX);
    assert(!h->has_kid || h->kid_len <= JWT_KID_BYTES_MAX);
    if (h->has_kid && h->kid_len == 0)
        return JWT_ERR_NO_KEY; /* no configured key has an empty or over-long kid */
    bool any = false;
    for (size_t i = 0; i < ks->count; i++) {
        const struct jwt_key *key = &ks->keys[i];
        if (h->has_kid) {
            if (strlen(key->kid) != h->kid_len || memcmp(key->kid, h->kid, h->kid_len) != 0)
                continue;
            if (key->alg != h->alg)
                return JWT_ERR_ALG_MISMATCH;
        } else if (key->alg != h->alg) {
            continue;
        }
        any = true;
        enum jwt_error err = jwt_key_verify(key, s);
        if (err != JWT_ERR_BAD_SIGNATURE) {
            *key_index = i;
            return err;
        }
        if (h->has_kid)
            return err; /* kids are unique: no other key may be tried */
    }
    return any ? JWT_ERR_BAD_SIGNATURE : JWT_ERR_NO_KEY;
}

static enum jwt_error header_alg(struct json_span raw, enum jwt_alg *alg)
{
    char name[JWT_ALG_NAME_BYTES_MAX];
    long len = json_string_decode(raw, name, sizeof(name));
    if (len < 0)
        return JWT_ERR_ALG_UNSUPPORTED;
    if (len == 4 && strncasecmp(name, "none", 4) == 0)
        return JWT_ERR_ALG_NONE;
    for (unsigned i = 0; i < JWT_ALG_COUNT; i++) {
        if ((size_t)len == strlen(jwt_alg_names[i]) &&
            memcmp(name, jwt_alg_names[i], (size_t)len) == 0) {
            *alg = (enum jwt_alg)i;
            return JWT_OK;
        }
    }
    return JWT_ERR_ALG_UNSUPPORTED;
}

static enum jwt_error header_parse(const char *text, size_t len, struct json_member *members,
                                   struct jwt_header *h)
{
    assert(len <= JWT_PART_BYTES_MAX);
    size_t count = 0;
    struct json_result res;
    if (json_object_scan(text, len, JWT_JSON_DEPTH_MAX, members, JWT_JSON_MEMBERS_MAX, &count,
                         &res) != JSON_OK) {
        return JWT_ERR_BAD_JSON;
    }
    const struct json_member *alg = json_member_find(members, count, "alg");
    if (alg == NULL || alg->type != JSON_STRING)
        return JWT_ERR_BAD_HEADER;
    enum jwt_error err = header_alg(alg->value, &h->alg);
    if (err != JWT_OK)
        return err;
    if (json_member_find(members, count, "crit") != NULL)
        return JWT_ERR_CRIT;
    const struct json_member *kid = json_member_find(members, count, "kid");
    h->has_kid = kid != NULL;
    h->kid_len = 0;
    if (kid == NULL)
        return JWT_OK;
    if (kid->type != JSON_STRING)
        return JWT_ERR_BAD_HEADER;
    long kid_len = json_string_decode(kid->value, h->kid, sizeof(h->kid));
    h->kid_len = kid_len > 0 ? (size_t)kid_len : 0; /* 0: empty or longer than any kid */
    return JWT_OK;
}

/* The three base64url parts, as sent. */
struct jwt_parts {
    struct json_span header, payload, signature;
};

static bool token_split(const char *token, size_t len, struct jwt_parts *p)
{
    assert(len <= JWT_TOKEN_BYTES_MAX);
    const char *dot1 = len > 0 ? memchr(token, '.', len) : NULL;
    if (dot1 == NULL)
        return false;
    const char *rest = dot1 + 1;
    const char *end = token + len;
    const char *dot2 = memchr(rest, '.', (size_t)(end - rest));
    if (dot2 == NULL || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)) != NULL)
        return false;
    p->header = (struct json_span){token, (size_t)(dot1 - token)};
    p->payload = (struct json_span){rest, (size_t)(dot2 - rest)};
    p->signature = (struct json_span){dot2 + 1, (size_t)(end - dot2 - 1)};
    return p->header.len > 0 && p->payload.len > 0;
}

/* ---- claims ---- */

static bool sub_has_control(const uint8_t *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] < 0x20 || s[i] == 0x7f)
            return true;
        /* U+0080..U+009F; the text is valid UTF-8, so a lead byte has its continuation */
        if (s[i] == 0xc2 && i + 1 < len && s[i + 1] <= 0x9f)
            return true;
    }
    return false;
}

static enum jwt_error claims_sub(const struct json_member *m, size_t count, struct jwt_claims *out)
{
    const struct json_member *sub = json_member_find(m, count, "sub");
    if (sub == NULL)
        return JWT_ERR_MISSING_SUB;
    if (sub->type != JSON_STRING)
        return JWT_ERR_BAD_SUB;
    long len = json_string_decode(sub->value, out->sub, JWT_SUB_BYTES_MAX);
    assert(len <= JWT_SUB_BYTES_MAX);
    if (len <= 0 || sub_has_control((const uint8_t *)out->sub, (size_t)len)) {
        out->sub[0] = '\0';
        return JWT_ERR_BAD_SUB;
    }
    out->sub[len] = '\0';
    out->sub_len = (size_t)len;
    return JWT_OK;
}

static enum jwt_error claims_time(const struct json_member *m, size_t count, const char *name,
                                  bool *has, int64_t *value)
{
    const struct json_member *claim = json_member_find(m, count, name);
    if (claim == NULL)
        return JWT_OK;
    if (claim->type != JSON_NUMBER || !json_number_to_i64(claim->value, value))
        return JWT_ERR_BAD_CLAIM;
    *has = true;
    return JWT_OK;
}

static enum jwt_error claims_times(const struct json_member *m, size_t count,
                                   const struct jwt_policy *policy, struct jwt_claims *out)
{
    enum jwt_error err = claims_time(m, count, "exp", &out->has_exp, &out->exp_s);
    if (err == JWT_OK)
        err = claims_time(m, count, "nbf", &out->has_nbf, &out->nbf_s);
    if (err == JWT_OK)
        err = claims_time(m, count, "iat", &out->has_iat, &out->iat_s);
    if (err == JWT_OK && policy->require_exp && !out->has_exp)
        err = JWT_ERR_MISSING_EXP;
    return err;
}

/* Channel-name characters (docs/protocol.md 4.1), and '*' as the last byte only. */
static bool cap_pattern_valid(const char *p, size_t len)
{
    static const char extra[] = "_-.:@/=";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        bool name_char = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                         (c >= '0' && c <= '9') || (c != '\0' && strchr(extra, c) != NULL);
        if (!name_char && !(c == '*' && i == len - 1))
            return false;
    }
    return len > 0;
}

static enum jwt_error caps_list(struct json_span array, struct jwt_cap_list *list,
                                struct jwt_claims *out)
{
    size_t pos = 0;
    struct json_span element;
    enum json_type type;
    while (json_array_next(array, &pos, &element, &type)) {
        if (type != JSON_STRING)
            return JWT_ERR_BAD_CAPS;
        assert(list->count <= JWT_CAPS_MAX);
        if (list->count == JWT_CAPS_MAX)
            return JWT_ERR_TOO_MANY_CAPS;
        assert(out->cap_bytes_used <= sizeof(out->cap_bytes));
        size_t room = sizeof(out->cap_bytes) - out->cap_bytes_used;
        char *dst = out->cap_bytes + out->cap_bytes_used;
        long len = json_string_decode(
            element, dst, room < JWT_CAP_PATTERN_BYTES_MAX ? room : JWT_CAP_PATTERN_BYTES_MAX);
        if (len <= 0 || !cap_pattern_valid(dst, (size_t)len))
            return JWT_ERR_BAD_CAPS;
        list->patterns[list->count++] =
            (struct jwt_cap_pattern){(uint16_t)out->cap_bytes_used, (uint16_t)len};
        out->cap_bytes_used += (size_t)len;
    }
    return JWT_OK;
}

static enum jwt_error claims_caps(const struct json_member *m, size_t count, struct jwt_claims *out)
{
    const struct json_member *caps = json_member_find(m, count, "caps");
    if (caps == NULL)
        return JWT_OK;
    struct json_member lists[JWT_JSON_MEMBERS_MAX];
    size_t lists_count = 0;
    struct json_result res;
    if (caps->type != JSON_OBJECT ||
        json_object_scan(caps->value.ptr, caps->value.len, JWT_JSON_DEPTH_MAX, lists,
                         JWT_JSON_MEMBERS_MAX, &lists_count, &res) != JSON_OK) {
        return JWT_ERR_BAD_CAPS;
    }
    for (unsigned cap = 0; cap < JWT_CAP_COUNT; cap++) {
        const struct json_member *list = json_member_find(lists, lists_count, jwt_cap_names[cap]);
        if (list == NULL)
            continue;
        if (list->type != JSON_ARRAY)
            return JWT_ERR_BAD_CAPS;
        enum jwt_error err = caps_list(list->value, &out->caps[cap], out);
        if (err != JWT_OK)
            return err;
    }
    return JWT_OK;
}

static enum jwt_error claims_issuer(const struct json_member *m, size_t count,
                                    const struct jwt_policy *policy)
{
    if (policy->issuer == NULL || policy->issuer[0] == '\0')
        return JWT_OK;
    const struct json_member *iss = json_member_find(m, count, "iss");
    if (iss == NULL || iss->type != JSON_STRING ||
        !json_string_equals(iss->value, policy->issuer)) {
        return JWT_ERR_BAD_ISSUER;
    }
    return JWT_OK;
}

static enum jwt_error claims_audience(const struct json_member *m, size_t count,
                                      const struct jwt_policy *policy)
{
    if (policy->audience == NULL || policy->audience[0] == '\0')
        return JWT_OK;
    const struct json_member *aud = json_member_find(m, count, "aud");
    if (aud == NULL)
        return JWT_ERR_BAD_AUDIENCE;
    if (aud->type == JSON_STRING)
        return json_string_equals(aud->value, policy->audience) ? JWT_OK : JWT_ERR_BAD_AUDIENCE;
    if (aud->type != JSON_ARRAY)
        return JWT_ERR_BAD_CLAIM;
    /* Bounded by the payload: at most JWT_PART_BYTES_MAX / 3 elements. */
    size_t pos = 0;
    struct json_span element;
    enum json_type type;
    bool found = false;
    while (json_array_next(aud->value, &pos, &element, &type)) {
        if (type != JSON_STRING)
            return JWT_ERR_BAD_CLAIM;
        found = found || json_string_equals(element, policy->audience);
    }
    return found ? JWT_OK : JWT_ERR_BAD_AUDIENCE;
}

/* exp last: see jwt.h, rule 6. now_s + leeway cannot overflow (jwt_verify asserts). */
static enum jwt_error claims_window(const struct jwt_claims *c, const struct jwt_policy *policy,
                                    int64_t now_s)
{
    int64_t leeway = policy->leeway_s;
    if (c->has_nbf && now_s + leeway < c->nbf_s)
        return JWT_ERR_NOT_YET_VALID;
    if (c->has_iat && c->iat_s > now_s + leeway)
        return JWT_ERR_ISSUED_IN_FUTURE;
    if (c->has_exp && now_s - leeway >= c->exp_s)
        return JWT_ERR_EXPIRED;
    return JWT_OK;
}

static enum jwt_error claims_parse(const char *text, size_t len, struct json_member *m,
                                   const struct jwt_policy *policy, int64_t now_s,
                                   struct jwt_claims *out)
{
    assert(len <= JWT_PART_BYTES_MAX && out->sub_len == 0);
    size_t count = 0;
    struct json_result res;
    if (json_object_scan(text, len, JWT_JSON_DEPTH_MAX, m, JWT_JSON_MEMBERS_MAX, &count, &res) !=
        JSON_OK) {
        return JWT_ERR_BAD_JSON;
    }
    enum jwt_error err = claims_sub(m, count, out);
    if (err == JWT_OK)
        err = claims_times(m, count, policy, out);
    if (err == JWT_OK)
        err = claims_caps(m, count, out);
    if (err == JWT_OK)
        err = claims_issuer(m, count, policy);
    if (err == JWT_OK)
        err = claims_audience(m, count, policy);
    return err == JWT_OK ? claims_window(out, policy, now_s) : err;
}

static void claims_reset(struct jwt_claims *out)
{
    out->sub[0] = '\0';
    out->sub_len = 0;
    out->has_exp = out->has_nbf = out->has_iat = false;
    out->exp_s = out->nbf_s = out->iat_s = 0;
    out->key_index = 0;
    for (unsigned cap = 0; cap < JWT_CAP_COUNT; cap++)
        out->caps[cap].count = 0;
    out->cap_bytes_used = 0;
}

/* Working memory of one verification, on the stack. */
struct jwt_scratch {
    uint8_t text[JWT_PART_BYTES_MAX]; /* decoded header, then the decoded payload after it */
    uint8_t signature[JWT_SIGNATURE_BYTES_MAX];
    struct json_member members[JWT_JSON_MEMBERS_MAX];
    struct jwt_header header;
};

/* Rules 1 to 4 of jwt.h: everything up to and including the signature. On success the
 * decoded payload is at w->text + *payload_at, *payload_len bytes. */
static enum jwt_error token_check(const struct jwt_keyset *ks, const char *token, size_t len,
                                  struct jwt_scratch *w, size_t *payload_at, size_t *payload_len,
                                  size_t *key_index)
{
    assert(ks->count <= JWT_KEYS_MAX);
    struct jwt_parts parts;
    if (!token_split(token, len, &parts))
        return JWT_ERR_MALFORMED;
    long header_len = b64url_decode(parts.header.ptr, parts.header.len, w->text, sizeof(w->text));
    if (header_len < 0)
        return JWT_ERR_BAD_BASE64;
    enum jwt_error err =
        header_parse((const char *)w->text, (size_t)header_len, w->members, &w->header);
    if (err != JWT_OK)
        return err;
    long body_len = b64url_decode(parts.payload.ptr, parts.payload.len, w->text + header_len,
                                  sizeof(w->text) - (size_t)header_len);
    if (body_len < 0)
        return JWT_ERR_BAD_BASE64;
    if (parts.signature.len > JWT_SIGNATURE_CHARS_MAX)
        return JWT_ERR_BAD_SIGNATURE;
    long sig_len =
        b64url_decode(parts.signature.ptr, parts.signature.len, w->signature, sizeof(w->signature));
    if (sig_len < 0)
        return JWT_ERR_BAD_BASE64;
    struct jwt_signed s = {.input = token,
                           .input_len = parts.header.len + 1 + parts.payload.len,
                           .signature = w->signature,
                           .signature_len = (size_t)sig_len};
    if (w->header.alg != JWT_ALG_HS256 && jwt_signed_digest(&s) != JWT_OK)
        return JWT_ERR_INTERNAL;
    *payload_at = (size_t)header_len;
    *payload_len = (size_t)body_len;
    return token_select_and_verify(ks, &w->header, &s, key_index);
}

enum jwt_error jwt_verify(const struct jwt_keyset *ks, const char *token, size_t len,
                          const struct jwt_policy *policy, int64_t now_s, struct jwt_claims *out)
{
    assert(ks != NULL && policy != NULL && out != NULL && (token != NULL || len == 0));
    assert(policy->leeway_s <= JWT_LEEWAY_S_MAX && now_s >= 0 &&
           now_s <= INT64_MAX - JWT_LEEWAY_S_MAX);
    claims_reset(out);
    size_t limit = policy->token_bytes_max;
    if (limit == 0 || limit > JWT_TOKEN_BYTES_MAX)
        limit = JWT_TOKEN_BYTES_MAX;
    if (len > limit)
        return JWT_ERR_TOO_LONG;
    struct jwt_scratch w;
    size_t payload_at = 0, payload_len = 0, key_index = 0;
    enum jwt_error err = token_check(ks, token, len, &w, &payload_at, &payload_len, &key_index);
    if (err == JWT_OK) {
        err = claims_parse((const char *)w.text + payload_at, payload_len, w.members, policy, now_s,
                           out);
    }
    if (err != JWT_OK) {
        claims_reset(out);
        return err;
    }
    out->key_index = key_index;
    return JWT_OK;
}

bool jwt_caps_allow(const struct jwt_claims *claims, enum jwt_cap cap, const char *channel,
                    size_t len)
{
    assert(claims != NULL && (unsigned)cap < JWT_CAP_COUNT);
    assert(channel != NULL || len == 0);
    const struct jwt_cap_list *list = &claims->caps[cap];
    for (size_t i = 0; i < list->count; i++) {
        const char *p = claims->cap_bytes + list->patterns[i].offset;
        size_t plen = list->patterns[i].len;
        bool prefix = p[plen - 1] == '*';
        size_t need = prefix ? plen - 1 : plen;
        if ((prefix ? len >= need : len == need) && (need == 0 || memcmp(p, channel, need) == 0))
            return true;
    }
    return false;
}
