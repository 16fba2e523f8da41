/* Shared channel message: the frame is one contiguous run of header + JSON that a client
 * decodes as one unmasked, final text frame of exactly the JSON, for every length encoding;
 * the channel name is a copy; the fields start as documented; and the reference count
 * reaches zero once however many threads take and drop references (a double free or a leak
 * fails the asan stage). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/ws_frame.h"
#include "gateway/chan_msg.h"
#include "gateway/hub_op.h"

static char *json_of_len(size_t len)
{
    char *json = malloc(len + 1);
    assert_non_null(json);
    for (size_t i = 0; i < len; i++)
        json[i] = (char)('a' + i % 26);
    json[len] = '\0';
    return json;
}

/* Decodes m's frame as a client reading it off the socket would: header, then payload. */
static void assert_frame_carries_json(const struct chan_msg *m, const char *json, size_t len,
                                      int header_len)
{
    const uint8_t *frame = chan_msg_frame(m);
    size_t frame_len = chan_msg_frame_len(m);
    assert_int_equal(m->frame_header_len, header_len);
    assert_int_equal(frame_len, (size_t)header_len + len);
    assert_ptr_equal(frame + header_len, (const uint8_t *)chan_msg_json(m));
    /* The header sits in the room after the channel name, never over it. */
    assert_true(frame >= m->bytes + m->channel_len);
    assert_true(frame + header_len == m->bytes + m->channel_len + CHAN_MSG_HEADER_ROOM);

    struct ws_frame_header h;
    for (int partial = 0; partial < header_len; partial++)
        assert_int_equal(ws_frame_header_decode(frame, (size_t)partial, &h), 0);
    assert_int_equal(ws_frame_header_decode(frame, frame_len, &h), header_len);
    assert_true(h.fin);
    assert_int_equal(h.rsv, 0);
    assert_int_equal(h.opcode, WS_OP_TEXT);
    assert_false(h.masked); /* a server frame */
    assert_int_equal(h.payload_len, len);
    if (len > 0)
        assert_memory_equal(frame + header_len, json, len);
}

static void one_length(size_t len, int header_len)
{
    char *json = json_of_len(len);
    struct chan_msg *m = chan_msg_new(CHAN_MSG_MESSAGE, "news", 4, 77, json, len);
    assert_non_null(m);
    assert_int_equal(m->json_len, len);
    assert_frame_carries_json(m, json, len, header_len);
    chan_msg_unref(m);
    free(json);
}

static void the_frame_is_header_then_json_for_every_length_encoding(void **state)
{
    (void)state;
    one_length(0, 2);
    one_length(1, 2);
    one_length(125, 2); /* the largest 7-bit length */
    one_length(126, 4); /* the smallest 16-bit one */
    one_length(65535, 4);
    one_length(65536, 10); /* the smallest 64-bit one */
    one_length(1u << 20, 10);
}

/* The exact bytes of the headers, as RFC 6455 section 5.2 lays them out. */
static void the_header_bytes_are_the_minimal_encoding(void **state)
{
    (void)state;
    static const struct {
        size_t len;
        uint8_t header[10];
        int header_len;
    } cases[] = {
        {0, {0x81, 0x00}, 2},
        {125, {0x81, 0x7d}, 2},
        {126, {0x81, 0x7e, 0x00, 0x7e}, 4},
        {65535, {0x81, 0x7e, 0xff, 0xff}, 4},
        {65536, {0x81, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}, 10},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *json = json_of_len(cases[i].len);
        struct chan_msg *m = chan_msg_new(CHAN_MSG_PRESENCE, "c", 1, 1, json, cases[i].len);
        assert_non_null(m);
        assert_int_equal(m->frame_header_len, cases[i].header_len);
        assert_memory_equal(chan_msg_frame(m), cases[i].header, (size_t)cases[i].header_len);
        chan_msg_unref(m);
        free(json);
    }
}

static void a_new_message_has_one_reference_and_its_fields_set(void **state)
{
    (void)state;
    const char json[] = "{\"type\":\"user_typing\"}";
    struct chan_msg *m =
        chan_msg_new(CHAN_MSG_TYPING, "chat:lobby", 10, 0x1234567890abcdefull, json, 22);
    assert_non_null(m);
    assert_int_equal(m->op, HUB_OP_DELIVER);
    assert_int_equal(m->kind, CHAN_MSG_TYPING);
    assert_int_equal(atomic_load(&m->refs), 1);
    assert_int_equal(m->channel_len, 10);
    assert_int_equal(m->channel_hash, 0x1234567890abcdefull);
    assert_int_equal(m->json_len, 22);
    /* What the owner fills in afterwards starts at zero. */
    assert_int_equal(m->offset, 0);
    assert_int_equal(m->timestamp_ms, 0);
    assert_int_equal(m->data_len, 0);
    assert_int_equal(m->exclude_worker, 0);
    assert_null(m->exclude);
    chan_msg_unref(m);
}

