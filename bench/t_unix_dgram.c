/* SPDX-License-Identifier: MIT */
/*
 * bench/t_unix_dgram.c - transport: an AF_UNIX SOCK_DGRAM socket pair, one datagram per message. A
 * datagram must fit the socket's send buffer, which net.core.wmem_max caps: larger sizes are "n/a".
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>

static int unix_dgram_setup(bench_ctx *ctx)
{
    bench_fds *f = bench_fds_new();
    if (!f)
        return -ENOMEM;
    ctx->priv = f;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    f->rd[0] = f->wr[0] = sv[0];
    f->rd[1] = f->wr[1] = sv[1];
    /* Ask for room for a few messages; the kernel clamps to net.core.wmem_max / rmem_max. */
    int want = ctx->size > (1u << 28) ? 1 << 30 : (int)ctx->size * 4 + 4096;
    for (int i = 0; i < 2; i++) {
        (void)setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
        (void)setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
    }
    /* A datagram socket sees no end of stream when its peer dies: bound every wait by the deadline. */
    uint64_t now = bench_now_ns();
    uint64_t left = ctx->deadline_ns > now ? ctx->deadline_ns - now : 1000000;
    struct timeval tv = {.tv_sec = (time_t)(left / 1000000000u), .tv_usec = (long)(left % 1000000000u / 1000)};
    for (int i = 0; i < 2; i++)
        (void)setsockopt(sv[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    /* Probe: can one datagram of this size go through at all? */
    char *probe = calloc(1, ctx->size);
    if (!probe)
        return -ENOMEM;
    ssize_t n = send(sv[0], probe, ctx->size, MSG_DONTWAIT);
    int err = n < 0 ? errno : 0;
    if (n >= 0)
        (void)recv(sv[1], probe, ctx->size, MSG_DONTWAIT);
    free(probe);
    if (err == EMSGSIZE || err == EAGAIN || err == ENOBUFS) {
        int sndbuf = 0;
        socklen_t sl = sizeof sndbuf;
        (void)getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl);
        snprintf(ctx->why, sizeof ctx->why, "limit %d B: SO_SNDBUF, net.core.wmem_max", sndbuf);
        return -EMSGSIZE;
    }
    return err ? -err : 0;
}

static int unix_dgram_send(bench_ctx *ctx, const void *buf, size_t len)
{
    bench_fds *f = ctx->priv;
    for (;;) {
        ssize_t n = send(f->wr[ctx->role == 0 ? 0 : 1], buf, len, 0);
        if (n >= 0)
            return (size_t)n == len ? 0 : -EMSGSIZE;
        if (errno != EINTR)
            return -errno;
    }
}

static int unix_dgram_recv(bench_ctx *ctx, void *buf, size_t len)
{
    bench_fds *f = ctx->priv;
    for (;;) {
        ssize_t n = recv(f->rd[ctx->role == 0 ? 0 : 1], buf, len, MSG_TRUNC);
        if (n >= 0)
            return (size_t)n == len ? 0 : (n == 0 ? -EPIPE : -EBADMSG);
        if (errno == EAGAIN)
            return -ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
    }
}

const bench_transport bench_t_unix_dgram = {
    .name = "unix-dgram",
    .description = "AF_UNIX SOCK_DGRAM socketpair, one datagram per message",
    .caps = BENCH_CAP_ALL,
    .setup = unix_dgram_setup,
    .attach = bench_fds_attach,
    .send = unix_dgram_send,
    .recv = unix_dgram_recv,
    .detach = bench_fds_detach,
    .teardown = bench_fds_teardown,
};
