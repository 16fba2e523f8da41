/* Namespaces as an operator configures them: `namespace.NAME.OPTION` lines from the
 * documentation's example, every option at its documented default, lookups by the part of
 * a channel name before ':', the command-line form, --check-config output that loads back,
 * and for every way of getting a line wrong a sentence naming it, with nothing changed. */
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

#include "gateway/namespace.h"
#include "gateway/options.h"
#include "options_fixture.h"

#define MINUTE_MS ((uint64_t)60 * 1000)

/* Refused with exactly `expected`, and the namespaces are as they were. */
static void assert_refused(struct gw_options *o, const char *name, const char *value,
                           const char *expected)
{
    char err[CONFIG_ERROR_BYTES] = "";
    size_t count = o->namespaces.count;
    struct ns_config *before = malloc(count * sizeof *before);
    assert_non_null(before);
    memcpy(before, o->namespaces.items, count * sizeof *before);
    assert_int_equal(options_set(o, name, value, err), -1);
    assert_string_equal(err, expected);
    assert_int_equal(o->namespaces.count, count);
    assert_memory_equal(o->namespaces.items, before, count * sizeof *before);
    free(before);
}

static const struct ns_config *find(const struct gw_options *o, const char *name)
{
    return gw_namespace_find(&o->namespaces, name, strlen(name));
}

/* Every option at the default of docs/protocol.md 4.2. */
static void assert_defaults(const struct ns_config *ns, const char *name)
{
    assert_non_null(ns);
    assert_string_equal(ns->name, name);
    assert_int_equal(ns->history_size, 100);
    assert_int_equal(ns->history_ttl_ms, 10 * MINUTE_MS);
    assert_false(ns->presence);
    assert_false(ns->typing);
    assert_false(ns->durable);
    assert_int_equal(ns->join, NS_RULE_CAPS);
    assert_int_equal(ns->publish, NS_RULE_CAPS);
    assert_int_equal(ns->slow_consumer, NS_SLOW_DISCONNECT);
    assert_int_equal(ns->max_subscribers, 100000);
}

/* ---- accepted ---- */

static void only_default_exists_until_a_namespace_is_set(void **state)
{
    const struct gw_options *o = *state;
    assert_int_equal(o->namespaces.count, 1);
    assert_defaults(&o->namespaces.items[0], "default");
    assert_ptr_equal(gw_namespace_find(&o->namespaces, NULL, 0), &o->namespaces.items[0]);
    assert_ptr_equal(find(o, "default"), &o->namespaces.items[0]);
    assert_null(find(o, "chat"));
}

static void the_documented_example_configures_chat_and_prices(void **state)
{
    struct gw_options *o = *state;
    options_assert_set(o, "namespace.chat.presence", "on");
    options_assert_set(o, "namespace.chat.typing", "on");
    options_assert_set(o, "namespace.chat.history_size", "500");
    options_assert_set(o, "namespace.prices.publish", "none");
    options_assert_set(o, "namespace.prices.join", "anonymous");
    options_assert_set(o, "namespace.prices.slow_consumer", "skip");
    options_assert_set(o, "namespace.prices.history_size", "0");
    assert_int_equal(o->namespaces.count, 3);
    const struct ns_config *chat = find(o, "chat"), *prices = find(o, "prices");
    assert_non_null(chat);
    assert_non_null(prices);
    assert_true(chat->presence && chat->typing);
    assert_int_equal(chat->history_size, 500);
    assert_int_equal(chat->join, NS_RULE_CAPS); /* untouched options keep their defaults */
    assert_int_equal(chat->max_subscribers, 100000);
    assert_int_equal(prices->publish, NS_RULE_NONE);
    assert_int_equal(prices->join, NS_RULE_ANONYMOUS);
    assert_int_equal(prices->slow_consumer, NS_SLOW_SKIP);
    assert_int_equal(prices->history_size, 0);
    assert_int_equal(prices->history_ttl_ms, 10 * MINUTE_MS);
    assert_defaults(find(o, "default"), "default");
}

