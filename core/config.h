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

enum { CONFIG_ERROR_BYTES = 512, CONFIG_LIST_ITEMS_MAX = 256, CONFIG_STRING_BYTES_MAX = 4095 };

struct config_option {
    const char *name; /* snake_case; CLI form is --kebab-case */
    enum config_type type;
    size_t offset;                  /* offsetof(target struct, field) */
    const char *default_value;      /* text, parsed like user input; NULL = zero/empty */
    uint64_t min, max;              /* UINT, SIZE, DURATION: inclusive range */
    const char *const *enum_values; /* ENUM: NULL-terminated */
    const char *help;               /* one sentence for --help */
};

/* Applies every option's default to `target`. Returns 0, or -1 with `err` filled (a bad
 * default is a programmer error, but it is reported, not asserted, so tests can see it). */
int config_defaults(const struct config_option *opts, size_t count, void *target, char *err);

/* Sets one option by name (file form, snake_case) from text. Returns 0 or -1 with `err`
 * ("name = \"value\": expected ..."). Unknown names are errors that list nothing but say
 * "unknown option; see --help". */
int config_set(const struct config_option *opts, size_t count, void *target, const char *name,
               const char *value, char *err);

/* Reads a config file and applies every line. Stops at the first error: returns -1 with
 * `err` prefixed "PATH:LINE: ". Lines longer than 8 KiB and files over 1 MiB are errors. */
int config_load_file(const struct config_option *opts, size_t count, void *target, const char *path,
                     char *err);

/* Finds the option for a command-line flag ("--max-message-bytes" or with "=value"),
 * NULL when none matches. */
const struct config_option *config_find_flag(const struct config_option *opts, size_t count,
                                             const char *flag);

/* Writes --help lines for every option: flag, type, default, range, help sentence. */
void config_print_help(FILE *out, const struct config_option *opts, size_t count);

/* Writes every option's current value in file format (for --check-config and logs). */
void config_print_values(FILE *out, const struct config_option *opts, size_t count,
                         const void *target);

/* Frees owned strings and lists in `target`. */
void config_free(const struct config_option *opts, size_t count, void *target);

/* Formats a socket address as "1.2.3.4:80" or "[::1]:80". */
void config_addr_format(const struct sockaddr *addr, char *out, size_t cap);

#endif
