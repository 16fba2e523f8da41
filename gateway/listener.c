/* Listening sockets: see listener.h. Errors are turned into advice here, once, so every
 * caller reports the same sentence. */
#include "gateway/listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"

static const char *listener_advice(int err)
{
    switch (err) {
    case EACCES:
        return " (run as root or set net.ipv4.ip_unprivileged_port_start)";
    case EADDRINUSE:
        return " (another process holds the port without SO_REUSEPORT; stop it or pick "
               "another port)";
    case EADDRNOTAVAIL:
        return " (no interface on this host has that address)";
    case EMFILE:
    case ENFILE:
        return " (out of file descriptors: raise LimitNOFILE / ulimit -n)";
    default:
        return "";
    }
}

int listener_open(const struct sockaddr *addr, socklen_t addr_len, bool reuseport, int backlog,
                  char err[LISTENER_ERROR_BYTES])
{
    char text[64];
    config_addr_format(addr, text, sizeof text);
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const char *step = "socket";
    if (fd < 0)
        goto fail;
    int one = 1;
    step = "setsockopt SO_REUSEADDR";
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        goto fail;
    step = "setsockopt SO_REUSEPORT";
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        goto fail;
    step = "bind";
    if (bind(fd, addr, addr_len) != 0)
        goto fail;
    step = "listen";
    if (listen(fd, backlog) != 0)
        goto fail;
    return fd;
fail:;
    int saved = errno;
    snprintf(err, LISTENER_ERROR_BYTES, "listen %s: %s failed: %s%s", text, step, strerror(saved),
             listener_advice(saved));
    if (fd >= 0)
        close(fd);
    return -1;
}

int listener_local_addr(int fd, struct sockaddr_storage *addr, socklen_t *addr_len)
{
    *addr_len = sizeof *addr;
    return getsockname(fd, (struct sockaddr *)addr, addr_len) == 0 ? 0 : -1;
}
