/* JWT keys as an operator configures them: `jwt_keys = kid:alg:path` items whose files are
 * read at start, `kid:alg:env:NAME` from the environment and `kid:alg:base64:KEY` inline,
 * with the committed test keys (tests/unit/jwt_keys/) and secrets written here; a loaded key set
 * verifies the generated test tokens; every way of getting an item or a file wrong is refused with
 * a sentence naming the option, the item and the reason. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "gateway/auth_keys.h"
#include "jwt_keys/tokens.h"

struct fixture {
    struct gw_options o;
    struct jwt_keyset ks;
    struct jwt_policy policy;
    char dir[64];       /* scratch directory for secrets written by a test */
    char keys_dir[512]; /* tests/unit/jwt_keys */
};

static int fixture_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char err[CONFIG_ERROR_BYTES];
    assert_non_null(f);
    assert_int_equal(gw_options_defaults(&f->o, err), 0);
    snprintf(f->dir, sizeof f->dir, "/tmp/tidegate-auth-keys-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char source[480];
    assert_true(strlen(__FILE__) < sizeof source);
    snprintf(source, sizeof source, "%s", __FILE__); /* absolute: CMake passes full paths */
    snprintf(f->keys_dir, sizeof f->keys_dir, "%s/jwt_keys", dirname(source));
    *state = f;
    return 0;
}

static int fixture_teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int ret = system(cmd);
    jwt_keyset_free(&f->ks);
    gw_options_free(&f->o);
    free(f);
    return ret == 0 ? 0 : -1;
}

/* Writes `len` bytes to DIR/name; returns the path (static buffer per call site is enough:
 * each test copies it into the option at once). */
static const char *write_file(struct fixture *f, const char *name, const void *bytes, size_t len)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    FILE *out = fopen(path, "wb");
    assert_non_null(out);
    assert_int_equal(fwrite(bytes, 1, len, out), len);
    assert_int_equal(fclose(out), 0);
    return path;
}

static void set_keys(struct fixture *f, const char *value)
{
    char err[CONFIG_ERROR_BYTES];
    if (config_set(gw_option_table, gw_option_count, &f->o, "jwt_keys", value, err) != 0)
        fail_msg("jwt_keys = \"%s\": %s", value, err);
}

static int load(struct fixture *f, char *err)
{
    return gw_auth_load(&f->o, &f->ks, &f->policy, err);
}

static void assert_loads(struct fixture *f)
{
    char err[CONFIG_ERROR_BYTES] = "";
    if (load(f, err) != 0)
        fail_msg("jwt_keys did not load: %s", err);
}

/* The load fails with `jwt_keys item "ITEM": ` then `reason` somewhere, and leaves no key. */
static void assert_item_refused(struct fixture *f, const char *item, const char *reason)
{
    char err[CONFIG_ERROR_BYTES] = "", head[512];
    set_keys(f, item);
    assert_int_equal(load(f, err), -1);
    snprintf(head, sizeof head, "jwt_keys item \"%s\": ", item);
    if (strncmp(err, head, strlen(head)) != 0 || strstr(err, reason) == NULL)
        fail_msg("expected \"%s...%s\", got \"%s\"", head, reason, err);
    assert_int_equal(f->ks.count, 0);
}

static enum jwt_error verify(const struct fixture *f, const char *token)
{
    struct jwt_claims *claims = malloc(sizeof *claims);
    assert_non_null(claims);
    enum jwt_error e = jwt_verify(&f->ks, token, strlen(token), &f->policy, JWT_TEST_NOW_S, claims);
    if (e == JWT_OK)
        assert_string_equal(claims->sub, "alice");
    free(claims);
    return e;
}

/* ---- the policy ---- */

static void no_keys_load_as_an_empty_set_with_the_default_policy(void **state)
{
    struct fixture *f = *state;
    assert_loads(f);
    assert_int_equal(f->ks.count, 0);
    assert_string_equal(f->policy.audience, "");
    assert_string_equal(f->policy.issuer, "");
    assert_int_equal(f->policy.leeway_s, 30);
    assert_true(f->policy.require_exp);
    assert_int_equal(f->policy.token_bytes_max, 4096);
    assert_int_equal(verify(f, JWT_TOKEN_HS256_VALID), JWT_ERR_NO_KEY);
}

