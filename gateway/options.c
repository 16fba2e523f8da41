/* The option table of the gateway. Adding an option: add the field to struct gw_options,
 * a row here, and a line to docs/configuration.md (tests/integration/test_config_cli.py
 * checks that --help and the doc list the same options). */
#include "gateway/options.h"

#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cidr.h"
#include "core/ip_limit.h"
#include "core/proxy_proto.h"
#include "core/tls.h"
#include "gateway/jwt.h"
#include "storage/redis_url.h"
#include "storage/user_status.h"

#define OPT(field) offsetof(struct gw_options, field)
#define KIB        ((uint64_t)1024)
#define MIB        (KIB * 1024)
#define SEC        ((uint64_t)1000)

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
const char *const gw_tls_versions[] = {"1.2", "1.3", NULL};

const struct config_option gw_option_table[] = {
    {"listen", CONFIG_ADDR, OPT(listen), "0.0.0.0:8080", 0, 0, NULL,
     "Address of the public WebSocket listener; port 0 picks a free port shared by all "
     "workers."},
    {"admin_listen", CONFIG_ADDR, OPT(admin_listen), "127.0.0.1:9090", 0, 0, NULL,
     "Address of the admin listener (/healthz, /readyz, /metrics); keep it private."},
    {"workers", CONFIG_UINT, OPT(workers), "0", 0, GW_WORKERS_MAX, NULL,
     "Worker threads, each pinned to a core with its own io_uring; 0 means one per online "
     "CPU."},
    {"echo", CONFIG_BOOL, OPT(echo), "false", 0, 0, NULL,
     "Echo every data message back to its sender (for conformance tests and the Autobahn "
     "testsuite)."},
    {"max_message_bytes", CONFIG_SIZE, OPT(max_message_bytes), "1m", 1, 256 * MIB, NULL,
     "Largest data message a client may send, all fragments together; larger ones are "
     "closed with 1009."},
    {"max_header_bytes", CONFIG_SIZE, OPT(max_header_bytes), "8k", 256, 64 * KIB, NULL,
     "Largest HTTP upgrade request head; larger ones get 431."},
    {"max_headers", CONFIG_UINT, OPT(max_headers), "32", 4, 128, NULL,
     "Most header lines in the upgrade request; more get 431."},
    {"handshake_timeout", CONFIG_DURATION, OPT(handshake_timeout_ms), "5s", 100, 120 * SEC, NULL,
     "Time a new connection has to send its whole upgrade request; then 408."},
    {"ping_interval", CONFIG_DURATION, OPT(ping_interval_ms), "25s", 0, 3600 * SEC, NULL,
     "Interval of server pings on quiet connections, well inside load balancer idle "
     "timeouts; 0 disables."},
    {"idle_timeout", CONFIG_DURATION, OPT(idle_timeout_ms), "60s", 0, 24 * 3600 * SEC, NULL,
     "A connection that sends nothing (not even a pong) for this long is closed with 1001; "
     "0 disables."},
    {"close_timeout", CONFIG_DURATION, OPT(close_timeout_ms), "5s", 100, 120 * SEC, NULL,
     "Time a peer has to answer our close frame (or read an error reply) before the TCP "
     "connection is cut."},
    {"allowed_origins", CONFIG_LIST, OPT(allowed_origins), "", 0, 0, NULL,
     "Origins allowed to connect, e.g. https://app.example.com; empty allows any (browsers "
     "then need another defence against cross-site WebSocket hijacking)."},
    {"subprotocols", CONFIG_LIST, OPT(subprotocols), "", 0, 0, NULL,
     "Subprotocols we speak, in order of preference; empty negotiates none."},
    {"send_queue_bytes_max", CONFIG_SIZE, OPT(send_queue_bytes_max), "1m", 4 * KIB, 1024 * MIB,
     NULL,
     "Unsent bytes a connection may have queued before more are refused and it is closed "
     "with 1008 (slow consumer)."},
    {"max_connections", CONFIG_UINT, OPT(max_connections), "100000", 1, 100000000, NULL,
     "Open connections per process; further ones get 503."},
    {"recv_buffer_bytes", CONFIG_SIZE, OPT(recv_buffer_bytes), "16k", 1 * KIB, 1 * MIB, NULL,
     "Size of each provided receive buffer (shared by a worker's connections)."},
    {"recv_buffer_count", CONFIG_UINT, OPT(recv_buffer_count), "512", 16, 32768, NULL,
     "Provided receive buffers per worker; a power of two."},
    {"listen_backlog", CONFIG_UINT, OPT(listen_backlog), "4096", 16, 65535, NULL,
     "Accept backlog of each listening socket (capped by net.core.somaxconn)."},
    {"log_level", CONFIG_ENUM, OPT(log_level), "info", 0, 0, log_levels,
     "Lowest level logged to stderr: debug, info, warn or error."},

    /* Client authentication: docs/protocol.md 3 */
    {"jwt_keys", CONFIG_LIST, OPT(jwt_keys), "", 0, 0, NULL,
     "Keys that verify client tokens, at most 16, each kid:alg:SOURCE with alg hs256, rs256 or "
     "es256; SOURCE is a file path (the HMAC secret, at least 32 bytes, or a PEM public key), "
     "env:VARIABLE (the same, from the environment) or base64:KEY (the secret's bytes or the "
     "public key's DER, inline).",
     NULL, CONFIG_SECRET},
    {"jwt_audience", CONFIG_STRING, OPT(jwt_audience), "", 0, 0, NULL,
     "When set, a token's aud must be or contain it; empty does not check aud."},
    {"jwt_issuer", CONFIG_STRING, OPT(jwt_issuer), "", 0, 0, NULL,
     "When set, a token's iss must equal it; empty does not check iss."},
    {"jwt_leeway", CONFIG_DURATION, OPT(jwt_leeway_ms), "30s", 0, 300 * SEC, NULL,
     "Clock skew allowed on a token's exp, nbf and iat, in whole seconds."},
    {"max_token_bytes", CONFIG_SIZE, OPT(max_token_bytes), "4k", 512, 8 * KIB, NULL,
     "Longest token accepted; a longer one gets close 4001."},
    {"allow_anonymous", CONFIG_BOOL, OPT(allow_anonymous), "false", 0, 0, NULL,
     "Accept a connect without token; anonymous connections may only use namespaces whose "
     "rule is anonymous."},
    {"connect_timeout", CONFIG_DURATION, OPT(connect_timeout_ms), "10s", 1 * SEC, 120 * SEC, NULL,
     "Time a new WebSocket has to authenticate (a token in the URL or a connect message); "
     "then close 4005."},

    /* Client protocol limits: docs/protocol.md 11 */
    {"max_publish_bytes", CONFIG_SIZE, OPT(max_publish_bytes), "64k", 1, 16 * MIB, NULL,
     "Largest data of one published message, from clients and the server API, below "
     "max_message_bytes; larger gets message_too_large."},
    {"max_channels_per_connection", CONFIG_UINT, OPT(max_channels_per_connection), "128", 1, 65535,
     NULL, "Channels one connection may have joined at once; more get too_many_channels."},
    {"client_messages_per_s", CONFIG_UINT, OPT(client_messages_per_s), "50", 0, 100000, NULL,
     "Messages per second a connection may send, of every type; beyond it they get "
     "rate_limited; 0 disables."},
    {"client_messages_burst", CONFIG_UINT, OPT(client_messages_burst), "100", 1, 100000, NULL,
     "Messages a connection may send at once before client_messages_per_s applies."},
    {"typing_per_s", CONFIG_UINT, OPT(typing_per_s), "1", 1, 100, NULL,
     "user_typing messages per second per connection, in bursts of twice that; more are "
     "dropped silently."},
    {"error_burst", CONFIG_UINT, OPT(error_burst), "20", 1, 1000, NULL,
     "Error replies a connection may get in a burst, refilled at one per second; one more "
     "closes it with 4004."},
    {"history_page_max", CONFIG_UINT, OPT(history_page_max), "100", 1, 1000, NULL,
     "Most messages one history request may ask for; a larger limit gets bad_request."},
    {"presence_max_members", CONFIG_UINT, OPT(presence_max_members), "1000", 1, 100000, NULL,
     "Most members listed in one presence reply; beyond them it says truncated: true."},
    {"recovery_max_messages", CONFIG_UINT, OPT(recovery_max_messages), "1000", 0, 100000, NULL,
     "Most messages replayed to a client that joins with since; beyond them the join says "
     "recovered: false."},
    {"recovery_max_bytes", CONFIG_SIZE, OPT(recovery_max_bytes), "512k", 0, 64 * MIB, NULL,
     "Most bytes of messages replayed to a client that joins with since."},
    {"max_channels", CONFIG_UINT, OPT(max_channels), "1000000", 1, 100000000, NULL,
     "Channels existing at once per process; a join or publish that would create one more "
     "gets server_busy."},

    /* Server API: docs/api.md */
    {"api_listen", CONFIG_ADDR, OPT(api_listen), "127.0.0.1:9091", 0, 0, NULL,
     "Address of the server API listener, opened only when api_keys is set; keep it on a "
     "private network."},
    {"api_keys", CONFIG_LIST, OPT(api_keys), "", 0, 0, NULL,
     "Keys that authorize server API requests, at most 16 of 32 to 256 printable characters "
     "without space or comma; empty turns the API off.",
     NULL, CONFIG_SECRET},
    {"api_max_connections", CONFIG_UINT, OPT(api_max_connections), "256", 1, 65535, NULL,
     "Open server API connections per process; more get 503."},
    {"api_max_body_bytes", CONFIG_SIZE, OPT(api_max_body_bytes), "1m", 1 * KIB, 64 * MIB, NULL,
     "Largest server API request body; a larger one gets 413."},

    /* The edge: docs/edge.md */
    {"proxy_protocol", CONFIG_ENUM, OPT(proxy_protocol), "off", 0, 0, proxy_mode_names,
     "Whether connections on listen start with a PROXY header (v1 or v2) from a load "
     "balancer: off, optional or required; anything but off needs proxy_trusted."},
    {"proxy_trusted", CONFIG_LIST, OPT(proxy_trusted), "", 0, 0, NULL,
     "Addresses and CIDR ranges allowed to send a PROXY header, e.g. 10.0.0.0/8, ::1; other "
     "peers' bytes are never read as one (required mode closes them)."},
    {"proxy_header_bytes_max", CONFIG_SIZE, OPT(proxy_header_bytes_max), "1k", PROXY_V2_BYTES_MIN,
     64 * KIB, NULL, "Largest PROXY v2 header, TLVs included; a larger one closes the connection."},
    {"max_connections_per_ip", CONFIG_UINT, OPT(max_connections_per_ip), "1000", 0, 10000000, NULL,
     "Open connections per client address (IPv6: per prefix); more get 429; 0 disables."},
    {"new_connections_per_ip_per_s", CONFIG_UINT, OPT(new_connections_per_ip_per_s), "100", 0,
     1000000, NULL,
     "New connections a second per client address after the burst; more get 429; 0 "
     "disables."},
    {"new_connections_per_ip_burst", CONFIG_UINT, OPT(new_connections_per_ip_burst), "1000", 1,
     1000000, NULL, "New connections a client address may open at once."},
    {"ip_limit_ipv6_prefix_bits", CONFIG_UINT, OPT(ip_limit_ipv6_prefix_bits), "64",
     IP_LIMIT_IPV6_PREFIX_MIN, 128, NULL,
     "IPv6 clients are counted per prefix of this many bits by the per-IP limits."},
    {"ip_limit_tracked_max", CONFIG_UINT, OPT(ip_limit_tracked_max), "131072",
     IP_LIMIT_ADDRESSES_MIN, IP_LIMIT_ADDRESSES_MAX, NULL,
     "Client addresses the per-IP limits track per process (56 bytes each, reserved at "
     "start); keep it above max_connections."},
    {"drain_window", CONFIG_DURATION, OPT(drain_window_ms), "10s", 0, 3600 * SEC, NULL,
     "On SIGTERM, the disconnect notices and 1001 closes are spread evenly over this time so "
     "clients do not all reconnect at once; 0 closes every connection at once."},

    /* TLS: docs/tls.md */
    {"tls_listen", CONFIG_ADDR, OPT(tls_listen), "0.0.0.0:8443", 0, 0, NULL,
     "Address of the wss listener, opened by every worker like listen, only when tls_certs is "
     "set; it needs a port of its own."},
    {"tls_certs", CONFIG_LIST, OPT(tls_certs), "", 0, 0, NULL,
     "Certificates for wss, at most 32, each cert.pem:key.pem (the chain, leaf first, and its "
     "unencrypted key); the client's SNI picks one, the first serves the rest; empty: no wss."},
    {"tls_min_version", CONFIG_ENUM, OPT(tls_min_version), "1.2", 0, 0, gw_tls_versions,
     "Oldest TLS version accepted: 1.2 (TLS 1.2 and 1.3) or 1.3."},
    {"tls_tickets", CONFIG_BOOL, OPT(tls_tickets), "true", 0, 0, NULL,
     "Let clients resume TLS sessions with a session ticket (a cheaper handshake)."},
    {"tls_ticket_lifetime", CONFIG_DURATION, OPT(tls_ticket_lifetime_ms), "1h", 60 * SEC,
     7 * 24 * 3600 * SEC, NULL,
     "How long a session ticket resumes a session; the ticket key rotates this often."},

    /* The demo page: docs/demo.md */
    {"demo_page", CONFIG_BOOL, OPT(demo_page), "false", 0, 0, NULL,
     "Answer a plain GET / or GET /demo (no Upgrade header) on listen and tls_listen with a "
     "small chat page that uses the protocol; for trying tidegate in a browser, not for "
     "production."},

    /* PostgreSQL history: docs/storage.md */
    {"postgres_url", CONFIG_STRING, OPT(postgres_url), "", 0, 0, NULL,
     "libpq connection string (host by address or a unix socket directory) of the database "
     "that stores channel history; empty: no database, durable namespaces refused.",
     NULL, CONFIG_SECRET},
    {"postgres_migrate", CONFIG_BOOL, OPT(postgres_migrate), "true", 0, 0, NULL,
     "Apply the schema migrations the database lacks at start (with postgres_url); a failure "
     "stops the start."},
    {"postgres_queue_messages", CONFIG_UINT, OPT(postgres_queue_messages), "100000", 1, 10000000,
     NULL,
     "Messages per worker accepted and not yet stored; when full, durable publishes get "
     "storage_unavailable and other messages are delivered unstored."},
    {"postgres_batch_messages", CONFIG_UINT, OPT(postgres_batch_messages), "1000", 1, 10000, NULL,
     "A worker writes its waiting messages as one batch (one transaction) once this many wait; "
     "larger batches store more per second, smaller ones sooner under load."},
    {"postgres_flush_delay", CONFIG_DURATION, OPT(postgres_flush_delay_ms), "5ms", 1, SEC, NULL,
     "... or this long after the oldest waiting message arrived: the most a message waits for "
     "company at low rates, and most of a durable publish's ack latency then."},
    {"postgres_retain_days", CONFIG_UINT, OPT(postgres_retain_days), "0", 0, 3650, NULL,
     "Stored history older than this many days is dropped (a daily partition at a time, by "
     "worker 0's hourly upkeep, which also creates the next days' partitions); 0: keep all."},

    /* Redis user status: docs/storage.md */
    {"redis_url", CONFIG_STRING, OPT(redis_url), "", 0, 0, NULL,
     "Redis that keeps user status across nodes: redis://[user:password@]IP[:port][/db] or "
     "unix:/path[?db=N], by address, not host name; empty: user status and "
     "user_max_connections off.",
     NULL, CONFIG_SECRET},
    {"redis_key_prefix", CONFIG_STRING, OPT(redis_key_prefix), "tidegate:", 0, 0, NULL,
     "Prefix of every Redis key, at most 64 bytes; one per cluster sharing a Redis."},
    {"user_max_connections", CONFIG_UINT, OPT(user_max_connections), "0", 0, 1000000, NULL,
     "Connections one user (a token's sub) may hold across every node sharing redis_url; one "
     "more gets close 4007; 0: no limit. Not enforced while Redis cannot answer."},
    {"user_status_ttl", CONFIG_DURATION, OPT(user_status_ttl_ms), "30s", 3 * SEC, 3600 * SEC, NULL,
     "How long the users of a node that stopped without a word still count as online; each "
     "worker's heartbeat runs every third of it."},

    /* Worker-to-worker mailboxes: core/mailbox.h */
    {"mailbox_ring_slots", CONFIG_UINT, OPT(mailbox_ring_slots), "4096", 64, 65536, NULL,
     "Items in each worker-to-worker ring; a power of two."},
    {"mailbox_overflow_max", CONFIG_UINT, OPT(mailbox_overflow_max), "65536", 0, 10000000, NULL,
     "Items a worker may hold back while a ring to another worker is full; beyond them items "
     "are refused and counted."},

    /* Channel namespaces: docs/protocol.md 4.2 */
    {"namespace", CONFIG_CUSTOM, OPT(namespaces), NULL, 0, 0, NULL,
     "Setting OPTION of the channel namespace NAME (1 to 64 of a-z 0-9 _ -), which exists "
     "once one of its options is set; default always exists.",
     &gw_namespace_config},
};
const size_t gw_option_count = sizeof gw_option_table / sizeof gw_option_table[0];

