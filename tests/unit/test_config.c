/* Config: one option table of every type read from defaults, config files and flags; every
 * value syntax a user may write, and for each way of getting it wrong an error sentence that
 * names the option and the value and says what is allowed; files with comments, CRLF, quotes
 * and their limits; --help; and printed values that load back to the same settings. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

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

static void sample_defaults(struct sample *s)
{
    char err[CONFIG_ERROR_BYTES];
    memset(s, 0, sizeof *s);
    assert_int_equal(config_defaults(sample_table, SAMPLE_COUNT, s, err), 0);
}

/* Fixture: a struct sample with the defaults applied, freed after the test. */
static int sample_setup(void **state)
{
    struct sample *s = malloc(sizeof *s);
    assert_non_null(s);
    sample_defaults(s);
    *state = s;
    return 0;
}

static int sample_teardown(void **state)
{
    config_free(sample_table, SAMPLE_COUNT, *state);
    free(*state);
    return 0;
}

static int sample_set(struct sample *s, const char *name, const char *value, char *err)
{
    return config_set(sample_table, SAMPLE_COUNT, s, name, value, err);
}

static void assert_set(struct sample *s, const char *name, const char *value)
{
    char err[CONFIG_ERROR_BYTES] = "";
    if (sample_set(s, name, value, err) != 0)
        fail_msg("%s = \"%s\" was refused: %s", name, value, err);
}

/* The value is refused, the sentence starts `name = "value": ` and contains both phrases. */
static void assert_rejected(struct sample *s, const char *name, const char *value,
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
static int load_bytes(struct sample *s, const char *text, size_t len, char *path, char *err)
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

static int load_text(struct sample *s, const char *text, char *path, char *err)
{
    return load_bytes(s, text, strlen(text), path, err);
}

/* A failed load says "PATH:LINE: " and then `rest`. */
static void assert_load_error(const char *path, const char *err, unsigned line, const char *rest)
{
    char head[128];
    snprintf(head, sizeof head, "%s:%u: ", path, line);
    if (strncmp(err, head, strlen(head)) != 0 || strstr(err, rest) == NULL)
        fail_msg("expected \"%s...%s\", got \"%s\"", head, rest, err);
}

static void assert_list(const struct config_list *list, size_t count, const char *const *items)
{
    assert_int_equal(list->count, count);
    for (size_t i = 0; i < count; i++)
        assert_string_equal(list->items[i], items[i]);
}

/* ---- defaults and accepted values ---- */

static void defaults_apply_to_every_option(void **state)
{
    (void)state;
    struct sample s;
    sample_defaults(&s);
    assert_false(s.verbose);
    assert_int_equal(s.workers, 4);
    assert_int_equal(s.max_bytes, 64 * 1024);
    assert_int_equal(s.timeout_ms, 5000);
    assert_string_equal(s.name, "tidegate");
    assert_null(s.banner); /* NULL default: left zero */
    assert_int_equal(s.mode, 1);
    assert_int_equal(s.listen.addr.ss_family, AF_INET);
    assert_string_equal(s.listen.text, "0.0.0.0:8080");
    assert_int_equal(s.origins.count, 0);
    assert_list(&s.peers, 2, (const char *const[]){"alpha", "beta"});
    config_free(sample_table, SAMPLE_COUNT, &s);
    assert_null(s.name);
    assert_null(s.peers.items);
    config_free(sample_table, SAMPLE_COUNT, &s); /* twice is harmless */
}

static void a_bad_default_is_reported_not_asserted(void **state)
{
    (void)state;
    struct config_option bad[] = {sample_table[1], sample_table[4]};
    bad[0].default_value = "65";
    struct sample s = {0};
    char err[CONFIG_ERROR_BYTES];
    assert_int_equal(config_defaults(bad, 2, &s, err), -1);
    assert_non_null(strstr(err, "workers = \"65\": out of range"));
    config_free(bad, 2, &s);
}

static void sizes_accept_plain_bytes_and_k_m_g(void **state)
{
    struct sample *s = *state;
    static const struct {
        const char *text;
        uint64_t bytes;
    } cases[] = {{"1", 1},           {"65536", 65536},  {"64k", 64 << 10},
                 {"64K", 64 << 10},  {"16m", 16 << 20}, {"1g", GIB},
                 {"1G", GIB},        {"0001k", 1024},   {"1048576", 1 << 20},
                 {"1073741824", GIB}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_set(s, "max_bytes", cases[i].text);
        assert_int_equal(s->max_bytes, cases[i].bytes);
    }
}

static void durations_accept_ms_s_m_h_and_bare_milliseconds(void **state)
{
    struct sample *s = *state;
    static const struct {
        const char *text;
        uint64_t ms;
    } cases[] = {{"250ms", 250}, {"5s", 5000}, {"2m", 120000},        {"1h", HOUR_MS},
                 {"750", 750},   {"1", 1},     {"24h", 24 * HOUR_MS}, {"1440m", 24 * HOUR_MS}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_set(s, "timeout", cases[i].text);
        assert_int_equal(s->timeout_ms, cases[i].ms);
    }
}

static void bools_accept_every_spelling_and_uints_their_whole_range(void **state)
{
    struct sample *s = *state;
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        assert_set(s, "verbose", yes[i]);
        assert_true(s->verbose);
        assert_set(s, "verbose", no[i]);
        assert_false(s->verbose);
    }
    assert_set(s, "workers", "1");
    assert_int_equal(s->workers, 1);
    assert_set(s, "workers", "64");
    assert_int_equal(s->workers, 64);
    assert_set(s, "mode", "off");
    assert_int_equal(s->mode, 2);
    assert_set(s, "mode", "fast");
    assert_int_equal(s->mode, 0);
}

