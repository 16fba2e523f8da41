/* TLS records as a connection moves them: ciphertext arriving in any split (every byte
 * boundary of a ClientHello and of application records, one byte at a time, many records
 * at once), plaintext handed out in pieces, writes reserved exactly and gathered into
 * records, close_notify both ways, garbage and tampering giving errors (never crashes),
 * and the memory an idle session holds. Handshake features are in test_tls.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tls_pair.h"

#include "core/tls_ticket.h"

/* What an idle established session may hold in wolfSSL's heap: measured at about 58 KB
 * with Debian's wolfSSL 5.5.4 (docs/tls.md explains where it goes). A regression guard:
 * a session cache, a copied certificate or a kept 16 KiB record buffer would break it. */
enum { IDLE_SESSION_HEAP_BYTES_MAX = 64 << 10 };

static struct tls_ticket_keys *keys;
static struct tls_server *server; /* a.pem, tickets on */
static WOLFSSL_CTX *client_13;
static WOLFSSL_CTX *client_12;

static int setup(void **state)
{
    (void)state;
    tls_pair_count_memory();
    assert_true(tls_global_init());
    tls_pair_make_certs();
    keys = tls_ticket_keys_new(3600);
    assert_non_null(keys);
    struct tls_cert_files files[] = {{tls_pair_path("a.pem"), tls_pair_path("a.key")}};
    struct tls_options o = {.certs = files, .cert_count = 1, .min_version = 12, .tickets = true};
    char err[256];
    server = tls_server_new(&o, keys, err, sizeof err);
    if (server == NULL)
        fail_msg("%s", err);
    client_13 = tls_pair_client_ctx(wolfTLSv1_3_client_method());
    client_12 = tls_pair_client_ctx(wolfTLSv1_2_client_method());
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    wolfSSL_CTX_free(client_13);
    wolfSSL_CTX_free(client_12);
    tls_server_unref(server);
    tls_ticket_keys_free(keys);
    tls_pair_remove_certs();
    tls_thread_end();
    return 0;
}

static void established(struct tls_pair *p, WOLFSSL_CTX *client)
{
    tls_pair_start(p, client, server, "a.test", "http/1.1");
    assert_int_equal(tls_pair_handshake(p), 0);
}

/* Reads everything the server sent until `len` plaintext bytes arrived. */
static void client_expect(struct tls_pair *p, const uint8_t *expected, size_t len)
{
    uint8_t *buf = malloc(len + 1);
    assert_non_null(buf);
    size_t got = 0;
    while (got < len) {
        int n = tls_pair_client_read(p, buf + got, len - got);
        assert_true(n > 0);
        got += (size_t)n;
    }
    assert_memory_equal(buf, expected, len);
    free(buf);
}

static uint8_t *pattern(size_t len, unsigned seed)
{
    uint8_t *b = malloc(len);
    assert_non_null(b);
    for (size_t i = 0; i < len; i++)
        b[i] = (uint8_t)(i * 131 + seed + (i >> 9));
    return b;
}

/* With TIDEGATE_TLS_SEED_DIR set, keeps `hello` there as a seed for tests/fuzz/fuzz_tls.c
 * (first byte 0: the target feeds the rest at once). */
