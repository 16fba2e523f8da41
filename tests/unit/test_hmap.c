/* Intrusive hash table: nodes with the same hash (and with hashes that share a bucket) are
 * told apart by the caller's key; 100,000 nodes survive every doubling; a bucket walk may
 * remove the node it stands on; a walk visits every node once; a 200,000-operation random
 * run agrees with a plain array model; and when the bucket array cannot be allocated the
 * node is still inserted, as hmap.h promises (callers ignore the result). */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/hmap.h"

/* Allocation failures on demand: this executable's calloc fails the next `calloc_failures`
 * calls and otherwise forwards to the next calloc (libc's, or ASan's in the asan build). */
static int calloc_failures;
static void *(*calloc_next)(size_t, size_t);

void *calloc(size_t count, size_t size)
{
    if (calloc_failures > 0) {
        calloc_failures--;
        return NULL;
    }
    if (calloc_next == NULL)
        calloc_next = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    return calloc_next(count, size);
}

/* A caller's struct with its node embedded, as hub.c embeds one in each channel. */
struct item {
    uint64_t key;
    struct hmap_node node;
    bool in_table; /* the model's view */
    unsigned visits;
};

/* splitmix64: a fixed, well-mixed hash and the random source of the model run. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t rng_next(uint64_t *state)
{
    *state += 1;
    return mix64(*state);
}

/* The caller's lookup: the node with `hash` whose key is `key`, after checking that no other
 * node with that hash has the same key. */
static struct item *lookup(const struct hmap *m, uint64_t hash, uint64_t key)
{
    struct item *found = NULL;
    for (struct hmap_node *n = hmap_first(m, hash); n != NULL; n = hmap_next(n)) {
        assert_true(n->hash == hash);
        struct item *it = hmap_entry(n, struct item, node);
        if (it->key == key) {
            assert_null(found);
            found = it;
        }
    }
    return found;
}

/* Walks every bucket, counting visits per item; returns the number of nodes seen. */
static size_t walk_all(const struct hmap *m)
{
    size_t seen = 0;
    for (size_t b = 0; b < hmap_bucket_count(m); b++) {
        for (struct hmap_node *n = hmap_bucket(m, b); n != NULL; n = n->next) {
            assert_int_equal(n->hash & (hmap_bucket_count(m) - 1), b);
            hmap_entry(n, struct item, node)->visits++;
            seen++;
        }
    }
    return seen;
}

static void an_empty_table_finds_nothing_and_has_no_buckets(void **state)
{
    (void)state;
    struct hmap m;
    hmap_init(&m);
    assert_null(hmap_first(&m, 0));
    assert_null(hmap_first(&m, 42));
    assert_int_equal(hmap_bucket_count(&m), 0);
    assert_int_equal(walk_all(&m), 0);
    hmap_destroy(&m);
    assert_int_equal(m.count, 0);
    assert_null(m.buckets);
}

static void nodes_with_one_hash_are_told_apart_by_their_keys(void **state)
{
    (void)state;
    struct hmap m;
    hmap_init(&m);
    enum { SAME = 5 };
    struct item items[SAME];
    for (unsigned i = 0; i < SAME; i++) {
        items[i] = (struct item){.key = 100 + i};
        assert_true(hmap_insert(&m, &items[i].node, 0xabcdef));
    }
    assert_int_equal(m.count, SAME);
    for (unsigned i = 0; i < SAME; i++)
        assert_ptr_equal(lookup(&m, 0xabcdef, 100 + i), &items[i]);
    assert_null(lookup(&m, 0xabcdef, 99));
    assert_null(lookup(&m, 0xabcdee, 100)); /* another hash: none of them */

    hmap_remove(&m, &items[2].node); /* from the middle of the chain */
    assert_null(lookup(&m, 0xabcdef, 102));
    hmap_remove(&m, &items[0].node);
    hmap_remove(&m, &items[4].node);
    assert_int_equal(m.count, SAME - 3);
    assert_ptr_equal(lookup(&m, 0xabcdef, 101), &items[1]);
    assert_ptr_equal(lookup(&m, 0xabcdef, 103), &items[3]);

    assert_true(hmap_insert(&m, &items[2].node, 0xabcdef)); /* a removed node goes back */
    assert_ptr_equal(lookup(&m, 0xabcdef, 102), &items[2]);
    assert_int_equal(m.count, SAME - 2);
    hmap_destroy(&m);
}

