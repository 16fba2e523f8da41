/* PostgreSQL writers and readers on the storage tests' loop: see pg_test_loop.h. */
#include "pg_test_loop.h"

static bool writer_timer(void *owner, struct tw_timer *t)
{
    return pg_writer_on_timer(owner, t);
}

static bool reader_timer(void *owner, struct tw_timer *t)
{
    return pg_reader_on_timer(owner, t);
}

void pg_test_loop_add_writer(struct storage_test_loop *t, struct pg_writer *w)
{
    storage_test_loop_add(t, writer_timer, w);
}

void pg_test_loop_add_reader(struct storage_test_loop *t, struct pg_reader *r)
{
    storage_test_loop_add(t, reader_timer, r);
}
