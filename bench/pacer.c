/* Binary min-heap of due times: see pacer.h. */
#include "bench/pacer.h"

#include <assert.h>
#include <stdlib.h>

bool pacer_init(struct pacer *p, uint32_t cap)
{
    p->heap = calloc(cap > 0 ? cap : 1, sizeof *p->heap);
    p->count = 0;
    p->cap = cap;
    return p->heap != NULL;
}

void pacer_destroy(struct pacer *p)
{
    free(p->heap);
    p->heap = NULL;
    p->count = p->cap = 0;
}

void pacer_push(struct pacer *p, uint64_t due_ns, uint32_t conn)
{
    assert(p->count < p->cap);
    uint32_t i = p->count++;
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (p->heap[parent].due_ns <= due_ns)
            break;
        p->heap[i] = p->heap[parent];
        i = parent;
    }
    p->heap[i] = (struct pacer_entry){due_ns, conn};
}

bool pacer_pop(struct pacer *p, struct pacer_entry *out)
{
    if (p->count == 0)
        return false;
    *out = p->heap[0];
    struct pacer_entry last = p->heap[--p->count];
    uint32_t i = 0;
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= p->count)
            break;
        if (child + 1 < p->count && p->heap[child + 1].due_ns < p->heap[child].due_ns)
            child++;
        if (last.due_ns <= p->heap[child].due_ns)
            break;
        p->heap[i] = p->heap[child];
        i = child;
    }
    if (p->count > 0)
        p->heap[i] = last;
    return true;
}
