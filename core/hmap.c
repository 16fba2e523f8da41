/* Intrusive chained hash table: see hmap.h. */
#include "core/hmap.h"

#include <assert.h>
#include <stdlib.h>

enum { HMAP_INITIAL_BUCKETS = 16 };

void hmap_init(struct hmap *m)
{
    m->buckets = NULL;
    m->mask = 0;
    m->count = 0;
}

void hmap_destroy(struct hmap *m)
{
    free(m->buckets);
    hmap_init(m);
}

static bool hmap_grow(struct hmap *m)
{
    size_t old_size = m->buckets ? m->mask + 1 : 0;
    size_t new_size = old_size ? old_size * 2 : HMAP_INITIAL_BUCKETS;
    struct hmap_node **buckets = calloc(new_size, sizeof *buckets);
    if (buckets == NULL)
        return false;
    for (size_t i = 0; i < old_size; i++) {
        struct hmap_node *n = m->buckets[i];
        while (n != NULL) {
            struct hmap_node *next = n->next;
            size_t b = n->hash & (new_size - 1);
            n->next = buckets[b];
            buckets[b] = n;
            n = next;
        }
    }
    free(m->buckets);
    m->buckets = buckets;
    m->mask = new_size - 1;
    return true;
}

bool hmap_insert(struct hmap *m, struct hmap_node *node, uint64_t hash)
{
    if (m->buckets == NULL || m->count >= m->mask + 1)
        hmap_grow(m); /* on failure the table just runs at a higher load */
    if (m->buckets == NULL)
        return false; /* the very first allocation failed: nothing to insert into */
    node->hash = hash;
    size_t b = hash & m->mask;
    node->next = m->buckets[b];
    m->buckets[b] = node;
    m->count++;
    return true;
}

void hmap_remove(struct hmap *m, struct hmap_node *node)
{
    assert(m->buckets != NULL);
    struct hmap_node **link = &m->buckets[node->hash & m->mask];
    while (*link != node) {
        assert(*link != NULL);
        link = &(*link)->next;
    }
    *link = node->next;
    node->next = NULL;
    m->count--;
}

struct hmap_node *hmap_first(const struct hmap *m, uint64_t hash)
{
    if (m->buckets == NULL)
        return NULL;
    struct hmap_node *n = m->buckets[hash & m->mask];
    while (n != NULL && n->hash != hash)
        n = n->next;
    return n;
}

struct hmap_node *hmap_next(const struct hmap_node *node)
{
    uint64_t hash = node->hash;
    struct hmap_node *n = node->next;
    while (n != NULL && n->hash != hash)
        n = n->next;
    return n;
}