/* Hashes that differ only above any realistic bucket mask share a bucket but are not the
 * same hash: hmap_first and hmap_next must skip the others. */
static void hashes_sharing_a_bucket_are_not_confused(void **state)
{
    (void)state;
    struct hmap m;
    hmap_init(&m);
    struct item a = {.key = 1}, b = {.key = 2}, c = {.key = 3}, d = {.key = 4};
    const uint64_t low = 7, high1 = low | (1ull << 40), high2 = low | (1ull << 63);
    assert_true(hmap_insert(&m, &a.node, low));
    assert_true(hmap_insert(&m, &b.node, high1));
    assert_true(hmap_insert(&m, &c.node, low));
    assert_true(hmap_insert(&m, &d.node, high2));
    size_t with_low = 0;
    for (struct hmap_node *n = hmap_first(&m, low); n != NULL; n = hmap_next(n)) {
        struct item *it = hmap_entry(n, struct item, node);
        assert_true(it == &a || it == &c);
        with_low++;
    }
    assert_int_equal(with_low, 2);
    assert_ptr_equal(hmap_entry(hmap_first(&m, high1), struct item, node), &b);
    assert_null(hmap_next(hmap_first(&m, high1)));
    assert_ptr_equal(hmap_entry(hmap_first(&m, high2), struct item, node), &d);
    assert_null(hmap_first(&m, low | (1ull << 41)));
    hmap_remove(&m, &b.node);
    assert_null(hmap_first(&m, high1));
    assert_ptr_equal(lookup(&m, low, 1), &a);
    hmap_destroy(&m);
}

enum { MANY = 100000 };

static void a_hundred_thousand_nodes_survive_every_doubling(void **state)
{
    (void)state;
    struct item *items = calloc(MANY, sizeof *items);
    assert_non_null(items);
    struct hmap m;
    hmap_init(&m);
    size_t buckets_before = 0;
    unsigned doublings = 0;
    for (size_t i = 0; i < MANY; i++) {
        items[i].key = i;
        assert_true(hmap_insert(&m, &items[i].node, mix64(i)));
        assert_int_equal(m.count, i + 1);
        size_t buckets = hmap_bucket_count(&m);
        assert_true(buckets >= 16 && (buckets & (buckets - 1)) == 0);
        assert_true(m.count <= buckets); /* load never above 1 after an insert */
        if (buckets != buckets_before) {
            assert_true(buckets_before == 0 || buckets == 2 * buckets_before);
            doublings += buckets_before != 0;
            buckets_before = buckets;
            /* Right after a doubling every earlier node is still reachable. */
            for (size_t j = 0; j <= i; j += 1 + i / 64)
                assert_ptr_equal(lookup(&m, mix64(j), j), &items[j]);
        }
    }
    assert_true(doublings >= 12); /* 16 -> 131072 */
    for (size_t i = 0; i < MANY; i++)
        assert_ptr_equal(lookup(&m, mix64(i), i), &items[i]);
    assert_int_equal(walk_all(&m), MANY);
    for (size_t i = 0; i < MANY; i++)
        assert_int_equal(items[i].visits, 1);

    /* Remove every node; the table keeps its size but holds nothing. */
    for (size_t i = 0; i < MANY; i++)
        hmap_remove(&m, &items[i].node);
    assert_int_equal(m.count, 0);
    assert_int_equal(walk_all(&m), 0);
    assert_null(lookup(&m, mix64(5), 5));
    hmap_destroy(&m);
    free(items);
}