static void addresses_accept_ipv4_and_bracketed_ipv6(void **state)
{
    struct sample *s = *state;
    assert_set(s, "listen", "127.0.0.1:443");
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)&s->listen.addr;
    assert_int_equal(v4->sin_family, AF_INET);
    assert_int_equal(ntohs(v4->sin_port), 443);
    assert_int_equal(ntohl(v4->sin_addr.s_addr), 0x7f000001);
    assert_int_equal(s->listen.addr_len, sizeof(struct sockaddr_in));
    assert_set(s, "listen", "[::1]:8080");
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&s->listen.addr;
    assert_int_equal(v6->sin6_family, AF_INET6);
    assert_int_equal(ntohs(v6->sin6_port), 8080);
    assert_true(IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr));
    assert_int_equal(s->listen.addr_len, sizeof(struct sockaddr_in6));
    assert_string_equal(s->listen.text, "[::1]:8080");
    assert_set(s, "listen", "[2001:db8::ffff:1.2.3.4]:0");
    assert_set(s, "listen", "255.255.255.255:65535");
}

static void lists_trim_spaces_around_items(void **state)
{
    struct sample *s = *state;
    assert_set(s, "origins", "https://a.example ,  https://b.example,c");
    assert_list(&s->origins, 3,
                (const char *const[]){"https://a.example", "https://b.example", "c"});
    assert_set(s, "origins", "  one item with spaces  ");
    assert_list(&s->origins, 1, (const char *const[]){"one item with spaces"});
    assert_set(s, "origins", "");
    assert_int_equal(s->origins.count, 0);
    assert_null(s->origins.items);
    char many[CONFIG_LIST_ITEMS_MAX * 2];
    for (size_t i = 0; i < CONFIG_LIST_ITEMS_MAX; i++)
        memcpy(many + 2 * i, "x,", 2);
    many[2 * CONFIG_LIST_ITEMS_MAX - 1] = '\0';
    assert_set(s, "origins", many); /* exactly the limit */
    assert_int_equal(s->origins.count, CONFIG_LIST_ITEMS_MAX);
}

static void strings_and_lists_set_again_replace_and_free_the_old_value(void **state)
{
    (void)state;
    struct sample s;
    sample_defaults(&s);
    char longest[CONFIG_STRING_BYTES_MAX + 1];
    memset(longest, 'a', CONFIG_STRING_BYTES_MAX);
    longest[CONFIG_STRING_BYTES_MAX] = '\0';
    assert_set(&s, "name", "first");
    assert_set(&s, "name", longest); /* exactly the limit */
    assert_int_equal(strlen(s.name), CONFIG_STRING_BYTES_MAX);
    assert_set(&s, "name", "");
    assert_string_equal(s.name, "");
    assert_set(&s, "banner", "  hello = world # not a comment ");
    assert_string_equal(s.banner, "  hello = world # not a comment ");
    assert_set(&s, "peers", "a,b,c");
    assert_set(&s, "peers", "d");
    assert_list(&s.peers, 1, (const char *const[]){"d"});
    config_free(sample_table, SAMPLE_COUNT, &s); /* LeakSanitizer checks the rest */
}

/* ---- rejected values ---- */

static void numbers_out_of_range_are_rejected(void **state)
{
    struct sample *s = *state;
    assert_rejected(s, "workers", "0", "out of range", "from 1 to 64");
    assert_rejected(s, "workers", "65", "out of range", "from 1 to 64");
    assert_rejected(s, "max_bytes", "0", "out of range", "from 1 to 1g");
    assert_rejected(s, "max_bytes", "2g", "out of range", "from 1 to 1g");
    assert_rejected(s, "max_bytes", "1073741825", "out of range", "from 1 to 1g");
    assert_rejected(s, "timeout", "0ms", "out of range", "from 1ms to 24h");
    assert_rejected(s, "timeout", "25h", "out of range", "from 1ms to 24h");
}

