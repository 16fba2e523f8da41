/* Channel namespaces: the set built from `namespace.NAME.OPTION` settings, and its lookup.
 *
 * Each OPTION is parsed by core/config's own parsers through a small option table over a
 * staging struct with the generic field types (ns_values), then narrowed into struct
 * ns_config. So a namespace option accepts exactly the syntax of every other option, and its
 * errors read the same, with `namespace.NAME.` in front. The one thing to keep: a refused
 * value changes nothing, not even the existence of a namespace that it would have created.
 */
#include "gateway/namespace.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define SEC  ((uint64_t)1000)
#define HOUR (3600 * SEC)

static const char default_name[] = "default";

/* One namespace in the types core/config parses. */
struct ns_values {
    uint64_t history_size;
    uint64_t history_ttl_ms;
    bool presence;
    bool typing;
    unsigned join; /* index into join_rules, equal to enum ns_rule */
    unsigned publish;
    unsigned slow_consumer;
    uint64_t max_subscribers;
    bool durable;
};

/* The value lists are in the order of enum ns_rule and enum ns_slow_consumer. `join` lacks
 * `none`: a channel nobody may join serves nobody. */
static const char *const join_rules[] = {"caps", "authenticated", "anonymous", NULL};
static const char *const publish_rules[] = {"caps", "authenticated", "anonymous", "none", NULL};
static const char *const slow_consumer_modes[] = {"disconnect", "skip", NULL};

#define NSV(field) offsetof(struct ns_values, field)

/* docs/protocol.md 4.2; docs/configuration.md repeats it. */
static const struct config_option ns_option_table[] = {
    {"history_size", CONFIG_UINT, NSV(history_size), "100", 0, 10000, NULL,
     "Messages kept per channel for history and recovery."},
    {"history_ttl", CONFIG_DURATION, NSV(history_ttl_ms), "10m", 1 * SEC, 24 * HOUR, NULL,
     "Messages older than this are not served."},
    {"presence", CONFIG_BOOL, NSV(presence), "false", 0, 0, NULL, "Members are tracked."},
    {"typing", CONFIG_BOOL, NSV(typing), "false", 0, 0, NULL, "user_typing is relayed."},
    {"join", CONFIG_ENUM, NSV(join), "caps", 0, 0, join_rules, "Who may join."},
    {"publish", CONFIG_ENUM, NSV(publish), "caps", 0, 0, publish_rules, "Who may publish."},
    {"slow_consumer", CONFIG_ENUM, NSV(slow_consumer), "disconnect", 0, 0, slow_consumer_modes,
     "What a subscriber that cannot keep up gets."},
    {"max_subscribers", CONFIG_UINT, NSV(max_subscribers), "100000", 1, 100000000, NULL,
     "Subscribers per channel."},
    {"durable", CONFIG_BOOL, NSV(durable), "false", 0, 0, NULL,
     "Publishes are acknowledged once stored."},
};
enum { NS_OPTION_COUNT = sizeof ns_option_table / sizeof ns_option_table[0] };

#define NS_OPTION_NAMES                                                                            \
    "history_size, history_ttl, presence, typing, join, publish, slow_consumer, "                  \
    "max_subscribers, durable"

static void ns_values_from(const struct ns_config *c, struct ns_values *v)
{
    *v = (struct ns_values){
        .history_size = c->history_size,
        .history_ttl_ms = c->history_ttl_ms,
        .presence = c->presence,
        .typing = c->typing,
        .join = c->join,
        .publish = c->publish,
        .slow_consumer = c->slow_consumer,
        .max_subscribers = c->max_subscribers,
        .durable = c->durable,
    };
}

/* Narrows parsed values; the table's ranges and value lists make every cast exact. */
static void ns_values_to(const struct ns_values *v, struct ns_config *c)
{
    assert(v->history_size <= UINT32_MAX && v->join <= NS_RULE_ANONYMOUS);
    assert(v->publish <= NS_RULE_NONE && v->slow_consumer <= NS_SLOW_SKIP);
    c->history_size = (uint32_t)v->history_size;
    c->history_ttl_ms = v->history_ttl_ms;
    c->presence = v->presence;
    c->typing = v->typing;
    c->durable = v->durable;
    c->join = (uint8_t)v->join;
    c->publish = (uint8_t)v->publish;
    c->slow_consumer = (uint8_t)v->slow_consumer;
    c->max_subscribers = v->max_subscribers;
}

