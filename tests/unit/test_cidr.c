/* Unit tests for core/cidr: the trusted-source lists operators write, the mistakes they make
 * (each refused with a sentence naming the item), and matching at the edges of each range
 * for IPv4, IPv6 and IPv4-mapped IPv6 peers. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include <cmocka.h>

#include "core/cidr.h"

/* A peer address as accept() reports it: AF_INET for "a.b.c.d", AF_INET6 otherwise. */
static struct sockaddr_storage peer(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, text, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(40000);
    } else {
        assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(40000);
    }
    return ss;
}

static bool trusted(const struct cidr_list *list, const char *text)
{
    struct sockaddr_storage ss = peer(text);
    return cidr_list_contains(list, (struct sockaddr *)&ss);
}

static void format_is(const struct cidr_range *range, const char *want)
{
    char text[CIDR_TEXT_BYTES_MAX];
    size_t len = cidr_range_format(range, text);
    assert_string_equal(text, want);
    assert_int_equal(len, strlen(want));
}

static void a_typical_list_parses_in_its_normal_form(void **state)
{
    (void)state;
    struct cidr_list list;
    char err[CIDR_ERROR_BYTES] = "";
    assert_true(cidr_list_parse("10.0.0.0/8, 192.168.1.10, ::1/128, fd00::/8", &list, err));
    assert_int_equal(list.count, 4);
    format_is(&list.ranges[0], "10.0.0.0/8");
    format_is(&list.ranges[1], "192.168.1.10/32");
    format_is(&list.ranges[2], "::1/128");
    format_is(&list.ranges[3], "fd00::/8");
    assert_true(
        cidr_list_parse(" \t127.0.0.1 ,\t::ffff:10.1.0.0/112 ,0.0.0.0/0,::/0 ", &list, err));
    assert_int_equal(list.count, 4);
    format_is(&list.ranges[0], "127.0.0.1/32");
    format_is(&list.ranges[1], "10.1.0.0/16"); /* a mapped range is the IPv4 range */
    format_is(&list.ranges[2], "0.0.0.0/0");
    format_is(&list.ranges[3], "::/0");
    assert_true(cidr_list_parse("", &list, err));
    assert_int_equal(list.count, 0);
    assert_true(cidr_list_parse("   ", &list, err));
    assert_int_equal(list.count, 0);
}

static void config_list_items_parse_the_same(void **state)
{
    (void)state;
    const char *const items[] = {"203.0.113.0/24", "2001:db8::/32"};
    struct cidr_list list;
    char err[CIDR_ERROR_BYTES] = "";
    assert_true(cidr_list_from_items(items, 2, &list, err));
    assert_int_equal(list.count, 2);
    format_is(&list.ranges[1], "2001:db8::/32");
    assert_true(cidr_list_from_items(NULL, 0, &list, err));
    assert_int_equal(list.count, 0);
    const char *const bad[] = {"203.0.113.0/24", "203.0.113.1/24"};
    assert_false(cidr_list_from_items(bad, 2, &list, err));
    assert_int_equal(list.count, 1);
    assert_non_null(strstr(err, "\"203.0.113.1/24\""));
}

struct bad_item {
    const char *text;
    const char *says; /* a part of the sentence */
};