static void the_channel_name_is_a_copy(void **state)
{
    (void)state;
    char name[] = "sports:football";
    const char json[] = "{}";
    struct chan_msg *m = chan_msg_new(CHAN_MSG_MESSAGE, name, strlen(name), 5, json, 2);
    assert_non_null(m);
    assert_ptr_not_equal(chan_msg_channel(m), name);
    memset(name, 'X', strlen(name)); /* the caller's buffer is reused */
    assert_int_equal(m->channel_len, 15);
    assert_memory_equal(chan_msg_channel(m), "sports:football", 15);
    assert_memory_equal(chan_msg_json(m), "{}", 2);
    chan_msg_unref(m);

    /* An empty name, and the longest a uint16_t length can say. */
    m = chan_msg_new(CHAN_MSG_MESSAGE, "", 0, 5, json, 2);
    assert_non_null(m);
    assert_int_equal(m->channel_len, 0);
    assert_frame_carries_json(m, json, 2, 2);
    chan_msg_unref(m);

    char *long_name = json_of_len(UINT16_MAX + 1);
    m = chan_msg_new(CHAN_MSG_MESSAGE, long_name, UINT16_MAX, 5, json, 2);
    assert_non_null(m);
    assert_int_equal(m->channel_len, UINT16_MAX);
    assert_memory_equal(chan_msg_channel(m), long_name, UINT16_MAX);
    assert_frame_carries_json(m, json, 2, 2);
    chan_msg_unref(m);
    /* One more would not fit channel_len: refused, not truncated. */
    assert_null(chan_msg_new(CHAN_MSG_MESSAGE, long_name, UINT16_MAX + 1, 5, json, 2));
    free(long_name);
}

/* ---- references from several threads, as workers drop theirs after copying ---- */

enum { REF_THREADS = 4, REF_PAIRS = 100000 };

struct ref_run {
    struct chan_msg *m;
    pthread_barrier_t start;
};

/* Takes and drops a reference REF_PAIRS times, then drops the one it was handed: the last
 * thread to finish frees the message. */
static void *ref_worker(void *arg)
{
    struct ref_run *run = arg;
    pthread_barrier_wait(&run->start);
    for (int i = 0; i < REF_PAIRS; i++) {
        chan_msg_ref(run->m);
        chan_msg_unref(run->m);
    }
    chan_msg_unref(run->m);
    return NULL;
}

static void references_from_four_threads_reach_zero_once(void **state)
{
    (void)state;
    const char json[] = "{\"type\":\"message\"}";
    struct ref_run run;
    assert_int_equal(pthread_barrier_init(&run.start, NULL, REF_THREADS + 1), 0);

    /* First: the test keeps a reference, so the count after the threads is exact. */
    run.m = chan_msg_new(CHAN_MSG_MESSAGE, "c", 1, 1, json, sizeof json - 1);
    assert_non_null(run.m);
    pthread_t threads[REF_THREADS];
    for (int t = 0; t < REF_THREADS; t++) {
        chan_msg_ref(run.m); /* the one each thread drops at its end */
        assert_int_equal(pthread_create(&threads[t], NULL, ref_worker, &run), 0);
    }
    assert_int_equal(atomic_load(&run.m->refs), REF_THREADS + 1);
    pthread_barrier_wait(&run.start);
    for (int t = 0; t < REF_THREADS; t++)
        assert_int_equal(pthread_join(threads[t], NULL), 0);
    assert_int_equal(atomic_load(&run.m->refs), 1);
    chan_msg_unref(run.m); /* frees it */

    /* Then: the test drops its reference first; one of the threads frees it. */
    run.m = chan_msg_new(CHAN_MSG_MESSAGE, "c", 1, 1, json, sizeof json - 1);
    assert_non_null(run.m);
    for (int t = 0; t < REF_THREADS; t++) {
        chan_msg_ref(run.m);
        assert_int_equal(pthread_create(&threads[t], NULL, ref_worker, &run), 0);
    }
    chan_msg_unref(run.m);
    pthread_barrier_wait(&run.start);
    for (int t = 0; t < REF_THREADS; t++)
        assert_int_equal(pthread_join(threads[t], NULL), 0);
    assert_int_equal(pthread_barrier_destroy(&run.start), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_frame_is_header_then_json_for_every_length_encoding),
        cmocka_unit_test(the_header_bytes_are_the_minimal_encoding),
        cmocka_unit_test(a_new_message_has_one_reference_and_its_fields_set),
        cmocka_unit_test(the_channel_name_is_a_copy),
        cmocka_unit_test(references_from_four_threads_reach_zero_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
