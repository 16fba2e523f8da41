/* TLS process set-up and the error vocabulary shared by the tls_* files (see tls.h). */
#include "core/tls_internal.h"

#include <wolfssl/wolfcrypt/ecc.h>

static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static bool tls_ready;

static void tls_init_once(void)
{
    tls_ready = wolfSSL_Init() == WOLFSSL_SUCCESS;
}

bool tls_global_init(void)
{
    pthread_once(&tls_once, tls_init_once);
    return tls_ready;
}

void tls_thread_end(void)
{
    /* FP_ECC in Debian's build: a per-thread table of precomputed points, grown by the
     * first ECDSA signature or ECDH on each thread. */
    wc_ecc_fp_free();
}

struct tls_error_text {
    const char *name;
    const char *sentence;
};

static const struct tls_error_text tls_errors[] = {
    [-TLS_PEER_CLOSED] = {"peer_closed", "the peer closed the TLS session (close_notify)"},
    [-TLS_ERR_VERSION] = {"tls_version", "the client offered no TLS version we accept"},
    [-TLS_ERR_NEGOTIATION] = {"tls_negotiation",
                              "the client shares no cipher suite, group or signature "
                              "algorithm with us"},
    [-TLS_ERR_ALPN] = {"tls_alpn", "the client's ALPN protocols do not include http/1.1"},
    [-TLS_ERR_PROTOCOL] = {"tls_protocol", "the peer sent a malformed or unexpected TLS message"},
    [-TLS_ERR_RECORD] = {"tls_record", "a TLS record failed to decrypt or authenticate"},
    [-TLS_ERR_PEER_ALERT] = {"tls_peer_alert", "the peer ended the session with a fatal alert"},
    [-TLS_ERR_STATE] = {"tls_state", "TLS data written before the handshake or after close"},
    [-TLS_ERR_OUTPUT_FULL] = {"tls_output_full", "too much TLS output waiting to be sent"},
    [-TLS_ERR_NOMEM] = {"tls_nomem", "out of memory in TLS"},
    [-TLS_ERR_INTERNAL] = {"tls_internal", "wolfSSL failed unexpectedly"},
};

static const struct tls_error_text *tls_error_text(int error)
{
    static const struct tls_error_text unknown = {"tls_unknown", "unknown TLS error"};
    if (error >= 0 || error < TLS_ERROR_MIN)
        return &unknown;
    return &tls_errors[-error];
}

const char *tls_error_name(int error)
{
    return tls_error_text(error)->name;
}

const char *tls_error_sentence(int error)
{
    return tls_error_text(error)->sentence;
}
