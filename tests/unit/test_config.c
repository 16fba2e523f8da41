/* Config tables: files with comments, CRLF, quotes and their limits; flags; --help; and
 * custom rows (PREFIX.KEY settings) through files, flags, --help, printing and freeing.
 * What each value type accepts is test_config_value.c's. */
#include <errno.h>

#include "config_harness.h"

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

/* ---- custom rows ---- */

/* A custom row for the tests: `tag.KEY = value` keeps up to four pairs; "bad" is refused. */
struct tags {
    size_t count;
    char keys[4][48];
    char values[4][48];
    unsigned resets, frees;
};

struct tagged {
    uint64_t workers;
    struct tags tags;
};

static int tags_reset(void *field, char *err)
{
    struct tags *t = field;
    (void)err;
    t->count = 0;
    t->resets++;
    return 0;
}

static int tags_set(void *field, const char *prefix, const char *key, const char *value, char *err)
{
    struct tags *t = field;
    size_t i = 0;
    while (i < t->count && strcmp(t->keys[i], key) != 0)
        i++;
    if (strcmp(value, "bad") == 0 || strlen(key) >= 48 || strlen(value) >= 48 || i == 4) {
        snprintf(err, CONFIG_ERROR_BYTES, "%s.%s = \"%s\": refused by the test row", prefix, key,
                 value);
        return -1;
    }
    snprintf(t->keys[i], sizeof t->keys[i], "%s", key);
    snprintf(t->values[i], sizeof t->values[i], "%s", value);
    t->count += i == t->count;
    return 0;
}

static bool tags_key_is_bool(const char *key)
{
    size_t len = strlen(key);
    return len >= 3 && strcmp(key + len - 3, ".on") == 0;
}

static void tags_print(FILE *out, const char *prefix, const void *field)
{
    const struct tags *t = field;
    for (size_t i = 0; i < t->count; i++)
        fprintf(out, "%s.%s = %s\n", prefix, t->keys[i], t->values[i]);
}

static void tags_free(void *field)
{
    struct tags *t = field;
    t->count = 0;
    t->frees++;
}

static const struct config_custom tags_custom = {
    tags_reset, tags_set, tags_key_is_bool, tags_print, tags_free, "NAME", "any text but bad",
};

static const struct config_option tagged_table[] = {
    {"workers", CONFIG_UINT, offsetof(struct tagged, workers), "4", 1, 64, NULL, "Workers."},
    {"tag", CONFIG_CUSTOM, offsetof(struct tagged, tags), NULL, 0, 0, NULL, "A labelled tag.",
     &tags_custom},
};
enum { TAGGED_COUNT = sizeof tagged_table / sizeof tagged_table[0] };

static void tagged_defaults(struct tagged *t)
{
    char err[CONFIG_ERROR_BYTES];
    memset(t, 0, sizeof *t);
    assert_int_equal(config_defaults(tagged_table, TAGGED_COUNT, t, err), 0);
    assert_int_equal(t->tags.resets, 1);
    assert_int_equal(t->workers, 4);
}

static void assert_tag(const struct tagged *t, size_t i, const char *key, const char *value)
{
    assert_true(i < t->tags.count);
    assert_string_equal(t->tags.keys[i], key);
    assert_string_equal(t->tags.values[i], value);
}

static void a_custom_row_takes_every_name_under_its_prefix(void **state)
{
    (void)state;
    struct tagged t;
    char err[CONFIG_ERROR_BYTES];
    tagged_defaults(&t);
    assert_int_equal(config_set(tagged_table, TAGGED_COUNT, &t, "tag.a", "1", err), 0);
    assert_int_equal(config_set(tagged_table, TAGGED_COUNT, &t, "tag.b.c", "x y", err), 0);
    assert_int_equal(config_set(tagged_table, TAGGED_COUNT, &t, "tag.a", "2", err), 0);
    assert_int_equal(t.tags.count, 2);
    assert_tag(&t, 0, "a", "2");
    assert_tag(&t, 1, "b.c", "x y");
    /* the callback's own sentence comes back whole, and the row is unchanged */
    assert_int_equal(config_set(tagged_table, TAGGED_COUNT, &t, "tag.a", "bad", err), -1);
    assert_string_equal(err, "tag.a = \"bad\": refused by the test row");
    assert_tag(&t, 0, "a", "2");
    /* the prefix alone, or with an empty key, is refused by the generic layer */
    assert_int_equal(config_set(tagged_table, TAGGED_COUNT, &t, "tag", "1", err), -1);
    assert_string_equal(err,
                        "tag = \"1\": the option name lacks its key; expected tag.NAME = value");
    assert_int_equal(config_set(tagged_table, TAGGED_COUNT, &t, "tag.", "1", err), -1);
    assert_string_equal(err,
                        "tag = \"1\": the option name lacks its key; expected tag.NAME = value");
    /* a longer word that starts with the prefix is another option */
    assert_int_equal(config_set(tagged_table, TAGGED_COUNT, &t, "tagx.a", "1", err), -1);
    assert_string_equal(err, "tagx.a: unknown option; see --help");
    char long_name[200];
    memset(long_name, 'k', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    memcpy(long_name, "tag.", 4);
    assert_int_equal(config_set(tagged_table, TAGGED_COUNT, &t, long_name, "1", err), -1);
    assert_non_null(strstr(err, "option name longer than 127 bytes"));
    assert_int_equal(t.tags.count, 2);
    config_free(tagged_table, TAGGED_COUNT, &t);
    assert_int_equal(t.tags.frees, 1);
    assert_int_equal(t.tags.count, 0);
}

static void a_custom_row_loads_from_a_file_and_prints_back(void **state)
{
    (void)state;
    struct tagged t, back;
    char err[CONFIG_ERROR_BYTES], path[64];
    tagged_defaults(&t);
    int fd = memfd_create("tidegate-test-tags", MFD_CLOEXEC);
    const char text[] = "workers = 9\ntag.x = one\n# comment\ntag.y.z = \"two words\"\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    assert_int_equal(config_load_file(tagged_table, TAGGED_COUNT, &t, path, err), 0);
    assert_int_equal(t.workers, 9);
    assert_tag(&t, 0, "x", "one");
    assert_tag(&t, 1, "y.z", "two words");
    char *printed = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&printed, &len);
    config_print_values(out, tagged_table, TAGGED_COUNT, &t);
    assert_int_equal(fclose(out), 0);
    assert_string_equal(printed, "workers = 9\ntag.x = one\ntag.y.z = two words\n");
    free(printed);
    const char wrong[] = "tag.x = bad\n";
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(pwrite(fd, wrong, strlen(wrong), 0), (ssize_t)strlen(wrong));
    tagged_defaults(&back);
    assert_int_equal(config_load_file(tagged_table, TAGGED_COUNT, &back, path, err), -1);
    assert_load_error(path, err, 1, "tag.x = \"bad\": refused by the test row");
    assert_int_equal(close(fd), 0);
}

