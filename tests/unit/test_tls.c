/* TLS handshakes as clients see them: versions (1.3 and 1.2 accepted, 1.1 refused), ALPN,
 * the certificate SNI picks, resumption by ticket (and key rotation), reload swapping
 * certificates for new sessions only, and the sentences bad certificate files produce.
 * An in-memory wolfSSL client talks to a core/tls session (tests/unit/tls_pair.h).
 * Records, close_notify, garbage and memory are in test_tls_records.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tls_pair.h"

#include "core/tls_internal.h"

static struct tls_current current; /* a.pem (default) and b.pem, tickets on */
static WOLFSSL_CTX *client_any;    /* offers TLS 1.2 and 1.3 */
static WOLFSSL_CTX *client_12;
static WOLFSSL_CTX *client_11;

static char ab_paths[4][320]; /* own copies: tls_pair_path's buffers are reused */
static struct tls_cert_files ab_files[2];
static struct tls_options ab_options;

static int certs_setup(void **state)
{
    (void)state;
    assert_true(tls_global_init());
    tls_pair_make_certs();
    const char *names[4] = {"a.pem", "a.key", "b.pem", "b.key"};
    for (int i = 0; i < 4; i++)
        snprintf(ab_paths[i], sizeof ab_paths[i], "%s", tls_pair_path(names[i]));
    ab_files[0] = (struct tls_cert_files){ab_paths[0], ab_paths[1]};
    ab_files[1] = (struct tls_cert_files){ab_paths[2], ab_paths[3]};
    ab_options = (struct tls_options){
        .certs = ab_files, .cert_count = 2, .min_version = 12, .tickets = true};
    char err[256];
    if (!tls_current_init(&current, &ab_options, 3600, err, sizeof err))
        fail_msg("tls_current_init: %s", err);
    client_any = tls_pair_client_ctx(wolfSSLv23_client_method());
    client_12 = tls_pair_client_ctx(wolfTLSv1_2_client_method());
    client_11 = tls_pair_client_ctx(wolfTLSv1_1_client_method());
    return 0;
}

static int certs_teardown(void **state)
{
    (void)state;
    wolfSSL_CTX_free(client_any);
    wolfSSL_CTX_free(client_12);
    wolfSSL_CTX_free(client_11);
    tls_current_destroy(&current);
    tls_pair_remove_certs();
    tls_thread_end();
    return 0;
}

/* Starts a pair on the current server. */
static void pair_on_current(struct tls_pair *p, WOLFSSL_CTX *client, const char *sni,
                            const char *alpn)
{
    struct tls_server *server = tls_current_acquire(&current);
    tls_pair_start(p, client, server, sni, alpn);
    tls_server_unref(server); /* the session holds its own reference */
}

/* The subject CN of the certificate the client received. */
static void peer_cn(struct tls_pair *p, char *out, size_t out_bytes)
{
    WOLFSSL_X509 *x = wolfSSL_get_peer_certificate(p->client);
    assert_non_null(x);
    int n = wolfSSL_X509_NAME_get_text_by_NID(wolfSSL_X509_get_subject_name(x), NID_commonName, out,
                                              (int)out_bytes);
    assert_true(n > 0);
    wolfSSL_X509_free(x);
}

/* The DER of the certificate the client received, to tell two certificates apart. */
static size_t peer_der(struct tls_pair *p, uint8_t *out, size_t cap)
{
    WOLFSSL_X509 *x = wolfSSL_get_peer_certificate(p->client);
    assert_non_null(x);
    int len = 0;
    const unsigned char *der = wolfSSL_X509_get_der(x, &len);
    assert_non_null(der);
    assert_true(len > 0 && (size_t)len <= cap);
    memcpy(out, der, (size_t)len);
    wolfSSL_X509_free(x);
    return (size_t)len;
}

/* Both directions carry data after the handshake. */
static void assert_data_flows(struct tls_pair *p)
{
    size_t before = p->got_len;
    assert_int_equal(tls_pair_client_send_text(p, "ping", 4), 0);
    assert_int_equal(p->got_len, before + 4);
    assert_memory_equal(p->got + before, "ping", 4);
    assert_int_equal(tls_session_write(&p->server, "pong", 4), 0);
    tls_pair_take_output(p);
    char buf[16];
    int n;
    while ((n = tls_pair_client_read(p, buf, sizeof buf)) == 0 && tls_pipe_pending(&p->s2c))
        ;
    assert_int_equal(n, 4);
    assert_memory_equal(buf, "pong", 4);
}

