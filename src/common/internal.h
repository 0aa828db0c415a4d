/* SPDX-License-Identifier: MIT */
/*
 * common/internal.h - helpers every layer shares: clocks and deadlines, shared futexes, the
 * "notify" word that lets a waker skip the system call when nobody sleeps, process identity, and
 * small utilities. Internal names use the shmipc__ prefix and are hidden from the shared library.
 */
#ifndef SHMIPC_INTERNAL_H
#define SHMIPC_INTERNAL_H

#include <shmipc/common.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SHMIPC_INTERNAL __attribute__((visibility("hidden")))
#define SHMIPC_LIKELY(x) __builtin_expect(!!(x), 1)
#define SHMIPC_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define SHMIPC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SHMIPC_STATIC_ASSERT(c, msg) _Static_assert(c, msg)

static inline void shmipc__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

static inline size_t shmipc__align_up(size_t v, size_t a) { return (v + a - 1) & ~(a - 1); }

/* ---- clocks and deadlines (CLOCK_MONOTONIC nanoseconds) ---- */
#define SHMIPC_DEADLINE_NEVER UINT64_MAX

SHMIPC_INTERNAL uint64_t shmipc__now_ns(void);
/* Absolute deadline for a timeout in ms: 0 -> now, negative -> SHMIPC_DEADLINE_NEVER. */
SHMIPC_INTERNAL uint64_t shmipc__deadline(int timeout_ms);
SHMIPC_INTERNAL uint64_t shmipc__realtime_ns(void);

/* ---- futexes on words in shared memory (never FUTEX_PRIVATE_FLAG) ---- */
/*
 * Sleep while *word == expected, until woken or the absolute monotonic deadline passes.
 * Returns 0 (woken, maybe spuriously), -EAGAIN (*word != expected), -ETIMEDOUT, -EINTR.
 */
SHMIPC_INTERNAL int shmipc__futex_wait(_Atomic uint32_t *word, uint32_t expected, uint64_t deadline_ns);
/* Wake up to n sleepers on word; returns how many were woken or -errno. */
SHMIPC_INTERNAL int shmipc__futex_wake(_Atomic uint32_t *word, int n);

/*
 * A notify word pair, placed in shared memory by the layers that block. Protocol:
 *   waiter: announce (waiters++), read seq, re-check its condition, sleep on seq if still unmet, retract.
 *   waker : publish the data, bump seq, and only if waiters != 0 make the FUTEX_WAKE system call.
 * Both sides use seq_cst for the announce/bump and the loads that follow, so that either the waiter sees
 * the new data or the waker sees the waiter (a Dekker-style handshake): no lost wake-up, and no system
 * call at all while nobody sleeps. A waiter that dies while announced leaves waiters > 0, which costs only
 * needless wake calls (one FUTEX_WAKE per wake from then on), never a hang. Layers that know when no
 * sleeper can exist (e.g. a channel when a new endpoint opens) reset the count.
 */
typedef struct shmipc__notify {
    _Atomic uint32_t seq;     /* bumped by every waker; the futex word */
    _Atomic uint32_t waiters; /* number of announced sleepers */
} shmipc__notify;

SHMIPC_INTERNAL void shmipc__notify_init(shmipc__notify *n);
/* Returns the seq value to pass to shmipc__notify_sleep, after announcing the caller. */
SHMIPC_INTERNAL uint32_t shmipc__notify_prepare(shmipc__notify *n);
/* Sleep until seq moves away from seen or the deadline; then retract. Same returns as futex_wait. */
SHMIPC_INTERNAL int shmipc__notify_sleep(shmipc__notify *n, uint32_t seen, uint64_t deadline_ns);
/* Retract an announcement without sleeping (condition became true after prepare). */
SHMIPC_INTERNAL void shmipc__notify_cancel(shmipc__notify *n);
/* Bump seq and wake up to count sleepers (INT32_MAX = all) if any are announced. Returns 1 if a
 * system call was made. */
SHMIPC_INTERNAL int shmipc__notify_wake(shmipc__notify *n, int count);

/* ---- process identity ---- */
/* Start time (clock ticks since boot) of pid, or 0 if it does not exist / cannot be read. If zombie is
 * not NULL it is set to true when the process is a zombie. */
SHMIPC_INTERNAL uint64_t shmipc__proc_start_time(int pid, bool *zombie);
/*
 * Is pid alive with a start time whose bits under mask equal expect's? 1 alive, 0 dead (gone, zombie, or
 * pid reused by a process that started at another time). When /proc/PID/stat cannot be read although the
 * pid exists (/proc mounted with hidepid, or another user's process), the start time cannot be verified
 * and the process counts as alive: taking a live peer for dead (and its endpoint over) is worse than
 * waiting for it.
 */
SHMIPC_INTERNAL int shmipc__proc_alive_masked(int pid, uint64_t expect, uint64_t mask);

#endif
