/* SPDX-License-Identifier: MIT */
/*
 * common/futex.c - shared (inter-process) futex wait and wake, and the notify protocol built on them
 * (see internal.h): a waker makes a system call only when a sleeper has announced itself.
 */
#include "common/internal.h"

#include <linux/futex.h>
#include <linux/time_types.h>
#include <limits.h>
#include <sys/syscall.h>
#include <unistd.h>

int shmipc__futex_wait(_Atomic uint32_t *word, uint32_t expected, uint64_t deadline_ns)
{
    struct timespec ts, *tsp = NULL;
    if (deadline_ns != SHMIPC_DEADLINE_NEVER) {
        if (shmipc__now_ns() >= deadline_ns)
            return -ETIMEDOUT;
        ts.tv_sec = (time_t)(deadline_ns / 1000000000u);
        ts.tv_nsec = (long)(deadline_ns % 1000000000u);
        tsp = &ts;
    }
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so retries after EINTR do not
     * stretch the timeout. No FUTEX_PRIVATE_FLAG: the word lives in memory shared between processes. */
    long r = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_BITSET, expected, tsp, NULL,
                     FUTEX_BITSET_MATCH_ANY);
    if (r == 0)
        return 0;
    if (errno == EAGAIN || errno == ETIMEDOUT || errno == EINTR)
        return -errno;
    return -errno;
}

int shmipc__futex_wake(_Atomic uint32_t *word, int n)
{
    long r = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, n, NULL, NULL, 0);
    return r < 0 ? -errno : (int)r;
}

_Atomic int shmipc__futex_no_waitv;

int shmipc__futex_waitv(_Atomic uint32_t *const *words, const uint32_t *expected, unsigned n, uint64_t deadline_ns)
{
    if (n == 1 || atomic_load_explicit(&shmipc__futex_no_waitv, memory_order_relaxed))
        goto fallback;
#ifdef SYS_futex_waitv
    {
        struct futex_waitv w[SHMIPC__FUTEX_WAITV_MAX];
        if (n > SHMIPC__FUTEX_WAITV_MAX)
            return -EINVAL;
        for (unsigned i = 0; i < n; i++) /* no FUTEX_PRIVATE_FLAG: the words are shared between processes */
            w[i] = (struct futex_waitv){.val = expected[i], .uaddr = (uintptr_t)words[i], .flags = FUTEX_32};
        /* futex_waitv takes the kernel's 64-bit timespec on every architecture: on 32-bit ones (armhf)
         * struct timespec has a 32-bit time_t and would be misread. */
        struct __kernel_timespec ts, *tsp = NULL;
        if (deadline_ns != SHMIPC_DEADLINE_NEVER) {
            if (shmipc__now_ns() >= deadline_ns)
                return -ETIMEDOUT;
            ts.tv_sec = (__kernel_time64_t)(deadline_ns / 1000000000u);
            ts.tv_nsec = (long long)(deadline_ns % 1000000000u);
            tsp = &ts;
        }
        long r = syscall(SYS_futex_waitv, w, n, 0u, tsp, CLOCK_MONOTONIC);
        if (r >= 0)
            return 0;
        if (errno == EAGAIN || errno == ETIMEDOUT || errno == EINTR)
            return -errno;
        /* ENOSYS (before Linux 5.16) or refused (EPERM under a seccomp filter): remember, fall back. */
        atomic_store_explicit(&shmipc__futex_no_waitv, 1, memory_order_relaxed);
    }
#endif
fallback:;
    /* Sleep on the first word only, in 1 ms slices, so a change of any other word is seen soon. */
    uint64_t slice = n == 1 ? deadline_ns : shmipc__now_ns() + 1000000u;
    return shmipc__futex_wait(words[0], expected[0], slice < deadline_ns ? slice : deadline_ns);
}

void shmipc__notify_init(shmipc__notify *n)
{
    atomic_store_explicit(&n->seq, 0, memory_order_relaxed);
    atomic_store_explicit(&n->waiters, 0, memory_order_relaxed);
}

uint32_t shmipc__notify_prepare(shmipc__notify *n)
{
    /* seq_cst: the announcement must be ordered before the caller's re-check of its condition, and
     * pair with the waker's seq_cst bump + load of waiters. */
    atomic_fetch_add_explicit(&n->waiters, 1, memory_order_seq_cst);
    return atomic_load_explicit(&n->seq, memory_order_seq_cst);
}

static void notify_retract(shmipc__notify *n)
{
    /* A hostile peer may have zeroed the count: never wrap it below zero. */
    uint32_t w = atomic_load_explicit(&n->waiters, memory_order_relaxed);
    while (w != 0 && !atomic_compare_exchange_weak_explicit(&n->waiters, &w, w - 1, memory_order_relaxed,
                                                             memory_order_relaxed))
        ;
}

int shmipc__notify_sleep(shmipc__notify *n, uint32_t seen, uint64_t deadline_ns)
{
    int r = shmipc__futex_wait(&n->seq, seen, deadline_ns);
    notify_retract(n);
    return r;
}

void shmipc__notify_cancel(shmipc__notify *n) { notify_retract(n); }

int shmipc__notify_sleep_many(shmipc__notify *const *ns, const uint32_t *seen, unsigned n, uint64_t deadline_ns)
{
    _Atomic uint32_t *words[SHMIPC__FUTEX_WAITV_MAX];
    if (n == 0 || n > SHMIPC__FUTEX_WAITV_MAX)
        return -EINVAL;
    for (unsigned i = 0; i < n; i++)
        words[i] = &ns[i]->seq;
    int r = shmipc__futex_waitv(words, seen, n, deadline_ns);
    for (unsigned i = 0; i < n; i++)
        notify_retract(ns[i]);
    return r;
}

/* When this thread last woke a sleeper (shmipc__now_ns; 0: never): a hint for its own next wait, read by
 * no one else. initial-exec: no lazy allocation on first use when the library was dlopen'ed, so
 * shmipc_event_post stays async-signal-safe. */
static _Thread_local uint64_t woke_at __attribute__((tls_model("initial-exec")));

uint64_t shmipc__notify_woke_at(void) { return woke_at; }

int shmipc__notify_wake(shmipc__notify *n, int count)
{
    atomic_fetch_add_explicit(&n->seq, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&n->waiters, memory_order_seq_cst) == 0)
        return 0;
    shmipc__futex_wake(&n->seq, count);
    woke_at = shmipc__now_ns();
    return 1;
}