int gw_options_defaults(struct gw_options *o, char err[CONFIG_ERROR_BYTES])
{
    memset(o, 0, sizeof *o);
    return config_defaults(gw_option_table, gw_option_count, o, err);
}

/* A sentence naming the API key by position, never quoting it (it is a secret even when
 * malformed), or NULL when the key is good. */
static const char *gw_api_key_problem(const char *key)
{
    size_t len = strlen(key);
    if (len < GW_API_KEY_BYTES_MIN || len > GW_API_KEY_BYTES_MAX)
        return "must be 32 to 256 characters long";
    for (size_t i = 0; i < len; i++)
        if (key[i] <= ' ' || key[i] > '~')
            return "may hold only printable ASCII characters, without space";
    return NULL;
}

static int gw_validate_keys(const struct gw_options *o, char err[CONFIG_ERROR_BYTES])
{
    if (o->jwt_keys.count > JWT_KEYS_MAX) {
        snprintf(err, CONFIG_ERROR_BYTES, "jwt_keys: %zu keys; at most %d are allowed",
                 o->jwt_keys.count, JWT_KEYS_MAX);
        return -1;
    }
    if (o->api_keys.count > GW_API_KEYS_MAX) {
        snprintf(err, CONFIG_ERROR_BYTES, "api_keys: %zu keys; at most %d are allowed",
                 o->api_keys.count, GW_API_KEYS_MAX);
        return -1;
    }
    for (size_t i = 0; i < o->api_keys.count; i++) {
        const char *why = gw_api_key_problem(o->api_keys.items[i]);
        if (why != NULL) {
            snprintf(err, CONFIG_ERROR_BYTES,
                     "api_keys: key %zu of %zu %s (openssl rand -base64 32 makes a good one)",
                     i + 1, o->api_keys.count, why);
            return -1;
        }
    }
    return 0;
}

