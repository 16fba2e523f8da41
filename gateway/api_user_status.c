/* GET /api/users/{id}/status (docs/api.md 5.8): the user's status across the cluster, read
 * from Redis by this worker's user status (gateway/user_status_gw.h).
 *
 * The read is the only request of the API that waits for something other than the hub: it
 * counts in c->pending like a hub reply, so a connection that closes meanwhile is freed by
 * the answer (which always comes: user_status_get answers exactly once, within Redis's
 * command timeout, or is dropped by user_status_destroy at teardown, when the worker frees
 * every connection anyway). The user id is decoded again from the request, which stays in
 * c->rx until the reply.
 */
#include "gateway/api_internal.h"

#include <assert.h>
#include <string.h>

#include "core/jbuf.h"
#include "core/utf8.h"
#include "gateway/user_status_gw.h"

enum { USER_ID_BYTES_MAX = USER_STATUS_USER_BYTES_MAX };

/* The path's {id} percent-decoded into `out` (USER_ID_BYTES_MAX + 1 bytes): its length, or
 * -1 when it is not 1..128 bytes of UTF-8 without control characters. */
static long user_id_decode(const struct api_conn *c, char *out)
{
    long n = http_percent_decode(c->head.user, out, USER_ID_BYTES_MAX + 1);
    if (n < 1 || n > USER_ID_BYTES_MAX || !utf8_is_valid((const uint8_t *)out, (size_t)n))
        return -1;
    for (long i = 0; i < n; i++)
        if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
            return -1;
    return n;
}

static void write_status(struct jbuf *jb, const char *user, size_t user_len,
                         const struct user_status_info *info)
{
    jbuf_lit(jb, "{\"user_id\":");
    jbuf_str(jb, user, user_len);
    jbuf_lit(jb, ",\"online\":");
    jbuf_bool(jb, info->online);
    jbuf_lit(jb, ",\"connections\":");
    jbuf_u64(jb, info->connections);
    jbuf_lit(jb, ",\"last_seen_ms\":");
    if (info->last_seen_ms != 0)
        jbuf_u64(jb, info->last_seen_ms);
    else
        jbuf_null(jb);
    jbuf_char(jb, '}');
}

static void reply_unavailable(struct api_conn *c)
{
    api_reply_error(c, API_STORAGE_UNAVAILABLE,
                    "the user status store (Redis) is unavailable; nothing was read, retry "
                    "later");
}

static void on_status(void *ctx, const struct user_status_info *info)
{
    struct api_conn *c = ctx;
    assert(c->pending > 0);
    c->pending--;
    if (c->state == API_CONN_CLOSED) {
        api_conn_release(c); /* it waited for this answer to be freed */
        return;
    }
    assert(c->state == API_CONN_WORKING);
    if (info == NULL) {
        reply_unavailable(c);
        return;
    }
    char user[USER_ID_BYTES_MAX + 1];
    long n = user_id_decode(c, user);
    assert(n > 0); /* checked before the read */
    struct jbuf *jb = &api_worker_of(c)->hub.scratch;
    jbuf_reset(jb);
    write_status(jb, user, (size_t)n, info);
    api_reply_scratch(c);
}

void api_route_user_status(struct api_conn *c)
{
    assert(c->state == API_CONN_WORKING && c->pending == 0);
    if (c->head.query.len > 0) {
        api_reply_error(c, API_BAD_REQUEST, "GET /api/users/{id}/status takes no query parameters");
        return;
    }
    char user[USER_ID_BYTES_MAX + 1];
    long n = user_id_decode(c, user);
    if (n < 0) {
        api_reply_error(c, API_BAD_REQUEST,
                        "the user id in /api/users/{id}/status must be 1 to 128 bytes of UTF-8 "
                        "without control characters, percent-encoded");
        return;
    }
    struct user_status *us = gw_user_status_of(api_worker_of(c));
    if (us == NULL) {
        api_reply_error(c, API_USER_STATUS_DISABLED,
                        "user status is off on this gateway: it needs redis_url");
        return;
    }
    c->pending++;
    if (user_status_get(us, user, (size_t)n, on_status, c) != 0) {
        c->pending--;
        reply_unavailable(c);
    }
}