/* Sequential small hashes, the worst case for a mask: still one node per bucket. */
static void sequential_hashes_spread_over_the_buckets(void **state)
{
    (void)state;
    enum { N = 4096 };
    static struct item items[N];
    struct hmap m;
    hmap_init(&m);
    for (size_t i = 0; i < N; i++) {
        items[i] = (struct item){.key = i};
        assert_true(hmap_insert(&m, &items[i].node, i));
    }
    for (size_t b = 0; b < hmap_bucket_count(&m); b++) {
        size_t chain = 0;
        for (struct hmap_node *n = hmap_bucket(&m, b); n != NULL; n = n->next)
            chain++;
        assert_true(chain <= 1);
    }
    for (size_t i = 0; i < N; i++)
        assert_ptr_equal(lookup(&m, i, i), &items[i]);
    hmap_destroy(&m);
}

/* The sweep in hub_owner.c walks buckets and frees idle channels as it goes. */
static void a_bucket_walk_may_remove_the_node_it_stands_on(void **state)
{
    (void)state;
    enum { N = 10000 };
    struct item *items = calloc(N, sizeof *items);
    assert_non_null(items);
    struct hmap m;
    hmap_init(&m);
    for (size_t i = 0; i < N; i++) {
        items[i].key = i;
        /* 8 keys per hash: long chains, removals at their heads, middles and tails */
        assert_true(hmap_insert(&m, &items[i].node, mix64(i / 8)));
    }
    size_t removed = 0, seen = 0;
    for (size_t b = 0; b < hmap_bucket_count(&m); b++) {
        struct hmap_node *n = hmap_bucket(&m, b);
        while (n != NULL) {
            struct hmap_node *next = n->next; /* saved before the node may go */
            struct item *it = hmap_entry(n, struct item, node);
            it->visits++;
            seen++;
            if (it->key % 3 != 0) {
                hmap_remove(&m, n);
                assert_null(n->next);
                removed++;
            }
            n = next;
        }
    }
    assert_int_equal(seen, N);
    assert_int_equal(m.count, N - removed);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(items[i].visits, 1);
        struct item *found = lookup(&m, mix64(i / 8), i);
        if (i % 3 == 0)
            assert_ptr_equal(found, &items[i]);
        else
            assert_null(found);
        items[i].visits = 0;
    }
    assert_int_equal(walk_all(&m), N - removed);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(items[i].visits, i % 3 == 0 ? 1 : 0);
    hmap_destroy(&m);
    free(items);
}

/* ---- model run: insert, remove and look up against a flag per key ---- */

enum {
    MODEL_KEYS = 6000,
    MODEL_HASHES = 1500, /* four keys per hash: every chain holds collisions */
    MODEL_OPS = 200000,
    MODEL_FULL_CHECK_EVERY = 5000,
};

static uint64_t model_hash(uint64_t key)
{
    return mix64(key % MODEL_HASHES);
}

static void model_check_all(const struct hmap *m, struct item *items, size_t in_count)
{
    for (size_t k = 0; k < MODEL_KEYS; k++)
        items[k].visits = 0;
    assert_int_equal(walk_all(m), in_count);
    for (size_t k = 0; k < MODEL_KEYS; k++) {
        assert_int_equal(items[k].visits, items[k].in_table ? 1 : 0);
        assert_ptr_equal(lookup(m, model_hash(k), k), items[k].in_table ? &items[k] : NULL);
    }
}

