/* Option tables: see config.h for the file format and value syntax.
 *
 * Every value goes through one parser per type (config_parse_value) whether it comes from
 * a default, a file line or a flag, so the three can never accept different things. A
 * name given twice in a file: the last one wins, like a later flag overriding the file.
 */
#include "core/config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

enum { CONFIG_LINE_BYTES_MAX = 8192, CONFIG_FILE_BYTES_MAX = 1 << 20 };

static void *config_field(const struct config_option *opt, void *target)
{
    return (char *)target + opt->offset;
}

static const struct config_option *config_find(const struct config_option *opts, size_t count,
                                               const char *name, size_t name_len)
{
    for (size_t i = 0; i < count; i++)
        if (strlen(opts[i].name) == name_len && memcmp(opts[i].name, name, name_len) == 0)
            return &opts[i];
    return NULL;
}

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

/* Multiplies a parsed number by a unit; false on overflow. */
static bool config_scale(uint64_t *value, uint64_t unit)
{
    if (unit != 0 && *value > UINT64_MAX / unit)
        return false;
    *value *= unit;
    return true;
}

static bool config_parse_size(const char *text, uint64_t *value)
{
    size_t digits = config_parse_decimal(text, value);
    if (digits == 0)
        return false;
    const char *suffix = text + digits;
    uint64_t unit = 1;
    if (*suffix == 'k' || *suffix == 'K')
        unit = (uint64_t)1 << 10;
    else if (*suffix == 'm' || *suffix == 'M')
        unit = (uint64_t)1 << 20;
    else if (*suffix == 'g' || *suffix == 'G')
        unit = (uint64_t)1 << 30;
    else if (*suffix != '\0')
        return false;
    if (unit != 1 && suffix[1] != '\0')
        return false;
    return config_scale(value, unit);
}

static bool config_parse_duration(const char *text, uint64_t *value)
{
    size_t digits = config_parse_decimal(text, value);
    if (digits == 0)
        return false;
    const char *suffix = text + digits;
    uint64_t unit;
    if (*suffix == '\0' || strcmp(suffix, "ms") == 0)
        unit = 1;
    else if (strcmp(suffix, "s") == 0)
        unit = 1000;
    else if (strcmp(suffix, "m") == 0)
        unit = 60 * 1000;
    else if (strcmp(suffix, "h") == 0)
        unit = 3600 * 1000;
    else
        return false;
    return config_scale(value, unit);
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

static bool config_parse_addr(const char *text, struct config_addr *addr)
{
    char host[64];
    const char *port_text;
    memset(addr, 0, sizeof *addr);
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':' || (size_t)(close - text - 1) >= sizeof host)
            return false;
        memcpy(host, text + 1, (size_t)(close - text - 1));
        host[close - text - 1] = '\0';
        port_text = close + 2;
    } else {
        const char *colon = strrchr(text, ':');
        if (colon == NULL || (size_t)(colon - text) >= sizeof host)
            return false;
        memcpy(host, text, (size_t)(colon - text));
        host[colon - text] = '\0';
        port_text = colon + 1;
    }
    uint64_t port;
    size_t digits = config_parse_decimal(port_text, &port);
    if (digits == 0 || digits > 5 || port_text[digits] != '\0' || port > 65535)
        return false;
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
        return false;
    }
    snprintf(addr->text, sizeof addr->text, "%s", text);
    return true;
}

static void config_list_free(struct config_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i]);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

/* Splits "a, b,c" into a new list. Returns 0, or -1 with `why` set. */
static int config_parse_list(const char *text, struct config_list *out, const char **why)
{
    out->items = NULL;
    out->count = 0;
    if (*text == '\0')
        return 0;
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
        const char *a = start, *b = end;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        if (a == b) {
            *why = "empty item";
            config_list_free(out);
            return -1;
        }
        out->items[i] = strndup(a, (size_t)(b - a));
        if (out->items[i] == NULL) {
            *why = "out of memory";
            config_list_free(out);
            return -1;
        }
        out->count = i + 1;
        start = *end == ',' ? end + 1 : end;
    }
    return 0;
}

