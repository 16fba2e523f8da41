/* The PostgreSQL writers and readers on the storage tests' loop (storage_test_loop.h):
 * their timers registered by type. Initialize them with tag STORAGE_TEST_TAG_PG. */
#ifndef TIDEGATE_TESTS_PG_TEST_LOOP_H
#define TIDEGATE_TESTS_PG_TEST_LOOP_H

#include "storage/pg_reader.h"
#include "storage/pg_writer.h"
#include "storage_test_loop.h"

/* Registers a writer's or a reader's timers (pg_writer_on_timer, pg_reader_on_timer). */
void pg_test_loop_add_writer(struct storage_test_loop *t, struct pg_writer *w);
void pg_test_loop_add_reader(struct storage_test_loop *t, struct pg_reader *r);

#endif
