/* The server API's reply bodies: see api_write.h. */
#include "gateway/api_write.h"

#include <assert.h>

static void write_channel_field(struct jbuf *jb, const char *channel, size_t channel_len)
{
    assert(channel != NULL && channel_len > 0);
    jbuf_lit(jb, "\"channel\":");
    jbuf_str(jb, channel, channel_len);
}

void api_write_error(struct jbuf *jb, enum api_code code, const char *message)
{
    assert(code != API_OK && message != NULL);
    jbuf_lit(jb, "{\"error\":");
    jbuf_cstr(jb, api_code_name(code));
    jbuf_lit(jb, ",\"message\":");
    jbuf_cstr(jb, message);
    jbuf_char(jb, '}');
}

void api_write_published(struct jbuf *jb, const char *channel, size_t channel_len, uint64_t offset,
                         const char *epoch, uint64_t timestamp_ms)
{
    jbuf_char(jb, '{');
    write_channel_field(jb, channel, channel_len);
    jbuf_lit(jb, ",\"offset\":");
    jbuf_u64(jb, offset);
    jbuf_lit(jb, ",\"epoch\":");
    jbuf_cstr(jb, epoch);
    jbuf_lit(jb, ",\"timestamp\":");
    jbuf_u64(jb, timestamp_ms);
    jbuf_char(jb, '}');
}

void api_write_presence_head(struct jbuf *jb, const char *channel, size_t channel_len,
                             uint64_t count)
{
    jbuf_char(jb, '{');
    write_channel_field(jb, channel, channel_len);
    jbuf_lit(jb, ",\"count\":");
    jbuf_u64(jb, count);
    jbuf_lit(jb, ",\"members\":[");
}

void api_write_history_head(struct jbuf *jb, const char *channel, size_t channel_len,
                            const char *epoch, uint64_t offset, uint64_t oldest)
{
    jbuf_char(jb, '{');
    write_channel_field(jb, channel, channel_len);
    jbuf_lit(jb, ",\"epoch\":");
    jbuf_cstr(jb, epoch);
    jbuf_lit(jb, ",\"offset\":");
    jbuf_u64(jb, offset);
    jbuf_lit(jb, ",\"oldest\":");
    jbuf_u64(jb, oldest);
    jbuf_lit(jb, ",\"messages\":[");
}

void api_write_results_head(struct jbuf *jb)
{
    jbuf_lit(jb, "{\"results\":[");
}

void api_write_sep(struct jbuf *jb, bool first)
{
    if (!first)
        jbuf_char(jb, ',');
}

void api_write_result_error(struct jbuf *jb, const char *channel, size_t channel_len,
                            enum api_code code, const char *message)
{
    assert(code != API_OK && message != NULL);
    jbuf_char(jb, '{');
    write_channel_field(jb, channel, channel_len);
    jbuf_lit(jb, ",\"error\":");
    jbuf_cstr(jb, api_code_name(code));
    jbuf_lit(jb, ",\"message\":");
    jbuf_cstr(jb, message);
    jbuf_char(jb, '}');
}

void api_write_results_tail(struct jbuf *jb)
{
    jbuf_lit(jb, "]}");
}

void api_write_disconnected(struct jbuf *jb, uint64_t count)
{
    jbuf_lit(jb, "{\"disconnected\":");
    jbuf_u64(jb, count);
    jbuf_char(jb, '}');
}

void api_write_channels_head(struct jbuf *jb)
{
    jbuf_lit(jb, "{\"channels\":[");
}

void api_write_channels_tail(struct jbuf *jb, const char *next, size_t next_len)
{
    jbuf_lit(jb, "],\"next\":");
    if (next != NULL)
        jbuf_str(jb, next, next_len);
    else
        jbuf_null(jb);
    jbuf_char(jb, '}');
}

void api_write_info(struct jbuf *jb, const struct api_info *info)
{
    jbuf_lit(jb, "{\"version\":");
    jbuf_cstr(jb, info->version);
    jbuf_lit(jb, ",\"protocol\":");
    jbuf_u64(jb, info->protocol);
    jbuf_lit(jb, ",\"node\":");
    jbuf_cstr(jb, info->node);
    jbuf_lit(jb, ",\"started_at\":");
    jbuf_u64(jb, info->started_at_ms);
    jbuf_lit(jb, ",\"uptime_ms\":");
    jbuf_u64(jb, info->uptime_ms);
    jbuf_lit(jb, ",\"workers\":");
    jbuf_u64(jb, info->workers);
    jbuf_lit(jb, ",\"connections\":");
    jbuf_u64(jb, info->connections);
    jbuf_lit(jb, ",\"channels\":");
    jbuf_u64(jb, info->channels);
    jbuf_lit(jb, ",\"subscriptions\":");
    jbuf_u64(jb, info->subscriptions);
    jbuf_lit(jb, ",\"stopping\":");
    jbuf_bool(jb, info->stopping);
    jbuf_char(jb, '}');
}
