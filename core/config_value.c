/* Option values, one type at a time: parsing text into a field, the sentence that says what
 * a value must look like, and printing a field back as text (config.h has the syntax).
 *
 * Every value goes through one parser per type (config_parse_value) whether it comes from
 * a default, a file line or a flag, so the three can never accept different things. The one
 * thing to keep when changing a parser: a value is parsed aside and stored only once it is
 * accepted, so a refused value leaves the option (and the memory it owns) as it was, and
 * config_print_value writes every stored value in a form the parser reads back (secrets
 * aside, which print as "***").
 *
 * Beyond the header: strings and list items may not hold a line break (a file could not
 * hold them); list items are at most CONFIG_STRING_BYTES_MAX bytes each; an address never
 * set prints as a comment.
 */
#include "core/config_internal.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* Parses a decimal uint64 prefix; returns the number of digits (0 on none or overflow). */
static size_t config_parse_decimal(const char *text, uint64_t *value)
{
    uint64_t v = 0;
    size_t i = 0;
    for (; isdigit((unsigned char)text[i]); i++) {
        unsigned d = (unsigned)(text[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *value = v;
    return i;
}

struct config_unit {
    const char *suffix;
    uint64_t scale;
};

/* Largest first, so formatting can take the first that divides exactly. Sizes also read
 * upper-case suffixes; durations do not ("5M" is more likely a size than five minutes). */
static const struct config_unit config_size_units[] = {
    {"g", 1u << 30}, {"G", 1u << 30}, {"m", 1u << 20}, {"M", 1u << 20},
    {"k", 1u << 10}, {"K", 1u << 10}, {"", 1},
};
static const struct config_unit config_duration_units[] = {
    {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}, {"", 1},
};

/* The suffixes a number of this type may carry; a plain number takes none. */
static const struct config_unit *config_units(enum config_type type, size_t *count)
{
    static const struct config_unit plain[] = {{"", 1}};
    if (type == CONFIG_SIZE) {
        *count = sizeof config_size_units / sizeof config_size_units[0];
        return config_size_units;
    }
    if (type == CONFIG_DURATION) {
        *count = sizeof config_duration_units / sizeof config_duration_units[0];
        return config_duration_units;
    }
    *count = 1;
    return plain;
}

/* Digits and then exactly one of `units`' suffixes; false on anything else or overflow. */
static bool config_parse_scaled(const char *text, const struct config_unit *units, size_t count,
                                uint64_t *value)
{
    size_t digits = config_parse_decimal(text, value);
    if (digits == 0)
        return false;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(text + digits, units[i].suffix) == 0) {
            assert(units[i].scale > 0);
            if (*value > UINT64_MAX / units[i].scale)
                return false;
            *value *= units[i].scale;
            return true;
        }
    }
    return false;
}

static bool config_parse_bool(const char *text, bool *value)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(text, yes[i]) == 0) {
            *value = true;
            return true;
        }
        if (strcmp(text, no[i]) == 0) {
            *value = false;
            return true;
        }
    }
    return false;
}

/* True for text that reads like a host name ("localhost", "db-1.internal"), so the error
 * can say that names are not resolved rather than that the address is malformed. */
static bool config_looks_like_name(const char *host)
{
    bool letter = false;
    for (const char *p = host; *p != '\0'; p++) {
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
            return false;
        letter = letter || isalpha((unsigned char)*p);
    }
    return letter;
}

/* Splits "host:port" or "[host]:port" into `host` (NUL-terminated) and the port text.
 * Returns NULL, or the reason the text is not of that shape ("" when the expectation alone
 * says it). */
static const char *config_split_addr(const char *text, char host[64], const char **port_text)
{
    const char *host_start = text, *host_end;
    if (text[0] == '[') {
        host_start = text + 1;
        host_end = strchr(text, ']');
        if (host_end == NULL || host_end[1] != ':')
            return host_end == NULL ? "" : "the port is missing";
        *port_text = host_end + 2;
    } else {
        host_end = strrchr(text, ':');
        if (host_end == NULL)
            return "the port is missing";
        if (memchr(text, ':', (size_t)(host_end - text)) != NULL)
            return "an IPv6 address goes in brackets";
        *port_text = host_end + 1;
    }
    size_t len = (size_t)(host_end - host_start);
    if (len >= 64)
        return "";
    memcpy(host, host_start, len);
    host[len] = '\0';
    return NULL;
}

