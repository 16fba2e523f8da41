/* libFuzzer target for gateway/auth_keys: the input is one jwt_keys item (`kid:alg:SOURCE`)
 * loaded by gw_auth_load. Sources reach only what the fuzzer cannot harm: a path source is
 * tried only under /nonexistent/ (the read fails cleanly; other paths are skipped), env:
 * names an unset variable or TIDEGATE_FUZZ_HS, base64: goes through the decoder and the key
 * checks.
 *
 * Checked on every input: the load returns 0 with exactly one key, or -1 with a non-empty
 * sentence that starts "jwt_keys item \"" and leaves no key; the item is shown only up to
 * its first "base64:", so an inline key's text is never in the sentence; everything is freed
 * (LeakSanitizer). Seeds: tests/fuzz/corpus/auth_keys/. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/auth_keys.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { FUZZ_ITEM_BYTES_MAX = 4096 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool env_set;
    if (!env_set) {
        setenv("TIDEGATE_FUZZ_HS", "tidegate-fuzz-hs256-secret-0123456789abcdef", 1);
        env_set = true;
    }
    if (size == 0 || size > FUZZ_ITEM_BYTES_MAX || memchr(data, '\0', size) != NULL)
        return 0;
    char item[FUZZ_ITEM_BYTES_MAX + 1];
    memcpy(item, data, size);
    item[size] = '\0';
    /* A path source must not touch the machine's files: only an absent directory. */
    const char *colon1 = strchr(item, ':');
    const char *colon2 = colon1 != NULL ? strchr(colon1 + 1, ':') : NULL;
    if (colon2 != NULL && strncmp(colon2 + 1, "env:", 4) != 0 &&
        strncmp(colon2 + 1, "base64:", 7) != 0 && strncmp(colon2 + 1, "/nonexistent/", 13) != 0)
        return 0;

    char err[CONFIG_ERROR_BYTES];
    struct gw_options o;
    FUZZ_CHECK(gw_options_defaults(&o, err) == 0);
    struct config_list *keys = &o.jwt_keys;
    char **items = malloc(sizeof *items);
    FUZZ_CHECK(items != NULL);
    items[0] = strdup(item);
    FUZZ_CHECK(items[0] != NULL);
    free(keys->items);
    keys->items = items;
    keys->count = 1;

    struct jwt_keyset ks;
    struct jwt_policy policy;
    err[0] = '\0';
    int ret = gw_auth_load(&o, &ks, &policy, err);
    if (ret == 0) {
        FUZZ_CHECK(ks.count == 1);
    } else {
        FUZZ_CHECK(ret == -1 && ks.count == 0);
        FUZZ_CHECK(strncmp(err, "jwt_keys item \"", 15) == 0 && strlen(err) > 16);
        /* The item is shown up to its first "base64:" (then "..."), at most 160 bytes. */
        const char *inline_key = strstr(item, "base64:");
        size_t shown = inline_key != NULL ? (size_t)(inline_key - item) + 7 : size;
        if (shown > 160)
            shown = 160;
        FUZZ_CHECK(strncmp(err + 15, item, shown) == 0);
        FUZZ_CHECK(strncmp(err + 15 + shown, inline_key != NULL ? "...\": " : "\": ",
                           inline_key != NULL ? 6 : 3) == 0);
    }
    jwt_keyset_free(&ks);
    gw_options_free(&o);
    return 0;
}