static void random_operations_agree_with_a_model(void **state)
{
    (void)state;
    struct item *items = calloc(MODEL_KEYS, sizeof *items);
    assert_non_null(items);
    for (size_t k = 0; k < MODEL_KEYS; k++)
        items[k].key = k;
    struct hmap m;
    hmap_init(&m);
    uint64_t rng = 0x7469646567617465ull; /* fixed: a failure replays */
    size_t in_count = 0, inserts = 0, removes = 0;
    for (size_t op = 1; op <= MODEL_OPS; op++) {
        uint64_t r = rng_next(&rng);
        /* Skew keys toward the low end for some ops so the table fills, then drains. */
        size_t span = (op / 20000) % 2 ? MODEL_KEYS : MODEL_KEYS / 4;
        size_t k = (size_t)((r >> 8) % span);
        struct item *it = &items[k];
        switch (r & 3) {
        case 0:
        case 1: /* insert if absent, else remove: the table churns */
            if (!it->in_table) {
                assert_true(hmap_insert(&m, &it->node, model_hash(k)));
                it->in_table = true;
                in_count++;
                inserts++;
            } else {
                hmap_remove(&m, &it->node);
                it->in_table = false;
                in_count--;
                removes++;
            }
            break;
        case 2: /* remove if present */
            if (it->in_table) {
                hmap_remove(&m, &it->node);
                it->in_table = false;
                in_count--;
                removes++;
            }
            break;
        default: /* look up */
            assert_ptr_equal(lookup(&m, model_hash(k), k), it->in_table ? it : NULL);
            break;
        }
        assert_int_equal(m.count, in_count);
        if (op % MODEL_FULL_CHECK_EVERY == 0)
            model_check_all(&m, items, in_count);
    }
    assert_true(inserts > 50000 && removes > 45000); /* the run did churn */
    model_check_all(&m, items, in_count);
    hmap_destroy(&m);
    free(items);
}

/* hmap.h: "Returns false when growing the table failed; the node is still inserted then".
 * hub_local.c and hub_owner.c rely on it: they ignore the result and later remove the node. */
static void a_failed_growth_still_inserts_the_node(void **state)
{
    (void)state;
    enum { N = 18 };
    struct item items[N];
    struct hmap m;
    hmap_init(&m);
    for (size_t i = 0; i < 16; i++) {
        items[i] = (struct item){.key = i};
        assert_true(hmap_insert(&m, &items[i].node, mix64(i)));
    }
    assert_int_equal(hmap_bucket_count(&m), 16);
    calloc_failures = 1; /* the doubling to 32 buckets fails */
    items[16] = (struct item){.key = 16};
    assert_true(hmap_insert(&m, &items[16].node, mix64(16))); /* inserted at a higher load */
    calloc_failures = 0;
    assert_int_equal(hmap_bucket_count(&m), 16);
    assert_int_equal(m.count, 17);
    items[17] = (struct item){.key = 17};
    assert_true(hmap_insert(&m, &items[17].node, mix64(17))); /* grows now */
    assert_int_equal(hmap_bucket_count(&m), 32);
    for (size_t i = 0; i < N; i++)
        assert_ptr_equal(lookup(&m, mix64(i), i), &items[i]);
    hmap_remove(&m, &items[16].node);
    assert_int_equal(m.count, N - 1);
    hmap_destroy(&m);
}

/* The very first insert, when there is no bucket array at all and it cannot be allocated:
 * false, and the node is not in the table (callers free it); the next insert works. */
static void a_failed_first_allocation_refuses_the_node(void **state)
{
    (void)state;
    struct hmap m;
    hmap_init(&m);
    struct item a = {.key = 1};
    calloc_failures = 1;
    bool inserted = hmap_insert(&m, &a.node, 77);
    calloc_failures = 0;
    assert_false(inserted);
    assert_int_equal(m.count, 0);
    assert_null(lookup(&m, 77, 1));
    assert_true(hmap_insert(&m, &a.node, 77));
    assert_ptr_equal(lookup(&m, 77, 1), &a);
    hmap_remove(&m, &a.node);
    assert_int_equal(m.count, 0);
    hmap_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_empty_table_finds_nothing_and_has_no_buckets),
        cmocka_unit_test(nodes_with_one_hash_are_told_apart_by_their_keys),
        cmocka_unit_test(hashes_sharing_a_bucket_are_not_confused),
        cmocka_unit_test(a_hundred_thousand_nodes_survive_every_doubling),
        cmocka_unit_test(sequential_hashes_spread_over_the_buckets),
        cmocka_unit_test(a_bucket_walk_may_remove_the_node_it_stands_on),
        cmocka_unit_test(random_operations_agree_with_a_model),
        cmocka_unit_test(a_failed_growth_still_inserts_the_node),
        cmocka_unit_test(a_failed_first_allocation_refuses_the_node),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
