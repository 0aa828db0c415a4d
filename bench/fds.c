/* SPDX-License-Identifier: MIT */
/*
 * bench/fds.c - what the descriptor-based transports (pipe, Unix sockets, TCP) share: each side keeps
 * its own read and write descriptors after fork and closes the peer's, so that a peer's death shows up
 * as end of stream instead of a hang.
 */
#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

bench_fds *bench_fds_new(void)
{
    bench_fds *f = malloc(sizeof *f);
    if (!f)
        return NULL;
    for (int i = 0; i < 2; i++)
        f->rd[i] = f->wr[i] = -1;
    return f;
}

static void close_fd(bench_fds *f, int fd)
{
    if (fd < 0)
        return;
    close(fd);
    /* One descriptor may serve as both ends (a socket): forget every copy of it. */
    for (int i = 0; i < 2; i++) {
        if (f->rd[i] == fd)
            f->rd[i] = -1;
        if (f->wr[i] == fd)
            f->wr[i] = -1;
    }
}

int bench_fds_attach(bench_ctx *ctx)
{
    bench_fds *f = ctx->priv;
    int other = ctx->role == 0 ? 1 : 0;
    close_fd(f, f->rd[other]);
    close_fd(f, f->wr[other]);
    return 0;
}

void bench_fds_detach(bench_ctx *ctx)
{
    bench_fds *f = ctx->priv;
    int self = ctx->role == 0 ? 0 : 1;
    close_fd(f, f->rd[self]);
    close_fd(f, f->wr[self]);
}

void bench_fds_teardown(bench_ctx *ctx)
{
    bench_fds *f = ctx->priv;
    if (!f)
        return;
    for (int i = 0; i < 2; i++) {
        close_fd(f, f->rd[i]);
        close_fd(f, f->wr[i]);
    }
    free(f);
    ctx->priv = NULL;
}

int bench_fds_send_stream(bench_ctx *ctx, const void *buf, size_t len)
{
    bench_fds *f = ctx->priv;
    return bench_write_full(f->wr[ctx->role == 0 ? 0 : 1], buf, len);
}

int bench_fds_recv_stream(bench_ctx *ctx, void *buf, size_t len)
{
    bench_fds *f = ctx->priv;
    return bench_read_full(f->rd[ctx->role == 0 ? 0 : 1], buf, len);
}