static void the_policy_follows_the_options(void **state)
{
    struct fixture *f = *state;
    char err[CONFIG_ERROR_BYTES];
    assert_int_equal(config_set(gw_option_table, gw_option_count, &f->o, "jwt_audience",
                                "chat.example.com", err),
                     0);
    assert_int_equal(config_set(gw_option_table, gw_option_count, &f->o, "jwt_issuer",
                                "https://auth.example.com", err),
                     0);
    assert_int_equal(
        config_set(gw_option_table, gw_option_count, &f->o, "jwt_leeway", "2999ms", err), 0);
    assert_int_equal(
        config_set(gw_option_table, gw_option_count, &f->o, "max_token_bytes", "8k", err), 0);
    assert_loads(f);
    assert_string_equal(f->policy.audience, "chat.example.com");
    assert_string_equal(f->policy.issuer, "https://auth.example.com");
    assert_int_equal(f->policy.leeway_s, 2); /* whole seconds, rounded down */
    assert_int_equal(f->policy.token_bytes_max, 8192);
    assert_true(f->policy.require_exp);
}

/* ---- HMAC secrets ---- */

static void an_hmac_secret_file_verifies_tokens_signed_with_it(void **state)
{
    struct fixture *f = *state;
    const char *secret = JWT_TEST_HS_SECRET;
    const char *path = write_file(f, "hs.key", secret, strlen(secret));
    char item[512];
    snprintf(item, sizeof item, ":hs256:%s", path);
    set_keys(f, item);
    assert_loads(f);
    assert_int_equal(f->ks.count, 1);
    assert_string_equal(f->ks.keys[0].kid, "");
    assert_int_equal(f->ks.keys[0].alg, JWT_ALG_HS256);
    assert_int_equal(verify(f, JWT_TOKEN_HS256_VALID), JWT_OK);
    assert_int_equal(verify(f, JWT_TOKEN_HS256_PAYLOAD_TAMPERED), JWT_ERR_BAD_SIGNATURE);
}

/* Editors and `echo` end a text file with a line break the signing backend does not have. */
static void one_line_break_ending_a_text_secret_is_dropped(void **state)
{
    struct fixture *f = *state;
    const char *endings[] = {"\n", "\r\n"};
    for (size_t i = 0; i < 2; i++) {
        char text[128], item[512];
        snprintf(text, sizeof text, "%s%s", JWT_TEST_HS_SECRET, endings[i]);
        const char *path = write_file(f, "hs.key", text, strlen(text));
        snprintf(item, sizeof item, "main:HS256:%s", path);
        set_keys(f, item);
        assert_loads(f);
        assert_int_equal(f->ks.keys[0].material_len, strlen(JWT_TEST_HS_SECRET));
        assert_int_equal(verify(f, JWT_TOKEN_HS256_VALID), JWT_OK);
        jwt_keyset_free(&f->ks);
    }
    /* two lines are not a one-line text secret: every byte counts, and it does not verify */
    char text[128], item[512];
    snprintf(text, sizeof text, "%s\n\n", JWT_TEST_HS_SECRET);
    const char *path = write_file(f, "hs.key", text, strlen(text));
    snprintf(item, sizeof item, "main:hs256:%s", path);
    set_keys(f, item);
    assert_loads(f);
    assert_int_equal(f->ks.keys[0].material_len, strlen(JWT_TEST_HS_SECRET) + 2);
    assert_int_equal(verify(f, JWT_TOKEN_HS256_VALID), JWT_ERR_BAD_SIGNATURE);
}

