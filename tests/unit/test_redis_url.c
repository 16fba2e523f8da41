/* redis_url: the forms the redis_url option takes, and the ones it refuses with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "storage/redis_url.h"

static struct redis_url url;
static char err[REDIS_URL_ERROR_BYTES];

static void parses(const char *text)
{
    err[0] = '\0';
    if (redis_url_parse(text, &url, err) != 0)
        fail_msg("%s: %s", text, err);
}

/* Refused, with `reason` in the message and never the password. */
static void refuses(const char *text, const char *reason)
{
    assert_int_equal(redis_url_parse(text, &url, err), -1);
    if (strstr(err, reason) == NULL)
        fail_msg("%s: '%s' does not say '%s'", text, err, reason);
    assert_null(strstr(err, "s3cret"));
}

static void test_tcp_forms(void **state)
{
    (void)state;
    parses("redis://127.0.0.1");
    assert_false(url.unix_socket);
    assert_string_equal(url.address, "127.0.0.1");
    assert_int_equal(url.port, 6379);
    assert_int_equal(url.db, 0);
    assert_string_equal(url.password, "");
    parses("redis://10.1.2.3:7000/5");
    assert_string_equal(url.address, "10.1.2.3");
    assert_int_equal(url.port, 7000);
    assert_int_equal(url.db, 5);
    parses("redis://[::1]:6380");
    assert_string_equal(url.address, "::1");
    assert_int_equal(url.port, 6380);
    parses("redis://[fe80::1]");
    assert_int_equal(url.port, 6379);
    parses("redis://127.0.0.1:6379/");
    assert_int_equal(url.db, 0);
}

static void test_credentials(void **state)
{
    (void)state;
    parses("redis://:s3cret@127.0.0.1:6379");
    assert_string_equal(url.user, "");
    assert_string_equal(url.password, "s3cret");
    parses("redis://app:p%40ss%3Aword@127.0.0.1/2");
    assert_string_equal(url.user, "app");
    assert_string_equal(url.password, "p@ss:word");
    assert_int_equal(url.db, 2);
    /* The last '@' ends the credentials: an unescaped '@' in a password still works. */
    parses("redis://:a@b@127.0.0.1");
    assert_string_equal(url.password, "a@b");
    assert_string_equal(url.address, "127.0.0.1");
}

static void test_unix_forms(void **state)
{
    (void)state;
    parses("unix:/run/redis/redis.sock");
    assert_true(url.unix_socket);
    assert_string_equal(url.path, "/run/redis/redis.sock");
    assert_int_equal(url.db, 0);
    parses("unix:///tmp/r.sock?db=3");
    assert_string_equal(url.path, "/tmp/r.sock");
    assert_int_equal(url.db, 3);
}

static void test_refusals_say_why(void **state)
{
    (void)state;
    refuses("", "empty");
    refuses("redis://localhost:6379", "not a name");
    refuses("redis://redis.internal", "blocking getaddrinfo");
    refuses("rediss://127.0.0.1", "TLS");
    refuses("http://127.0.0.1", "must start with redis://");
    refuses("redis://127.0.0.1:0", "port");
    refuses("redis://127.0.0.1:65536", "port");
    refuses("redis://127.0.0.1:63a9", "port");
    refuses("redis://127.0.0.1/x", "database number");
    refuses("redis://127.0.0.1/1?timeout=3", "query");
    refuses("redis://s3cret@127.0.0.1", "colon before the password");
    refuses("redis://:s3cret%zz@127.0.0.1", "password is malformed");
    refuses("redis://:s3cret%00@127.0.0.1", "password is malformed");
    refuses("redis://:@127.0.0.1", "password is empty");
    refuses("redis://[::1", "not closed");
    refuses("redis://[127.0.0.1]", "not an IPv6 address");
    refuses("redis://:6379", "no address");
    refuses("unix:relative.sock", "absolute path");
    refuses("unix:/tmp/r.sock?database=1", "?db=N");
    char long_path[200] = "unix:/";
    memset(long_path + 6, 'a', 150);
    long_path[156] = '\0';
    refuses(long_path, "longer than 107");
}

static void test_describe_hides_credentials(void **state)
{
    (void)state;
    char text[128];
    parses("redis://app:s3cret@10.0.0.5:6390/4");
    redis_url_describe(&url, text, sizeof text);
    assert_string_equal(text, "10.0.0.5:6390 db=4");
    parses("redis://[::1]");
    redis_url_describe(&url, text, sizeof text);
    assert_string_equal(text, "[::1]:6379 db=0");
    parses("unix:/tmp/r.sock?db=1");
    redis_url_describe(&url, text, sizeof text);
    assert_string_equal(text, "unix:/tmp/r.sock db=1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_forms),
        cmocka_unit_test(test_credentials),
        cmocka_unit_test(test_unix_forms),
        cmocka_unit_test(test_refusals_say_why),
        cmocka_unit_test(test_describe_hides_credentials),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
