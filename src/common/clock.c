/* SPDX-License-Identifier: MIT */
/* common/clock.c - monotonic and real-time clocks, and deadlines computed from millisecond timeouts. */
#include "common/internal.h"

uint64_t shmipc__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t shmipc__realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t shmipc__deadline(int timeout_ms)
{
    if (timeout_ms < 0)
        return SHMIPC_DEADLINE_NEVER;
    return shmipc__now_ns() + (uint64_t)timeout_ms * 1000000u;
}
