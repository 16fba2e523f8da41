/* TLS termination with wolfSSL, over memory: wolfSSL never touches a socket.
 *
 * Three objects:
 *
 *   struct tls_server   the certificates and settings for new connections: one wolfSSL
 *                       context per certificate (picked by SNI; the first is the default),
 *                       TLS 1.2 and 1.3 only, ECDHE with AES-GCM or ChaCha20-Poly1305, ALPN
 *                       http/1.1, resumption by session ticket. Immutable once built, shared
 *                       by every worker thread, reference-counted: every session holds one
 *                       reference, so a server lives until its last connection ends.
 *   struct tls_current  the server that new connections get. tls_current_reload builds a new
 *                       server from the files and swaps it in; connections already open keep
 *                       the one they started with (certificate reload on SIGHUP).
 *   struct tls_session  one connection. The caller moves bytes: ciphertext that arrived goes
 *                       in with tls_session_feed (plaintext comes out into the caller's
 *                       buffer), plaintext to send goes in with tls_session_write, and the
 *                       ciphertext wolfSSL produced comes out as one out_chunk from
 *                       tls_session_output_take, ready for the connection's outq.
 *
 * The one thing to know before changing it: wolfSSL reads from and writes to the session
 * only inside tls_session_feed, tls_session_write(v) and tls_session_close. The input a
 * feed lends is consumed (copied into wolfSSL's record buffer) before the call returns
 * whenever the call returns 0, and output is never refused, so wolfSSL never waits for a
 * socket and the caller's receive buffer can be recycled after each completion.
 *
 * Threads: a tls_server and tls_current are shared; a tls_session belongs to one thread.
 * Session tickets are encrypted with keys shared by all servers of a tls_current (see
 * tls_ticket.h), so a client resumes on any worker and across reloads.
 */
#ifndef TIDEGATE_CORE_TLS_H
#define TIDEGATE_CORE_TLS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "core/outq.h"

enum {
    TLS_CERTS_MAX = 32,            /* certificate/key pairs per server */
    TLS_PEM_BYTES_MAX = 256 << 10, /* a certificate chain or key file */
    TLS_NAME_BYTES_MAX = 253,      /* a DNS name (SNI or subjectAltName) */
    TLS_NAMES_PER_CERT_MAX = 100,  /* subjectAltName DNS entries used per certificate */
    TLS_RECORD_PLAIN_MAX = 16384,  /* plaintext bytes in one TLS record */
    /* Ciphertext not yet taken by tls_session_output_take; a write that would pass it fails
     * with TLS_ERR_OUTPUT_FULL (the caller's send queue limit should stop it long before). */
    TLS_OUTPUT_BYTES_MAX = 64 << 20,
};

/* ---- errors ---- */

/* Results of the session calls: >= 0 is success (a byte count for tls_session_feed), the
 * negative values name what went wrong. After any error but TLS_PEER_CLOSED the session is
 * failed: every later call returns the same error. Output produced on the way (a fatal
 * alert) is still to be taken and sent before the connection is closed. */
enum tls_error {
    TLS_PEER_CLOSED = -1,     /* the peer sent close_notify: no more plaintext will come */
    TLS_ERR_VERSION = -2,     /* the client offered no TLS version >= the minimum */
    TLS_ERR_NEGOTIATION = -3, /* no shared cipher suite, group or signature algorithm */
    TLS_ERR_ALPN = -4,        /* the client offered ALPN protocols, none of them http/1.1 */
    TLS_ERR_PROTOCOL = -5,    /* malformed or unexpected handshake or record */
    TLS_ERR_RECORD = -6,      /* a record failed to decrypt or authenticate */
    TLS_ERR_PEER_ALERT = -7,  /* the peer sent a fatal alert */
    TLS_ERR_STATE = -8,       /* writing before the handshake finished or after close */
    TLS_ERR_OUTPUT_FULL = -9, /* more than TLS_OUTPUT_BYTES_MAX of output not taken */
    TLS_ERR_NOMEM = -10,      /* out of memory */
    TLS_ERR_INTERNAL = -11,   /* wolfSSL failed in a way the peer cannot cause */
    TLS_ERROR_MIN = TLS_ERR_INTERNAL,
};