static void every_option_takes_its_documented_range(void **state)
{
    struct gw_options *o = *state;
    options_assert_set(o, "namespace.a.history_size", "10000");
    options_assert_set(o, "namespace.a.history_ttl", "1s");
    options_assert_set(o, "namespace.a.max_subscribers", "1");
    options_assert_set(o, "namespace.a.join", "authenticated");
    options_assert_set(o, "namespace.a.publish", "anonymous");
    options_assert_set(o, "namespace.a.slow_consumer", "disconnect");
    options_assert_set(o, "namespace.a.durable", "yes"); /* parsed; refused by validation, below */
    const struct ns_config *a = find(o, "a");
    assert_int_equal(a->history_size, 10000);
    assert_int_equal(a->history_ttl_ms, 1000);
    assert_int_equal(a->max_subscribers, 1);
    assert_int_equal(a->join, NS_RULE_AUTHENTICATED);
    assert_int_equal(a->publish, NS_RULE_ANONYMOUS);
    assert_true(a->durable);
    options_assert_set(o, "namespace.a.history_ttl", "24h");
    options_assert_set(o, "namespace.a.max_subscribers", "100000000");
    options_assert_set(o, "namespace.a.publish", "authenticated");
    assert_int_equal(a->history_ttl_ms, 24 * 60 * MINUTE_MS);
    assert_int_equal(a->max_subscribers, 100000000);
    assert_int_equal(a->publish, NS_RULE_AUTHENTICATED);
}

static void default_is_configured_like_any_other(void **state)
{
    struct gw_options *o = *state;
    options_assert_set(o, "namespace.default.history_size", "0");
    options_assert_set(o, "namespace.default.join", "anonymous");
    assert_int_equal(o->namespaces.count, 1);
    assert_int_equal(o->namespaces.items[0].history_size, 0);
    assert_int_equal(gw_namespace_find(&o->namespaces, "", 0)->join, NS_RULE_ANONYMOUS);
}

static void names_use_every_allowed_character_and_up_to_64_of_them(void **state)
{
    struct gw_options *o = *state;
    const char *name64 = "abcdefghijklmnopqrstuvwxyz0123456789_-abcdefghijklmnopqrstuvwxyz";
    char line[128];
    assert_int_equal(strlen(name64), 64);
    snprintf(line, sizeof line, "namespace.%s.typing", name64);
    options_assert_set(o, line, "true");
    options_assert_set(o, "namespace.x.typing", "true");
    options_assert_set(o, "namespace.team_7-b.typing", "true");
    assert_true(find(o, name64)->typing);
    assert_true(find(o, "x")->typing);
    assert_true(find(o, "team_7-b")->typing);
}

/* Lookups take the bytes before ':' without copying; anything never configurable is absent. */
static void lookups_take_a_span_and_miss_what_is_not_configured(void **state)
{
    struct gw_options *o = *state;
    options_assert_set(o, "namespace.chat.presence", "on");
    const char *channel = "chat:lobby";
    const struct ns_config *chat = gw_namespace_find(&o->namespaces, channel, 4);
    assert_non_null(chat);
    assert_string_equal(chat->name, "chat");
    assert_null(gw_namespace_find(&o->namespaces, channel, 3));  /* "cha" */
    assert_null(gw_namespace_find(&o->namespaces, channel, 5));  /* "chat:" */
    assert_null(gw_namespace_find(&o->namespaces, "Chat", 4));   /* names are lower case */
    assert_null(gw_namespace_find(&o->namespaces, "defaul", 6)); /* a prefix of default */
    char long_name[300];
    memset(long_name, 'a', sizeof long_name);
    assert_null(gw_namespace_find(&o->namespaces, long_name, sizeof long_name));
}

/* 255 namespaces besides default, set in a scrambled order, are each found; one more is
 * refused and changes nothing. */
