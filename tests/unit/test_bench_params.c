/* tidegate-bench command line: values with their units, scenario defaults, and every kind
 * of mistake answered with a sentence that names the option. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bench/params.h"

#define ARGV(...)          ((char *[]){"tidegate-bench", __VA_ARGS__, NULL})
#define ARGC(...)          ((int)(sizeof((char *[]){"tidegate-bench", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(p, err, ...) bench_params_parse((p), ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (err))

static void counts_sizes_durations_and_rates_take_their_units(void **state)
{
    (void)state;
    uint64_t u;
    double d;
    assert_true(bench_parse_count("20k", &u) && u == 20000);
    assert_true(bench_parse_count("1m", &u) && u == 1000000);
    assert_true(bench_parse_count("1.5k", &u) && u == 1500);
    assert_false(bench_parse_count("1.5", &u)); /* a count is whole */
    assert_true(bench_parse_size("4k", &u) && u == 4096);
    assert_true(bench_parse_size("1m", &u) && u == 1048576);
    assert_true(bench_parse_duration_ms("500ms", &u) && u == 500);
    assert_true(bench_parse_duration_ms("10s", &u) && u == 10000);
    assert_true(bench_parse_duration_ms("10", &u) && u == 10000); /* bare: seconds */
    assert_true(bench_parse_duration_ms("2m", &u) && u == 120000);
    assert_true(bench_parse_duration_ms("1h", &u) && u == 3600000);
    assert_true(bench_parse_duration_ms("0.25s", &u) && u == 250);
    assert_true(bench_parse_rate("2.5k", &d) && d == 2500.0);
    assert_true(bench_parse_rate("0.5", &d) && d == 0.5);
}

static void malformed_values_are_refused(void **state)
{
    (void)state;
    uint64_t u;
    double d;
    const char *bad[] = {"", "-1", "+1", " 1", "1x", "0x10", "1e3", "inf", "nan", "k", "1kk"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(bench_parse_count(bad[i], &u));
        assert_false(bench_parse_rate(bad[i], &d));
    }
    assert_false(bench_parse_duration_ms("10sec", &u));
    assert_false(bench_parse_duration_ms("s", &u));
    assert_false(bench_parse_size("4kb", &u));
}

static void address_ranges_and_targets(void **state)
{
    (void)state;
    uint32_t first, count;
    assert_true(bench_parse_ip_range("127.0.0.2-127.0.0.50", &first, &count));
    assert_int_equal(first, 0x7f000002);
    assert_int_equal(count, 49);
    assert_true(bench_parse_ip_range("10.0.0.1", &first, &count) && count == 1);
    assert_true(bench_parse_ip_range("127.0.0.255-127.0.1.1", &first, &count) && count == 3);
    assert_false(bench_parse_ip_range("127.0.0.50-127.0.0.2", &first, &count)); /* backwards */
    assert_false(bench_parse_ip_range("127.0.0.1-", &first, &count));
    assert_false(bench_parse_ip_range("localhost", &first, &count));
    assert_false(bench_parse_ip_range("10.0.0.0-10.2.0.0", &first, &count)); /* > 65536 */
    struct sockaddr_in sa;
    assert_true(bench_parse_target("127.0.0.1:8080", &sa));
    assert_int_equal(ntohs(sa.sin_port), 8080);
    assert_int_equal(ntohl(sa.sin_addr.s_addr), 0x7f000001);
    assert_false(bench_parse_target("127.0.0.1", &sa));
    assert_false(bench_parse_target("127.0.0.1:0", &sa));
    assert_false(bench_parse_target("127.0.0.1:65536", &sa));
    assert_false(bench_parse_target("127.0.0.1:8k", &sa));
    assert_false(bench_parse_target("example.com:80", &sa));
}

static void each_scenario_has_its_defaults(void **state)
{
    (void)state;
    struct bench_params p;
    char err[BENCH_ERROR_BYTES];
    assert_int_equal(PARSE(&p, err, "connect"), 0);
    assert_int_equal(p.scenario, BENCH_CONNECT);
    assert_int_equal(p.duration_ms, 0);
    assert_int_equal(p.adapter, BENCH_ADAPTER_RAW);
    assert_int_equal(bench_params_total_connections(&p), 1000);
    assert_int_equal(bench_params_senders(&p), 0);
    assert_int_equal(PARSE(&p, err, "echo"), 0);
    assert_int_equal(p.connections, 10);
    assert_int_equal(bench_params_senders(&p), 10);
    assert_int_equal(p.duration_ms, 10000);
    assert_int_equal(PARSE(&p, err, "fanout"), 0);
    assert_int_equal(p.channels, 1);
    assert_int_equal(bench_params_total_connections(&p), 101); /* 100 subscribers, 1 publisher */
    assert_string_equal(p.namespace_name, "bench");
    assert_string_equal(p.path, "/");
}