/* Short snake_case name for metrics labels and logs ("tls_version"), never NULL. */
const char *tls_error_name(int error);
/* A sentence for logs ("the client offered no TLS version we accept"), never NULL. */
const char *tls_error_sentence(int error);

/* ---- process ---- */

/* Initialises wolfSSL once per process (thread-safe, idempotent). Returns false when
 * wolfSSL cannot start. Every other call here expects it to have succeeded. */
bool tls_global_init(void);

/* Frees the per-thread ECC caches wolfSSL built for the calling thread. Every thread that
 * ran handshakes calls it before it exits (otherwise LeakSanitizer reports them). */
void tls_thread_end(void);

/* ---- server (certificates and settings) ---- */

struct tls_cert_files {
    const char *cert_path; /* PEM: the certificate, then its intermediates */
    const char *key_path;  /* PEM: its private key (not encrypted) */
};

struct tls_options {
    const struct tls_cert_files *certs; /* certs[0] also serves clients without (known) SNI */
    size_t cert_count;                  /* 1..TLS_CERTS_MAX */
    unsigned min_version;               /* 12 (TLS 1.2 and 1.3) or 13 (TLS 1.3 only) */
    bool tickets;                       /* resumption by session ticket */
};

struct tls_server;
struct tls_ticket_keys;

/* Builds a server from the files named in `o`. The SNI names of each certificate are its
 * subjectAltName DNS entries (CN when it has none); "*.example.com" matches one label.
 * `keys` encrypts tickets (borrowed: it must outlive the server; may be NULL when
 * o->tickets is false). Returns the server with one reference, or NULL with a sentence in
 * err ("tls_cert /etc/x.pem: cannot read: No such file or directory"). */
struct tls_server *tls_server_new(const struct tls_options *o, struct tls_ticket_keys *keys,
                                  char *err, size_t err_bytes);
void tls_server_ref(struct tls_server *s);
void tls_server_unref(struct tls_server *s);

/* Describes certificate `i` (< tls_server_cert_count) for logs: its file and its names,
 * "a.test,*.a.test". Returns the bytes written (truncated to fit, NUL-terminated). */
size_t tls_server_cert_count(const struct tls_server *s);
size_t tls_server_cert_describe(const struct tls_server *s, size_t i, char *out, size_t out_bytes);

/* ---- the server for new connections ---- */

struct tls_current {
    pthread_mutex_t lock;
    struct tls_server *server;    /* one reference; read only under lock */
    struct tls_ticket_keys *keys; /* owned, shared by every server built here */
    uint64_t generation;          /* 1 after init, +1 per successful reload */
};

/* Builds the first server. `ticket_lifetime_s` (60..604800) is how long a ticket resumes a
 * session; the ticket key rotates every lifetime and the previous one is honoured for one
 * more. Returns false with a sentence in err. */
bool tls_current_init(struct tls_current *c, const struct tls_options *o,
                      uint32_t ticket_lifetime_s, char *err, size_t err_bytes);

/* Returns the server for a new connection with a new reference (never NULL after init). */
struct tls_server *tls_current_acquire(struct tls_current *c);

/* Builds a new server from `o` (the files are read again) and makes it the one new
 * connections get. On failure the old server stays, and err says why. */
bool tls_current_reload(struct tls_current *c, const struct tls_options *o, char *err,
                        size_t err_bytes);

/* Drops the current server (sessions still open keep theirs) and frees the ticket keys:
 * call it only once no session or server built here is left. */
void tls_current_destroy(struct tls_current *c);

/* ---- session (one connection) ---- */

enum tls_session_state {
    TLS_STATE_HANDSHAKE = 0,
    TLS_STATE_OPEN,        /* handshake done: data both ways */
    TLS_STATE_PEER_CLOSED, /* close_notify received: we may still write */
    TLS_STATE_FAILED,
};

