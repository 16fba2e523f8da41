/* Channel namespaces (docs/protocol.md 4.2): the part of a channel name before its first ':'
 * picks a namespace, and the namespace's settings decide history, presence, typing, who may
 * join and publish, and what happens to slow consumers.
 *
 * Configuration: `namespace.NAME.OPTION = value` in the file, `--namespace.NAME.OPTION value`
 * on the command line (docs/configuration.md). A namespace exists once any of its options
 * is set; the others keep their defaults. `default` always exists, at index 0, and holds
 * the channels whose name has no ':'.
 *
 * The set is built while options are read (one thread) and read-only afterwards, so any
 * number of workers may call gw_namespace_find at once without locks.
 */
#ifndef TIDEGATE_GATEWAY_NAMESPACE_H
#define TIDEGATE_GATEWAY_NAMESPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

/* Who may join (and read presence and history) or publish; docs/protocol.md 4.3. The order
 * is the order of the configuration values. NS_RULE_NONE is refused for `join`. */
enum ns_rule { NS_RULE_CAPS, NS_RULE_AUTHENTICATED, NS_RULE_ANONYMOUS, NS_RULE_NONE };

/* What a subscriber whose send queue is full gets; docs/protocol.md 5.5. */
enum ns_slow_consumer { NS_SLOW_DISCONNECT, NS_SLOW_SKIP };

enum {
    GW_NAMESPACES_MAX = 256,   /* configured namespaces, `default` included */
    GW_NAMESPACE_NAME_MAX = 64 /* bytes of a namespace name: a-z 0-9 _ - */
};

/* One namespace's settings. Plain data. */
struct ns_config {
    char name[GW_NAMESPACE_NAME_MAX + 1]; /* NUL-terminated, 1..64 of a-z 0-9 _ - */
    uint32_t history_size;                /* messages kept per channel: 0..10000 */
    uint64_t history_ttl_ms;              /* older messages are not served: 1 s..24 h */
    bool presence;                        /* members tracked, user_online/user_offline */
    bool typing;                          /* user_typing relayed */
    bool durable;                         /* acknowledged once in PostgreSQL (issue 6; refused
                                             by gw_options_validate until it exists) */
    uint8_t join;                         /* enum ns_rule, never NS_RULE_NONE */
    uint8_t publish;                      /* enum ns_rule */
    uint8_t slow_consumer;                /* enum ns_slow_consumer */
    uint64_t max_subscribers;             /* per channel: 1..10^8 */
};

/* Every configured namespace. items[0] is "default" and always present once the options
 * have their defaults; items[1..count-1] are sorted by name (byte order) for lookup. Owns
 * `items` (freed by gw_namespaces_free, through gw_options_free). */
struct gw_namespaces {
    struct ns_config *items;
    size_t count; /* 1..GW_NAMESPACES_MAX once initialized; 0 before */
};

/* The namespace `name` (`len` bytes, no NUL needed), or NULL when it is not configured.
 * len 0 means "default": the caller passes 0 for a channel name without ':'. Names that
 * could never be configured (upper case, too long) are simply not found. O(log count), no
 * allocation: safe on the message path. */
const struct ns_config *gw_namespace_find(const struct gw_namespaces *ns, const char *name,
                                          size_t len);

/* The config file / command line hook: the option table row for `namespace.NAME.OPTION`
 * (gateway/options.c) points at this. */
extern const struct config_custom gw_namespace_config;

/* Frees the set and leaves it empty (count 0). Safe to call again. */
void gw_namespaces_free(struct gw_namespaces *ns);

#endif