static void seed_write(const char *name, const uint8_t *hello, size_t len)
{
    const char *dir = getenv("TIDEGATE_TLS_SEED_DIR");
    if (dir == NULL)
        return;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fputc(0, f), 0);
    assert_int_equal(fwrite(hello, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void client_hello_split_at_every_byte(void **state)
{
    (void)state;
    WOLFSSL_CTX *clients[] = {client_13, client_12};
    const char *seeds[] = {"wolfssl_tls13_sni_alpn", "wolfssl_tls12_sni_alpn"};
    for (int c = 0; c < 2; c++) {
        struct tls_pair p;
        tls_pair_start(&p, clients[c], server, "a.test", "http/1.1");
        assert_int_equal(wolfSSL_get_error(p.client, wolfSSL_connect(p.client)),
                         WOLFSSL_ERROR_WANT_READ);
        size_t hello_len = tls_pipe_pending(&p.c2s);
        assert_true(hello_len > 100);
        const uint8_t *hello = p.c2s.data + p.c2s.off;
        seed_write(seeds[c], hello, hello_len);
        uint8_t plain[64];
        for (size_t k = 1; k < hello_len; k++) {
            struct tls_session s;
            tls_session_start(&s, server);
            size_t used = 0;
            assert_int_equal(tls_session_feed(&s, hello, k, &used, plain, sizeof plain), 0);
            assert_int_equal(used, k);
            assert_int_equal(tls_session_output_bytes(&s), 0);
            assert_int_equal(
                tls_session_feed(&s, hello + k, hello_len - k, &used, plain, sizeof plain), 0);
            assert_int_equal(used, hello_len - k);
            struct out_chunk *reply = tls_session_output_take(&s);
            assert_non_null(reply);
            assert_true(reply->len > 100);
            assert_int_equal(reply->data[0], 22); /* a handshake record: the ServerHello */
            out_chunk_unref(reply);
            assert_int_equal(s.state, TLS_STATE_HANDSHAKE);
            tls_session_end(&s);
        }
        tls_pair_end(&p);
    }
}

static void handshakes_fed_one_byte_at_a_time(void **state)
{
    (void)state;
    WOLFSSL_CTX *clients[] = {client_13, client_12};
    for (int i = 0; i < 2; i++) {
        struct tls_pair p;
        tls_pair_start(&p, clients[i], server, "a.test", "http/1.1");
        p.feed_piece = 1;
        assert_int_equal(tls_pair_handshake(&p), 0);
        assert_int_equal(tls_pair_client_send_text(&p, "one byte at a time", 18), 0);
        assert_int_equal(p.got_len, 18);
        assert_memory_equal(p.got, "one byte at a time", 18);
        tls_pair_end(&p);
    }
}

/* Application records, record k split after its k-th byte, for every k. */
static void records_split_at_every_byte(void **state)
{
    (void)state;
    WOLFSSL_CTX *clients[] = {client_13, client_12};
    static const char msg[] = "0123456789abcdef";
    for (int c = 0; c < 2; c++) {
        struct tls_pair p;
        established(&p, clients[c]);
        assert_int_equal(wolfSSL_write(p.client, msg, 16), 16);
        size_t record_len = tls_pipe_pending(&p.c2s);
        assert_int_equal(tls_pair_serve(&p), 0);
        uint8_t plain[64];
        for (size_t k = 0; k <= record_len; k++) {
            assert_int_equal(wolfSSL_write(p.client, msg, 16), 16);
            assert_int_equal(tls_pipe_pending(&p.c2s), record_len);
            const uint8_t *rec = p.c2s.data + p.c2s.off;
            size_t used = 0;
            ssize_t r = tls_session_feed(&p.server, rec, k, &used, plain, sizeof plain);
            assert_int_equal(used, k);
            if (k < record_len)
                assert_int_equal(r, 0);
            else
                assert_int_equal(r, 16);
            if (k < record_len) {
                r = tls_session_feed(&p.server, rec + k, record_len - k, &used, plain,
                                     sizeof plain);
                assert_int_equal(used, record_len - k);
                assert_int_equal(r, 16);
            }
            assert_memory_equal(plain, msg, 16);
            p.c2s.off += record_len;
        }
        tls_pair_end(&p);
    }
}

static void many_records_in_one_feed_come_out_in_order(void **state)
{
    (void)state;
    struct tls_pair p;
    established(&p, client_13);
    char expected[400];
    size_t len = 0;
    for (int i = 0; i < 40; i++) {
        char line[16];
        int n = snprintf(line, sizeof line, "msg %02d;", i);
        assert_int_equal(wolfSSL_write(p.client, line, n), n);
        memcpy(expected + len, line, (size_t)n);
        len += (size_t)n;
    }
    assert_int_equal(tls_pair_serve(&p), 0);
    assert_int_equal(p.got_len, len);
    assert_memory_equal(p.got, expected, len);
    tls_pair_end(&p);
}

static void a_record_bigger_than_the_plaintext_buffer_comes_out_in_pieces(void **state)
{
    (void)state;
    struct tls_pair p;
    established(&p, client_12);
    p.plain_cap = 100;
    uint8_t *big = pattern(TLS_RECORD_PLAIN_MAX, 7);
    assert_int_equal(tls_pair_client_send_text(&p, big, TLS_RECORD_PLAIN_MAX), 0);
    assert_int_equal(p.got_len, TLS_RECORD_PLAIN_MAX);
    assert_memory_equal(p.got, big, TLS_RECORD_PLAIN_MAX);
    free(big);
    tls_pair_end(&p);
}

static void a_megabyte_each_way(void **state)
{
    (void)state;
    enum { MIB = 1 << 20 };
    struct tls_pair p;
    established(&p, client_13);
    uint8_t *up = pattern(MIB, 1), *down = pattern(MIB, 2);
    for (size_t off = 0; off < MIB; off += 65536)
        assert_int_equal(tls_pair_client_send_text(&p, up + off, 65536), 0);
    assert_int_equal(p.got_len, MIB);
    assert_memory_equal(p.got, up, MIB);

    assert_int_equal(tls_session_write(&p.server, down, MIB), 0);
    /* The write reserved exactly its records: no slack in the chunk. */
    assert_non_null(p.server.out);
    assert_int_equal(p.server.out->len, p.server.out_len);
    assert_int_equal(tls_session_output_bytes(&p.server), MIB + 64 * 22);
    tls_pair_take_output(&p);
    client_expect(&p, down, MIB);
    free(up);
    free(down);
    tls_pair_end(&p);
}

static void writev_gathers_small_pieces_into_one_record(void **state)
{
    (void)state;
    struct tls_pair p;
    established(&p, client_13);
    uint8_t *data = pattern(50000, 3);
    struct iovec iov[100];
    for (int i = 0; i < 100; i++)
        iov[i] = (struct iovec){data + 10 * i, 10};
    assert_int_equal(tls_session_writev(&p.server, iov, 100), 0);
    size_t gathered = tls_session_output_bytes(&p.server);
    assert_int_equal(tls_session_write(&p.server, data, 1000), 0);
    assert_int_equal(tls_session_output_bytes(&p.server), 2 * gathered); /* one record each */
    tls_pair_take_output(&p);
    client_expect(&p, data, 1000);
    client_expect(&p, data, 1000);

    /* Mixed: small, big (whole records in place), small. */
    struct iovec mixed[] = {{data, 5}, {data + 5, 40000}, {data + 40005, 9995}};
    assert_int_equal(tls_session_writev(&p.server, mixed, 3), 0);
    tls_pair_take_output(&p);
    client_expect(&p, data, 50000);
    assert_int_equal(tls_session_writev(&p.server, mixed, 0), 0);
    assert_null(tls_session_output_take(&p.server));
    free(data);
    tls_pair_end(&p);
}

static void close_notify_both_ways(void **state)
{
    (void)state;
    struct tls_pair p;
    established(&p, client_13);
    /* The client closes: the server sees TLS_PEER_CLOSED and may still answer. */
    assert_int_equal(wolfSSL_shutdown(p.client), WOLFSSL_SHUTDOWN_NOT_DONE);
    assert_int_equal(tls_pair_serve(&p), TLS_PEER_CLOSED);
    assert_int_equal(p.server.state, TLS_STATE_PEER_CLOSED);
    assert_true(tls_session_established(&p.server));
    assert_int_equal(tls_session_write(&p.server, "bye", 3), 0);
    assert_int_equal(tls_session_close(&p.server), 0);
    size_t close_len = tls_session_output_bytes(&p.server);
    assert_true(close_len > 0);
    assert_int_equal(tls_session_close(&p.server), 0); /* once only */
    assert_int_equal(tls_session_output_bytes(&p.server), close_len);
    assert_int_equal(tls_session_write(&p.server, "late", 4), TLS_ERR_STATE);
    uint8_t plain[16];
    size_t used;
    assert_int_equal(
        tls_session_feed(&p.server, (const uint8_t *)"x", 1, &used, plain, sizeof plain),
        TLS_PEER_CLOSED);
    tls_pair_end(&p);

    /* The server closes: the client reads close_notify. */
    established(&p, client_12);
    assert_int_equal(tls_session_close(&p.server), 0);
    tls_pair_take_output(&p);
    char buf[8];
    assert_int_equal(tls_pair_client_read(&p, buf, sizeof buf), -1);
    assert_int_equal(p.client_error, WOLFSSL_ERROR_ZERO_RETURN);
    tls_pair_end(&p);
}

/* A TLS 1.3 KeyUpdate from the client is answered with the server's own (output produced
 * while feeding), and data keeps flowing both ways under the new keys. */
static void key_updates_are_answered(void **state)
{
    (void)state;
    struct tls_pair p;
    established(&p, client_13);
    assert_int_equal(wolfSSL_update_keys(p.client), WOLFSSL_SUCCESS);
    assert_int_equal(tls_pair_client_send_text(&p, "after", 5), 0);
    assert_int_equal(p.got_len, 5);
    assert_true(tls_pipe_pending(&p.s2c) > 0); /* the server's KeyUpdate */
    assert_int_equal(tls_pair_server_send(&p, "reply", 5), 0);
    client_expect(&p, (const uint8_t *)"reply", 5);
    assert_int_equal(tls_pair_client_send_text(&p, "again", 5), 0);
    assert_memory_equal(p.got, "afteragain", 10);
    tls_pair_end(&p);
}

static void a_connection_that_sends_nothing_holds_nothing(void **state)
{
    (void)state;
    long long before = tls_pair_wolf_bytes();
    struct tls_session s;
    tls_session_start(&s, server);
    uint8_t plain[16];
    size_t used = 1;
    assert_int_equal(tls_session_feed(&s, NULL, 0, &used, plain, sizeof plain), 0);
    assert_int_equal(used, 0);
    assert_null(s.ssl);
    assert_int_equal(tls_pair_wolf_bytes(), before);
    assert_false(tls_session_established(&s));
    assert_null(tls_session_version(&s));
    assert_null(tls_session_server_name(&s));
    assert_false(tls_session_resumed(&s));
    assert_int_equal(tls_session_write(&s, "x", 1), TLS_ERR_STATE);
    assert_int_equal(tls_session_close(&s), TLS_ERR_STATE);
    assert_null(tls_session_output_take(&s));
    tls_session_end(&s);
}

/* Feeds `len` bytes to a fresh session and returns the result, checking the contract:
 * 0 means every byte was taken, an error fails the session for good. */
static int feed_fresh(const uint8_t *bytes, size_t len)
{
    struct tls_session s;
    tls_session_start(&s, server);
    uint8_t plain[256];
    size_t used = 0;
    ssize_t r = tls_session_feed(&s, bytes, len, &used, plain, sizeof plain);
    assert_true(r <= 0);
    if (r == 0) {
        assert_int_equal(used, len);
    } else {
        assert_true(r >= TLS_ERROR_MIN && r != TLS_PEER_CLOSED);
        assert_int_equal(s.state, TLS_STATE_FAILED);
        assert_int_equal(tls_session_feed(&s, bytes, len, &used, plain, sizeof plain), r);
        assert_int_equal(used, 0);
        char detail[200];
        tls_session_error_detail(&s, detail, sizeof detail);
        assert_non_null(strstr(detail, "wolfssl_error="));
    }
    struct out_chunk *c = tls_session_output_take(&s);
    if (c != NULL)
        out_chunk_unref(c);
    tls_session_end(&s);
    return (int)r;
}

static void garbage_gives_errors_not_crashes(void **state)
{
    (void)state;
    static const char http[] = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n";
    int r = feed_fresh((const uint8_t *)http, sizeof http - 1);
    assert_true(r < 0);
    /* A record header announcing more than a TLS record may hold. */
    static const uint8_t oversize[] = {22, 3, 1, 0x7f, 0xff, 1, 0, 0, 0};
    assert_true(feed_fresh(oversize, sizeof oversize) < 0);
    /* An alert record instead of a ClientHello. */
    static const uint8_t alert[] = {21, 3, 3, 0, 2, 2, 40};
    assert_true(feed_fresh(alert, sizeof alert) < 0);
    /* Seeded random bytes of random lengths. */
    uint32_t x = 12345;
    uint8_t buf[600];
    for (int trial = 0; trial < 2000; trial++) {
        size_t len = 1 + trial % sizeof buf;
        for (size_t i = 0; i < len; i++) {
            x = x * 1103515245 + 12345;
            buf[i] = (uint8_t)(x >> 16);
        }
        if (trial % 3 == 0) { /* a plausible record header, random body */
            buf[0] = 22;
            buf[1] = 3;
            buf[2] = (uint8_t)(trial % 4);
        }
        (void)feed_fresh(buf, len);
    }
}

static void tampered_records_fail_with_an_alert(void **state)
{
    (void)state;
    WOLFSSL_CTX *clients[] = {client_13, client_12, client_13, client_12};
    static const char *suites[] = {NULL, NULL, "TLS13-CHACHA20-POLY1305-SHA256",
                                   "ECDHE-ECDSA-CHACHA20-POLY1305"};
    for (int c = 0; c < 4; c++) {
        struct tls_pair p;
        tls_pair_start(&p, clients[c], server, "a.test", "http/1.1");
        if (suites[c] != NULL)
            assert_int_equal(wolfSSL_set_cipher_list(p.client, suites[c]), WOLFSSL_SUCCESS);
        assert_int_equal(tls_pair_handshake(&p), 0);
        if (suites[c] != NULL)
            assert_non_null(strstr(tls_session_cipher(&p.server), "CHACHA20"));
        assert_int_equal(wolfSSL_write(p.client, "secret", 6), 6);
        p.c2s.data[p.c2s.len - 3] ^= 0x40; /* inside the tag */
        assert_int_equal(tls_pair_serve(&p), TLS_ERR_RECORD);
        assert_int_equal(p.got_len, 0);
        assert_true(tls_pipe_pending(&p.s2c) > 0); /* the bad_record_mac alert */
        assert_int_equal(tls_session_write(&p.server, "x", 1), TLS_ERR_RECORD);
        tls_pair_end(&p);
    }
}

static void output_beyond_the_limit_fails(void **state)
{
    (void)state;
    struct tls_pair p;
    established(&p, client_13);
    enum { PIECE = 4 << 20 };
    uint8_t *piece = pattern(PIECE, 5);
    int rc = 0;
    int writes = 0;
    while (rc == 0 && writes < 32) {
        rc = tls_session_write(&p.server, piece, PIECE);
        writes++;
    }
    assert_int_equal(rc, TLS_ERR_OUTPUT_FULL);
    assert_int_equal(writes, TLS_OUTPUT_BYTES_MAX / PIECE);
    assert_true(tls_session_output_bytes(&p.server) <= TLS_OUTPUT_BYTES_MAX);
    assert_int_equal(tls_session_write(&p.server, "x", 1), TLS_ERR_OUTPUT_FULL);
    free(piece);
    tls_pair_end(&p);
}

static void idle_sessions_hold_little_and_shed_big_buffers(void **state)
{
    (void)state;
    WOLFSSL_CTX *clients[] = {client_13, client_12};
    const char *names[] = {"TLS 1.3", "TLS 1.2"};
    for (int c = 0; c < 2; c++) {
        /* Warm wolfSSL's process-wide caches (ECC tables) first: they are not per session. */
        for (int warm = 0; warm < 3; warm++) {
            struct tls_pair w;
            established(&w, clients[c]);
            tls_pair_end(&w);
        }
        struct tls_pair p;
        established(&p, clients[c]);
        assert_int_equal(tls_pair_client_send_text(&p, "hello", 5), 0);
        assert_int_equal(tls_pair_server_send(&p, "world", 5), 0);
        client_expect(&p, (const uint8_t *)"world", 5);
        long long idle = p.server_heap_bytes;
        print_message("idle %s session: %lld bytes in wolfSSL's heap + %zu in struct "
                      "tls_session\n",
                      names[c], idle, sizeof(struct tls_session));
        assert_true(idle > 0 && idle <= IDLE_SESSION_HEAP_BYTES_MAX);

        /* 64 KiB each way, then idle again: wolfSSL's record buffers went back. */
        uint8_t *big = pattern(65536, 9);
        assert_int_equal(tls_pair_client_send_text(&p, big, 65536), 0);
        assert_int_equal(tls_pair_server_send(&p, big, 65536), 0);
        client_expect(&p, big, 65536);
        free(big);
        assert_null(p.server.out);
        print_message("after 64 KiB each way: %lld bytes\n", p.server_heap_bytes);
        assert_true(p.server_heap_bytes <= idle + 64);
        tls_pair_end(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(client_hello_split_at_every_byte),
        cmocka_unit_test(handshakes_fed_one_byte_at_a_time),
        cmocka_unit_test(records_split_at_every_byte),
        cmocka_unit_test(many_records_in_one_feed_come_out_in_order),
        cmocka_unit_test(a_record_bigger_than_the_plaintext_buffer_comes_out_in_pieces),
        cmocka_unit_test(a_megabyte_each_way),
        cmocka_unit_test(writev_gathers_small_pieces_into_one_record),
        cmocka_unit_test(close_notify_both_ways),
        cmocka_unit_test(key_updates_are_answered),
        cmocka_unit_test(a_connection_that_sends_nothing_holds_nothing),
        cmocka_unit_test(garbage_gives_errors_not_crashes),
        cmocka_unit_test(tampered_records_fail_with_an_alert),
        cmocka_unit_test(output_beyond_the_limit_fails),
        cmocka_unit_test(idle_sessions_hold_little_and_shed_big_buffers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