/* Parses a numeric address into `addr` (zeroed first). Returns NULL, or the reason. */
static const char *config_parse_addr(const char *text, struct config_addr *addr)
{
    char host[64];
    const char *port_text = NULL;
    memset(addr, 0, sizeof *addr);
    if (strlen(text) >= sizeof addr->text)
        return "too long for an address";
    const char *why = config_split_addr(text, host, &port_text);
    if (why != NULL)
        return why;
    uint64_t port;
    size_t digits = config_parse_decimal(port_text, &port);
    if (digits == 0 || digits > 5 || port_text[digits] != '\0' || port > 65535)
        return "the port must be a number from 0 to 65535";
    struct sockaddr_in *v4 = (struct sockaddr_in *)&addr->addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr->addr;
    if (text[0] != '[' && inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        addr->addr_len = sizeof *v4;
    } else if (text[0] == '[' && inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        addr->addr_len = sizeof *v6;
    } else {
        return text[0] != '[' && config_looks_like_name(host)
                   ? "host names are not resolved (there is no DNS lookup at start)"
                   : "";
    }
    assert(addr->addr_len <= sizeof addr->addr);
    snprintf(addr->text, sizeof addr->text, "%s", text);
    return NULL;
}

void config_list_free(struct config_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i]);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

/* Copies one list item, `start` to `end` with surrounding spaces trimmed. Returns NULL with
 * `why` set when it is empty, too long or cannot be allocated. */
static char *config_list_item(const char *start, const char *end, const char **why)
{
    while (start < end && isspace((unsigned char)*start))
        start++;
    while (end > start && isspace((unsigned char)end[-1]))
        end--;
    if (start == end) {
        *why = "empty item";
        return NULL;
    }
    if (end - start > CONFIG_STRING_BYTES_MAX) {
        *why = "item too long";
        return NULL;
    }
    char *item = strndup(start, (size_t)(end - start));
    if (item == NULL)
        *why = "out of memory";
    return item;
}

/* Splits "a, b,c" into a new list. Returns 0, or -1 with `why` set. */
static int config_parse_list(const char *text, struct config_list *out, const char **why)
{
    out->items = NULL;
    out->count = 0;
    if (*text == '\0')
        return 0;
    if (strchr(text, '\n') != NULL) {
        *why = "a line break in the list";
        return -1;
    }
    size_t count = 1;
    for (const char *p = text; *p != '\0'; p++)
        count += *p == ',';
    if (count > CONFIG_LIST_ITEMS_MAX) {
        *why = "too many items";
        return -1;
    }
    out->items = calloc(count, sizeof *out->items);
    if (out->items == NULL) {
        *why = "out of memory";
        return -1;
    }
    const char *start = text;
    for (size_t i = 0; i < count; i++) {
        const char *end = strchr(start, ',');
        if (end == NULL)
            end = start + strlen(start);
        out->items[i] = config_list_item(start, end, why);
        if (out->items[i] == NULL) {
            config_list_free(out);
            return -1;
        }
        out->count = i + 1;
        start = *end == ',' ? end + 1 : end;
    }
    assert(*start == '\0' && out->count == count);
    return 0;
}

/* Formats a number of this option's type: sizes and durations in the largest exact unit
 * ("16m", "5s", "1500ms"; zero is "0"), so the text reads back to the same value. */
static void config_format_number(const struct config_option *opt, uint64_t v, char *out, size_t cap)
{
    assert(cap > 0);
    size_t count;
    const struct config_unit *units = config_units(opt->type, &count);
    for (size_t i = 0; i < count; i++) {
        if (v != 0 && units[i].suffix[0] != '\0' && v % units[i].scale == 0) {
            snprintf(out, cap, "%" PRIu64 "%s", v / units[i].scale, units[i].suffix);
            return;
        }
    }
    snprintf(out, cap, "%" PRIu64, v);
}

/* The allowed range of a number option: "from 1 to 64m" (`help`: "1..64m"), "at least 4k"
 * ("4k.." ) when there is no upper bound, "" when there is no bound at all. */
void config_format_range(const struct config_option *opt, bool help, char *out, size_t cap)
{
    char lo[32], hi[32];
    assert(opt->type == CONFIG_UINT || opt->type == CONFIG_SIZE || opt->type == CONFIG_DURATION);
    config_format_number(opt, opt->min, lo, sizeof lo);
    config_format_number(opt, opt->max, hi, sizeof hi);
    if (opt->max != UINT64_MAX)
        snprintf(out, cap, help ? "%s..%s" : "from %s to %s", lo, hi);
    else if (opt->min != 0)
        snprintf(out, cap, help ? "%s.." : "at least %s", lo);
    else
        snprintf(out, cap, "%s", "");
}

