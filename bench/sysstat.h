/* What the harness reads about processes and the kernel: resident memory and CPU time of
 * the server processes (by pid, from /proc), and TCP socket totals from
 * /proc/net/sockstat. All readings are best effort: a value that cannot be read is
 * reported as unavailable (false or -1), never as zero.
 */
#ifndef TIDEGATE_BENCH_SYSSTAT_H
#define TIDEGATE_BENCH_SYSSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Sum of Rss (/proc/PID/smaps_rollup) over `pids`, in bytes. False if any cannot be read. */
bool sysstat_rss_bytes(const pid_t *pids, size_t count, uint64_t *bytes);

/* Sum of user + system CPU time (/proc/PID/stat, all threads) over `pids`, in microseconds.
 * False if any cannot be read. */
bool sysstat_cpu_us(const pid_t *pids, size_t count, uint64_t *us);

struct sysstat_sockets {
    int64_t tcp_inuse;     /* TCP sockets in use, -1 when unknown */
    int64_t tcp_tw;        /* in TIME_WAIT */
    int64_t tcp_mem_bytes; /* memory the kernel accounts to TCP buffers (mem pages * page size) */
};
void sysstat_sockets(struct sysstat_sockets *out);

/* Parses the "TCP:" line of /proc/net/sockstat text (exposed for tests). */
bool sysstat_parse_sockstat(const char *text, long page_bytes, struct sysstat_sockets *out);

/* Kernel slab memory (Slab in /proc/meminfo), in bytes: where socket structures live.
 * Machine-wide, so it counts both ends of loopback connections. False when unknown. */
bool sysstat_slab_bytes(uint64_t *bytes);

/* MemAvailable in /proc/meminfo, in bytes. False when unknown. */
bool sysstat_available_bytes(uint64_t *bytes);

/* The local port range (net.ipv4.ip_local_port_range): its first port and how many.
 * False (and 0, 0) when unknown. */
bool sysstat_local_ports(uint32_t *first, uint32_t *count);

#endif
