/* Shared between the two halves of the config module, not for other modules:
 * config_value.c knows each value type (parsing, formatting, printing one value);
 * config.c knows tables, files, flags and --help, and never looks inside a value.
 */
#ifndef TIDEGATE_CORE_CONFIG_INTERNAL_H
#define TIDEGATE_CORE_CONFIG_INTERNAL_H

#include <stdio.h>

#include "core/config.h"

static inline void *config_field(const struct config_option *opt, void *target)
{
    return (char *)target + opt->offset;
}

/* Parses `value` for a row of any type but CONFIG_CUSTOM and stores it in the row's field
 * of `target`, only once accepted (a refused value leaves the field as it was). Returns 0,
 * or -1 with "name = \"value\": why; expected ..." in err. */
int config_parse_value(const struct config_option *opt, void *target, const char *value, char *err);

/* Writes one `name = value` line for a row of any type but CONFIG_CUSTOM. */
void config_print_value(FILE *out, const struct config_option *opt, const void *field);

/* The range of a number row: "from 1 to 64m" (`help`: "1..64m"), "at least 4k" ("4k.."),
 * or "" when there is no bound. */
void config_format_range(const struct config_option *opt, bool help, char *out, size_t cap);

/* An enum row's values joined: "debug, info, warn, error". */
void config_format_enum(const struct config_option *opt, char *out, size_t cap);

/* Frees a list's items and empties it. */
void config_list_free(struct config_list *list);

#endif