/* Joins an enum's values: "debug, info, warn, error". */
void config_format_enum(const struct config_option *opt, char *out, size_t cap)
{
    assert(opt->enum_values != NULL && cap > 0);
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; opt->enum_values[i] != NULL && used < cap; i++) {
        int n = snprintf(out + used, cap - used, "%s%s", i ? ", " : "", opt->enum_values[i]);
        if (n < 0)
            return;
        used += (size_t)n;
    }
}

/* What a value of this option must look like, for error sentences. */
static void config_expectation(const struct config_option *opt, char *out, size_t cap)
{
    static const char *const number_forms[] = {
        [CONFIG_UINT] = "a whole number",
        [CONFIG_SIZE] = "a size like 65536, 64k or 16m",
        [CONFIG_DURATION] = "a duration like 250ms, 5s or 2m",
    };
    char detail[224];
    switch (opt->type) {
    case CONFIG_BOOL:
        snprintf(out, cap, "expected true or false (also yes/no, on/off, 1/0)");
        return;
    case CONFIG_UINT:
    case CONFIG_SIZE:
    case CONFIG_DURATION:
        config_format_range(opt, false, detail, sizeof detail);
        snprintf(out, cap, "expected %s%s%s", number_forms[opt->type], detail[0] ? ", " : "",
                 detail);
        return;
    case CONFIG_STRING:
        snprintf(out, cap, "expected one line of text of at most %d bytes",
                 CONFIG_STRING_BYTES_MAX);
        return;
    case CONFIG_ENUM:
        config_format_enum(opt, detail, sizeof detail);
        snprintf(out, cap, "expected one of: %s", detail);
        return;
    case CONFIG_ADDR:
        snprintf(out, cap,
                 "expected a numeric IP address and port like 0.0.0.0:8080 or [::1]:8080");
        return;
    case CONFIG_LIST:
        snprintf(out, cap,
                 "expected a comma-separated list of at most %d non-empty items of one line "
                 "and at most %d bytes each",
                 CONFIG_LIST_ITEMS_MAX, CONFIG_STRING_BYTES_MAX);
        return;
    case CONFIG_CUSTOM:
        assert(opt->custom != NULL);
        snprintf(out, cap, "expected %s.%s = value", opt->name, opt->custom->help_key);
        return;
    }
    snprintf(out, cap, "expected a value of option type %d", (int)opt->type);
}

static int config_fail(const struct config_option *opt, const char *value, const char *why,
                       char *err)
{
    char expected[256];
    config_expectation(opt, expected, sizeof expected);
    if (opt->flags & CONFIG_SECRET)
        value = "***"; /* an error message is no place for a key, even a malformed one */
    snprintf(err, CONFIG_ERROR_BYTES, "%s = \"%.128s\": %s%s%s", opt->name, value, why ? why : "",
             why ? "; " : "", expected);
    return -1;
}

static int config_parse_number(const struct config_option *opt, const char *value, uint64_t *field,
                               char *err)
{
    uint64_t v = 0;
    size_t count;
    const struct config_unit *units = config_units(opt->type, &count);
    bool ok = config_parse_scaled(value, units, count, &v);
    if (!ok)
        return config_fail(opt, value, NULL, err);
    if (v < opt->min || v > opt->max)
        return config_fail(opt, value, "out of range", err);
    *field = v;
    return 0;
}

static int config_parse_enum(const struct config_option *opt, const char *value, unsigned *field,
                             char *err)
{
    assert(opt->enum_values != NULL);
    for (unsigned i = 0; opt->enum_values[i] != NULL; i++) {
        if (strcmp(opt->enum_values[i], value) == 0) {
            *field = i;
            return 0;
        }
    }
    return config_fail(opt, value, NULL, err);
}

/* A string replaces (and frees) the old one only once the new one is accepted. */
static int config_parse_string(const struct config_option *opt, const char *value, char **field,
                               char *err)
{
    assert(opt->type == CONFIG_STRING);
    if (strlen(value) > CONFIG_STRING_BYTES_MAX)
        return config_fail(opt, value, "too long", err);
    if (strchr(value, '\n') != NULL) /* a file could not hold it, nor print it back */
        return config_fail(opt, value, "a line break in the text", err);
    char *copy = strdup(value);
    if (copy == NULL)
        return config_fail(opt, value, "out of memory", err);
    free(*field);
    *field = copy;
    return 0;
}

