/* The Redis user status options as an operator sets them (docs/configuration.md): the
 * defaults, the rules gw_options_validate adds (redis_url parses and never echoes its
 * password, redis_key_prefix fits, user_max_connections needs redis_url) and the ranges of
 * the table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/options.h"
#include "options_fixture.h"

/* gw_options_validate refuses with a sentence holding every one of `words` (NULL-ended). */
static void assert_invalid(const struct gw_options *o, const char *const *words)
{
    char err[CONFIG_ERROR_BYTES] = "";
    assert_int_equal(gw_options_validate(o, err), -1);
    for (; *words != NULL; words++)
        if (strstr(err, *words) == NULL)
            fail_msg("\"%s\" should say \"%s\"", err, *words);
}

static void off_by_default(void **state)
{
    struct gw_options *o = *state;
    char err[CONFIG_ERROR_BYTES];
    assert_string_equal(o->redis_url, "");
    assert_string_equal(o->redis_key_prefix, "tidegate:");
    assert_int_equal(o->user_max_connections, 0);
    assert_int_equal(o->user_status_ttl_ms, 30000);
    assert_int_equal(gw_options_validate(o, err), 0);
}

static void the_limit_needs_redis_url(void **state)
{
    struct gw_options *o = *state;
    char err[CONFIG_ERROR_BYTES];
    options_assert_set(o, "user_max_connections", "3");
    assert_invalid(o,
                   (const char *const[]){"user_max_connections = 3", "redis_url is not set", NULL});
    options_assert_set(o, "redis_url", "redis://127.0.0.1:6379/2");
    assert_int_equal(gw_options_validate(o, err), 0);
    options_assert_set(o, "redis_url", "unix:/run/redis/redis.sock?db=1");
    assert_int_equal(gw_options_validate(o, err), 0);
}

static void a_bad_url_is_refused_without_its_password(void **state)
{
    struct gw_options *o = *state;
    options_assert_set(o, "redis_url", "redis://:hunter2@redis.internal:6379");
    assert_invalid(o, (const char *const[]){"bad redis_url", "IP address", NULL});
    char err[CONFIG_ERROR_BYTES] = "";
    assert_int_equal(gw_options_validate(o, err), -1);
    assert_null(strstr(err, "hunter2"));
    options_assert_set(o, "redis_url", "rediss://127.0.0.1");
    assert_invalid(o, (const char *const[]){"bad redis_url", "TLS", NULL});
    options_assert_set(o, "redis_url", "127.0.0.1:6379");
    assert_invalid(o, (const char *const[]){"bad redis_url", "redis://", NULL});
}

static void the_prefix_is_at_most_64_bytes(void **state)
{
    struct gw_options *o = *state;
    char err[CONFIG_ERROR_BYTES];
    char prefix[66];
    memset(prefix, 'p', 64);
    prefix[64] = '\0';
    options_assert_set(o, "redis_key_prefix", prefix);
    assert_int_equal(gw_options_validate(o, err), 0);
    prefix[64] = 'p';
    prefix[65] = '\0';
    options_assert_set(o, "redis_key_prefix", prefix);
    assert_invalid(o, (const char *const[]){"redis_key_prefix is 65 bytes", "at most 64", NULL});
}

static void ranges_of_the_table(void **state)
{
    struct gw_options *o = *state;
    char err[CONFIG_ERROR_BYTES];
    assert_int_equal(options_set(o, "user_status_ttl", "2s", err), -1);
    assert_non_null(strstr(err, "user_status_ttl"));
    options_assert_set(o, "user_status_ttl", "3s");
    assert_int_equal(o->user_status_ttl_ms, 3000);
    assert_int_equal(options_set(o, "user_status_ttl", "2h", err), -1);
    assert_int_equal(options_set(o, "user_max_connections", "1000001", err), -1);
    options_assert_set(o, "user_max_connections", "1000000");
}

#define OPT_TEST(name) cmocka_unit_test_setup_teardown(name, options_setup, options_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        OPT_TEST(off_by_default),
        OPT_TEST(the_limit_needs_redis_url),
        OPT_TEST(a_bad_url_is_refused_without_its_password),
        OPT_TEST(the_prefix_is_at_most_64_bytes),
        OPT_TEST(ranges_of_the_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
