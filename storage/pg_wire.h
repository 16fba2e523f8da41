/* The PostgreSQL binary formats storage sends and reads: one-dimensional arrays as statement
 * parameters (the format of array_recv), big-endian integers, and timestamptz as
 * microseconds since 2000-01-01 UTC. Binary parameters need no escaping and no parsing on
 * the server beyond a length check, which is why the batch writer uses them.
 *
 * Arrays are built in a jbuf (core/jbuf.h) and inherit its sticky failure: build the whole
 * array, then check `failed` once.
 */
#ifndef TIDEGATE_STORAGE_PG_WIRE_H
#define TIDEGATE_STORAGE_PG_WIRE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/jbuf.h"

/* Type OIDs from PostgreSQL's pg_type.dat (fixed since forever; part of the protocol). */
enum {
    PG_OID_INT8 = 20,
    PG_OID_TEXT = 25,
    PG_OID_JSON = 114,
    PG_OID_JSON_ARRAY = 199,
    PG_OID_TEXT_ARRAY = 1009,
    PG_OID_INT8_ARRAY = 1016,
    PG_OID_TIMESTAMPTZ = 1184,
    PG_OID_TIMESTAMPTZ_ARRAY = 1185,
};

/* Milliseconds between 1970-01-01 and 2000-01-01, the epoch of PostgreSQL's timestamps. */
#define PG_EPOCH_UNIX_MS ((int64_t)946684800000)

static inline int64_t pg_timestamptz_from_unix_ms(uint64_t unix_ms)
{
    return ((int64_t)unix_ms - PG_EPOCH_UNIX_MS) * 1000;
}
/* Rounds down to the millisecond; times before 1970 come out as 0. */
static inline uint64_t pg_unix_ms_from_timestamptz(int64_t pg_us)
{
    int64_t ms = pg_us / 1000 - (pg_us % 1000 < 0 ? 1 : 0) + PG_EPOCH_UNIX_MS;
    return ms < 0 ? 0 : (uint64_t)ms;
}

void pg_put_u32(uint8_t out[4], uint32_t v);
void pg_put_u64(uint8_t out[8], uint64_t v);
uint32_t pg_get_u32(const uint8_t in[4]);
uint64_t pg_get_u64(const uint8_t in[8]);

/* Empties `b` and writes the header of an array of `count` (>= 1) elements of type
 * `elem_oid`. Then exactly `count` elements follow. */
void pg_array_begin(struct jbuf *b, uint32_t elem_oid, uint32_t count);
/* One element: `len` bytes as they are (text, json: the text itself). */
void pg_array_bytes(struct jbuf *b, const void *bytes, uint32_t len);
/* One NULL element (marks the array as having nulls). */
void pg_array_null(struct jbuf *b);
/* One int8 or timestamptz element. */
void pg_array_int8(struct jbuf *b, int64_t v);

#endif
