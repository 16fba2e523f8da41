/* TLS handshakes per second on one core, and the memory of idle TLS sessions, for
 * core/tls with Debian's wolfSSL: an in-memory wolfSSL client (tests/unit/tls_pair.h)
 * against core/tls server sessions, no sockets, one thread. Server time is the thread CPU
 * time spent inside the server's calls (tls_session_feed and taking output), so the rate
 * is what one worker core could serve; the client's own work is reported apart.
 *
 * Build (a stand-alone tool, like alloc_count.c; needs an optimised core library):
 *   cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build --target
 * tidegate_core cc -O2 -I. -o build/tls_handshakes bench/tls_handshakes.c build/libtidegate_core.a
 * -lwolfssl -lpthread Run: build/tls_handshakes [--seconds S] [--idle N] Certificates: ECDSA P-256
 * (tests/unit/tls_certs/make_certs.sh, into a temporary directory). Cases: TLS 1.3 with an X25519
 * or a P-256 key share, TLS 1.2 ECDHE-ECDSA (P-256 and X25519), and resumed TLS 1.3 and 1.2
 * (session tickets). Then N idle established sessions (default 10000): wolfSSL heap bytes and RSS
 * per session.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/unit/tls_pair.h"

#include "core/tls_ticket.h"

struct bench_case {
    const char *name;
    int version;  /* 13 or 12 */
    int group;    /* WOLFSSL_ECC_X25519 or WOLFSSL_ECC_SECP256R1 */
    bool resumed; /* offer a ticket from an earlier handshake */
};

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One handshake; adds the server's CPU seconds to *server_s. Returns the client's session
 * (for resumption) when `keep` is set. */
static WOLFSSL_SESSION *one_handshake(WOLFSSL_CTX *cctx, struct tls_server *server,
                                      const struct bench_case *c, WOLFSSL_SESSION *resume,
                                      bool keep, double *server_s)
{
    struct tls_pair p;
    tls_pair_start(&p, cctx, server, "a.test", "http/1.1");
    /* The one group the client offers: TLS 1.3 takes a list and a key share, TLS 1.2 the
     * supported_groups extension. */
    int groups[1] = {c->group};
    if (c->version == 13 &&
        (wolfSSL_set_groups(p.client, groups, 1) != WOLFSSL_SUCCESS ||
         wolfSSL_UseKeyShare(p.client, (unsigned short)c->group) != WOLFSSL_SUCCESS))
        TLS_PAIR_DIE("%s: the client refused group %d", c->name, c->group);
    if (c->version == 12 &&
        wolfSSL_UseSupportedCurve(p.client, (unsigned short)c->group) != WOLFSSL_SUCCESS)
        TLS_PAIR_DIE("%s: the client refused group %d", c->name, c->group);
    if (resume != NULL && wolfSSL_set_session(p.client, resume) != WOLFSSL_SUCCESS)
        TLS_PAIR_DIE("wolfSSL_set_session failed");
    for (int turn = 0; turn < TLS_PAIR_TURNS_MAX; turn++) {
        int rc = wolfSSL_connect(p.client);
        if (rc != WOLFSSL_SUCCESS && wolfSSL_get_error(p.client, rc) != WOLFSSL_ERROR_WANT_READ)
            TLS_PAIR_DIE("%s: client failed (%d)", c->name, wolfSSL_get_error(p.client, rc));
        double t0 = thread_cpu_s();
        int served = tls_pair_serve(&p);
        *server_s += thread_cpu_s() - t0;
        if (served < 0)
            TLS_PAIR_DIE("%s: server failed: %s", c->name, tls_error_name(served));
        if (rc == WOLFSSL_SUCCESS && tls_session_established(&p.server) &&
            tls_pipe_pending(&p.c2s) == 0)
            break;
    }
    if (c->resumed != (resume != NULL) || (resume != NULL && !tls_session_resumed(&p.server)))
        TLS_PAIR_DIE("%s: resumption %s", c->name, resume ? "refused" : "unexpected");
    WOLFSSL_SESSION *kept = NULL;
    if (keep) {
        char b[8];
        (void)tls_pair_client_read(&p, b, sizeof b); /* takes the TLS 1.3 ticket */
        kept = wolfSSL_get1_session(p.client);
    }
    tls_pair_end(&p);
    return kept;
}

