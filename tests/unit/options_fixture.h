/* A cmocka fixture for tests of the gateway's options (gateway/options.h): a struct
 * gw_options with the defaults as the test state, and setting options by name the way a
 * config file line does. Header-only; each test program includes it once. */
#ifndef TIDEGATE_TESTS_OPTIONS_FIXTURE_H
#define TIDEGATE_TESTS_OPTIONS_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "gateway/options.h"

static inline int options_setup(void **state)
{
    struct gw_options *o = calloc(1, sizeof *o);
    char err[CONFIG_ERROR_BYTES];
    assert_non_null(o);
    assert_int_equal(gw_options_defaults(o, err), 0);
    *state = o;
    return 0;
}

static inline int options_teardown(void **state)
{
    gw_options_free(*state);
    free(*state);
    return 0;
}

/* config_set on the gateway's table: 0, or -1 with the sentence in err. */
static inline int options_set(struct gw_options *o, const char *name, const char *value, char *err)
{
    return config_set(gw_option_table, gw_option_count, o, name, value, err);
}

/* Sets an option the test expects to be accepted; fails the test with the sentence if not. */
static inline void options_assert_set(struct gw_options *o, const char *name, const char *value)
{
    char err[CONFIG_ERROR_BYTES] = "";
    if (options_set(o, name, value, err) != 0)
        fail_msg("%s = \"%s\" was refused: %s", name, value, err);
}

#endif