static void tls13_handshake_negotiates_alpn_and_carries_data(void **state)
{
    (void)state;
    struct tls_pair p;
    pair_on_current(&p, client_any, "a.test", "h2,http/1.1");
    assert_int_equal(tls_pair_handshake(&p), 0);
    assert_true(tls_session_established(&p.server));
    assert_string_equal(tls_session_version(&p.server), "TLSv1.3");
    assert_string_equal(wolfSSL_get_version(p.client), "TLSv1.3");
    assert_true(tls_session_alpn_http11(&p.server));
    char *proto = NULL;
    unsigned short proto_len = 0;
    assert_int_equal(wolfSSL_ALPN_GetProtocol(p.client, &proto, &proto_len), WOLFSSL_SUCCESS);
    assert_int_equal(proto_len, 8);
    assert_memory_equal(proto, "http/1.1", 8);
    assert_string_equal(tls_session_server_name(&p.server), "a.test");
    assert_false(tls_session_resumed(&p.server));
    assert_data_flows(&p);
    tls_pair_end(&p);
}

static void tls12_handshake_uses_ecdhe_with_aead(void **state)
{
    (void)state;
    struct tls_pair p;
    pair_on_current(&p, client_12, "a.test", "http/1.1");
    assert_int_equal(tls_pair_handshake(&p), 0);
    assert_string_equal(tls_session_version(&p.server), "TLSv1.2");
    const char *cipher = tls_session_cipher(&p.server);
    assert_non_null(cipher);
    assert_non_null(strstr(cipher, "ECDHE-ECDSA-"));
    assert_true(strstr(cipher, "GCM") != NULL || strstr(cipher, "CHACHA20") != NULL);
    assert_true(tls_session_alpn_http11(&p.server));
    assert_data_flows(&p);
    tls_pair_end(&p);
}

static void tls11_is_refused_with_a_protocol_version_alert(void **state)
{
    (void)state;
    struct tls_pair p;
    pair_on_current(&p, client_11, "a.test", NULL);
    assert_int_equal(tls_pair_handshake(&p), TLS_ERR_VERSION);
    assert_int_equal(p.server.state, TLS_STATE_FAILED);
    /* The alert went out: record type 21, fatal (2), protocol_version (70). */
    assert_true(tls_pipe_pending(&p.s2c) >= 7);
    const uint8_t *alert = p.s2c.data + p.s2c.off;
    assert_int_equal(alert[0], 21);
    assert_int_equal(alert[5], 2);
    assert_int_equal(alert[6], 70);
    /* The session stays failed with the same error. */
    uint8_t plain[64];
    size_t used = 99;
    assert_int_equal(
        tls_session_feed(&p.server, (const uint8_t *)"x", 1, &used, plain, sizeof plain),
        TLS_ERR_VERSION);
    assert_int_equal(used, 0);
    assert_int_equal(tls_session_write(&p.server, "x", 1), TLS_ERR_VERSION);
    assert_string_equal(tls_error_name(TLS_ERR_VERSION), "tls_version");
    tls_pair_end(&p);
}

static void tls12_is_refused_when_the_minimum_is_13(void **state)
{
    (void)state;
    struct tls_options o = ab_options;
    o.min_version = 13;
    char err[256];
    struct tls_server *only13 = tls_server_new(&o, current.keys, err, sizeof err);
    assert_non_null(only13);
    struct tls_pair p;
    tls_pair_start(&p, client_12, only13, "a.test", NULL);
    assert_int_equal(tls_pair_handshake(&p), TLS_ERR_VERSION);
    tls_pair_end(&p);
    tls_pair_start(&p, client_any, only13, "a.test", NULL);
    assert_int_equal(tls_pair_handshake(&p), 0);
    assert_string_equal(tls_session_version(&p.server), "TLSv1.3");
    tls_pair_end(&p);
    tls_server_unref(only13);
}

