/* What every fuzz target checks its contract with: FUZZ_CHECK(cond) prints the failed
 * condition with its place and aborts, so libFuzzer keeps the input. Not assert(): release
 * builds define NDEBUG, and a fuzz check must never be compiled out. */
#ifndef TIDEGATE_TESTS_FUZZ_CHECK_H
#define TIDEGATE_TESTS_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
