/* SPDX-License-Identifier: MIT */
/*
 * bench/t_mq.c - transport: POSIX message queues (mq_open), one queue per direction. The kernel caps a
 * message at /proc/sys/fs/mqueue/msgsize_max (for unprivileged processes) and all queues of a user at
 * RLIMIT_MSGQUEUE bytes, so large sizes are "n/a" with the limit that refused them.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct mq_state {
    mqd_t q[2];        /* q[0]: parent -> child, q[1]: child -> parent */
    char name[2][64];
    struct timespec deadline; /* CLOCK_REALTIME, computed once at attach (no clock read per message) */
} mq_state;

static long read_long(const char *path, long dflt)
{
    FILE *f = fopen(path, "r");
    long v = dflt;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = dflt;
        fclose(f);
    }
    return v;
}

static void mq_teardown(bench_ctx *ctx)
{
    mq_state *s = ctx->priv;
    if (!s)
        return;
    for (int i = 0; i < 2; i++) {
        if (s->q[i] != (mqd_t)-1)
            mq_close(s->q[i]);
        if (s->name[i][0])
            mq_unlink(s->name[i]);
    }
    free(s);
    ctx->priv = NULL;
}

static int mq_setup(bench_ctx *ctx)
{
    mq_state *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->q[0] = s->q[1] = (mqd_t)-1;
    ctx->priv = s;
    long msg_max = read_long("/proc/sys/fs/mqueue/msg_max", 10);
    long size_max = read_long("/proc/sys/fs/mqueue/msgsize_max", 8192);
    /* Keep both queues inside the default RLIMIT_MSGQUEUE (800 KiB) where the size allows. */
    long depth = (long)((384u << 10) / ctx->size);
    if (depth > msg_max)
        depth = msg_max;
    if (depth < 1)
        depth = 1;
    struct mq_attr attr = {.mq_maxmsg = depth, .mq_msgsize = (long)ctx->size};
    for (int i = 0; i < 2; i++) {
        snprintf(s->name[i], sizeof s->name[i], "/shmipc-bench-%d-%d", (int)getpid(), i);
        mq_unlink(s->name[i]);
        s->q[i] = mq_open(s->name[i], O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &attr);
        if (s->q[i] == (mqd_t)-1) {
            int err = errno;
            s->name[i][0] = '\0';
            if (err == EINVAL && (long)ctx->size > size_max) {
                snprintf(ctx->why, sizeof ctx->why, "limit %ld B: /proc/sys/fs/mqueue/msgsize_max", size_max);
                return -EMSGSIZE;
            }
            if (err == EMFILE || err == ENOMEM || err == EINVAL) {
                struct rlimit rl = {0};
                getrlimit(RLIMIT_MSGQUEUE, &rl);
                snprintf(ctx->why, sizeof ctx->why, "limit %llu B in all queues: RLIMIT_MSGQUEUE",
                         (unsigned long long)rl.rlim_cur);
                return -EMSGSIZE;
            }
            if (err == ENOSYS || err == EACCES)
                snprintf(ctx->why, sizeof ctx->why, "POSIX message queues unavailable");
            return -err;
        }
    }
    return 0;
}

static int mq_attach(bench_ctx *ctx)
{
    mq_state *s = ctx->priv;
    bench_deadline_realtime(ctx, &s->deadline);
    return 0;
}

static int mq_send_msg(bench_ctx *ctx, const void *buf, size_t len)
{
    mq_state *s = ctx->priv;
    while (mq_timedsend(s->q[ctx->role == 0 ? 0 : 1], buf, len, 0, &s->deadline) < 0)
        if (errno != EINTR)
            return -errno;
    return 0;
}

static int mq_recv_msg(bench_ctx *ctx, void *buf, size_t len)
{
    mq_state *s = ctx->priv;
    for (;;) {
        ssize_t n = mq_timedreceive(s->q[ctx->role == 0 ? 1 : 0], buf, len, NULL, &s->deadline);
        if (n >= 0)
            return (size_t)n == len ? 0 : -EBADMSG;
        if (errno != EINTR)
            return -errno;
    }
}

const bench_transport bench_t_mq = {
    .name = "mq",
    .description = "POSIX message queues, one per direction",
    .caps = BENCH_CAP_ALL,
    .setup = mq_setup,
    .attach = mq_attach,
    .send = mq_send_msg,
    .recv = mq_recv_msg,
    .teardown = mq_teardown,
};