static void rsa_certificates_use_ecdhe_rsa(void **state)
{
    (void)state;
    struct tls_cert_files files[] = {{tls_pair_path("rsa.pem"), tls_pair_path("rsa.key")}};
    struct tls_options o = {.certs = files, .cert_count = 1, .min_version = 12};
    char err[256];
    struct tls_server *s = tls_server_new(&o, NULL, err, sizeof err);
    if (s == NULL)
        fail_msg("%s", err);
    struct tls_pair p;
    tls_pair_start(&p, client_12, s, "rsa.test", "http/1.1");
    assert_int_equal(tls_pair_handshake(&p), 0);
    assert_non_null(strstr(tls_session_cipher(&p.server), "ECDHE-RSA-"));
    assert_data_flows(&p);
    tls_pair_end(&p);
    tls_pair_start(&p, client_any, s, "rsa.test", "http/1.1");
    assert_int_equal(tls_pair_handshake(&p), 0);
    assert_string_equal(tls_session_version(&p.server), "TLSv1.3");
    assert_data_flows(&p);
    tls_pair_end(&p);
    tls_server_unref(s);
}

static void alpn_without_http11_is_refused_and_no_alpn_is_served(void **state)
{
    (void)state;
    struct tls_pair p;
    pair_on_current(&p, client_any, "a.test", "h2");
    assert_int_equal(tls_pair_handshake(&p), TLS_ERR_ALPN);
    tls_pair_end(&p);

    pair_on_current(&p, client_any, "a.test", NULL);
    assert_int_equal(tls_pair_handshake(&p), 0);
    assert_false(tls_session_alpn_http11(&p.server));
    assert_data_flows(&p);
    tls_pair_end(&p);
}

