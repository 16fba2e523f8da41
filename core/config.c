/* Option tables: finding an option by name or flag, defaults, config files, --help, and
 * printing or freeing a whole table. What a value of each type looks like is
 * config_value.c's business; this half never looks inside a value (config.h has the
 * syntax of both).
 *
 * A name given twice in a file: the last one wins, like a later flag overriding the file.
 * A NULL default zeroes the field (freeing an owned value). A custom row's PREFIX.KEY names
 * reach its callbacks with KEY split off; the callbacks keep the same promise as every
 * parser here: a refused value leaves the field as it was.
 */
#include "core/config_internal.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { CONFIG_LINE_BYTES_MAX = 8192, CONFIG_FILE_BYTES_MAX = 1 << 20 };

/* The row for a file-form name: an exact name, or a custom row's PREFIX followed by '.',
 * with *key pointing after that '.' (NULL for every other row). NULL when none matches. */
static const struct config_option *config_find(const struct config_option *opts, size_t count,
                                               const char *name, const char **key)
{
    size_t name_len = strlen(name);
    *key = NULL;
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(opts[i].name);
        if (len == name_len && memcmp(opts[i].name, name, len) == 0)
            return &opts[i];
        if (opts[i].type == CONFIG_CUSTOM && len < name_len && name[len] == '.' &&
            memcmp(opts[i].name, name, len) == 0) {
            *key = name + len + 1;
            return &opts[i];
        }
    }
    return NULL;
}

int config_set(const struct config_option *opts, size_t count, void *target, const char *name,
               const char *value, char *err)
{
    assert(opts != NULL && target != NULL && err != NULL);
    assert(name != NULL && value != NULL);
    const char *key;
    const struct config_option *opt = config_find(opts, count, name, &key);
    if (opt == NULL) {
        snprintf(err, CONFIG_ERROR_BYTES, "%.128s: unknown option; see --help", name);
        return -1;
    }
    if (opt->type == CONFIG_CUSTOM && key != NULL && key[0] != '\0') {
        assert(opt->custom != NULL);
        if (strlen(name) > CONFIG_NAME_BYTES_MAX) {
            snprintf(err, CONFIG_ERROR_BYTES, "%.128s...: option name longer than %d bytes", name,
                     CONFIG_NAME_BYTES_MAX);
            return -1;
        }
        return opt->custom->set(config_field(opt, target), opt->name, key, value, err);
    }
    return config_parse_value(opt, target, value, err); /* a custom row without key: refused */
}

/* A NULL default: zero, an empty string or list (freeing what was there, as a set would). */
static void config_zero(const struct config_option *opt, void *target)
{
    static const size_t field_bytes[] = {
        [CONFIG_BOOL] = sizeof(bool),
        [CONFIG_UINT] = sizeof(uint64_t),
        [CONFIG_SIZE] = sizeof(uint64_t),
        [CONFIG_DURATION] = sizeof(uint64_t),
        [CONFIG_STRING] = sizeof(char *),
        [CONFIG_ENUM] = sizeof(unsigned),
        [CONFIG_ADDR] = sizeof(struct config_addr),
        [CONFIG_LIST] = sizeof(struct config_list),
    };
    assert(opt->type != CONFIG_CUSTOM); /* its reset callback is its default */
    assert((size_t)opt->type < sizeof field_bytes / sizeof field_bytes[0]);
    void *field = config_field(opt, target);
    if (opt->type == CONFIG_STRING)
        free(*(char **)field);
    else if (opt->type == CONFIG_LIST)
        config_list_free(field);
    memset(field, 0, field_bytes[opt->type]);
}

