/* libFuzzer target for core/config: the input is a config file for a table with every option
 * type (the custom one being the gateway's real `namespace.NAME.OPTION` row), loaded from a
 * memfd through config_load_file, and also cut into lines that go to config_set as
 * `name=value` (split at the first '=', nothing trimmed) and to config_set_flag as
 * `--name=value`.
 *
 * Checked on every input: errors are non-empty sentences within CONFIG_ERROR_BYTES, file
 * errors start with the path; whatever loads (from the file, or from the config_set lines)
 * prints with config_print_values into text that loads back to identical settings and prints
 * identically again; config_free releases everything (LeakSanitizer checks each input).
 *
 * Inputs stay under libFuzzer's default -max_len of 4096 with this seed corpus, so a printed
 * line (value plus `name = ` and two quotes) never reaches the loader's 8 KiB line limit.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/config.h"
#include "gateway/namespace.h"
#include "fuzz_check.h"

enum { FUZZ_LINE_BYTES_MAX = 16384 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct settings {
    bool verbose;
    uint64_t workers;
    uint64_t max_bytes;
    uint64_t timeout_ms;
    char *name;
    char *banner;
    unsigned mode;
    struct config_addr listen;
    struct config_addr admin;
    struct config_list origins;
    struct config_list peers;
    struct gw_namespaces namespaces;
};

#define OPT(field) offsetof(struct settings, field)

static const char *const modes[] = {"fast", "safe", "off", NULL};

static const struct config_option table[] = {
    {"verbose", CONFIG_BOOL, OPT(verbose), "false", 0, 0, NULL, "Log every step."},
    {"workers", CONFIG_UINT, OPT(workers), "4", 0, 64, NULL, "Worker threads."},
    {"max_bytes", CONFIG_SIZE, OPT(max_bytes), "64k", 1, UINT64_MAX, NULL, "Largest message."},
    {"timeout", CONFIG_DURATION, OPT(timeout_ms), "5s", 0, UINT64_MAX, NULL, "Deadline."},
    {"name", CONFIG_STRING, OPT(name), "tidegate", 0, 0, NULL, "Name in logs."},
    {"banner", CONFIG_STRING, OPT(banner), NULL, 0, 0, NULL, "Greeting text."},
    {"mode", CONFIG_ENUM, OPT(mode), "safe", 0, 0, modes, "How to run."},
    {"listen", CONFIG_ADDR, OPT(listen), "0.0.0.0:8080", 0, 0, NULL, "Listener address."},
    {"admin", CONFIG_ADDR, OPT(admin), "[::1]:9090", 0, 0, NULL, "Admin address."},
    {"origins", CONFIG_LIST, OPT(origins), "", 0, 0, NULL, "Allowed origins."},
    {"peers", CONFIG_LIST, OPT(peers), "alpha, beta", 0, 0, NULL, "Peer names."},
    {"namespace", CONFIG_CUSTOM, OPT(namespaces), NULL, 0, 0, NULL, "Namespaces.",
     &gw_namespace_config},
};
enum { TABLE_COUNT = sizeof table / sizeof table[0] };

static void settings_defaults(struct settings *s)
{
    char err[CONFIG_ERROR_BYTES];
    memset(s, 0, sizeof *s);
    FUZZ_CHECK(config_defaults(table, TABLE_COUNT, s, err) == 0);
}

static void check_error_sentence(const char *err)
{
    size_t len = strnlen(err, CONFIG_ERROR_BYTES);
    FUZZ_CHECK(len > 0 && len < CONFIG_ERROR_BYTES);
}

/* Loads `len` bytes as a file through a memfd; on failure the error names the path. */
static int load_bytes(struct settings *s, const void *bytes, size_t len)
{
    int fd = memfd_create("fuzz-config", MFD_CLOEXEC);
    FUZZ_CHECK(fd >= 0);
    for (size_t done = 0; done < len;) {
        ssize_t n = write(fd, (const char *)bytes + done, len - done);
        FUZZ_CHECK(n > 0);
        done += (size_t)n;
    }
    char path[64], err[CONFIG_ERROR_BYTES];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    memset(err, 0, sizeof err);
    int ret = config_load_file(table, TABLE_COUNT, s, path, err);
    FUZZ_CHECK(close(fd) == 0);
    if (ret != 0) {
        check_error_sentence(err);
        FUZZ_CHECK(strncmp(err, path, strlen(path)) == 0 && err[strlen(path)] == ':');
    }
    return ret;
}

static char *print_values(const struct settings *s, size_t *len)
{
    char *text = NULL;
    FILE *out = open_memstream(&text, len);
    FUZZ_CHECK(out != NULL);
    config_print_values(out, table, TABLE_COUNT, s);
    FUZZ_CHECK(fclose(out) == 0);
    return text;
}