/* Formats a byte count or duration in the largest exact unit ("16m", "5s"). */
static void config_format_scaled(const struct config_option *opt, uint64_t v, char *out, size_t cap)
{
    static const struct {
        uint64_t unit;
        const char *suffix;
    } sizes[] = {{1u << 30, "g"}, {1u << 20, "m"}, {1u << 10, "k"}},
      durations[] = {{3600000, "h"}, {60000, "m"}, {1000, "s"}};
    const __typeof__(sizes[0]) *units = opt->type == CONFIG_SIZE ? sizes : durations;
    for (size_t i = 0; i < 3; i++) {
        if (v != 0 && v % units[i].unit == 0) {
            snprintf(out, cap, "%" PRIu64 "%s", v / units[i].unit, units[i].suffix);
            return;
        }
    }
    snprintf(out, cap, "%" PRIu64 "%s", v, opt->type == CONFIG_DURATION ? "ms" : "");
}

/* What a value of this option must look like, for error sentences and --help. */
static void config_expectation(const struct config_option *opt, char *out, size_t cap)
{
    char lo[32], hi[32];
    switch (opt->type) {
    case CONFIG_BOOL:
        snprintf(out, cap, "expected true or false (also yes/no, on/off, 1/0)");
        return;
    case CONFIG_UINT:
        snprintf(out, cap, "expected a whole number from %" PRIu64 " to %" PRIu64, opt->min,
                 opt->max);
        return;
    case CONFIG_SIZE:
    case CONFIG_DURATION:
        config_format_scaled(opt, opt->min, lo, sizeof lo);
        config_format_scaled(opt, opt->max, hi, sizeof hi);
        snprintf(out, cap, "expected %s from %s to %s",
                 opt->type == CONFIG_SIZE ? "a size like 65536, 64k or 16m"
                                          : "a duration like 250ms, 5s or 2m",
                 lo, hi);
        return;
    case CONFIG_STRING:
        snprintf(out, cap, "expected text of at most %d bytes", CONFIG_STRING_BYTES_MAX);
        return;
    case CONFIG_ENUM: {
        size_t used = (size_t)snprintf(out, cap, "expected one of:");
        for (size_t i = 0; opt->enum_values[i] != NULL && used < cap; i++)
            used += (size_t)snprintf(out + used, cap - used, " %s", opt->enum_values[i]);
        return;
    }
    case CONFIG_ADDR:
        snprintf(out, cap,
                 "expected a numeric address and port like 0.0.0.0:8080 or "
                 "[::1]:8080 (host names are not resolved)");
        return;
    case CONFIG_LIST:
        snprintf(out, cap, "expected a comma-separated list of at most %d non-empty items",
                 CONFIG_LIST_ITEMS_MAX);
        return;
    }
}

static int config_fail(const struct config_option *opt, const char *value, const char *why,
                       char *err)
{
    char expected[256];
    config_expectation(opt, expected, sizeof expected);
    snprintf(err, CONFIG_ERROR_BYTES, "%s = \"%.128s\": %s%s%s", opt->name, value, why ? why : "",
             why ? "; " : "", expected);
    return -1;
}

static int config_parse_number(const struct config_option *opt, const char *value, uint64_t *field,
                               char *err)
{
    uint64_t v = 0;
    bool ok;
    if (opt->type == CONFIG_SIZE)
        ok = config_parse_size(value, &v);
    else if (opt->type == CONFIG_DURATION)
        ok = config_parse_duration(value, &v);
    else
        ok = config_parse_decimal(value, &v) == strlen(value) && *value != '\0';
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

static int config_parse_value(const struct config_option *opt, void *target, const char *value,
                              char *err)
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
        if (!config_parse_addr(value, &addr))
            return config_fail(opt, value, NULL, err);
        *(struct config_addr *)field = addr;
        return 0;
    }
    case CONFIG_STRING: {
        if (strlen(value) > CONFIG_STRING_BYTES_MAX)
            return config_fail(opt, value, "too long", err);
        char *copy = strdup(value);
        if (copy == NULL)
            return config_fail(opt, value, "out of memory", err);
        free(*(char **)field);
        *(char **)field = copy;
        return 0;
    }
    case CONFIG_LIST: {
        struct config_list list;
        const char *why = NULL;
        if (config_parse_list(value, &list, &why) != 0)
            return config_fail(opt, value, why, err);
        config_list_free(field);
        *(struct config_list *)field = list;
        return 0;
    }
    }
    return config_fail(opt, value, "unknown option type", err);
}