int config_parse_value(const struct config_option *opt, void *target, const char *value, char *err)
{
    void *field = config_field(opt, target);
    switch (opt->type) {
    case CONFIG_BOOL:
        return config_parse_bool(value, field) ? 0 : config_fail(opt, value, NULL, err);
    case CONFIG_UINT:
    case CONFIG_SIZE:
    case CONFIG_DURATION:
        return config_parse_number(opt, value, field, err);
    case CONFIG_ENUM:
        return config_parse_enum(opt, value, field, err);
    case CONFIG_ADDR: {
        struct config_addr addr; /* parsed aside: a refused value leaves the field as it was */
        const char *why = config_parse_addr(value, &addr);
        if (why != NULL)
            return config_fail(opt, value, why[0] != '\0' ? why : NULL, err);
        *(struct config_addr *)field = addr;
        return 0;
    }
    case CONFIG_STRING:
        return config_parse_string(opt, value, field, err);
    case CONFIG_LIST: {
        struct config_list list;
        const char *why = NULL;
        if (config_parse_list(value, &list, &why) != 0)
            return config_fail(opt, value, why, err);
        config_list_free(field);
        *(struct config_list *)field = list;
        return 0;
    }
    case CONFIG_CUSTOM: /* config.c hands these to the row's callbacks, with their key */
        return config_fail(opt, value, "the option name lacks its key", err);
    }
    return config_fail(opt, value, "unknown option type", err);
}

static size_t config_enum_count(const struct config_option *opt)
{
    assert(opt->type == CONFIG_ENUM && opt->enum_values != NULL);
    size_t n = 0;
    while (opt->enum_values[n] != NULL)
        n++;
    return n;
}

/* Writes a list whole (it may be longer than any fixed buffer) and always in quotes: the
 * loader strips one pair, so items that begin or end with a quote survive the trip. A secret
 * list shows one "***" per item, so the count is visible and nothing else. */
static void config_print_list(FILE *out, const struct config_list *list, bool secret)
{
    assert(list->count == 0 || list->items != NULL);
    fputc('"', out);
    for (size_t i = 0; i < list->count; i++)
        fprintf(out, "%s%s", i ? "," : "", secret ? "***" : list->items[i]);
    fputs("\"\n", out);
}

/* One `name = value` line. Strings and lists are always quoted (the loader strips exactly
 * one pair); an address never set (a NULL default) is a comment, since "" is not one; a
 * secret that is set prints as "***". */
void config_print_value(FILE *out, const struct config_option *opt, const void *field)
{
    char text[64];
    switch (opt->type) {
    case CONFIG_BOOL:
        fprintf(out, "%s = %s\n", opt->name, *(const bool *)field ? "true" : "false");
        return;
    case CONFIG_UINT:
    case CONFIG_SIZE:
    case CONFIG_DURATION:
        config_format_number(opt, *(const uint64_t *)field, text, sizeof text);
        fprintf(out, "%s = %s\n", opt->name, text);
        return;
    case CONFIG_STRING: {
        const char *s = *(char *const *)field;
        if (s != NULL && s[0] != '\0' && (opt->flags & CONFIG_SECRET))
            s = "***";
        fprintf(out, "%s = \"%s\"\n", opt->name, s != NULL ? s : "");
        return;
    }
    case CONFIG_ENUM: {
        unsigned index = *(const unsigned *)field;
        assert(index < config_enum_count(opt));
        fprintf(out, "%s = %s\n", opt->name,
                index < config_enum_count(opt) ? opt->enum_values[index] : "?");
        return;
    }
    case CONFIG_ADDR: {
        const struct config_addr *addr = field;
        if (addr->addr_len == 0) {
            fprintf(out, "# %s is not set\n", opt->name);
            return;
        }
        config_addr_format((const struct sockaddr *)&addr->addr, text, sizeof text);
        fprintf(out, "%s = %s\n", opt->name, text);
        return;
    }
    case CONFIG_LIST:
        fprintf(out, "%s = ", opt->name);
        config_print_list(out, field, (opt->flags & CONFIG_SECRET) != 0);
        return;
    case CONFIG_CUSTOM: /* printed by the row's callback, in config.c */
        break;
    }
    assert(!"unknown option type");
}

void config_addr_format(const struct sockaddr *addr, char *out, size_t cap)
{
    assert(addr != NULL);
    assert(out != NULL && cap > 0);
    char host[INET6_ADDRSTRLEN] = "?";
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)addr;
        if (inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host) == NULL)
            snprintf(host, sizeof host, "?");
        snprintf(out, cap, "%s:%u", host, ntohs(v4->sin_port));
    } else if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)addr;
        if (inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host) == NULL)
            snprintf(host, sizeof host, "?");
        snprintf(out, cap, "[%s]:%u", host, ntohs(v6->sin6_port));
    } else {
        snprintf(out, cap, "(address family %d)", addr->sa_family);
    }
}
