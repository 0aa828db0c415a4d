/* SPDX-License-Identifier: MIT */
/*
 * examples/eventloop/uv_loop.c - the same channel served from a libuv loop: the waitset's descriptor
 * is watched with uv_poll_t, beside a uv_timer_t. Usage: eventloop_uv [COUNT]
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

static loop_ctx c;
static uv_poll_t poller;
static uv_timer_t timer;
static unsigned ticks;

static void on_tick(uv_timer_t *t)
{
    (void)t;
    ticks++;
}

static void on_readable(uv_poll_t *p, int status, int events)
{
    (void)events;
    int r = status < 0 ? -1 : loop_serve(&c);
    if (r < 0)
        c.error = 1;
    if (r != 0) {
        uv_poll_stop(p);
        uv_timer_stop(&timer);
        uv_close((uv_handle_t *)p, NULL);
        uv_close((uv_handle_t *)&timer, NULL);
    }
}

int main(int argc, char **argv)
{
    unsigned count = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : 10000;
    if (loop_setup(&c, "uv", count))
        return loop_finish(&c);
    uv_loop_t *loop = uv_default_loop();
    int fd = shmipc_waitset_fd(c.ws);
    if (fd < 0 || uv_poll_init(loop, &poller, fd) || uv_poll_start(&poller, UV_READABLE, on_readable) ||
        uv_timer_init(loop, &timer) || uv_timer_start(&timer, on_tick, 100, 100)) {
        fprintf(stderr, "libuv setup failed\n");
        c.error = 1;
        return loop_finish(&c);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    printf("timer ticks meanwhile: %u\n", ticks);
    return loop_finish(&c);
}
