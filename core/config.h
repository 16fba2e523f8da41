/* Option tables: one description per option drives the config file, the command line,
 * --help and the error messages, so the four never disagree.
 *
 * File format (docs/configuration.md): UTF-8 text, one `name = value` per line, `#` starts
 * a comment line, blank lines ignored, names as in the table (snake_case), values unquoted
 * (surrounding whitespace trimmed; a value may be wrapped in double quotes to keep
 * whitespace). Command line: `--name value` or `--name=value` with dashes for underscores
 * (`--max-message-bytes 1m`); a bool also takes `--name` alone for true.
 *
 * Value syntax per type:
 *   bool      true|false|yes|no|on|off|1|0
 *   uint      decimal, within [min, max]
 *   size      decimal bytes with an optional k|m|g suffix (1024-based): 64k, 16m
 *   duration  decimal with ms|s|m|h suffix (no suffix: ms): 250ms, 5s, 2m
 *   string    any text up to 4095 bytes
 *   enum      one of the listed values
 *   addr      IPv4 "a.b.c.d:port" or IPv6 "[addr]:port"; no names (no DNS at start)
 *   list      comma-separated strings, each trimmed, empty elements not allowed; "" = empty
 *   custom    a family of settings under one prefix, `PREFIX.KEY = value` (below)
 *
 * A custom row (CONFIG_CUSTOM) stands for every name PREFIX.KEY, where PREFIX is the row's
 * name: `namespace.chat.presence = on` in a file, `--namespace.chat.presence on` on the
 * command line. It is for settings keyed by names the user chooses, which no fixed table can
 * list. KEY is the same in both places, except that its last dot-separated part (an option
 * name) may also be written with dashes on the command line (`--namespace.chat.history-size`).
 * The row's callbacks (struct config_custom) own the field, parse KEY and value, print and
 * free; everything else (files, flags, --help, defaults) treats the row like any other.
 *
 * Errors are sentences naming the option, the value and what is allowed, prefixed with
 * "FILE:LINE: " for file input, e.g.
 *   tidegate.conf:7: max_message_bytes = "12x": expected a size like 65536, 64k or 16m,
 *   from 1 to 64m
 */
#ifndef TIDEGATE_CORE_CONFIG_H
#define TIDEGATE_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

enum config_type {
    CONFIG_BOOL,     /* bool */
    CONFIG_UINT,     /* uint64_t */
    CONFIG_SIZE,     /* uint64_t, bytes */
    CONFIG_DURATION, /* uint64_t, milliseconds */
    CONFIG_STRING,   /* char *, owned (config_free) */
    CONFIG_ENUM,     /* unsigned, index into enum_values */
    CONFIG_ADDR,     /* struct config_addr */
    CONFIG_LIST,     /* struct config_list, owned (config_free) */
    CONFIG_CUSTOM,   /* whatever the row's struct config_custom owns */
};

struct config_addr {
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char text[64]; /* as written, for logs */
};

struct config_list {
    char **items;
    size_t count;
};

enum {
    CONFIG_ERROR_BYTES = 512,
    CONFIG_LIST_ITEMS_MAX = 256,
    CONFIG_STRING_BYTES_MAX = 4095,
    CONFIG_NAME_BYTES_MAX = 127, /* an option name, a custom row's PREFIX.KEY included */
};

/* Option flags. */
enum {
    CONFIG_SECRET = 1u << 0, /* STRING, LIST: printed as "***" (each list item), never in clear */
};

/* The callbacks of a CONFIG_CUSTOM row. `field` is the row's field in the target struct;
 * `prefix` is the row's name. Every callback is required. */