static void mistakes_are_refused_with_a_sentence_naming_the_item(void **state)
{
    (void)state;
    static const struct bad_item cases[] = {
        {"10.0.0.1/8", "\"10.0.0.1/8\": host bits are set past the /8 prefix (the network is "
                       "10.0.0.0/8)"},
        {"fd00::1/8", "(the network is fd00::/8)"},
        {"10.0.0.0/33", "\"10.0.0.0/33\": the prefix must be a number from 0 to 32 for an IPv4"},
        {"::/129", "from 0 to 128 for an IPv6"},
        {"10.0.0.0/08", "the prefix must be"},
        {"10.0.0.0/", "the prefix must be"},
        {"10.0.0.0/8/8", "the prefix must be"},
        {"10.0.0.0/-1", "the prefix must be"},
        {"10.0.0.0/ 8", "the prefix must be"},
        {"10.0.0.0/1000", "the prefix must be"},
        {"010.0.0.0/8", "\"010.0.0.0/8\": not an IPv4 or IPv6 address"},
        {"10.0.0/8", "not an IPv4 or IPv6 address"},
        {"10.0.0.256", "not an IPv4 or IPv6 address"},
        {"/8", "not an IPv4 or IPv6 address"},
        {"fe80::1%eth0", "not an IPv4 or IPv6 address (numeric only, no zone)"},
        {"localhost", "not an IPv4 or IPv6 address"},
        {"10.0.0.0 /8", "not an IPv4 or IPv6 address"},
        {"[::1]", "not an IPv4 or IPv6 address"},
        {"0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000/8",
         "not an IPv4 or IPv6 address"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct cidr_range range;
        char err[CIDR_ERROR_BYTES] = "";
        if (cidr_range_parse(cases[i].text, strlen(cases[i].text), &range, err))
            fail_msg("\"%s\" was accepted", cases[i].text);
        if (strstr(err, cases[i].says) == NULL)
            fail_msg("\"%s\": said \"%s\", want it to say \"%s\"", cases[i].text, err,
                     cases[i].says);
    }
}

static void list_mistakes_are_refused(void **state)
{
    (void)state;
    struct cidr_list list;
    char err[CIDR_ERROR_BYTES] = "";
    assert_false(cidr_list_parse("10.0.0.0/8,,::1", &list, err));
    assert_string_equal(err, "an empty item in the list of address ranges");
    assert_false(cidr_list_parse("10.0.0.0/8, ", &list, err));
    assert_false(cidr_list_parse(",10.0.0.0/8", &list, err));
    assert_false(cidr_list_parse("10.0.0.0/8 ::1", &list, err));
    char many[CIDR_LIST_MAX * 16 + 32] = "";
    size_t len = 0;
    for (int i = 0; i <= CIDR_LIST_MAX; i++)
        len += (size_t)snprintf(many + len, sizeof many - len, "%s10.0.%d.%d", i ? "," : "",
                                i / 256, i % 256);
    assert_false(cidr_list_parse(many, &list, err));
    assert_string_equal(err, "more than 256 address ranges");
    assert_int_equal(list.count, CIDR_LIST_MAX);
    many[strrchr(many, ',') - many] = '\0'; /* exactly 256 is fine */
    assert_true(cidr_list_parse(many, &list, err));
    assert_int_equal(list.count, CIDR_LIST_MAX);
}

static void ipv4_ranges_match_up_to_their_edges(void **state)
{
    (void)state;
    struct cidr_list list;
    char err[CIDR_ERROR_BYTES] = "";
    assert_true(
        cidr_list_parse("10.0.0.0/8, 192.168.1.10, 172.16.0.0/12, 100.64.0.0/10", &list, err));
    assert_true(trusted(&list, "10.0.0.0"));
    assert_true(trusted(&list, "10.255.255.255"));
    assert_false(trusted(&list, "9.255.255.255"));
    assert_false(trusted(&list, "11.0.0.0"));
    assert_true(trusted(&list, "192.168.1.10"));
    assert_false(trusted(&list, "192.168.1.11"));
    assert_false(trusted(&list, "192.168.1.9"));
    assert_true(trusted(&list, "172.31.255.255"));
    assert_false(trusted(&list, "172.32.0.0"));
    assert_true(trusted(&list, "100.127.0.1")); /* /10: the prefix ends inside a byte */
    assert_false(trusted(&list, "100.128.0.1"));
    assert_false(trusted(&list, "100.63.255.255"));
}

static void ipv4_clients_on_a_dual_stack_socket_match_ipv4_ranges(void **state)
{
    (void)state;
    struct cidr_list list;
    char err[CIDR_ERROR_BYTES] = "";
    assert_true(cidr_list_parse("10.0.0.0/8", &list, err));
    assert_true(trusted(&list, "::ffff:10.1.2.3"));
    assert_false(trusted(&list, "::ffff:11.1.2.3"));
    assert_false(trusted(&list, "::10.1.2.3")); /* IPv4-compatible: not mapped, an IPv6 */
    assert_true(cidr_list_parse("::ffff:10.0.0.0/104", &list, err));
    assert_true(trusted(&list, "10.9.9.9"));
    assert_true(trusted(&list, "::ffff:10.9.9.9"));
    assert_false(trusted(&list, "11.0.0.0"));
}

static void ipv6_ranges_match_only_ipv6_clients(void **state)
{
    (void)state;
    struct cidr_list list;
    char err[CIDR_ERROR_BYTES] = "";
    assert_true(cidr_list_parse("::1/128, fd00::/8, 2001:db8:abcd::/49", &list, err));
    assert_true(trusted(&list, "::1"));
    assert_false(trusted(&list, "::2"));
    assert_true(trusted(&list, "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
    assert_false(trusted(&list, "fc00::1"));
    assert_false(trusted(&list, "fe00::"));
    assert_true(trusted(&list, "2001:db8:abcd:7fff::1"));
    assert_false(trusted(&list, "2001:db8:abcd:8000::1"));
    assert_false(trusted(&list, "127.0.0.1"));
    assert_true(cidr_list_parse("::/0", &list, err));
    assert_true(trusted(&list, "2001:db8::1"));
    assert_false(trusted(&list, "10.0.0.1"));
    assert_false(trusted(&list, "::ffff:10.0.0.1")); /* mapped: an IPv4 client */
    assert_true(cidr_list_parse("0.0.0.0/0, ::/0", &list, err));
    assert_true(trusted(&list, "::ffff:10.0.0.1"));
    assert_true(trusted(&list, "203.0.113.1"));
}

static void an_empty_list_or_a_non_ip_peer_is_never_trusted(void **state)
{
    (void)state;
    struct cidr_list list;
    char err[CIDR_ERROR_BYTES] = "";
    assert_true(cidr_list_parse("", &list, err));
    assert_false(trusted(&list, "127.0.0.1"));
    assert_false(trusted(&list, "::1"));
    assert_true(cidr_list_parse("0.0.0.0/0, ::/0", &list, err));
    struct sockaddr_un un = {.sun_family = AF_UNIX, .sun_path = "/run/tidegate.sock"};
    assert_false(cidr_list_contains(&list, (struct sockaddr *)&un));
    struct cidr_addr addr;
    assert_false(cidr_addr_from_sockaddr((struct sockaddr *)&un, &addr));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_typical_list_parses_in_its_normal_form),
        cmocka_unit_test(config_list_items_parse_the_same),
        cmocka_unit_test(mistakes_are_refused_with_a_sentence_naming_the_item),
        cmocka_unit_test(list_mistakes_are_refused),
        cmocka_unit_test(ipv4_ranges_match_up_to_their_edges),
        cmocka_unit_test(ipv4_clients_on_a_dual_stack_socket_match_ipv4_ranges),
        cmocka_unit_test(ipv6_ranges_match_only_ipv6_clients),
        cmocka_unit_test(an_empty_list_or_a_non_ip_peer_is_never_trusted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