static void numbers_with_trailing_garbage_or_signs_are_rejected(void **state)
{
    struct sample *s = *state;
    static const char *const sizes[] = {"64kb", "12x", "1 k", "1.5m", "-1", "+1", " 1", "k"};
    static const char *const durations[] = {"5sx", "5 s", "1.5s", "-5s", "5S", "ms", "5d"};
    static const char *const uints[] = {"4x", "-1", "+4", "0x10", "4 ", "four"};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        assert_rejected(s, "max_bytes", sizes[i], "expected a size", "64k or 16m");
    for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++)
        assert_rejected(s, "timeout", durations[i], "expected a duration", "250ms, 5s or 2m");
    for (size_t i = 0; i < sizeof uints / sizeof uints[0]; i++)
        assert_rejected(s, "workers", uints[i], "expected a whole number", "from 1 to 64");
}

static void numbers_that_overflow_64_bits_are_rejected(void **state)
{
    struct sample *s = *state;
    assert_rejected(s, "max_bytes", "99999999999999999999g", "expected a size", "from 1 to 1g");
    assert_rejected(s, "max_bytes", "18446744073709551615g", "expected a size", "to 1g");
    assert_rejected(s, "max_bytes", "18446744073709551616", "expected a size", "to 1g");
    assert_rejected(s, "timeout", "9999999999999999h", "expected a duration", "to 24h");
    assert_rejected(s, "workers", "18446744073709551616", "whole number", "from 1 to 64");
}

static void empty_values_are_rejected_for_every_type_but_text_and_lists(void **state)
{
    struct sample *s = *state;
    assert_rejected(s, "verbose", "", "expected true or false", "yes/no, on/off, 1/0");
    assert_rejected(s, "workers", "", "expected a whole number", "from 1 to 64");
    assert_rejected(s, "max_bytes", "", "expected a size", "from 1 to 1g");
    assert_rejected(s, "timeout", "", "expected a duration", "to 24h");
    assert_rejected(s, "mode", "", "expected one of:", " fast, safe, off");
    assert_rejected(s, "listen", "", "numeric IP address and port", "[::1]:8080");
}

static void bools_and_enums_outside_their_words_are_rejected(void **state)
{
    struct sample *s = *state;
    assert_rejected(s, "verbose", "maybe", "expected true or false", "on/off");
    assert_rejected(s, "verbose", "TRUE", "expected true or false", "on/off");
    assert_rejected(s, "verbose", "2", "expected true or false", "1/0");
    assert_rejected(s, "mode", "slow", "expected one of:", " fast, safe, off");
    assert_rejected(s, "mode", "Fast", "expected one of:", " fast, safe, off");
}

static void host_names_and_bad_ports_are_rejected(void **state)
{
    struct sample *s = *state;
    static const char *const bad[] = {
        "1.2.3.4:65536",  "1.2.3.4", "1.2.3.4:", "1.2.3.4:80x",  "1.2.3.4:-1",     "[::1]",
        "[::1]:",         "[::1]80", "::1:80",   "[1.2.3.4]:80", "1.2.3:80",       "[::1:80",
        "1.2.3.4:123456", "[]:80",   ":80",      "01.2.3.4:80",  "[fe80::1%lo]:80"};
    assert_rejected(s, "listen", "localhost:80", "host names are not resolved",
                    "expected a numeric IP address");
    assert_rejected(s, "listen", "db-1.example.com:443", "0.0.0.0:8080", "not resolved");
    assert_rejected(s, "listen", "1.2.3.4", "the port is missing", "0.0.0.0:8080");
    assert_rejected(s, "listen", "[::1]80", "the port is missing", "[::1]:8080");
    assert_rejected(s, "listen", "::1:80", "an IPv6 address goes in brackets", "[::1]:8080");
    assert_rejected(s, "listen", "1.2.3.4:65536", "the port must be a number from 0 to 65535",
                    "0.0.0.0:8080");
    assert_rejected(s, "listen", "1.2.3.4:-1", "from 0 to 65535", "[::1]:8080");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_rejected(s, "listen", bad[i], "numeric IP address and port", "[::1]:8080");
}

static void lists_with_empty_or_too_many_items_are_rejected(void **state)
{
    struct sample *s = *state;
    assert_rejected(s, "peers", "a,,b", "empty item", "at most 256 non-empty items");
    assert_rejected(s, "peers", "a, ,b", "empty item", "comma-separated list");
    assert_rejected(s, "peers", "a,", "empty item", "comma-separated list");
    assert_rejected(s, "peers", ",", "empty item", "comma-separated list");
    char many[(CONFIG_LIST_ITEMS_MAX + 1) * 2];
    for (size_t i = 0; i <= CONFIG_LIST_ITEMS_MAX; i++)
        memcpy(many + 2 * i, "x,", 2);
    many[2 * CONFIG_LIST_ITEMS_MAX + 1] = '\0'; /* 257 items */
    assert_rejected(s, "peers", many, "too many items", "at most 256");
    assert_list(&s->peers, 2, (const char *const[]){"alpha", "beta"}); /* unchanged */
}

