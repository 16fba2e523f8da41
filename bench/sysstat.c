/* Process and kernel readings: see sysstat.h. */
#include "bench/sysstat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    size_t n = fread(buf, 1, cap - 1, f);
    bool ok = !ferror(f);
    fclose(f);
    buf[n] = '\0';
    return ok && n > 0;
}

bool sysstat_rss_bytes(const pid_t *pids, size_t count, uint64_t *bytes)
{
    uint64_t total = 0;
    for (size_t i = 0; i < count; i++) {
        char path[64], buf[4096];
        snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pids[i]);
        if (!read_file(path, buf, sizeof buf))
            return false;
        const char *rss = strstr(buf, "\nRss:");
        unsigned long long kb;
        if (rss == NULL || sscanf(rss + 5, "%llu", &kb) != 1)
            return false;
        total += (uint64_t)kb * 1024u;
    }
    *bytes = total;
    return true;
}

bool sysstat_cpu_us(const pid_t *pids, size_t count, uint64_t *us)
{
    long ticks_per_s = sysconf(_SC_CLK_TCK);
    if (ticks_per_s <= 0)
        return false;
    uint64_t total = 0;
    for (size_t i = 0; i < count; i++) {
        char path[64], buf[4096];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pids[i]);
        if (!read_file(path, buf, sizeof buf))
            return false;
        /* Fields after the command (which may hold spaces and parentheses) start after the
         * last ')'; utime and stime are fields 14 and 15, i.e. the 12th and 13th after it. */
        const char *p = strrchr(buf, ')');
        unsigned long long utime, stime;
        if (p == NULL || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                                &utime, &stime) != 2)
            return false;
        total += (uint64_t)(utime + stime) * 1000000u / (uint64_t)ticks_per_s;
    }
    *us = total;
    return true;
}

bool sysstat_parse_sockstat(const char *text, long page_bytes, struct sysstat_sockets *out)
{
    out->tcp_inuse = out->tcp_tw = out->tcp_mem_bytes = -1;
    const char *line = strstr(text, "TCP:");
    if (line == NULL)
        return false;
    long long inuse, orphan, tw, alloc, mem;
    if (sscanf(line, "TCP: inuse %lld orphan %lld tw %lld alloc %lld mem %lld", &inuse, &orphan,
               &tw, &alloc, &mem) != 5)
        return false;
    out->tcp_inuse = inuse;
    out->tcp_tw = tw;
    out->tcp_mem_bytes = mem * page_bytes;
    return true;
}

void sysstat_sockets(struct sysstat_sockets *out)
{
    char buf[2048];
    if (!read_file("/proc/net/sockstat", buf, sizeof buf) ||
        !sysstat_parse_sockstat(buf, sysconf(_SC_PAGESIZE), out))
        out->tcp_inuse = out->tcp_tw = out->tcp_mem_bytes = -1;
}

bool sysstat_local_ports(uint32_t *first, uint32_t *count)
{
    char buf[64];
    unsigned lo, hi;
    *first = *count = 0;
    if (!read_file("/proc/sys/net/ipv4/ip_local_port_range", buf, sizeof buf) ||
        sscanf(buf, "%u %u", &lo, &hi) != 2 || hi < lo || hi > 65535)
        return false;
    *first = lo;
    *count = hi - lo + 1;
    return true;
}

static bool meminfo_kb(const char *key, uint64_t *bytes)
{
    char buf[8192];
    if (!read_file("/proc/meminfo", buf, sizeof buf))
        return false;
    const char *line = strstr(buf, key);
    unsigned long long kb;
    if (line == NULL || sscanf(line + strlen(key), "%llu", &kb) != 1)
        return false;
    *bytes = (uint64_t)kb * 1024u;
    return true;
}

bool sysstat_slab_bytes(uint64_t *bytes)
{
    return meminfo_kb("\nSlab:", bytes);
}

bool sysstat_available_bytes(uint64_t *bytes)
{
    return meminfo_kb("\nMemAvailable:", bytes);
}
