/* SPDX-License-Identifier: MIT */
/* examples/eventloop/common.c - the channel, the producer child and the serving step both loops use. */
#include "common.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int produce(const char *name, unsigned count)
{
    shmipc_channel *tx;
    int r = shmipc_channel_open(name, SHMIPC_CHANNEL_PRODUCER, NULL, &tx);
    for (unsigned i = 0; r == 0 && i < count; i++) {
        r = shmipc_channel_send(tx, &i, sizeof i, 5000);
        if (i % 64 == 63)
            usleep(100); /* bursts with pauses, so the loop also sleeps and wakes */
    }
    shmipc_channel_close(tx);
    return r ? 1 : 0;
}

int loop_setup(loop_ctx *c, const char *tag, unsigned count)
{
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "/shmipc-example-%s-%d", tag, (int)getpid());
    c->expected = count;
    shmipc_channel_opts o;
    shmipc_channel_opts_init(&o);
    o.role = SHMIPC_CHANNEL_CONSUMER;
    int r = shmipc_channel_create(c->name, &o, &c->rx);
    if (r) {
        fprintf(stderr, "channel %s: %s\n", c->name, shmipc_strerror(r));
        return r;
    }
    c->child = fork();
    if (c->child == 0)
        _exit(produce(c->name, count));
    if (c->child < 0)
        return -errno;
    if ((r = shmipc_waitset_create(&c->ws)) || (r = shmipc_waitset_add_channel(c->ws, c->rx, SHMIPC_WAITSET_IN, 1)))
        fprintf(stderr, "waitset: %s\n", shmipc_strerror(r));
    return r;
}

int loop_serve(loop_ctx *c)
{
    shmipc_waitset_ready ready[4];
    int n = shmipc_waitset_wait(c->ws, 0, ready, 4);
    if (n == -EAGAIN)
        return 0; /* a liveness tick: nothing to do */
    if (n < 0) {
        fprintf(stderr, "waitset wait: %s\n", shmipc_strerror(n));
        return n;
    }
    for (;;) {
        unsigned v;
        int r = shmipc_channel_recv(c->rx, &v, sizeof v, 0);
        if (r == -EAGAIN)
            return 0;
        if (r == -EPIPE) /* the producer closed and everything it sent is read */
            return c->received == c->expected ? 1 : -EPIPE;
        if (r != (int)sizeof v || v != c->received) {
            fprintf(stderr, "recv: %s (message %u, expected %u)\n", r < 0 ? shmipc_strerror(r) : "bad size", v,
                    c->received);
            return r < 0 ? r : -EBADMSG;
        }
        c->received++;
    }
}

int loop_finish(loop_ctx *c)
{
    int st = 0;
    if (c->child > 0)
        waitpid(c->child, &st, 0);
    shmipc_waitset_close(c->ws);
    shmipc_channel_close(c->rx);
    shmipc_channel_unlink(c->name);
    bool ok = c->error == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 && c->received == c->expected;
    printf("received %u of %u messages in order: %s\n", c->received, c->expected, ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