/* A binary secret (head -c 32 /dev/urandom) may end in 0x0a by chance: every byte counts. */
static void a_binary_secret_is_used_byte_for_byte(void **state)
{
    struct fixture *f = *state;
    uint8_t secret[40];
    for (size_t i = 0; i < sizeof secret; i++)
        secret[i] = (uint8_t)(i * 37 + 1);
    secret[5] = 0x00;
    secret[sizeof secret - 1] = '\n';
    char item[512];
    snprintf(item, sizeof item, "bin:hs256:%s", write_file(f, "bin.key", secret, sizeof secret));
    set_keys(f, item);
    assert_loads(f);
    assert_int_equal(f->ks.keys[0].material_len, sizeof secret);
    assert_memory_equal(f->ks.keys[0].material, secret, sizeof secret);
}

static void secrets_shorter_than_32_or_longer_than_512_bytes_are_refused(void **state)
{
    struct fixture *f = *state;
    char item[512], big[515];
    const char *path = write_file(f, "short.key", "0123456789012345678901234567890\n", 32);
    snprintf(item, sizeof item, "s:hs256:%s", path);
    assert_item_refused(f, item, "the secret has 31 bytes; it needs 32 to 512");
    memset(big, 'x', sizeof big);
    path = write_file(f, "big.key", big, sizeof big);
    snprintf(item, sizeof item, "b:hs256:%s", path);
    char reason[320];
    snprintf(reason, sizeof reason, "%s is larger than 514 bytes", path);
    assert_item_refused(f, item, reason);
    path = write_file(f, "big.key", big, 514); /* 514 printable bytes: no line break to drop */
    assert_item_refused(f, item, "the secret has 514 bytes; it needs 32 to 512");
    big[512] = '\r';
    big[513] = '\n';
    write_file(f, "big.key", big, 514); /* 512 and a CRLF: the largest secret */
    assert_loads(f);
    assert_int_equal(f->ks.keys[0].material_len, 512);
}

/* ---- public keys ---- */

static void pem_public_keys_verify_rs256_and_es256_tokens(void **state)
{
    struct fixture *f = *state;
    char value[2048];
    snprintf(value, sizeof value,
             "rsa-1:rs256:%s/rsa_public.pem, ec-1:es256:%s/ec_public.pem, :rs256:%s/"
             "rsa_public.pem",
             f->keys_dir, f->keys_dir, f->keys_dir);
    set_keys(f, value);
    assert_loads(f);
    assert_int_equal(f->ks.count, 3);
    assert_string_equal(f->ks.keys[0].kid, "rsa-1");
    assert_int_equal(f->ks.keys[0].alg, JWT_ALG_RS256);
    assert_string_equal(f->ks.keys[1].kid, "ec-1");
    assert_int_equal(f->ks.keys[1].alg, JWT_ALG_ES256);
    assert_string_equal(f->ks.keys[2].kid, "");
    assert_int_equal(verify(f, JWT_TOKEN_RS256_VALID), JWT_OK);
    assert_int_equal(verify(f, JWT_TOKEN_ES256_VALID), JWT_OK);
    assert_int_equal(verify(f, JWT_TOKEN_RS256_NO_KID), JWT_OK);
    assert_int_equal(verify(f, JWT_TOKEN_ES256_PAYLOAD_TAMPERED), JWT_ERR_BAD_SIGNATURE);
    /* keys are bound to their algorithm: the RSA key's bytes never check an HS256 token */
    assert_int_equal(verify(f, JWT_TOKEN_HS256_CONFUSION_KID), JWT_ERR_ALG_MISMATCH);
}

static void unsuitable_pem_files_are_refused_with_the_reason(void **state)
{
    struct fixture *f = *state;
    char item[700];
    snprintf(item, sizeof item, "p:rs256:%s/rsa_private.pem", f->keys_dir);
    assert_item_refused(f, item, "RS256 key p: no \"BEGIN PUBLIC KEY\" block found");
    snprintf(item, sizeof item, "r:rs256:%s/rsa1024_public.pem", f->keys_dir);
    assert_item_refused(f, item, "RS256 key r: the RSA key has 1024 bits; 2048 to 4096");
    snprintf(item, sizeof item, "e:es256:%s/ec384_public.pem", f->keys_dir);
    assert_item_refused(f, item, "ES256 key e: the EC key is not on curve P-256");
    snprintf(item, sizeof item, "e:es256:%s/rsa_public.pem", f->keys_dir);
    assert_item_refused(f, item, "ES256 key e: the key is not an EC public key");
    snprintf(item, sizeof item, "h:hs256:%s/make_tokens.py", f->keys_dir); /* > 514 bytes */
    assert_item_refused(f, item, "make_tokens.py is larger than 514 bytes");
}

