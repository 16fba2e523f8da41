/* Session ticket keys: resumption without server state.
 *
 * Why tickets and not wolfSSL's session cache: the cache is one process-wide table behind
 * a lock, 33 entries in Debian's build, and it would hold memory per resumable client;
 * a ticket is the session state encrypted under a key only the server knows and kept by
 * the client, so resumption costs the server nothing between connections and works on
 * every worker (SO_REUSEPORT sends a reconnecting client to any of them).
 *
 * Tickets are sealed with ChaCha20-Poly1305 (constant-time in software; this wolfSSL build
 * has no AES-NI) under a 256-bit key named by 16 random bytes; the name and the nonce are
 * authenticated with the ticket. The key rotates every `lifetime_s`: tickets sealed with
 * the previous key still resume (and the client gets a new ticket), older ones fall back
 * to a full handshake. wolfSSL itself refuses tickets older than lifetime_s.
 *
 * Keys live only in memory: after a restart, or on another process sharing the port,
 * clients do a full handshake. Thread-safe (one mutex, held for a few copies per ticket).
 */
#ifndef TIDEGATE_CORE_TLS_TICKET_H
#define TIDEGATE_CORE_TLS_TICKET_H

#include <stdint.h>

enum {
    TLS_TICKET_LIFETIME_S_MIN = 60,
    TLS_TICKET_LIFETIME_S_MAX = 7 * 24 * 3600, /* RFC 8446 4.6.1 */
};

struct tls_ticket_keys;

/* Makes a first random key. NULL when out of memory, when the RNG fails, or when
 * lifetime_s is outside TLS_TICKET_LIFETIME_S_MIN..MAX. */
struct tls_ticket_keys *tls_ticket_keys_new(uint32_t lifetime_s);
void tls_ticket_keys_free(struct tls_ticket_keys *k);

uint32_t tls_ticket_keys_lifetime_s(const struct tls_ticket_keys *k);

/* Rotates at once, as if lifetime_s had passed (for tests, and for an operator who fears
 * a key leaked: rotating twice invalidates every ticket). Returns 0 or a negative value
 * when the RNG fails (the old keys stay). */
int tls_ticket_keys_rotate(struct tls_ticket_keys *k);

#endif
