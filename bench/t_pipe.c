/* SPDX-License-Identifier: MIT */
/*
 * bench/t_pipe.c - transport: two pipes, one per direction. The classic kernel-copy baseline: every
 * message is copied into and out of the kernel and a blocked reader is woken by the scheduler.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static int pipe_setup(bench_ctx *ctx)
{
    bench_fds *f = bench_fds_new();
    if (!f)
        return -ENOMEM;
    ctx->priv = f;
    int down[2], up[2]; /* parent -> child, child -> parent */
    if (pipe2(down, O_CLOEXEC) < 0)
        return -errno;
    f->rd[1] = down[0];
    f->wr[0] = down[1];
    if (pipe2(up, O_CLOEXEC) < 0)
        return -errno;
    f->rd[0] = up[0];
    f->wr[1] = up[1];
    /* A bigger pipe buffer (up to /proc/sys/fs/pipe-max-size) lets streaming run ahead as it would in
     * a tuned application; failure just keeps the default 64 KiB. */
    (void)fcntl(down[1], F_SETPIPE_SZ, 1 << 20);
    return 0;
}

const bench_transport bench_t_pipe = {
    .name = "pipe",
    .description = "two pipes (kernel copy, scheduler wake-up)",
    .caps = BENCH_CAP_ALL,
    .setup = pipe_setup,
    .attach = bench_fds_attach,
    .send = bench_fds_send_stream,
    .recv = bench_fds_recv_stream,
    .detach = bench_fds_detach,
    .teardown = bench_fds_teardown,
};