int config_set(const struct config_option *opts, size_t count, void *target, const char *name,
               const char *value, char *err)
{
    const struct config_option *opt = config_find(opts, count, name, strlen(name));
    if (opt == NULL) {
        snprintf(err, CONFIG_ERROR_BYTES, "%.128s: unknown option; see --help", name);
        return -1;
    }
    return config_parse_value(opt, target, value, err);
}

int config_defaults(const struct config_option *opts, size_t count, void *target, char *err)
{
    for (size_t i = 0; i < count; i++) {
        const char *value = opts[i].default_value;
        if (value == NULL)
            continue;
        if (config_parse_value(&opts[i], target, value, err) != 0)
            return -1;
    }
    return 0;
}

/* Trims, splits "name = value" and strips optional quotes, in place. Returns 0 for a
 * setting, 1 for a blank or comment line, -1 with `why` for a malformed one. */
static int config_split_line(char *line, char **name, char **value, const char **why)
{
    while (isspace((unsigned char)*line))
        line++;
    if (*line == '\0' || *line == '#')
        return 1;
    char *eq = strchr(line, '=');
    if (eq == NULL) {
        *why = "expected `name = value`";
        return -1;
    }
    char *end = eq;
    while (end > line && isspace((unsigned char)end[-1]))
        end--;
    *end = '\0';
    char *v = eq + 1;
    while (isspace((unsigned char)*v))
        v++;
    char *v_end = v + strlen(v);
    while (v_end > v && isspace((unsigned char)v_end[-1]))
        v_end--;
    *v_end = '\0';
    if (v_end - v >= 2 && v[0] == '"' && v_end[-1] == '"') {
        v_end[-1] = '\0';
        v++;
    }
    if (*line == '\0') {
        *why = "missing option name before `=`";
        return -1;
    }
    *name = line;
    *value = v;
    return 0;
}

