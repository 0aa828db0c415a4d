/* SPDX-License-Identifier: MIT */
/* examples/eventloop/common.h - what the epoll and libuv examples share: a channel whose producer is a
 * child process, and the waitset the loop watches through its descriptor. */
#ifndef EVENTLOOP_COMMON_H
#define EVENTLOOP_COMMON_H

#include <shmipc/shmipc.h>
#include <sys/types.h>

typedef struct loop_ctx {
    char name[64];
    shmipc_channel *rx;
    shmipc_waitset *ws;
    pid_t child;
    unsigned expected, received; /* messages the child sends / the loop got, in order */
    int error;
} loop_ctx;

/* Create the channel, fork the producer child (it sends count numbered messages, then closes), build
 * the waitset; returns 0 or a negative errno with a message printed. */
int loop_setup(loop_ctx *c, const char *tag, unsigned count);

/* Receive everything the channel holds; returns 1 when the producer is done and all arrived, 0 to
 * go on, negative on error (printed). Called when the waitset's descriptor is readable. */
int loop_serve(loop_ctx *c);

/* Reap the child, close and unlink; returns the process exit status for main(). */
int loop_finish(loop_ctx *c);

#endif