/* A namespace named `name` with every option at its default. Returns 0 or -1 with err. */
static int ns_config_default(struct ns_config *c, const char *name, size_t len, char *err)
{
    struct ns_values v;
    assert(len >= 1 && len <= GW_NAMESPACE_NAME_MAX);
    memset(&v, 0, sizeof v);
    if (config_defaults(ns_option_table, NS_OPTION_COUNT, &v, err) != 0)
        return -1;
    memset(c, 0, sizeof *c);
    memcpy(c->name, name, len);
    c->name[len] = '\0';
    ns_values_to(&v, c);
    return 0;
}

static bool ns_name_valid(const char *name, size_t len)
{
    if (len == 0 || len > GW_NAMESPACE_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

/* Byte order of `name` (len bytes) against a NUL-terminated configured name. */
static int ns_name_compare(const char *name, size_t len, const char *configured)
{
    size_t configured_len = strlen(configured);
    int c = memcmp(name, configured, len < configured_len ? len : configured_len);
    if (c != 0)
        return c;
    return len < configured_len ? -1 : len > configured_len ? 1 : 0;
}

/* Binary search of items[1..count): the index of `name`, or the index where it would go,
 * with *found saying which. */
static size_t ns_search(const struct gw_namespaces *ns, const char *name, size_t len, bool *found)
{
    assert(ns->count >= 1);
    size_t lo = 1, hi = ns->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = ns_name_compare(name, len, ns->items[mid].name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    *found = false;
    return lo;
}

const struct ns_config *gw_namespace_find(const struct gw_namespaces *ns, const char *name,
                                          size_t len)
{
    assert(ns != NULL && ns->count >= 1);
    assert(len == 0 || name != NULL);
    if (len == 0 || ns_name_compare(name, len, default_name) == 0)
        return &ns->items[0];
    if (len > GW_NAMESPACE_NAME_MAX)
        return NULL;
    bool found;
    size_t i = ns_search(ns, name, len, &found);
    return found ? &ns->items[i] : NULL;
}

void gw_namespaces_free(struct gw_namespaces *ns)
{
    assert(ns != NULL);
    free(ns->items);
    ns->items = NULL;
    ns->count = 0;
}

static int ns_reset(void *field, char *err)
{
    struct gw_namespaces *ns = field;
    struct ns_config *items = calloc(1, sizeof *items);
    if (items == NULL) {
        snprintf(err, CONFIG_ERROR_BYTES, "namespaces: out of memory");
        return -1;
    }
    if (ns_config_default(&items[0], default_name, strlen(default_name), err) != 0) {
        free(items);
        return -1;
    }
    gw_namespaces_free(ns);
    ns->items = items;
    ns->count = 1;
    return 0;
}

static const struct config_option *ns_option_find(const char *option)
{
    for (size_t i = 0; i < NS_OPTION_COUNT; i++)
        if (strcmp(ns_option_table[i].name, option) == 0)
            return &ns_option_table[i];
    return NULL;
}

/* The checks on PREFIX.NAME.OPTION = value that come before parsing the value: the shape of
 * the key, the name, the option, `join = none`. Returns the option's row, or NULL with err. */
static const struct config_option *ns_check_key(const char *prefix, const char *key,
                                                const char *value, char *err)
{
    const char *dot = strchr(key, '.');
    size_t name_len = dot != NULL ? (size_t)(dot - key) : strlen(key);
    const char *option = dot != NULL ? dot + 1 : "";
    const struct config_option *row = ns_option_find(option);
    if (dot == NULL || option[0] == '\0')
        snprintf(err, CONFIG_ERROR_BYTES,
                 "%s.%.128s = \"%.128s\": expected %s.NAME.OPTION with OPTION one of "
                 "" NS_OPTION_NAMES,
                 prefix, key, value, prefix);
    else if (!ns_name_valid(key, name_len))
        snprintf(err, CONFIG_ERROR_BYTES,
                 "%s.%.128s = \"%.128s\": the namespace name \"%.*s\" must be 1 to %d "
                 "characters of a-z, 0-9, _ and -",
                 prefix, key, value, (int)(name_len < 128 ? name_len : 128), key,
                 GW_NAMESPACE_NAME_MAX);
    else if (row == NULL)
        snprintf(err, CONFIG_ERROR_BYTES,
                 "%s.%.128s = \"%.128s\": unknown namespace option \"%.64s\"; expected one "
                 "of " NS_OPTION_NAMES,
                 prefix, key, value, option);
    else if (row->enum_values == join_rules && strcmp(value, "none") == 0)
        snprintf(err, CONFIG_ERROR_BYTES,
                 "%s.%.128s = \"none\": a channel nobody may join serves nobody (none is for "
                 "publish); expected one of: caps, authenticated, anonymous",
                 prefix, key);
    else
        return row;
    return NULL;
}

/* Makes room for a new namespace at index `at` of the sorted part. Returns the slot, or NULL
 * with err (the set unchanged). */
static struct ns_config *ns_insert(struct gw_namespaces *ns, size_t at, const char *prefix,
                                   char *err)
{
    assert(at >= 1 && at <= ns->count);
    if (ns->count >= GW_NAMESPACES_MAX) {
        snprintf(err, CONFIG_ERROR_BYTES,
                 "%s: more than %d namespaces (default included); merge some, channels of one "
                 "namespace share its settings",
                 prefix, GW_NAMESPACES_MAX);
        return NULL;
    }
    struct ns_config *items = realloc(ns->items, (ns->count + 1) * sizeof *items);
    if (items == NULL) {
        snprintf(err, CONFIG_ERROR_BYTES, "%s: out of memory", prefix);
        return NULL;
    }
    memmove(&items[at + 1], &items[at], (ns->count - at) * sizeof *items);
    ns->items = items;
    ns->count++;
    return &items[at];
}

static int ns_set(void *field, const char *prefix, const char *key, const char *value, char *err)
{
    struct gw_namespaces *ns = field;
    assert(ns->count >= 1 && prefix != NULL && key != NULL && value != NULL);
    const struct config_option *row = ns_check_key(prefix, key, value, err);
    if (row == NULL)
        return -1;
    size_t name_len = (size_t)(strchr(key, '.') - key);
    bool found = ns_name_compare(key, name_len, default_name) == 0;
    size_t at = found ? 0 : ns_search(ns, key, name_len, &found);
    struct ns_config staged; /* parsed aside: a refused value changes nothing */
    if (found)
        staged = ns->items[at];
    else if (ns_config_default(&staged, key, name_len, err) != 0)
        return -1;
    struct ns_values v;
    ns_values_from(&staged, &v);
    char why[CONFIG_ERROR_BYTES];
    if (config_set(row, 1, &v, row->name, value, why) != 0) {
        snprintf(err, CONFIG_ERROR_BYTES, "%s.%.*s.%.400s", prefix, (int)name_len, key, why);
        return -1;
    }
    ns_values_to(&v, &staged);
    struct ns_config *slot = found ? &ns->items[at] : ns_insert(ns, at, prefix, err);
    if (slot == NULL)
        return -1;
    *slot = staged;
    return 0;
}

static bool ns_key_is_bool(const char *key)
{
    const char *dot = strchr(key, '.');
    const struct config_option *row = dot != NULL ? ns_option_find(dot + 1) : NULL;
    return row != NULL && row->type == CONFIG_BOOL;
}

/* Every option of every namespace, `default` first, so the output loads back whole. */
static void ns_print(FILE *out, const char *prefix, const void *field)
{
    const struct gw_namespaces *ns = field;
    for (size_t i = 0; i < ns->count; i++) {
        struct ns_values v;
        ns_values_from(&ns->items[i], &v);
        for (size_t j = 0; j < NS_OPTION_COUNT; j++) {
            fprintf(out, "%s.%s.", prefix, ns->items[i].name);
            config_print_values(out, &ns_option_table[j], 1, &v);
        }
    }
}

static void ns_free(void *field)
{
    gw_namespaces_free(field);
}

const struct config_custom gw_namespace_config = {
    .reset = ns_reset,
    .set = ns_set,
    .key_is_bool = ns_key_is_bool,
    .print = ns_print,
    .free = ns_free,
    .help_key = "NAME.OPTION",
    .help_detail = "OPTION one of " NS_OPTION_NAMES "; see docs/configuration.md",
};