static void strings_longer_than_the_limit_are_rejected(void **state)
{
    struct sample *s = *state;
    char text[CONFIG_STRING_BYTES_MAX + 2];
    memset(text, 'b', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    assert_rejected(s, "name", text, "too long", "at most 4095 bytes");
    assert_string_equal(s->name, "tidegate");
}

static void line_breaks_and_long_list_items_are_rejected(void **state)
{
    struct sample *s = *state;
    assert_rejected(s, "name", "two\nlines", "a line break in the text", "one line of text");
    assert_rejected(s, "peers", "a,b\nc", "a line break in the list", "comma-separated list");
    char item[CONFIG_STRING_BYTES_MAX + 8];
    memset(item, 'i', sizeof item - 1);
    item[sizeof item - 1] = '\0';
    item[0] = 'a';
    item[1] = ',';
    item[CONFIG_STRING_BYTES_MAX + 3] = '\0'; /* "a," and one item of 4096 bytes */
    assert_rejected(s, "peers", item, "item too long", "at most 4095 bytes each");
    item[CONFIG_STRING_BYTES_MAX + 2] = '\0'; /* exactly the limit */
    assert_set(s, "peers", item);
    assert_int_equal(strlen(s->peers.items[1]), CONFIG_STRING_BYTES_MAX);
    assert_set(s, "name", "carriage\rreturn"); /* only a line feed breaks a file line */
}

/* The sentence of the header's example, word for word. */
static void a_bad_size_reads_as_the_documented_sentence(void **state)
{
    struct sample *s = *state;
    char err[CONFIG_ERROR_BYTES];
    assert_int_equal(sample_set(s, "max_bytes", "12x", err), -1);
    assert_string_equal(
        err, "max_bytes = \"12x\": expected a size like 65536, 64k or 16m, from 1 to 1g");
    assert_int_equal(sample_set(s, "timeout", "soon", err), -1);
    assert_string_equal(err,
                        "timeout = \"soon\": expected a duration like 250ms, 5s or 2m, from 1ms "
                        "to 24h");
}

/* A NULL default is zero or empty, even over a value set before (which is freed). */
static void a_null_default_zeroes_the_option(void **state)
{
    (void)state;
    const struct config_option unset[] = {
        {"banner", CONFIG_STRING, OPT(banner), NULL, 0, 0, NULL, "Greeting."},
        {"peers", CONFIG_LIST, OPT(peers), NULL, 0, 0, NULL, "Peers."},
        {"listen", CONFIG_ADDR, OPT(listen), NULL, 0, 0, NULL, "Listener."},
        {"workers", CONFIG_UINT, OPT(workers), NULL, 0, 9, NULL, "Workers."},
        {"verbose", CONFIG_BOOL, OPT(verbose), NULL, 0, 0, NULL, "Chatty."},
        {"mode", CONFIG_ENUM, OPT(mode), NULL, 0, 0, modes, "Mode."},
    };
    enum { N = sizeof unset / sizeof unset[0] };
    struct sample s = {0}, back = {0};
    char err[CONFIG_ERROR_BYTES], path[64];
    assert_int_equal(config_set(unset, N, &s, "banner", "hello", err), 0);
    assert_int_equal(config_set(unset, N, &s, "peers", "a,b", err), 0);
    assert_int_equal(config_set(unset, N, &s, "listen", "1.2.3.4:5", err), 0);
    assert_int_equal(config_set(unset, N, &s, "workers", "9", err), 0);
    assert_int_equal(config_set(unset, N, &s, "mode", "off", err), 0);
    assert_int_equal(config_defaults(unset, N, &s, err), 0); /* LeakSanitizer: old ones freed */
    assert_null(s.banner);
    assert_int_equal(s.peers.count, 0);
    assert_int_equal(s.listen.addr_len, 0);
    assert_int_equal(s.workers, 0);
    assert_int_equal(s.mode, 0);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    config_print_values(out, unset, N, &s);
    assert_int_equal(fclose(out), 0);
    assert_string_equal(text, "banner = \"\"\npeers = \"\"\n# listen is not set\nworkers = 0\n"
                              "verbose = false\nmode = fast\n");
    int fd = memfd_create("tidegate-test-config", MFD_CLOEXEC);
    assert_true(fd >= 0 && write(fd, text, len) == (ssize_t)len);
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    assert_int_equal(config_load_file(unset, N, &back, path, err), 0); /* loads back */
    assert_int_equal(close(fd), 0);
    assert_int_equal(back.listen.addr_len, 0);
    assert_string_equal(back.banner, "");
    free(text);
    config_free(unset, N, &back);
}

static void unknown_options_point_to_help(void **state)
{
    struct sample *s = *state;
    char err[CONFIG_ERROR_BYTES];
    static const char *const names[] = {"nope", "max-bytes", "Workers", "", "workers "};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char expected[64];
        snprintf(expected, sizeof expected, "%s: unknown option; see --help", names[i]);
        assert_int_equal(sample_set(s, names[i], "1", err), -1);
        assert_string_equal(err, expected);
    }
}

