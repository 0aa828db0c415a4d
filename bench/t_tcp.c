/* SPDX-License-Identifier: MIT */
/*
 * bench/t_tcp.c - transport: one TCP connection on the loopback interface (127.0.0.1 only, never another
 * address) with TCP_NODELAY, what a networked service would use between two local processes.
 */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

static int tcp_setup(bench_ctx *ctx)
{
    bench_fds *f = bench_fds_new();
    if (!f)
        return -ENOMEM;
    ctx->priv = f;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        return -errno;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    int err = 0;
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 1) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0) {
        err = -errno;
        goto out;
    }
    /* A blocking connect to a listening loopback socket completes from the backlog without accept. */
    int cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (cfd < 0) {
        err = -errno;
        goto out;
    }
    f->rd[0] = f->wr[0] = cfd;
    if (connect(cfd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        err = -errno;
        goto out;
    }
    int afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (afd < 0) {
        err = -errno;
        goto out;
    }
    f->rd[1] = f->wr[1] = afd;
    int one = 1;
    for (int i = 0; i < 2; i++)
        if (setsockopt(f->rd[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) {
            err = -errno;
            goto out;
        }
out:
    close(lfd);
    return err;
}

const bench_transport bench_t_tcp = {
    .name = "tcp",
    .description = "TCP on 127.0.0.1 with TCP_NODELAY",
    .caps = BENCH_CAP_ALL,
    .setup = tcp_setup,
    .attach = bench_fds_attach,
    .send = bench_fds_send_stream,
    .recv = bench_fds_recv_stream,
    .detach = bench_fds_detach,
    .teardown = bench_fds_teardown,
};