struct config_custom {
    /* Sets the field to its default, freeing what it held (it is zeroed memory the first
     * time). Returns 0, or -1 with a sentence in err. */
    int (*reset)(void *field, char *err);
    /* Sets KEY from `value`. A refused value leaves the field as it was. Returns 0, or -1
     * with a whole sentence in err that starts `PREFIX.KEY = "value": ` like every other
     * option's error. */
    int (*set)(void *field, const char *prefix, const char *key, const char *value, char *err);
    /* True when KEY takes a bool, so a command-line flag alone means true. */
    bool (*key_is_bool)(const char *key);
    /* Writes the field as `PREFIX.KEY = value` lines that load back to the same field. */
    void (*print)(FILE *out, const char *prefix, const void *field);
    /* Frees what the field owns and zeroes it. */
    void (*free)(void *field);
    const char *help_key;    /* KEY as --help shows it: "NAME.OPTION" */
    const char *help_detail; /* what --help shows in parentheses after the sentence */
};

struct config_option {
    const char *name; /* snake_case; CLI form is --kebab-case; CUSTOM: the PREFIX */
    enum config_type type;
    size_t offset;                      /* offsetof(target struct, field) */
    const char *default_value;          /* text, parsed like user input; NULL = zero/empty;
                                           CUSTOM: always NULL (the reset callback decides) */
    uint64_t min, max;                  /* UINT, SIZE, DURATION: inclusive range */
    const char *const *enum_values;     /* ENUM: NULL-terminated */
    const char *help;                   /* one sentence for --help */
    const struct config_custom *custom; /* CUSTOM: the callbacks; NULL otherwise */
    unsigned flags;                     /* CONFIG_SECRET */
};

/* Applies every option's default to `target`. Returns 0, or -1 with `err` filled (a bad
 * default is a programmer error, but it is reported, not asserted, so tests can see it). */
int config_defaults(const struct config_option *opts, size_t count, void *target, char *err);

/* Sets one option by name (file form, snake_case; PREFIX.KEY for a custom row) from text.
 * Returns 0 or -1 with `err` ("name = \"value\": expected ..."). Unknown names are errors
 * that list nothing but say "unknown option; see --help". */
int config_set(const struct config_option *opts, size_t count, void *target, const char *name,
               const char *value, char *err);

/* Reads a config file and applies every line. Stops at the first error: returns -1 with
 * `err` prefixed "PATH:LINE: ". Lines longer than 8 KiB and files over 1 MiB are errors. */
int config_load_file(const struct config_option *opts, size_t count, void *target, const char *path,
                     char *err);

/* Finds the option for a command-line flag ("--max-message-bytes" or with "=value"; for a
 * custom row "--namespace.chat.presence"), NULL when none matches. */
const struct config_option *config_find_flag(const struct config_option *opts, size_t count,
                                             const char *flag);

/* True when the flag's option takes a bool (so the flag alone means true). `opt` is what
 * config_find_flag returned for `flag`. */
bool config_flag_takes_bool(const struct config_option *opt, const char *flag);

/* Sets the option of a command-line flag (anything after a '=' in `flag` is ignored; the
 * value is `value`), exactly as config_set would set its file-form name. Returns 0, or -1
 * with err (an unknown flag: "--flag: unknown option; see --help"). */
int config_set_flag(const struct config_option *opts, size_t count, void *target, const char *flag,
                    const char *value, char *err);

/* Writes --help lines for every option: flag, type, default, range, help sentence (a custom
 * row: "--PREFIX.KEY VALUE", its sentence and its help_detail). */
void config_print_help(FILE *out, const struct config_option *opts, size_t count);

/* Writes every option's current value in file format (for --check-config and logs). Values
 * load back to the same settings, except CONFIG_SECRET ones, which print as "***". */
void config_print_values(FILE *out, const struct config_option *opts, size_t count,
                         const void *target);

/* Frees owned strings, lists and custom fields in `target`. */
void config_free(const struct config_option *opts, size_t count, void *target);

/* Formats a socket address as "1.2.3.4:80" or "[::1]:80". */
void config_addr_format(const struct sockaddr *addr, char *out, size_t cap);

#endif
