/* PostgreSQL binary formats: see pg_wire.h. The array layout (array_recv, arrayfuncs.c):
 * ndim, flags (1 when there are NULLs), element type OID, then per dimension its length and
 * lower bound, then per element a length (-1 for NULL) and the element's binary form. */
#include "storage/pg_wire.h"

#include <assert.h>

enum { PG_ARRAY_FLAGS_AT = 4, PG_ARRAY_HEADER_BYTES = 20 };

void pg_put_u32(uint8_t out[4], uint32_t v)
{
    out[0] = (uint8_t)(v >> 24);
    out[1] = (uint8_t)(v >> 16);
    out[2] = (uint8_t)(v >> 8);
    out[3] = (uint8_t)v;
}

void pg_put_u64(uint8_t out[8], uint64_t v)
{
    pg_put_u32(out, (uint32_t)(v >> 32));
    pg_put_u32(out + 4, (uint32_t)v);
}

uint32_t pg_get_u32(const uint8_t in[4])
{
    return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
}

uint64_t pg_get_u64(const uint8_t in[8])
{
    return (uint64_t)pg_get_u32(in) << 32 | pg_get_u32(in + 4);
}

static void pg_wire_u32(struct jbuf *b, uint32_t v)
{
    uint8_t be[4];
    pg_put_u32(be, v);
    jbuf_raw(b, be, sizeof be);
}

void pg_array_begin(struct jbuf *b, uint32_t elem_oid, uint32_t count)
{
    assert(count >= 1 && count <= INT32_MAX);
    jbuf_reset(b);
    pg_wire_u32(b, 1); /* ndim */
    pg_wire_u32(b, 0); /* flags: set to 1 by the first NULL */
    pg_wire_u32(b, elem_oid);
    pg_wire_u32(b, count);
    pg_wire_u32(b, 1); /* lower bound */
}

void pg_array_bytes(struct jbuf *b, const void *bytes, uint32_t len)
{
    assert(len <= INT32_MAX);
    pg_wire_u32(b, len);
    jbuf_raw(b, bytes, len);
}

void pg_array_null(struct jbuf *b)
{
    pg_wire_u32(b, UINT32_MAX); /* -1 */
    if (!b->failed && b->len >= PG_ARRAY_HEADER_BYTES)
        pg_put_u32((uint8_t *)b->data + PG_ARRAY_FLAGS_AT, 1);
}

void pg_array_int8(struct jbuf *b, int64_t v)
{
    uint8_t be[8];
    pg_put_u64(be, (uint64_t)v);
    pg_wire_u32(b, sizeof be);
    jbuf_raw(b, be, sizeof be);
}