static bool same_text(const char *a, const char *b)
{
    return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

static bool same_list(const struct config_list *a, const struct config_list *b)
{
    if (a->count != b->count)
        return false;
    for (size_t i = 0; i < a->count; i++)
        if (strcmp(a->items[i], b->items[i]) != 0)
            return false;
    return true;
}

/* Same settings; an address's `text` is as written ("[::0001]:80"), so its bytes count. */
static bool same_addr(const struct config_addr *a, const struct config_addr *b)
{
    return a->addr_len == b->addr_len && memcmp(&a->addr, &b->addr, sizeof a->addr) == 0;
}

static bool same_namespace(const struct ns_config *a, const struct ns_config *b)
{
    return strcmp(a->name, b->name) == 0 && a->history_size == b->history_size &&
           a->history_ttl_ms == b->history_ttl_ms && a->presence == b->presence &&
           a->typing == b->typing && a->durable == b->durable && a->join == b->join &&
           a->publish == b->publish && a->slow_consumer == b->slow_consumer &&
           a->max_subscribers == b->max_subscribers;
}

/* Same namespaces, and each one found by its own name. */
static bool same_namespaces(const struct gw_namespaces *a, const struct gw_namespaces *b)
{
    if (a->count != b->count || a->count < 1 || a->count > GW_NAMESPACES_MAX)
        return false;
    for (size_t i = 0; i < a->count; i++) {
        const char *name = a->items[i].name;
        if (!same_namespace(&a->items[i], &b->items[i]) ||
            gw_namespace_find(b, name, strlen(name)) != &b->items[i])
            return false;
    }
    return true;
}

static bool same_settings(const struct settings *a, const struct settings *b)
{
    return a->verbose == b->verbose && a->workers == b->workers && a->max_bytes == b->max_bytes &&
           a->timeout_ms == b->timeout_ms && same_text(a->name, b->name) &&
           same_text(a->banner, b->banner) && a->mode == b->mode &&
           same_addr(&a->listen, &b->listen) && same_addr(&a->admin, &b->admin) &&
           same_list(&a->origins, &b->origins) && same_list(&a->peers, &b->peers) &&
           same_namespaces(&a->namespaces, &b->namespaces);
}

/* Printed values load back to the same settings, which print the same text. */
static void check_round_trip(const struct settings *s)
{
    size_t len, again_len;
    char *text = print_values(s, &len);
    struct settings back;
    settings_defaults(&back);
    if (load_bytes(&back, text, len) != 0) {
        fprintf(stderr, "printed values do not load back:\n%s", text);
        abort();
    }
    FUZZ_CHECK(same_settings(s, &back));
    char *again = print_values(&back, &again_len);
    FUZZ_CHECK(again_len == len && memcmp(again, text, len) == 0);
    free(again);
    free(text);
    config_free(table, TABLE_COUNT, &back);
}

/* One line as `name=value` to config_set, and as `--name=value` to the flag functions. */
static void set_line(struct settings *s, const uint8_t *line, size_t len)
{
    char *copy = malloc(len + 3);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, "--", 2);
    memcpy(copy + 2, line, len);
    copy[len + 2] = '\0'; /* a NUL inside the line just ends it early */
    const struct config_option *flag = config_find_flag(table, TABLE_COUNT, copy);
    FUZZ_CHECK(flag == NULL || (flag >= table && flag < table + TABLE_COUNT));
    char err[CONFIG_ERROR_BYTES];
    char *name = copy + 2;
    char *eq = strchr(name, '=');
    if (flag != NULL && eq != NULL) {
        (void)config_flag_takes_bool(flag, copy);
        memset(err, 0, sizeof err);
        if (config_set_flag(table, TABLE_COUNT, s, copy, eq + 1, err) != 0)
            check_error_sentence(err);
    }
    if (eq != NULL) {
        *eq = '\0';
        memset(err, 0, sizeof err);
        if (config_set(table, TABLE_COUNT, s, name, eq + 1, err) != 0)
            check_error_sentence(err);
    }
    free(copy);
}

static void set_every_line(const uint8_t *data, size_t size)
{
    struct settings s;
    settings_defaults(&s);
    for (size_t start = 0; start < size;) {
        const uint8_t *nl = memchr(data + start, '\n', size - start);
        size_t end = nl != NULL ? (size_t)(nl - data) : size;
        if (end - start <= FUZZ_LINE_BYTES_MAX)
            set_line(&s, data + start, end - start);
        start = end + 1;
    }
    check_round_trip(&s);
    config_free(table, TABLE_COUNT, &s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct settings s;
    settings_defaults(&s);
    if (load_bytes(&s, data, size) == 0)
        check_round_trip(&s);
    config_free(table, TABLE_COUNT, &s);
    set_every_line(data, size);
    return 0;
}