/* Reads the whole file (bounded). Returns a NUL-terminated buffer or NULL with err. */
static char *config_read_file(const char *path, size_t *len, char *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, CONFIG_ERROR_BYTES, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(CONFIG_FILE_BYTES_MAX + 1);
    size_t n = buf != NULL ? fread(buf, 1, CONFIG_FILE_BYTES_MAX + 1, f) : 0;
    bool failed = buf == NULL || ferror(f);
    fclose(f);
    if (failed || n > CONFIG_FILE_BYTES_MAX) {
        snprintf(err, CONFIG_ERROR_BYTES, "%s: %s", path,
                 failed ? "cannot read the file" : "file larger than 1 MiB");
        free(buf);
        return NULL;
    }
    if (memchr(buf, '\0', n) != NULL) {
        snprintf(err, CONFIG_ERROR_BYTES, "%s: contains a NUL byte; not a text file", path);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int config_apply_line(const struct config_option *opts, size_t count, void *target,
                             char *line, char *err)
{
    if (strlen(line) > CONFIG_LINE_BYTES_MAX) {
        snprintf(err, CONFIG_ERROR_BYTES, "line longer than 8 KiB");
        return -1;
    }
    char *name, *value;
    const char *why = NULL;
    int split = config_split_line(line, &name, &value, &why);
    if (split < 0) {
        snprintf(err, CONFIG_ERROR_BYTES, "%s", why);
        return -1;
    }
    if (split > 0)
        return 0;
    return config_set(opts, count, target, name, value, err);
}

int config_load_file(const struct config_option *opts, size_t count, void *target, const char *path,
                     char *err)
{
    size_t len;
    char *buf = config_read_file(path, &len, err);
    if (buf == NULL)
        return -1;
    unsigned line_no = 1;
    int ret = 0;
    for (char *line = buf; line != NULL && ret == 0; line_no++) {
        char *nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        if (nl != NULL && nl > line && nl[-1] == '\r')
            nl[-1] = '\0';
        char line_err[CONFIG_ERROR_BYTES];
        if (config_apply_line(opts, count, target, line, line_err) != 0) {
            snprintf(err, CONFIG_ERROR_BYTES, "%.160s:%u: %.340s", path, line_no, line_err);
            ret = -1;
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
    free(buf);
    return ret;
}

const struct config_option *config_find_flag(const struct config_option *opts, size_t count,
                                             const char *flag)
{
    if (strncmp(flag, "--", 2) != 0)
        return NULL;
    flag += 2;
    size_t len = strcspn(flag, "=");
    char name[128];
    if (len == 0 || len >= sizeof name)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (flag[i] == '_')
            return NULL; /* flags use dashes; underscores are the file's spelling */
        name[i] = flag[i] == '-' ? '_' : flag[i];
    }
    return config_find(opts, count, name, len);
}

static const char *config_type_word(enum config_type type)
{
    static const char *const words[] = {"BOOL", "N",    "SIZE", "DURATION",
                                        "TEXT", "WORD", "ADDR", "LIST"};
    return words[type];
}

static void config_format_value(const struct config_option *opt, const void *target, char *out,
                                size_t cap)
{
    const void *field = (const char *)target + opt->offset;
    switch (opt->type) {
    case CONFIG_BOOL:
        snprintf(out, cap, "%s", *(const bool *)field ? "true" : "false");
        break;
    case CONFIG_UINT:
        snprintf(out, cap, "%" PRIu64, *(const uint64_t *)field);
        break;
    case CONFIG_SIZE:
    case CONFIG_DURATION:
        config_format_scaled(opt, *(const uint64_t *)field, out, cap);
        break;
    case CONFIG_STRING: {
        const char *s = *(char *const *)field;
        snprintf(out, cap, "\"%s\"", s != NULL ? s : "");
        break;
    }
    case CONFIG_ENUM:
        snprintf(out, cap, "%s", opt->enum_values[*(const unsigned *)field]);
        break;
    case CONFIG_ADDR:
        config_addr_format((const struct sockaddr *)&((const struct config_addr *)field)->addr, out,
                           cap);
        break;
    case CONFIG_LIST:
        assert(!"lists are printed whole by config_print_list");
        snprintf(out, cap, "\"\"");
        break;
    }
}

/* Writes a list whole (it may be longer than any fixed buffer) and always in quotes: the
 * loader strips one pair, so items that begin or end with a quote survive the trip. */
static void config_print_list(FILE *out, const struct config_list *list)
{
    fputc('"', out);
    for (size_t i = 0; i < list->count; i++)
        fprintf(out, "%s%s", i ? "," : "", list->items[i]);
    fputs("\"\n", out);
}

void config_print_help(FILE *out, const struct config_option *opts, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        char flag[96], expected[256];
        size_t n = (size_t)snprintf(flag, sizeof flag, "  --");
        for (const char *p = opts[i].name; *p != '\0' && n + 1 < sizeof flag; p++)
            flag[n++] = *p == '_' ? '-' : *p;
        snprintf(flag + n, sizeof flag - n, " %s", config_type_word(opts[i].type));
        config_expectation(&opts[i], expected, sizeof expected);
        fprintf(out, "%-34s %s\n%-34s default: %s; %s\n", flag, opts[i].help, "",
                opts[i].default_value != NULL && opts[i].default_value[0] != '\0'
                    ? opts[i].default_value
                    : "(empty)",
                expected);
    }
}

void config_print_values(FILE *out, const struct config_option *opts, size_t count,
                         const void *target)
{
    for (size_t i = 0; i < count; i++) {
        fprintf(out, "%s = ", opts[i].name);
        if (opts[i].type == CONFIG_LIST) {
            config_print_list(out, (const void *)((const char *)target + opts[i].offset));
            continue;
        }
        char value[4200];
        config_format_value(&opts[i], target, value, sizeof value);
        fprintf(out, "%s\n", value);
    }
}

void config_free(const struct config_option *opts, size_t count, void *target)
{
    for (size_t i = 0; i < count; i++) {
        void *field = config_field(&opts[i], target);
        if (opts[i].type == CONFIG_STRING) {
            free(*(char **)field);
            *(char **)field = NULL;
        } else if (opts[i].type == CONFIG_LIST) {
            config_list_free(field);
        }
    }
}

void config_addr_format(const struct sockaddr *addr, char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)addr;
        inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
        snprintf(out, cap, "%s:%u", host, ntohs(v4->sin_port));
    } else if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)addr;
        inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
        snprintf(out, cap, "[%s]:%u", host, ntohs(v6->sin6_port));
    } else {
        snprintf(out, cap, "(address family %d)", addr->sa_family);
    }
}