static int gw_validate_namespaces(const struct gw_options *o, char err[CONFIG_ERROR_BYTES])
{
    assert(o->namespaces.count >= 1);
    for (size_t i = 0; i < o->namespaces.count; i++) {
        if (o->namespaces.items[i].durable && o->postgres_url[0] == '\0') {
            snprintf(err, CONFIG_ERROR_BYTES,
                     "namespace.%s.durable = true: durable channels are acknowledged once "
                     "stored in PostgreSQL, and postgres_url is not set; set it or remove "
                     "the line",
                     o->namespaces.items[i].name);
            return -1;
        }
    }
    return 0;
}

/* redis_url parses (its reason never repeats a password), the prefix fits, and the limit
 * has a Redis to be enforced through. */
static int gw_validate_redis(const struct gw_options *o, char err[CONFIG_ERROR_BYTES])
{
    if (strlen(o->redis_key_prefix) > USER_STATUS_PREFIX_BYTES_MAX) {
        snprintf(err, CONFIG_ERROR_BYTES,
                 "redis_key_prefix is %zu bytes; at most %d are allowed (e.g. tidegate:)",
                 strlen(o->redis_key_prefix), USER_STATUS_PREFIX_BYTES_MAX);
        return -1;
    }
    if (o->redis_url[0] == '\0') {
        if (o->user_max_connections == 0)
            return 0;
        snprintf(err, CONFIG_ERROR_BYTES,
                 "user_max_connections = %llu: the limit is counted across nodes in Redis, and "
                 "redis_url is not set; set it or remove the line",
                 (unsigned long long)o->user_max_connections);
        return -1;
    }
    struct redis_url *url = malloc(sizeof *url);
    char why[REDIS_URL_ERROR_BYTES];
    if (url == NULL) {
        snprintf(err, CONFIG_ERROR_BYTES, "out of memory checking redis_url");
        return -1;
    }
    int parsed = redis_url_parse(o->redis_url, url, why);
    free(url);
    if (parsed != 0) {
        snprintf(err, CONFIG_ERROR_BYTES, "%s", why); /* "bad redis_url: ..." */
        return -1;
    }
    return 0;
}