static void up_to_256_namespaces_are_kept_sorted_and_found(void **state)
{
    struct gw_options *o = *state;
    char name[32], err[CONFIG_ERROR_BYTES];
    for (unsigned i = 0; i < GW_NAMESPACES_MAX - 1; i++) {
        snprintf(name, sizeof name, "namespace.ns%u.history_size", (i * 97) % 255);
        char value[16];
        snprintf(value, sizeof value, "%u", (i * 97) % 255);
        options_assert_set(o, name, value);
    }
    assert_int_equal(o->namespaces.count, GW_NAMESPACES_MAX);
    for (unsigned i = 1; i + 1 < o->namespaces.count; i++)
        assert_true(strcmp(o->namespaces.items[i].name, o->namespaces.items[i + 1].name) < 0);
    for (unsigned i = 0; i < GW_NAMESPACES_MAX - 1; i++) {
        snprintf(name, sizeof name, "ns%u", i);
        const struct ns_config *ns = find(o, name);
        assert_non_null(ns);
        assert_int_equal(ns->history_size, i);
    }
    assert_refused(o, "namespace.one-more.typing", "on",
                   "namespace: more than 256 namespaces (default included); merge some, channels "
                   "of one namespace share its settings");
    assert_null(find(o, "one-more"));
    options_assert_set(o, "namespace.ns3.typing", "on"); /* existing ones still take settings */
    assert_true(find(o, "ns3")->typing);
    assert_int_equal(options_set(o, "namespace.zz.typing", "on", err), -1);
    assert_null(find(o, "zz"));
}

/* ---- refused ---- */

static void a_key_without_name_or_option_is_refused(void **state)
{
    struct gw_options *o = *state;
    const char *expected_tail = "expected namespace.NAME.OPTION with OPTION one of history_size, "
                                "history_ttl, presence, typing, join, publish, slow_consumer, "
                                "max_subscribers, durable";
    char expected[CONFIG_ERROR_BYTES];
    snprintf(expected, sizeof expected, "namespace.chat = \"on\": %s", expected_tail);
    assert_refused(o, "namespace.chat", "on", expected);
    snprintf(expected, sizeof expected, "namespace.chat. = \"on\": %s", expected_tail);
    assert_refused(o, "namespace.chat.", "on", expected);
    assert_refused(o, "namespace", "on",
                   "namespace = \"on\": the option name lacks its key; expected "
                   "namespace.NAME.OPTION = value");
    assert_refused(o, "namespace.", "on",
                   "namespace = \"on\": the option name lacks its key; expected "
                   "namespace.NAME.OPTION = value");
}

static void bad_names_are_refused_with_the_rule(void **state)
{
    struct gw_options *o = *state;
    assert_refused(o, "namespace.Chat.typing", "on",
                   "namespace.Chat.typing = \"on\": the namespace name \"Chat\" must be 1 to 64 "
                   "characters of a-z, 0-9, _ and -");
    assert_refused(o, "namespace..typing", "on",
                   "namespace..typing = \"on\": the namespace name \"\" must be 1 to 64 "
                   "characters of a-z, 0-9, _ and -");
    assert_refused(o, "namespace.a b.typing", "on",
                   "namespace.a b.typing = \"on\": the namespace name \"a b\" must be 1 to 64 "
                   "characters of a-z, 0-9, _ and -");
    assert_refused(o, "namespace.caf\xc3\xa9.typing", "on",
                   "namespace.caf\xc3\xa9.typing = \"on\": the namespace name \"caf\xc3\xa9\" must "
                   "be 1 to 64 characters of a-z, 0-9, _ and -");
    assert_refused(o, "namespace.a:b.typing", "on",
                   "namespace.a:b.typing = \"on\": the namespace name \"a:b\" must be 1 to 64 "
                   "characters of a-z, 0-9, _ and -");
    char line[128], expected[CONFIG_ERROR_BYTES], name65[66];
    memset(name65, 'n', 65);
    name65[65] = '\0';
    snprintf(line, sizeof line, "namespace.%s.typing", name65);
    snprintf(expected, sizeof expected,
             "%s = \"on\": the namespace name \"%s\" must be 1 to 64 characters of a-z, 0-9, _ "
             "and -",
             line, name65);
    assert_refused(o, line, "on", expected);
}

