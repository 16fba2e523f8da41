/* The server API's reply bodies (docs/api.md sections 4 and 5): one JSON object each, no
 * whitespace, fields in the order the spec lists them. Like proto_write.h: builders append
 * to a jbuf and never fail on their own (the jbuf's sticky `failed` is checked once by the
 * caller); lists are written as head, elements, tail so stored objects are appended as they
 * are. The trailing "\n" of a response body is the connection's, not part of these. */
#ifndef TIDEGATE_GATEWAY_API_WRITE_H
#define TIDEGATE_GATEWAY_API_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/jbuf.h"
#include "gateway/api_body.h"
#include "gateway/api_http.h"

/* {"error":"<code>","message":"<sentence>"}; `code` is not API_OK. */
void api_write_error(struct jbuf *jb, enum api_code code, const char *message);

/* A publish's result: {"channel","offset","epoch","timestamp"}. */
void api_write_published(struct jbuf *jb, const char *channel, size_t channel_len, uint64_t offset,
                         const char *epoch, uint64_t timestamp_ms);

/* Presence (5.4) up to and including `"members":[`; members and tail as proto_write's
 * presence (proto_write_presence_member, proto_write_presence_tail). */
void api_write_presence_head(struct jbuf *jb, const char *channel, size_t channel_len,
                             uint64_t count);

/* History (5.5) up to and including `"messages":[`; elements and tail as proto_write's
 * history (proto_write_list_sep, proto_write_history_tail). */
void api_write_history_head(struct jbuf *jb, const char *channel, size_t channel_len,
                            const char *epoch, uint64_t offset, uint64_t oldest);

/* Broadcast (5.2): `{"results":[`, then per channel either api_write_published or
 * api_write_result_error (each preceded by proto_write_list_sep-style "," from
 * api_write_sep), then `]}`. */
void api_write_results_head(struct jbuf *jb);
void api_write_sep(struct jbuf *jb, bool first);
void api_write_result_error(struct jbuf *jb, const char *channel, size_t channel_len,
                            enum api_code code, const char *message);
void api_write_results_tail(struct jbuf *jb);

/* Disconnect (5.3): {"disconnected":N}. */
void api_write_disconnected(struct jbuf *jb, uint64_t count);

/* Channels (5.6): `{"channels":[`, the elements (ready JSON objects, separated with
 * api_write_sep), then `],"next":` the cursor (NULL: null) `}`. */
void api_write_channels_head(struct jbuf *jb);
void api_write_channels_tail(struct jbuf *jb, const char *next, size_t next_len);

/* Info (5.7). */
struct api_info {
    const char *version;
    unsigned protocol;
    const char *node;
    uint64_t started_at_ms, uptime_ms;
    unsigned workers;
    uint64_t connections, channels, subscriptions;
    bool stopping;
};
void api_write_info(struct jbuf *jb, const struct api_info *info);

#endif