static int gw_validate_power_of_two(const char *name, uint64_t n, const char *examples,
                                    char err[CONFIG_ERROR_BYTES])
{
    if (n != 0 && (n & (n - 1)) == 0)
        return 0;
    snprintf(err, CONFIG_ERROR_BYTES, "%s = %llu: expected a power of two (%s)", name,
             (unsigned long long)n, examples);
    return -1;
}

/* proxy_trusted must parse (core/cidr.h says why not), and PROXY headers need it. */
static int gw_validate_proxy(const struct gw_options *o, char err[CONFIG_ERROR_BYTES])
{
    struct cidr_list *ranges = malloc(sizeof *ranges);
    char why[CIDR_ERROR_BYTES];
    if (ranges == NULL) {
        snprintf(err, CONFIG_ERROR_BYTES, "out of memory checking proxy_trusted");
        return -1;
    }
    bool parsed = cidr_list_from_items((const char *const *)o->proxy_trusted.items,
                                       o->proxy_trusted.count, ranges, why);
    free(ranges);
    if (!parsed) {
        snprintf(err, CONFIG_ERROR_BYTES, "proxy_trusted = %s", why);
        return -1;
    }
    if (o->proxy_protocol != PROXY_MODE_OFF && o->proxy_trusted.count == 0) {
        snprintf(err, CONFIG_ERROR_BYTES,
                 "proxy_protocol = %s needs proxy_trusted: the addresses your load balancers "
                 "connect from, e.g. 10.0.0.0/8",
                 proxy_mode_names[o->proxy_protocol]);
        return -1;
    }
    return 0;
}