static void run_case(struct tls_server *server, const struct bench_case *c, double seconds)
{
    WOLFSSL_CTX *cctx = tls_pair_client_ctx(c->version == 13 ? wolfTLSv1_3_client_method()
                                                             : wolfTLSv1_2_client_method());
    double ignored = 0;
    WOLFSSL_SESSION *ticket =
        c->resumed ? one_handshake(cctx, server,
                                   &(struct bench_case){c->name, c->version, c->group, false}, NULL,
                                   true, &ignored)
                   : NULL;
    for (int warm = 0; warm < 20; warm++)
        (void)one_handshake(cctx, server, c, ticket, false, &ignored);
    double server_s = 0, start_cpu = thread_cpu_s(), start = wall_s();
    long count = 0;
    while (wall_s() - start < seconds) {
        (void)one_handshake(cctx, server, c, ticket, false, &server_s);
        count++;
    }
    double total_cpu = thread_cpu_s() - start_cpu;
    printf("%-34s %7ld handshakes  server %8.0f/s (%6.1f us each)  client+server %7.0f/s\n",
           c->name, count, (double)count / server_s, 1e6 * server_s / (double)count,
           (double)count / total_cpu);
    if (ticket != NULL)
        wolfSSL_SESSION_free(ticket);
    wolfSSL_CTX_free(cctx);
}

static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (f == NULL || fscanf(f, "%ld %ld", &pages, &resident) != 2)
        TLS_PAIR_DIE("cannot read /proc/self/statm");
    fclose(f);
    return resident * 4096;
}

/* N established sessions left idle after one small message each way, clients freed. */
static void idle_sessions(struct tls_server *server, long n)
{
    WOLFSSL_CTX *cctx = tls_pair_client_ctx(wolfSSLv23_client_method());
    struct tls_pair *pairs = calloc((size_t)n, sizeof *pairs);
    if (pairs == NULL)
        TLS_PAIR_DIE("out of memory");
    malloc_trim(0);
    long long heap0 = tls_pair_wolf_bytes();
    long rss0 = rss_bytes();
    for (long i = 0; i < n; i++) {
        struct tls_pair *p = &pairs[i];
        tls_pair_start(p, cctx, server, "a.test", "http/1.1");
        if (tls_pair_handshake(p) != 0 || tls_pair_client_send_text(p, "hello", 5) != 0 ||
            tls_pair_server_send(p, "world", 5) != 0)
            TLS_PAIR_DIE("idle session %ld failed", i);
        char b[8];
        (void)tls_pair_client_read(p, b, sizeof b);
        wolfSSL_free(p->client);
        p->client = NULL;
        tls_pipe_free(&p->c2s);
        tls_pipe_free(&p->s2c);
        free(p->got);
        p->got = NULL;
    }
    malloc_trim(0);
    long long heap = tls_pair_wolf_bytes() - heap0;
    long rss = rss_bytes() - rss0;
    printf("%ld idle TLS sessions: wolfSSL heap %.0f bytes each, RSS %.0f bytes each "
           "(+ %zu for struct tls_session)\n",
           n, (double)heap / (double)n, (double)rss / (double)n, sizeof(struct tls_session));
    for (long i = 0; i < n; i++)
        tls_session_end(&pairs[i].server);
    free(pairs);
    wolfSSL_CTX_free(cctx);
}

int main(int argc, char **argv)
{
    double seconds = 3;
    long idle = 10000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--idle") == 0 && i + 1 < argc)
            idle = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--seconds S] [--idle N]\n", argv[0]);
            return 2;
        }
    }
    tls_pair_count_memory();
    if (!tls_global_init())
        TLS_PAIR_DIE("wolfSSL_Init failed");
    tls_pair_make_certs();
    struct tls_ticket_keys *keys = tls_ticket_keys_new(3600);
    char a_pem[320], a_key[320], err[256];
    snprintf(a_pem, sizeof a_pem, "%s", tls_pair_path("a.pem"));
    snprintf(a_key, sizeof a_key, "%s", tls_pair_path("a.key"));
    struct tls_cert_files files[] = {{a_pem, a_key}};
    struct tls_options o = {.certs = files, .cert_count = 1, .min_version = 12, .tickets = true};
    struct tls_server *server = keys != NULL ? tls_server_new(&o, keys, err, sizeof err) : NULL;
    if (server == NULL)
        TLS_PAIR_DIE("server: %s", keys != NULL ? err : "no ticket keys");
    printf("wolfSSL %s, ECDSA P-256 certificate, one thread, %.1f s per case\n",
           wolfSSL_lib_version(), seconds);
    static const struct bench_case cases[] = {
        {"TLS 1.3 full, X25519", 13, WOLFSSL_ECC_X25519, false},
        {"TLS 1.3 full, P-256", 13, WOLFSSL_ECC_SECP256R1, false},
        {"TLS 1.2 full, ECDHE X25519", 12, WOLFSSL_ECC_X25519, false},
        {"TLS 1.2 full, ECDHE P-256", 12, WOLFSSL_ECC_SECP256R1, false},
        {"TLS 1.3 resumed (ticket), X25519", 13, WOLFSSL_ECC_X25519, true},
        {"TLS 1.2 resumed (ticket)", 12, WOLFSSL_ECC_X25519, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(server, &cases[i], seconds);
    if (idle > 0)
        idle_sessions(server, idle);
    tls_server_unref(server);
    tls_ticket_keys_free(keys);
    tls_pair_remove_certs();
    tls_thread_end();
    return 0;
}