static void custom_flags_keep_the_key_and_take_dashes_in_its_last_part(void **state)
{
    (void)state;
    struct tagged t;
    char err[CONFIG_ERROR_BYTES];
    tagged_defaults(&t);
    const struct config_option *row = &tagged_table[1];
    assert_ptr_equal(config_find_flag(tagged_table, TAGGED_COUNT, "--tag.a"), row);
    assert_ptr_equal(config_find_flag(tagged_table, TAGGED_COUNT, "--tag.team_1.max-items=3"), row);
    assert_ptr_equal(config_find_flag(tagged_table, TAGGED_COUNT, "--tag"), row); /* refused */
    assert_null(config_find_flag(tagged_table, TAGGED_COUNT, "--tag_x.a"));
    assert_null(config_find_flag(tagged_table, TAGGED_COUNT, "--ta-g.a"));
    assert_true(config_flag_takes_bool(row, "--tag.room.on"));
    assert_false(config_flag_takes_bool(row, "--tag.room"));
    assert_false(config_flag_takes_bool(row, "--tag."));
    assert_false(config_flag_takes_bool(&tagged_table[0], "--workers"));
    assert_int_equal(
        config_set_flag(tagged_table, TAGGED_COUNT, &t, "--tag.team-1.max-items=9", "3", err), 0);
    assert_int_equal(
        config_set_flag(tagged_table, TAGGED_COUNT, &t, "--tag.team_1.max_items", "4", err), 0);
    assert_int_equal(config_set_flag(tagged_table, TAGGED_COUNT, &t, "--tag.lone-name", "5", err),
                     0);
    assert_int_equal(config_set_flag(tagged_table, TAGGED_COUNT, &t, "--workers", "7", err), 0);
    assert_tag(&t, 0, "team-1.max_items", "3"); /* the name verbatim, the option in file form */
    assert_tag(&t, 1, "team_1.max_items", "4");
    assert_tag(&t, 2, "lone-name", "5"); /* a key of one part is all name */
    assert_int_equal(t.workers, 7);
    assert_int_equal(config_set_flag(tagged_table, TAGGED_COUNT, &t, "--max_workers=2", "2", err),
                     -1);
    assert_string_equal(err, "--max_workers: unknown option; see --help");
    assert_int_equal(config_set_flag(tagged_table, TAGGED_COUNT, &t, "--tag", "1", err), -1);
    assert_string_equal(err,
                        "tag = \"1\": the option name lacks its key; expected tag.NAME = value");
    assert_int_equal(config_set_flag(tagged_table, TAGGED_COUNT, &t, "--tag.x", "bad", err), -1);
    assert_string_equal(err, "tag.x = \"bad\": refused by the test row");
    config_free(tagged_table, TAGGED_COUNT, &t);
}

static void help_shows_a_custom_row_as_its_pattern(void **state)
{
    (void)state;
    char *text = help_text(tagged_table, TAGGED_COUNT);
    assert_non_null(strstr(text, "  --workers N        Workers. (default 4, 1..64)\n"));
    assert_non_null(strstr(text, "  --tag.NAME VALUE   A labelled tag. (any text but bad)\n"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
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
        cmocka_unit_test(a_custom_row_takes_every_name_under_its_prefix),
        cmocka_unit_test(a_custom_row_loads_from_a_file_and_prints_back),
        cmocka_unit_test(custom_flags_keep_the_key_and_take_dashes_in_its_last_part),
        cmocka_unit_test(help_shows_a_custom_row_as_its_pattern),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