/* ---- items and files that are wrong ---- */

static void items_not_of_the_form_kid_alg_path_are_refused(void **state)
{
    struct fixture *f = *state;
    assert_item_refused(f, "main",
                        "expected kid:alg:path, kid:alg:env:VARIABLE or kid:alg:base64:KEY, e.g. "
                        "main:hs256:/etc/tidegate/jwt.key");
    assert_item_refused(f, "main:hs256", "expected kid:alg:path");
    assert_item_refused(f, "main:hs512:/etc/k",
                        "the algorithm \"hs512\" is not one of hs256, rs256, es256");
    assert_item_refused(f, "main::/etc/k", "the algorithm \"\" is not one of hs256, rs256, es256");
    assert_item_refused(f, "main:none:/etc/k", "the algorithm \"none\" is not one of");
    assert_item_refused(f, "main:hs256:", "the path of the key file is missing");
    char item[200];
    snprintf(item, sizeof item, "%065d:hs256:/etc/k", 7);
    assert_item_refused(f, item, "the kid is 65 bytes long; at most 64 are allowed");
}

static void a_kid_the_key_set_refuses_is_reported_with_the_item(void **state)
{
    struct fixture *f = *state;
    const char *path = write_file(f, "hs.key", JWT_TEST_HS_SECRET, strlen(JWT_TEST_HS_SECRET));
    char value[1200], item[600];
    snprintf(item, sizeof item, "a:hs256:%s", path);
    snprintf(value, sizeof value, "%s,%s", item, item);
    set_keys(f, value);
    char err[CONFIG_ERROR_BYTES];
    assert_int_equal(load(f, err), -1);
    char expected[1024];
    snprintf(expected, sizeof expected,
             "jwt_keys item \"%s\": %s: HS256 key a: the key id is configured twice", item, path);
    assert_string_equal(err, expected);
    assert_int_equal(f->ks.count, 0); /* the first key is wiped too */
    snprintf(item, sizeof item, "\x01:hs256:%s", path);
    assert_item_refused(f, item, "a key id is printable ASCII without spaces");
}

/* The base64 body of a PEM file (its DER, standard alphabet), in out. */
static void pem_body(const struct fixture *f, const char *name, char *out, size_t cap)
{
    char path[600], line[256];
    snprintf(path, sizeof path, "%s/%s", f->keys_dir, name);
    FILE *in = fopen(path, "r");
    assert_non_null(in);
    size_t len = 0;
    while (fgets(line, sizeof line, in) != NULL) {
        if (strncmp(line, "-----", 5) == 0)
            continue;
        size_t n = strcspn(line, "\r\n");
        assert_true(len + n < cap);
        memcpy(out + len, line, n);
        len += n;
    }
    fclose(in);
    out[len] = '\0';
}

