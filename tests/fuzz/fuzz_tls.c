/* libFuzzer target for core/tls: arbitrary bytes as a client's first flight to a server
 * session (two certificates picked by SNI, tickets on, ALPN http/1.1, TLS 1.2 and 1.3).
 *
 * Byte 0 of the input picks how the rest is fed: 0 means all at once, n > 0 means pieces
 * of n bytes (so record and handshake reassembly is exercised at every split). Checked on
 * every input, besides "never crash":
 *   - no plaintext comes out of a first flight (nobody can finish a handshake blind);
 *   - 0 means every byte offered was taken; an error is in range, is not TLS_PEER_CLOSED
 *     before a handshake, fails the session for good (the next feed returns it and takes
 *     nothing) and leaves the state FAILED;
 *   - output is a sequence of whole TLS records (types 20-23, version 3.x, length within
 *     a record) and no bigger than TLS_OUTPUT_BYTES_MAX;
 *   - nothing can be written before the handshake.
 * Certificates are generated at start-up by tests/unit/tls_certs/make_certs.sh into a
 * temporary directory (removed at exit). Seeds: tests/fuzz/corpus/tls/ (real ClientHellos:
 * OpenSSL's from tests/fuzz/make_seeds_tls.py, wolfSSL's from test_tls_records with
 * TIDEGATE_TLS_SEED_DIR set).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../unit/tls_pair.h"

#include "core/tls_ticket.h"
#include "fuzz_check.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tls_ticket_keys *keys;
static struct tls_server *server;

static void cleanup(void)
{
    tls_server_unref(server);
    tls_ticket_keys_free(keys);
    tls_pair_remove_certs();
    tls_thread_end();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FUZZ_CHECK(tls_global_init());
    tls_pair_make_certs();
    keys = tls_ticket_keys_new(3600);
    FUZZ_CHECK(keys != NULL);
    static char paths[4][320];
    const char *names[4] = {"a.pem", "a.key", "b.pem", "b.key"};
    for (int i = 0; i < 4; i++)
        snprintf(paths[i], sizeof paths[i], "%s", tls_pair_path(names[i]));
    struct tls_cert_files files[] = {{paths[0], paths[1]}, {paths[2], paths[3]}};
    struct tls_options o = {.certs = files, .cert_count = 2, .min_version = 12, .tickets = true};
    char err[256];
    server = tls_server_new(&o, keys, err, sizeof err);
    if (server == NULL) {
        fprintf(stderr, "fuzz_tls: %s\n", err);
        abort();
    }
    atexit(cleanup);
    return 0;
}

/* Output must be whole records of the four TLS types (1.3 sends its encrypted handshake
 * as type 23), version 3.x. */
static void check_records(const uint8_t *out, size_t len)
{
    size_t off = 0;
    while (off < len) {
        FUZZ_CHECK(len - off >= 5);
        FUZZ_CHECK(out[off] >= 20 && out[off] <= 23);
        FUZZ_CHECK(out[off + 1] == 3);
        size_t body = (size_t)out[off + 3] << 8 | out[off + 4];
        FUZZ_CHECK(body > 0 && body <= TLS_RECORD_PLAIN_MAX + 256);
        off += 5 + body;
    }
    FUZZ_CHECK(off == len);
}

/* Feeds `len` bytes in one call, checking the contract. Returns the result. */
static ssize_t feed(struct tls_session *s, const uint8_t *in, size_t len)
{
    uint8_t plain[512];
    size_t used = SIZE_MAX;
    ssize_t r = tls_session_feed(s, in, len, &used, plain, sizeof plain);
    FUZZ_CHECK(r <= 0); /* no plaintext from a first flight */
    FUZZ_CHECK(used <= len);
    if (r == 0) {
        FUZZ_CHECK(used == len);
        FUZZ_CHECK(s->state == TLS_STATE_HANDSHAKE);
    } else {
        FUZZ_CHECK(r >= TLS_ERROR_MIN && r != TLS_PEER_CLOSED);
        FUZZ_CHECK(s->state == TLS_STATE_FAILED);
        FUZZ_CHECK(tls_session_feed(s, in, len, &used, plain, sizeof plain) == r);
        FUZZ_CHECK(used == 0);
    }
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t piece = data[0];
    data++;
    size--;
    struct tls_session s;
    tls_session_start(&s, server);
    size_t off = 0;
    ssize_t r = 0;
    while (off < size && r == 0) {
        size_t n = piece == 0 || size - off < piece ? size - off : piece;
        r = feed(&s, data + off, n);
        off += n;
    }
    FUZZ_CHECK(tls_session_output_bytes(&s) <= TLS_OUTPUT_BYTES_MAX);
    FUZZ_CHECK(!tls_session_established(&s));
    int w = tls_session_write(&s, "x", 1);
    FUZZ_CHECK(w == TLS_ERR_STATE || (r < 0 && w == r));
    struct out_chunk *out = tls_session_output_take(&s);
    if (out != NULL) {
        check_records(out->data, out->len);
        out_chunk_unref(out);
    }
    tls_session_end(&s);
    return 0;
}
