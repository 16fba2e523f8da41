/* Test harness shared by test_config_value.c (values of every type: accepted, refused,
 * printed back) and test_config.c (tables: files, flags, --help, custom rows): a sample
 * option table with one option of every plain type, and helpers to set, load and print it.
 * Included by exactly those two test files; everything here is static. */
#ifndef TIDEGATE_TESTS_CONFIG_HARNESS_H
#define TIDEGATE_TESTS_CONFIG_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/config.h"

struct sample {
    bool verbose;
    uint64_t workers;
    uint64_t max_bytes;
    uint64_t timeout_ms;
    char *name;
    char *banner;
    unsigned mode;
    struct config_addr listen;
    struct config_list origins;
    struct config_list peers;
};

#define OPT(field) offsetof(struct sample, field)
#define GIB        ((uint64_t)1 << 30)
#define HOUR_MS    ((uint64_t)3600 * 1000)

static const char *const modes[] = {"fast", "safe", "off", NULL};

static const struct config_option sample_table[] = {
    {"verbose", CONFIG_BOOL, OPT(verbose), "false", 0, 0, NULL, "Log every step."},
    {"workers", CONFIG_UINT, OPT(workers), "4", 1, 64, NULL, "Worker threads."},
    {"max_bytes", CONFIG_SIZE, OPT(max_bytes), "64k", 1, GIB, NULL, "Largest message."},
    {"timeout", CONFIG_DURATION, OPT(timeout_ms), "5s", 1, 24 * HOUR_MS, NULL, "Deadline."},
    {"name", CONFIG_STRING, OPT(name), "tidegate", 0, 0, NULL, "Name in logs."},
    {"banner", CONFIG_STRING, OPT(banner), NULL, 0, 0, NULL, "Greeting text."},
    {"mode", CONFIG_ENUM, OPT(mode), "safe", 0, 0, modes, "How to run."},
    {"listen", CONFIG_ADDR, OPT(listen), "0.0.0.0:8080", 0, 0, NULL, "Listener address."},
    {"origins", CONFIG_LIST, OPT(origins), "", 0, 0, NULL, "Allowed origins."},
    {"peers", CONFIG_LIST, OPT(peers), "alpha, beta", 0, 0, NULL, "Peer names."},
};
enum { SAMPLE_COUNT = sizeof sample_table / sizeof sample_table[0] };

static inline void sample_defaults(struct sample *s)
{
    char err[CONFIG_ERROR_BYTES];
    memset(s, 0, sizeof *s);
    assert_int_equal(config_defaults(sample_table, SAMPLE_COUNT, s, err), 0);
}

/* Fixture: a struct sample with the defaults applied, freed after the test. */
static inline int sample_setup(void **state)
{
    struct sample *s = malloc(sizeof *s);
    assert_non_null(s);
    sample_defaults(s);
    *state = s;
    return 0;
}

static inline int sample_teardown(void **state)
{
    config_free(sample_table, SAMPLE_COUNT, *state);
    free(*state);
    return 0;
}

static inline int sample_set(struct sample *s, const char *name, const char *value, char *err)
{
    return config_set(sample_table, SAMPLE_COUNT, s, name, value, err);
}

static inline void assert_set(struct sample *s, const char *name, const char *value)
{
    char err[CONFIG_ERROR_BYTES] = "";
    if (sample_set(s, name, value, err) != 0)
        fail_msg("%s = \"%s\" was refused: %s", name, value, err);
}

/* The value is refused, the sentence starts `name = "value": ` and contains both phrases. */
static inline void assert_rejected(struct sample *s, const char *name, const char *value,
                                   const char *phrase, const char *allowed)
{
    char err[CONFIG_ERROR_BYTES] = "", head[256];
    assert_int_equal(sample_set(s, name, value, err), -1);
    snprintf(head, sizeof head, "%s = \"%.128s\": ", name, value);
    if (strncmp(err, head, strlen(head)) != 0 || strstr(err, phrase) == NULL ||
        strstr(err, allowed) == NULL)
        fail_msg("%s = \"%.40s\": unexpected error \"%s\"", name, value, err);
}

/* Everything config_print_values writes, as a malloc'd string. */
static char *sample_print(const struct sample *s)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    config_print_values(out, sample_table, SAMPLE_COUNT, s);
    assert_int_equal(fclose(out), 0);
    return text;
}

/* Loads `len` bytes as a config file through a memfd; `path` receives the name used. */
static inline int load_bytes(struct sample *s, const char *text, size_t len, char *path, char *err)
{
    int fd = memfd_create("tidegate-test-config", MFD_CLOEXEC);
    assert_true(fd >= 0);
    for (size_t done = 0; done < len;) {
        ssize_t n = write(fd, text + done, len - done);
        assert_true(n > 0);
        done += (size_t)n;
    }
    snprintf(path, 64, "/proc/self/fd/%d", fd);
    int ret = config_load_file(sample_table, SAMPLE_COUNT, s, path, err);
    assert_int_equal(close(fd), 0);
    return ret;
}

static inline int load_text(struct sample *s, const char *text, char *path, char *err)
{
    return load_bytes(s, text, strlen(text), path, err);
}

/* A failed load says "PATH:LINE: " and then `rest`. */
static inline void assert_load_error(const char *path, const char *err, unsigned line,
                                     const char *rest)
{
    char head[128];
    snprintf(head, sizeof head, "%s:%u: ", path, line);
    if (strncmp(err, head, strlen(head)) != 0 || strstr(err, rest) == NULL)
        fail_msg("expected \"%s...%s\", got \"%s\"", head, rest, err);
}

static inline void assert_list(const struct config_list *list, size_t count,
                               const char *const *items)
{
    assert_int_equal(list->count, count);
    for (size_t i = 0; i < count; i++)
        assert_string_equal(list->items[i], items[i]);
}

static inline void assert_same_settings(const struct sample *a, const struct sample *b)
{
    char *ta = sample_print(a), *tb = sample_print(b);
    assert_string_equal(ta, tb);
    free(ta);
    free(tb);
    assert_int_equal(a->verbose, b->verbose);
    assert_int_equal(a->workers, b->workers);
    assert_int_equal(a->max_bytes, b->max_bytes);
    assert_int_equal(a->timeout_ms, b->timeout_ms);
    assert_string_equal(a->name != NULL ? a->name : "", b->name != NULL ? b->name : "");
    assert_string_equal(a->banner != NULL ? a->banner : "", b->banner != NULL ? b->banner : "");
    assert_int_equal(a->mode, b->mode);
    assert_int_equal(a->listen.addr_len, b->listen.addr_len);
    assert_memory_equal(&a->listen.addr, &b->listen.addr, sizeof a->listen.addr);
    assert_list(&b->origins, a->origins.count, (const char *const *)a->origins.items);
    assert_list(&b->peers, a->peers.count, (const char *const *)a->peers.items);
}

static inline void round_trip(const struct sample *s)
{
    struct sample back;
    char path[64], err[CONFIG_ERROR_BYTES];
    sample_defaults(&back);
    char *text = sample_print(s);
    if (load_text(&back, text, path, err) != 0)
        fail_msg("printed values do not load: %s\n%s", err, text);
    free(text);
    assert_same_settings(s, &back);
    config_free(sample_table, SAMPLE_COUNT, &back);
}

#endif