/* Every type: a refused value leaves the option as it was. */
static void a_rejected_value_leaves_the_option_unchanged(void **state)
{
    struct sample *s = *state;
    static const char *const bad[][2] = {{"verbose", "maybe"},
                                         {"workers", "65"},
                                         {"max_bytes", "2g"},
                                         {"timeout", "5sx"},
                                         {"name", NULL},
                                         {"mode", "slow"},
                                         {"listen", "localhost:80"},
                                         {"listen", "1.2.3.4:65536"},
                                         {"peers", "a,,b"}};
    char too_long[CONFIG_STRING_BYTES_MAX + 2], err[CONFIG_ERROR_BYTES];
    memset(too_long, 'c', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\0';
    assert_set(s, "listen", "[::1]:9000");
    char *before = sample_print(s);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *value = bad[i][1] != NULL ? bad[i][1] : too_long;
        assert_int_equal(sample_set(s, bad[i][0], value, err), -1);
        char *after = sample_print(s);
        if (strcmp(before, after) != 0)
            fail_msg("%s = \"%.20s\" was refused but changed the settings", bad[i][0], value);
        free(after);
    }
    assert_string_equal(s->listen.text, "[::1]:9000");
    free(before);
}

/* ---- files ---- */

static void a_file_with_comments_blank_lines_crlf_and_quotes_loads(void **state)
{
    struct sample *s = *state;
    static const char file[] = "# tidegate test configuration\r\n"
                               "\r\n"
                               "   \t\n"
                               "  # indented comment = not a setting\n"
                               "workers=8\r\n"
                               "  max_bytes   =   16m  \r\n"
                               "name = \"  spaced out  \"\n"
                               "banner = unquoted words, kept as one = string\n"
                               "peers = \" a , b \"\n"
                               "listen = [::1]:9000\r\n"
                               "timeout = 2m"; /* last line without a newline */
    char path[64], err[CONFIG_ERROR_BYTES];
    assert_int_equal(load_text(s, file, path, err), 0);
    assert_int_equal(s->workers, 8);
    assert_int_equal(s->max_bytes, 16 << 20);
    assert_string_equal(s->name, "  spaced out  ");
    assert_string_equal(s->banner, "unquoted words, kept as one = string");
    assert_list(&s->peers, 2, (const char *const[]){"a", "b"});
    assert_string_equal(s->listen.text, "[::1]:9000");
    assert_int_equal(s->timeout_ms, 120000);
    assert_int_equal(s->mode, 1); /* not in the file: the default */
}

static void a_key_given_twice_keeps_the_last_value(void **state)
{
    struct sample *s = *state;
    char path[64], err[CONFIG_ERROR_BYTES];
    assert_int_equal(load_text(s,
                               "name = one\nworkers = 2\nname = two\npeers = x,y\n"
                               "peers = z\nworkers = 3\n",
                               path, err),
                     0);
    assert_string_equal(s->name, "two");
    assert_int_equal(s->workers, 3);
    assert_list(&s->peers, 1, (const char *const[]){"z"});
    assert_int_equal(load_text(s, "", path, err), 0); /* an empty file changes nothing */
    assert_string_equal(s->name, "two");
}

static void file_errors_name_the_path_and_line(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        unsigned line;
        const char *rest;
    } cases[] = {
        {"# ok\nworkers = 2\nthis line has no equals sign\n", 3, "expected `name = value`"},
        {"\r\n\r\n\r\n\r\nworkers\r\n", 5, "expected `name = value`"},
        {"workers = 2\n = 5\n", 2, "missing option name before `=`"},
        {"\n\nworkers = 0\n", 3, "workers = \"0\": out of range; expected a whole number"},
        {"mode = safe\nlisten = localhost:80\n", 2, "host names are not resolved"},
        {"verbose = yes\nnope = 1\n", 2, "nope: unknown option; see --help"},
        {"max_bytes = \"64kb\"\n", 1, "max_bytes = \"64kb\": expected a size"},
        {"peers = a,,b\nworkers = 0\n", 1, "empty item"}, /* stops at the first error */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sample s;
        char path[64], err[CONFIG_ERROR_BYTES];
        sample_defaults(&s);
        assert_int_equal(load_text(&s, cases[i].text, path, err), -1);
        assert_load_error(path, err, cases[i].line, cases[i].rest);
        config_free(sample_table, SAMPLE_COUNT, &s);
    }
}

