/* SPDX-License-Identifier: MIT */
/*
 * bench/t_unix_stream.c - transport: a connected AF_UNIX SOCK_STREAM socket pair, the usual choice of
 * local daemons; messages are framed by their known size.
 */
#include "bench.h"

#include <errno.h>
#include <sys/socket.h>

static int unix_stream_setup(bench_ctx *ctx)
{
    bench_fds *f = bench_fds_new();
    if (!f)
        return -ENOMEM;
    ctx->priv = f;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    f->rd[0] = f->wr[0] = sv[0];
    f->rd[1] = f->wr[1] = sv[1];
    return 0;
}

const bench_transport bench_t_unix_stream = {
    .name = "unix-stream",
    .description = "AF_UNIX SOCK_STREAM socketpair",
    .caps = BENCH_CAP_ALL,
    .setup = unix_stream_setup,
    .attach = bench_fds_attach,
    .send = bench_fds_send_stream,
    .recv = bench_fds_recv_stream,
    .detach = bench_fds_detach,
    .teardown = bench_fds_teardown,
};
