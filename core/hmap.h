/* Intrusive chained hash table keyed by a 64-bit hash the caller computes (xxh3 of a name).
 *
 * The table stores nodes embedded in the caller's structs and never compares keys itself:
 * hmap_first/hmap_next walk the nodes with a given hash and the caller checks its own key.
 * It grows by doubling when the load passes 1 (never shrinks, so a walk stays cheap and
 * removal never allocates). Single-threaded; one table per owner.
 */
#ifndef TIDEGATE_CORE_HMAP_H
#define TIDEGATE_CORE_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hmap_node {
    struct hmap_node *next;
    uint64_t hash;
};

struct hmap {
    struct hmap_node **buckets; /* mask + 1 heads; NULL until the first insert */
    size_t mask;
    size_t count;
};

void hmap_init(struct hmap *m);
/* Frees the bucket array (not the nodes: the caller owns them). */
void hmap_destroy(struct hmap *m);

/* Inserts `node` with `hash`. Returns false, without inserting, only when the table has no
 * buckets yet and they cannot be allocated (out of memory); a failed growth later still
 * inserts (the table then runs at a higher load) and returns true. */
bool hmap_insert(struct hmap *m, struct hmap_node *node, uint64_t hash);

/* Removes `node`, which must be in the table. */
void hmap_remove(struct hmap *m, struct hmap_node *node);

/* The first node with `hash` (NULL when none); hmap_next continues with the same hash. */
struct hmap_node *hmap_first(const struct hmap *m, uint64_t hash);
struct hmap_node *hmap_next(const struct hmap_node *node);

/* Buckets, for walks and bounded incremental sweeps: hmap_bucket_count is 0 before the
 * first insert; a bucket's chain is followed with node->next (all hashes). A walker that
 * removes nodes saves node->next first; inserting during a walk may move nodes between
 * buckets (a sweep then visits some twice or not at all in that round, which it tolerates). */
static inline size_t hmap_bucket_count(const struct hmap *m)
{
    return m->buckets ? m->mask + 1 : 0;
}
static inline struct hmap_node *hmap_bucket(const struct hmap *m, size_t index)
{
    return m->buckets[index];
}

#define hmap_entry(node, type, member) ((type *)((char *)(node)-offsetof(type, member)))

#endif