static void sni_picks_the_certificate_for_the_name(void **state)
{
    (void)state;
    static const struct {
        const char *sni; /* NULL: the client sends no SNI */
        const char *cn;  /* the certificate expected */
        bool verify;     /* the client checks the name against the certificate */
    } cases[] = {
        {"a.test", "a.test", true},   {"b.test", "b.test", true},  {"B.TEST", "b.test", true},
        {"x.a.test", "a.test", true}, {"c.test", "a.test", false}, {NULL, "a.test", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tls_pair p;
        struct tls_server *server = tls_current_acquire(&current);
        tls_pair_start(&p, client_any, server, NULL, "http/1.1");
        tls_server_unref(server);
        if (cases[i].sni != NULL) {
            assert_int_equal(wolfSSL_UseSNI(p.client, WOLFSSL_SNI_HOST_NAME, cases[i].sni,
                                            (unsigned short)strlen(cases[i].sni)),
                             WOLFSSL_SUCCESS);
        }
        if (cases[i].verify)
            assert_int_equal(wolfSSL_check_domain_name(p.client, cases[i].sni), WOLFSSL_SUCCESS);
        assert_int_equal(tls_pair_handshake(&p), 0);
        char cn[64];
        peer_cn(&p, cn, sizeof cn);
        assert_string_equal(cn, cases[i].cn);
        assert_data_flows(&p);
        tls_pair_end(&p);
    }
}

static void sni_names_come_from_subject_alt_names_or_cn(void **state)
{
    (void)state;
    struct tls_cert_files files[] = {{tls_pair_path("a.pem"), tls_pair_path("a.key")},
                                     {tls_pair_path("cn.pem"), tls_pair_path("cn.key")}};
    struct tls_options o = {.certs = files, .cert_count = 2, .min_version = 12};
    char err[256];
    struct tls_server *s = tls_server_new(&o, NULL, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(tls_server_cert_count(s), 2);
    char text[512];
    tls_server_cert_describe(s, 0, text, sizeof text);
    assert_non_null(strstr(text, "names=a.test,*.a.test"));
    tls_server_cert_describe(s, 1, text, sizeof text);
    assert_non_null(strstr(text, "names=cn.test"));
    assert_int_equal(tls_sni_pick(s, "cn.test", 7), 1);
    assert_int_equal(tls_sni_pick(s, "CN.Test.", 8), 1);
    assert_int_equal(tls_sni_pick(s, "y.a.test", 8), 0);
    assert_int_equal(tls_sni_pick(s, "nothing", 7), 0);
    tls_server_unref(s);
}

static void wildcards_match_exactly_one_label(void **state)
{
    (void)state;
    assert_true(tls_sni_name_matches("*.a.test", "x.a.test", 8));
    assert_true(tls_sni_name_matches("*.a.test", "X.A.TEST.", 9));
    assert_false(tls_sni_name_matches("*.a.test", "a.test", 6));
    assert_false(tls_sni_name_matches("*.a.test", ".a.test", 7));
    assert_false(tls_sni_name_matches("*.a.test", "y.x.a.test", 10));
    assert_false(tls_sni_name_matches("*.a.test", "xa.test", 7));
    assert_true(tls_sni_name_matches("a.test", "a.test", 6));
    assert_false(tls_sni_name_matches("a.test", "a.tes", 5));
    assert_false(tls_sni_name_matches("a.test", "a.test.x", 8));
    assert_false(tls_sni_name_matches("a.test", "", 0));
}

/* A full handshake that keeps the client's session (its ticket) for later. */
/* `tickets`: whether the server hands out tickets. */
static WOLFSSL_SESSION *session_from_full_handshake(WOLFSSL_CTX *client, struct tls_server *s,
                                                    bool tickets)
{
    struct tls_pair p;
    tls_pair_start(&p, client, s, "a.test", "http/1.1");
    assert_int_equal(tls_pair_handshake(&p), 0);
    assert_false(tls_session_resumed(&p.server));
    assert_data_flows(&p); /* the client reads the TLS 1.3 NewSessionTicket on the way */
    WOLFSSL_SESSION *session = wolfSSL_get1_session(p.client);
    assert_non_null(session);
    assert_int_equal(wolfSSL_SESSION_has_ticket(session) == 1, tickets);
    tls_pair_end(&p);
    return session;
}

/* Tries to resume `session` on `s`; returns whether the server resumed it. */
static bool resumes(WOLFSSL_CTX *client, struct tls_server *s, WOLFSSL_SESSION *session)
{
    struct tls_pair p;
    tls_pair_start(&p, client, s, "a.test", "http/1.1");
    /* wolfSSL refuses a session without a ticket when no session cache could resume it;
     * the client then simply offers nothing. */
    if (wolfSSL_SESSION_has_ticket(session))
        assert_int_equal(wolfSSL_set_session(p.client, session), WOLFSSL_SUCCESS);
    assert_int_equal(tls_pair_handshake(&p), 0);
    bool resumed = tls_session_resumed(&p.server);
    assert_int_equal(resumed, wolfSSL_session_reused(p.client) == 1);
    assert_data_flows(&p);
    tls_pair_end(&p);
    return resumed;
}

static void resumption_by_ticket_in_tls13_and_tls12(void **state)
{
    (void)state;
    WOLFSSL_CTX *clients[] = {client_any, client_12};
    for (size_t i = 0; i < 2; i++) {
        struct tls_server *s = tls_current_acquire(&current);
        WOLFSSL_SESSION *session = session_from_full_handshake(clients[i], s, true);
        assert_true(resumes(clients[i], s, session));
        wolfSSL_SESSION_free(session);
        tls_server_unref(s);
    }
}

static void tickets_survive_one_key_rotation_not_two(void **state)
{
    (void)state;
    struct tls_server *s = tls_current_acquire(&current);
    WOLFSSL_SESSION *session = session_from_full_handshake(client_any, s, true);
    assert_int_equal(tls_ticket_keys_rotate(current.keys), 0);
    assert_true(resumes(client_any, s, session)); /* previous key, with a new ticket */
    assert_int_equal(tls_ticket_keys_rotate(current.keys), 0);
    assert_false(resumes(client_any, s, session)); /* full handshake, not an error */
    wolfSSL_SESSION_free(session);
    tls_server_unref(s);
}

static void tickets_off_means_full_handshakes(void **state)
{
    (void)state;
    struct tls_options o = ab_options;
    o.tickets = false;
    char err[256];
    struct tls_server *s = tls_server_new(&o, NULL, err, sizeof err);
    if (s == NULL)
        fail_msg("%s", err);
    WOLFSSL_CTX *clients[] = {client_any, client_12};
    for (size_t i = 0; i < 2; i++) {
        WOLFSSL_SESSION *session = session_from_full_handshake(clients[i], s, false);
        assert_false(resumes(clients[i], s, session));
        wolfSSL_SESSION_free(session);
    }
    tls_server_unref(s);
}

static void copy_file(const char *from, const char *to)
{
    char cmd[800];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    assert_int_equal(system(cmd), 0);
}

static void reload_swaps_certificates_for_new_sessions_only(void **state)
{
    (void)state;
    const char *live_cert = tls_pair_path("live.pem"), *live_key = tls_pair_path("live.key");
    copy_file(tls_pair_path("a.pem"), live_cert);
    copy_file(tls_pair_path("a.key"), live_key);
    struct tls_cert_files files[] = {{live_cert, live_key}};
    struct tls_options o = {.certs = files, .cert_count = 1, .min_version = 12, .tickets = true};
    struct tls_current cur;
    char err[256];
    assert_true(tls_current_init(&cur, &o, 600, err, sizeof err));
    assert_int_equal(cur.generation, 1);

    struct tls_pair before;
    struct tls_server *s = tls_current_acquire(&cur);
    tls_pair_start(&before, client_any, s, "a.test", "http/1.1");
    tls_server_unref(s);
    assert_int_equal(tls_pair_handshake(&before), 0);
    WOLFSSL_SESSION *ticket = wolfSSL_get1_session(before.client);
    assert_data_flows(&before);
    uint8_t der_before[2048], der_after[2048];
    size_t len_before = peer_der(&before, der_before, sizeof der_before);

    copy_file(tls_pair_path("a2.pem"), live_cert);
    copy_file(tls_pair_path("a2.key"), live_key);
    assert_true(tls_current_reload(&cur, &o, err, sizeof err));
    assert_int_equal(cur.generation, 2);

    struct tls_pair after;
    s = tls_current_acquire(&cur);
    tls_pair_start(&after, client_any, s, "a.test", "http/1.1");
    tls_server_unref(s);
    assert_int_equal(tls_pair_handshake(&after), 0);
    size_t len_after = peer_der(&after, der_after, sizeof der_after);
    assert_false(len_before == len_after && memcmp(der_before, der_after, len_after) == 0);
    assert_data_flows(&after);
    assert_data_flows(&before); /* the old connection still works on the old server */
    tls_pair_end(&after);

    /* A ticket from before the reload resumes on the new server (shared keys). */
    s = tls_current_acquire(&cur);
    assert_true(resumes(client_any, s, ticket));
    tls_server_unref(s);
    wolfSSL_SESSION_free(ticket);

    /* A failed reload keeps the server in place. */
    assert_int_equal(unlink(live_key), 0);
    assert_false(tls_current_reload(&cur, &o, err, sizeof err));
    assert_non_null(strstr(err, live_key));
    assert_non_null(strstr(err, "No such file"));
    assert_int_equal(cur.generation, 2);
    s = tls_current_acquire(&cur);
    tls_pair_start(&after, client_any, s, "a.test", "http/1.1");
    tls_server_unref(s);
    assert_int_equal(tls_pair_handshake(&after), 0);
    assert_int_equal(peer_der(&after, der_after, sizeof der_after), len_after);
    tls_pair_end(&after);

    tls_pair_end(&before); /* the last reference to the first server goes here */
    tls_current_destroy(&cur);
}

enum { THREAD_HANDSHAKES = 40, RELOADS = 10 };

static void *handshakes_on_current(void *arg)
{
    struct tls_current *cur = arg;
    for (int i = 0; i < THREAD_HANDSHAKES; i++) {
        struct tls_pair p;
        struct tls_server *s = tls_current_acquire(cur);
        tls_pair_start(&p, client_any, s, "a.test", "http/1.1");
        tls_server_unref(s);
        if (tls_pair_handshake(&p) != 0 || tls_pair_client_send_text(&p, "x", 1) != 0 ||
            p.got_len != 1)
            TLS_PAIR_DIE("handshake %d on a worker thread failed", i);
        tls_pair_end(&p);
    }
    tls_thread_end();
    return NULL;
}

/* Two threads start sessions from the current server while it is reloaded: every session
 * keeps a server alive while it runs, and no server is freed twice (ASan build). */
static void reload_while_other_threads_handshake(void **state)
{
    (void)state;
    struct tls_current cur;
    char err[256];
    assert_true(tls_current_init(&cur, &ab_options, 600, err, sizeof err));
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, handshakes_on_current, &cur), 0);
    for (int r = 0; r < RELOADS; r++)
        assert_true(tls_current_reload(&cur, &ab_options, err, sizeof err));
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    assert_int_equal(cur.generation, 1 + RELOADS);
    tls_current_destroy(&cur);
}