static uint16_t gw_addr_port(const struct config_addr *a)
{
    const struct sockaddr *sa = (const struct sockaddr *)&a->addr;
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return 0;
}

/* tls_certs: each item one `cert:key` pair with both paths set; wss on a port of its own. */
static int gw_validate_tls(const struct gw_options *o, char err[CONFIG_ERROR_BYTES])
{
    const struct config_list *certs = &o->tls_certs;
    if (certs->count > TLS_CERTS_MAX) {
        snprintf(err, CONFIG_ERROR_BYTES, "tls_certs: %zu pairs; at most %d are allowed",
                 certs->count, TLS_CERTS_MAX);
        return -1;
    }
    for (size_t i = 0; i < certs->count; i++) {
        const char *item = certs->items[i];
        const char *colon = strchr(item, ':');
        if (colon == NULL || colon == item || colon[1] == '\0' || strchr(colon + 1, ':') != NULL) {
            snprintf(
                err, CONFIG_ERROR_BYTES,
                "tls_certs = \"%s\": expected cert.pem:key.pem (two paths without ':' "
                "joined by one ':'), e.g. /etc/tidegate/fullchain.pem:/etc/tidegate/privkey.pem",
                item);
            return -1;
        }
    }
    uint16_t port = gw_addr_port(&o->tls_listen);
    if (certs->count > 0 && port != 0 && port == gw_addr_port(&o->listen)) {
        snprintf(err, CONFIG_ERROR_BYTES,
                 "tls_listen (%s) and listen (%s) use the same port %u: wss needs a port of its "
                 "own, e.g. tls_listen = 0.0.0.0:8443",
                 o->tls_listen.text, o->listen.text, (unsigned)port);
        return -1;
    }
    return 0;
}

