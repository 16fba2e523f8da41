/* The shared block: see shared.h. */
#include "bench/shared.h"

#include <string.h>
#include <sys/mman.h>

static size_t align_up(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

struct bench_shared *bench_shared_create(const struct bench_params *p)
{
    size_t channels = p->scenario == BENCH_FANOUT ? (size_t)p->channels : 0;
    size_t publishers = p->scenario == BENCH_FANOUT ? (size_t)bench_params_senders(p) : 0;
    size_t head = align_up(sizeof(struct bench_shared));
    size_t subs = align_up(channels * sizeof(_Atomic uint32_t));
    size_t pubs = align_up(publishers * sizeof(_Atomic uint64_t));
    size_t results = (size_t)p->procs * sizeof(struct bench_result);
    size_t total = head + subs + pubs + results;
    void *base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    struct bench_shared *s = base; /* anonymous memory is zeroed */
    s->subs_ready = (_Atomic uint32_t *)((char *)base + head);
    s->published = (_Atomic uint64_t *)((char *)base + head + subs);
    s->results = (struct bench_result *)((char *)base + head + subs + pubs);
    s->mapping_bytes = total;
    atomic_store(&s->phase, PHASE_INIT);
    return s;
}

void bench_shared_destroy(struct bench_shared *s)
{
    if (s != NULL)
        munmap(s, s->mapping_bytes);
}
