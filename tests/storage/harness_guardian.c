/* The throwaway-server harnesses' guardian and free port: see harness_guardian.h. */
#include "harness_guardian.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void guardian_main(int read_fd, const char *dir, void (*stop_server)(const void *arg),
                          const void *arg)
{
    setsid();
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    char byte;
    ssize_t got;
    do
        got = read(read_fd, &byte, 1);
    while (got < 0 && errno == EINTR);
    stop_server(arg);
    pid_t rm = fork();
    if (rm == 0) {
        execlp("rm", "rm", "-rf", dir, (char *)NULL);
        _exit(127);
    }
    if (rm > 0)
        while (waitpid(rm, NULL, 0) < 0 && errno == EINTR)
            ;
    _exit(0);
}

int harness_guardian_start(struct harness_guardian *g, const char *dir,
                           void (*stop_server)(const void *arg), const void *arg)
{
    g->pid = 0;
    g->write_fd = -1;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        close(fds[0]);
        close(fds[1]);
        errno = saved;
        return -1;
    }
    if (pid == 0) {
        close(fds[1]);
        guardian_main(fds[0], dir, stop_server, arg);
    }
    close(fds[0]);
    g->pid = pid;
    g->write_fd = fds[1];
    return 0;
}

void harness_guardian_stop(struct harness_guardian *g)
{
    if (g->write_fd >= 0) {
        close(g->write_fd);
        g->write_fd = -1;
    }
    if (g->pid > 0) {
        while (waitpid(g->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        g->pid = 0;
    }
}

int harness_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
        port = ntohs(addr.sin_port);
    close(fd);
    return port;
}
