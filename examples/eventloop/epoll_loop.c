/* SPDX-License-Identifier: MIT */
/*
 * examples/eventloop/epoll_loop.c - a shmipc channel in an epoll loop beside an ordinary descriptor
 * (a timerfd ticking every 100 ms): the waitset's descriptor is readable when the channel may have
 * messages; the loop then serves them without blocking. Usage: eventloop_epoll [COUNT]
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    unsigned count = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : 10000;
    loop_ctx c;
    if (loop_setup(&c, "epoll", count))
        return loop_finish(&c);
    int wsfd = shmipc_waitset_fd(c.ws);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    struct itimerspec every = {.it_interval = {0, 100000000}, .it_value = {0, 100000000}};
    struct epoll_event a = {.events = EPOLLIN, .data.fd = wsfd}, b = {.events = EPOLLIN, .data.fd = tfd};
    if (wsfd < 0 || ep < 0 || tfd < 0 || timerfd_settime(tfd, 0, &every, NULL) || epoll_ctl(ep, EPOLL_CTL_ADD, wsfd, &a) ||
        epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &b)) {
        perror("epoll setup");
        c.error = 1;
        return loop_finish(&c);
    }
    unsigned ticks = 0;
    for (int done = 0; !done;) {
        struct epoll_event evs[2];
        int n = epoll_wait(ep, evs, 2, 10000);
        if (n <= 0) {
            fprintf(stderr, "epoll_wait: %s\n", n == 0 ? "nothing for 10 s" : "failed");
            c.error = 1;
            break;
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.fd == tfd) {
                uint64_t t;
                if (read(tfd, &t, sizeof t) == sizeof t)
                    ticks += (unsigned)t;
                continue;
            }
            int r = loop_serve(&c);
            if (r < 0)
                c.error = 1;
            if (r != 0)
                done = 1;
        }
    }
    printf("timer ticks meanwhile: %u\n", ticks);
    close(tfd);
    close(ep);
    return loop_finish(&c);
}