static void options_override_defaults(void **state)
{
    (void)state;
    struct bench_params p;
    char err[BENCH_ERROR_BYTES];
    int ret = PARSE(&p, err, "fanout", "--channels", "10", "--subscribers", "1k", "--publishers",
                    "2", "--rate", "5k", "--message-bytes", "1k", "--duration", "30s", "--adapter",
                    "tidegate", "--namespace", "load-1", "--procs", "4", "--threads", "2",
                    "--source-ips", "127.0.0.2-127.0.0.9", "--server-pids", "100,200", "--target",
                    "127.0.0.1:9000", "--json", "out.json", "--label", "nightly");
    assert_int_equal(ret, 0);
    assert_int_equal(bench_params_total_connections(&p), 10 * (1000 + 2));
    assert_int_equal(bench_params_senders(&p), 20);
    assert_true(p.rate_per_s == 5000.0);
    assert_int_equal(p.message_bytes, 1024);
    assert_int_equal(p.adapter, BENCH_ADAPTER_TIDEGATE);
    assert_string_equal(p.namespace_name, "load-1");
    assert_int_equal(p.procs, 4);
    assert_int_equal(p.threads, 2);
    assert_int_equal(p.source_ip_count, 8);
    assert_int_equal(p.server_pid_count, 2);
    assert_int_equal(p.server_pids[1], 200);
    assert_string_equal(p.json_path, "out.json");
    assert_string_equal(p.label, "nightly");
}

/* Parses and expects failure with `needle` in the message. */
static void expect_error(const char *needle, int argc, char **argv)
{
    struct bench_params p;
    char err[BENCH_ERROR_BYTES] = "";
    assert_int_equal(bench_params_parse(&p, argc, argv, err), -1);
    if (strstr(err, needle) == NULL)
        fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}
#define EXPECT_ERROR(needle, ...) expect_error((needle), ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

static void mistakes_are_named_in_the_error(void **state)
{
    (void)state;
    expect_error("give a scenario", 1, (char *[]){"tidegate-bench", NULL});
    EXPECT_ERROR("unknown scenario \"flood\"", "flood");
    EXPECT_ERROR("unknown option --conections", "idle", "--conections", "5");
    EXPECT_ERROR("--duration needs a value", "idle", "--duration");
    EXPECT_ERROR("--duration 10x: expected a duration", "idle", "--duration", "10x");
    EXPECT_ERROR("--connections 0: out of range", "idle", "--connections", "0");
    EXPECT_ERROR("--procs 300", "idle", "--procs", "300");
    EXPECT_ERROR("--adapter http", "idle", "--adapter", "http");
    EXPECT_ERROR("--target localhost:80", "idle", "--target", "localhost:80");
    EXPECT_ERROR("--path ws", "idle", "--path", "ws");
    EXPECT_ERROR("--namespace Bench", "idle", "--namespace", "Bench");
    EXPECT_ERROR("--server-pids 12,x", "idle", "--server-pids", "12,x");
    EXPECT_ERROR("--source-ips 127.0.0.9-127.0.0.2", "idle", "--source-ips", "127.0.0.9-127.0.0.2");
    EXPECT_ERROR("--progress sometimes", "idle", "--progress", "sometimes");
    EXPECT_ERROR("unexpected argument \"5\"", "idle", "5");
}

static void sending_scenarios_check_their_load(void **state)
{
    (void)state;
    EXPECT_ERROR("at least 33 bytes", "echo", "--message-bytes", "32");
    EXPECT_ERROR("needs --rate above 0", "fanout", "--rate", "0");
    EXPECT_ERROR("needs --duration above 0", "echo", "--duration", "0");
    EXPECT_ERROR("fanout needs --channels 1 or more", "fanout", "--channels", "0");
    EXPECT_ERROR("more than a million messages a second per connection", "echo", "--connections",
                 "1", "--rate", "2m");
    EXPECT_ERROR("churn needs --churn-per-s above 0", "churn", "--churn-per-s", "0");
    EXPECT_ERROR("more than 100000000", "fanout", "--channels", "1m", "--subscribers", "1k");
}

static void help_is_recognised_anywhere(void **state)
{
    (void)state;
    struct bench_params p;
    char err[BENCH_ERROR_BYTES];
    assert_int_equal(PARSE(&p, err, "--help"), 0);
    assert_true(p.help);
    assert_int_equal(PARSE(&p, err, "fanout", "--rate", "5", "--help"), 0);
    assert_true(p.help);
}

static void limits_of_the_machine_are_checked_with_advice(void **state)
{
    (void)state;
    struct bench_params p;
    char err[BENCH_ERROR_BYTES];
    assert_int_equal(PARSE(&p, err, "idle", "--connections", "100k"), 0);
    assert_int_equal(bench_params_check_limits(&p, 20000, 28232, err), -1);
    assert_non_null(strstr(err, "use --procs 6 or more"));
    assert_int_equal(PARSE(&p, err, "idle", "--connections", "100k", "--procs", "6"), 0);
    assert_int_equal(bench_params_check_limits(&p, 20000, 28232, err), -1);
    assert_non_null(strstr(err, "give --source-ips with 4 or more addresses"));
    assert_int_equal(PARSE(&p, err, "idle", "--connections", "100k", "--procs", "6", "--source-ips",
                           "127.0.0.2-127.0.0.5"),
                     0);
    assert_int_equal(bench_params_check_limits(&p, 20000, 28232, err), 0);
    assert_int_equal(bench_params_check_limits(&p, 20000, 0, err), 0); /* ports unknown */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counts_sizes_durations_and_rates_take_their_units),
        cmocka_unit_test(malformed_values_are_refused),
        cmocka_unit_test(address_ranges_and_targets),
        cmocka_unit_test(each_scenario_has_its_defaults),
        cmocka_unit_test(options_override_defaults),
        cmocka_unit_test(mistakes_are_named_in_the_error),
        cmocka_unit_test(sending_scenarios_check_their_load),
        cmocka_unit_test(help_is_recognised_anywhere),
        cmocka_unit_test(limits_of_the_machine_are_checked_with_advice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
