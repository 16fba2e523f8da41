/* Outbound queue: see outq.h. Entries come from a slab-grown free list so that steady-state
 * queueing is two pointer writes and a reference increment, with no call into malloc. */
#include "core/outq.h"

#include <assert.h>
#include <stdlib.h>

struct out_chunk *out_chunk_new(size_t len)
{
    if (len > UINT32_MAX - sizeof(struct out_chunk))
        return NULL;
    struct out_chunk *c = malloc(sizeof *c + len);
    if (c == NULL)
        return NULL;
    c->refs = 1;
    c->len = (uint32_t)len;
    return c;
}

void out_chunk_unref(struct out_chunk *c)
{
    assert(c->refs > 0);
    if (--c->refs == 0)
        free(c);
}

void outq_pool_init(struct outq_pool *p)
{
    p->free = NULL;
    p->slabs = NULL;
    p->slab_count = 0;
    p->slab_cap = 0;
    p->entries_total = 0;
}

void outq_pool_destroy(struct outq_pool *p)
{
    for (size_t i = 0; i < p->slab_count; i++)
        free(p->slabs[i]);
    free(p->slabs);
    outq_pool_init(p);
}

static bool outq_pool_grow(struct outq_pool *p)
{
    if (p->slab_count == p->slab_cap) {
        size_t cap = p->slab_cap ? p->slab_cap * 2 : 16;
        void **slabs = realloc(p->slabs, cap * sizeof *slabs);
        if (slabs == NULL)
            return false;
        p->slabs = slabs;
        p->slab_cap = cap;
    }
    struct outq_entry *slab = malloc(OUTQ_SLAB_ENTRIES * sizeof *slab);
    if (slab == NULL)
        return false;
    p->slabs[p->slab_count++] = slab;
    for (size_t i = 0; i < OUTQ_SLAB_ENTRIES; i++) {
        slab[i].next = p->free;
        p->free = &slab[i];
    }
    p->entries_total += OUTQ_SLAB_ENTRIES;
    return true;
}

bool outq_push(struct outq *q, struct outq_pool *p, struct out_chunk *chunk)
{
    assert(chunk->refs > 0);
    if (p->free == NULL && !outq_pool_grow(p))
        return false;
    struct outq_entry *e = p->free;
    p->free = e->next;
    e->next = NULL;
    e->chunk = chunk;
    out_chunk_ref(chunk);
    if (q->tail != NULL)
        q->tail->next = e;
    else
        q->head = e;
    q->tail = e;
    q->chunk_count++;
    q->bytes += chunk->len;
    return true;
}

unsigned outq_iov(const struct outq *q, struct iovec *iov, unsigned iov_max)
{
    unsigned n = 0;
    uint32_t offset = q->head_offset;
    for (const struct outq_entry *e = q->head; e != NULL && n < iov_max; e = e->next) {
        assert(offset <= e->chunk->len);
        iov[n].iov_base = e->chunk->data + offset;
        iov[n].iov_len = e->chunk->len - offset;
        n++;
        offset = 0;
    }
    return n;
}

static void outq_pop(struct outq *q, struct outq_pool *p)
{
    struct outq_entry *e = q->head;
    q->head = e->next;
    if (q->head == NULL)
        q->tail = NULL;
    q->chunk_count--;
    out_chunk_unref(e->chunk);
    e->chunk = NULL;
    e->next = p->free;
    p->free = e;
}

void outq_consume(struct outq *q, struct outq_pool *p, size_t bytes)
{
    assert(bytes <= q->bytes);
    q->bytes -= bytes;
    while (bytes > 0) {
        assert(q->head != NULL);
        uint32_t left = q->head->chunk->len - q->head_offset;
        if (bytes < left) {
            q->head_offset += (uint32_t)bytes;
            return;
        }
        bytes -= left;
        q->head_offset = 0;
        outq_pop(q, p);
    }
    /* Zero-length chunks at the front are finished too. */
    while (q->head != NULL && q->head->chunk->len == 0)
        outq_pop(q, p);
}

void outq_clear(struct outq *q, struct outq_pool *p)
{
    while (q->head != NULL)
        outq_pop(q, p);
    q->head_offset = 0;
    q->bytes = 0;
}