/* Embeddable (56 bytes on x86-64); fields are private to core/tls_session.c. */
struct tls_session {
    void *ssl;                 /* WOLFSSL *, owned */
    struct tls_server *server; /* one reference, dropped by tls_session_end */
    const uint8_t *in;         /* ciphertext lent by the running tls_session_feed */
    size_t in_len;
    struct out_chunk *out; /* ciphertext not yet taken (out->len = bytes allocated) */
    uint32_t out_len;      /* bytes of out->data filled */
    uint8_t state;         /* enum tls_session_state */
    int8_t error;          /* the tls_error once failed */
    bool out_failed;       /* an output append failed (no memory or over the limit) */
    bool out_full;         /* ... because of TLS_OUTPUT_BYTES_MAX */
    int wolf_error;        /* wolfSSL's error code behind `error`, for logs */
};

/* Starts the server side of a connection with `server` (takes a reference). Allocates
 * nothing: wolfSSL's state is created when the first bytes arrive. */
void tls_session_start(struct tls_session *s, struct tls_server *server);

/* Frees the session's wolfSSL state and untaken output and drops the server reference.
 * Sends nothing: call tls_session_close first for a close_notify. */
void tls_session_end(struct tls_session *s);

/* Offers `in_len` bytes of ciphertext (borrowed for this call only); drives the handshake
 * and decrypts. Returns the count of plaintext bytes written to `plain` (1..plain_cap), or
 * 0 when every input byte has been taken and more are needed, or a tls_error.
 * `*in_used` says how much of `in` was taken, so the caller calls again with the rest
 * while the result is > 0: plaintext may come in several pieces, and a record bigger than
 * plain_cap is handed out over several calls (with in_len 0 if need be). Output
 * (handshake messages, alerts, key updates) may be produced: take it after the loop. */
ssize_t tls_session_feed(struct tls_session *s, const uint8_t *in, size_t in_len, size_t *in_used,
                         uint8_t *plain, size_t plain_cap);

/* Encrypts `len` bytes (records of up to 16 KiB) into the pending output. Returns 0 or a
 * tls_error (TLS_ERR_STATE before the handshake is done or after close). */
int tls_session_write(struct tls_session *s, const void *plain, size_t len);

/* The same for the bytes of `iov`, gathered into as few records as possible: small
 * pieces share a record (copied through a per-thread 16 KiB buffer), big ones are
 * encrypted in place. For a turn's whole send queue at once. */
int tls_session_writev(struct tls_session *s, const struct iovec *iov, unsigned iov_count);

/* Queues a close_notify alert (once). Returns 0 or a tls_error. */
int tls_session_close(struct tls_session *s);

/* Bytes of output waiting to be taken. */
static inline size_t tls_session_output_bytes(const struct tls_session *s)
{
    return s->out_len;
}

/* Hands over the output produced so far as one chunk holding one reference (the caller's,
 * typically pushed to the outq and then unreferenced), or NULL when there is none. */
struct out_chunk *tls_session_output_take(struct tls_session *s);

static inline bool tls_session_established(const struct tls_session *s)
{
    return s->state == TLS_STATE_OPEN || s->state == TLS_STATE_PEER_CLOSED;
}

/* After the handshake: "TLSv1.3", the cipher suite's name, the SNI name the client sent
 * (NULL without one), whether the session was resumed from a ticket, whether ALPN chose
 * http/1.1. For logs and metrics; the strings live as long as the session (NULL or false
 * before the first bytes arrived). */
const char *tls_session_version(const struct tls_session *s);
const char *tls_session_cipher(const struct tls_session *s);
const char *tls_session_server_name(const struct tls_session *s);
bool tls_session_resumed(const struct tls_session *s);
bool tls_session_alpn_http11(const struct tls_session *s);

/* wolfSSL's own text for the error behind the session's failure, for debug logs. */
void tls_session_error_detail(const struct tls_session *s, char *out, size_t out_bytes);

#endif