int gw_options_validate(const struct gw_options *o, char err[CONFIG_ERROR_BYTES])
{
    assert(o != NULL && err != NULL);
    if (gw_validate_power_of_two("recv_buffer_count", o->recv_buffer_count, "16, 32, ... 32768",
                                 err) != 0 ||
        gw_validate_power_of_two("mailbox_ring_slots", o->mailbox_ring_slots, "64, 128, ... 65536",
                                 err) != 0)
        return -1;
    if (o->idle_timeout_ms != 0 && o->ping_interval_ms != 0 &&
        o->idle_timeout_ms <= o->ping_interval_ms) {
        snprintf(err, CONFIG_ERROR_BYTES,
                 "idle_timeout (%llums) must be longer than ping_interval (%llums), or clients "
                 "answering our pings would still time out",
                 (unsigned long long)o->idle_timeout_ms, (unsigned long long)o->ping_interval_ms);
        return -1;
    }
    if (!o->echo && o->max_publish_bytes >= o->max_message_bytes) { /* echo: no protocol */
        snprintf(err, CONFIG_ERROR_BYTES,
                 "max_publish_bytes (%llu) must be below max_message_bytes (%llu): the data "
                 "travels inside a message with its envelope; lower max_publish_bytes or raise "
                 "max_message_bytes",
                 (unsigned long long)o->max_publish_bytes,
                 (unsigned long long)o->max_message_bytes);
        return -1;
    }
    if (o->echo && o->demo_page) {
        snprintf(err, CONFIG_ERROR_BYTES,
                 "demo_page needs the client protocol, which echo = true turns off: set one of "
                 "them to false");
        return -1;
    }
    if (gw_validate_keys(o, err) != 0 || gw_validate_namespaces(o, err) != 0 ||
        gw_validate_redis(o, err) != 0 || gw_validate_proxy(o, err) != 0 ||
        gw_validate_tls(o, err) != 0)
        return -1;
    return 0;
}

void gw_options_free(struct gw_options *o)
{
    config_free(gw_option_table, gw_option_count, o);
}