static void a_file_with_a_nul_byte_is_rejected(void **state)
{
    struct sample *s = *state;
    static const char file[] = "workers = 2\nname = a\0b\n";
    char path[64], err[CONFIG_ERROR_BYTES], expected[128];
    assert_int_equal(load_bytes(s, file, sizeof file - 1, path, err), -1);
    snprintf(expected, sizeof expected, "%s:2: contains a NUL byte; not a text file", path);
    assert_string_equal(err, expected);
    assert_int_equal(s->workers, 4); /* nothing applied */
}

/* A comment line of `line_bytes`, preceded by one setting, followed by a CRLF. */
static char *long_line_file(size_t line_bytes)
{
    char *text = malloc(line_bytes + 32);
    assert_non_null(text);
    size_t n = (size_t)sprintf(text, "workers = 2\n");
    text[n] = '#';
    memset(text + n + 1, 'x', line_bytes - 1);
    strcpy(text + n + line_bytes, "\r\n");
    return text;
}

static void lines_over_8_kib_are_rejected(void **state)
{
    struct sample *s = *state;
    char path[64], err[CONFIG_ERROR_BYTES];
    char *longest = long_line_file(8192);
    assert_int_equal(load_text(s, longest, path, err), 0);
    free(longest);
    char *too_long = long_line_file(8193);
    assert_int_equal(load_text(s, too_long, path, err), -1);
    assert_load_error(path, err, 2, "line longer than 8 KiB");
    free(too_long);
}

/* `bytes` of comment lines of 1 KiB each. */
static char *big_file(size_t bytes)
{
    char *text = malloc(bytes + 1);
    assert_non_null(text);
    for (size_t i = 0; i < bytes; i++)
        text[i] = i % 1024 == 0 ? '#' : i % 1024 == 1023 ? '\n' : 'y';
    text[bytes] = '\0';
    return text;
}

static void files_over_1_mib_are_rejected(void **state)
{
    struct sample *s = *state;
    char path[64], err[CONFIG_ERROR_BYTES], expected[128];
    char *largest = big_file(1 << 20);
    assert_int_equal(load_text(s, largest, path, err), 0);
    free(largest);
    char *too_large = big_file((1 << 20) + 1);
    assert_int_equal(load_text(s, too_large, path, err), -1);
    snprintf(expected, sizeof expected, "%s: file larger than 1 MiB", path);
    assert_string_equal(err, expected);
    free(too_large);
}

static void a_missing_or_unreadable_file_says_why(void **state)
{
    struct sample *s = *state;
    char err[CONFIG_ERROR_BYTES], expected[256];
    const char *path = "/nonexistent-tidegate-dir/tidegate.conf";
    assert_int_equal(config_load_file(sample_table, SAMPLE_COUNT, s, path, err), -1);
    snprintf(expected, sizeof expected, "%s: cannot open: %s", path, strerror(ENOENT));
    assert_string_equal(err, expected);
    assert_int_equal(config_load_file(sample_table, SAMPLE_COUNT, s, "/", err), -1);
    snprintf(expected, sizeof expected, "/: cannot read: %s", strerror(EISDIR));
    assert_string_equal(err, expected); /* a directory: named, and refused with the reason */
}

/* ---- flags and --help ---- */

static void flags_use_dashes_and_may_carry_a_value(void **state)
{
    (void)state;
    const struct config_option *max_bytes = &sample_table[2];
    static const char *const none[] = {
        "--max_bytes",       "-x",    "--",       "--=5",        "max-bytes",    "-max-bytes",
        "--max-bytes-extra", "--max", "--nope=1", "--MAX-BYTES", "---max-bytes", ""};
    assert_ptr_equal(config_find_flag(sample_table, SAMPLE_COUNT, "--max-bytes"), max_bytes);
    assert_ptr_equal(config_find_flag(sample_table, SAMPLE_COUNT, "--max-bytes=5"), max_bytes);
    assert_ptr_equal(config_find_flag(sample_table, SAMPLE_COUNT, "--max-bytes="), max_bytes);
    assert_ptr_equal(config_find_flag(sample_table, SAMPLE_COUNT, "--verbose"), &sample_table[0]);
    assert_ptr_equal(config_find_flag(sample_table, SAMPLE_COUNT, "--peers=a=b"), &sample_table[9]);
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
        if (config_find_flag(sample_table, SAMPLE_COUNT, none[i]) != NULL)
            fail_msg("flag \"%s\" matched an option", none[i]);
    char very_long[300];
    memset(very_long, 'a', sizeof very_long - 1);
    very_long[0] = very_long[1] = '-';
    very_long[sizeof very_long - 1] = '\0';
    assert_null(config_find_flag(sample_table, SAMPLE_COUNT, very_long));
}