static void keys_from_the_environment_verify_tokens(void **state)
{
    struct fixture *f = *state;
    char pem[4096], path[600];
    snprintf(path, sizeof path, "%s/ec_public.pem", f->keys_dir);
    FILE *in = fopen(path, "r");
    assert_non_null(in);
    size_t len = fread(pem, 1, sizeof pem - 1, in);
    fclose(in);
    pem[len] = '\0';
    assert_int_equal(setenv("TIDEGATE_TEST_HS", JWT_TEST_HS_SECRET, 1), 0);
    assert_int_equal(setenv("TIDEGATE_TEST_EC", pem, 1), 0);
    set_keys(f, ":hs256:env:TIDEGATE_TEST_HS, ec-1:es256:env:TIDEGATE_TEST_EC");
    assert_loads(f);
    assert_int_equal(f->ks.count, 2);
    assert_int_equal(verify(f, JWT_TOKEN_HS256_VALID), JWT_OK);
    assert_int_equal(verify(f, JWT_TOKEN_ES256_VALID), JWT_OK);
    jwt_keyset_free(&f->ks);
    /* a variable's bytes are the secret as they are: a trailing line break is part of it */
    assert_int_equal(setenv("TIDEGATE_TEST_HS", JWT_TEST_HS_SECRET "\n", 1), 0);
    set_keys(f, ":hs256:env:TIDEGATE_TEST_HS");
    assert_loads(f);
    assert_int_equal(verify(f, JWT_TOKEN_HS256_VALID), JWT_ERR_BAD_SIGNATURE);
    jwt_keyset_free(&f->ks);
    assert_int_equal(unsetenv("TIDEGATE_TEST_HS"), 0);
    assert_item_refused(f, "k:hs256:env:TIDEGATE_TEST_HS",
                        "the environment variable TIDEGATE_TEST_HS is not set");
    assert_int_equal(setenv("TIDEGATE_TEST_HS", "", 1), 0);
    assert_item_refused(f, "k:hs256:env:TIDEGATE_TEST_HS", "holds 0 bytes; expected 1 to");
    assert_item_refused(f, "k:hs256:env:", "env: needs the name of an environment variable");
    assert_item_refused(f, "k:hs256:env:9X", "env: needs the name of an environment variable");
    assert_item_refused(f, "k:hs256:env:A-B", "env: needs the name of an environment variable");
    assert_int_equal(setenv("TIDEGATE_TEST_EC", "not a key", 1), 0);
    assert_item_refused(f, "k:es256:env:TIDEGATE_TEST_EC",
                        "environment variable TIDEGATE_TEST_EC: ES256 key k: no \"BEGIN PUBLIC "
                        "KEY\" block found");
    unsetenv("TIDEGATE_TEST_HS");
    unsetenv("TIDEGATE_TEST_EC");
}

static void inline_base64_keys_verify_tokens(void **state)
{
    struct fixture *f = *state;
    char rsa[2048], ec[512], value[4096];
    pem_body(f, "rsa_public.pem", rsa, sizeof rsa);
    pem_body(f, "ec_public.pem", ec, sizeof ec);
    /* the EC key in the URL-safe alphabet without padding: both are accepted */
    for (char *p = ec; *p != '\0'; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    ec[strcspn(ec, "=")] = '\0';
    /* base64 of JWT_TEST_HS_SECRET */
    snprintf(value, sizeof value,
             ":hs256:base64:dGlkZWdhdGUtdGVzdC1oczI1Ni1zZWNyZXQtMDEyMzQ1Njc4OQ==, "
             "rsa-1:rs256:base64:%s, ec-1:es256:base64:%s",
             rsa, ec);
    set_keys(f, value);
    assert_loads(f);
    assert_int_equal(f->ks.count, 3);
    assert_int_equal(verify(f, JWT_TOKEN_HS256_VALID), JWT_OK);
    assert_int_equal(verify(f, JWT_TOKEN_RS256_VALID), JWT_OK);
    assert_int_equal(verify(f, JWT_TOKEN_ES256_VALID), JWT_OK);
    assert_int_equal(verify(f, JWT_TOKEN_HS256_CONFUSION_KID), JWT_ERR_ALG_MISMATCH);
}

static void bad_inline_keys_are_refused_without_showing_them(void **state)
{
    struct fixture *f = *state;
    char err[CONFIG_ERROR_BYTES];
    const char *items[][2] = {
        {"s:hs256:base64:c2VjcmV0*c2VjcmV0", "base64: is not valid base64"},
        {"s:hs256:base64:", "base64: is followed by nothing"},
        {"s:hs256:base64:c2hvcnQ", "HS256 key s:"}, /* "short": below the minimum length */
        {"s:rs256:base64:c2VjcmV0c2VjcmV0", "RS256 key s:"},
        {"s:es256:base64:c2VjcmV0 c2VjcmV0", "base64: is not valid base64"},
    };
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        set_keys(f, items[i][0]);
        assert_int_equal(load(f, err), -1);
        if (strncmp(err, "jwt_keys item \"s:", 17) != 0 || strstr(err, items[i][1]) == NULL)
            fail_msg("%s: got \"%s\"", items[i][0], err);
        const char *key = strstr(items[i][0], "base64:") + 7;
        if (key[0] != '\0' && strstr(err, key) != NULL)
            fail_msg("the error shows the inline key: %s", err);
        assert_non_null(strstr(err, "base64:...\""));
        assert_int_equal(f->ks.count, 0);
    }
}

