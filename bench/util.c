/* SPDX-License-Identifier: MIT */
/*
 * bench/util.c - small helpers the transports share: clocks, the busy-wait step (which must neither
 * starve a peer on the same core nor spin forever after the peer died), full reads and writes on
 * stream descriptors, and shared anonymous mappings.
 */
#include "bench.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

int bench_spin(bench_ctx *ctx, uint64_t *spins)
{
    uint64_t n = ++*spins;
    if (ctx->same_core) {
        /* The peer cannot run until this process gives up the core. */
        sched_yield();
    } else {
        cpu_relax();
    }
    if ((n & 0xfff) == 0) {
        if (bench_now_ns() > ctx->deadline_ns)
            return -ETIMEDOUT;
        /* A child whose parent died is re-parented. The parent looks at its child without reaping it
         * (WNOWAIT), so the driver still collects the exit status. */
        if (ctx->role != 0 && getppid() != ctx->parent_pid)
            return -EPIPE;
        if (ctx->role == 0 && ctx->peer_pid > 0) {
            siginfo_t si;
            memset(&si, 0, sizeof si);
            if (waitid(P_PID, (id_t)ctx->peer_pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == ctx->peer_pid)
                return -EPIPE;
        }
    }
    return 0;
}

int bench_timeout_ms(const bench_ctx *ctx)
{
    uint64_t now = bench_now_ns();
    uint64_t left = ctx->deadline_ns > now ? (ctx->deadline_ns - now) / 1000000u : 0;
    return left < 1 ? 1 : left > 3600000 ? 3600000 : (int)left;
}

void bench_deadline_realtime(const bench_ctx *ctx, struct timespec *ts)
{
    uint64_t now = bench_now_ns();
    uint64_t left = ctx->deadline_ns > now ? ctx->deadline_ns - now : 0;
    clock_gettime(CLOCK_REALTIME, ts);
    uint64_t ns = (uint64_t)ts->tv_nsec + left % 1000000000u;
    ts->tv_sec += (time_t)(left / 1000000000u + ns / 1000000000u);
    ts->tv_nsec = (long)(ns % 1000000000u);
}

int bench_write_full(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int bench_read_full(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len) {
        ssize_t n = read(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EPIPE;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void *bench_map_shared(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}