int config_defaults(const struct config_option *opts, size_t count, void *target, char *err)
{
    assert(opts != NULL || count == 0);
    assert(target != NULL && err != NULL);
    for (size_t i = 0; i < count; i++) {
        const char *value = opts[i].default_value;
        if (opts[i].type == CONFIG_CUSTOM) {
            assert(opts[i].custom != NULL && value == NULL);
            if (opts[i].custom->reset(config_field(&opts[i], target), err) != 0)
                return -1;
        } else if (value == NULL) {
            config_zero(&opts[i], target);
        } else if (config_parse_value(&opts[i], target, value, err) != 0) {
            return -1;
        }
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

/* Refuses a buffer with a NUL byte, naming the line it is on. Returns 0 or -1 with err. */
static int config_check_text(const char *path, const char *buf, size_t len, char *err)
{
    const char *nul = memchr(buf, '\0', len);
    if (nul == NULL)
        return 0;
    unsigned line_no = 1;
    for (const char *p = buf; p < nul; p++)
        line_no += *p == '\n';
    snprintf(err, CONFIG_ERROR_BYTES, "%.300s:%u: contains a NUL byte; not a text file", path,
             line_no);
    return -1;
}

/* Reads all of `f`, up to one byte past the file limit, into a buffer that grows from 4 KiB
 * (most config files are small). Returns it with room for a NUL, or NULL with *error set. */
static char *config_read_all(FILE *f, size_t *len, int *error)
{
    char *buf = NULL;
    size_t n = 0, cap = 0;
    *error = 0;
    while (n == cap && cap <= CONFIG_FILE_BYTES_MAX) {
        cap = cap == 0                          ? 4096
              : cap * 2 > CONFIG_FILE_BYTES_MAX ? CONFIG_FILE_BYTES_MAX + 1
                                                : cap * 2;
        char *grown = realloc(buf, cap + 1);
        if (grown == NULL) {
            *error = ENOMEM;
            break;
        }
        buf = grown;
        n += fread(buf + n, 1, cap - n, f);
        if (ferror(f))
            *error = errno != 0 ? errno : EIO;
    }
    assert(n <= CONFIG_FILE_BYTES_MAX + 1);
    if (*error != 0) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Reads the whole file (bounded). Returns a NUL-terminated buffer or NULL with err. */
static char *config_read_file(const char *path, size_t *len, char *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, CONFIG_ERROR_BYTES, "%.300s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    int error;
    size_t n = 0;
    char *buf = config_read_all(f, &n, &error);
    fclose(f); /* read-only: nothing to lose, and a failed read is already known */
    if (buf == NULL) {
        snprintf(err, CONFIG_ERROR_BYTES, "%.300s: cannot read: %s", path, strerror(error));
        return NULL;
    }
    if (n > CONFIG_FILE_BYTES_MAX) {
        snprintf(err, CONFIG_ERROR_BYTES, "%.300s: file larger than 1 MiB", path);
        free(buf);
        return NULL;
    }
    if (config_check_text(path, buf, n, err) != 0) {
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
    assert(opts != NULL && target != NULL);
    assert(path != NULL && err != NULL);
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

/* Turns a flag into its file-form name: "--max-message-bytes=5" is "max_message_bytes",
 * "--namespace.team-1.history-size" is "namespace.team-1.history_size" (up to the first '.'
 * dashes only; the KEY after it verbatim, except that its part after its own last '.' may
 * use dashes or underscores). Returns false when the flag cannot name an option. */
static bool config_flag_name(const char *flag, char name[CONFIG_NAME_BYTES_MAX + 1])
{
    if (strncmp(flag, "--", 2) != 0)
        return false;
    flag += 2;
    size_t len = strcspn(flag, "=");
    if (len == 0 || len > CONFIG_NAME_BYTES_MAX)
        return false;
    const char *dot = memchr(flag, '.', len);
    size_t prefix_len = dot != NULL ? (size_t)(dot - flag) : len;
    const char *last_dot = NULL;
    for (const char *p = flag + prefix_len + 1; dot != NULL && p < flag + len; p++)
        last_dot = *p == '.' ? p : last_dot;
    size_t kebab_from = last_dot != NULL ? (size_t)(last_dot - flag) : len;
    for (size_t i = 0; i < len; i++) {
        if (i < prefix_len && flag[i] == '_')
            return false; /* flags use dashes; underscores are the file's spelling */
        bool kebab = i < prefix_len || i > kebab_from;
        name[i] = kebab && flag[i] == '-' ? '_' : flag[i];
    }
    name[len] = '\0';
    return true;
}

const struct config_option *config_find_flag(const struct config_option *opts, size_t count,
                                             const char *flag)
{
    assert(opts != NULL || count == 0);
    assert(flag != NULL);
    char name[CONFIG_NAME_BYTES_MAX + 1];
    const char *key;
    return config_flag_name(flag, name) ? config_find(opts, count, name, &key) : NULL;
}

bool config_flag_takes_bool(const struct config_option *opt, const char *flag)
{
    assert(opt != NULL && flag != NULL);
    if (opt->type != CONFIG_CUSTOM)
        return opt->type == CONFIG_BOOL;
    char name[CONFIG_NAME_BYTES_MAX + 1];
    size_t prefix_len = strlen(opt->name);
    if (!config_flag_name(flag, name) || strlen(name) <= prefix_len + 1)
        return false;
    return opt->custom->key_is_bool(name + prefix_len + 1);
}

int config_set_flag(const struct config_option *opts, size_t count, void *target, const char *flag,
                    const char *value, char *err)
{
    assert(opts != NULL && target != NULL && err != NULL);
    assert(flag != NULL && value != NULL);
    char name[CONFIG_NAME_BYTES_MAX + 1];
    if (!config_flag_name(flag, name)) {
        snprintf(err, CONFIG_ERROR_BYTES, "%.*s: unknown option; see --help",
                 (int)strcspn(flag, "="), flag);
        return -1;
    }
    return config_set(opts, count, target, name, value, err);
}

/* The flag and what it takes: "--max-message-bytes SIZE". */
static void config_help_flag(const struct config_option *opt, char *out, size_t cap)
{
    static const char *const words[] = {"BOOL", "N",    "SIZE", "DURATION", "TEXT",
                                        "WORD", "ADDR", "LIST", "VALUE"};
    assert(cap > 3 && (size_t)opt->type < sizeof words / sizeof words[0]);
    size_t n = (size_t)snprintf(out, cap, "--");
    for (const char *p = opt->name; *p != '\0' && n + 1 < cap; p++)
        out[n++] = *p == '_' ? '-' : *p;
    if (opt->type == CONFIG_CUSTOM)
        snprintf(out + n, cap - n, ".%s %s", opt->custom->help_key, words[opt->type]);
    else
        snprintf(out + n, cap - n, " %s", words[opt->type]);
}

/* The default and what is allowed: "default 1m, 1..64m". */
static void config_help_detail(const struct config_option *opt, char *out, size_t cap)
{
    if (opt->type == CONFIG_CUSTOM) {
        snprintf(out, cap, "%s", opt->custom->help_detail);
        return;
    }
    const char *def = opt->default_value;
    bool number =
        opt->type == CONFIG_UINT || opt->type == CONFIG_SIZE || opt->type == CONFIG_DURATION;
    if (def == NULL || def[0] == '\0')
        def = opt->type == CONFIG_BOOL   ? "false"
              : opt->type == CONFIG_ENUM ? opt->enum_values[0]
              : number                   ? "0"
              : opt->type == CONFIG_ADDR ? "none"
                                         : "empty";
    char allowed[224] = "";
    if (number)
        config_format_range(opt, true, allowed, sizeof allowed);
    else if (opt->type == CONFIG_ENUM) {
        char values[192];
        config_format_enum(opt, values, sizeof values);
        snprintf(allowed, sizeof allowed, "one of %s", values);
    } else if (opt->type == CONFIG_LIST)
        snprintf(allowed, sizeof allowed, "comma-separated");
    else if (opt->type == CONFIG_ADDR)
        snprintf(allowed, sizeof allowed, "numeric IP:PORT or [IPv6]:PORT");
    snprintf(out, cap, "default %s%s%s", def,
             allowed[0] == '\0' ? ""
             : number           ? ", "
                                : "; ",
             allowed);
}

void config_print_help(FILE *out, const struct config_option *opts, size_t count)
{
    enum { FLAG_BYTES = 96, FLAG_COLUMN_MAX = 40 };
    assert(out != NULL);
    assert(opts != NULL || count == 0);
    size_t width = 0;
    for (size_t i = 0; i < count; i++) {
        char flag[FLAG_BYTES];
        config_help_flag(&opts[i], flag, sizeof flag);
        if (strlen(flag) > width)
            width = strlen(flag);
    }
    if (width > FLAG_COLUMN_MAX)
        width = FLAG_COLUMN_MAX; /* a longer flag pushes only its own sentence right */
    for (size_t i = 0; i < count; i++) {
        char flag[FLAG_BYTES], detail[256];
        config_help_flag(&opts[i], flag, sizeof flag);
        config_help_detail(&opts[i], detail, sizeof detail);
        fprintf(out, "  %-*s   %s (%s)\n", (int)width, flag,
                opts[i].help != NULL ? opts[i].help : "", detail);
    }
}

void config_print_values(FILE *out, const struct config_option *opts, size_t count,
                         const void *target)
{
    assert(out != NULL && target != NULL);
    assert(opts != NULL || count == 0);
    for (size_t i = 0; i < count; i++) {
        const void *field = (const char *)target + opts[i].offset;
        if (opts[i].type == CONFIG_CUSTOM)
            opts[i].custom->print(out, opts[i].name, field);
        else
            config_print_value(out, &opts[i], field);
    }
}

void config_free(const struct config_option *opts, size_t count, void *target)
{
    assert(opts != NULL || count == 0);
    assert(target != NULL);
    for (size_t i = 0; i < count; i++) {
        void *field = config_field(&opts[i], target);
        if (opts[i].type == CONFIG_STRING) {
            free(*(char **)field);
            *(char **)field = NULL;
        } else if (opts[i].type == CONFIG_LIST) {
            config_list_free(field);
        } else if (opts[i].type == CONFIG_CUSTOM) {
            opts[i].custom->free(field);
        }
    }
}