static void missing_unreadable_empty_and_special_files_are_refused(void **state)
{
    struct fixture *f = *state;
    char item[512], reason[400];
    snprintf(item, sizeof item, "m:hs256:%s/missing.key", f->dir);
    snprintf(reason, sizeof reason, "cannot open %s/missing.key: %s", f->dir, strerror(ENOENT));
    assert_item_refused(f, item, reason);
    snprintf(item, sizeof item, "d:es256:%s", f->dir);
    snprintf(reason, sizeof reason, "%s is not a regular file", f->dir);
    assert_item_refused(f, item, reason);
    const char *path = write_file(f, "empty.key", "", 0);
    snprintf(item, sizeof item, "e:hs256:%s", path);
    snprintf(reason, sizeof reason, "%s is empty", path);
    assert_item_refused(f, item, reason);
    /* a FIFO would block a plain open() until a writer came: refused at once instead */
    char fifo[256];
    snprintf(fifo, sizeof fifo, "%s/fifo.key", f->dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    snprintf(item, sizeof item, "f:hs256:%s", fifo);
    snprintf(reason, sizeof reason, "%s is not a regular file", fifo);
    assert_item_refused(f, item, reason);
    if (geteuid() != 0) { /* root reads anything */
        path = write_file(f, "locked.key", JWT_TEST_HS_SECRET, strlen(JWT_TEST_HS_SECRET));
        assert_int_equal(chmod(path, 0), 0);
        snprintf(item, sizeof item, "l:hs256:%s", path);
        snprintf(reason, sizeof reason, "cannot open %s: %s", path, strerror(EACCES));
        assert_item_refused(f, item, reason);
    }
}

static void more_than_16_keys_are_refused(void **state)
{
    struct fixture *f = *state;
    char value[4096];
    size_t n = 0;
    for (int i = 0; i < 17; i++)
        n += (size_t)snprintf(value + n, sizeof value - n, "%sk%d:hs256:/nonexistent", i ? "," : "",
                              i);
    set_keys(f, value);
    char err[CONFIG_ERROR_BYTES];
    assert_int_equal(load(f, err), -1);
    assert_string_equal(err, "jwt_keys: 17 keys; at most 16 are allowed");
    assert_int_equal(gw_options_validate(&f->o, err), -1);
    assert_string_equal(err, "jwt_keys: 17 keys; at most 16 are allowed");
}

#define AUTH_TEST(name) cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        AUTH_TEST(no_keys_load_as_an_empty_set_with_the_default_policy),
        AUTH_TEST(the_policy_follows_the_options),
        AUTH_TEST(an_hmac_secret_file_verifies_tokens_signed_with_it),
        AUTH_TEST(one_line_break_ending_a_text_secret_is_dropped),
        AUTH_TEST(a_binary_secret_is_used_byte_for_byte),
        AUTH_TEST(secrets_shorter_than_32_or_longer_than_512_bytes_are_refused),
        AUTH_TEST(pem_public_keys_verify_rs256_and_es256_tokens),
        AUTH_TEST(unsuitable_pem_files_are_refused_with_the_reason),
        AUTH_TEST(items_not_of_the_form_kid_alg_path_are_refused),
        AUTH_TEST(a_kid_the_key_set_refuses_is_reported_with_the_item),
        AUTH_TEST(missing_unreadable_empty_and_special_files_are_refused),
        AUTH_TEST(keys_from_the_environment_verify_tokens),
        AUTH_TEST(inline_base64_keys_verify_tokens),
        AUTH_TEST(bad_inline_keys_are_refused_without_showing_them),
        AUTH_TEST(more_than_16_keys_are_refused),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    jwt_thread_exit();
    return failed;
}