static void unknown_options_list_the_known_ones(void **state)
{
    struct gw_options *o = *state;
    assert_refused(o, "namespace.chat.colour", "blue",
                   "namespace.chat.colour = \"blue\": unknown namespace option \"colour\"; "
                   "expected one of history_size, history_ttl, presence, typing, join, publish, "
                   "slow_consumer, max_subscribers, durable");
    /* a name cannot hold '.', so the rest is the option and there is no such option */
    assert_refused(o, "namespace.a.b.typing", "on",
                   "namespace.a.b.typing = \"on\": unknown namespace option \"b.typing\"; "
                   "expected one of history_size, history_ttl, presence, typing, join, publish, "
                   "slow_consumer, max_subscribers, durable");
    assert_refused(o, "namespace.chat.History_size", "1",
                   "namespace.chat.History_size = \"1\": unknown namespace option "
                   "\"History_size\"; expected one of history_size, history_ttl, presence, "
                   "typing, join, publish, slow_consumer, max_subscribers, durable");
}

/* Values are parsed like every other option's, and say so in the same words. */
static void bad_values_read_like_every_other_option(void **state)
{
    struct gw_options *o = *state;
    options_assert_set(o, "namespace.chat.history_size",
                       "7"); /* chat exists, with a value to keep */
    assert_refused(o, "namespace.chat.history_size", "10001",
                   "namespace.chat.history_size = \"10001\": out of range; expected a whole "
                   "number, from 0 to 10000");
    assert_refused(o, "namespace.chat.history_size", "-1",
                   "namespace.chat.history_size = \"-1\": expected a whole number, from 0 to "
                   "10000");
    assert_refused(o, "namespace.chat.history_size", "",
                   "namespace.chat.history_size = \"\": expected a whole number, from 0 to 10000");
    assert_refused(o, "namespace.chat.history_ttl", "500ms",
                   "namespace.chat.history_ttl = \"500ms\": out of range; expected a duration "
                   "like 250ms, 5s or 2m, from 1s to 24h");
    assert_refused(o, "namespace.chat.history_ttl", "25h",
                   "namespace.chat.history_ttl = \"25h\": out of range; expected a duration like "
                   "250ms, 5s or 2m, from 1s to 24h");
    assert_refused(o, "namespace.chat.presence", "maybe",
                   "namespace.chat.presence = \"maybe\": expected true or false (also yes/no, "
                   "on/off, 1/0)");
    assert_refused(o, "namespace.chat.typing", "2",
                   "namespace.chat.typing = \"2\": expected true or false (also yes/no, on/off, "
                   "1/0)");
    assert_refused(o, "namespace.chat.durable", "sometimes",
                   "namespace.chat.durable = \"sometimes\": expected true or false (also yes/no, "
                   "on/off, 1/0)");
    assert_refused(o, "namespace.chat.join", "everyone",
                   "namespace.chat.join = \"everyone\": expected one of: caps, authenticated, "
                   "anonymous");
    assert_refused(o, "namespace.chat.publish", "everyone",
                   "namespace.chat.publish = \"everyone\": expected one of: caps, authenticated, "
                   "anonymous, none");
    assert_refused(o, "namespace.chat.slow_consumer", "drop",
                   "namespace.chat.slow_consumer = \"drop\": expected one of: disconnect, skip");
    assert_refused(o, "namespace.chat.max_subscribers", "0",
                   "namespace.chat.max_subscribers = \"0\": out of range; expected a whole "
                   "number, from 1 to 100000000");
    assert_refused(o, "namespace.chat.max_subscribers", "100000001",
                   "namespace.chat.max_subscribers = \"100000001\": out of range; expected a "
                   "whole number, from 1 to 100000000");
    assert_int_equal(find(o, "chat")->history_size, 7);
}