static char *help_text(const struct config_option *opts, size_t count)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    config_print_help(out, opts, count);
    assert_int_equal(fclose(out), 0);
    return text;
}

/* One line per option: flag and argument, padded so every sentence starts in one column,
 * then the default and what is allowed. */
static void help_is_one_aligned_line_per_option(void **state)
{
    (void)state;
    static const char expected[] =
        "  --verbose BOOL       Log every step. (default false)\n"
        "  --workers N          Worker threads. (default 4, 1..64)\n"
        "  --max-bytes SIZE     Largest message. (default 64k, 1..1g)\n"
        "  --timeout DURATION   Deadline. (default 5s, 1ms..24h)\n"
        "  --name TEXT          Name in logs. (default tidegate)\n"
        "  --banner TEXT        Greeting text. (default empty)\n"
        "  --mode WORD          How to run. (default safe; one of fast, safe, off)\n"
        "  --listen ADDR        Listener address. (default 0.0.0.0:8080; numeric IP:PORT or "
        "[IPv6]:PORT)\n"
        "  --origins LIST       Allowed origins. (default empty; comma-separated)\n"
        "  --peers LIST         Peer names. (default alpha, beta; comma-separated)\n";
    char *text = help_text(sample_table, SAMPLE_COUNT);
    assert_string_equal(text, expected);
    for (size_t i = 0; i < SAMPLE_COUNT; i++)
        assert_non_null(strstr(text, sample_table[i].help));
    free(text);
}

/* A range without an upper bound says "at least"; without any bound, nothing. */
static void open_ranges_read_as_at_least(void **state)
{
    (void)state;
    const struct config_option open[] = {
        {"budget", CONFIG_SIZE, OPT(max_bytes), NULL, 4096, UINT64_MAX, NULL, "Bytes."},
        {"count", CONFIG_UINT, OPT(workers), "7", 0, UINT64_MAX, NULL, "How many."},
    };
    struct sample s = {0};
    char err[CONFIG_ERROR_BYTES];
    assert_int_equal(config_defaults(open, 2, &s, err), 0);
    char *text = help_text(open, 2);
    assert_string_equal(text, "  --budget SIZE   Bytes. (default 0, 4k..)\n"
                              "  --count N       How many. (default 7)\n");
    free(text);
    assert_int_equal(config_set(open, 2, &s, "budget", "1k", err), -1);
    assert_string_equal(err, "budget = \"1k\": out of range; expected a size like 65536, 64k or "
                             "16m, at least 4k");
    assert_int_equal(config_set(open, 2, &s, "count", "18446744073709551615", err), 0);
    assert_true(s.workers == UINT64_MAX);
    assert_int_equal(config_set(open, 2, &s, "count", "x", err), -1);
    assert_string_equal(err, "count = \"x\": expected a whole number");
}

/* ---- printing values back ---- */

static void assert_same_settings(const struct sample *a, const struct sample *b)
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

static void round_trip(const struct sample *s)
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

static void printed_values_load_back_to_the_same_settings(void **state)
{
    struct sample *s = *state;
    round_trip(s);
    assert_set(s, "verbose", "on");
    assert_set(s, "workers", "64");
    assert_set(s, "max_bytes", "1536");
    assert_set(s, "timeout", "90s");
    assert_set(s, "name", "  \"quoted\" with # and = ");
    assert_set(s, "banner", "\"");
    assert_set(s, "mode", "off");
    assert_set(s, "listen", "[2001:0db8:0:0::1]:00443");
    assert_set(s, "origins", "https://a.example, b");
    assert_set(s, "peers", "\"x");
    round_trip(s);
    assert_set(s, "listen", "10.0.0.1:1");
    assert_set(s, "peers", "\"first, last\""); /* items that start and end with quotes */
    assert_set(s, "max_bytes", "1g");
    assert_set(s, "timeout", "24h");
    round_trip(s);
}

/* A list as long as a file line allows prints in full. */
static void long_lists_print_in_full(void **state)
{
    struct sample *s = *state;
    char value[8000];
    size_t n = 0;
    for (unsigned i = 0; n < 7900; i++)
        n += (size_t)snprintf(value + n, sizeof value - n,
                              "%shttps://origin-%03u.example.com/a/path", i ? "," : "", i);
    assert_set(s, "origins", value);
    round_trip(s);
}

