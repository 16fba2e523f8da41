/* Config values: every value syntax a user may write for each option type, and for each
 * way of getting it wrong an error sentence that names the option and the value and says
 * what is allowed; defaults; and printed values (secrets aside) that load back to the same
 * settings. Tables, files and flags are test_config.c's. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "config_harness.h"

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

/* ---- printing values back ---- */

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

/* ---- secrets ---- */

struct secrets {
    char *token;
    struct config_list keys;
};

static const struct config_option secret_table[] = {
    {"token", CONFIG_STRING, offsetof(struct secrets, token), "", 0, 0, NULL, "A token.", NULL,
     CONFIG_SECRET},
    {"keys", CONFIG_LIST, offsetof(struct secrets, keys), "", 0, 0, NULL, "Keys.", NULL,
     CONFIG_SECRET},
};
enum { SECRET_COUNT = sizeof secret_table / sizeof secret_table[0] };

static char *secrets_print(const struct secrets *s)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    config_print_values(out, secret_table, SECRET_COUNT, s);
    assert_int_equal(fclose(out), 0);
    return text;
}

static void secrets_print_as_stars_and_errors_never_quote_them(void **state)
{
    (void)state;
    struct secrets s = {0};
    char err[CONFIG_ERROR_BYTES];
    assert_int_equal(config_defaults(secret_table, SECRET_COUNT, &s, err), 0);
    char *text = secrets_print(&s);
    assert_string_equal(text, "token = \"\"\nkeys = \"\"\n"); /* unset: nothing to hide */
    free(text);
    assert_int_equal(config_set(secret_table, SECRET_COUNT, &s, "token", "hunter2", err), 0);
    assert_int_equal(config_set(secret_table, SECRET_COUNT, &s, "keys", "k-one, k-two", err), 0);
    assert_string_equal(s.token, "hunter2");
    assert_string_equal(s.keys.items[1], "k-two");
    text = secrets_print(&s);
    assert_string_equal(text, "token = \"***\"\nkeys = \"***,***\"\n");
    free(text);
    assert_int_equal(config_set(secret_table, SECRET_COUNT, &s, "keys", "k-three,,x", err), -1);
    assert_string_equal(err, "keys = \"***\": empty item; expected a comma-separated list of at "
                             "most 256 non-empty items of one line and at most 4095 bytes each");
    assert_null(strstr(err, "k-three"));
    assert_int_equal(config_set(secret_table, SECRET_COUNT, &s, "token", "a\nb", err), -1);
    assert_true(strncmp(err, "token = \"***\": ", 15) == 0);
    assert_string_equal(s.token, "hunter2"); /* refused values change nothing */
    assert_int_equal(s.keys.count, 2);
    config_free(secret_table, SECRET_COUNT, &s);
    assert_null(s.token);
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
        cmocka_unit_test_setup_teardown(printed_values_load_back_to_the_same_settings, sample_setup,
                                        sample_teardown),
        cmocka_unit_test_setup_teardown(long_lists_print_in_full, sample_setup, sample_teardown),
        cmocka_unit_test(addresses_format_as_ipv4_and_bracketed_ipv6),
        cmocka_unit_test(secrets_print_as_stars_and_errors_never_quote_them),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