static void join_none_is_refused_with_its_reason(void **state)
{
    struct gw_options *o = *state;
    assert_refused(o, "namespace.feed.join", "none",
                   "namespace.feed.join = \"none\": a channel nobody may join serves nobody (none "
                   "is for publish); expected one of: caps, authenticated, anonymous");
}

/* A refused value must not leave behind the namespace it would have created. */
static void a_refused_value_creates_no_namespace(void **state)
{
    struct gw_options *o = *state;
    char err[CONFIG_ERROR_BYTES];
    assert_int_equal(options_set(o, "namespace.ghost.history_size", "lots", err), -1);
    assert_int_equal(options_set(o, "namespace.ghost.join", "none", err), -1);
    assert_int_equal(options_set(o, "namespace.ghost.colour", "red", err), -1);
    assert_int_equal(o->namespaces.count, 1);
    assert_null(find(o, "ghost"));
}

static void durable_needs_postgres_url(void **state)
{
    struct gw_options *o = *state;
    char err[CONFIG_ERROR_BYTES];
    assert_int_equal(gw_options_validate(o, err), 0);
    options_assert_set(o, "namespace.orders.durable", "true");
    assert_int_equal(gw_options_validate(o, err), -1);
    assert_string_equal(err, "namespace.orders.durable = true: durable channels are "
                             "acknowledged once stored in PostgreSQL, and postgres_url is not "
                             "set; set it or remove the line");
    options_assert_set(o, "postgres_url", "host=/tmp dbname=tidegate");
    assert_int_equal(gw_options_validate(o, err), 0);
    options_assert_set(o, "postgres_url", "");
    options_assert_set(o, "namespace.orders.durable", "false");
    assert_int_equal(gw_options_validate(o, err), 0);
    options_assert_set(o, "namespace.default.durable", "on");
    assert_int_equal(gw_options_validate(o, err), -1);
    assert_non_null(strstr(err, "namespace.default.durable = true: durable channels are"));
}

/* ---- command line, printing ---- */

static void flags_set_namespaces_as_the_file_does(void **state)
{
    struct gw_options *o = *state;
    char err[CONFIG_ERROR_BYTES];
    const struct config_option *row =
        config_find_flag(gw_option_table, gw_option_count, "--namespace.chat.presence");
    assert_non_null(row);
    assert_true(config_flag_takes_bool(row, "--namespace.chat.presence"));
    assert_true(config_flag_takes_bool(row, "--namespace.chat.durable"));
    assert_false(config_flag_takes_bool(row, "--namespace.chat.history-size"));
    assert_false(config_flag_takes_bool(row, "--namespace.chat.colour"));
    assert_false(config_flag_takes_bool(row, "--namespace.chat"));
    assert_int_equal(config_set_flag(gw_option_table, gw_option_count, o,
                                     "--namespace.team-1.history-size", "42", err),
                     0);
    assert_int_equal(config_set_flag(gw_option_table, gw_option_count, o,
                                     "--namespace.team_1.slow_consumer=skip", "skip", err),
                     0);
    assert_int_equal(config_set_flag(gw_option_table, gw_option_count, o,
                                     "--namespace.chat.presence", "on", err),
                     0);
    assert_int_equal(find(o, "team-1")->history_size, 42); /* the name is kept verbatim */
    assert_int_equal(find(o, "team_1")->slow_consumer, NS_SLOW_SKIP);
    assert_true(find(o, "chat")->presence);
    assert_int_equal(
        config_set_flag(gw_option_table, gw_option_count, o, "--namespace.Team.typing", "on", err),
        -1);
    assert_string_equal(err, "namespace.Team.typing = \"on\": the namespace name \"Team\" must "
                             "be 1 to 64 characters of a-z, 0-9, _ and -");
}

static char *print_options(const struct gw_options *o)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    config_print_values(out, gw_option_table, gw_option_count, o);
    assert_int_equal(fclose(out), 0);
    return text;
}

