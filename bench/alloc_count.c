/* LD_PRELOAD allocation counter: counts every malloc, calloc, realloc, aligned_alloc and
 * posix_memalign call of the process it is loaded into, and writes the totals to stderr on
 * SIGUSR2 as one line: "alloc_count calls=N bytes=B". bench/alloc_per_delivery.py reads it
 * before and after a burst of publishes to show that delivering to N subscribers allocates
 * nothing per subscriber (docs/benchmarks.md).
 *
 * Build: cc -O2 -shared -fPIC -o alloc_count.so bench/alloc_count.c
 * Glibc only: the wrappers forward to glibc's __libc_* entry points.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);

static _Atomic unsigned long long calls, bytes;

static void count(size_t size)
{
    atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&bytes, size, memory_order_relaxed);
}

void *malloc(size_t size)
{
    count(size);
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    count(n * size);
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
    count(size);
    return __libc_realloc(p, size);
}

void *aligned_alloc(size_t align, size_t size)
{
    count(size);
    return __libc_memalign(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
    count(size);
    void *p = __libc_memalign(align, size);
    if (p == NULL)
        return 12; /* ENOMEM */
    *out = p;
    return 0;
}

/* Appends the decimal form of v (async-signal-safe: no stdio). */
static size_t put_u64(char *out, unsigned long long v)
{
    char digits[24];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = digits[n - 1 - i];
    return n;
}

static void report(int sig)
{
    (void)sig;
    char line[96];
    size_t n = 0;
    memcpy(line, "alloc_count calls=", 18);
    n = 18;
    n += put_u64(line + n, atomic_load(&calls));
    memcpy(line + n, " bytes=", 7);
    n += 7;
    n += put_u64(line + n, atomic_load(&bytes));
    line[n++] = '\n';
    (void)!write(2, line, n);
}

__attribute__((constructor)) static void install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = report;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR2, &sa, NULL);
}
