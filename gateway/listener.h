/* Listening sockets: one per worker on the public address (SO_REUSEPORT, so workers and
 * other processes share the port and the kernel spreads connections), one for admin. */
#ifndef TIDEGATE_GATEWAY_LISTENER_H
#define TIDEGATE_GATEWAY_LISTENER_H

#include <stdbool.h>
#include <sys/socket.h>

enum { LISTENER_ERROR_BYTES = 512 };

/* Opens, binds and listens. `addr` may have port 0: the kernel picks one; read it back with
 * listener_local_addr to open the other workers' sockets on the same port. Returns the fd,
 * or -1 with a sentence in `err` that names the address and what to do. */
int listener_open(const struct sockaddr *addr, socklen_t addr_len, bool reuseport, int backlog,
                  char err[LISTENER_ERROR_BYTES]);

/* The bound address of `fd` (getsockname). Returns 0 or -1. */
int listener_local_addr(int fd, struct sockaddr_storage *addr, socklen_t *addr_len);

#endif