static void assert_same_namespace(const struct ns_config *a, const struct ns_config *b)
{
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->history_size, b->history_size);
    assert_int_equal(a->history_ttl_ms, b->history_ttl_ms);
    assert_int_equal(a->presence, b->presence);
    assert_int_equal(a->typing, b->typing);
    assert_int_equal(a->durable, b->durable);
    assert_int_equal(a->join, b->join);
    assert_int_equal(a->publish, b->publish);
    assert_int_equal(a->slow_consumer, b->slow_consumer);
    assert_int_equal(a->max_subscribers, b->max_subscribers);
}

static void printed_namespaces_load_back_the_same(void **state)
{
    struct gw_options *o = *state;
    options_assert_set(o, "namespace.chat.presence", "on");
    options_assert_set(o, "namespace.chat.history_ttl", "90s");
    options_assert_set(o, "namespace.prices.publish", "none");
    options_assert_set(o, "namespace.prices.max_subscribers", "12345");
    options_assert_set(o, "namespace.default.typing", "on");
    char *text = print_options(o);
    assert_non_null(strstr(text, "namespace.default.typing = true\n"));
    assert_non_null(strstr(text, "namespace.chat.history_ttl = 90s\n"));
    assert_non_null(strstr(text, "namespace.prices.publish = none\n"));
    assert_non_null(strstr(text, "namespace.prices.max_subscribers = 12345\n"));
    assert_non_null(strstr(text, "namespace.prices.durable = false\n"));

    struct gw_options back;
    char err[CONFIG_ERROR_BYTES], path[64];
    assert_int_equal(gw_options_defaults(&back, err), 0);
    int fd = memfd_create("tidegate-test-namespaces", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if (config_load_file(gw_option_table, gw_option_count, &back, path, err) != 0)
        fail_msg("printed options do not load: %s", err);
    assert_int_equal(close(fd), 0);
    assert_int_equal(back.namespaces.count, o->namespaces.count);
    for (size_t i = 0; i < o->namespaces.count; i++)
        assert_same_namespace(&back.namespaces.items[i], &o->namespaces.items[i]);
    char *again = print_options(&back);
    assert_string_equal(again, text);
    free(again);
    free(text);
    gw_options_free(&back);
    assert_null(back.namespaces.items);
    assert_int_equal(back.namespaces.count, 0);
}

static void help_describes_the_pattern_in_one_line(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    config_print_help(out, gw_option_table, gw_option_count);
    assert_int_equal(fclose(out), 0);
    const char *line = strstr(text, "  --namespace.NAME.OPTION VALUE ");
    assert_non_null(line);
    const char *end = strchr(line, '\n');
    assert_non_null(end);
    assert_null(strstr(end, "--namespace")); /* one line */
    assert_non_null(strstr(line, "OPTION one of history_size, history_ttl, presence, typing, "
                                 "join, publish, slow_consumer, max_subscribers, durable"));
    free(text);
}

#define NS_TEST(name) cmocka_unit_test_setup_teardown(name, options_setup, options_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        NS_TEST(only_default_exists_until_a_namespace_is_set),
        NS_TEST(the_documented_example_configures_chat_and_prices),
        NS_TEST(every_option_takes_its_documented_range),
        NS_TEST(default_is_configured_like_any_other),
        NS_TEST(names_use_every_allowed_character_and_up_to_64_of_them),
        NS_TEST(lookups_take_a_span_and_miss_what_is_not_configured),
        NS_TEST(up_to_256_namespaces_are_kept_sorted_and_found),
        NS_TEST(a_key_without_name_or_option_is_refused),
        NS_TEST(bad_names_are_refused_with_the_rule),
        NS_TEST(unknown_options_list_the_known_ones),
        NS_TEST(bad_values_read_like_every_other_option),
        NS_TEST(join_none_is_refused_with_its_reason),
        NS_TEST(a_refused_value_creates_no_namespace),
        NS_TEST(durable_needs_postgres_url),
        NS_TEST(flags_set_namespaces_as_the_file_does),
        NS_TEST(printed_namespaces_load_back_the_same),
        NS_TEST(help_describes_the_pattern_in_one_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