/* tls_server_new's error for `files`, which must fail. */
static void expect_load_error(const struct tls_cert_files *files, size_t count,
                              unsigned min_version, const char *needle)
{
    struct tls_options o = {.certs = files, .cert_count = count, .min_version = min_version};
    char err[256] = "";
    struct tls_server *s = tls_server_new(&o, NULL, err, sizeof err);
    if (s != NULL) {
        tls_server_unref(s);
        fail_msg("expected an error with \"%s\"", needle);
    }
    if (strstr(err, needle) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", err, needle);
}

static void bad_certificate_files_give_sentences(void **state)
{
    (void)state;
    const char *a = tls_pair_path("a.pem"), *a_key = tls_pair_path("a.key");
    const char *b_key = tls_pair_path("b.key"), *missing = tls_pair_path("missing.pem");
    const char *garbage = tls_pair_path("garbage.pem");
    FILE *f = fopen(garbage, "w");
    assert_non_null(f);
    fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n", f);
    fclose(f);

    struct tls_cert_files one[1] = {{missing, a_key}};
    expect_load_error(one, 1, 12, "tls_cert ");
    expect_load_error(one, 1, 12, "missing.pem: cannot read: No such file or directory");
    one[0] = (struct tls_cert_files){a, b_key};
    expect_load_error(one, 1, 12, "b.key: does not match the certificate in");
    one[0] = (struct tls_cert_files){garbage, a_key};
    expect_load_error(one, 1, 12, "garbage.pem: not a PEM certificate chain");
    one[0] = (struct tls_cert_files){tls_pair_path("rsa.pem"), tls_pair_path("rsa2.key")};
    expect_load_error(one, 1, 12, "rsa2.key: does not match the certificate in");
    one[0] = (struct tls_cert_files){tls_pair_path("rsa.pem"), a_key};
    expect_load_error(one, 1, 12, "a.key: does not match the certificate in");
    one[0] = (struct tls_cert_files){a, tls_pair_path("rsa.key")};
    expect_load_error(one, 1, 12, "rsa.key: does not match the certificate in");
    one[0] = (struct tls_cert_files){a, a};
    expect_load_error(one, 1, 12, "tls_key ");
    one[0] = (struct tls_cert_files){a, a_key};
    expect_load_error(one, 1, 11, "tls_min_version 11: must be 1.2 or 1.3");
    expect_load_error(one, 0, 12, "no certificate given");
    expect_load_error(one, TLS_CERTS_MAX + 1, 12, "at most 32");
    unlink(garbage);
}

static void every_error_has_a_name_and_a_sentence(void **state)
{
    (void)state;
    for (int e = -1; e >= TLS_ERROR_MIN; e--) {
        assert_string_not_equal(tls_error_name(e), "tls_unknown");
        assert_true(strlen(tls_error_sentence(e)) > 10);
        for (int f = e - 1; f >= TLS_ERROR_MIN; f--)
            assert_string_not_equal(tls_error_name(e), tls_error_name(f));
    }
    assert_string_equal(tls_error_name(0), "tls_unknown");
    assert_string_equal(tls_error_name(TLS_ERROR_MIN - 1), "tls_unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tls13_handshake_negotiates_alpn_and_carries_data),
        cmocka_unit_test(tls12_handshake_uses_ecdhe_with_aead),
        cmocka_unit_test(tls11_is_refused_with_a_protocol_version_alert),
        cmocka_unit_test(tls12_is_refused_when_the_minimum_is_13),
        cmocka_unit_test(rsa_certificates_use_ecdhe_rsa),
        cmocka_unit_test(alpn_without_http11_is_refused_and_no_alpn_is_served),
        cmocka_unit_test(sni_picks_the_certificate_for_the_name),
        cmocka_unit_test(sni_names_come_from_subject_alt_names_or_cn),
        cmocka_unit_test(wildcards_match_exactly_one_label),
        cmocka_unit_test(resumption_by_ticket_in_tls13_and_tls12),
        cmocka_unit_test(tickets_survive_one_key_rotation_not_two),
        cmocka_unit_test(tickets_off_means_full_handshakes),
        cmocka_unit_test(reload_swaps_certificates_for_new_sessions_only),
        cmocka_unit_test(reload_while_other_threads_handshake),
        cmocka_unit_test(bad_certificate_files_give_sentences),
        cmocka_unit_test(every_error_has_a_name_and_a_sentence),
    };
    return cmocka_run_group_tests(tests, certs_setup, certs_teardown);
}