static void addresses_format_as_ipv4_and_bracketed_ipv6(void **state)
{
    (void)state;
    char out[64];
    struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons(80)};
    v4.sin_addr.s_addr = htonl(0x01020304);
    config_addr_format((const struct sockaddr *)&v4, out, sizeof out);
    assert_string_equal(out, "1.2.3.4:80");
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons(8080)};
    assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", &v6.sin6_addr), 1);
    config_addr_format((const struct sockaddr *)&v6, out, sizeof out);
    assert_string_equal(out, "[2001:db8::1]:8080");
    v6.sin6_addr = in6addr_loopback;
    v6.sin6_port = htons(65535);
    config_addr_format((const struct sockaddr *)&v6, out, sizeof out);
    assert_string_equal(out, "[::1]:65535");
    struct sockaddr unix_like = {.sa_family = AF_UNIX};
    config_addr_format(&unix_like, out, sizeof out);
    assert_string_equal(out, "(address family 1)");
    config_addr_format((const struct sockaddr *)&v4, out, 6); /* truncated, terminated */
    assert_string_equal(out, "1.2.3");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_apply_to_every_option),
        cmocka_unit_test(a_bad_default_is_reported_not_asserted),
        cmocka_unit_test_setup_teardown(sizes_accept_plain_bytes_and_k_m_g, sample_setup,
                                        sample_teardown),
        cmocka_unit_test_setup_teardown(durations_accept_ms_s_m_h_and_bare_milliseconds,
                                        sample_setup, sample_teardown),
        cmocka_unit_test_setup_teardown(bools_accept_every_spelling_and_uints_their_whole_range,
                                        sample_setup, sample_teardown),
        cmocka_unit_test_setup_teardown(addresses_accept_ipv4_and_bracketed_ipv6, sample_setup,
                                        sample_teardown),
        cmocka_unit_test_setup_teardown(lists_trim_spaces_around_items, sample_setup,
                                        sample_teardown),
        cmocka_unit_test(strings_and_lists_set_again_replace_and_free_the_old_value),
        cmocka_unit_test_setup_teardown(numbers_out_of_range_are_rejected, sample_setup,
                                        sample_teardown),
        cmocka_unit_test_setup_teardown(numbers_with_trailing_garbage_or_signs_are_rejected,
                                        sample_setup, sample_teardown),
        cmocka_unit_test_setup_teardown(numbers_that_overflow_64_bits_are_rejected, sample_setup,
                                        sample_teardown),
        cmocka_unit_test_setup_teardown(empty_values_are_rejected_for_every_type_but_text_and_lists,
                                        sample_setup, sample_teardown),
        cmocka_unit_test_setup_teardown(bools_and_enums_outside_their_words_are_rejected,
                                        sample_setup, sample_teardown),
        cmocka_unit_test_setup_teardown(host_names_and_bad_ports_are_rejected, sample_setup,
                                        sample_teardown),
        cmocka_unit_test_setup_teardown(lists_with_empty_or_too_many_items_are_rejected,
                                        sample_setup, sample_teardown),
        cmocka_unit_test_setup_teardown(strings_longer_than_the_limit_are_rejected, sample_setup,
                                        sample_teardown),
        cmocka_unit_test_setup_teardown(line_breaks_and_long_list_items_are_rejected, sample_setup,
                                        sample_teardown),
        cmocka_unit_test_setup_teardown(a_bad_size_reads_as_the_documented_sentence, sample_setup,
                                        sample_teardown),
        cmocka_unit_test(a_null_default_zeroes_the_option),
        cmocka_unit_test_setup_teardown(unknown_options_point_to_help, sample_setup,
                                        sample_teardown),
        cmocka_unit_test_setup_teardown(a_rejected_value_leaves_the_option_unchanged, sample_setup,
                                        sample_teardown),
        cmocka_unit_test_setup_teardown(a_file_with_comments_blank_lines_crlf_and_quotes_loads,
                                        sample_setup, sample_teardown),
        cmocka_unit_test_setup_teardown(a_key_given_twice_keeps_the_last_value, sample_setup,
                                        sample_teardown),
        cmocka_unit_test(file_errors_name_the_path_and_line),
        cmocka_unit_test_setup_teardown(a_file_with_a_nul_byte_is_rejected, sample_setup,
                                        sample_teardown),
        cmocka_unit_test_setup_teardown(lines_over_8_kib_are_rejected, sample_setup,
                                        sample_teardown),
        cmocka_unit_test_setup_teardown(files_over_1_mib_are_rejected, sample_setup,
                                        sample_teardown),
        cmocka_unit_test_setup_teardown(a_missing_or_unreadable_file_says_why, sample_setup,
                                        sample_teardown),
        cmocka_unit_test(flags_use_dashes_and_may_carry_a_value),
        cmocka_unit_test(help_is_one_aligned_line_per_option),
        cmocka_unit_test(open_ranges_read_as_at_least),
        cmocka_unit_test_setup_teardown(printed_values_load_back_to_the_same_settings, sample_setup,
                                        sample_teardown),
        cmocka_unit_test_setup_teardown(long_lists_print_in_full, sample_setup, sample_teardown),
        cmocka_unit_test(addresses_format_as_ipv4_and_bracketed_ipv6),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
