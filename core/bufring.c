/* Provided-buffer ring: see bufring.h. Buffers are pre-faulted at start so the memory a
 * worker needs for receiving is paid once, up front, and never grows with connections. */
#include "core/bufring.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static size_t bufring_ring_bytes(uint32_t count)
{
    return (size_t)count * sizeof(struct io_uring_buf);
}

int bufring_init(struct bufring *b, struct io_uring *ring, uint16_t group_id, uint32_t count,
                 uint32_t size)
{
    assert(count > 0 && count <= 32768 && (count & (count - 1)) == 0);
    assert(size > 0);
    memset(b, 0, sizeof *b);
    void *ring_mem = mmap(NULL, bufring_ring_bytes(count), PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ring_mem == MAP_FAILED)
        return -errno;
    size_t total = (size_t)count * size;
    void *base = mmap(NULL, total, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (base == MAP_FAILED) {
        int err = -errno;
        munmap(ring_mem, bufring_ring_bytes(count));
        return err;
    }
    b->ring = ring_mem;
    b->base = base;
    b->count = count;
    b->size = size;
    b->group_id = group_id;
    struct io_uring_buf_reg reg = {0};
    reg.ring_addr = (uint64_t)(uintptr_t)ring_mem;
    reg.ring_entries = count;
    reg.bgid = group_id;
    int ret = io_uring_register_buf_ring(ring, &reg, 0);
    if (ret != 0) {
        munmap(base, total);
        munmap(ring_mem, bufring_ring_bytes(count));
        memset(b, 0, sizeof *b);
        return ret;
    }
    io_uring_buf_ring_init(b->ring);
    int mask = io_uring_buf_ring_mask(count);
    for (uint32_t i = 0; i < count; i++)
        io_uring_buf_ring_add(b->ring, bufring_buffer(b, (uint16_t)i), size, (uint16_t)i, mask,
                              (int)i);
    io_uring_buf_ring_advance(b->ring, (int)count);
    return 0;
}

void bufring_recycle(struct bufring *b, uint16_t buffer_id)
{
    assert(buffer_id < b->count);
    io_uring_buf_ring_add(b->ring, bufring_buffer(b, buffer_id), b->size, buffer_id,
                          io_uring_buf_ring_mask(b->count), 0);
    io_uring_buf_ring_advance(b->ring, 1);
}

void bufring_destroy(struct bufring *b, struct io_uring *ring)
{
    if (b->ring == NULL)
        return;
    io_uring_unregister_buf_ring(ring, b->group_id);
    munmap(b->base, (size_t)b->count * b->size);
    munmap(b->ring, bufring_ring_bytes(b->count));
    memset(b, 0, sizeof *b);
}
