/* Channel history ring: see history.h. */
#include "gateway/history.h"

#include <assert.h>
#include <stdlib.h>

enum { HISTORY_INITIAL_CAP = 8 };

void history_free(struct history *h)
{
    for (uint32_t i = 0; i < h->count; i++)
        chan_msg_unref(history_at(h, i));
    free(h->slots);
    history_init(h);
}

static void history_drop_oldest(struct history *h)
{
    assert(h->count > 0);
    chan_msg_unref(h->slots[h->head]);
    h->head = (h->head + 1) % h->cap;
    h->count--;
}

static bool history_grow(struct history *h, uint32_t size_max)
{
    uint32_t cap = h->cap ? h->cap * 2 : HISTORY_INITIAL_CAP;
    if (cap > size_max)
        cap = size_max;
    struct chan_msg **slots = malloc((size_t)cap * sizeof *slots);
    if (slots == NULL)
        return false;
    for (uint32_t i = 0; i < h->count; i++)
        slots[i] = history_at(h, i);
    free(h->slots);
    h->slots = slots;
    h->cap = cap;
    h->head = 0;
    return true;
}

bool history_push(struct history *h, struct chan_msg *m, uint32_t size_max)
{
    assert(size_max > 0);
    assert(h->count == 0 || m->offset == history_at(h, h->count - 1)->offset + 1);
    while (h->count >= size_max)
        history_drop_oldest(h);
    if (h->count == h->cap && !history_grow(h, size_max)) {
        history_free(h);
        if (!history_grow(h, size_max))
            return false;
    }
    chan_msg_ref(m);
    h->slots[(h->head + h->count) % h->cap] = m;
    h->count++;
    return true;
}

void history_expire(struct history *h, uint64_t oldest_ms)
{
    while (h->count > 0 && h->slots[h->head]->timestamp_ms < oldest_ms)
        history_drop_oldest(h);
}
